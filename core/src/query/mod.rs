//! v2 requests, checked: from the protocol's messages to the domain's values, with every limit.
//!
//! Here rather than in the service so that whatever checks a request can run without gRPC (the
//! fuzz targets decode a `ComputeRequest` from bytes and run exactly these checks). Each refusal
//! carries the kind of status it becomes and a message that says what was wrong and how to fix it;
//! the service maps [`Kind`] to a gRPC status code and sends the message as it is.
//!
//! The checks of a `ComputeRequest`, in order, each before any work: the enums (proto3 decodes an
//! unknown value as a number), the dates, the indicator specs (count, name, parameters, labels),
//! the symbols (count, length, duplicates, then every unknown one at once), the adjustment's
//! precondition, and the size of every message the call would send.

mod push;
mod subscribe;

pub use push::{push, valid_new_symbol, PushQuery, PushedBar};
pub use subscribe::{subscribe, SubscribeQuery};

use std::collections::HashSet;
use std::sync::Arc;

use protobuf::EnumOrUnknown;

use crate::domain::catalog::{Catalog, Instrument};
use crate::domain::date::DateRange;
use crate::domain::indicators::{Convention, Indicator};
use crate::domain::series::{Adjust, BarColumns, Frequency, Labelled};
use crate::protocol::indicators as pb;

/// The most symbols one request may name.
pub const MAX_SYMBOLS: usize = 10_000;
/// The most indicators one request may ask.
pub const MAX_INDICATORS: usize = 64;
/// The most parameters one indicator may have.
pub const MAX_PARAMS: usize = 16;
/// The longest symbol, in bytes (a symbol is also a file name).
pub const MAX_SYMBOL_BYTES: usize = 64;
/// The longest label, in bytes.
pub const MAX_LABEL_BYTES: usize = 128;
/// The most rows one `Series` may carry.
pub const MAX_ROWS: usize = 100_000;
/// The largest `Series` sent: gRPC's default receive limit (4 MiB), less room for framing, so a
/// client with default settings reads every message.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024 - 4096;
/// At most this many unknown symbols are named in a refusal (the rest are counted).
const NAMED_UNKNOWN: usize = 20;

/// The gRPC status a refusal becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InvalidArgument,
    NotFound,
    FailedPrecondition,
    OutOfRange,
    ResourceExhausted,
}

/// A refused request: the status kind and the whole message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub kind: Kind,
    pub message: String,
}

pub(crate) fn invalid(message: impl Into<String>) -> QueryError {
    QueryError { kind: Kind::InvalidArgument, message: message.into() }
}

/// A checked `ComputeRequest`.
#[derive(Debug, Clone)]
pub struct ComputeQuery {
    /// In the order the reply sends them.
    pub instruments: Vec<Arc<Instrument>>,
    pub range: DateRange,
    pub adjust: Adjust,
    pub frequency: Frequency,
    pub indicators: Vec<Labelled>,
}

/// The request's convention; `CONVENTION_UNSPECIFIED` is the server's.
pub fn convention(value: EnumOrUnknown<pb::Convention>, server: Convention) -> Result<Convention, QueryError> {
    match value.enum_value() {
        Ok(pb::Convention::CONVENTION_UNSPECIFIED) => Ok(server),
        Ok(pb::Convention::CN) => Ok(Convention::Cn),
        Ok(pb::Convention::TALIB) => Ok(Convention::Talib),
        Err(n) => Err(invalid(format!(
            "convention {n} is not a Convention: use CONVENTION_UNSPECIFIED (0, the server's), CN (1) or TALIB (2)"
        ))),
    }
}

pub fn adjust(value: EnumOrUnknown<pb::Adjust>) -> Result<Adjust, QueryError> {
    match value.enum_value() {
        Ok(pb::Adjust::ADJUST_NONE) => Ok(Adjust::None),
        Ok(pb::Adjust::FORWARD) => Ok(Adjust::Forward),
        Ok(pb::Adjust::BACKWARD) => Ok(Adjust::Backward),
        Err(n) => {
            Err(invalid(format!("adjust {n} is not an Adjust: use ADJUST_NONE (0), FORWARD (1) or BACKWARD (2)")))
        }
    }
}

