//! The plugin's `EXTRACT_FIELDS`, built from [`crate::fields`]' table.
//!
//! The SDK infers a field's list flag and argument kind (for the schema Falco reads) from
//! its extractor's signature, so each table entry gets a closure of the right shape:
//! `scalar` (no argument, one value), `scalar_key` (required key), `list` (no argument,
//! list), `list_index` (optional index, list). Names and descriptions come from the table
//! itself; a test checks that the shapes agree with it.
//!
//! The closures only shape the schema: requests are served by the plugin's own
//! `extract_fields`, which never calls them.

use std::ffi::CString;

use falco_plugin::anyhow::{Error, anyhow};
use falco_plugin::extract::{ExtractFieldInfo, ExtractRequest, field};

use super::K8sAuditEks;
use crate::fields::TABLE;

macro_rules! extract_fields {
    ($($kind:ident $index:literal),* $(,)?) => {
        &[$(extract_fields!(@field $kind $index)),*]
    };
    (@field scalar $i:literal) => {
        field(TABLE[$i].name, &|_: &mut K8sAuditEks, _: ExtractRequest<K8sAuditEks>| {
            not_called::<Option<CString>>($i)
        })
        .with_description(TABLE[$i].description)
    };
    (@field scalar_key $i:literal) => {
        field(TABLE[$i].name, &|_: &mut K8sAuditEks, _: ExtractRequest<K8sAuditEks>, _: &std::ffi::CStr| {
            not_called::<Option<CString>>($i)
        })
        .with_description(TABLE[$i].description)
    };
    (@field list $i:literal) => {
        field(TABLE[$i].name, &|_: &mut K8sAuditEks, _: ExtractRequest<K8sAuditEks>| {
            not_called::<Vec<CString>>($i)
        })
        .with_description(TABLE[$i].description)
    };
    (@field list_index $i:literal) => {
        field(TABLE[$i].name, &|_: &mut K8sAuditEks, _: ExtractRequest<K8sAuditEks>, _: Option<u64>| {
            not_called::<Vec<CString>>($i)
        })
        .with_description(TABLE[$i].description)
    };
}

/// What a schema closure answers if the SDK ever called it: an error naming the field,
/// never a wrong value.
fn not_called<T>(index: usize) -> Result<T, Error> {
    Err(anyhow!(
        "{}: extraction is served by K8sAuditEks::extract_fields",
        TABLE[index].name
    ))
}

/// Every field the plugin exports (`ka.*` and `eks.*`), in table order.
pub(super) const EXTRACT_FIELDS: &[ExtractFieldInfo<K8sAuditEks>] = extract_fields![
    scalar 0, scalar 1, scalar 2, scalar 3, scalar 4, scalar 5,
    scalar 6, scalar 7, scalar 8, list 9, scalar 10, scalar 11,
    scalar 12, scalar_key 13, scalar 14, scalar 15, scalar 16, scalar 17,
    scalar 18, list 19, list 20, list 21, list 22, list 23,
    scalar 24, scalar_key 25, scalar 26, scalar 27, list_index 28, list_index 29,
    list_index 30, list_index 31, scalar 32, list_index 33, scalar 34, scalar 35,
    scalar 36, scalar 37, scalar 38, list_index 39, list_index 40, scalar 41,
    list_index 42, list_index 43, scalar 44, list_index 45, list_index 46, scalar 47,
    list_index 48, list_index 49, list_index 50, list 51, list_index 52, list_index 53,
    list_index 54, list_index 55, scalar 56, list 57, list_index 58, scalar 59,
    list_index 60, list_index 61, scalar_key 62, list_index 63, list_index 64, scalar 65,
    scalar 66, scalar 67, scalar 68, list_index 69, scalar 70, list_index 71,
    list_index 72, list_index 73, list_index 74, list_index 75, list_index 76, list_index 77,
    list_index 78, list_index 79, list_index 80, list_index 81, list_index 82, list_index 83,
    list_index 84, list_index 85, list_index 86, list_index 87, list_index 88, list_index 89,
    list_index 90, list_index 91, list_index 92, list_index 93, list_index 94, list_index 95,
    list_index 96, list_index 97, list_index 98, list_index 99, scalar 100, scalar 101,
    scalar 102, scalar 103, scalar 104, scalar 105, scalar 106, scalar 107,
    scalar 108, scalar 109, scalar 110, scalar 111, scalar 112, scalar 113,
    scalar 114,
];

#[cfg(test)]
mod tests {
    use falco_plugin::extract::ExtractPlugin;

    use super::*;
    use crate::fields::{ArgKind, plugin_fields};

    #[test]
    fn plugin_fields_match_the_table() {
        let exported = <K8sAuditEks as ExtractPlugin>::EXTRACT_FIELDS;
        let table: Vec<_> = plugin_fields().collect();
        assert_eq!(exported.len(), table.len());
        for (e, t) in exported.iter().zip(table) {
            assert_eq!(e.name, t.name);
            assert_eq!(e.description, t.description);
            assert_eq!(e.is_list, t.list, "{}", t.name);
            let arg = serde_json::to_value(e.arg).unwrap();
            let expected = match t.arg {
                ArgKind::None => serde_json::Value::Null,
                ArgKind::RequiredKey => serde_json::json!({"isKey": true, "isRequired": true}),
                ArgKind::OptionalIndex => serde_json::json!({"isIndex": true}),
            };
            assert_eq!(arg, expected, "{}", t.name);
        }
    }
}
