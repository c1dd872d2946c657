//! The parser of 通达信-style formulas: text to a [`Formula`], or a [`FormulaError`] with the line,
//! the column, the text there and what was expected.
//!
//! Hand-written recursive descent rather than a parser-combinator or generator crate: the grammar
//! is a dozen rules, and this module is smaller than any such dependency (with its own dependencies
//! and its macro or builder idioms); every error is in our words ("expected `)` to close the `(`
//! at 1:9") with the line and column in characters, which the crates give only after wrapping
//! their own error types; and the limits below (text size, statements, nesting) are checked where
//! they are passed, so that no input can overflow the stack.
//!
//! The grammar, lowest precedence first (`{ x }` is zero or more `x`, `[ x ]` an optional `x`):
//!
//! ```text
//! formula    = { [ statement ] ";" } [ statement ]       at least one statement
//! statement  = NAME ":" expr                             an output line
//!            | NAME ":=" expr                            an intermediate
//!            | expr                                      an output line named OUT (only one)
//! expr       = and { ( "OR" | "||" ) and }
//! and        = comparison { ( "AND" | "&&" ) comparison }
//! comparison = sum { ( ">" | "<" | ">=" | "<=" | "=" | "==" | "<>" | "!=" ) sum }
//! sum        = product { ( "+" | "-" ) product }
//! product    = unary { ( "*" | "/" ) unary }
//! unary      = ( "-" | "+" | "NOT" ) unary | primary
//! primary    = NUMBER
//!            | NAME
//!            | NAME "(" [ expr { "," expr } ] ")" [ "." NAME ]   a call, a built-in's output
//!            | "(" expr ")"
//! NAME       = ( letter | "_" ) { letter | digit | "_" }        ASCII; case-insensitive
//! NUMBER     = digit { digit } [ "." { digit } ] [ exponent ]   12  0.5  1.  1e3
//!            | "." digit { digit } [ exponent ]                 .5
//! exponent   = ( "e" | "E" ) [ "+" | "-" ] digit { digit }
//! ```
//!
//! `AND`, `OR` and `NOT` are keywords (in any case) and cannot name anything; names are stored in
//! upper case. All binary operators are left-associative (`1 < 2 < 3` is `(1 < 2) < 3`); the
//! unary operators bind tighter than all of them (`-A*B` is `(-A)*B`, `NOT A > B` is
//! `(NOT A) > B`), and `NOT(X)` is `NOT` applied to `(X)`. Unary `+` leaves no node; unary `-`
//! on a number stays a [`UnaryOp::Neg`] node (constant folding is the checker's business).
//! Comments, `{ ... }` (not nested) and `//` to the end of the line, and any Unicode white space
//! may come between any two tokens.
//!
//! Spans: a node's [`Span`] is its first character's line and column and its byte range, which
//! covers the parentheses around an operand (`(A+B)*C` spans from the `(`) but not those around
//! the node itself; a statement's span is its name (or, without a name, its expression's).
//!
//! Limits, each refused with [`FormulaError::limit`] naming it: [`MAX_FORMULA_BYTES`] of text,
//! [`MAX_STATEMENTS`] statements, [`MAX_DEPTH`] levels of nesting (parentheses, calls and unary
//! operators), and [`MAX_HEIGHT`] levels of expression tree (each operator of a chain such as
//! `A+B+C` adds one), so that later passes may recurse over a tree without risking the stack.
//!
//! The tokens and the lexer are in `lexer`, the unit tests in `tests`; this file holds the
//! limits, [`parse`] and the parser.

use super::ast::{BinaryOp, Expr, Formula, Span, Statement, UnaryOp};
use super::error::FormulaError;
use lexer::{Kind, Lexer, Token};

mod lexer;
#[cfg(test)]
mod tests;

/// The longest formula text, in bytes: 16 KiB.
pub const MAX_FORMULA_BYTES: usize = 16 * 1024;
/// The most statements in a formula (empty ones between `;;` do not count).
pub const MAX_STATEMENTS: usize = 256;
/// The deepest nesting of parentheses, calls and unary operators, together.
pub const MAX_DEPTH: u32 = 64;
/// The greatest height of an expression's tree (a leaf is 1; each operator, call and unary
/// operator above it adds 1), which bounds the recursion of every pass over it.
pub const MAX_HEIGHT: u32 = 512;

/// At most this many characters of a token are quoted back in a message.
const QUOTED_CHARS: usize = 24;