pub fn frequency(value: EnumOrUnknown<pb::Frequency>) -> Result<Frequency, QueryError> {
    match value.enum_value() {
        Ok(pb::Frequency::DAILY) => Ok(Frequency::Daily),
        Ok(pb::Frequency::WEEKLY) => Ok(Frequency::Weekly),
        Ok(pb::Frequency::MONTHLY) => Ok(Frequency::Monthly),
        Err(n) => Err(invalid(format!("frequency {n} is not a Frequency: use DAILY (0), WEEKLY (1) or MONTHLY (2)"))),
    }
}

/// The request's dates as a range.
pub fn range(start_date: &str, end_date: &str) -> Result<DateRange, QueryError> {
    DateRange::parse(start_date, end_date).map_err(|e| invalid(e.to_string()))
}

/// The specs, checked and labelled, in request order.
pub fn indicators(specs: &[pb::IndicatorSpec], convention: Convention) -> Result<Vec<Labelled>, QueryError> {
    if specs.len() > MAX_INDICATORS {
        return Err(invalid(format!(
            "{} indicators asked; at most {MAX_INDICATORS} a request: split it into several calls",
            specs.len()
        )));
    }
    let mut labels = HashSet::new();
    let mut out = Vec::with_capacity(specs.len());
    let mut formulas = 0;
    for (i, spec) in specs.iter().enumerate() {
        let labelled = if spec.formula.is_empty() {
            indicator(i, spec, convention)?
        } else {
            formulas += 1;
            formula(i, formulas, spec, convention)?
        };
        if !labels.insert(labelled.label.clone()) {
            return Err(invalid(format!(
                "indicator {}: the label {:?} is already used by an earlier indicator; give each a label of its own",
                i + 1,
                labelled.label
            )));
        }
        out.push(labelled);
    }
    Ok(out)
}

/// The most bytes of formula text one spec may carry.
pub const MAX_FORMULA_BYTES: usize = crate::domain::formula::parse::MAX_FORMULA_BYTES;

/// A formula spec (the `i`th, counted from 0; the `n`th formula, counted from 1), compiled.
fn formula(i: usize, n: usize, spec: &pb::IndicatorSpec, convention: Convention) -> Result<Labelled, QueryError> {
    let which = format!("indicator {} (formula {n})", i + 1);
    if !spec.name.is_empty() || !spec.params.is_empty() {
        return Err(invalid(format!("{which}: give either a built-in's name and parameters or a formula, not both")));
    }
    let indicator = Indicator::formula(&spec.formula, convention).map_err(|e| QueryError {
        kind: if e.limit { Kind::ResourceExhausted } else { Kind::InvalidArgument },
        message: format!("formula {n}, {e}"),
    })?;
    let label = if spec.label.is_empty() { format!("F{n}") } else { spec.label.clone() };
    if label.len() > MAX_LABEL_BYTES {
        return Err(invalid(format!("{which}: the label is {} bytes long; at most {MAX_LABEL_BYTES}", label.len())));
    }
    Ok(Labelled { label, indicator })
}

/// One spec (the `i`th, counted from 0), checked.
fn indicator(i: usize, spec: &pb::IndicatorSpec, convention: Convention) -> Result<Labelled, QueryError> {
    let which = format!("indicator {}", i + 1);
    if spec.name.is_empty() {
        return Err(invalid(format!("{which}: give a built-in's name (MACD, RSI, ...) or a formula")));
    }
    if spec.name.len() > MAX_LABEL_BYTES {
        return Err(invalid(format!("{which}: the name is {} bytes long; no built-in is", spec.name.len())));
    }
    if spec.params.len() > MAX_PARAMS {
        return Err(invalid(format!(
            "{which} ({}): {} parameters; at most {MAX_PARAMS}",
            spec.name.to_uppercase(),
            spec.params.len()
        )));
    }
    let indicator =
        Indicator::new(&spec.name, &spec.params, convention).map_err(|e| invalid(format!("{which}: {e}")))?;
    let label = if spec.label.is_empty() { indicator.label() } else { spec.label.clone() };
    if label.len() > MAX_LABEL_BYTES {
        // A label the client did not give is made of the parameters, which may be long (1e308).
        let made = if spec.label.is_empty() { " made of its parameters" } else { "" };
        return Err(invalid(format!(
            "{which}: the label{made} is {} bytes long; at most {MAX_LABEL_BYTES}: give it a shorter label \
             (IndicatorSpec.label)",
            label.len()
        )));
    }
    Ok(Labelled { label, indicator })
}

