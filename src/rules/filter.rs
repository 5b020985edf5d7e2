//! Compiled conditions: the AST after macro resolution, turned into checks that evaluate an
//! event (libsinsp `sinsp_filter_compiler` and `sinsp_filter_check::compare`).
//!
//! Compilation resolves each field, applies transformers, checks that the operator fits the
//! field's type (`'=' operator not supported list filters` …), parses the constant values for
//! that type and prepares the lookup structures (hash sets for `in`/`intersects`, the path
//! tree for `pmatch`, compiled regexes). Evaluation is pure: `and`/`or` short-circuit left to
//! right, a check whose field has no value is false (so `not (f = x)` is true when `f` is
//! missing), `exists` is true when the field has a value. List fields support `exists`, `in`
//! (every value in the set) and `intersects` (some value in the set).
//!
//! Extractions are numbered ([`Slots`]): every distinct field-with-transformers expression of
//! every rule gets one slot, so an event extracts `ka.verb` once however many rules read it.

use std::collections::{HashMap, HashSet};

use super::ast::{Expr, Pos};
use super::fields::{self, FieldType, FieldValue, ResolvedField};
use super::ops::{self, Cmp, Modifier, Op, PathPrefix};
use super::parser;
use super::transform::Transformer;

/// The numbering of distinct extractions across an engine.
#[derive(Debug, Default, Clone)]
pub struct Slots {
    by_key: HashMap<String, usize>,
}

impl Slots {
    fn slot(&mut self, key: &str) -> usize {
        let n = self.by_key.len();
        *self.by_key.entry(key.to_string()).or_insert(n)
    }

    /// How many slots exist.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// A field and the transformers applied to it.
#[derive(Debug, Clone)]
pub struct Extractor {
    /// The field.
    pub field: ResolvedField,
    /// Transformers, innermost first.
    pub transformers: Vec<Transformer>,
    /// The type after the transformers.
    pub ty: FieldType,
    /// Whether the result is a list.
    pub list: bool,
    /// Whether a string transformer ran (libsinsp then counts a trailing NUL in list values'
    /// lengths; see the module docs of [`super::transform`]).
    pub terminated: bool,
    /// The cache slot.
    pub slot: usize,
}

impl Extractor {
    /// Extracts and transforms.
    pub fn extract<'a>(
        &self,
        ev: &crate::event::EventView<'a>,
        meta: &fields::EventMeta<'_>,
    ) -> Option<FieldValue<'a>> {
        let mut v = self.field.extract(ev, meta)?;
        for t in &self.transformers {
            v = t.apply(v)?;
        }
        Some(v)
    }

    fn key(field: &ResolvedField, transformers: &[Transformer]) -> String {
        transformers.iter().fold(field.display_name(), |acc, t| {
            format!("{}({acc})", t.name())
        })
    }
}

/// Constant right-hand values, prepared for the operator.
#[derive(Debug, Clone, Default)]
pub struct Consts {
    strs: Vec<Vec<u8>>,
    nums: Vec<u64>,
    // FxHash: `in (...)` lookups run for most events, and SipHash's DoS resistance buys
    // nothing for sets the rules author wrote.
    str_set: HashSet<Vec<u8>, rustc_hash::FxBuildHasher>,
    num_set: HashSet<u64, rustc_hash::FxBuildHasher>,
    prefix: PathPrefix,
    regexes: Vec<regex::bytes::Regex>,
}

impl Consts {
    /// The string constants, in the order written.
    pub(crate) fn strings(&self) -> &[Vec<u8>] {
        &self.strs
    }
}

/// The right-hand side of a check.
#[derive(Debug, Clone)]
pub enum Rhs {
    /// `exists`.
    None,
    /// Constants.
    Consts(Consts),
    /// Another field (`val(f)` or a transformer).
    Field(Extractor),
}

/// One comparison.
#[derive(Debug, Clone)]
pub struct Check {
    /// The left-hand field.
    pub lhs: Extractor,
    /// The operator.
    pub cmp: Cmp,
    /// The right-hand side.
    pub rhs: Rhs,
    /// Legacy mode only: the runtime error an operator other than `exists`/`in`/
    /// `intersects` on a list field raises when evaluated (libsinsp before 0.17).
    pub deferred_error: Option<String>,
}

