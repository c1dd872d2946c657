//! Formulas: 通达信-style custom indicators, parsed, checked and compiled once, then run over
//! whole columns (`Compute`, `Chart`) or stepped one bar at a time (`Subscribe`) with the same
//! operations, so that both give the same values.
//!
//! * [`ast`]: the parsed formula, every node with its place in the text.
//! * [`error`]: a formula's error, with line, column and the text around it.
//! * [`parse`]: the parser from text to [`ast::Formula`].
//! * `compile`: names, functions, arities and constant periods checked; a [`Program`] built.
//! * `program`: the [`Program`], run over columns or as a [`crate::domain::indicators::Stream`].
//! * `ops`: the functions' meaning, MyTT 2.9.3's, with numpy's NaN rules.
//!
//! No formula can read anything but the bars of the instrument it runs over: the language has
//! no file, network, clock or other-instrument function.

pub mod ast;
mod compile;
pub mod error;
mod ops;
pub mod parse;
mod program;

pub use compile::FUNCTIONS;
pub use error::FormulaError;
pub use parse::parse;
pub use program::Program;

use crate::domain::indicators::Convention;

impl Program {
    /// Parses, checks and compiles `text`; the built-ins it names compute in `convention`.
    pub fn compile(text: &str, convention: Convention) -> Result<Program, FormulaError> {
        let formula = parse(text)?;
        compile::compile(text, &formula, convention)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzer: an unknown name of 1,000 characters was quoted whole in the refusal.
    #[test]
    fn refusals_quote_long_names_short() {
        let long = "U".repeat(1000);
        for text in [
            format!("MID:MA(C,20); {long}:MID+1; X:{long}2;"),
            format!("X:{long}(C);"),
            format!("X:MACD(12,26,9).{long};"),
            format!("X:MA(C,5).{long};"),
            format!("X:MA(C,{long});"),
            "X:MA(C,1e300);".to_string(),
        ] {
            let e = Program::compile(&text, Convention::Cn).unwrap_err();
            assert!(e.to_string().len() < 300, "{} bytes: {e}", e.to_string().len());
        }
    }
}