/// The instruments named (empty: every one, in symbol order), in the order asked.
pub fn instruments(symbols: &[String], catalog: &Catalog) -> Result<Vec<Arc<Instrument>>, QueryError> {
    if symbols.is_empty() {
        return Ok(catalog.iter().cloned().collect());
    }
    if symbols.len() > MAX_SYMBOLS {
        return Err(invalid(format!(
            "{} symbols asked; at most {MAX_SYMBOLS} a request: split it into several calls",
            symbols.len()
        )));
    }
    let mut seen = HashSet::new();
    for symbol in symbols {
        if symbol.len() > MAX_SYMBOL_BYTES {
            return Err(invalid(format!(
                "a symbol of {} bytes was asked; symbols are at most {MAX_SYMBOL_BYTES} bytes (ListInstruments lists them)",
                symbol.len()
            )));
        }
        if !seen.insert(symbol.as_str()) {
            return Err(invalid(format!("the symbol {symbol:?} is asked twice; ask each symbol once")));
        }
    }
    let unknown: Vec<&String> = symbols.iter().filter(|s| catalog.get(s).is_none()).collect();
    if !unknown.is_empty() {
        let mut named: Vec<String> = unknown.iter().take(NAMED_UNKNOWN).map(|s| quoted_symbol(s)).collect();
        if unknown.len() > NAMED_UNKNOWN {
            named.push(format!("and {} more", unknown.len() - NAMED_UNKNOWN));
        }
        let noun = if unknown.len() == 1 { "symbol" } else { "symbols" };
        return Err(QueryError {
            kind: Kind::NotFound,
            message: format!(
                "unknown {noun} {}: ListInstruments lists the symbols this server holds",
                named.join(", ")
            ),
        });
    }
    Ok(symbols.iter().map(|s| Arc::clone(catalog.get(s).expect("checked above"))).collect())
}

/// At most this many characters of an unknown symbol are quoted back: 20 symbols of 64 control
/// bytes, each escaped as six characters, were a 7.9 kB refusal, at the 8 KiB of metadata that
/// C-core clients take without refusing some.
const QUOTED_SYMBOL_CHARS: usize = 24;

fn quoted_symbol(symbol: &str) -> String {
    match symbol.char_indices().nth(QUOTED_SYMBOL_CHARS) {
        Some((cut, _)) => format!("{:?}…", &symbol[..cut]),
        None => format!("{symbol:?}"),
    }
}

/// The rows `bars` gives in `range` at `frequency`, counted without building them.
pub fn rows(bars: &BarColumns, frequency: Frequency, range: DateRange) -> usize {
    let window = bars.index_range(range);
    if frequency == Frequency::Daily {
        return window.len();
    }
    // A period cut by the range's start still counts: its bar is dated by its last day.
    let dates = &bars.date[window];
    let key = |d: &crate::domain::date::Date| match frequency {
        Frequency::Weekly => d.iso_week(),
        _ => (i64::from(d.year()), i64::from(d.month())),
    };
    dates.iter().map(key).collect::<Vec<_>>().windows(2).filter(|w| w[0] != w[1]).count()
        + usize::from(!dates.is_empty())
}

/// The encoded size of a `Series` of `rows` rows and `columns` indicator columns, a little over.
pub fn series_bytes(rows: usize, columns: usize) -> usize {
    // A date is a 10-byte string with its tag and length; every value a packed double.
    rows * (12 + 8 * (5 + columns)) + columns * (MAX_LABEL_BYTES + 16) + 256
}

