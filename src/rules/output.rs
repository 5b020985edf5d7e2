//! Rule outputs and alerts, in Falco's exact shapes.
//!
//! An output format is text with `%field`, `%field[arg]` and `%transformer(field)` tokens
//! (libsinsp `sinsp_evt_formatter`). After a `%`, libsinsp tries to parse and compile the
//! longest field expression and, when that fails, the same text one byte shorter, down to
//! nothing (`unknown filter: …`); so `%ka.user.namex` is `ka.user.name` followed by `x`.
//! `%<N>field` pads or cuts the value to N characters. A field without a value prints `<NA>`
//! (Falco prefixes every rule output with `*`, "print even when values are missing"), a list
//! prints `(a,b)`.
//!
//! An [`Alert`] renders as Falco's `json_output` line — keys sorted as nlohmann's `std::map`
//! does: `hostname`, `output`, `output_fields`, `priority`, `rule`, `source`, `tags`,
//! `time` — where `output` is `"<evt.time>: <Priority> <message>"`, `output_fields` maps each
//! plain field of the output (transformed tokens are left out, their inner field kept) to
//! its value (a string, an array for list fields, a number for numeric fields, `null` for
//! no value) plus `evt.time` as integer nanoseconds, and `time` is RFC 3339 with nine
//! fractional digits. The text form is Falco's non-JSON line: the `output` string with
//! JSON escaping (quotes and control characters escaped, invalid UTF-8 replaced).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::ast::Expr;
use super::fields::{self, FieldValue, PrintFormat, Source};
use super::filter::{self, EvalCtx, Extractor, Slots};
use super::parser;
use super::ruleset::Priority;

/// One piece of an output format.
#[derive(Debug, Clone)]
enum Token {
    Raw(String),
    Field(Box<FieldToken>),
}

/// A `%field` token.
#[derive(Debug, Clone)]
struct FieldToken {
    /// What prints.
    ex: Extractor,
    /// `%<N>field` width, 0 for none.
    width: usize,
}

/// One member of an alert's `output_fields`.
#[derive(Debug, Clone)]
struct JsonMember {
    /// `"key":`, escaped once when the format is compiled.
    key: String,
    value: JsonSource,
}

/// Where an `output_fields` member's value comes from.
#[derive(Debug, Clone)]
enum JsonSource {
    /// The plain field behind a token (a transformer's innermost field).
    Field(Extractor),
    /// `evt.time`, which Falco adds to every alert as integer nanoseconds.
    EventTime,
}

/// A compiled output format.
#[derive(Debug, Clone)]
pub struct OutputFormat {
    tokens: Vec<Token>,
    /// The `output_fields` members in Falco's order (sorted by key, as nlohmann's
    /// `std::map`; a repeated key once): fixed per format, so an alert writes them in one
    /// pass with no map to build.
    members: Vec<JsonMember>,
}

/// libsinsp `escape_str`, for field arguments in `output_fields` keys.
fn escape_str(s: &str) -> String {
    let mut res = String::new();
    let mut should = false;
    for c in s.chars() {
        match c {
            '\x08' => {
                should = true;
                res.push_str("\\b");
            }
            '\x0c' => {
                should = true;
                res.push_str("\\f");
            }
            '\n' => {
                should = true;
                res.push_str("\\n");
            }
            '\r' => {
                should = true;
                res.push_str("\\r");
            }
            '\t' => {
                should = true;
                res.push_str("\\t");
            }
            ' ' | '=' | '\'' | '\0' => {
                should = true;
                res.push(c);
            }
            '\\' => {
                should = true;
                res.push_str("\\\\");
            }
            '"' => {
                should = true;
                res.push_str("\\\"");
            }
            _ => res.push(c),
        }
    }
    if should { format!("\"{res}\"") } else { res }
}

fn field_key(e: &Expr) -> Option<String> {
    match e {
        Expr::Field { name, arg, .. } => Some(match arg {
            None => name.clone(),
            Some(a) if a.is_empty() => format!("{name}[\"\"]"),
            Some(a) => format!("{name}[{}]", escape_str(a)),
        }),
        Expr::Transformer { values, .. } => values.first().and_then(field_key),
        _ => None,
    }
}

fn innermost_field(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Field { .. } => Some(e),
        Expr::Transformer { values, .. } => values.first().and_then(innermost_field),
        _ => None,
    }
}

