//! Reading a rules file: YAML items to collector definitions (Falco's
//! `rule_loader::reader`), with Falco's checks and messages for every key.
//!
//! A file is a YAML sequence of mappings, each one of `required_engine_version`,
//! `required_plugin_versions`, `list`, `macro` or `rule`. The first error stops the file (as
//! in Falco); warnings accumulate. Scalars are read as yaml-cpp reads them: any scalar is a
//! string, booleans take the YAML 1.1 spellings, `~`/`null`/empty are "empty".

use std::collections::BTreeSet;

use super::requirements::{self, Version};
use super::result::{Context, ErrorCode, FileResult, ItemType, WarningCode};
use super::ruleset::{
    Collector, Entry, ExceptionInfo, ListInfo, LoadFailure, MacroInfo, PluginRequirement, Priority,
    RuleInfo, RuleUpdate,
};
use super::yaml::{self, Kind, Node};

pub(crate) const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
pub(crate) const ERROR_NO_PREVIOUS_MACRO: &str =
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists";
pub(crate) const ERROR_NO_PREVIOUS_LIST: &str =
    "List uses 'append' or 'override.items: append' but no list by that name already exists";
pub(crate) const ERROR_NO_PREVIOUS_RULE_APPEND: &str =
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists";
pub(crate) const ERROR_NO_PREVIOUS_RULE_REPLACE: &str =
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists";
const WARNING_APPEND: &str = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";

/// What the reader needs to know about the engine.
pub(crate) struct ReadConfig<'a> {
    /// Sources whose rules are compiled.
    pub known_sources: &'a [String],
    /// Sources whose rules are skipped without a warning (Falco knows them; we do not run
    /// them): `syscall`.
    pub silent_sources: &'a [String],
    /// The engine version rules are checked against.
    pub engine_version: Version,
}

type R<T = ()> = Result<T, LoadFailure>;

fn yaml_err(message: impl Into<String>, ctx: &Context) -> LoadFailure {
    LoadFailure {
        code: ErrorCode::YamlValidate,
        message: message.into(),
        context: ctx.clone(),
    }
}

