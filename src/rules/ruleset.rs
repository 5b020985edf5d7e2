//! The collected definitions: lists, macros and rules across all loaded files, with Falco's
//! redefinition, `append`, `override` and `enabled`-only semantics (Falco's
//! `rule_loader::collector`).
//!
//! Order is the load order of first definitions: redefining a rule, macro or list keeps its
//! original position (its `index`) and records the position of the latest change as its
//! `visibility`. A macro may use the macros whose first definition comes before its own
//! visibility; rules see every macro; lists are substituted into conditions textually and
//! have no visibility order there. Rules are evaluated in `index` order.

use std::collections::{BTreeSet, HashMap};

use super::result::{Context, ErrorCode};

/// A load failure to be reported, carrying Falco's code.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The code.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
    /// Where.
    pub context: Context,
}

impl LoadFailure {
    pub(crate) fn validate(message: impl Into<String>, context: &Context) -> Self {
        LoadFailure {
            code: ErrorCode::Validate,
            message: message.into(),
            context: context.clone(),
        }
    }
}

/// Falco's rule priorities, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// `EMERGENCY`
    Emergency,
    /// `ALERT`
    Alert,
    /// `CRITICAL`
    Critical,
    /// `ERROR`
    Error,
    /// `WARNING`
    Warning,
    /// `NOTICE`
    Notice,
    /// `INFORMATIONAL` (also `INFO`)
    Informational,
    /// `DEBUG`
    Debug,
}

impl Priority {
    /// All priorities, most severe first.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// Falco's `parse_priority`: case-insensitive names, `info` for informational.
    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| {
            s.eq_ignore_ascii_case(p.as_str())
                || (*p == Priority::Informational && s.eq_ignore_ascii_case("info"))
        })
    }

    /// Falco's spelling in alerts: `Emergency` … `Informational`, `Debug`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::parse(s).ok_or_else(|| format!("Unknown priority value: {s}"))
    }
}

/// A `list` item.
#[derive(Debug, Clone)]
pub struct ListInfo {
    pub(crate) ctx: Context,
    pub(crate) name: String,
    pub(crate) items: Vec<String>,
    pub(crate) index: u32,
    pub(crate) visibility: u32,
}

/// A `macro` item.
#[derive(Debug, Clone)]
pub struct MacroInfo {
    pub(crate) ctx: Context,
    pub(crate) cond_ctx: Context,
    pub(crate) name: String,
    pub(crate) cond: String,
    pub(crate) index: u32,
    pub(crate) visibility: u32,
}

/// One of an exception's `fields`, `comps` or `values` (a string or a nested list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub(crate) is_list: bool,
    pub(crate) item: String,
    pub(crate) items: Vec<Entry>,
}

impl Entry {
    pub(crate) fn single(s: &str) -> Self {
        Entry {
            is_list: false,
            item: s.to_string(),
            items: Vec::new(),
        }
    }

    pub(crate) fn is_valid(&self) -> bool {
        (self.is_list && !self.items.is_empty()) || (!self.is_list && !self.item.is_empty())
    }
}

/// A rule exception.
#[derive(Debug, Clone)]
pub struct ExceptionInfo {
    pub(crate) ctx: Context,
    pub(crate) name: String,
    pub(crate) fields: Entry,
    pub(crate) comps: Entry,
    pub(crate) values: Vec<Entry>,
}

/// A `rule` item.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    pub(crate) ctx: Context,
    pub(crate) cond_ctx: Context,
    pub(crate) output_ctx: Context,
    pub(crate) index: u32,
    pub(crate) visibility: u32,
    pub(crate) unknown_source: bool,
    pub(crate) name: String,
    pub(crate) cond: String,
    pub(crate) source: String,
    pub(crate) desc: String,
    pub(crate) output: String,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) exceptions: Vec<ExceptionInfo>,
    pub(crate) priority: Priority,
    pub(crate) enabled: bool,
    pub(crate) warn_evttypes: bool,
    pub(crate) skip_if_unknown_filter: bool,
}

/// What an `append`/`override` changes in a rule.
#[derive(Debug, Clone)]
pub struct RuleUpdate {
    pub(crate) ctx: Context,
    pub(crate) cond_ctx: Context,
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) cond: Option<String>,
    pub(crate) output: Option<String>,
    pub(crate) desc: Option<String>,
    pub(crate) tags: Option<BTreeSet<String>>,
    pub(crate) exceptions: Option<Vec<ExceptionInfo>>,
    pub(crate) priority: Option<Priority>,
    pub(crate) capture: Option<bool>,
    pub(crate) capture_duration: Option<u32>,
    pub(crate) enabled: Option<bool>,
    pub(crate) warn_evttypes: Option<bool>,
    pub(crate) skip_if_unknown_filter: Option<bool>,
}

