//! From a parsed formula to a [`Program`]: every name resolved (a series, or an earlier
//! statement), every function known with its number of arguments, every period a constant in its
//! range (as 通达信 has them), and a built-in's output chosen where it has several. Each error
//! says where, and what would be right.

use std::collections::HashMap;

use super::ast::{Expr, Formula, Span};
use super::ema::Ema;
use super::error::FormulaError;
use super::ops::{Cross, Stateful, Window};
use super::program::{BuiltIn, Field, Op, Program, States};
use crate::domain::indicators::{self, mytt, Convention, Indicator, MAX_PERIOD};

/// The functions of the language, with MyTT's meaning, and how many arguments each takes.
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("REF", "REF(X, N): X, N bars ago (N may be left out: 1)"),
    ("MA", "MA(X, N): the mean of the last N values"),
    ("EMA", "EMA(X, N): the exponential average, α = 2 / (N + 1), from the first value"),
    ("SMA", "SMA(X, N, M): the Chinese SMA, α = M / N (M may be left out: 1)"),
    ("WMA", "WMA(X, N): the weighted average, the newest value weighing N"),
    ("DMA", "DMA(X, A): the exponential average with α = A, 0 < A <= 1"),
    ("SUM", "SUM(X, N): the sum of the last N values; N = 0, the running total"),
    ("HHV", "HHV(X, N): the highest of the last N values"),
    ("LLV", "LLV(X, N): the lowest of the last N values"),
    ("STD", "STD(X, N): the population standard deviation of the last N values"),
    ("AVEDEV", "AVEDEV(X, N): the mean absolute deviation of the last N values"),
    ("ABS", "ABS(X)"),
    ("MAX", "MAX(A, B): the larger of the two"),
    ("MIN", "MIN(A, B): the smaller of the two"),
    ("IF", "IF(COND, A, B): A where COND is true (not 0), else B"),
    ("COUNT", "COUNT(COND, N): how many of the last N bars COND held"),
    ("EVERY", "EVERY(COND, N): 1 if COND held on each of the last N bars"),
    ("EXIST", "EXIST(COND, N): 1 if COND held on one of the last N bars"),
    ("CROSS", "CROSS(A, B): 1 where A went above B on this bar"),
    ("BARSLAST", "BARSLAST(COND): bars since COND last held"),
    ("SLOPE", "SLOPE(X, N): the slope of the least-squares line through the last N values"),
    ("ROUND", "ROUND(X, N): X rounded to N decimals, halves to even (N may be left out: 0)"),
    ("NOT", "NOT(X): 1 where X is 0, else 0"),
];

/// The series a formula reads.
const SERIES: &[(&str, Field)] = &[
    ("OPEN", Field::Open),
    ("O", Field::Open),
    ("HIGH", Field::High),
    ("H", Field::High),
    ("LOW", Field::Low),
    ("L", Field::Low),
    ("CLOSE", Field::Close),
    ("C", Field::Close),
    ("VOL", Field::Volume),
    ("V", Field::Volume),
    ("VOLUME", Field::Volume),
    ("ADJ_FACTOR", Field::AdjFactor),
];

/// Compiles `formula` (parsed from `text`); built-ins in it compute in `convention`.
pub(super) fn compile(text: &str, formula: &Formula, convention: Convention) -> Result<Program, FormulaError> {
    let later: HashMap<String, Span> = formula.statements.iter().map(|s| (s.name.clone(), s.span)).collect();
    let mut c = Compiler {
        text,
        convention,
        ops: Vec::new(),
        states: States::default(),
        names: HashMap::new(),
        built: HashMap::new(),
        later,
        current: None,
    };
    let mut outputs = Vec::new();
    for statement in &formula.statements {
        c.current = Some(statement.name.clone());
        let op = c.expr(&statement.expr)?;
        c.names.insert(statement.name.clone(), op);
        if statement.output {
            outputs.push((statement.name.clone(), op));
        }
    }
    if outputs.is_empty() {
        let span = formula.statements.last().map(|s| s.span).unwrap_or_default();
        return Err(FormulaError::at(text, span, "the formula has no output line: write at least one `NAME:expr`"));
    }
    Ok(Program::new(c.ops, c.states, outputs))
}

