//! A formula's error: where (line and column), the text around it, and what was wrong or
//! expected, e.g. `1:17: unknown function EMAA (did you mean EMA?), near "EMAA(CLOSE,12)"`.

use super::ast::Span;

/// What is wrong with a formula, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}{}", near_text(near))]
pub struct FormulaError {
    pub line: u32,
    pub column: u32,
    /// Up to 24 characters of the text from the place on (empty at the end of the text).
    pub near: String,
    pub message: String,
    /// A limit was passed (text size, statements, depth): `RESOURCE_EXHAUSTED` rather than
    /// `INVALID_ARGUMENT`.
    pub limit: bool,
}

fn near_text(near: &str) -> String {
    if near.is_empty() {
        String::from(", at the end of the formula")
    } else {
        format!(", near {near:?}")
    }
}

impl FormulaError {
    /// An error at `span` of `text`.
    pub fn at(text: &str, span: Span, message: impl Into<String>) -> FormulaError {
        let near: String = text.get(span.start..).unwrap_or("").chars().take(24).collect();
        let near = near.lines().next().unwrap_or("").trim_end().to_string();
        FormulaError { line: span.line, column: span.column, near, message: message.into(), limit: false }
    }

    /// A limit passed at `span`.
    pub fn limit(text: &str, span: Span, message: impl Into<String>) -> FormulaError {
        FormulaError { limit: true, ..FormulaError::at(text, span, message) }
    }
}