impl RuleUpdate {
    pub(crate) fn new(ctx: &Context, name: &str) -> Self {
        RuleUpdate {
            ctx: ctx.clone(),
            cond_ctx: ctx.clone(),
            name: name.to_string(),
            source: String::new(),
            cond: None,
            output: None,
            desc: None,
            tags: None,
            exceptions: None,
            priority: None,
            capture: None,
            capture_duration: None,
            enabled: None,
            warn_evttypes: None,
            skip_if_unknown_filter: None,
        }
    }

    fn has_any_value(&self) -> bool {
        self.cond.is_some()
            || self.output.is_some()
            || self.desc.is_some()
            || self.tags.is_some()
            || self.exceptions.is_some()
            || self.priority.is_some()
            || self.enabled.is_some()
            || self.capture.is_some()
            || self.capture_duration.is_some()
            || self.warn_evttypes.is_some()
            || self.skip_if_unknown_filter.is_some()
    }
}

/// A definition with Falco's ordering: `index` is where it was first defined (rules are
/// evaluated in that order), `visibility` when it was last (re)defined or appended.
trait Ordered {
    fn name(&self) -> &str;
    fn index(&self) -> u32;
    fn set_order(&mut self, index: u32, visibility: u32);
}

macro_rules! ordered {
    ($($t:ty),*) => {$(
        impl Ordered for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn index(&self) -> u32 {
                self.index
            }
            fn set_order(&mut self, index: u32, visibility: u32) {
                self.index = index;
                self.visibility = visibility;
            }
        }
    )*};
}
ordered!(ListInfo, MacroInfo, RuleInfo);

/// A name-indexed vector in insertion order (Falco's `indexed_vector`).
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            by_name: HashMap::new(),
        }
    }
}

/// Defines or redefines `item` in `map` as step `id` of loading: a redefinition keeps the
/// place of the first definition and becomes visible from now on.
fn define<T: Ordered>(map: &mut Indexed<T>, mut item: T, id: u32) {
    let index = map.get(item.name()).map_or(id, Ordered::index);
    item.set_order(index, id);
    let name = item.name().to_string();
    map.insert(&name, item);
}

impl<T> Indexed<T> {
    /// By name.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|&i| &self.items[i])
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|&i| &mut self.items[i])
    }

    pub(crate) fn insert(&mut self, name: &str, item: T) {
        match self.by_name.get(name) {
            Some(&i) => self.items[i] = item,
            None => {
                self.by_name.insert(name.to_string(), self.items.len());
                self.items.push(item);
            }
        }
    }

    /// In insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A plugin version requirement (one alternative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRequirement {
    /// Plugin name.
    pub name: String,
    /// Minimum version.
    pub version: String,
}

/// Everything collected so far.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    pub(crate) lists: Indexed<ListInfo>,
    pub(crate) macros: Indexed<MacroInfo>,
    pub(crate) rules: Indexed<RuleInfo>,
    pub(crate) required_plugins: Vec<Vec<PluginRequirement>>,
    pub(crate) cur_index: u32,
}

type R = Result<(), LoadFailure>;

impl Collector {
    fn next_index(&mut self) -> u32 {
        let i = self.cur_index;
        self.cur_index += 1;
        i
    }

    pub(crate) fn define_list(&mut self, info: ListInfo) {
        let id = self.next_index();
        define(&mut self.lists, info, id);
    }

    pub(crate) fn append_list(&mut self, info: ListInfo) -> R {
        let id = self.next_index();
        let Some(prev) = self.lists.get_mut(&info.name) else {
            return Err(LoadFailure::validate(
                super::loader::ERROR_NO_PREVIOUS_LIST,
                &info.ctx,
            ));
        };
        prev.items.extend(info.items);
        prev.visibility = id;
        Ok(())
    }

    pub(crate) fn define_macro(&mut self, info: MacroInfo) {
        let id = self.next_index();
        define(&mut self.macros, info, id);
    }

    pub(crate) fn append_macro(&mut self, info: MacroInfo) -> R {
        let id = self.next_index();
        let Some(prev) = self.macros.get_mut(&info.name) else {
            return Err(LoadFailure::validate(
                super::loader::ERROR_NO_PREVIOUS_MACRO,
                &info.ctx,
            ));
        };
        prev.cond.push(' ');
        prev.cond.push_str(&info.cond);
        prev.visibility = id;
        Ok(())
    }

