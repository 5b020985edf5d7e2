//! Load results: Falco's error and warning codes, the context chain that says where a
//! problem is, and the renderings `falco -V` prints.
//!
//! Every problem carries a [`Context`]: the chain of locations from the rules file down to
//! the item (rule, macro, condition expression …) that caused it, each with Falco's item type
//! words, the item name and a position. Positions are Falco's own numbers (yaml-cpp marks are
//! 0-based; a condition expression's position adds the filter parser's 1-based position to the
//! condition node's mark), so the verbose text matches Falco's; [`Context::human_position`]
//! gives 1-based numbers for people.

use std::fmt::Write as _;

use super::yaml::Mark;

/// Falco's rule-loading error codes (`falco_load_result.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A rules file could not be read.
    FileRead,
    /// The content is not valid YAML.
    YamlParse,
    /// The YAML does not have the structure of a rules file.
    YamlValidate,
    /// A condition does not compile.
    CompileCondition,
    /// An output does not compile.
    CompileOutput,
    /// A list, macro, rule or exception is wrong (undefined macro, version mismatch …).
    Validate,
}

impl ErrorCode {
    /// The code as Falco prints it, e.g. `LOAD_ERR_COMPILE_CONDITION`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FileRead => "LOAD_ERR_FILE_READ",
            ErrorCode::YamlParse => "LOAD_ERR_YAML_PARSE",
            ErrorCode::YamlValidate => "LOAD_ERR_YAML_VALIDATE",
            ErrorCode::CompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            ErrorCode::CompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            ErrorCode::Validate => "LOAD_ERR_VALIDATE",
        }
    }

    /// Falco's short description, e.g. `Error compiling condition`.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::FileRead => "File read error",
            ErrorCode::YamlParse => "YAML parse error",
            ErrorCode::YamlValidate => "Error validating internal structure of YAML file",
            ErrorCode::CompileCondition => "Error compiling condition",
            ErrorCode::CompileOutput => "Error compiling output",
            ErrorCode::Validate => "Error validating rule/macro/list/exception objects",
        }
    }
}

/// Falco's rule-loading warning codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum WarningCode {
    /// A rule's source is not loaded; the rule is skipped.
    UnknownSource,
    /// A `ka.*`/`jevt.*` field compared with `<NA>`.
    UnsafeNaCheck,
    /// (syscall rules only in Falco; never raised here.)
    NoEvttype,
    /// An unknown field in a rule with `skip-if-unknown-filter: true`.
    UnknownFilter,
    /// A macro nothing refers to.
    UnusedMacro,
    /// A list nothing refers to.
    UnusedList,
    /// An unknown top-level item.
    UnknownItem,
    /// `append: true` or an `enabled`-only redefinition.
    DeprecatedItem,
    /// An exception appended or overridden without values.
    AppendNoValues,
    /// Two exceptions of one rule share a name.
    ExceptionNameNotUnique,
    /// A macro name that is not an identifier.
    InvalidMacroName,
    /// A list name that is not a bare string.
    InvalidListName,
    /// A condition that compiled with a warning.
    CompileCondition,
    /// An unknown key in an item.
    UnknownKey,
}

