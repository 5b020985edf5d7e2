//! The filter AST, as libsinsp's parser builds it.

/// A position inside a condition string: 0-based byte index, 1-based line and column (the
/// filter parser's `pos_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Byte offset.
    pub idx: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Default for Pos {
    fn default() -> Self {
        Pos {
            idx: 0,
            line: 1,
            col: 1,
        }
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a and b and …`
    And(Vec<Expr>, Pos),
    /// `a or b or …`
    Or(Vec<Expr>, Pos),
    /// `not a`
    Not(Box<Expr>, Pos),
    /// A bare identifier in check position: a macro reference.
    Ident(String, Pos),
    /// A constant value (the right side of a check).
    Value(String, Pos),
    /// A parenthesised list of constants.
    List(Vec<String>, Pos),
    /// A parenthesised list argument of a multi-value transformer.
    TransformerList(Vec<Expr>, Pos),
    /// `field exists`
    Unary {
        /// The field or transformer.
        left: Box<Expr>,
        /// The operator (`exists`).
        op: String,
        /// Where the check starts.
        pos: Pos,
    },
    /// `field op value`
    Binary {
        /// The field or transformer.
        left: Box<Expr>,
        /// The operator, with its modifier if any (`startswith anyof`).
        op: String,
        /// A value, a list or a field/transformer.
        right: Box<Expr>,
        /// Where the check starts.
        pos: Pos,
    },
    /// `name` or `name[arg]`
    Field {
        /// The field name.
        name: String,
        /// The argument, unquoted.
        arg: Option<String>,
        /// Where it starts.
        pos: Pos,
    },
    /// `tolower(...)`, `val(...)` …
    Transformer {
        /// The transformer name.
        name: String,
        /// Its arguments.
        values: Vec<Expr>,
        /// A field argument after the closing parenthesis.
        arg: Option<String>,
        /// Where it starts.
        pos: Pos,
    },
}

impl Expr {
    /// The node's position.
    pub fn pos(&self) -> Pos {
        match self {
            Expr::And(_, p)
            | Expr::Or(_, p)
            | Expr::Not(_, p)
            | Expr::Ident(_, p)
            | Expr::Value(_, p)
            | Expr::List(_, p)
            | Expr::TransformerList(_, p) => *p,
            Expr::Unary { pos, .. }
            | Expr::Binary { pos, .. }
            | Expr::Field { pos, .. }
            | Expr::Transformer { pos, .. } => *pos,
        }
    }

    /// Visits every node, depth first, parents before children.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::And(c, _) | Expr::Or(c, _) | Expr::TransformerList(c, _) => {
                c.iter().for_each(|e| e.walk(f))
            }
            Expr::Not(c, _) => c.walk(f),
            Expr::Unary { left, .. } => left.walk(f),
            Expr::Binary { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Expr::Transformer { values, .. } => values.iter().for_each(|e| e.walk(f)),
            Expr::Ident(..) | Expr::Value(..) | Expr::List(..) | Expr::Field { .. } => {}
        }
    }
}