/// Reads `content` into `collector`; problems go to `res`. Returns whether reading succeeded.
pub(crate) fn read(
    cfg: &ReadConfig<'_>,
    content: &str,
    collector: &mut Collector,
    res: &mut FileResult,
) -> bool {
    let ctx = Context::file(&res.name);
    let docs = match yaml::load_all(content) {
        Ok(d) => d,
        Err(e) => {
            let ictx = ctx.child(e.mark, ItemType::ValueFor, "");
            res.error(ErrorCode::YamlParse, e.to_string(), ictx);
            return false;
        }
    };
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        let r = (|| -> R {
            if !doc.is_map() && !doc.is_seq() {
                return Err(yaml_err("Rules content is not yaml", &ctx));
            }
            if !doc.is_seq() {
                return Err(yaml_err("Rules content is not yaml array of objects", &ctx));
            }
            for item in doc.items() {
                if !item.is_null() {
                    read_item(cfg, collector, item, &ctx, res)?;
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            res.error(e.code, e.message, e.context);
            return false;
        }
    }
    true
}

/// `decode_val`: a required, non-empty scalar.
fn decode_str(item: &Node, key: &str, ctx: &Context) -> R<String> {
    decode_generic(item, key, ctx, false, false).map(|v| v.unwrap_or_default())
}

/// `decode_optional_val`: absent is fine; present must be a non-empty scalar.
fn decode_opt_str(item: &Node, key: &str, ctx: &Context) -> R<Option<String>> {
    decode_generic(item, key, ctx, true, false)
}

/// `decode_optional_empty_val`.
fn decode_opt_empty_str(item: &Node, key: &str, ctx: &Context) -> R<Option<String>> {
    decode_generic(item, key, ctx, true, true)
}

fn decode_generic(
    item: &Node,
    key: &str,
    ctx: &Context,
    optional: bool,
    can_be_empty: bool,
) -> R<Option<String>> {
    let Some(val) = item.get(key) else {
        if optional {
            return Ok(None);
        }
        return Err(yaml_err(
            format!("Item has no mapping for key '{key}'"),
            ctx,
        ));
    };
    if val.is_null() {
        if can_be_empty {
            return Ok(None);
        }
        return Err(yaml_err(format!("Mapping for key '{key}' is empty"), ctx));
    }
    let valctx = ctx.child(val.mark, ItemType::ValueFor, key);
    let Some(s) = val.scalar() else {
        return Err(yaml_err("Value is not a scalar value", &valctx));
    };
    if s.is_empty() {
        if can_be_empty {
            return Ok(None);
        }
        return Err(yaml_err("Value must be non-empty", &valctx));
    }
    Ok(Some(s.to_string()))
}

fn decode_bool(item: &Node, key: &str, ctx: &Context, optional: bool) -> R<Option<bool>> {
    let s = if optional {
        decode_opt_str(item, key, ctx)?
    } else {
        Some(decode_str(item, key, ctx)?)
    };
    match s {
        None => Ok(None),
        Some(s) => match yaml::to_bool(&s) {
            Some(b) => Ok(Some(b)),
            None => {
                let valctx = item
                    .get(key)
                    .map(|v| ctx.child(v.mark, ItemType::ValueFor, key))
                    .unwrap_or_else(|| ctx.clone());
                Err(yaml_err("Can't decode YAML scalar value", &valctx))
            }
        },
    }
}

fn decode_u32(item: &Node, key: &str, ctx: &Context, optional: bool) -> R<Option<u32>> {
    let s = if optional {
        decode_opt_str(item, key, ctx)?
    } else {
        Some(decode_str(item, key, ctx)?)
    };
    match s {
        None => Ok(None),
        Some(s) => match yaml::to_u32(&s) {
            Some(b) => Ok(Some(b)),
            None => {
                let valctx = item
                    .get(key)
                    .map(|v| ctx.child(v.mark, ItemType::ValueFor, key))
                    .unwrap_or_else(|| ctx.clone());
                Err(yaml_err("Can't decode YAML scalar value", &valctx))
            }
        },
    }
}

/// `decode_seq`: a sequence of scalars.
fn decode_seq(item: &Node, key: &str, ctx: &Context, optional: bool) -> R<Option<Vec<String>>> {
    let Some(val) = item.get(key) else {
        if optional {
            return Ok(None);
        }
        return Err(yaml_err(
            format!("Item has no mapping for key '{key}'"),
            ctx,
        ));
    };
    let valctx = ctx.child(val.mark, ItemType::ValueFor, key);
    if !val.is_seq() {
        return Err(yaml_err("Value is not a sequence", &valctx));
    }
    let mut out = Vec::new();
    for v in val.items() {
        let ictx = valctx.child(v.mark, ItemType::ListItem, "");
        match v.scalar() {
            Some(s) => out.push(s.to_string()),
            None => return Err(yaml_err("sequence value is not scalar", &ictx)),
        }
    }
    Ok(Some(out))
}

fn decode_tags(item: &Node, ctx: &Context) -> R<Option<BTreeSet<String>>> {
    Ok(decode_seq(item, "tags", ctx, true)?.map(|v| v.into_iter().collect()))
}

/// `decode_overrides`: the `override` mapping, split into append and replace keys.
/// Whether a list or macro item appends to its previous definition: the deprecated
/// `append: true` (warned) or `override: {<key>: append}`, not both.
fn append_mode(
    item: &Node,
    key: &str,
    ctx: &Context,
    res: &mut FileResult,
) -> Result<bool, LoadFailure> {
    let append = decode_bool(item, "append", ctx, true)?.unwrap_or(false);
    if append {
        res.warn(WarningCode::DeprecatedItem, WARNING_APPEND, ctx.clone());
    }
    let (oa, or) = decode_overrides(item, &[key], &[key], ctx)?;
    if append && (!oa.is_empty() || !or.is_empty()) {
        return Err(yaml_err(ERROR_OVERRIDE_APPEND, ctx));
    }
    Ok(append || oa.contains(key))
}

fn decode_overrides(
    item: &Node,
    appendable: &[&str],
    replaceable: &[&str],
    ctx: &Context,
) -> R<(BTreeSet<String>, BTreeSet<String>)> {
    let mut append = BTreeSet::new();
    let mut replace = BTreeSet::new();
    let Some(val) = item.get("override") else {
        return Ok((append, replace));
    };
    let octx = ctx.child(item.mark, ItemType::Override, "");
    for (k, v) in val.members() {
        let key = k.key_text();
        let operation = v.key_text();
        let can_append = appendable.contains(&key.as_str());
        let can_replace = replaceable.contains(&key.as_str());
        if operation == "append" {
            let kctx = octx.child(k.mark, ItemType::Override, &key);
            if !can_append {
                return Err(yaml_err(
                    format!("Key '{key}' cannot be appended to, use 'replace' instead"),
                    &kctx,
                ));
            }
            append.insert(key);
        } else if operation == "replace" {
            let kctx = octx.child(k.mark, ItemType::Override, &key);
            if !can_replace {
                return Err(yaml_err(format!("Key '{key}' cannot be replaced"), &kctx));
            }
            replace.insert(key);
        } else {
            let opctx = octx.child(v.mark, ItemType::ValueFor, &key);
            let mut msg = format!(
                "Invalid override operation for key '{key}': '{operation}'. Allowed values are: "
            );
            if can_append {
                msg.push_str("append ");
            }
            if can_replace {
                msg.push_str("replace ");
            }
            return Err(yaml_err(msg, &opctx));
        }
    }
    Ok((append, replace))
}

fn warn_unknown_keys(item: &Node, expected: &[&str], ctx: &Context, res: &mut FileResult) {
    for (k, _) in item.members() {
        let key = k.key_text();
        if !expected.contains(&key.as_str()) {
            res.warn(
                WarningCode::UnknownKey,
                format!("Unknown key '{key}'. The key will be ignored."),
                ctx.clone(),
            );
        }
    }
}

/// One of an exception's `fields`/`comps`/`values` (`decode_exception_info_entry`).
fn exception_entry(val: &Node, key: &str, ctx: &Context) -> R<Entry> {
    let valctx = ctx.child(val.mark, ItemType::ValueFor, key);
    let mut out = Entry::default();
    match &val.kind {
        Kind::Scalar(s) => {
            if s.is_empty() {
                return Err(yaml_err("Value must be non-empty", &valctx));
            }
            out.item = s.clone();
        }
        Kind::Seq(items) => {
            out.is_list = true;
            for v in items {
                let lctx = valctx.child(v.mark, ItemType::Exception, "");
                out.items.push(exception_entry(v, "", &lctx)?);
            }
        }
        _ => {}
    }
    Ok(out)
}

fn read_exceptions(
    item: &Node,
    parent: &Context,
    append: bool,
    res: &mut FileResult,
) -> R<Vec<ExceptionInfo>> {
    let mut exceptions: Vec<ExceptionInfo> = Vec::new();
    let Some(exs) = item.get("exceptions").filter(|e| !e.is_null()) else {
        return Ok(exceptions);
    };
    let exes_ctx = parent.child(exs.mark, ItemType::Exceptions, "");
    if !exs.is_seq() {
        return Err(yaml_err("Rule exceptions must be a sequence", &exes_ctx));
    }
    for ex in exs.items() {
        let tmp = exes_ctx.child(ex.mark, ItemType::Exception, "");
        if !ex.is_map() {
            return Err(yaml_err("Rule exception must be a mapping", &tmp));
        }
        let name = decode_str(ex, "name", &tmp)?;
        let ex_ctx = parent.child(ex.mark, ItemType::Exception, &name);
        if exceptions.iter().any(|e| e.name == name) {
            res.warn(
                WarningCode::ExceptionNameNotUnique,
                format!("Multiple definitions of exception '{name}' in the same rule"),
                ex_ctx.clone(),
            );
        }
        let fields = match ex.get("fields") {
            Some(v) => exception_entry(v, "fields", &ex_ctx)?,
            None if append => Entry::default(),
            None => return Err(yaml_err("Item has no mapping for key 'fields'", &ex_ctx)),
        };
        let comps = match ex.get("comps") {
            Some(v) => exception_entry(v, "comps", &ex_ctx)?,
            None => Entry::default(),
        };
        let mut values = Vec::new();
        match ex.get("values") {
            Some(vals) => {
                let vals_ctx = ex_ctx.child(vals.mark, ItemType::ExceptionValues, "");
                if !vals.is_seq() {
                    return Err(yaml_err(
                        "Rule exception values must be a sequence",
                        &vals_ctx,
                    ));
                }
                for v in vals.items() {
                    let vctx = vals_ctx.child(v.mark, ItemType::ExceptionValue, "");
                    values.push(exception_entry(v, "", &vctx)?);
                }
            }
            None if append => res.warn(
                WarningCode::AppendNoValues,
                "Overriding/appending exception with no values",
                ex_ctx.clone(),
            ),
            None => {}
        }
        exceptions.push(ExceptionInfo {
            ctx: ex_ctx,
            name,
            fields,
            comps,
            values,
        });
    }
    Ok(exceptions)
}

fn parse_priority(item: &Node, ctx: &Context) -> R<Priority> {
    let s = decode_str(item, "priority", ctx)?;
    Priority::parse(&s).ok_or_else(|| {
        let prictx = item
            .get("priority")
            .map(|p| ctx.child(p.mark, ItemType::RulePriority, ""))
            .unwrap_or_else(|| ctx.clone());
        yaml_err("Invalid priority", &prictx)
    })
}

fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().take_while(|c| c.is_ascii_alphabetic()).count() > 0
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && b[0].is_ascii_alphabetic()
}

fn is_bare_str(s: &str) -> bool {
    !s.is_empty()
        && !s.bytes().any(|b| {
            matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',')
                || b.is_ascii_whitespace()
                || b == 0x0b
        })
}

