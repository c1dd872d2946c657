//! A parsed formula: statements of expressions, each node with the place in the text it came
//! from, so that every later check can say where the problem is.

/// Where a node is in the formula text: 1-based line and column (in characters) of its first
/// character, and its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    pub start: usize,
    pub end: usize,
}

/// A whole formula: its statements in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    pub statements: Vec<Statement>,
}

/// `NAME:expr` (an output line) or `NAME:=expr` (an intermediate).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Upper case (names are case-insensitive ASCII identifiers).
    pub name: String,
    pub output: bool,
    pub expr: Expr,
    /// The statement's name.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
    Ne,
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64, Span),
    /// A series (`CLOSE`, `C`, ...) or an earlier statement's name; upper case.
    Name(String, Span),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
        span: Span,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        span: Span,
    },
    /// `NAME(args)` or `NAME(args).OUTPUT` (a built-in's output); the name and output upper case.
    Call {
        name: String,
        args: Vec<Expr>,
        output: Option<String>,
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Number(_, span) | Expr::Name(_, span) => *span,
            Expr::Unary { span, .. } | Expr::Binary { span, .. } | Expr::Call { span, .. } => *span,
        }
    }
}
