//! The Falco filter grammar: a recursive-descent parser that follows libsinsp's
//! `filter/parser.cpp` token for token, so that a condition parses (or fails, with the same
//! message and position) exactly as it does in Falco.
//!
//! ```text
//! Expr        ::= OrExpr
//! OrExpr      ::= AndExpr ('or' (' ' AndExpr | '(' Expr ')'))*
//! AndExpr     ::= NotExpr ('and' (' ' NotExpr | '(' Expr ')'))*
//! NotExpr     ::= ('not ')* ('not(' Expr ')' | Check)
//! Check       ::= Field Condition | Transformer Condition | Identifier | '(' Expr ')'
//! Condition   ::= 'exists'
//!               | ('<='|'<'|'>='|'>') (Number | Transformer | 'val(' Field ')')
//!               | StrOp (StrValue | Transformer | 'val(' Field ')')
//!               | StrOp ('oneof'|'anyof'|'allof') ListValue
//!               | ('in'|'intersects'|'pmatch') (ListValue | Transformer | 'val(' Field ')')
//! StrOp       ::= '==' | '=' | '!=' | 'glob ' | 'iglob ' | 'contains ' | 'icontains '
//!               | 'bcontains ' | 'startswith ' | 'bstartswith ' | 'endswith ' | 'regex '
//! ListValue   ::= '(' (StrValue (',' StrValue)*)? ')' | Identifier
//! Field       ::= FieldName ('[' (QuotedStr | ArgBareStr) ']')?
//! ```
//!
//! Tokens are the libsinsp regular expressions (POSIX leftmost-longest), hand-written here:
//! a field name is `[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+`, a bare string is
//! anything up to a blank, a parenthesis, a quote, `=` or `,`. Quoted strings take `\b \f \n
//! \r \t \\ \/ \" \' \xHH` escapes (and `\ ` for legacy rules); any other escape is an error.
//! Note the libsinsp quirk kept here: a quoted string cannot end with an escaped backslash.

use super::ast::{Expr, Pos};

/// A parse error: libsinsp's message and where the parser stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The message, e.g. `expected a ')' token`.
    pub message: String,
    /// The parser's position when it gave up.
    pub pos: Pos,
}

type PResult<T> = Result<T, String>;

const UNARY_OPS: [&str; 1] = ["exists"];
const NUM_OPS: [&str; 4] = ["<=", "<", ">=", ">"];
const STR_OPS: [&str; 12] = [
    "==",
    "=",
    "!=",
    "glob ",
    "iglob ",
    "contains ",
    "icontains ",
    "bcontains ",
    "startswith ",
    "bstartswith ",
    "endswith ",
    "regex ",
];
const STR_MODIFIERS: [&str; 3] = ["oneof ", "anyof ", "allof "];
const LIST_OPS: [&str; 3] = ["intersects", "in", "pmatch"];
const TRANSFORMER_VAL: &str = "val(";
/// Field transformers, with their opening parenthesis.
pub const TRANSFORMERS: [&str; 8] = [
    "tolower(",
    "toupper(",
    "b64(",
    "basename(",
    "len(",
    "join(",
    "concat(",
    "getopt(",
];

/// Every operator the grammar knows, trimmed (libsinsp's `supported_operators`).
pub fn supported_operators() -> Vec<&'static str> {
    let mut ops: Vec<&'static str> = Vec::new();
    ops.extend(UNARY_OPS);
    ops.extend(NUM_OPS);
    ops.extend(STR_OPS.iter().map(|s| s.trim()));
    ops.extend(LIST_OPS);
    ops
}

/// The list operators (`in`, `intersects`, `pmatch`).
pub fn list_operators() -> &'static [&'static str] {
    &LIST_OPS
}

/// Transformer names, `val` first when asked (libsinsp's `supported_field_transformers`).
pub fn supported_transformers(include_val: bool) -> Vec<&'static str> {
    let mut v = Vec::new();
    if include_val {
        v.push("val");
    }
    v.extend(TRANSFORMERS.iter().map(|t| &t[..t.len() - 1]));
    v
}