fn read_item(
    cfg: &ReadConfig<'_>,
    collector: &mut Collector,
    item: &Node,
    parent: &Context,
    res: &mut FileResult,
) -> R {
    if !item.is_map() {
        let tmp = parent.child(item.mark, ItemType::RulesContentItem, "");
        return Err(yaml_err(
            "Unexpected element type. Each element should be a yaml associative array.",
            &tmp,
        ));
    }
    if item.has("required_engine_version") {
        let ctx = parent.child(item.mark, ItemType::RequiredEngineVersion, "");
        let version = match decode_u32(item, "required_engine_version", &ctx, false) {
            Ok(Some(minor)) => Version::implicit_engine(minor, cfg.engine_version),
            _ => {
                let s = decode_str(item, "required_engine_version", &ctx)?;
                Version::parse(&s).ok_or_else(|| {
                    yaml_err(
                        format!("Unable to parse engine version '{s}' as a semver string. Expected \"x.y.z\" semver format."),
                        &ctx,
                    )
                })?
            }
        };
        if !cfg.engine_version.compatible_with(&version) {
            return Err(LoadFailure::validate(
                format!(
                    "Rules require engine version {version}, but engine version is {}",
                    cfg.engine_version
                ),
                &ctx,
            ));
        }
        warn_unknown_keys(item, &["required_engine_version"], &ctx, res);
    } else if let Some(reqs) = item.get("required_plugin_versions") {
        let ctx = parent.child(reqs.mark, ItemType::RequiredPluginVersions, "");
        if !reqs.is_seq() {
            return Err(yaml_err(
                "Value of required_plugin_versions must be a sequence",
                &ctx,
            ));
        }
        for plugin in reqs.items() {
            let tmp = ctx.child(plugin.mark, ItemType::RequiredPluginVersionsEntry, "");
            if !plugin.is_map() {
                return Err(yaml_err("Plugin version must be a mapping", &tmp));
            }
            let name = decode_str(plugin, "name", &tmp)?;
            let pctx = ctx.child(plugin.mark, ItemType::RequiredPluginVersionsEntry, &name);
            let version = decode_str(plugin, "version", &pctx)?;
            let mut alternatives = vec![PluginRequirement { name, version }];
            if let Some(alts) = plugin.get("alternatives") {
                if !alts.is_seq() {
                    return Err(yaml_err(
                        "Value of plugin version alternatives must be a sequence",
                        &pctx,
                    ));
                }
                for req in alts.items() {
                    let tmp = pctx.child(req.mark, ItemType::RequiredPluginVersionsAlternative, "");
                    if !req.is_map() {
                        return Err(yaml_err(
                            "Plugin version alternative must be a mapping",
                            &tmp,
                        ));
                    }
                    let name = decode_str(req, "name", &tmp)?;
                    let tmp =
                        pctx.child(req.mark, ItemType::RequiredPluginVersionsAlternative, &name);
                    let version = decode_str(req, "version", &tmp)?;
                    alternatives.push(PluginRequirement { name, version });
                }
            }
            requirements::validate_alternatives(&alternatives, &pctx)?;
            collector.required_plugins.push(alternatives);
        }
        let rpv_ctx = parent.child(item.mark, ItemType::RequiredPluginVersions, "");
        warn_unknown_keys(item, &["required_plugin_versions"], &rpv_ctx, res);
    } else if item.has("list") {
        let tmp = parent.child(item.mark, ItemType::List, "");
        let name = decode_str(item, "list", &tmp)?;
        let ctx = parent.child(item.mark, ItemType::List, &name);
        if !is_bare_str(&name) {
            res.warn(
                WarningCode::InvalidListName,
                "List has an invalid name. List names should match a regular expression: ([^()\"'[:space:]=,]+)",
                ctx.clone(),
            );
        }
        let items = decode_seq(item, "items", &ctx, false)?.unwrap_or_default();
        let append = append_mode(item, "items", &ctx, res)?;
        let info = ListInfo {
            ctx: ctx.clone(),
            name,
            items,
            index: 0,
            visibility: 0,
        };
        if append {
            collector.append_list(info)?;
        } else {
            collector.define_list(info);
        }
        warn_unknown_keys(item, &["list", "items", "append", "override"], &ctx, res);
    } else if item.has("macro") {
        let tmp = parent.child(item.mark, ItemType::Macro, "");
        let name = decode_str(item, "macro", &tmp)?;
        let ctx = parent.child(item.mark, ItemType::Macro, &name);
        if !is_identifier(&name) {
            res.warn(
                WarningCode::InvalidMacroName,
                "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)",
                ctx.clone(),
            );
        }
        let cond = decode_str(item, "condition", &ctx)?;
        let cond_ctx = item
            .get("condition")
            .map(|c| ctx.child(c.mark, ItemType::MacroCondition, ""))
            .unwrap_or_else(|| ctx.clone());
        let append = append_mode(item, "condition", &ctx, res)?;
        let info = MacroInfo {
            ctx: ctx.clone(),
            cond_ctx,
            name,
            cond,
            index: 0,
            visibility: 0,
        };
        if append {
            collector.append_macro(info)?;
        } else {
            collector.define_macro(info);
        }
        warn_unknown_keys(
            item,
            &["macro", "condition", "append", "override"],
            &ctx,
            res,
        );
    } else if item.has("rule") {
        read_rule(cfg, collector, item, parent, res)?;
    } else {
        let ctx = parent.child(item.mark, ItemType::RulesContentItem, "");
        res.warn(WarningCode::UnknownItem, "Unknown top level item", ctx);
    }
    Ok(())
}

