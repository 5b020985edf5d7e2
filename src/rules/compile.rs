//! Compiling the collected definitions (Falco's `rule_loader::compiler`): list expansion,
//! macro resolution, exceptions, outputs, and each rule's filter.
//!
//! The order and the quirks are Falco's, because they decide what loads:
//!
//! * **Lists are text.** Before a condition is parsed, every list name that appears in it
//!   between delimiters (blanks, `(`, `)`, `,`, `=`) is replaced by the list's items joined
//!   with `, ` (an item with a space is wrapped in double quotes). A list's items may name an
//!   earlier list, which is expanded once. A name that is no list stays as it is, so an
//!   unknown name in `in (...)` is a literal string.
//! * **Macros are AST.** Every macro's condition is parsed (syntax errors fail the load even
//!   for unused macros), then identifiers are replaced by macro ASTs: a macro sees the macros
//!   defined before its last (re)definition, a rule sees all. An identifier that is no macro
//!   is `Undefined macro '<name>' used in filter.`.
//! * **Exceptions are text** appended to the condition as `and not (...)`.
//! * A rule's output is validated before its condition; the first error stops compilation.
//! * Finally, every macro or list nothing used is a `LOAD_UNUSED_MACRO`/`LOAD_UNUSED_LIST`
//!   warning.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::{Expr, Pos};
use super::filter::{self, CompileOptions, Node, Slots};
use super::output::OutputFormat;
use super::parser;
use super::result::{Context, ErrorCode, FileResult, WarningCode};
use super::ruleset::{
    Collector, ExceptionInfo, LoadFailure, Priority, is_str_operator_with_modifier,
};

/// A compiled rule, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule name (shared with every alert it raises).
    pub name: Arc<str>,
    /// Its source.
    pub source: Arc<str>,
    /// Its description.
    pub desc: String,
    /// Its priority.
    pub priority: Priority,
    /// Its tags, sorted (shared with every alert it raises).
    pub tags: Arc<[String]>,
    /// Whether it is enabled.
    pub enabled: bool,
    /// The condition.
    pub filter: Node,
    /// The output format.
    pub output: OutputFormat,
}

/// What a compilation produced.
#[derive(Debug, Clone, Default)]
pub struct CompileOutput {
    /// Compiled rules in load order.
    pub rules: Vec<CompiledRule>,
    /// The extraction slots the rules use.
    pub slots: Slots,
}

/// Falco's `quote_item`.
fn quote_item(e: &str) -> String {
    if e.contains(' ') && !e.starts_with('"') && !e.starts_with('\'') {
        format!("\"{e}\"")
    } else {
        e.to_string()
    }
}

fn paren_item(e: &str) -> String {
    if e.starts_with('(') {
        e.to_string()
    } else {
        format!("({e})")
    }
}

/// Falco's `resolve_list`: textual substitution of a list name in a condition.
pub(crate) fn resolve_list(cnd: &mut String, name: &str, items: &[String]) -> bool {
    const BLANKS: &[u8] = b" \t\n\r";
    const DELIMS: &[u8] = b" \t\n\r(),=";
    if name.is_empty() {
        return false;
    }
    let mut used = false;
    let mut search_from = 0;
    while let Some(found) = cnd.get(search_from..).and_then(|s| s.find(name)) {
        let mut start = search_from + found;
        let mut end = start + name.len();
        let b = cnd.as_bytes();
        let before_ok = start == 0 || DELIMS.contains(&b[start - 1]);
        let after_ok = end >= b.len() || DELIMS.contains(&b[end]);
        if before_ok && after_ok {
            while start > 0 && BLANKS.contains(&b[start - 1]) {
                start -= 1;
            }
            while end < b.len() && BLANKS.contains(&b[end]) {
                end += 1;
            }
            let sub = items
                .iter()
                .map(|v| quote_item(v))
                .collect::<Vec<_>>()
                .join(", ");
            if sub.is_empty() {
                if start > 0 && b[start - 1] == b',' {
                    start -= 1;
                } else if end < b.len() && b[end] == b',' {
                    end += 1;
                }
            }
            let mut new_cnd = String::with_capacity(cnd.len() + sub.len() + 2);
            if start > 0 {
                new_cnd.push_str(&cnd[..start]);
                new_cnd.push(' ');
            }
            new_cnd.push_str(&sub);
            new_cnd.push(' ');
            if end <= cnd.len() {
                new_cnd.push_str(&cnd[end..]);
            }
            *cnd = new_cnd;
            start += sub.len() + 1;
            used = true;
        }
        // Falco searches again from start + 1.
        search_from = start + 1;
        if search_from > cnd.len() {
            break;
        }
        while !cnd.is_char_boundary(search_from) {
            search_from += 1;
        }
    }
    used
}