/// Parses a whole formula.
pub fn parse(text: &str) -> Result<Formula, FormulaError> {
    parse_limited(text, MAX_FORMULA_BYTES)
}

/// [`parse`] with another size limit, so that the tests can show the depth limit alone keeps a
/// text of any size off the stack.
fn parse_limited(text: &str, max_bytes: usize) -> Result<Formula, FormulaError> {
    if text.len() > max_bytes {
        let span = Span { line: 1, column: 1, start: 0, end: 0 };
        return Err(FormulaError::limit(
            text,
            span,
            format!(
                "the formula is {} bytes, over the limit of {} KiB ({max_bytes} bytes)",
                text.len(),
                max_bytes / 1024
            ),
        ));
    }
    let (tokens, lex_error) = Lexer::new(text).tokens();
    let mut parser = Parser { text, tokens, pos: 0, depth: 0 };
    match (parser.formula(), lex_error) {
        (Err(_), Some(lex_error)) if parser.peek().kind == Kind::Bad => Err(lex_error),
        (result, _) => result,
    }
}

fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("`{}…`", &text[..cut]),
        None => format!("`{text}`"),
    }
}

/// An expression being built: the node, its tree's height, and its extent in the text including
/// the parentheses around it, which the spans of the nodes built on it start or end with.
struct Node {
    expr: Expr,
    height: u32,
    outer: Span,
}

/// The span from `first`'s start to `last`'s end.
fn join(first: Span, last: Span) -> Span {
    Span { end: last.end, ..first }
}

/// The binary operators of a precedence level (0 the lowest), `None` past the last level.
fn binary_op(level: usize, kind: Kind) -> Option<Option<BinaryOp>> {
    let op = match (level, kind) {
        (0, Kind::Or) => BinaryOp::Or,
        (1, Kind::And) => BinaryOp::And,
        (2, Kind::Gt) => BinaryOp::Gt,
        (2, Kind::Lt) => BinaryOp::Lt,
        (2, Kind::Ge) => BinaryOp::Ge,
        (2, Kind::Le) => BinaryOp::Le,
        (2, Kind::Eq) => BinaryOp::Eq,
        (2, Kind::Ne) => BinaryOp::Ne,
        (3, Kind::Plus) => BinaryOp::Add,
        (3, Kind::Minus) => BinaryOp::Sub,
        (4, Kind::Star) => BinaryOp::Mul,
        (4, Kind::Slash) => BinaryOp::Div,
        (0..=4, _) => return Some(None),
        _ => return None,
    };
    Some(Some(op))
}

fn starts_expression(kind: Kind) -> bool {
    matches!(kind, Kind::Number | Kind::Name | Kind::LParen | Kind::Minus | Kind::Plus | Kind::Not)
}

struct Parser<'a> {
    text: &'a str,
    /// Ends with a [`Kind::End`] or [`Kind::Bad`] token, which [`Parser::next`] never passes.
    tokens: Vec<Token>,
    pos: usize,
    depth: u32,
}