/// Compilation settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompileOptions {
    /// Accept operators other than `exists`/`in`/`intersects` on list fields at load time,
    /// failing only when such a check is evaluated, as Falco up to 0.37 (libs < 0.17) did.
    pub legacy_list_operators: bool,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Node {
    /// All children true (left to right, stops at the first false).
    And(Vec<Node>),
    /// Some child true (stops at the first true).
    Or(Vec<Node>),
    /// Negation.
    Not(Box<Node>),
    /// A comparison.
    Check(Box<Check>),
}

/// libsinsp's `sinsp_filter_check::s_max_filter_value_buf_size`: the largest buffer a
/// condition value is parsed into; a string value needs its length plus a NUL.
pub const MAX_FILTER_VALUE_BUF: usize = 256;

/// A compilation problem: libsinsp's message and the position of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// The message.
    pub message: String,
    /// Where.
    pub pos: Pos,
}

/// What compiling a condition gives.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The filter.
    pub node: Node,
    /// libsinsp compiler warnings (message, position).
    pub warnings: Vec<(String, Pos)>,
}

struct Compiler<'s> {
    slots: &'s mut Slots,
    options: CompileOptions,
    warnings: Vec<(String, Pos)>,
    pos: Pos,
}

/// Compiles a macro-resolved condition.
pub fn compile(
    ast: &Expr,
    slots: &mut Slots,
    options: CompileOptions,
) -> Result<Compiled, CompileError> {
    let mut c = Compiler {
        slots,
        options,
        warnings: Vec::new(),
        pos: Pos::default(),
    };
    match c.node(ast) {
        Ok(node) => Ok(Compiled {
            node,
            warnings: c.warnings,
        }),
        Err(message) => Err(CompileError {
            message,
            pos: c.pos,
        }),
    }
}

/// Compiles a field or transformer expression on its own (output format tokens).
pub fn compile_extractor(e: &Expr, slots: &mut Slots) -> Result<Extractor, String> {
    let mut c = Compiler {
        slots,
        options: CompileOptions::default(),
        warnings: Vec::new(),
        pos: Pos::default(),
    };
    c.extractor(e)
}