impl WarningCode {
    /// The code as Falco prints it, e.g. `LOAD_UNUSED_MACRO`.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            WarningCode::UnsafeNaCheck => "LOAD_UNSAFE_NA_CHECK",
            WarningCode::NoEvttype => "LOAD_NO_EVTTYPE",
            WarningCode::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            WarningCode::UnusedMacro => "LOAD_UNUSED_MACRO",
            WarningCode::UnusedList => "LOAD_UNUSED_LIST",
            WarningCode::UnknownItem => "LOAD_UNKNOWN_ITEM",
            WarningCode::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            WarningCode::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            WarningCode::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            WarningCode::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            WarningCode::InvalidListName => "LOAD_INVALID_LIST_NAME",
            WarningCode::CompileCondition => "LOAD_COMPILE_CONDITION",
            WarningCode::UnknownKey => "LOAD_UNKNOWN_KEY",
        }
    }

    /// Falco's short description.
    pub fn describe(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => "Unknown event source",
            WarningCode::UnsafeNaCheck => "Unsafe <NA> comparison in condition",
            WarningCode::NoEvttype => "Condition has no event-type restriction",
            WarningCode::UnknownFilter => "Unknown field or event-type in condition or output",
            WarningCode::UnusedMacro => "Unused macro",
            WarningCode::UnusedList => "Unused list",
            WarningCode::UnknownItem => "Unknown rules file item",
            WarningCode::DeprecatedItem => "Used deprecated item",
            WarningCode::AppendNoValues => "Overriding/appending with no values",
            WarningCode::ExceptionNameNotUnique => "Multiple exceptions defined with the same name",
            WarningCode::InvalidMacroName => "Invalid macro name",
            WarningCode::InvalidListName => "Invalid list name",
            WarningCode::CompileCondition => "Warning in rule condition",
            WarningCode::UnknownKey => "Unknown key in item definition",
        }
    }

    /// Falco's long description (`warning_desc`): what its JSON result puts in a warning's
    /// `codedesc`. Errors differ: Falco's `error_desc` returns the short text.
    pub fn description(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => {
                "A rule has a unknown event source. This can occur when reading rules content \
                 without having a corresponding plugin loaded, etc. The rule will be silently \
                 ignored."
            }
            WarningCode::UnsafeNaCheck => {
                "Comparing a field value with <NA> is unsafe and can lead to unpredictable \
                 behavior of the rule condition. If you need to check for the existence of a \
                 field, consider using the 'exists' operator instead."
            }
            WarningCode::NoEvttype => {
                "A rule condition matches too many evt.type values. This has a significant \
                 performance penalty. Make the condition more specific by adding an evt.type \
                 field or further restricting the number of evt.type values in the condition."
            }
            WarningCode::UnknownFilter => {
                "A rule condition or output refers to a field or evt.type that does not exist. \
                 This is normally an error, but if a rule has a skip-if-unknown-filter property, \
                 the error is downgraded to a warning."
            }
            WarningCode::UnusedMacro => {
                "A macro is defined in the rules content but is not used by any other macro or \
                 rule."
            }
            WarningCode::UnusedList => {
                "A list is defined in the rules content but is not used by any other list, \
                 macro, or rule."
            }
            WarningCode::UnknownItem => {
                "An unknown top-level object is in the rules content. It will be ignored."
            }
            WarningCode::DeprecatedItem => {
                "A deprecated item is employed by lists, macros, or rules."
            }
            WarningCode::AppendNoValues => {
                "A rule exception is overriding/appending with no values"
            }
            WarningCode::ExceptionNameNotUnique => {
                "A rule is defining multiple exceptions with the same name"
            }
            WarningCode::InvalidMacroName => "A macro is defined with an invalid name",
            WarningCode::InvalidListName => "A list is defined with an invalid name",
            WarningCode::CompileCondition => {
                "A rule condition or output have been parsed with a warning"
            }
            WarningCode::UnknownKey => {
                "An item in the rules content contains an unrecognized key. The key will be \
                 ignored. This may indicate a typo or a property placed on the wrong item type."
            }
        }
    }
}

/// What a location in a [`Context`] is (Falco's `item_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ItemType {
    ValueFor,
    Exceptions,
    Exception,
    ExceptionValues,
    ExceptionValue,
    RulesContent,
    RulesContentItem,
    RequiredEngineVersion,
    RequiredPluginVersions,
    RequiredPluginVersionsEntry,
    RequiredPluginVersionsAlternative,
    List,
    ListItem,
    Macro,
    MacroCondition,
    Rule,
    RuleCondition,
    ConditionExpression,
    RuleOutput,
    RuleOutputExpression,
    RulePriority,
    Override,
}

impl ItemType {
    /// Falco's words for it, e.g. `rule condition`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::ValueFor => "value for",
            ItemType::Exceptions => "exceptions",
            ItemType::Exception => "exception",
            ItemType::ExceptionValues => "exception values",
            ItemType::ExceptionValue => "exception value",
            ItemType::RulesContent => "rules content",
            ItemType::RulesContentItem => "rules content item",
            ItemType::RequiredEngineVersion => "required_engine_version",
            ItemType::RequiredPluginVersions => "required plugin versions",
            ItemType::RequiredPluginVersionsEntry => "required plugin versions entry",
            ItemType::RequiredPluginVersionsAlternative => "required plugin versions alternative",
            ItemType::List => "list",
            ItemType::ListItem => "list item",
            ItemType::Macro => "macro",
            ItemType::MacroCondition => "macro condition",
            ItemType::Rule => "rule",
            ItemType::RuleCondition => "rule condition",
            ItemType::ConditionExpression => "condition expression",
            ItemType::RuleOutput => "rule output",
            ItemType::RuleOutputExpression => "rule output expression",
            ItemType::RulePriority => "rule priority",
            ItemType::Override => "overrides",
        }
    }
}

/// One step of a [`Context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The rules file name, or for a condition expression a quoted prefix of the condition.
    pub name: String,
    /// Falco's position numbers (see the module docs).
    pub pos: Mark,
    /// What the item is.
    pub item_type: ItemType,
    /// Its name, when it has one (rule, macro, list, exception, key).
    pub item_name: String,
}