impl Parser<'_> {
    fn peek(&self) -> Token {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Token {
        let last = self.tokens.len() - 1;
        self.tokens[(self.pos + ahead).min(last)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek();
        if !matches!(token.kind, Kind::End | Kind::Bad) {
            self.pos += 1;
        }
        token
    }

    /// The token as a message shows it.
    fn shown(&self, token: Token) -> String {
        match token.kind {
            Kind::End | Kind::Bad => "the end of the formula".to_string(),
            _ => quoted(&self.text[token.span.start..token.span.end]),
        }
    }

    fn error(&self, span: Span, message: impl Into<String>) -> FormulaError {
        FormulaError::at(self.text, span, message)
    }

    fn formula(&mut self) -> Result<Formula, FormulaError> {
        let mut statements: Vec<Statement> = Vec::new();
        // The statement without a name, if there is one: its index.
        let mut unnamed: Option<usize> = None;
        loop {
            let token = self.peek();
            match token.kind {
                Kind::End => break,
                Kind::Semi => {
                    self.next();
                    continue;
                }
                _ => {}
            }
            if statements.len() == MAX_STATEMENTS {
                return Err(FormulaError::limit(
                    self.text,
                    token.span,
                    format!("more than {MAX_STATEMENTS} statements, the limit"),
                ));
            }
            let (statement, named) = self.statement()?;
            let end = self.peek();
            match end.kind {
                Kind::Semi => {
                    self.next();
                }
                Kind::End => {}
                Kind::Colon | Kind::Define if !named => {
                    return Err(self.error(
                        statement.span,
                        "a statement is `NAME:expr` or `NAME:=expr`, NAME a letter or `_` then letters, digits or `_`",
                    ));
                }
                _ => {
                    return Err(self.error(
                        end.span,
                        format!("unexpected {}: expected an operator, or `;` to end the statement", self.shown(end)),
                    ));
                }
            }
            if !named {
                if let Some(first) = unnamed {
                    let at = statements[first].span;
                    return Err(self.error(
                        statement.span,
                        format!(
                            "a second statement without a name (the first is at {}:{}): name each output line, \
                             `NAME:expr`",
                            at.line, at.column
                        ),
                    ));
                }
                unnamed = Some(statements.len());
            }
            statements.push(statement);
        }
        if statements.is_empty() {
            return Err(self.error(self.peek().span, "the formula has no statement: write one as `NAME:expr`"));
        }
        for (i, statement) in statements.iter().enumerate() {
            if let Some(j) = statements[..i].iter().position(|s| s.name == statement.name) {
                let first = statements[j].span;
                let note = if unnamed == Some(i) || unnamed == Some(j) {
                    " (a statement without a name is called OUT; name it, `NAME:expr`)"
                } else {
                    ""
                };
                return Err(self.error(
                    statement.span,
                    format!("{} is already defined at {}:{}{note}", quoted(&statement.name), first.line, first.column),
                ));
            }
        }
        Ok(Formula { statements })
    }

    /// One statement, and whether it has a name.
    fn statement(&mut self) -> Result<(Statement, bool), FormulaError> {
        let first = self.peek();
        let second = self.peek_at(1);
        if matches!(first.kind, Kind::Name | Kind::And | Kind::Or | Kind::Not)
            && matches!(second.kind, Kind::Colon | Kind::Define)
        {
            let name = &self.text[first.span.start..first.span.end];
            if first.kind != Kind::Name {
                return Err(self.error(
                    first.span,
                    format!("`{}` is a keyword and cannot name a statement", name.to_ascii_uppercase()),
                ));
            }
            let name = name.to_ascii_uppercase();
            self.next();
            self.next();
            let node = self.expression()?;
            let statement = Statement { name, output: second.kind == Kind::Colon, expr: node.expr, span: first.span };
            return Ok((statement, true));
        }
        if !starts_expression(first.kind) {
            let message = match first.kind {
                Kind::Colon | Kind::Define => {
                    "a statement is `NAME:expr` or `NAME:=expr`, NAME a letter or `_` then letters, digits or `_`"
                        .to_string()
                }
                _ => format!(
                    "unexpected {}: a statement is `NAME:expr` or `NAME:=expr` (or an expression alone)",
                    self.shown(first)
                ),
            };
            return Err(self.error(first.span, message));
        }
        let node = self.expression()?;
        let span = node.expr.span();
        Ok((Statement { name: "OUT".to_string(), output: true, expr: node.expr, span }, false))
    }

    fn expression(&mut self) -> Result<Node, FormulaError> {
        self.level(0)
    }

    /// The binary operators of `level` and the levels above it, left-associative.
    fn level(&mut self, level: usize) -> Result<Node, FormulaError> {
        if binary_op(level, Kind::End).is_none() {
            return self.unary();
        }
        let mut lhs = self.level(level + 1)?;
        while let Some(Some(op)) = binary_op(level, self.peek().kind) {
            let operator = self.next();
            let rhs = self.level(level + 1)?;
            let outer = join(lhs.outer, rhs.outer);
            let height = self.height(lhs.height.max(rhs.height), operator.span)?;
            lhs = Node {
                expr: Expr::Binary { op, lhs: Box::new(lhs.expr), rhs: Box::new(rhs.expr), span: outer },
                height,
                outer,
            };
        }
        Ok(lhs)
    }

    /// The height of a node above children at most `below` high.
    fn height(&self, below: u32, at: Span) -> Result<u32, FormulaError> {
        if below >= MAX_HEIGHT {
            return Err(FormulaError::limit(
                self.text,
                at,
                format!(
                    "an expression deeper than the limit of {MAX_HEIGHT} levels (each operator of a chain such as \
                     `A+B+C` counts one); split it into statements, `NAME:=expr`"
                ),
            ));
        }
        Ok(below + 1)
    }

    /// One more level of nesting, at `token`.
    fn enter(&mut self, token: Token) -> Result<(), FormulaError> {
        if self.depth >= MAX_DEPTH {
            return Err(FormulaError::limit(
                self.text,
                token.span,
                format!(
                    "nesting deeper than the limit of {MAX_DEPTH} levels (parentheses, calls and unary operators \
                     each count one)"
                ),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn unary(&mut self) -> Result<Node, FormulaError> {
        let token = self.peek();
        let op = match token.kind {
            Kind::Minus => Some(UnaryOp::Neg),
            Kind::Not => Some(UnaryOp::Not),
            Kind::Plus => None,
            _ => return self.postfix(),
        };
        self.next();
        self.enter(token)?;
        let operand = self.unary()?;
        self.depth -= 1;
        let outer = join(token.span, operand.outer);
        let Some(op) = op else {
            return Ok(Node { outer, ..operand });
        };
        let height = self.height(operand.height, token.span)?;
        Ok(Node { expr: Expr::Unary { op, expr: Box::new(operand.expr), span: outer }, height, outer })
    }

    /// A primary and the `.OUTPUT` that may follow a call.
    fn postfix(&mut self) -> Result<Node, FormulaError> {
        let mut node = self.primary()?;
        while self.peek().kind == Kind::Dot {
            let dot = self.peek();
            self.output(&mut node, dot)?;
        }
        Ok(node)
    }

    /// `.OUTPUT` after `node`, at the `.`.
    fn output(&mut self, node: &mut Node, dot: Token) -> Result<(), FormulaError> {
        match &mut node.expr {
            Expr::Call { output: output @ None, span, .. } if node.outer.end == span.end => {
                self.next();
                let name = self.peek();
                if name.kind != Kind::Name {
                    return Err(self.error(name.span, "expected an output name after `.`, as in `MACD(12,26,9).DIF`"));
                }
                self.next();
                *output = Some(self.text[name.span.start..name.span.end].to_ascii_uppercase());
                span.end = name.span.end;
                node.outer.end = name.span.end;
                Ok(())
            }
            _ => Err(self.error(
                dot.span,
                "`.OUTPUT` selects an output of a call, as in `MACD(12,26,9).DIF`; it follows the call's `)`",
            )),
        }
    }

    fn primary(&mut self) -> Result<Node, FormulaError> {
        let token = self.peek();
        match token.kind {
            Kind::Number => {
                self.next();
                Ok(Node { expr: Expr::Number(token.value, token.span), height: 1, outer: token.span })
            }
            Kind::Name if self.peek_at(1).kind == Kind::LParen => self.call(),
            Kind::Name => {
                self.next();
                let name = self.text[token.span.start..token.span.end].to_ascii_uppercase();
                Ok(Node { expr: Expr::Name(name, token.span), height: 1, outer: token.span })
            }
            Kind::LParen => {
                self.next();
                self.enter(token)?;
                let inner = self.expression()?;
                self.depth -= 1;
                let close = self.peek();
                if close.kind != Kind::RParen {
                    return Err(self.error(
                        close.span,
                        format!("expected `)` to close the `(` at {}:{}", token.span.line, token.span.column),
                    ));
                }
                self.next();
                Ok(Node { outer: join(token.span, close.span), ..inner })
            }
            _ => {
                // Never at a statement's start (statement() checks), so there is a token before.
                let before = self.tokens[self.pos.saturating_sub(1)];
                Err(self.error(token.span, format!("expected an expression after {}", self.shown(before))))
            }
        }
    }

    /// `NAME(args)`, at the name.
    fn call(&mut self) -> Result<Node, FormulaError> {
        let name_token = self.next();
        let open = self.next();
        self.enter(open)?;
        let mut args = Vec::new();
        let mut below = 0;
        let close = if self.peek().kind == Kind::RParen {
            self.next()
        } else {
            loop {
                let arg = self.expression()?;
                below = below.max(arg.height);
                args.push(arg.expr);
                let token = self.next();
                match token.kind {
                    Kind::Comma => {}
                    Kind::RParen => break token,
                    _ => {
                        return Err(self.error(
                            token.span,
                            format!(
                                "expected `,` or `)` to close the `(` at {}:{} of {}",
                                open.span.line,
                                open.span.column,
                                quoted(&self.text[name_token.span.start..name_token.span.end].to_ascii_uppercase())
                            ),
                        ));
                    }
                }
            }
        };
        self.depth -= 1;
        let height = self.height(below, name_token.span)?;
        let span = join(name_token.span, close.span);
        let name = self.text[name_token.span.start..name_token.span.end].to_ascii_uppercase();
        Ok(Node { expr: Expr::Call { name, args, output: None, span }, height, outer: span })
    }
}