/// The widest `%<N>field` a format may ask for: a column width, not a buffer size.
pub const MAX_FIELD_WIDTH: usize = 4096;

impl OutputFormat {
    /// Compiles a format (without Falco's leading `*`, which is implied).
    pub fn compile(format: &str, slots: &mut Slots) -> Result<OutputFormat, String> {
        let lfmt = format.strip_prefix('*').unwrap_or(format);
        let b = lfmt.as_bytes();
        let len = b.len();
        let mut tokens = Vec::new();
        let mut members = BTreeMap::from([("evt.time".to_string(), JsonSource::EventTime)]);
        let mut last = 0usize;
        let mut j = 0usize;
        while j < len {
            if b[j] == b'%' {
                if last != j {
                    tokens.push(Token::Raw(lfmt[last..j].to_string()));
                }
                if j == len - 1 {
                    return Err("invalid formatting syntax: formatting cannot end with a %".into());
                }
                let mut width = 0usize;
                if b[j + 1].is_ascii_digit() {
                    let digits = b[j + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    width = lfmt[j + 1..j + 1 + digits]
                        .parse::<i32>()
                        .unwrap_or(i32::MAX)
                        .max(0) as usize;
                    if width > MAX_FIELD_WIDTH {
                        // libsinsp would pad every alert's field to it (2 GiB for
                        // `%2147483647`): refused at load time instead.
                        return Err(format!(
                            "invalid formatting syntax: field width {} is over eksaudit's \
                             limit of {MAX_FIELD_WIDTH} bytes",
                            &lfmt[j + 1..j + 1 + digits]
                        ));
                    }
                    j += digits;
                    if j == len - 1 {
                        return Err(
                            "invalid formatting syntax: formatting cannot end with a number".into(),
                        );
                    }
                }
                let rest = &lfmt[j + 1..];
                let mut fsize = rest.len();
                let (ex, used, member) = loop {
                    let attempt = rest.get(..fsize).ok_or_else(String::new);
                    let result = attempt.and_then(|s| {
                        let (expr, used) =
                            parser::parse_field_or_transformer(s).map_err(|e| e.message)?;
                        let ex = filter::compile_extractor(&expr, slots)?;
                        let member = match innermost_field(&expr) {
                            Some(inner) => {
                                let key = field_key(inner).unwrap_or_default();
                                Some((key, filter::compile_extractor(inner, slots)?))
                            }
                            None => None,
                        };
                        Ok((ex, used, member))
                    });
                    match result {
                        Ok(r) => break r,
                        Err(e) => {
                            fsize -= 1;
                            while fsize > 0 && !rest.is_char_boundary(fsize) {
                                fsize -= 1;
                            }
                            if fsize == 0 {
                                return Err(format!("unknown filter: {e}"));
                            }
                        }
                    }
                };
                j += used;
                if let Some((key, inner)) = member {
                    // As Falco's map: a later token with the same key replaces the value
                    // (the same field, so the same value), and `evt.time` stays the time.
                    if key != "evt.time" {
                        members.insert(key, JsonSource::Field(inner));
                    }
                }
                tokens.push(Token::Field(Box::new(FieldToken { ex, width })));
                last = j + 1;
            }
            j += 1;
        }
        if last < len {
            tokens.push(Token::Raw(lfmt[last..].to_string()));
        }
        let members = members
            .into_iter()
            .map(|(name, value)| {
                let mut key = String::with_capacity(name.len() + 3);
                push_json_str(&mut key, &name);
                key.push(':');
                JsonMember { key, value }
            })
            .collect();
        Ok(OutputFormat { tokens, members })
    }

    /// Renders the text (Falco's `OF_NORMAL`), with `<NA>` for missing values.
    pub fn render_text(&self, ctx: &mut EvalCtx<'_, '_>) -> String {
        let mut out = String::with_capacity(256);
        self.render_text_into(ctx, &mut out);
        out
    }

    /// [`OutputFormat::render_text`] into an existing buffer.
    pub fn render_text_into(&self, ctx: &mut EvalCtx<'_, '_>, out: &mut String) {
        for t in &self.tokens {
            match t {
                Token::Raw(s) => out.push_str(s),
                Token::Field(f) => {
                    let (ex, width) = (&f.ex, f.width);
                    ctx.ensure(ex);
                    let start = out.len();
                    match ctx.get(ex) {
                        Some(v) => push_value_text(out, ex, v),
                        None => out.push_str("<NA>"),
                    }
                    if width > 0 {
                        // Falco pads or cuts the field to the width, in bytes.
                        let mut bytes = out.split_off(start).into_bytes();
                        bytes.resize(width, b' ');
                        out.push_str(&lossy(&bytes));
                    }
                }
            }
        }
    }

    /// Appends Falco's `output_fields` object for this format (its `OF_JSON` tokens and
    /// `evt.time`) as JSON text.
    pub fn render_fields_json(&self, ctx: &mut EvalCtx<'_, '_>, out: &mut String) {
        let ts = ctx.view.time_ns();
        out.push('{');
        for (i, member) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&member.key);
            match &member.value {
                JsonSource::EventTime => push_decimal(out, ts),
                JsonSource::Field(ex) => {
                    ctx.ensure(ex);
                    match ctx.get(ex) {
                        Some(v) => push_value_json(out, ex, v, ts),
                        None => out.push_str("null"),
                    }
                }
            }
        }
        out.push('}');
    }
}