fn token_list(vals: &[&str]) -> String {
    vals.iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses a whole condition (libsinsp `parser::parse` with partial parsing off).
pub fn parse(input: &str, max_depth: usize) -> Result<Expr, ParseError> {
    let mut p = Parser::new(input, max_depth);
    p.parse().map_err(|message| ParseError {
        message,
        pos: p.pos,
    })
}

/// Parses one field or transformer at the start of `input` (what output formats do after a
/// `%`); answers the expression and how many bytes it used.
pub fn parse_field_or_transformer(input: &str) -> Result<(Expr, usize), ParseError> {
    let mut p = Parser::new(input, 100);
    match p.field_or_transformer() {
        Ok(e) => Ok((e, p.pos.idx)),
        Err(message) => Err(ParseError {
            message,
            pos: p.pos,
        }),
    }
}

/// Decodes a quoted string token (delimiters included), as libsinsp's `unescape_str`.
pub fn unescape_str(s: &[u8]) -> PResult<Vec<u8>> {
    let mut res = Vec::with_capacity(s.len());
    if s.len() < 2 {
        return Ok(res);
    }
    let len = s.len() - 1;
    let mut escaped = false;
    let mut i = 1;
    while i < len {
        let c = s[i];
        if !escaped {
            if c == b'\\' {
                escaped = true;
            } else {
                res.push(c);
            }
        } else {
            match c {
                b'b' => res.push(0x08),
                b'f' => res.push(0x0c),
                b'n' => res.push(b'\n'),
                b'r' => res.push(b'\r'),
                b't' => res.push(b'\t'),
                b' ' | b'\\' => res.push(b'\\'),
                b'/' => res.push(b'/'),
                b'"' => {
                    if s[0] != c {
                        return Err("invalid \\\" escape in '-quoted string".into());
                    }
                    res.push(b'"');
                }
                b'\'' => {
                    if s[0] != c {
                        return Err("invalid \\' escape in \"-quoted string".into());
                    }
                    res.push(b'\'');
                }
                b'x' => {
                    if i + 2 >= len {
                        return Err("truncated hex char escape sequence".into());
                    }
                    let hex = &s[i + 1..i + 3];
                    let parsed = std::str::from_utf8(hex)
                        .ok()
                        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match parsed {
                        Some(ch) => res.push(ch),
                        None => {
                            return Err(format!(
                                "invalid hex char escape sequence: {}",
                                String::from_utf8_lossy(hex)
                            ));
                        }
                    }
                    i += 2;
                }
                other => {
                    return Err(format!(
                        "unsupported string escape sequence: \\{}",
                        other as char
                    ));
                }
            }
            escaped = false;
        }
        i += 1;
    }
    Ok(res)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: Pos,
    last: String,
    depth: usize,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, max_depth: usize) -> Self {
        Parser {
            input: input.as_bytes(),
            pos: Pos::default(),
            last: String::new(),
            depth: 0,
            max_depth,
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.input[self.pos.idx.min(self.input.len())..]
    }

    fn peek(&self) -> u8 {
        self.rest().first().copied().unwrap_or(0)
    }

    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            let c = self.peek();
            self.pos.col += 1;
            if c == b'\r' || c == b'\n' {
                self.pos.col = 1;
                self.pos.line += 1;
            }
            self.pos.idx += 1;
        }
    }

    /// Consumes `n` bytes as the last token.
    fn take(&mut self, n: usize) {
        self.last = String::from_utf8_lossy(&self.rest()[..n]).into_owned();
        self.advance(n);
    }

    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.depth += 1;
        if self.depth >= self.max_depth {
            return Err(format!("exceeded max depth limit of {}", self.max_depth));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn parse(&mut self) -> PResult<Expr> {
        if self.input.is_empty() {
            return Err("filter input string is empty".into());
        }
        self.pos = Pos::default();
        self.last.clear();
        self.depth = 0;
        let res = self.or()?;
        if self.pos.idx != self.input.len() {
            return Err(format!(
                "unexpected token after '{}', expecting 'or', 'and'",
                self.last
            ));
        }
        Ok(res)
    }

    fn field_or_transformer(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            let pos = p.pos;
            if p.lex_field_name() {
                let name = p.last.clone();
                return p.field_remainder(name, pos);
            }
            if p.lex_transformer_type() {
                p.lex_blank();
                let name = p.last[..p.last.len() - 1].to_string();
                return p.transformer_remainder(name, pos);
            }
            Err(format!("unexpected token after '{}", p.last))
        })
    }

    fn or(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            let pos = p.pos;
            let mut children = Vec::new();
            p.lex_blank();
            children.push(p.and()?);
            p.lex_blank();
            while p.lex_str("or") {
                let child = if !p.lex_blank() {
                    if p.lex_str("(") {
                        p.embedded_remainder()?
                    } else {
                        return Err("expected blank or '(' after 'or'".into());
                    }
                } else {
                    p.and()?
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(if children.len() > 1 {
                Expr::Or(children, pos)
            } else {
                children.remove(0)
            })
        })
    }

    fn and(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            let pos = p.pos;
            let mut children = Vec::new();
            p.lex_blank();
            children.push(p.not()?);
            p.lex_blank();
            while p.lex_str("and") {
                let child = if !p.lex_blank() {
                    if p.lex_str("(") {
                        p.embedded_remainder()?
                    } else {
                        return Err("expected blank or '(' after 'and'".into());
                    }
                } else {
                    p.not()?
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(if children.len() > 1 {
                Expr::And(children, pos)
            } else {
                children.remove(0)
            })
        })
    }

    fn not(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            let pos = p.pos;
            let mut is_not = false;
            p.lex_blank();
            while p.lex_not_blank() {
                is_not = !is_not;
            }
            let child = if p.lex_str("not(") {
                is_not = !is_not;
                p.embedded_remainder()?
            } else {
                p.check()?
            };
            Ok(if is_not {
                Expr::Not(Box::new(child), pos)
            } else {
                child
            })
        })
    }

    fn embedded_remainder(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            let child = p.or()?;
            p.lex_blank();
            if !p.lex_str(")") {
                return Err("expected a ')' token".into());
            }
            Ok(child)
        })
    }

    fn check(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            let pos = p.pos;
            p.lex_blank();
            if p.lex_str("(") {
                return p.embedded_remainder();
            }
            if p.lex_field_name() {
                let name = p.last.clone();
                let left = p.field_remainder(name, pos)?;
                return p.condition(left, pos);
            }
            if p.lex_transformer_type() {
                p.lex_blank();
                let name = p.last[..p.last.len() - 1].to_string();
                let left = p.transformer_remainder(name, pos)?;
                return p.condition(left, pos);
            }
            if p.lex_identifier() {
                return Ok(Expr::Ident(p.last.clone(), pos));
            }
            Err("expected a '(' token, a field check, or an identifier".into())
        })
    }

    fn field_remainder(&mut self, name: String, pos: Pos) -> PResult<Expr> {
        self.guarded(|p| {
            let arg = p.optional_field_arg()?;
            Ok(Expr::Field { name, arg, pos })
        })
    }

    fn optional_field_arg(&mut self) -> PResult<Option<String>> {
        if !self.lex_str("[") {
            return Ok(None);
        }
        if !self.lex_quoted_str()? && !self.lex_field_arg_bare_str() {
            return Err("expected a valid field argument: a quoted string or a bare string".into());
        }
        let arg = self.last.clone();
        if !self.lex_str("]") {
            return Err("expected a ']' token".into());
        }
        Ok(Some(arg))
    }

    fn transformer_remainder(&mut self, name: String, pos: Pos) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            let mut children = Vec::new();
            loop {
                let arg_pos = p.pos;
                children.push(p.transformer_arg(arg_pos)?);
                p.lex_blank();
                if !p.lex_str(",") {
                    break;
                }
            }
            p.lex_blank();
            if !p.lex_str(")") {
                return Err("expected a ')' token closing the transformer".into());
            }
            let arg = p.optional_field_arg()?;
            Ok(Expr::Transformer {
                name,
                values: children,
                arg,
                pos,
            })
        })
    }

    fn transformer_arg(&mut self, pos: Pos) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            if p.lex_hex_num() || p.lex_num() {
                return Ok(Expr::Value(p.last.clone(), pos));
            }
            if p.lex_quoted_str()? {
                return Ok(Expr::Value(p.last.clone(), pos));
            }
            if p.lex_str("(") {
                return p.transformer_list(pos);
            }
            if p.lex_transformer_type() {
                let name = p.last[..p.last.len() - 1].to_string();
                return p.transformer_remainder(name, pos);
            }
            if p.lex_field_name() {
                let name = p.last.clone();
                return p.field_remainder(name, pos);
            }
            Err(
                "expected field transformer argument: field, transformer, quoted string, \
                 number, or transformer list"
                    .into(),
            )
        })
    }

    fn transformer_list(&mut self, pos: Pos) -> PResult<Expr> {
        let mut children = Vec::new();
        self.lex_blank();
        if self.lex_str(")") {
            return Ok(Expr::TransformerList(children, pos));
        }
        children.push(self.transformer_list_arg(pos)?);
        self.lex_blank();
        while self.lex_str(",") {
            self.lex_blank();
            children.push(self.transformer_list_arg(pos)?);
            self.lex_blank();
        }
        if !self.lex_str(")") {
            return Err("expected ')'".into());
        }
        Ok(Expr::TransformerList(children, pos))
    }

    fn transformer_list_arg(&mut self, pos: Pos) -> PResult<Expr> {
        if self.lex_field_name() {
            let name = self.last.clone();
            return self.field_remainder(name, pos);
        }
        if self.lex_transformer_type() {
            self.lex_blank();
            let name = self.last[..self.last.len() - 1].to_string();
            return self.transformer_remainder(name, pos);
        }
        if self.lex_quoted_str()? {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        if self.lex_hex_num() || self.lex_num() {
            return Ok(Expr::Value(self.last.clone(), pos));
        }
        Err(
            "expected transformer list argument: field, transformer, quoted string, or number"
                .into(),
        )
    }

    fn condition(&mut self, left: Expr, pos: Pos) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            if p.lex_operator(&UNARY_OPS) {
                return Ok(Expr::Unary {
                    left: Box::new(left),
                    op: p.last.trim().to_string(),
                    pos,
                });
            }
            p.lex_blank();
            let (op, right) = if p.lex_operator(&NUM_OPS) {
                let op = p.last.clone();
                (op, p.num_value_or_transformer()?)
            } else if p.lex_operator(&STR_OPS) {
                let mut op = p.last.clone();
                // Word operators consumed their blank already; symbols need one for a modifier.
                let had_blank = op.as_bytes()[0].is_ascii_alphabetic() || p.lex_blank();
                let saved = (p.pos, p.last.clone());
                let right = if had_blank
                    && p.lex_operator(&STR_MODIFIERS)
                    && p.list_value_follows()
                    && !p.bool_keyword_follows()
                {
                    op = format!("{} {}", op.trim(), p.last.trim());
                    p.list_value()?
                } else {
                    p.pos = saved.0;
                    p.last = saved.1;
                    p.str_value_or_transformer(false)?
                };
                (op, right)
            } else if p.lex_operator(&LIST_OPS) {
                let op = p.last.clone();
                (op, p.list_value_or_transformer()?)
            } else {
                return Err(format!(
                    "expected a valid check operator: one of {}",
                    token_list(&supported_operators())
                ));
            };
            Ok(Expr::Binary {
                left: Box::new(left),
                op: op.trim().to_string(),
                right: Box::new(right),
                pos,
            })
        })
    }

    fn num_value_or_transformer(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if let Some(e) = p.try_transformer_or_val()? {
                return Ok(e);
            }
            if p.lex_hex_num() || p.lex_num() {
                return Ok(Expr::Value(p.last.clone(), pos));
            }
            Err(format!(
                "expected a number value or a field with a valid transformer: {}",
                token_list(&supported_transformers(true))
            ))
        })
    }

    fn str_value_or_transformer(&mut self, no_transformer: bool) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if !no_transformer && let Some(e) = p.try_transformer_or_val()? {
                return Ok(e);
            }
            if p.lex_quoted_str()? || p.lex_bare_str() {
                return Ok(Expr::Value(p.last.clone(), pos));
            }
            if no_transformer {
                return Err("expected a string value".into());
            }
            Err(format!(
                "expected a string value or a field with a valid transformer: {}",
                token_list(&supported_transformers(true))
            ))
        })
    }

    fn try_list_expr(&mut self) -> PResult<Option<Expr>> {
        let pos = self.pos;
        if !self.lex_str("(") {
            return Ok(None);
        }
        let mut values = Vec::new();
        self.lex_blank();
        // libsinsp tries a value and, if that fails for any reason, expects an empty list.
        let saved = (self.pos, self.last.clone(), self.depth);
        match self.str_value_or_transformer(true) {
            Ok(Expr::Value(v, _)) => {
                values.push(v);
                self.lex_blank();
                while self.lex_str(",") {
                    match self.str_value_or_transformer(true)? {
                        Expr::Value(v, _) => values.push(v),
                        _ => {
                            return Err(
                                "parser fatal error: null value expr in body of list".into()
                            );
                        }
                    }
                    self.lex_blank();
                }
            }
            Ok(_) => return Err("parser fatal error: null value expr in head of list".into()),
            Err(_) => {
                // The failed attempt may have moved the cursor (it does not in practice, since
                // value lexers restore on failure), and left the depth raised.
                self.depth = saved.2;
            }
        }
        if !self.lex_str(")") {
            return Err("expected a ')' token".into());
        }
        Ok(Some(Expr::List(values, pos)))
    }

    fn list_value(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if let Some(e) = p.try_list_expr()? {
                return Ok(e);
            }
            if p.lex_identifier() {
                return Ok(Expr::Value(p.last.clone(), pos));
            }
            Err("expected a list or an identifier".into())
        })
    }

    fn list_value_or_transformer(&mut self) -> PResult<Expr> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if let Some(e) = p.try_list_expr()? {
                return Ok(e);
            }
            if let Some(e) = p.try_transformer_or_val()? {
                return Ok(e);
            }
            if p.lex_identifier() {
                return Ok(Expr::Value(p.last.clone(), pos));
            }
            Err(format!(
                "expected a list, an identifier, or a field with a valid transformer: {}",
                token_list(&supported_transformers(true))
            ))
        })
    }

    fn try_transformer_or_val(&mut self) -> PResult<Option<Expr>> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if p.lex_str(TRANSFORMER_VAL) {
                p.lex_blank();
                let name = p.last[..p.last.len() - 1].to_string();
                let field_pos = p.pos;
                if !p.lex_field_name() {
                    return Err(format!("expected a field within '{name}' transformer"));
                }
                let fname = p.last.clone();
                let child = p.field_remainder(fname, field_pos)?;
                p.lex_blank();
                if !p.lex_str(")") {
                    return Err("expected a ')' token closing the transformer".into());
                }
                let arg = p.optional_field_arg()?;
                return Ok(Some(Expr::Transformer {
                    name,
                    values: vec![child],
                    arg,
                    pos,
                }));
            }
            if p.lex_transformer_type() {
                p.lex_blank();
                let name = p.last[..p.last.len() - 1].to_string();
                return p.transformer_remainder(name, pos).map(Some);
            }
            Ok(None)
        })
    }

    // ---- lexers ----

    /// Skips blanks (space, tab, backspace, CR, LF); does not touch the last token.
    fn lex_blank(&mut self) -> bool {
        let mut found = false;
        while matches!(self.peek(), b' ' | b'\t' | 0x08 | b'\r' | b'\n') {
            found = true;
            self.advance(1);
        }
        found
    }

    fn lex_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s.as_bytes()) {
            self.last = s.to_string();
            self.advance(s.len());
            true
        } else {
            false
        }
    }

    fn lex_operator(&mut self, ops: &[&str]) -> bool {
        for op in ops {
            match op.strip_suffix(' ') {
                None => {
                    if self.lex_str(op) {
                        return true;
                    }
                }
                Some(word) => {
                    let saved = (self.pos, self.last.clone());
                    if self.lex_str(word) {
                        if self.lex_blank() {
                            return true;
                        }
                        self.pos = saved.0;
                        self.last = saved.1;
                    }
                }
            }
        }
        false
    }

    fn lex_transformer_type(&mut self) -> bool {
        TRANSFORMERS.iter().any(|t| self.lex_str(t))
    }

    fn lex_not_blank(&mut self) -> bool {
        let r = self.rest();
        if !r.starts_with(b"not") {
            return false;
        }
        let n = r[3..].iter().take_while(|&&b| is_space(b)).count();
        if n == 0 {
            return false;
        }
        self.take(3 + n);
        true
    }

    fn identifier_len(r: &[u8]) -> usize {
        let letters = r.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if letters == 0 {
            return 0;
        }
        letters
            + r[letters..]
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_')
                .count()
    }

    fn lex_identifier(&mut self) -> bool {
        let n = Self::identifier_len(self.rest());
        if n == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_field_name(&mut self) -> bool {
        let r = self.rest();
        let mut n = Self::identifier_len(r);
        if n == 0 {
            return false;
        }
        let mut segments = 0;
        while r.get(n) == Some(&b'.') {
            let seg = Self::identifier_len(&r[n + 1..]);
            if seg == 0 {
                break;
            }
            n += 1 + seg;
            segments += 1;
        }
        if segments == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_field_arg_bare_str(&mut self) -> bool {
        let n = self
            .rest()
            .iter()
            .take_while(|&&b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_space(b))
            .count();
        if n == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_hex_num(&mut self) -> bool {
        let r = self.rest();
        if r.len() < 3 || r[0] != b'0' || !matches!(r[1], b'x' | b'X') {
            return false;
        }
        let n = r[2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if n == 0 {
            return false;
        }
        self.take(2 + n);
        true
    }

    fn lex_num(&mut self) -> bool {
        let r = self.rest();
        let mut n = usize::from(matches!(r.first(), Some(b'+' | b'-')));
        let digits = r[n..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        n += digits;
        if r.get(n) == Some(&b'.') {
            n += 1;
        }
        n += r[n..].iter().take_while(|b| b.is_ascii_digit()).count();
        if matches!(r.get(n), Some(b'e' | b'E')) && matches!(r.get(n + 1), Some(b'+' | b'-')) {
            let exp = r[n + 2..].iter().take_while(|b| b.is_ascii_digit()).count();
            if exp > 0 {
                n += 2 + exp;
            }
        }
        self.take(n);
        true
    }

    fn lex_bare_str(&mut self) -> bool {
        let n = self
            .rest()
            .iter()
            .take_while(|&&b| {
                !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_space(b)
            })
            .count();
        if n == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_quoted_str(&mut self) -> PResult<bool> {
        let r = self.rest();
        let Some(&delim) = r.first().filter(|&&c| c == b'"' || c == b'\'') else {
            return Ok(false);
        };
        let mut prev = b'\\';
        for (i, &c) in r.iter().enumerate() {
            if c == 0 {
                break;
            }
            if c == delim && prev != b'\\' {
                let token = &r[..=i];
                let value = unescape_str(token)?;
                self.advance(i + 1);
                // A `\xHH` escape that makes invalid UTF-8 is replaced (U+FFFD): values are text.
                self.last = String::from_utf8_lossy(&value).into_owned();
                return Ok(true);
            }
            prev = c;
        }
        // libsinsp leaves the partial token as the last token when no closing quote follows.
        let end = r.iter().position(|&b| b == 0).unwrap_or(r.len());
        self.last = String::from_utf8_lossy(&r[..end]).into_owned();
        Ok(false)
    }

    fn list_value_follows(&mut self) -> bool {
        if self.peek() == b'(' {
            return true;
        }
        Self::identifier_len(self.rest()) > 0
    }

    fn bool_keyword_follows(&self) -> bool {
        let r = self.rest();
        ["and", "or", "not"].iter().any(|kw| {
            r.starts_with(kw.as_bytes())
                && r.get(kw.len()).is_none_or(|b| !b.is_ascii_alphanumeric())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s, 1000).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn err(s: &str) -> String {
        parse(s, 1000).unwrap_err().message
    }

    fn field(name: &str, arg: Option<&str>) -> Expr {
        Expr::Field {
            name: name.into(),
            arg: arg.map(Into::into),
            pos: Pos::default(),
        }
    }

    fn strip(e: Expr) -> Expr {
        // Positions are checked separately; compare shapes here.
        let z = Pos::default();
        match e {
            Expr::And(c, _) => Expr::And(c.into_iter().map(strip).collect(), z),
            Expr::Or(c, _) => Expr::Or(c.into_iter().map(strip).collect(), z),
            Expr::Not(c, _) => Expr::Not(Box::new(strip(*c)), z),
            Expr::Ident(s, _) => Expr::Ident(s, z),
            Expr::Value(s, _) => Expr::Value(s, z),
            Expr::List(s, _) => Expr::List(s, z),
            Expr::TransformerList(c, _) => {
                Expr::TransformerList(c.into_iter().map(strip).collect(), z)
            }
            Expr::Unary { left, op, .. } => Expr::Unary {
                left: Box::new(strip(*left)),
                op,
                pos: z,
            },
            Expr::Binary {
                left, op, right, ..
            } => Expr::Binary {
                left: Box::new(strip(*left)),
                op,
                right: Box::new(strip(*right)),
                pos: z,
            },
            Expr::Field { name, arg, .. } => Expr::Field { name, arg, pos: z },
            Expr::Transformer {
                name, values, arg, ..
            } => Expr::Transformer {
                name,
                values: values.into_iter().map(strip).collect(),
                arg,
                pos: z,
            },
        }
    }

    fn bin(l: Expr, op: &str, r: Expr) -> Expr {
        Expr::Binary {
            left: Box::new(l),
            op: op.into(),
            right: Box::new(r),
            pos: Pos::default(),
        }
    }

    fn val(s: &str) -> Expr {
        Expr::Value(s.into(), Pos::default())
    }

    #[test]
    fn precedence_and_not() {
        let e = strip(p("a and not b or c"));
        let z = Pos::default();
        assert_eq!(
            e,
            Expr::Or(
                vec![
                    Expr::And(
                        vec![
                            Expr::Ident("a".into(), z),
                            Expr::Not(Box::new(Expr::Ident("b".into(), z)), z)
                        ],
                        z
                    ),
                    Expr::Ident("c".into(), z)
                ],
                z
            )
        );
        // `not not x` cancels out; `not(x)` needs no blank.
        assert_eq!(strip(p("not not x")), Expr::Ident("x".into(), z));
        assert!(matches!(p("not(x)"), Expr::Not(..)));
        assert!(matches!(p("x and(y)"), Expr::And(..)));
    }

    #[test]
    fn checks_and_values() {
        assert_eq!(
            strip(p("ka.verb=create")),
            bin(field("ka.verb", None), "=", val("create"))
        );
        assert_eq!(
            strip(p("jevt.value[/stage] in (ResponseComplete, 'a b')")),
            bin(
                field("jevt.value", Some("/stage")),
                "in",
                Expr::List(
                    vec!["ResponseComplete".into(), "a b".into()],
                    Pos::default()
                )
            )
        );
        assert_eq!(
            strip(p("ka.uri.param[\"a b\"] exists")),
            Expr::Unary {
                left: Box::new(field("ka.uri.param", Some("a b"))),
                op: "exists".into(),
                pos: Pos::default()
            }
        );
        assert_eq!(
            strip(p("x.y in ()")),
            bin(field("x.y", None), "in", Expr::List(vec![], Pos::default()))
        );
        assert_eq!(
            strip(p("x.y in some_list")),
            bin(field("x.y", None), "in", val("some_list"))
        );
        assert_eq!(
            strip(p("x.y >= 0x1F")),
            bin(field("x.y", None), ">=", val("0x1F"))
        );
        assert_eq!(
            strip(p("x.y < -1.5e+3")),
            bin(field("x.y", None), "<", val("-1.5e+3"))
        );
    }

    #[test]
    fn word_operators_need_a_blank() {
        assert_eq!(
            strip(p("ka.user.name startswith \"system:\"")),
            bin(field("ka.user.name", None), "startswith", val("system:"))
        );
        assert!(
            err("ka.user.name startswith(\"a\")").starts_with("expected a valid check operator")
        );
    }

    #[test]
    fn transformers_and_val() {
        assert_eq!(
            strip(p("tolower(ka.user.name) = val(ka.impuser.name)")),
            bin(
                Expr::Transformer {
                    name: "tolower".into(),
                    values: vec![field("ka.user.name", None)],
                    arg: None,
                    pos: Pos::default()
                },
                "=",
                Expr::Transformer {
                    name: "val".into(),
                    values: vec![field("ka.impuser.name", None)],
                    arg: None,
                    pos: Pos::default()
                }
            )
        );
        assert!(matches!(p("len(ka.user.groups) > 2"), Expr::Binary { .. }));
    }

    #[test]
    fn modifiers() {
        assert_eq!(
            strip(p("x.y startswith anyof (a, b)")),
            bin(
                field("x.y", None),
                "startswith anyof",
                Expr::List(vec!["a".into(), "b".into()], Pos::default())
            )
        );
        // `= oneof` needs a blank between; without a list after it, `oneof` is a value.
        assert_eq!(
            strip(p("x.y = oneof")),
            bin(field("x.y", None), "=", val("oneof"))
        );
    }

    #[test]
    fn quoted_string_escapes() {
        assert_eq!(
            strip(p(r#"x.y = "a\"b\x41\n""#)),
            bin(field("x.y", None), "=", val("a\"bA\n"))
        );
        assert_eq!(
            err(r#"x.y = 'a\"b'"#),
            "invalid \\\" escape in '-quoted string"
        );
        assert_eq!(
            err(r#"x.y = "a\qb""#),
            "unsupported string escape sequence: \\q"
        );
    }

    #[test]
    fn errors_and_positions() {
        let e = parse("a and (b", 1000).unwrap_err();
        assert_eq!(e.message, "expected a ')' token");
        assert_eq!(e.pos.idx, 8);
        assert_eq!(
            err("a b"),
            "unexpected token after 'a', expecting 'or', 'and'"
        );
        assert_eq!(err(""), "filter input string is empty");
        assert_eq!(err("a andb"), "expected blank or '(' after 'and'");
        let deep = format!("{}a{}", "(".repeat(300), ")".repeat(300));
        assert!(err(&deep).starts_with("exceeded max depth limit of 1000"));
        let e = parse("a and\nb c", 1000).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 3));
    }

    #[test]
    fn output_tokens() {
        let (e, used) = parse_field_or_transformer("ka.user.name) x").unwrap();
        assert_eq!(strip(e), field("ka.user.name", None));
        assert_eq!(used, 12);
        assert!(parse_field_or_transformer("k").is_err());
    }
}