/// Checks that every `Series` of the query fits one message; `OUT_OF_RANGE` naming the symbol
/// otherwise.
pub fn check_sizes(query: &ComputeQuery) -> Result<(), QueryError> {
    let columns: usize = query.indicators.iter().map(|l| l.indicator.outputs()).sum();
    for instrument in &query.instruments {
        let rows = rows(&instrument.bars, query.frequency, query.range);
        let bytes = series_bytes(rows, columns);
        if rows > MAX_ROWS || bytes > MAX_MESSAGE_BYTES {
            return Err(QueryError {
                kind: Kind::OutOfRange,
                message: format!(
                    "{}: {rows} rows × {columns} indicator columns is about {} MB, over the {} rows and 4 MiB a \
                     message may carry; shorten the range (start_date, end_date), ask fewer indicators, or a \
                     longer frequency",
                    instrument.symbol,
                    (bytes + 500_000) / 1_000_000,
                    MAX_ROWS
                ),
            });
        }
    }
    Ok(())
}

/// Every check of a `ComputeRequest`, in the order of the module doc.
pub fn compute(
    request: &pb::ComputeRequest,
    catalog: &Catalog,
    server: Convention,
) -> Result<ComputeQuery, QueryError> {
    let convention = convention(request.convention, server)?;
    let adjust = adjust(request.adjust)?;
    let frequency = frequency(request.frequency)?;
    let range = range(&request.start_date, &request.end_date)?;
    let indicators = indicators(&request.indicators, convention)?;
    let instruments = instruments(&request.symbols, catalog)?;
    adjustable(&instruments, adjust)?;
    let query = ComputeQuery { instruments, range, adjust, frequency, indicators };
    check_sizes(&query)?;
    Ok(query)
}

/// FORWARD and BACKWARD need every instrument to have factors.
pub(crate) fn adjustable(instruments: &[Arc<Instrument>], adjust: Adjust) -> Result<(), QueryError> {
    if adjust == Adjust::None {
        return Ok(());
    }
    match instruments.iter().find(|i| !i.has_adj_factor()) {
        None => Ok(()),
        Some(bare) => Err(QueryError {
            kind: Kind::FailedPrecondition,
            message: format!(
                "{} has no adj_factor column, which {} adjustment needs; ask ADJUST_NONE for it, or add the column to its file",
                bare.symbol,
                if adjust == Adjust::Forward { "FORWARD" } else { "BACKWARD" }
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_symbols_are_quoted_cut_short() {
        let catalog = Catalog::default();
        let symbols: Vec<String> =
            (0..30u8).map(|i| format!("{}{}", "\u{1f}".repeat(63), char::from(b'A' + i))).collect();
        let e = instruments(&symbols, &catalog).unwrap_err();
        assert_eq!(e.kind, Kind::NotFound);
        let one = format!("{:?}…", "\u{1f}".repeat(24));
        let named = vec![one; 20].join(", ");
        assert_eq!(
            e.message,
            format!("unknown symbols {named}, and 10 more: ListInstruments lists the symbols this server holds")
        );
        assert!(e.message.len() < 4096, "{}", e.message.len());
        let e = instruments(&["NOPE".to_string()], &catalog).unwrap_err();
        assert_eq!(e.message, "unknown symbol \"NOPE\": ListInstruments lists the symbols this server holds");
    }

    #[test]
    fn a_default_label_too_long_says_to_give_one() {
        let spec = |label: &str| pb::IndicatorSpec {
            name: "BOLL".into(),
            params: vec![20.0, 1e308],
            label: label.into(),
            ..Default::default()
        };
        let e = indicators(&[spec("")], Convention::Cn).unwrap_err();
        assert_eq!(
            e.message,
            "indicator 1: the label made of its parameters is 318 bytes long; at most 128: give it a shorter label \
             (IndicatorSpec.label)"
        );
        let long = "L".repeat(129);
        let e = indicators(&[spec(&long)], Convention::Cn).unwrap_err();
        assert!(e.message.starts_with("indicator 1: the label is 129 bytes long; at most 128"), "{}", e.message);
        assert_eq!(indicators(&[spec("WIDE")], Convention::Cn).unwrap()[0].label, "WIDE");
    }
}