/// `String::from_utf8_lossy`, with the common case (valid UTF-8) checked by
/// `str::from_utf8`, which is several times faster than the lossy chunk iterator.
fn lossy(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// libsinsp `rawval_to_string` for a value of this extractor, appended to `out`.
fn push_value_text(out: &mut String, ex: &Extractor, v: &FieldValue<'_>) {
    match v {
        FieldValue::Str(s) => out.push_str(&lossy(s)),
        FieldValue::DecStr(n) => push_decimal(out, *n),
        FieldValue::StrList(items) => {
            let start = out.len();
            out.push('(');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&lossy(it));
            }
            out.push(')');
            // libsinsp copies list renderings into a 1024-byte buffer.
            if out.len() - start > 1023 {
                let mut cut = start + 1023;
                while !out.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.truncate(cut);
            }
        }
        FieldValue::Num(n) => match print_format(ex) {
            PrintFormat::Dec => push_decimal(out, *n),
            PrintFormat::Padded9 => {
                let _ = write!(out, "{n:09}");
            }
            // A number from a string field (`len(...)`): libsinsp has no rendering for it.
            PrintFormat::Na => out.push_str("<NA>"),
        },
        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

fn print_format(ex: &Extractor) -> PrintFormat {
    match ex.field.source {
        Source::Generic(_, p) => p,
        Source::Table(_) | Source::RawTimeText => PrintFormat::Na,
    }
}

/// A value of `output_fields` as JSON: a string, an array of strings for a list, a number
/// for a numeric field or a time string (libsinsp's `extract_as_js` answers the raw
/// timestamp for those), a boolean.
fn push_value_json(out: &mut String, ex: &Extractor, v: &FieldValue<'_>, ts: u64) {
    if let Source::Generic(g, _) = ex.field.source {
        use fields::Generic as G;
        if matches!(
            g,
            G::Time | G::TimeS | G::TimeIso8601 | G::Datetime | G::DatetimeS
        ) {
            push_decimal(out, ts);
            return;
        }
    }
    match v {
        FieldValue::Str(s) => push_json_str(out, &lossy(s)),
        FieldValue::DecStr(n) => {
            out.push('"');
            push_decimal(out, *n);
            out.push('"');
        }
        FieldValue::StrList(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(out, &lossy(item));
            }
            out.push(']');
        }
        FieldValue::Num(n) => push_decimal(out, *n),
        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// Appends `n` in decimal, without formatting machinery.
fn push_decimal(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    for &digit in crate::fields::decimal(n, &mut buf) {
        out.push(char::from(digit));
    }
}

/// Writes a JSON string the way nlohmann's `dump` does (no `\/`, lowercase `\u00xx`).
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    // Copy runs that need no escaping in bulk; only `"`, `\` and control characters do.
    let bytes = s.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let special = crate::json::swar::string_special(bytes, start);
        out.push_str(&s[start..special]);
        let Some(c) = s[special..].chars().next() else {
            break;
        };
        start = special + c.len_utf8();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    out.push('"');
}

/// One alert, as Falco would emit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The event time in ns.
    pub time_ns: u64,
    /// The rule name.
    pub rule: Arc<str>,
    /// The rule priority.
    pub priority: Priority,
    /// The event source (`k8s_audit`).
    pub source: Arc<str>,
    /// The rule tags, sorted.
    pub tags: Arc<[String]>,
    /// `"<time>: <Priority> <message>"`, unescaped.
    pub output: String,
    /// The output's fields and `evt.time` as Falco's JSON object, keys sorted: written
    /// once, when the alert is raised, straight from the event's values.
    pub output_fields: String,
    /// The host name.
    pub hostname: Arc<str>,
}