/// Where a problem is: the chain from the file to the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    locs: Vec<Location>,
    /// For condition expressions: the condition text the snippet is cut from.
    alt_content: Option<String>,
}

impl Context {
    /// The whole-file context.
    pub fn file(name: &str) -> Self {
        Context {
            locs: vec![Location {
                name: name.to_string(),
                pos: Mark::default(),
                item_type: ItemType::RulesContent,
                item_name: String::new(),
            }],
            alt_content: None,
        }
    }

    /// A child location at a YAML node's mark.
    pub fn child(&self, mark: Mark, item_type: ItemType, item_name: &str) -> Self {
        let mut locs = self.locs.clone();
        locs.push(Location {
            name: self.file_name().to_string(),
            pos: mark,
            item_type,
            item_name: item_name.to_string(),
        });
        Context {
            locs,
            alt_content: None,
        }
    }

    /// A condition-expression location: `pos` is the filter parser's position (1-based line
    /// and column, 0-based index) inside `condition`, added to the parent's last position as
    /// Falco does.
    pub fn condition(&self, pos: super::ast::Pos, condition: &str) -> Self {
        let short = if condition.chars().count() > 20 {
            let head: String = condition.chars().take(17).collect();
            format!("\"{head}...\"")
        } else {
            format!("\"{condition}\"")
        };
        let short = short.replace(['\n', '\r'], " ");
        let last = self.locs.last().map(|l| l.pos).unwrap_or_default();
        let mut locs = self.locs.clone();
        locs.push(Location {
            name: short,
            pos: Mark {
                pos: pos.idx + last.pos,
                line: pos.line + last.line,
                column: pos.col + last.column,
            },
            item_type: ItemType::ConditionExpression,
            item_name: String::new(),
        });
        Context {
            locs,
            alt_content: Some(condition.to_string()),
        }
    }

    /// The rules file (the first location's name).
    pub fn file_name(&self) -> &str {
        self.locs.first().map(|l| l.name.as_str()).unwrap_or("")
    }

    /// The locations, outermost first.
    pub fn locations(&self) -> &[Location] {
        &self.locs
    }

    /// The innermost named item (rule, macro, list …) and its type, if any.
    pub fn item(&self) -> Option<(ItemType, &str)> {
        self.locs
            .iter()
            .rev()
            .find(|l| {
                !l.item_name.is_empty()
                    && matches!(
                        l.item_type,
                        ItemType::Rule
                            | ItemType::Macro
                            | ItemType::List
                            | ItemType::Exception
                            | ItemType::RequiredPluginVersionsEntry
                    )
            })
            .map(|l| (l.item_type, l.item_name.as_str()))
    }

    /// A 1-based (line, column) in the rules file for people: the innermost YAML mark, moved
    /// by a condition expression's position when there is one.
    pub fn human_position(&self) -> (usize, usize) {
        match self.locs.last() {
            Some(l) if l.item_type == ItemType::ConditionExpression => (l.pos.line, l.pos.column),
            Some(l) => (l.pos.line + 1, l.pos.column + 1),
            None => (1, 1),
        }
    }

    /// Falco's `context::as_string()`: one line per location.
    pub fn as_falco_string(&self) -> String {
        let mut out = String::new();
        for (i, loc) in self.locs.iter().enumerate() {
            out.push_str(if i == 0 { "In " } else { "    " });
            out.push_str(loc.item_type.as_str());
            if !loc.item_name.is_empty() {
                let _ = write!(out, " '{}'", loc.item_name);
            }
            let _ = writeln!(out, ": ({}:{}:{})", loc.name, loc.pos.line, loc.pos.column);
        }
        out
    }