/// A compiled list.
struct List {
    name: String,
    items: Vec<String>,
    used: bool,
}

/// Macro resolution (Falco's `filter_macro_resolver`).
struct MacroResolver<'m> {
    macros: &'m HashMap<String, Expr>,
    /// First-definition index of each macro, and the visibility limit (exclusive).
    index: &'m HashMap<String, u32>,
    visibility: u32,
    path: Vec<String>,
    errors: Vec<(String, Pos)>,
    unknown: Vec<(String, Pos)>,
    resolved: Vec<String>,
}

impl MacroResolver<'_> {
    fn run(&mut self, e: &mut Expr) {
        match e {
            Expr::And(c, _) | Expr::Or(c, _) => c.iter_mut().for_each(|x| self.run(x)),
            Expr::Not(c, _) => self.run(c),
            Expr::Ident(name, pos) => {
                let pos = *pos;
                let visible = self
                    .index
                    .get(name.as_str())
                    .is_some_and(|&i| i < self.visibility);
                match self.macros.get(name.as_str()).filter(|_| visible) {
                    Some(body) => {
                        if self.path.iter().any(|p| p == name) {
                            self.errors
                                .push((format!("reference loop in macro '{name}'"), pos));
                            self.unknown.push((name.clone(), pos));
                            return;
                        }
                        let name = name.clone();
                        self.path.push(name.clone());
                        let mut body = body.clone();
                        self.run(&mut body);
                        *e = body;
                        self.resolved.push(name);
                        self.path.pop();
                    }
                    None => self.unknown.push((name.clone(), pos)),
                }
            }
            _ => {}
        }
    }
}

/// Falco's `err_is_unknown_type_or_field`.
fn is_unknown_field_error(err: &str) -> bool {
    err.contains("nonexistent field")
        || err.contains("invalid formatting token")
        || err.contains("unknown event type")
        || err.contains("unknown filter:")
}

/// Whether a string names a field usable on the left of a check (exception `fields`).
pub(crate) fn is_valid_lhs_field(field: &str) -> bool {
    if field.contains('(') {
        let cond = format!("{field} exists");
        let Ok(ast) = parser::parse(&cond, 100) else {
            return false;
        };
        return filter::compile(&ast, &mut Slots::default(), CompileOptions::default()).is_ok();
    }
    matches!(super::fields::resolve(field), Ok(Some(_)))
}

/// Falco's `build_rule_exception_infos`.
fn build_exceptions(
    exceptions: &[ExceptionInfo],
    condition: &mut String,
) -> Result<(), LoadFailure> {
    *condition = format!("({condition})");
    for ex in exceptions {
        let mut icond = String::new();
        if !ex.fields.is_list {
            for val in &ex.values {
                if val.is_list {
                    return Err(LoadFailure::validate(
                        "Expected values array to contain a list of strings",
                        &ex.ctx,
                    ));
                }
                if icond.is_empty() {
                    icond = format!("({} {} (", ex.fields.item, ex.comps.item);
                } else {
                    icond.push_str(", ");
                }
                icond.push_str(&quote_item(&val.item));
            }
            if !icond.is_empty() {
                icond.push_str("))");
            }
        } else {
            icond.push('(');
            for values in &ex.values {
                if ex.fields.items.len() != values.items.len() {
                    return Err(LoadFailure::validate(
                        "Fields and values lists must have equal length",
                        &ex.ctx,
                    ));
                }
                if icond != "(" {
                    icond.push_str(" or ");
                }
                icond.push('(');
                for (k, field) in ex.fields.items.iter().enumerate() {
                    if k > 0 {
                        icond.push_str(" and ");
                    }
                    let comp = &ex.comps.items[k].item;
                    let v = &values.items[k];
                    let istr = if v.is_list {
                        let inner: Vec<String> =
                            v.items.iter().map(|x| quote_item(&x.item)).collect();
                        format!("({})", inner.join(", "))
                    } else if parser::list_operators().contains(&comp.as_str())
                        || is_str_operator_with_modifier(comp)
                    {
                        paren_item(&v.item)
                    } else {
                        quote_item(&v.item)
                    };
                    icond.push_str(&format!(" {} {comp} {istr}", field.item));
                }
                icond.push(')');
            }
            icond.push(')');
            if icond == "()" {
                icond.clear();
            }
        }
        if !icond.is_empty() {
            condition.push_str(" and not ");
            condition.push_str(&icond);
        }
    }
    Ok(())
}