struct Compiler<'a> {
    text: &'a str,
    convention: Convention,
    ops: Vec<Op>,
    /// The operations' fresh states, by kind.
    states: States,
    names: HashMap<String, usize>,
    /// Built-ins already computed, by canonical label: `MACD(12,26,9).DIF` and `.DEA` share one.
    built: HashMap<String, usize>,
    /// Every statement's name and place, to tell a name defined later from an unknown one.
    later: HashMap<String, Span>,
    /// The statement being compiled.
    current: Option<String>,
}

impl Compiler<'_> {
    fn push(&mut self, op: Op) -> usize {
        self.ops.push(op);
        self.ops.len() - 1
    }

    fn error(&self, span: Span, message: impl Into<String>) -> FormulaError {
        FormulaError::at(self.text, span, message)
    }

    fn expr(&mut self, expr: &Expr) -> Result<usize, FormulaError> {
        Ok(match expr {
            Expr::Number(x, _) => self.push(Op::Const(*x)),
            Expr::Name(name, span) => self.name(name, *span)?,
            Expr::Unary { op, expr, .. } => {
                let a = self.expr(expr)?;
                self.push(Op::Unary(*op, a))
            }
            // A constant operand is folded into the operation: one operation less a bar.
            Expr::Binary { op, lhs, rhs, .. } => match (&**lhs, &**rhs) {
                (_, Expr::Number(c, _)) => {
                    let a = self.expr(lhs)?;
                    self.push(Op::BinaryConst(*op, a, *c))
                }
                (Expr::Number(c, _), _) => {
                    let b = self.expr(rhs)?;
                    self.push(Op::ConstBinary(*op, *c, b))
                }
                _ => {
                    let (a, b) = (self.expr(lhs)?, self.expr(rhs)?);
                    self.push(Op::Binary(*op, a, b))
                }
            },
            Expr::Call { name, args, output, span } => self.call(name, args, output.as_deref(), *span)?,
        })
    }

    fn name(&mut self, full: &str, span: Span) -> Result<usize, FormulaError> {
        if let Some(&op) = self.names.get(full) {
            return Ok(op);
        }
        if let Some(&(_, field)) = SERIES.iter().find(|(n, _)| *n == full) {
            // One operation a series, however many times it is named (`C` and `CLOSE` too).
            return Ok(match self.ops.iter().position(|op| matches!(op, Op::Field(f) if *f == field)) {
                Some(op) => op,
                None => self.push(Op::Field(field)),
            });
        }
        let name = shown(full);
        let name = name.as_str();
        if self.current.as_deref() == Some(full) {
            return Err(
                self.error(span, format!("{name} refers to itself: a statement sees only the statements before it"))
            );
        }
        if let Some(at) = self.later.get(full) {
            return Err(self.error(
                span,
                format!(
                    "{name} is defined later, at {}:{}: a statement sees only the statements before it (move it up)",
                    at.line, at.column
                ),
            ));
        }
        if let Some((_, usage)) = FUNCTIONS.iter().find(|(f, _)| *f == name) {
            return Err(self.error(span, format!("{name} is a function: {usage}")));
        }
        if let Some(def) = indicators::find(name) {
            return Err(self.error(
                span,
                format!("{} is a built-in indicator: call it, {}() for its defaults", def.name, def.name),
            ));
        }
        let hint = suggest(full, SERIES.iter().map(|(n, _)| *n).chain(self.names.keys().map(String::as_str)));
        Err(self.error(
            span,
            format!(
                "unknown name {name}{hint}: a formula reads OPEN HIGH LOW CLOSE VOL (O H L C V), ADJ_FACTOR and the \
                 names of the statements before it"
            ),
        ))
    }

    fn call(&mut self, name: &str, args: &[Expr], output: Option<&str>, span: Span) -> Result<usize, FormulaError> {
        if FUNCTIONS.iter().any(|(f, _)| *f == name) {
            if let Some(output) = output {
                return Err(self.error(
                    span,
                    format!("{name} has one value; .{} selects an output of a built-in indicator", shown(output)),
                ));
            }
            return self.function(name, args, span);
        }
        if let Some(def) = indicators::find(name) {
            return self.built_in(def, args, output, span);
        }
        let known = FUNCTIONS.iter().map(|(f, _)| *f).chain(indicators::ALL.iter().map(|d| d.name));
        let hint = suggest(name, known);
        Err(self.error(span, format!("unknown function {}{hint}", shown(name))))
    }

    fn arity(&self, name: &str, args: &[Expr], allowed: &[usize], span: Span) -> Result<(), FormulaError> {
        if allowed.contains(&args.len()) {
            return Ok(());
        }
        let usage = FUNCTIONS.iter().find(|(f, _)| *f == name).map_or("", |(_, u)| u);
        let counts: Vec<String> = allowed.iter().map(usize::to_string).collect();
        Err(self.error(span, format!("{name} takes {} arguments, not {}: {usage}", counts.join(" or "), args.len())))
    }

    /// Argument `i` of `name` as a constant in `low..=high`, a whole number when `whole`.
    fn constant(
        &self,
        name: &str,
        args: &[Expr],
        i: usize,
        low: f64,
        high: f64,
        whole: bool,
    ) -> Result<f64, FormulaError> {
        let arg = &args[i];
        let value = match arg {
            Expr::Number(x, _) => Some(*x),
            Expr::Unary { op: super::ast::UnaryOp::Neg, expr, .. } => match &**expr {
                Expr::Number(x, _) => Some(-x),
                _ => None,
            },
            _ => None,
        };
        let what = if whole { "a whole number" } else { "a number" };
        let Some(value) = value else {
            return Err(self.error(
                arg.span(),
                format!("{name}'s argument {} must be a constant ({what} from {low} to {high}), as in 通达信", i + 1),
            ));
        };
        if !(low..=high).contains(&value) || (whole && value.fract() != 0.0) {
            return Err(self.error(
                arg.span(),
                format!("{name}'s argument {} is {}: it must be {what} from {low} to {high}", i + 1, number(value)),
            ));
        }
        Ok(value)
    }

    fn period(&self, name: &str, args: &[Expr], i: usize, low: usize) -> Result<usize, FormulaError> {
        Ok(self.constant(name, args, i, low as f64, MAX_PERIOD as f64, true)? as usize)
    }

    fn function(&mut self, name: &str, args: &[Expr], span: Span) -> Result<usize, FormulaError> {
        let stateful = |c: &mut Compiler, state: Stateful| -> Result<usize, FormulaError> {
            let a = c.expr(&args[0])?;
            c.states.filters.push(state);
            Ok(c.push(Op::Stateful(a, c.states.filters.len() - 1)))
        };
        let ewm = |c: &mut Compiler, state: Ema| -> Result<usize, FormulaError> {
            let a = c.expr(&args[0])?;
            c.states.ewms.push(state);
            Ok(c.push(Op::Ewm(a, c.states.ewms.len() - 1)))
        };
        match name {
            "REF" => {
                self.arity(name, args, &[1, 2], span)?;
                let n = if args.len() == 2 { self.period(name, args, 1, 0)? } else { 1 };
                stateful(self, Stateful::Ref(mytt::Ref::new(n)))
            }
            "MA" | "EMA" | "WMA" | "HHV" | "LLV" | "STD" | "AVEDEV" | "SLOPE" => {
                self.arity(name, args, &[2], span)?;
                let n = self.period(name, args, 1, if name == "SLOPE" { 2 } else { 1 })?;
                let state = match name {
                    "EMA" => return ewm(self, Ema::ema(n)),
                    "MA" => Stateful::Ma(mytt::Ma::new(n)),
                    "WMA" => Stateful::Wma(Window::new(n)),
                    "HHV" => Stateful::Extreme(mytt::Extreme::highest(n)),
                    "LLV" => Stateful::Extreme(mytt::Extreme::lowest(n)),
                    "STD" => Stateful::Std(mytt::Std::new(n)),
                    "AVEDEV" => Stateful::Avedev(mytt::Avedev::new(n)),
                    _ => Stateful::Slope(Window::new(n)),
                };
                stateful(self, state)
            }
            "SMA" => {
                self.arity(name, args, &[2, 3], span)?;
                let n = self.period(name, args, 1, 1)?;
                let m = if args.len() == 3 { self.constant(name, args, 2, 1.0, n as f64, true)? as usize } else { 1 };
                ewm(self, Ema::sma(n, m))
            }
            "DMA" => {
                self.arity(name, args, &[2], span)?;
                let alpha = self.constant(name, args, 1, 0.0, 1.0, false)?;
                if alpha == 0.0 {
                    return Err(self.error(args[1].span(), "DMA's argument 2 is 0: it must be above 0 and at most 1"));
                }
                ewm(self, Ema::new(alpha))
            }
            "SUM" | "COUNT" | "EVERY" | "EXIST" => {
                self.arity(name, args, &[2], span)?;
                let low = if matches!(name, "SUM" | "COUNT") { 0 } else { 1 };
                let n = self.period(name, args, 1, low)?;
                let sum = mytt::Sum::new(n);
                let state = match name {
                    "EVERY" => Stateful::Every(sum, n as f64),
                    "EXIST" => Stateful::Exist(sum),
                    _ => Stateful::Sum(sum),
                };
                stateful(self, state)
            }
            "BARSLAST" => {
                self.arity(name, args, &[1], span)?;
                stateful(self, Stateful::BarsLast(0.0))
            }
            "ABS" | "NOT" => {
                self.arity(name, args, &[1], span)?;
                let a = self.expr(&args[0])?;
                Ok(self.push(if name == "ABS" { Op::Abs(a) } else { Op::Unary(super::ast::UnaryOp::Not, a) }))
            }
            "MAX" | "MIN" | "CROSS" => {
                self.arity(name, args, &[2], span)?;
                let (a, b) = (self.expr(&args[0])?, self.expr(&args[1])?);
                if name == "CROSS" {
                    self.states.crosses.push(Cross::default());
                    return Ok(self.push(Op::Cross(a, b, self.states.crosses.len() - 1)));
                }
                Ok(self.push(Op::Extreme(a, b, name == "MAX")))
            }
            "IF" => {
                self.arity(name, args, &[3], span)?;
                let (c, a, b) = (self.expr(&args[0])?, self.expr(&args[1])?, self.expr(&args[2])?);
                Ok(self.push(Op::If(c, a, b)))
            }
            "ROUND" => {
                self.arity(name, args, &[1, 2], span)?;
                let digits = if args.len() == 2 { self.constant(name, args, 1, -15.0, 15.0, true)? as i32 } else { 0 };
                let a = self.expr(&args[0])?;
                Ok(self.push(Op::Round(a, digits)))
            }
            _ => unreachable!("every name of FUNCTIONS is compiled above"),
        }
    }

    fn built_in(
        &mut self,
        def: &'static indicators::Def,
        args: &[Expr],
        output: Option<&str>,
        span: Span,
    ) -> Result<usize, FormulaError> {
        let mut params = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            match arg {
                Expr::Number(x, _) => params.push(*x),
                _ => {
                    return Err(self.error(
                        arg.span(),
                        format!("{}'s parameter {} must be a constant, as in 通达信", def.name, i + 1),
                    ))
                }
            }
        }
        let indicator =
            Indicator::new(def.name, &params, self.convention).map_err(|e| self.error(span, e.to_string()))?;
        let pick = match (def.outputs, output) {
            ([_], None) => 0,
            ([_], Some(output)) => {
                return Err(self.error(span, format!("{} has one output; leave out .{}", def.name, shown(output))));
            }
            (outputs, Some(output)) => match outputs.iter().position(|o| o.eq_ignore_ascii_case(output)) {
                Some(k) => k,
                None => {
                    return Err(self.error(
                        span,
                        format!("{} has no output {}: its outputs are {}", def.name, shown(output), outputs.join(", ")),
                    ))
                }
            },
            (outputs, None) => {
                return Err(self.error(
                    span,
                    format!(
                        "{} has several outputs: choose one, e.g. {}.{}",
                        indicator.label(),
                        indicator.label(),
                        outputs[0]
                    ),
                ))
            }
        };
        let key = indicator.label();
        let built = match self.built.get(&key) {
            Some(&op) => op,
            None => {
                let values = vec![f64::NAN; indicator.outputs()];
                let stream = indicator.stream();
                self.states.built.push(BuiltIn { indicator, stream, values });
                let op = self.push(Op::BuiltIn(self.states.built.len() - 1));
                self.built.insert(key, op);
                op
            }
        };
        Ok(self.push(Op::Pick(built, pick)))
    }
}

/// A number as a message shows it: short, whatever its size.
fn number(x: f64) -> String {
    if x != 0.0 && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// A name from the formula as a message shows it: at most 24 characters, so that a refusal stays
/// small whatever the text.
fn shown(name: &str) -> String {
    match name.char_indices().nth(24) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_string(),
    }
}

/// ` (did you mean X?)` for the known name closest to `name`, when one is close.
fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let best = known.map(|k| (distance(name, k), k)).filter(|&(d, _)| d <= 2).min();
    best.map(|(_, k)| format!(" (did you mean {}?)", shown(k))).unwrap_or_default()
}

/// Levenshtein distance, for names of a few letters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}