    /// Falco's snippet: the line at the innermost position with a caret under it.
    pub fn snippet(&self, contents: &dyn Fn(&str) -> Option<String>) -> String {
        const WIDTH: usize = 160;
        let Some(loc) = self.locs.last() else {
            return "<No context available>\n".into();
        };
        let content = match &self.alt_content {
            Some(c) => c.clone(),
            None => match contents(&loc.name) {
                Some(c) => c,
                None => return format!("<No context for file + {}>\n", loc.name),
            },
        };
        let bytes: Vec<char> = content.chars().collect();
        if bytes.is_empty() {
            return "<No context available>\n".into();
        }
        let mut pos = loc.pos.pos;
        while pos > 0 && (pos >= bytes.len() || bytes[pos] == '\n') {
            pos -= 1;
        }
        let mut from = pos;
        while from > 0 && bytes[from] != '\n' && (pos - from) < WIDTH / 2 {
            from -= 1;
        }
        let mut to = pos;
        while to < bytes.len() - 1 && bytes[to] != '\n' && (to - pos) < WIDTH / 2 {
            to += 1;
        }
        if from < bytes.len() && bytes[from] == '\n' {
            from += 1;
        }
        if to < bytes.len() && bytes[to] == '\n' && to > 0 {
            to -= 1;
        }
        if to < from {
            return "<No context available>\n".into();
        }
        let mut ret: String = bytes[from..=to].iter().collect();
        if ret.is_empty() {
            return "<No context available>\n".into();
        }
        // The first and last three characters give way to "..." (Falco counts bytes; the
        // snippet is cut in characters here, the same for ASCII, and never mid-character).
        if pos - from >= WIDTH / 2 && ret.chars().count() >= 3 {
            let cut = ret.char_indices().nth(3).map_or(ret.len(), |(i, _)| i);
            ret.replace_range(..cut, "...");
        }
        if to - pos >= WIDTH / 2 && ret.chars().count() >= 3 {
            let cut = ret.char_indices().nth_back(2).map_or(0, |(i, _)| i);
            ret.replace_range(cut.., "...");
        }
        ret.push('\n');
        if pos - from < ret.chars().count() {
            ret.push_str(&" ".repeat(pos - from));
            ret.push_str("^\n");
        }
        ret
    }
}

/// A rule-loading error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Falco's code.
    pub code: ErrorCode,
    /// Falco's message.
    pub message: String,
    /// Where.
    pub context: Context,
}

/// A rule-loading warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    /// Falco's code.
    pub code: WarningCode,
    /// Falco's message (may be empty: some warnings are their code's description alone).
    pub message: String,
    /// Where.
    pub context: Context,
}

/// What loading one rules file gave (Falco's `rule_loader::result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResult {
    /// The name the content was loaded under (usually its path).
    pub name: String,
    /// Errors; any error makes the load unsuccessful.
    pub errors: Vec<LoadError>,
    /// Warnings; they never fail a load.
    pub warnings: Vec<LoadWarning>,
}

impl FileResult {
    pub(crate) fn new(name: &str) -> Self {
        FileResult {
            name: name.to_string(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Whether the file loaded without errors.
    pub fn successful(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn error(&mut self, code: ErrorCode, message: impl Into<String>, context: Context) {
        self.errors.push(LoadError {
            code,
            message: message.into(),
            context,
        });
    }

    pub(crate) fn warn(&mut self, code: WarningCode, message: impl Into<String>, context: Context) {
        self.warnings.push(LoadWarning {
            code,
            message: message.into(),
            context,
        });
    }

    /// Falco's one-line summary, e.g. `rules.yaml: Ok, with warnings`.
    pub fn summary(&self) -> String {
        let mut os = String::new();
        if !self.name.is_empty() {
            let _ = write!(os, "{}: ", self.name);
        }
        os.push_str(if self.successful() { "Ok" } else { "Invalid" });
        if self.successful() && !self.warnings.is_empty() {
            os.push_str(", with warnings");
        }
        if !self.errors.is_empty() {
            let _ = write!(os, "\n {} errors: [", self.errors.len());
            let items: Vec<String> = self
                .errors
                .iter()
                .map(|e| format!("{} ({})", e.code.as_str(), e.code.describe()))
                .collect();
            let _ = write!(os, "{}]", items.join(" "));
        }
        if !self.warnings.is_empty() {
            let _ = write!(os, "\n {} warnings: [", self.warnings.len());
            let items: Vec<String> = self
                .warnings
                .iter()
                .map(|w| format!("{} ({})", w.code.as_str(), w.code.describe()))
                .collect();
            let _ = write!(os, "{}]", items.join(" "));
        }
        os
    }

    /// Falco's verbose text (what `falco -V` prints): every error and warning with its
    /// context chain, a snippet of the offending line and the message. `contents` answers a
    /// rules file's text by name, for the snippets.
    pub fn verbose(&self, contents: &dyn Fn(&str) -> Option<String>) -> String {
        let mut os = String::new();
        if !self.name.is_empty() {
            let _ = write!(os, "{}: ", self.name);
        }
        os.push_str(if self.successful() { "Ok" } else { "Invalid" });
        if self.successful() && !self.warnings.is_empty() {
            os.push_str(", with warnings");
        }
        let errors = self
            .errors
            .iter()
            .map(|e| (&e.context, e.code.as_str(), e.code.describe(), &e.message));
        write_problems(&mut os, "Errors", errors, contents);
        let warnings = self
            .warnings
            .iter()
            .map(|w| (&w.context, w.code.as_str(), w.code.describe(), &w.message));
        write_problems(&mut os, "Warnings", warnings, contents);
        os
    }

    /// Falco's JSON result object (`falco -V` with `json_output`).
    pub fn to_json(&self, contents: &dyn Fn(&str) -> Option<String>) -> serde_json::Value {
        let ctx_json = |c: &Context| {
            let locations: Vec<serde_json::Value> = c
                .locations()
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "item_type": l.item_type.as_str(),
                        "item_name": l.item_name,
                        "position": {
                            "name": l.name,
                            "line": l.pos.line,
                            "column": l.pos.column,
                            "offset": l.pos.pos,
                        },
                    })
                })
                .collect();
            serde_json::json!({"locations": locations, "snippet": c.snippet(contents)})
        };
        let errors: Vec<serde_json::Value> = self
            .errors
            .iter()
            .map(|e| {
                serde_json::json!({
                    "context": ctx_json(&e.context),
                    "code": e.code.as_str(),
                    "codedesc": e.code.describe(),
                    "message": e.message,
                })
            })
            .collect();
        let warnings: Vec<serde_json::Value> = self
            .warnings
            .iter()
            .map(|w| {
                serde_json::json!({
                    "context": ctx_json(&w.context),
                    "code": w.code.as_str(),
                    "codedesc": w.code.description(),
                    "message": w.message,
                })
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "successful": self.successful(),
            "errors": errors,
            "warnings": warnings,
        })
    }
}

