//! The lexer of formulas: the text to [`Token`]s, skipping white space and comments, ending with
//! [`Kind::End`], or with [`Kind::Bad`] and the error where it stopped (see the grammar in
//! [`super`]).

use super::quoted;
use crate::domain::formula::ast::Span;
use crate::domain::formula::error::FormulaError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) span: Span,
    /// A number's value; 0 for other tokens.
    pub(super) value: f64,
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    column: u32,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Lexer<'a> {
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
    pub(super) fn tokens(mut self) -> (Vec<Token>, Option<FormulaError>) {
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