const RULE_APPENDABLE: [&str; 5] = ["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACEABLE: [&str; 11] = [
    "condition",
    "output",
    "desc",
    "priority",
    "capture",
    "capture_duration",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
];
const RULE_KEYS: [&str; 15] = [
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "capture",
    "capture_duration",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "tags",
    "exceptions",
    "override",
    "append",
];

/// `check_update_expected`.
fn expect_update(
    expected: &mut BTreeSet<String>,
    overrides: &BTreeSet<String>,
    kind: &str,
    key: &str,
    ctx: &Context,
) -> R<bool> {
    if !overrides.contains(key) {
        return Ok(false);
    }
    if !expected.remove(key) {
        return Err(yaml_err(
            format!("An {kind} override for '{key}' was specified but '{key}' is not defined"),
            ctx,
        ));
    }
    Ok(true)
}

/// The keys a rule's `override` names for one mode (`append` or `replace`).
struct Overrides<'a> {
    item: &'a Node,
    ctx: &'a Context,
    /// Keys present in the item and not yet claimed by an override.
    expected: &'a mut BTreeSet<String>,
    keys: &'a BTreeSet<String>,
    kind: &'static str,
}

impl Overrides<'_> {
    /// Reads the keys both modes share: condition, exceptions, output, desc and tags.
    fn read_common(&mut self, v: &mut RuleUpdate, source: &str, res: &mut FileResult) -> R<()> {
        let (item, ctx) = (self.item, self.ctx);
        if self.wants("condition")? {
            v.source = source.to_string();
            v.cond = Some(decode_str(item, "condition", ctx)?);
        }
        if self.wants("exceptions")? {
            v.exceptions = Some(read_exceptions(item, ctx, self.kind == "append", res)?);
        }
        if self.wants("output")? {
            v.output = Some(decode_str(item, "output", ctx)?);
        }
        if self.wants("desc")? {
            v.desc = Some(decode_str(item, "desc", ctx)?);
        }
        if self.wants("tags")? {
            v.tags = decode_tags(item, ctx)?;
        }
        Ok(())
    }

    fn wants(&mut self, key: &str) -> R<bool> {
        expect_update(self.expected, self.keys, self.kind, key, self.ctx)
    }
}