struct Compiler<'c> {
    col: &'c Collector,
    lists: Vec<List>,
    macro_asts: HashMap<String, Expr>,
    macro_used: HashMap<String, bool>,
    macro_index: HashMap<String, u32>,
    res: &'c mut FileResult,
    slots: Slots,
    silent_sources: &'c [String],
    options: CompileOptions,
}

impl Compiler<'_> {
    /// Falco's `parse_condition`: list substitution, then the parser.
    fn parse_condition(&mut self, condition: &str, ctx: &Context) -> Result<Expr, LoadFailure> {
        let mut cnd = condition.to_string();
        for l in &mut self.lists {
            if resolve_list(&mut cnd, &l.name, &l.items) {
                l.used = true;
            }
        }
        parser::parse(&cnd, 1000).map_err(|e| LoadFailure {
            code: ErrorCode::CompileCondition,
            message: e.message,
            context: ctx.condition(e.pos, &cnd),
        })
    }

    fn resolve_macros(
        &mut self,
        ast: &mut Expr,
        available: &HashMap<String, Expr>,
        visibility: u32,
        condition: &str,
        ctx: &Context,
    ) -> Result<(), LoadFailure> {
        let (errors, unknown, resolved) = {
            let mut r = MacroResolver {
                macros: available,
                index: &self.macro_index,
                visibility,
                path: Vec::new(),
                errors: Vec::new(),
                unknown: Vec::new(),
                resolved: Vec::new(),
            };
            r.run(ast);
            (r.errors, r.unknown, r.resolved)
        };
        if let Some((msg, pos)) = errors.first() {
            return Err(LoadFailure::validate(
                msg.clone(),
                &ctx.condition(*pos, condition),
            ));
        }
        if let Some((name, pos)) = unknown.first() {
            return Err(LoadFailure::validate(
                format!("Undefined macro '{name}' used in filter."),
                &ctx.condition(*pos, condition),
            ));
        }
        for m in resolved {
            self.macro_used.insert(m, true);
        }
        Ok(())
    }

    fn compile_lists(&mut self) {
        let mut used_names = Vec::new();
        for list in self.col.lists.iter() {
            let mut items = Vec::new();
            for item in &list.items {
                match self.col.lists.get(item) {
                    Some(r) if r.index < list.visibility => {
                        used_names.push(r.name.clone());
                        items.extend(r.items.iter().cloned());
                    }
                    _ => items.push(item.clone()),
                }
            }
            self.lists.push(List {
                name: list.name.clone(),
                items,
                used: false,
            });
        }
        for n in used_names {
            if let Some(l) = self.lists.iter_mut().find(|l| l.name == n) {
                l.used = true;
            }
        }
    }

    fn compile_macros(&mut self) -> Result<(), LoadFailure> {
        // Parse every macro first (Falco does, so a syntax error fails even an unused one).
        let mut current: HashMap<String, Expr> = HashMap::new();
        let mut order = Vec::new();
        for m in self.col.macros.iter() {
            let ast = self.parse_condition(&m.cond, &m.cond_ctx)?;
            self.macro_used.insert(m.name.clone(), false);
            current.insert(m.name.clone(), ast);
            order.push(m.name.clone());
        }
        // Resolve in order. Each macro sees the current conditions (resolved for the ones
        // done already, parsed for the others) of the macros first defined before its last
        // (re)definition; substituted bodies are resolved recursively with the same set.
        for name in order {
            let Some(info) = self.col.macros.get(&name) else {
                continue;
            };
            let Some(mut ast) = current.get(&name).cloned() else {
                continue;
            };
            self.resolve_macros(&mut ast, &current, info.visibility, &info.cond, &info.ctx)?;
            current.insert(name, ast);
        }
        self.macro_asts = current;
        Ok(())
    }

    fn compile_rules(&mut self) -> Result<Vec<super::compile::CompiledRule>, LoadFailure> {
        let mut out = Vec::new();
        let all_macros = self.macro_asts.clone();
        for r in self.col.rules.iter() {
            if r.unknown_source {
                if self.silent_sources.contains(&r.source) {
                    self.mark_usage(&r.cond, &r.exceptions, &all_macros);
                }
                continue;
            }
            let mut condition = r.cond.clone();
            if !r.exceptions.is_empty() {
                build_exceptions(&r.exceptions, &mut condition)?;
            }
            let mut output = r.output.clone();
            if output.contains("%container.info") {
                self.res.warn(
                    WarningCode::DeprecatedItem,
                    "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The container plugin will automatically add required fields to the output message.",
                    r.ctx.clone(),
                );
                output = output.replace("%container.info", "");
            }
            let format = match OutputFormat::compile(&output, &mut self.slots) {
                Ok(f) => f,
                Err(err) => {
                    if is_unknown_field_error(&err) && r.skip_if_unknown_filter {
                        self.res
                            .warn(WarningCode::UnknownFilter, err, r.output_ctx.clone());
                        continue;
                    }
                    return Err(LoadFailure {
                        code: ErrorCode::CompileOutput,
                        message: err,
                        context: r.output_ctx.clone(),
                    });
                }
            };
            let mut ast = self.parse_condition(&condition, &r.cond_ctx)?;
            self.resolve_macros(&mut ast, &all_macros, u32::MAX, &condition, &r.ctx)?;
            if unsafe_na_check(&ast) {
                self.res.warn(
                    WarningCode::UnsafeNaCheck,
                    "",
                    r.cond_ctx.condition(
                        Pos {
                            idx: 0,
                            line: 0,
                            col: 0,
                        },
                        &condition,
                    ),
                );
            }
            let compiled = match filter::compile(&ast, &mut self.slots, self.options) {
                Ok(c) => c,
                Err(e) => {
                    let ctx = r.cond_ctx.condition(e.pos, &condition);
                    if is_unknown_field_error(&e.message) && r.skip_if_unknown_filter {
                        self.res.warn(WarningCode::UnknownFilter, e.message, ctx);
                        continue;
                    }
                    return Err(LoadFailure {
                        code: ErrorCode::CompileCondition,
                        message: e.message,
                        context: ctx,
                    });
                }
            };
            for (msg, pos) in compiled.warnings {
                self.res.warn(
                    WarningCode::CompileCondition,
                    msg,
                    r.cond_ctx.condition(pos, &condition),
                );
            }
            out.push(CompiledRule {
                name: Arc::from(r.name.as_str()),
                source: Arc::from(r.source.as_str()),
                desc: r.desc.clone(),
                priority: r.priority,
                tags: r.tags.iter().cloned().collect(),
                enabled: r.enabled,
                filter: compiled.node,
                output: format,
            });
        }
        Ok(out)
    }

    /// For rules of a source we skip silently (`syscall`): count the lists and macros they
    /// use as used, as Falco would after compiling them. Errors are ignored.
    fn mark_usage(
        &mut self,
        cond: &str,
        exceptions: &[ExceptionInfo],
        macros: &HashMap<String, Expr>,
    ) {
        let mut condition = cond.to_string();
        if !exceptions.is_empty() && build_exceptions(exceptions, &mut condition).is_err() {
            return;
        }
        let mut cnd = condition.clone();
        for l in &mut self.lists {
            if resolve_list(&mut cnd, &l.name, &l.items) {
                l.used = true;
            }
        }
        let Ok(mut ast) = parser::parse(&cnd, 1000) else {
            return;
        };
        let resolved = {
            let mut r = MacroResolver {
                macros,
                index: &self.macro_index,
                visibility: u32::MAX,
                path: Vec::new(),
                errors: Vec::new(),
                unknown: Vec::new(),
                resolved: Vec::new(),
            };
            r.run(&mut ast);
            r.resolved
        };
        for m in resolved {
            self.macro_used.insert(m, true);
        }
    }
}