impl Alert {
    pub(crate) fn build(
        rule: &super::compile::CompiledRule,
        ctx: &mut EvalCtx<'_, '_>,
        hostname: &Arc<str>,
    ) -> Alert {
        let time_ns = ctx.view.time_ns();
        let mut output = String::with_capacity(256);
        fields::push_ts_to_string(&mut output, time_ns, false, true);
        output.push_str(": ");
        output.push_str(rule.priority.as_str());
        output.push(' ');
        rule.output.render_text_into(ctx, &mut output);
        let mut output_fields = String::with_capacity(256);
        rule.output.render_fields_json(ctx, &mut output_fields);
        Alert {
            time_ns,
            rule: Arc::clone(&rule.name),
            priority: rule.priority,
            source: Arc::clone(&rule.source),
            tags: Arc::clone(&rule.tags),
            output,
            output_fields,
            hostname: Arc::clone(hostname),
        }
    }

    /// The `time` member: RFC 3339 with nine fractional digits, UTC.
    pub fn time(&self) -> String {
        crate::decode::time::format_rfc3339_nanos(self.time_ns)
    }

    /// Falco's `json_output` line (no trailing newline).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256 + self.output.len() * 2);
        self.write_json(&mut o);
        o
    }

    /// [`Alert::to_json`] appended to `o`: a writer reuses one buffer for every alert.
    pub fn write_json(&self, o: &mut String) {
        o.push_str("{\"hostname\":");
        push_json_str(o, &self.hostname);
        o.push_str(",\"output\":");
        push_json_str(o, &self.output);
        o.push_str(",\"output_fields\":");
        o.push_str(&self.output_fields);
        o.push_str(",\"priority\":");
        push_json_str(o, self.priority.as_str());
        o.push_str(",\"rule\":");
        push_json_str(o, &self.rule);
        o.push_str(",\"source\":");
        push_json_str(o, &self.source);
        o.push_str(",\"tags\":[");
        for (i, t) in self.tags.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            push_json_str(o, t);
        }
        o.push_str("],\"time\":\"");
        crate::decode::time::push_rfc3339(o, self.time_ns);
        o.push_str("\"}");
    }

    /// Falco's text line: the output with JSON string escaping, without quotes.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(self.output.len() + 8);
        push_json_str(&mut s, &self.output);
        s[1..s.len() - 1].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_like_nlohmann() {
        for text in [
            "",
            "plain",
            "a\"b\\c",
            "tab\tnl\nbell\u{7}",
            "é中😀/<>",
            "\u{1f}x\u{0}",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn escape_args_like_libsinsp() {
        assert_eq!(escape_str("/stage"), "/stage");
        assert_eq!(escape_str("a b"), "\"a b\"");
        assert_eq!(escape_str("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn json_strings_like_nlohmann() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\n\x01/é");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001/é\"");
    }

    #[test]
    fn field_widths_are_bounded() {
        let mut slots = Slots::default();
        assert!(OutputFormat::compile("%4096ka.verb", &mut slots).is_ok());
        // Found by the `condition` fuzz target (fuzz/regressions/condition/): each alert
        // padded the field to 2 GiB.
        assert_eq!(
            OutputFormat::compile("x %77777777777777ka.verb", &mut slots).unwrap_err(),
            "invalid formatting syntax: field width 77777777777777 is over eksaudit's limit \
             of 4096 bytes"
        );
    }

    #[test]
    fn format_errors() {
        let mut slots = Slots::default();
        assert_eq!(
            OutputFormat::compile("x %", &mut slots).unwrap_err(),
            "invalid formatting syntax: formatting cannot end with a %"
        );
        assert!(
            OutputFormat::compile("x %foo.bar y", &mut slots)
                .unwrap_err()
                .starts_with("unknown filter: ")
        );
        assert!(OutputFormat::compile("%ka.user.namex", &mut slots).is_ok());
    }
}
