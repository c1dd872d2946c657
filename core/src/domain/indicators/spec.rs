//! Indicator specs as text (`MACD(12,26,9)`, `RSI`, `BOLL(20,2.5)`), their canonical form, and the
//! parameter checks, with messages that name the spec, the parameter and the range allowed.

use super::{Def, ParamKind, ALL, MAX_PERIOD};

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown indicator {name:?}: the built-ins are {}", names())]
    Unknown { name: String },
    #[error("{name} takes {expected}; got {got}")]
    Count { name: String, expected: String, got: usize },
    #[error("{name} parameter {param} is {value}: it must be {allowed}")]
    Value { name: String, param: String, value: String, allowed: String },
    #[error("{name}: {reason}")]
    Relation { name: String, reason: String },
    #[error("{text:?} is not an indicator spec: write NAME or NAME(P1,P2,...), as in MACD(12,26,9)")]
    Syntax { text: String },
}

fn names() -> String {
    ALL.iter().map(|def| def.name).collect::<Vec<_>>().join(", ")
}

/// `3 parameters (SHORT, LONG, M), or none for the defaults`; `no parameters`.
fn expected(def: &Def) -> String {
    let names = def.params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    match def.params.len() {
        0 => "no parameters".to_string(),
        1 => format!("1 parameter ({names}), or none for the default"),
        n => format!("{n} parameters ({names}), or none for the defaults"),
    }
}

/// Checks each parameter's kind and range, then the checks across them.
pub(super) fn check_params(def: &Def, params: &[f64]) -> Result<(), SpecError> {
    if params.len() != def.params.len() {
        return Err(SpecError::Count { name: def.name.to_string(), expected: expected(def), got: params.len() });
    }
    for (param, &value) in def.params.iter().zip(params) {
        let (ok, allowed) = match param.kind {
            ParamKind::Period => (
                value.is_finite() && value.fract() == 0.0 && (1.0..=MAX_PERIOD as f64).contains(&value),
                format!("a whole number of bars from 1 to {MAX_PERIOD}"),
            ),
            ParamKind::Positive => (value.is_finite() && value > 0.0, "a finite number above 0".to_string()),
        };
        if !ok {
            return Err(SpecError::Value {
                name: def.name.to_string(),
                param: param.name.to_string(),
                value: format_number(value),
                allowed,
            });
        }
    }
    (def.check)(params).map_err(|reason| SpecError::Relation { name: def.name.to_string(), reason })
}

/// A parameter as labels show it: integers without a decimal point (`12`, not `12.0`).
pub fn format_number(value: f64) -> String {
    format!("{value}")
}

/// `NAME(P1,P2,...)`, or `NAME` alone when there are no parameters.
pub fn canonical(name: &str, params: &[f64]) -> String {
    if params.is_empty() {
        return name.to_string();
    }
    let params: Vec<String> = params.iter().map(|&p| format_number(p)).collect();
    format!("{name}({})", params.join(","))
}

/// `MACD(12,26,9)` → (`MACD`, [12, 26, 9]); `RSI` → (`RSI`, []). Spaces around items are allowed.
pub fn parse_spec(text: &str) -> Result<(String, Vec<f64>), SpecError> {
    let syntax = || SpecError::Syntax { text: text.to_string() };
    let text_trimmed = text.trim();
    let (name, params) = match text_trimmed.split_once('(') {
        None => (text_trimmed, Vec::new()),
        Some((name, rest)) => {
            let inside = rest.strip_suffix(')').ok_or_else(syntax)?;
            let params = if inside.trim().is_empty() {
                Vec::new()
            } else {
                inside.split(',').map(|p| p.trim().parse::<f64>().map_err(|_| syntax())).collect::<Result<_, _>>()?
            };
            (name.trim(), params)
        }
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(syntax());
    }
    Ok((name.to_string(), params))
}

/// Splits `MACD(12,26,9),RSI(6)` at the commas outside parentheses.
pub fn split_specs(text: &str) -> Vec<&str> {
    let mut specs = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                specs.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    specs.push(text[start..].trim());
    specs.retain(|s| !s.is_empty());
    specs
}

#[cfg(test)]
mod tests {
    use super::super::{Convention, Indicator};
    use super::*;

    #[test]
    fn specs_parse_and_split() {
        assert_eq!(parse_spec("MACD(12,26,9)").unwrap(), ("MACD".to_string(), vec![12.0, 26.0, 9.0]));
        assert_eq!(parse_spec(" rsi ").unwrap(), ("rsi".to_string(), vec![]));
        assert_eq!(parse_spec("BOLL(20, 2.5)").unwrap(), ("BOLL".to_string(), vec![20.0, 2.5]));
        assert!(parse_spec("MACD(12,26").is_err());
        assert!(parse_spec("MA(x)").is_err());
        assert_eq!(split_specs("MACD(12,26,9),RSI(6), OBV"), ["MACD(12,26,9)", "RSI(6)", "OBV"]);
    }

    #[test]
    fn refusals_name_the_spec_the_parameter_and_the_range() {
        let err = |name: &str, params: &[f64]| Indicator::new(name, params, Convention::Cn).unwrap_err().to_string();
        assert_eq!(
            err("MACD", &[12.0, 26.0]),
            "MACD takes 3 parameters (SHORT, LONG, M), or none for the defaults; got 2"
        );
        assert_eq!(err("RSI", &[0.0]), "RSI parameter N is 0: it must be a whole number of bars from 1 to 10000");
        assert_eq!(err("RSI", &[2.5]), "RSI parameter N is 2.5: it must be a whole number of bars from 1 to 10000");
        assert_eq!(err("MA", &[f64::NAN]), "MA parameter N is NaN: it must be a whole number of bars from 1 to 10000");
        assert_eq!(err("BOLL", &[20.0, -1.0]), "BOLL parameter P is -1: it must be a finite number above 0");
        assert_eq!(err("OBV", &[3.0]), "OBV takes no parameters; got 1");
        assert!(err("MACDX", &[]).starts_with("unknown indicator \"MACDX\": the built-ins are MA, EMA, SMA, MACD"));
        assert_eq!(err("MACD", &[26.0, 12.0, 9.0]), "MACD: SHORT (26) must be below LONG (12)");
    }
}