    fn check_prev_source(&self, name: &str, source: &str, ctx: &Context) -> R {
        if let Some(prev) = self.rules.get(name)
            && !prev.source.is_empty()
            && !source.is_empty()
            && prev.source != source
        {
            return Err(LoadFailure::validate(
                "Rule has been re-defined with a different source",
                ctx,
            ));
        }
        Ok(())
    }

    /// Defines (or redefines) a rule. `source_known` says whether the engine has the rule's
    /// source; `validate_field` checks an exception field name for a known source.
    pub(crate) fn define_rule(
        &mut self,
        mut info: RuleInfo,
        source_known: bool,
        validate_field: &dyn Fn(&str) -> bool,
    ) -> Result<bool, LoadFailure> {
        self.check_prev_source(&info.name, &info.source, &info.ctx)?;
        info.unknown_source = !source_known;
        for ex in &mut info.exceptions {
            if !ex.fields.is_valid() {
                return Err(LoadFailure::validate(
                    "Rule exception item must have fields property with a list of fields",
                    &ex.ctx,
                ));
            }
            validate_exception(ex, source_known.then_some(validate_field))?;
        }
        let id = self.next_index();
        define(&mut self.rules, info, id);
        Ok(!source_known)
    }

    pub(crate) fn append_rule(
        &mut self,
        info: RuleUpdate,
        validate_field: &dyn Fn(&str) -> bool,
    ) -> R {
        self.check_prev_source(&info.name, &info.source, &info.ctx)?;
        if self.rules.get(&info.name).is_none() {
            return Err(LoadFailure::validate(
                super::loader::ERROR_NO_PREVIOUS_RULE_APPEND,
                &info.ctx,
            ));
        }
        if !info.has_any_value() {
            return Err(LoadFailure::validate(
                "Appended rule must have exceptions or condition property",
                &info.ctx,
            ));
        }
        let id = self.next_index();
        let Some(prev) = self.rules.get_mut(&info.name) else {
            return Ok(());
        };
        let known = !prev.unknown_source;
        if let Some(c) = info.cond.as_ref().filter(|c| !c.is_empty()) {
            prev.cond.push(' ');
            prev.cond.push_str(c);
        }
        if let Some(o) = info.output.as_ref().filter(|c| !c.is_empty()) {
            prev.output.push(' ');
            prev.output.push_str(o);
        }
        if let Some(d) = info.desc.as_ref().filter(|c| !c.is_empty()) {
            prev.desc.push(' ');
            prev.desc.push_str(d);
        }
        if let Some(tags) = info.tags {
            prev.tags.extend(tags);
        }
        if let Some(exceptions) = info.exceptions {
            for mut ex in exceptions {
                match prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                    None => {
                        if !ex.fields.is_valid() {
                            return Err(LoadFailure::validate(
                                "Rule exception must have fields property with a list of fields",
                                &ex.ctx,
                            ));
                        }
                        if ex.values.is_empty() {
                            return Err(LoadFailure::validate(
                                "Rule exception must have values property with a list of values",
                                &ex.ctx,
                            ));
                        }
                        validate_exception(&mut ex, known.then_some(validate_field))?;
                        prev.exceptions.push(ex);
                    }
                    Some(prev_ex) => {
                        if ex.fields.is_valid() {
                            return Err(LoadFailure::validate(
                                "Can not append exception fields to existing exception, only values",
                                &ex.ctx,
                            ));
                        }
                        if ex.comps.is_valid() {
                            return Err(LoadFailure::validate(
                                "Can not append exception comps to existing exception, only values",
                                &ex.ctx,
                            ));
                        }
                        prev_ex.values.extend(ex.values);
                    }
                }
            }
        }
        prev.visibility = id;
        Ok(())
    }

    pub(crate) fn replace_rule(&mut self, info: RuleUpdate) -> R {
        self.check_prev_source(&info.name, &info.source, &info.ctx)?;
        if self.rules.get(&info.name).is_none() {
            return Err(LoadFailure::validate(
                super::loader::ERROR_NO_PREVIOUS_RULE_REPLACE,
                &info.ctx,
            ));
        }
        if !info.has_any_value() {
            return Err(LoadFailure::validate(
                "The rule must have at least one field that can be replaced",
                &info.ctx,
            ));
        }
        let id = self.next_index();
        let Some(prev) = self.rules.get_mut(&info.name) else {
            return Ok(());
        };
        if let Some(c) = info.cond {
            prev.cond = c;
        }
        if let Some(o) = info.output {
            prev.output = o;
        }
        if let Some(d) = info.desc {
            prev.desc = d;
        }
        if let Some(t) = info.tags {
            prev.tags = t;
        }
        if let Some(e) = info.exceptions {
            prev.exceptions = e;
        }
        if let Some(p) = info.priority {
            prev.priority = p;
        }
        if let Some(e) = info.enabled {
            prev.enabled = e;
        }
        if let Some(w) = info.warn_evttypes {
            prev.warn_evttypes = w;
        }
        if let Some(s) = info.skip_if_unknown_filter {
            prev.skip_if_unknown_filter = s;
        }
        prev.visibility = id;
        Ok(())
    }

    pub(crate) fn enable_rule(&mut self, name: &str, enabled: bool, ctx: &Context) -> R {
        match self.rules.get_mut(name) {
            Some(prev) => {
                prev.enabled = enabled;
                Ok(())
            }
            None => Err(LoadFailure::validate(
                "Rule has 'enabled' key but no rule by that name already exists",
                ctx,
            )),
        }
    }
}

