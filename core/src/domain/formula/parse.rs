//! The parser of 通达信-style formulas: text to a [`Formula`], or a [`FormulaError`] with the line,
//! the column, the text there and what was expected.
//!
//! Hand-written recursive descent rather than a parser-combinator or generator crate: the grammar
//! is a dozen rules, and this file is smaller than any such dependency (with its own dependencies
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

use super::ast::{BinaryOp, Expr, Formula, Span, Statement, UnaryOp};
use super::error::FormulaError;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Name,
    And,
    Or,
    Not,
    Plus,
    Minus,
    Star,
    Slash,
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
    Ne,
    LParen,
    RParen,
    Comma,
    Dot,
    Colon,
    Define,
    Semi,
    End,
    /// Where the lexer stopped on an error, which the parser reports if it gets that far (so that
    /// an earlier error in the text is reported first).
    Bad,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    span: Span,
    /// A number's value; 0 for other tokens.
    value: f64,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    column: u32,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer { text, pos: 0, line: 1, column: 1 }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    /// The byte `ahead` bytes on (only compared with ASCII, which no byte inside a multi-byte
    /// character equals).
    fn byte(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
    }

    fn here(&self) -> Span {
        Span { line: self.line, column: self.column, start: self.pos, end: self.pos }
    }

    /// The tokens, ending with [`Kind::End`], or with [`Kind::Bad`] and the error there.
    fn tokens(mut self) -> (Vec<Token>, Option<FormulaError>) {
        let mut tokens = Vec::new();
        loop {
            let span = self.here();
            match self.token() {
                Ok(Some(token)) => tokens.push(token),
                Ok(None) => {
                    tokens.push(Token { kind: Kind::End, span: self.here(), value: 0.0 });
                    return (tokens, None);
                }
                Err(error) => {
                    tokens.push(Token { kind: Kind::Bad, span, value: 0.0 });
                    return (tokens, Some(error));
                }
            }
        }
    }

    /// The next token, or `None` at the end.
    fn token(&mut self) -> Result<Option<Token>, FormulaError> {
        self.skip_space()?;
        let mut span = self.here();
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let mut value = 0.0;
        let kind = if c.is_ascii_digit() || (c == '.' && self.byte(1).is_some_and(|b| b.is_ascii_digit())) {
            value = self.number(span)?;
            Kind::Number
        } else if c.is_ascii_alphabetic() || c == '_' {
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                self.bump();
            }
            let word = &self.text[span.start..self.pos];
            if word.eq_ignore_ascii_case("AND") {
                Kind::And
            } else if word.eq_ignore_ascii_case("OR") {
                Kind::Or
            } else if word.eq_ignore_ascii_case("NOT") {
                Kind::Not
            } else {
                Kind::Name
            }
        } else {
            let two = (self.byte(0), self.byte(1));
            let (kind, len) = match two {
                (Some(b':'), Some(b'=')) => (Kind::Define, 2),
                (Some(b'>'), Some(b'=')) => (Kind::Ge, 2),
                (Some(b'<'), Some(b'=')) => (Kind::Le, 2),
                (Some(b'<'), Some(b'>')) => (Kind::Ne, 2),
                (Some(b'='), Some(b'=')) => (Kind::Eq, 2),
                (Some(b'!'), Some(b'=')) => (Kind::Ne, 2),
                (Some(b'&'), Some(b'&')) => (Kind::And, 2),
                (Some(b'|'), Some(b'|')) => (Kind::Or, 2),
                (Some(b':'), _) => (Kind::Colon, 1),
                (Some(b'>'), _) => (Kind::Gt, 1),
                (Some(b'<'), _) => (Kind::Lt, 1),
                (Some(b'='), _) => (Kind::Eq, 1),
                (Some(b'+'), _) => (Kind::Plus, 1),
                (Some(b'-'), _) => (Kind::Minus, 1),
                (Some(b'*'), _) => (Kind::Star, 1),
                (Some(b'/'), _) => (Kind::Slash, 1),
                (Some(b'('), _) => (Kind::LParen, 1),
                (Some(b')'), _) => (Kind::RParen, 1),
                (Some(b','), _) => (Kind::Comma, 1),
                (Some(b'.'), _) => (Kind::Dot, 1),
                (Some(b';'), _) => (Kind::Semi, 1),
                _ => return Err(self.unknown(c, span)),
            };
            for _ in 0..len {
                self.bump();
            }
            kind
        };
        span.end = self.pos;
        Ok(Some(Token { kind, span, value }))
    }

    /// Skips white space and comments.
    fn skip_space(&mut self) -> Result<(), FormulaError> {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '{' {
                let open = self.here();
                while self.peek().is_some_and(|c| c != '}') {
                    self.bump();
                }
                if self.peek().is_none() {
                    let open = Span { end: open.start + 1, ..open };
                    return Err(FormulaError::at(self.text, open, "unclosed comment: this `{` has no `}`"));
                }
                self.bump();
            } else if c == '/' && self.byte(1) == Some(b'/') {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Reads a number starting here (a digit, or `.` and a digit).
    fn number(&mut self, start: Span) -> Result<f64, FormulaError> {
        let digits = |lexer: &mut Lexer| {
            while lexer.byte(0).is_some_and(|b| b.is_ascii_digit()) {
                lexer.bump();
            }
        };
        digits(self);
        if self.byte(0) == Some(b'.') {
            self.bump();
            digits(self);
        }
        if matches!(self.byte(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.byte(1), Some(b'+' | b'-')));
            if self.byte(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                for _ in 0..=sign {
                    self.bump();
                }
                digits(self);
            }
        }
        let written = &self.text[start.start..self.pos];
        let span = Span { end: self.pos, ..start };
        match written.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(value),
            Ok(_) => Err(FormulaError::at(self.text, span, format!("the number {} is too large", quoted(written)))),
            Err(_) => Err(FormulaError::at(self.text, span, format!("{} is not a number", quoted(written)))),
        }
    }

    fn unknown(&self, c: char, span: Span) -> FormulaError {
        let span = Span { end: span.start + c.len_utf8(), ..span };
        let hint = match c {
            '；' => " (did you mean `;`?)".to_string(),
            '：' => " (did you mean `:`?)".to_string(),
            '，' => " (did you mean `,`?)".to_string(),
            '（' => " (did you mean `(`?)".to_string(),
            '）' => " (did you mean `)`?)".to_string(),
            '&' => " (did you mean `&&` or AND?)".to_string(),
            '|' => " (did you mean `||` or OR?)".to_string(),
            '!' => " (did you mean `!=` or NOT?)".to_string(),
            '}' => " (a comment is `{...}`)".to_string(),
            c if c.is_alphabetic() => " (names are ASCII letters, digits and `_`)".to_string(),
            _ => String::new(),
        };
        FormulaError::at(self.text, span, format!("unknown character `{}`{hint}", c.escape_debug()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Formula {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> FormulaError {
        match parse(text) {
            Ok(formula) => panic!("{text:?} parsed: {formula:?}"),
            Err(e) => e,
        }
    }

    /// The expression of a one-statement formula, written back fully parenthesized.
    fn shape(text: &str) -> String {
        let formula = ok(text);
        assert_eq!(formula.statements.len(), 1, "{text:?}");
        show(&formula.statements[0].expr)
    }

    fn show(expr: &Expr) -> String {
        match expr {
            Expr::Number(n, _) => format!("{n}"),
            Expr::Name(name, _) => name.clone(),
            Expr::Unary { op, expr, .. } => {
                format!("({} {})", if *op == UnaryOp::Neg { "-" } else { "NOT" }, show(expr))
            }
            Expr::Binary { op, lhs, rhs, .. } => {
                let op = match op {
                    BinaryOp::Add => "+",
                    BinaryOp::Sub => "-",
                    BinaryOp::Mul => "*",
                    BinaryOp::Div => "/",
                    BinaryOp::Gt => ">",
                    BinaryOp::Lt => "<",
                    BinaryOp::Ge => ">=",
                    BinaryOp::Le => "<=",
                    BinaryOp::Eq => "=",
                    BinaryOp::Ne => "<>",
                    BinaryOp::And => "AND",
                    BinaryOp::Or => "OR",
                };
                format!("({} {op} {})", show(lhs), show(rhs))
            }
            Expr::Call { name, args, output, .. } => {
                let args: Vec<String> = args.iter().map(show).collect();
                let output = output.as_ref().map(|o| format!(".{o}")).unwrap_or_default();
                format!("{name}({}){output}", args.join(","))
            }
        }
    }

    #[test]
    fn the_macd_formula() {
        let formula = ok("DIF:EMA(CLOSE,12)-EMA(CLOSE,26); DEA:EMA(DIF,9); MACD:(DIF-DEA)*2;");
        let names: Vec<(&str, bool)> = formula.statements.iter().map(|s| (s.name.as_str(), s.output)).collect();
        assert_eq!(names, [("DIF", true), ("DEA", true), ("MACD", true)]);
        let shapes: Vec<String> = formula.statements.iter().map(|s| show(&s.expr)).collect();
        assert_eq!(shapes, ["(EMA(CLOSE,12) - EMA(CLOSE,26))", "EMA(DIF,9)", "((DIF - DEA) * 2)"]);
    }

    #[test]
    fn statements() {
        // `: =` is `:` then `=`, which starts no expression.
        assert_eq!(err("c_2 : = 3").message, "expected an expression after `:`");
        let formula = ok(";;a:=1;;; B:a+1 ;\n;_c2:3;");
        let names: Vec<(&str, bool)> = formula.statements.iter().map(|s| (s.name.as_str(), s.output)).collect();
        assert_eq!(names, [("A", false), ("B", true), ("_C2", true)]);
        // The last statement may omit its `;`; an expression alone is OUT.
        let formula = ok("X:=C; X>REF(X,1)");
        assert_eq!(formula.statements[1].name, "OUT");
        assert!(formula.statements[1].output);
        assert_eq!(show(&formula.statements[1].expr), "(X > REF(X,1))");
        // `A=1` alone is a comparison, not a statement name.
        assert_eq!(ok("A=1").statements[0].name, "OUT");
    }

    #[test]
    fn precedence() {
        assert_eq!(shape("X:1+2*3"), "(1 + (2 * 3))");
        assert_eq!(shape("X:1-2-3"), "((1 - 2) - 3)");
        assert_eq!(shape("X:8/4/2"), "((8 / 4) / 2)");
        assert_eq!(shape("X:(1+2)*3"), "((1 + 2) * 3)");
        assert_eq!(shape("X:-A*B"), "((- A) * B)");
        assert_eq!(shape("X:- -A"), "(- (- A))");
        assert_eq!(shape("X:+A"), "A");
        assert_eq!(shape("X:A+B>C*D"), "((A + B) > (C * D))");
        assert_eq!(shape("X:A>B AND C<D OR E=F"), "(((A > B) AND (C < D)) OR (E = F))");
        assert_eq!(shape("X:A OR B AND C"), "(A OR (B AND C))");
        assert_eq!(shape("X:A||B&&C"), "(A OR (B AND C))");
        assert_eq!(shape("X:a and b or not c"), "((A AND B) OR (NOT C))");
        assert_eq!(shape("X:NOT A > B"), "((NOT A) > B)");
        assert_eq!(shape("X:NOT(A>B)"), "(NOT (A > B))");
        assert_eq!(shape("X:1<2<3"), "((1 < 2) < 3)");
        for (op, shown) in
            [(">=", ">="), ("<=", "<="), ("<>", "<>"), ("!=", "<>"), ("=", "="), ("==", "="), (">", ">"), ("<", "<")]
        {
            assert_eq!(shape(&format!("X:A{op}B")), format!("(A {shown} B)"));
        }
    }

    #[test]
    fn numbers_names_and_calls() {
        assert_eq!(shape("X:12"), "12");
        assert_eq!(shape("X:0.5+.5+1.+1e3+2E-2+3e+1"), "(((((0.5 + 0.5) + 1) + 1000) + 0.02) + 30)");
        assert_eq!(shape("x:close+c+Vol"), "((CLOSE + C) + VOL)");
        assert_eq!(shape("X:macd(12,26,9).dif"), "MACD(12,26,9).DIF");
        assert_eq!(shape("X:MACD().DEA*2"), "(MACD().DEA * 2)");
        assert_eq!(shape("X:MACD ( 12 , 26 , 9 ) . DIF"), "MACD(12,26,9).DIF");
        assert_eq!(shape("X:IF(C>O,MAX(C,O),-1)"), "IF((C > O),MAX(C,O),(- 1))");
        assert_eq!(shape("X:CROSS(MA(C,5),MA(C,20))"), "CROSS(MA(C,5),MA(C,20))");
        assert_eq!(shape("X:BARSLAST(C>REF(C,1))"), "BARSLAST((C > REF(C,1)))");
        // `1e` without digits is the number 1 and then a name.
        assert_eq!(err("X:1e").message, "unexpected `e`: expected an operator, or `;` to end the statement");
    }

    #[test]
    fn comments() {
        let formula =
            ok("{ the MACD }\nDIF:EMA(C,12)-EMA(C,26); // fast\n// a whole line\nDEA:{inline}EMA(DIF,{9}9)//");
        let shapes: Vec<String> = formula.statements.iter().map(|s| show(&s.expr)).collect();
        assert_eq!(shapes, ["(EMA(C,12) - EMA(C,26))", "EMA(DIF,9)"]);
        assert_eq!(shape("X:8{/}/2"), "(8 / 2)");
        // `//` ends the line; `/ /` is division then an operand missing.
        assert_eq!(err("X:8/ /2").message, "expected an expression after `/`");
        let e = err("X:1 { never closed\n\n");
        assert_eq!((e.line, e.column, e.message.as_str()), (1, 5, "unclosed comment: this `{` has no `}`"));
        let e = err("X:1 } ");
        assert_eq!((e.line, e.column), (1, 5));
        assert_eq!(e.message, "unknown character `}` (a comment is `{...}`)");
        // Comments do not nest: the first `}` closes.
        assert_eq!(err("X:1 {a {b} c}").message, "unexpected `c`: expected an operator, or `;` to end the statement");
        assert_eq!(shape("\u{3000}X\t:\r\n1"), "1");
    }

    #[test]
    fn spans() {
        let text = "A:=1;\n  B:MAX(A, (2+3)*é)";
        let e = err(text);
        assert_eq!((e.line, e.column), (2, 18));
        let text = "A:=1;\n  {é}B:MAX(A, (2+3)*4).X";
        let formula = ok(text);
        let b = &formula.statements[1];
        assert_eq!(b.span, Span { line: 2, column: 6, start: 12, end: 13 });
        let Expr::Call { args, span, .. } = &b.expr else { panic!("{b:?}") };
        assert_eq!(&text[span.start..span.end], "MAX(A, (2+3)*4).X");
        assert_eq!((span.line, span.column), (2, 8));
        assert_eq!(&text[args[0].span().start..args[0].span().end], "A");
        let product = args[1].span();
        assert_eq!(&text[product.start..product.end], "(2+3)*4");
        assert_eq!((product.line, product.column), (2, 15));
        let Expr::Binary { lhs, rhs, .. } = &args[1] else { panic!() };
        assert_eq!(&text[lhs.span().start..lhs.span().end], "2+3");
        assert_eq!(lhs.span().column, 16);
        assert_eq!(rhs.span(), Span { line: 2, column: 21, start: 27, end: 28 });
        let text = "X: - NOT C";
        let expr = &ok(text).statements[0].expr;
        assert_eq!(expr.span(), Span { line: 1, column: 4, start: 3, end: 10 });
        let Expr::Unary { expr: inner, .. } = expr else { panic!() };
        assert_eq!(inner.span(), Span { line: 1, column: 6, start: 5, end: 10 });
        // An unnamed statement's span is its expression's.
        let formula = ok("  C>O");
        assert_eq!(formula.statements[0].span, Span { line: 1, column: 3, start: 2, end: 5 });
    }

    /// Every message, with its place.
    #[test]
    fn errors() {
        let cases: &[(&str, (u32, u32), &str)] = &[
            ("X:(1+2", (1, 7), "expected `)` to close the `(` at 1:3"),
            ("X:MAX(1,(2*3;", (1, 13), "expected `)` to close the `(` at 1:9"),
            ("X:MAX(1 2)", (1, 9), "expected `,` or `)` to close the `(` at 1:6 of `MAX`"),
            ("X:MAX(1,", (1, 9), "expected an expression after `,`"),
            ("X:MAX(1,)", (1, 9), "expected an expression after `,`"),
            ("X:2*", (1, 5), "expected an expression after `*`"),
            ("X:2*;", (1, 5), "expected an expression after `*`"),
            ("X:2+*3", (1, 5), "expected an expression after `+`"),
            ("X:", (1, 3), "expected an expression after `:`"),
            ("X:=;", (1, 4), "expected an expression after `:=`"),
            ("X:NOT", (1, 6), "expected an expression after `NOT`"),
            ("X:(", (1, 4), "expected an expression after `(`"),
            ("X:A AND OR B", (1, 9), "expected an expression after `AND`"),
            ("X:1)", (1, 4), "unexpected `)`: expected an operator, or `;` to end the statement"),
            ("X:1 Y:2", (1, 5), "unexpected `Y`: expected an operator, or `;` to end the statement"),
            ("X:1:2", (1, 4), "unexpected `:`: expected an operator, or `;` to end the statement"),
            ("X:1;)", (1, 5), "unexpected `)`: a statement is `NAME:expr` or `NAME:=expr` (or an expression alone)"),
            (
                ":1",
                (1, 1),
                "a statement is `NAME:expr` or `NAME:=expr`, NAME a letter or `_` then letters, digits or `_`",
            ),
            ("X:1;2A:=3", (1, 6), "unexpected `A`: expected an operator, or `;` to end the statement"),
            (
                "X:1; A+B:=3",
                (1, 6),
                "a statement is `NAME:expr` or `NAME:=expr`, NAME a letter or `_` then letters, digits or `_`",
            ),
            ("X:1#", (1, 4), "unknown character `#`"),
            ("X:1;\n Y:C\u{FF1B}", (2, 5), "unknown character `；` (did you mean `;`?)"),
            ("收盘:C", (1, 1), "unknown character `收` (names are ASCII letters, digits and `_`)"),
            ("X:A&B", (1, 4), "unknown character `&` (did you mean `&&` or AND?)"),
            ("X:A|B", (1, 4), "unknown character `|` (did you mean `||` or OR?)"),
            ("X:!A", (1, 3), "unknown character `!` (did you mean `!=` or NOT?)"),
            ("X:\0", (1, 3), "unknown character `\\0`"),
            ("and:1", (1, 1), "`AND` is a keyword and cannot name a statement"),
            ("X:1; Not:=2", (1, 6), "`NOT` is a keyword and cannot name a statement"),
            (
                "X:C.DIF",
                (1, 4),
                "`.OUTPUT` selects an output of a call, as in `MACD(12,26,9).DIF`; it follows the call's `)`",
            ),
            (
                "X:(MACD()).DIF",
                (1, 11),
                "`.OUTPUT` selects an output of a call, as in `MACD(12,26,9).DIF`; it follows the call's `)`",
            ),
            (
                "X:MACD().DIF.DEA",
                (1, 13),
                "`.OUTPUT` selects an output of a call, as in `MACD(12,26,9).DIF`; it follows the call's `)`",
            ),
            ("X:MACD().1", (1, 9), "unexpected `.1`: expected an operator, or `;` to end the statement"),
            ("X:MACD().(", (1, 10), "expected an output name after `.`, as in `MACD(12,26,9).DIF`"),
            ("X:1e999", (1, 3), "the number `1e999` is too large"),
            ("", (1, 1), "the formula has no statement: write one as `NAME:expr`"),
            (" ;; {only a comment}\n", (2, 1), "the formula has no statement: write one as `NAME:expr`"),
            ("A:1;\nb:=2;\n a:3", (3, 2), "`A` is already defined at 1:1"),
            (
                "C>O;\nC<O",
                (2, 1),
                "a second statement without a name (the first is at 1:1): name each output line, `NAME:expr`",
            ),
            (
                "OUT:1;\nC<O",
                (2, 1),
                "`OUT` is already defined at 1:1 (a statement without a name is called OUT; name it, `NAME:expr`)",
            ),
            (
                "C<O;\n out:=1",
                (2, 2),
                "`OUT` is already defined at 1:1 (a statement without a name is called OUT; name it, `NAME:expr`)",
            ),
        ];
        for (text, (line, column), message) in cases {
            let e = err(text);
            assert_eq!((e.line, e.column, e.message.as_str()), (*line, *column, *message), "{text:?}");
            assert!(!e.limit, "{text:?}");
            // The Display form has the place and the text there.
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("{line}:{column}: {message}, ")), "{shown}");
        }
        assert_eq!(err("X:(1+2").to_string(), "1:7: expected `)` to close the `(` at 1:3, at the end of the formula");
        assert_eq!(
            err("X:MAX(1 2)").to_string(),
            "1:9: expected `,` or `)` to close the `(` at 1:6 of `MAX`, near \"2)\""
        );
        // A long token is quoted short.
        // The first error in the text is reported, even when the lexer stops later.
        assert_eq!(err("X:(1;Y:#").message, "expected `)` to close the `(` at 1:3");
        assert_eq!(err("X:1 {a {b} c}").message, "unexpected `c`: expected an operator, or `;` to end the statement");
        assert_eq!(err("X:1;\nY:2 #").message, "unknown character `#`");
        // Long names are quoted short, so that a message stays small (it travels in a gRPC status).
        let name = "N".repeat(5_000);
        let e = err(&format!("{name}:1;{name}:2"));
        assert_eq!(e.message, format!("`{}…` is already defined at 1:1", "N".repeat(24)));
        let e = err(&format!("X:{name}(1 2)"));
        assert_eq!(e.message, format!("expected `,` or `)` to close the `(` at 1:5003 of `{}…`", "N".repeat(24)));
        let long = format!("X:1 {}", "A".repeat(100));
        assert_eq!(
            err(&long).message,
            format!("unexpected `{}…`: expected an operator, or `;` to end the statement", "A".repeat(24))
        );
    }

    #[test]
    fn limits() {
        // 100 KB of text.
        let text = "X:1;".repeat(25_600);
        let e = err(&text);
        assert!(e.limit);
        assert_eq!((e.line, e.column), (1, 1));
        assert_eq!(e.message, "the formula is 102400 bytes, over the limit of 16 KiB (16384 bytes)");
        // Exactly 16 KiB is allowed.
        let mut text = String::from("X:1;");
        text.push_str(&" ".repeat(MAX_FORMULA_BYTES - text.len()));
        assert_eq!(ok(&text).statements.len(), 1);
        text.push(' ');
        assert!(err(&text).limit);

        // 300 statements; 256 are fine, and empty ones do not count.
        let text: String = (0..300).map(|i| format!("A{i}:=1;")).collect();
        let e = err(&text);
        assert!(e.limit);
        assert_eq!(e.message, "more than 256 statements, the limit");
        assert_eq!(e.near, "A256:=1;A257:=1;A258:=1;");
        let text: String = (0..256).map(|i| format!("A{i}:=1;;")).collect();
        assert_eq!(ok(&text).statements.len(), 256);

        // Depth 1,000 of parentheses, of calls, of unary operators; 64 of each is fine.
        let depth_message =
            "nesting deeper than the limit of 64 levels (parentheses, calls and unary operators each count one)";
        for (open, close) in [("(", ")"), ("ABS(", ")"), ("-", ""), ("NOT ", ""), ("+", ""), ("-(", ")")] {
            let nested = |depth: usize| format!("X:{}C{}", open.repeat(depth), close.repeat(depth));
            let e = err(&nested(1_000));
            assert!(e.limit, "{open}");
            assert_eq!(e.message, depth_message);
            if open != "-(" {
                ok(&nested(64));
                assert_eq!(err(&nested(65)).message, depth_message);
            }
        }
        ok(&format!("X:{}C{}", "-(".repeat(32), ")".repeat(32)));
        // Siblings do not add up: only nesting counts.
        ok(&format!("X:{}", vec!["((((C))))"; 100].join("+")));

        // A chain of operators is as high as it is long: up to 511 operators.
        let chain = |n: usize| format!("X:C{}", "+C".repeat(n));
        ok(&chain(MAX_HEIGHT as usize - 1));
        let e = err(&chain(MAX_HEIGHT as usize));
        assert!(e.limit);
        assert_eq!(
            e.message,
            "an expression deeper than the limit of 512 levels (each operator of a chain such as `A+B+C` counts \
             one); split it into statements, `NAME:=expr`"
        );
        assert!(err(&format!("X:{}C{}{}", "(".repeat(20), "+C".repeat(600), ")".repeat(20))).limit);
    }

    /// Without the size limit, the depth limit alone keeps deep nesting off the stack.
    #[test]
    fn no_stack_overflow() {
        for (open, close) in [("(", ")"), ("MAX(C,", ")"), ("-", ""), ("NOT ", "")] {
            let text = format!("X:{}C{}", open.repeat(100_000), close.repeat(100_000));
            let e = parse_limited(&text, usize::MAX).unwrap_err();
            assert!(e.limit && e.message.starts_with("nesting deeper"), "{e}");
            let text = format!("X:{}", open.repeat(100_000));
            assert!(parse_limited(&text, usize::MAX).unwrap_err().limit);
        }
        let text = format!("X:C{}", "*C".repeat(100_000));
        assert!(parse_limited(&text, usize::MAX).unwrap_err().limit);
    }

    /// Every prefix and a few mutations of valid formulas: errors, never a panic, and every error
    /// is at a place in the text.
    #[test]
    fn never_panics() {
        let seeds = [
            "DIF:EMA(CLOSE,12)-EMA(CLOSE,26); DEA:EMA(DIF,9); MACD:(DIF-DEA)*2;",
            "{KDJ}RSV:=(C-LLV(L,9))/(HHV(H,9)-LLV(L,9))*100;K:SMA(RSV,3,1);D:SMA(K,3,1);J:3*K-2*D;",
            "X:=MACD(12,26,9).DIF; // comment\nCROSS(X,0) AND NOT(C<O) || C>=1e3 && C!=.5",
            "收:=C；Y:（C+1）*2，",
        ];
        let extras = ["(", ")", ",", ";", ":", ":=", ".", "{", "}", "//", "-", "NOT", "é", "\n", "1e", "AND"];
        for seed in seeds {
            let mut cuts: Vec<usize> = seed.char_indices().map(|(i, _)| i).collect();
            cuts.push(seed.len());
            for &cut in &cuts {
                for variant in [
                    seed[..cut].to_string(),
                    seed[cut..].to_string(),
                    format!("{}{}", &seed[..cut], &seed[cut..].chars().skip(1).collect::<String>()),
                ] {
                    check(&variant);
                    for extra in extras {
                        check(&format!("{extra}{variant}"));
                        let mid = variant.char_indices().map(|(i, _)| i).nth(variant.chars().count() / 2).unwrap_or(0);
                        check(&format!("{}{extra}{}", &variant[..mid], &variant[mid..]));
                    }
                }
            }
        }
    }

    fn check(text: &str) {
        match parse(text) {
            Ok(formula) => assert!(!formula.statements.is_empty()),
            Err(e) => {
                assert!(e.line >= 1 && e.column >= 1, "{text:?}: {e}");
                assert!(e.line as usize <= text.lines().count().max(1) + 1, "{text:?}: {e}");
                assert!(e.near.chars().count() <= 24);
                assert!(e.message.len() <= 400, "{text:?}: {e}");
            }
        }
    }
}