impl Compiler<'_> {
    fn node(&mut self, e: &Expr) -> Result<Node, String> {
        match e {
            Expr::And(children, pos) => {
                self.pos = *pos;
                Ok(Node::And(
                    children
                        .iter()
                        .map(|c| self.node(c))
                        .collect::<Result<_, _>>()?,
                ))
            }
            Expr::Or(children, pos) => {
                self.pos = *pos;
                Ok(Node::Or(
                    children
                        .iter()
                        .map(|c| self.node(c))
                        .collect::<Result<_, _>>()?,
                ))
            }
            Expr::Not(child, pos) => {
                self.pos = *pos;
                Ok(Node::Not(Box::new(self.node(child)?)))
            }
            Expr::Unary { left, op, pos } => {
                self.pos = *pos;
                let lhs = self.extractor(left)?;
                let cmp = Cmp::parse(op)?;
                ops::check_comparable(cmp, lhs.ty, lhs.list)
                    .map_err(|e| format!("filter error: {e}"))?;
                Ok(Node::Check(Box::new(Check {
                    lhs,
                    cmp,
                    rhs: Rhs::None,
                    deferred_error: None,
                })))
            }
            Expr::Binary {
                left,
                op,
                right,
                pos,
            } => {
                self.pos = *pos;
                self.binary(left, op, right)
                    .map(|c| Node::Check(Box::new(c)))
            }
            Expr::Ident(name, pos) => {
                self.pos = *pos;
                Err(format!("filter error: unexpected identifier '{name}'"))
            }
            Expr::Value(..) => Err(
                "sinsp_filter_compiler: unexpected standalone value expression in filter AST; \
                 value expressions should only appear as children of check expressions"
                    .into(),
            ),
            Expr::List(..) => Err(
                "sinsp_filter_compiler: unexpected standalone list expression in filter AST; \
                 list expressions should only appear as children of check expressions"
                    .into(),
            ),
            Expr::Field { .. } | Expr::Transformer { .. } | Expr::TransformerList(..) => {
                Err("filter error: missing field in left-hand of binary check".into())
            }
        }
    }

    fn binary(&mut self, left: &Expr, op: &str, right: &Expr) -> Result<Check, String> {
        let lhs = self.extractor(left)?;
        let cmp = Cmp::parse(op)?;
        let mut deferred_error = None;
        if let Err(e) = ops::check_comparable(cmp, lhs.ty, lhs.list) {
            if self.options.legacy_list_operators && lhs.list {
                deferred_error = Some(format!(
                    "list filter '{}' only supports operators 'exists', 'in' and 'intersects'",
                    lhs.field.name
                ));
            } else {
                return Err(format!("filter error: {e}"));
            }
        }
        let values: Vec<&str> = match right {
            Expr::Value(v, _) => vec![v.as_str()],
            Expr::List(vs, _) => vs.iter().map(String::as_str).collect(),
            Expr::Field { .. } | Expr::Transformer { .. } | Expr::TransformerList(..) => {
                let rhs = self.extractor(right)?;
                if matches!(cmp.op, Op::Pmatch | Op::Regex) {
                    return Err(format!(
                        "operator '{}' doesn't support right-hand side fields",
                        cmp.op.upper_name()
                    ));
                }
                if lhs.ty != rhs.ty || lhs.list != rhs.list {
                    let l = if lhs.list { " (list)" } else { "" };
                    let r = if rhs.list { " (list)" } else { "" };
                    return Err(format!(
                        "field '{}' has type '{}{l}' while the right-hand side field '{}' has incompatible type '{}{r}'",
                        lhs.field.name,
                        lhs.ty.falco_name(),
                        rhs.field.name,
                        rhs.ty.falco_name()
                    ));
                }
                return Ok(Check {
                    lhs,
                    cmp,
                    rhs: Rhs::Field(rhs),
                    deferred_error,
                });
            }
            _ => return Err("filter error: unexpected right-hand side expression".into()),
        };
        let mut consts = Consts::default();
        for v in values {
            self.value_warnings(cmp, right.pos(), v);
            self.add_value(&mut consts, &lhs, cmp, v)?;
        }
        Ok(Check {
            lhs,
            cmp,
            rhs: Rhs::Consts(consts),
            deferred_error,
        })
    }

    fn add_value(
        &mut self,
        consts: &mut Consts,
        lhs: &Extractor,
        cmp: Cmp,
        v: &str,
    ) -> Result<(), String> {
        if v.as_bytes().contains(&0) {
            return Err("filter error: filter value cannot contain a NUL byte (\\x00)".into());
        }
        let setlike = matches!(cmp.op, Op::In | Op::Intersects)
            || (cmp.modifier != Modifier::None && matches!(cmp.op, Op::Eq | Op::Ne));
        match lhs.ty {
            FieldType::Str => {
                // libsinsp copies a string value into a buffer of at most
                // `s_max_filter_value_buf_size` bytes with its NUL terminator
                // (`check_storage_size` in `value_parser.cpp`), so Falco refuses any
                // value — list items included — of 256 bytes or more when loading.
                let used = v.len() + 1;
                if used > MAX_FILTER_VALUE_BUF {
                    return Err(format!(
                        "filter parameter too long (used={used}, available={MAX_FILTER_VALUE_BUF}):{v}"
                    ));
                }
                let b = v.as_bytes().to_vec();
                if setlike {
                    consts.str_set.insert(b.clone());
                }
                match cmp.op {
                    Op::Pmatch => consts.prefix.add(&b),
                    Op::Regex => consts.regexes.push(ops::compile_regex(v)?),
                    _ => {}
                }
                consts.strs.push(b);
            }
            FieldType::Bool => {
                let n = match v {
                    "true" => 1,
                    "false" => 0,
                    _ => return Err(format!("filter error: unrecognized boolean value {v}")),
                };
                consts.num_set.insert(n);
                consts.nums.push(n);
            }
            FieldType::U64 | FieldType::AbsTime | FieldType::RelTime => {
                let n = parse_u64(v).ok_or_else(|| format!("{v} is not a valid number"))?;
                consts.num_set.insert(n);
                consts.nums.push(n);
            }
        }
        Ok(())
    }

    /// libsinsp `check_value_and_add_warnings`.
    fn value_warnings(&mut self, cmp: Cmp, pos: Pos, v: &str) {
        let nospaces: String = v
            .chars()
            .filter(|c| !c.is_ascii_whitespace() && *c != '\x0b')
            .collect();
        if cmp.op == Op::Regex
            && let Some(w) = regex_warning(v)
        {
            self.warnings.push((w, pos));
        }
        if matches!(fields::resolve(&nospaces), Ok(Some(_))) {
            self.warnings.push((
                format!("'{v}' may be a valid field misused as a const string value"),
                pos,
            ));
        }
        for t in parser::supported_transformers(true) {
            let b = nospaces.as_bytes();
            if b.len() >= t.len() + 2
                && nospaces.starts_with(t)
                && b[t.len()] == b'('
                && b.last() == Some(&b')')
            {
                self.warnings.push((
                    format!(
                        "'{v}' may be a valid field transformer misused as a const string value"
                    ),
                    pos,
                ));
            }
        }
    }

    fn extractor(&mut self, e: &Expr) -> Result<Extractor, String> {
        match e {
            Expr::Field { name, arg, .. } => {
                let full = match arg {
                    Some(a) => format!("{name}[{a}]"),
                    None => name.clone(),
                };
                let field = fields::resolve(&full)?
                    .ok_or_else(|| format!("filter_check called with nonexistent field {full}"))?;
                let key = Extractor::key(&field, &[]);
                Ok(Extractor {
                    ty: field.ty,
                    list: field.list,
                    terminated: false,
                    slot: self.slots.slot(&key),
                    field,
                    transformers: Vec::new(),
                })
            }
            Expr::Transformer {
                name, values, arg, ..
            } => {
                if values.len() != 1 {
                    return Err(format!(
                        "filter error: multi-value transformer '{name}' is not supported"
                    ));
                }
                if !matches!(values[0], Expr::Field { .. } | Expr::Transformer { .. }) {
                    return Err(format!(
                        "filter error: transformer '{name}' takes a field or another transformer"
                    ));
                }
                let mut inner = self.extractor(&values[0])?;
                if name == "val" {
                    if arg.is_some() {
                        return Err(
                            "filter error: transformer 'val' does not support field arguments"
                                .into(),
                        );
                    }
                    return Ok(inner);
                }
                if arg.is_some() {
                    return Err(format!(
                        "filter error: transformer '{name}' does not support field arguments"
                    ));
                }
                let t = Transformer::from_name(name)
                    .ok_or_else(|| format!("unknown field transfomer '{name}'"))?;
                let (ty, list) = t.transform_type(inner.ty, inner.list).ok_or_else(|| {
                    format!(
                        "can't add field transformer: type '{}' is not supported by '{}' transformer applied on {}field '{}'",
                        inner.ty.falco_name(),
                        t.name(),
                        if inner.list { "list " } else { "" },
                        inner.field.name
                    )
                })?;
                inner.transformers.push(t);
                inner.ty = ty;
                inner.list = list;
                inner.terminated |= t != Transformer::Len;
                let key = Extractor::key(&inner.field, &inner.transformers);
                inner.slot = self.slots.slot(&key);
                Ok(inner)
            }
            Expr::TransformerList(..) => Err(
                "filter error: transformer lists are only supported by multi-value transformers"
                    .into(),
            ),
            _ => Err("filter error: missing field in left-hand of binary check".into()),
        }
    }
}