/// Falco's `filter_warning_resolver`: a `ka.*`/`jevt.*` field compared with `<NA>`.
fn unsafe_na_check(ast: &Expr) -> bool {
    let mut found = false;
    ast.walk(&mut |e| {
        if let Expr::Binary {
            left, op, right, ..
        } = e
        {
            if !matches!(
                op.as_str(),
                "==" | "=" | "!=" | "in" | "intersects" | "pmatch"
            ) {
                return;
            }
            let mut last_unsafe = false;
            left.walk(&mut |l| {
                if let Expr::Field { name, .. } = l {
                    last_unsafe = name.starts_with("ka.") || name.starts_with("jevt.");
                }
            });
            if !last_unsafe {
                return;
            }
            match right.as_ref() {
                Expr::Value(v, _) if v == "<NA>" => found = true,
                Expr::List(vs, _) if vs.iter().any(|v| v == "<NA>") => found = true,
                _ => {}
            }
        }
    });
    found
}

/// Compiles everything collected so far; errors and warnings go to `res`.
pub(crate) fn compile(
    col: &Collector,
    res: &mut FileResult,
    silent_sources: &[String],
    options: CompileOptions,
) -> Option<CompileOutput> {
    let mut c = Compiler {
        col,
        lists: Vec::new(),
        macro_asts: HashMap::new(),
        macro_used: HashMap::new(),
        macro_index: col
            .macros
            .iter()
            .map(|m| (m.name.clone(), m.index))
            .collect(),
        res,
        slots: Slots::default(),
        silent_sources,
        options,
    };
    c.compile_lists();
    let rules = match c.compile_macros().and_then(|()| c.compile_rules()) {
        Ok(r) => r,
        Err(e) => {
            c.res.error(e.code, e.message, e.context);
            return None;
        }
    };
    for m in col.macros.iter() {
        if !c.macro_used.get(&m.name).copied().unwrap_or(false) {
            c.res.warn(
                WarningCode::UnusedMacro,
                "Macro not referred to by any other rule/macro",
                m.ctx.clone(),
            );
        }
    }
    for l in &c.lists {
        if !l.used
            && let Some(info) = col.lists.get(&l.name)
        {
            c.res.warn(
                WarningCode::UnusedList,
                "List not referred to by any other rule/macro",
                info.ctx.clone(),
            );
        }
    }
    Some(CompileOutput {
        rules,
        slots: c.slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(cnd: &str, name: &str, items: &[&str]) -> String {
        let mut c = cnd.to_string();
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        resolve_list(&mut c, name, &items);
        c
    }

    #[test]
    fn list_substitution_is_textual() {
        assert_eq!(
            sub("x.y in (my_list)", "my_list", &["a", "b c"]),
            "x.y in ( a, \"b c\" )"
        );
        // Only between delimiters.
        assert_eq!(
            sub("x.y in (my_list2)", "my_list", &["a"]),
            "x.y in (my_list2)"
        );
        assert_eq!(sub("x.my_list = 1", "my_list", &["a"]), "x.my_list = 1");
        // Empty lists take a neighbouring comma with them.
        assert_eq!(sub("x.y in (a, e, b)", "e", &[]), "x.y in (a  , b)");
        assert_eq!(sub("x.y in (e)", "e", &[]), "x.y in (  )");
        // Every occurrence.
        assert_eq!(sub("(l) or (l)", "l", &["1"]), "( 1 ) or ( 1 )");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_item("a b"), "\"a b\"");
        assert_eq!(quote_item("'a b'"), "'a b'");
        assert_eq!(paren_item("x"), "(x)");
        assert_eq!(paren_item("(x)"), "(x)");
    }

    #[test]
    fn na_checks() {
        let ast = parser::parse("ka.user.name = <NA>", 100).unwrap();
        assert!(unsafe_na_check(&ast));
        let ast = parser::parse("ka.user.name exists", 100).unwrap();
        assert!(!unsafe_na_check(&ast));
    }
}