fn read_rule(
    cfg: &ReadConfig<'_>,
    collector: &mut Collector,
    item: &Node,
    parent: &Context,
    res: &mut FileResult,
) -> R {
    let tmp = parent.child(item.mark, ItemType::Rule, "");
    let name = decode_str(item, "rule", &tmp)?;
    let ctx = parent.child(item.mark, ItemType::Rule, &name);
    let source = decode_opt_empty_str(item, "source", &ctx)?.unwrap_or_default();
    let has_append = decode_bool(item, "append", &ctx, true)?.unwrap_or(false);
    if has_append {
        res.warn(WarningCode::DeprecatedItem, WARNING_APPEND, ctx.clone());
    }
    let (oa, or) = decode_overrides(item, &RULE_APPENDABLE, &RULE_REPLACEABLE, &ctx)?;
    let has_overrides = !oa.is_empty() || !or.is_empty();
    if has_append && has_overrides {
        return Err(yaml_err(ERROR_OVERRIDE_APPEND, &ctx));
    }
    let known = |s: &str| cfg.known_sources.iter().any(|k| k == s);
    let validate_field = |f: &str| super::compile::is_valid_lhs_field(f);

    if has_overrides {
        let mut expected: BTreeSet<String> = RULE_APPENDABLE
            .iter()
            .chain(RULE_REPLACEABLE.iter())
            .filter(|k| item.has(k))
            .map(|k| k.to_string())
            .collect();
        if !oa.is_empty() {
            let mut v = RuleUpdate::new(&ctx, &name);
            let mut overrides = Overrides {
                item,
                ctx: &ctx,
                expected: &mut expected,
                keys: &oa,
                kind: "append",
            };
            overrides.read_common(&mut v, &source, res)?;
            collector.append_rule(v, &validate_field)?;
        }
        if !or.is_empty() {
            let mut v = RuleUpdate::new(&ctx, &name);
            let mut overrides = Overrides {
                item,
                ctx: &ctx,
                expected: &mut expected,
                keys: &or,
                kind: "replace",
            };
            overrides.read_common(&mut v, &source, res)?;
            if expect_update(&mut expected, &or, "replace", "priority", &ctx)? {
                v.priority = Some(parse_priority(item, &ctx)?);
            }
            if expect_update(&mut expected, &or, "replace", "capture", &ctx)? {
                v.capture = decode_bool(item, "capture", &ctx, false)?;
            }
            if expect_update(&mut expected, &or, "replace", "capture_duration", &ctx)? {
                v.capture_duration = decode_u32(item, "capture_duration", &ctx, false)?;
            }
            if expect_update(&mut expected, &or, "replace", "enabled", &ctx)? {
                v.enabled = decode_bool(item, "enabled", &ctx, false)?;
            }
            if expect_update(&mut expected, &or, "replace", "warn_evttypes", &ctx)? {
                v.warn_evttypes = decode_bool(item, "warn_evttypes", &ctx, false)?;
            }
            if expect_update(
                &mut expected,
                &or,
                "replace",
                "skip-if-unknown-filter",
                &ctx,
            )? {
                v.skip_if_unknown_filter =
                    decode_bool(item, "skip-if-unknown-filter", &ctx, false)?;
            }
            collector.replace_rule(v)?;
        }
        if let Some(key) = expected.into_iter().next() {
            let kctx = item
                .get(&key)
                .map(|k| ctx.child(k.mark, ItemType::Override, &key))
                .unwrap_or_else(|| ctx.clone());
            return Err(yaml_err(
                format!(
                    "Unexpected key '{key}': no corresponding entry under 'override' is defined."
                ),
                &kctx,
            ));
        }
    } else if has_append {
        let mut v = RuleUpdate::new(&ctx, &name);
        v.source = source.clone();
        if let Some(c) = item.get("condition") {
            v.cond_ctx = ctx.child(c.mark, ItemType::RuleCondition, "");
            v.cond = Some(decode_str(item, "condition", &ctx)?);
        }
        if item.has("exceptions") {
            v.exceptions = Some(read_exceptions(item, &ctx, true, res)?);
        }
        collector.append_rule(v, &validate_field)?;
    } else if !item.has("condition")
        && !item.has("output")
        && !item.has("desc")
        && !item.has("priority")
    {
        let enabled = decode_bool(item, "enabled", &ctx, false)?.unwrap_or(true);
        res.warn(WarningCode::DeprecatedItem, WARNING_ENABLED, ctx.clone());
        collector.enable_rule(&name, enabled, &ctx)?;
    } else {
        let cond = decode_str(item, "condition", &ctx)?;
        let cond_ctx = item
            .get("condition")
            .map(|c| ctx.child(c.mark, ItemType::RuleCondition, ""))
            .unwrap_or_else(|| ctx.clone());
        let output = decode_str(item, "output", &ctx)?;
        let output_ctx = item
            .get("output")
            .map(|c| ctx.child(c.mark, ItemType::RuleOutput, ""))
            .unwrap_or_else(|| ctx.clone());
        let desc = decode_str(item, "desc", &ctx)?;
        let priority = parse_priority(item, &ctx)?;
        let source = decode_opt_str(item, "source", &ctx)?.unwrap_or_else(|| "syscall".into());
        let enabled = decode_bool(item, "enabled", &ctx, true)?.unwrap_or(true);
        decode_bool(item, "capture", &ctx, true)?;
        decode_u32(item, "capture_duration", &ctx, true)?;
        let warn_evttypes = decode_bool(item, "warn_evttypes", &ctx, true)?.unwrap_or(true);
        let skip = decode_bool(item, "skip-if-unknown-filter", &ctx, true)?.unwrap_or(false);
        let tags = decode_tags(item, &ctx)?.unwrap_or_default();
        let exceptions = read_exceptions(item, &ctx, false, res)?;
        let source_known = known(&source);
        if !source_known && !cfg.silent_sources.contains(&source) {
            res.warn(
                WarningCode::UnknownSource,
                format!("Unknown source {source}, skipping"),
                ctx.clone(),
            );
        }
        let info = RuleInfo {
            ctx: ctx.clone(),
            cond_ctx,
            output_ctx,
            index: 0,
            visibility: 0,
            unknown_source: !source_known,
            name,
            cond,
            source,
            desc,
            output: output
                .trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
                .to_string(),
            tags,
            exceptions,
            priority,
            enabled,
            warn_evttypes,
            skip_if_unknown_filter: skip,
        };
        collector.define_rule(info, source_known, &validate_field)?;
    }
    warn_unknown_keys(item, &RULE_KEYS, &ctx, res);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_identifier("kevt_started"));
        assert!(!is_identifier("k-evt"));
        assert!(!is_identifier("1a"));
        assert!(is_bare_str("allowed_k8s-users"));
        assert!(!is_bare_str("a b"));
    }
}