/// Falco's `is_str_operator_with_modifier`.
pub(crate) fn is_str_operator_with_modifier(op: &str) -> bool {
    match super::ops::Cmp::parse(op) {
        Ok(c) => c.modifier != super::ops::Modifier::None && super::ops::supports_modifier(c.op),
        Err(_) => false,
    }
}

/// Falco's `validate_exception_info` (fills default comps).
fn validate_exception(ex: &mut ExceptionInfo, validate_field: Option<&dyn Fn(&str) -> bool>) -> R {
    let normalize = |s: &mut String| {
        let t = s.trim_matches([' ', '\t', '\r', '\n']).to_string();
        *s = t;
    };
    if ex.fields.is_list {
        if !ex.comps.is_valid() {
            ex.comps = Entry {
                is_list: true,
                item: String::new(),
                items: ex.fields.items.iter().map(|_| Entry::single("=")).collect(),
            };
        }
        if ex.fields.items.len() != ex.comps.items.len() {
            return Err(LoadFailure::validate(
                "Fields and comps lists must have equal length",
                &ex.ctx,
            ));
        }
        let ops = super::parser::supported_operators();
        for c in &mut ex.comps.items {
            normalize(&mut c.item);
            if !ops.contains(&c.item.as_str()) && !is_str_operator_with_modifier(&c.item) {
                return Err(LoadFailure::validate(
                    format!("'{}' is not a supported comparison operator", c.item),
                    &ex.ctx,
                ));
            }
        }
        if let Some(valid) = validate_field {
            for f in &ex.fields.items {
                if !valid(&f.item) {
                    return Err(LoadFailure::validate(
                        format!("'{}' is not a supported filter field", f.item),
                        &ex.ctx,
                    ));
                }
            }
        }
    } else {
        if !ex.comps.is_valid() {
            ex.comps = Entry::single("in");
        }
        if ex.comps.is_list {
            return Err(LoadFailure::validate(
                "Fields and comps must both be strings",
                &ex.ctx,
            ));
        }
        normalize(&mut ex.comps.item);
        let c = ex.comps.item.as_str();
        if c != "in" && c != "pmatch" && c != "intersects" && !is_str_operator_with_modifier(c) {
            return Err(LoadFailure::validate(
                "When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. startswith oneof)",
                &ex.ctx,
            ));
        }
        if let Some(valid) = validate_field
            && !valid(&ex.fields.item)
        {
            return Err(LoadFailure::validate(
                format!("'{}' is not a supported filter field", ex.fields.item),
                &ex.ctx,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse_case_insensitively() {
        assert_eq!(Priority::parse("WARNING"), Some(Priority::Warning));
        assert_eq!(Priority::parse("info"), Some(Priority::Informational));
        assert_eq!(
            Priority::parse("Informational"),
            Some(Priority::Informational)
        );
        assert_eq!(Priority::parse("warn"), None);
        assert!(Priority::Emergency < Priority::Debug);
        assert_eq!(Priority::Informational.to_string(), "Informational");
    }

    #[test]
    fn modifiers_only_on_string_operators() {
        assert!(is_str_operator_with_modifier("startswith oneof"));
        assert!(!is_str_operator_with_modifier("in oneof"));
        assert!(!is_str_operator_with_modifier("startswith"));
    }
}