/// Falco's verbose listing of errors or warnings: position, snippet, code and message.
fn write_problems<'p>(
    os: &mut String,
    title: &str,
    problems: impl ExactSizeIterator<Item = (&'p Context, &'static str, &'static str, &'p String)>,
    contents: &dyn Fn(&str) -> Option<String>,
) {
    if problems.len() == 0 {
        return;
    }
    let _ = write!(os, "\n{} {title}:\n", problems.len());
    for (context, code, describe, message) in problems {
        os.push_str(&context.as_falco_string());
        os.push_str("------\n");
        os.push_str(&context.snippet(contents));
        os.push_str("------\n");
        let _ = writeln!(os, "{code} ({describe}): {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_renders_like_falco() {
        let file = Context::file("r.yaml");
        let rule = file.child(
            Mark {
                pos: 10,
                line: 3,
                column: 2,
            },
            ItemType::Rule,
            "My Rule",
        );
        assert_eq!(
            rule.as_falco_string(),
            "In rules content: (r.yaml:0:0)\n    rule 'My Rule': (r.yaml:3:2)\n"
        );
        assert_eq!(rule.item(), Some((ItemType::Rule, "My Rule")));
        assert_eq!(rule.human_position(), (4, 3));
    }

    #[test]
    fn snippet_points_at_the_position() {
        let content = "- rule: a\n  condition: foo bar\n".to_string();
        let ctx = Context::file("f").child(
            Mark {
                pos: 23,
                line: 1,
                column: 13,
            },
            ItemType::RuleCondition,
            "",
        );
        let snip = ctx.snippet(&|_| Some(content.clone()));
        assert_eq!(snip, "  condition: foo bar\n             ^\n");
    }

    /// Found by the rules_load fuzz target: a long line of multi-byte characters was cut
    /// for "..." in the middle of a character (a panic).
    #[test]
    fn snippet_of_a_long_non_ascii_line() {
        let content = format!("- macro: {}\n  condition: x\n", "é".repeat(200));
        let ctx = Context::file("f").child(
            Mark {
                pos: 100,
                line: 0,
                column: 100,
            },
            ItemType::Macro,
            "",
        );
        let snip = ctx.snippet(&|_| Some(content.clone()));
        let line = snip.lines().next().unwrap();
        assert!(line.starts_with("...") && line.ends_with("..."), "{snip}");
        assert_eq!(line.chars().count(), 161, "{snip}");
        assert!(snip.ends_with(&format!("{}^\n", " ".repeat(80))), "{snip}");
    }

    #[test]
    fn summary_lists_codes() {
        let mut r = FileResult::new("x.yaml");
        r.warn(WarningCode::UnusedMacro, "m", Context::file("x.yaml"));
        assert_eq!(
            r.summary(),
            "x.yaml: Ok, with warnings\n 1 warnings: [LOAD_UNUSED_MACRO (Unused macro)]"
        );
        r.error(ErrorCode::Validate, "e", Context::file("x.yaml"));
        assert!(
            r.summary()
                .starts_with("x.yaml: Invalid\n 1 errors: [LOAD_ERR_VALIDATE")
        );
    }
}