/// libsinsp `check_warnings_regex_value`: a regex without special characters in its middle
/// could be a plain operator.
fn regex_warning(v: &str) -> Option<String> {
    const SPECIAL: &[u8] = b".+*?^$()[]{}|\\";
    let b = v.as_bytes();
    let len = b.len();
    let mut i = 0;
    while i < len {
        if (i == 0 && b[i] == b'^') || (i + 1 == len && b[i] == b'$') {
            i += 1;
            continue;
        }
        if ((i == 0 && len > 1) || (i + 2 == len))
            && b[i] == b'.'
            && b.get(i + 1).is_some_and(|c| b"+*?".contains(c))
        {
            i += 2;
            continue;
        }
        if SPECIAL.contains(&b[i]) {
            return None;
        }
        i += 1;
    }
    Some(format!(
        "regex check with '{v}' may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"
    ))
}

/// `sscanf("%lu%c")` as libsinsp's `parseu64` uses it: leading blanks, a sign, decimal
/// digits, nothing after; negative numbers wrap, overflow saturates.
pub fn parse_u64(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some(if neg { n.wrapping_neg() } else { n })
}

/// The per-event extraction cache and what the generic fields read.
#[derive(Debug)]
pub struct EvalCtx<'a, 'c> {
    /// The event.
    pub view: &'c crate::event::EventView<'a>,
    /// Event number, first timestamp, source, host.
    pub meta: fields::EventMeta<'c>,
    /// One entry per slot: `None` = not extracted yet, `Some(None)` = no value.
    pub cache: &'c mut Vec<Option<Option<FieldValue<'a>>>>,
    /// Runtime errors met (legacy mode), and the first message.
    pub runtime_errors: u64,
    /// The first runtime error's message.
    pub first_runtime_error: Option<String>,
}

