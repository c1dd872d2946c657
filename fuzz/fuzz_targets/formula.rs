//! Formulas on arbitrary text: the parser, the checker and the evaluator.
//!
//! The parser never panics (no input reaches the end of the stack: nesting is limited); a
//! refusal is at a place in the text, with a bounded message (it travels in a gRPC status), and a
//! limit's refusal only for text that can pass one; what it accepts has at least one statement,
//! names in upper case and spans inside the text. What also compiles runs over 64 bars of a
//! fixed random walk: one column of 64 values per output, and the same values, to 1e-9 relative,
//! when the program is stepped one bar at a time as `Subscribe` runs it.

#![no_main]

use idc_core::domain::formula::ast::{Expr, Span};
use idc_core::domain::formula::parse::{parse, MAX_FORMULA_BYTES};
use idc_core::domain::formula::{FormulaError, Program};
use idc_core::domain::indicators::{Convention, Prices};
use libfuzzer_sys::fuzz_target;

const BARS: usize = 64;
/// The longest message a refusal may have.
const MAX_MESSAGE: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse(text) {
        Ok(formula) => {
            assert!(!formula.statements.is_empty());
            for statement in &formula.statements {
                assert!(!statement.name.is_empty());
                assert_eq!(statement.name, statement.name.to_ascii_uppercase());
                check_span(text, statement.span);
                check_expr(text, &statement.expr);
            }
        }
        Err(e) => check_error(text, &e),
    }

    match Program::compile(text, Convention::Cn) {
        Ok(program) => run(&program),
        Err(e) => check_error(text, &e),
    }
});

fn check_error(text: &str, e: &FormulaError) {
    let lines = 1 + text.matches('\n').count();
    assert!((1..=lines as u32).contains(&e.line), "line {} of {lines}: {e}", e.line);
    assert!(e.column >= 1, "{e}");
    assert!(e.near.chars().count() <= 24, "{e}");
    let message = e.to_string();
    assert!(message.len() <= MAX_MESSAGE, "{} bytes: {message}", message.len());
    if e.limit && e.message.contains("bytes") {
        assert!(text.len() > MAX_FORMULA_BYTES, "{e}");
    }
}

fn check_span(text: &str, span: Span) {
    assert!(span.start <= span.end && span.end <= text.len(), "{span:?}");
    assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "{span:?}");
    assert!(span.line >= 1 && span.column >= 1, "{span:?}");
}

/// Every node's span, inside its parent's (the tree is at most `MAX_HEIGHT` high, so this
/// recursion is bounded).
fn check_expr(text: &str, expr: &Expr) {
    let span = expr.span();
    check_span(text, span);
    let children: Vec<&Expr> = match expr {
        Expr::Number(value, _) => {
            assert!(value.is_finite() && *value >= 0.0, "{value}");
            vec![]
        }
        Expr::Name(name, _) => {
            assert_eq!(*name, name.to_ascii_uppercase());
            vec![]
        }
        Expr::Unary { expr, .. } => vec![expr],
        Expr::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        Expr::Call { args, .. } => args.iter().collect(),
    };
    for child in children {
        let inner = child.span();
        assert!(span.start <= inner.start && inner.end <= span.end, "{inner:?} outside {span:?}");
        check_expr(text, child);
    }
}

/// A fixed random walk of 64 bars (a linear congruential generator, so every run is the same).
fn walk() -> [Vec<f64>; 5] {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut unit = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut open, mut high, mut low, mut close, mut volume) = (vec![], vec![], vec![], vec![], vec![]);
    let mut last: f64 = 10.0;
    for _ in 0..BARS {
        let o = last * (1.0 + (unit() - 0.5) * 0.02);
        let c = o * (1.0 + (unit() - 0.5) * 0.06);
        high.push(o.max(c) * (1.0 + unit() * 0.02));
        low.push(o.min(c) * (1.0 - unit() * 0.02));
        open.push(o);
        close.push(c);
        // Some days without trades: a formula dividing by VOL meets zero.
        volume.push(if unit() < 0.1 { 0.0 } else { (unit() * 1e6).round() });
        last = c;
    }
    [open, high, low, close, volume]
}

fn run(program: &Program) {
    let [open, high, low, close, volume] = walk();
    let prices = Prices { open: &open, high: &high, low: &low, close: &close, volume: &volume, adj_factor: &[] };
    let batch = program.compute(&prices);
    assert_eq!(batch.len(), program.outputs());
    assert_eq!(program.output_names().len(), program.outputs());
    for column in &batch {
        assert_eq!(column.len(), BARS);
    }

    let mut stream = program.stream();
    let mut out = vec![f64::NAN; program.outputs()];
    for i in 0..BARS {
        stream.step(&prices.quote(i), &mut out);
        for (k, column) in batch.iter().enumerate() {
            let (live, batch) = (out[k], column[i]);
            let same = live == batch
                || (live.is_nan() && batch.is_nan())
                || (live - batch).abs() <= 1e-9 * live.abs().max(batch.abs()).max(1.0);
            assert!(same, "output {k} at bar {i}: stepped {live}, batch {batch}");
        }
    }
}