impl<'a> EvalCtx<'a, '_> {
    /// Extracts into the cache if needed.
    pub fn ensure(&mut self, e: &Extractor) {
        if self.cache.len() <= e.slot {
            self.cache.resize(e.slot + 1, None);
        }
        if self.cache[e.slot].is_none() {
            self.cache[e.slot] = Some(e.extract(self.view, &self.meta));
        }
    }

    /// The cached value of an extractor (after [`Self::ensure`]).
    pub fn get(&self, e: &Extractor) -> Option<&FieldValue<'a>> {
        self.cache
            .get(e.slot)
            .and_then(|v| v.as_ref())
            .and_then(|v| v.as_ref())
    }
}

impl Node {
    /// Evaluates the condition.
    pub fn eval(&self, ctx: &mut EvalCtx<'_, '_>) -> bool {
        match self {
            Node::And(c) => c.iter().all(|n| n.eval(ctx)),
            Node::Or(c) => c.iter().any(|n| n.eval(ctx)),
            Node::Not(c) => !c.eval(ctx),
            Node::Check(c) => c.eval(ctx),
        }
    }
}

/// The right-hand values as the comparison sees them.
enum RhsView<'r> {
    Consts(&'r Consts),
    Values(&'r FieldValue<'r>, bool),
}

fn as_u64(v: &FieldValue<'_>) -> Option<u64> {
    match v {
        FieldValue::Num(n) => Some(*n),
        FieldValue::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

impl Check {
    fn eval(&self, ctx: &mut EvalCtx<'_, '_>) -> bool {
        ctx.ensure(&self.lhs);
        if ctx.get(&self.lhs).is_none() {
            return false;
        }
        if self.cmp.op == Op::Exists {
            return true;
        }
        if let Some(e) = &self.deferred_error {
            ctx.runtime_errors += 1;
            if ctx.first_runtime_error.is_none() {
                ctx.first_runtime_error = Some(e.clone());
            }
            return false;
        }
        if let Rhs::Field(r) = &self.rhs {
            ctx.ensure(r);
        }
        let Some(lhs) = ctx.get(&self.lhs) else {
            return false;
        };
        let rhs = match &self.rhs {
            Rhs::None => return true,
            Rhs::Consts(c) => RhsView::Consts(c),
            Rhs::Field(r) => match ctx.get(r) {
                Some(FieldValue::DecStr(n)) => {
                    let owned = FieldValue::DecStr(*n).materialize();
                    return self.compare(lhs, &RhsView::Values(&owned, r.terminated));
                }
                Some(v) => RhsView::Values(v, r.terminated),
                None => return false,
            },
        };
        self.compare(lhs, &rhs)
    }

    fn compare(&self, lhs: &FieldValue<'_>, rhs: &RhsView<'_>) -> bool {
        let op = self.cmp.op;
        match lhs {
            FieldValue::StrList(items) => {
                // Membership compares bytes and lengths: a transformed list value carries a
                // trailing NUL that constants do not (libsinsp quirk).
                let lhs_term = self.lhs.terminated;
                let member = |v: &[u8]| match rhs {
                    RhsView::Consts(c) => !lhs_term && c.str_set.contains(v),
                    RhsView::Values(r, rterm) => {
                        lhs_term == *rterm && str_values(r).any(|x| x == v)
                    }
                };
                match op {
                    Op::In => items.iter().all(|v| member(v)),
                    Op::Intersects => items.iter().any(|v| member(v)),
                    _ => false,
                }
            }
            FieldValue::Str(s) => self.compare_str(s, rhs),
            FieldValue::DecStr(n) => {
                let mut buf = [0u8; 20];
                self.compare_str(fields::decimal(*n, &mut buf), rhs)
            }
            FieldValue::Num(_) | FieldValue::Bool(_) => {
                let Some(a) = as_u64(lhs) else { return false };
                match rhs {
                    RhsView::Consts(c) => {
                        if matches!(op, Op::In | Op::Intersects) {
                            c.num_set.contains(&a)
                        } else {
                            c.nums.first().is_some_and(|&b| ops::compare_num(op, a, b))
                        }
                    }
                    RhsView::Values(r, _) => match as_u64(r) {
                        Some(b) => ops::compare_num(op, a, b),
                        None => false,
                    },
                }
            }
        }
    }

    fn compare_str(&self, s: &[u8], rhs: &RhsView<'_>) -> bool {
        let cmp = self.cmp;
        match rhs {
            RhsView::Values(r, rterm) => match cmp.op {
                Op::In | Op::Intersects => !*rterm && str_values(r).any(|x| x == s),
                _ => str_values(r)
                    .next()
                    .is_some_and(|b| ops::compare_str(cmp.op, s, b)),
            },
            RhsView::Consts(c) => {
                if cmp.modifier != Modifier::None {
                    return compare_with_modifier(cmp, s, c);
                }
                match cmp.op {
                    Op::In | Op::Intersects => c.str_set.contains(s),
                    Op::Pmatch => c.prefix.matches(s),
                    Op::Regex => {
                        let text = String::from_utf8_lossy(s);
                        c.regexes
                            .first()
                            .is_some_and(|r| r.is_match(text.as_bytes()))
                    }
                    op => c.strs.first().is_some_and(|b| ops::compare_str(op, s, b)),
                }
            }
        }
    }
}

fn str_values<'v>(v: &'v FieldValue<'_>) -> Box<dyn Iterator<Item = &'v [u8]> + 'v> {
    match v {
        FieldValue::Str(s) => Box::new(std::iter::once(s.as_ref())),
        FieldValue::StrList(items) => Box::new(items.iter().map(|c| c.as_ref())),
        _ => Box::new(std::iter::empty()),
    }
}

/// libsinsp `compare_rhs_with_mod`.
fn compare_with_modifier(cmp: Cmp, s: &[u8], c: &Consts) -> bool {
    let n = if cmp.op == Op::Regex {
        c.regexes.len()
    } else {
        c.strs.len()
    };
    if n == 0 {
        return false;
    }
    let text;
    let s = if cmp.op == Op::Regex {
        text = String::from_utf8_lossy(s).into_owned();
        text.as_bytes()
    } else {
        s
    };
    let elem = |i: usize| {
        if cmp.op == Op::Regex {
            c.regexes[i].is_match(s)
        } else {
            ops::compare_str(cmp.op, s, &c.strs[i])
        }
    };
    match cmp.modifier {
        Modifier::OneOf => (0..n).filter(|&i| elem(i)).take(2).count() == 1,
        Modifier::AnyOf => {
            if cmp.op == Op::Eq {
                c.str_set.contains(s)
            } else {
                (0..n).any(elem)
            }
        }
        Modifier::AllOf => {
            if cmp.op == Op::Ne {
                !c.str_set.contains(s)
            } else {
                (0..n).all(elem)
            }
        }
        Modifier::None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_parsing_is_sscanf() {
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64(" 42"), Some(42));
        assert_eq!(parse_u64("+7"), Some(7));
        assert_eq!(parse_u64("-1"), Some(u64::MAX));
        assert_eq!(parse_u64("42 "), None);
        assert_eq!(parse_u64("0x10"), None);
        assert_eq!(parse_u64(""), None);
    }

    #[test]
    fn regex_warnings() {
        assert!(regex_warning("abc").is_some());
        assert!(regex_warning("^abc$").is_some());
        assert!(regex_warning(".*abc").is_some());
        assert!(regex_warning("a.c").is_none());
        assert!(regex_warning("a|b").is_none());
    }
}
