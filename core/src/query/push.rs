//! `PushBarsRequest`, checked against the instrument it extends: every bar as the CSV loader
//! checks a row, the dates in order, and the first date on or after the last bar held. Nothing
//! is applied unless every bar passes, so a refused push leaves the history as it was.

use super::{invalid, Kind, QueryError, MAX_SYMBOL_BYTES};
use crate::domain::bar::check::{check_adj_factor, check_bar};
use crate::domain::bar::Bar;
use crate::domain::catalog::Instrument;
use crate::domain::date::Date;
use crate::protocol::indicators as pb;

/// A checked push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushQuery {
    pub symbol: String,
    /// Oldest first, dates increasing; the first may be the last bar held (a revision).
    pub bars: Vec<PushedBar>,
    /// The last bar is still forming.
    pub forming: bool,
    /// No instrument of this symbol is held: the push creates it.
    pub creates: bool,
    /// The first bar revises the last bar held.
    pub revises: bool,
}

/// One pushed bar with its factor: the one pushed, else the instrument's last (1 for a new one).
/// `None` for an instrument without factors, pushed without one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PushedBar {
    pub bar: Bar,
    pub adj_factor: Option<f64>,
}

/// Whether `symbol` may name a new instrument, and if not, the rule it breaks: it becomes the
/// file `SYMBOL.csv` in the catalog directory, so nothing in it may reach outside it.
pub fn valid_new_symbol(symbol: &str) -> Result<(), String> {
    let rule = format!(
        "a new symbol is 1 to {MAX_SYMBOL_BYTES} ASCII letters, digits, '.', '_' or '-', not starting with '.' \
         or '-' (it becomes the file SYMBOL.csv)"
    );
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if symbol.is_empty() {
        return Err(format!("the symbol is empty: {rule}"));
    }
    if symbol.len() > MAX_SYMBOL_BYTES {
        return Err(format!("the symbol is {} bytes long: {rule}", symbol.len()));
    }
    if symbol.starts_with(['.', '-']) || !symbol.bytes().all(allowed) {
        return Err(format!("the symbol {:?} is not allowed: {rule}", symbol.escape_debug().to_string()));
    }
    Ok(())
}

/// Every check of a push to `held` (`None`: the symbol is new).
pub fn push(request: &pb::PushBarsRequest, held: Option<&Instrument>) -> Result<PushQuery, QueryError> {
    let symbol = request.symbol.as_str();
    if held.is_none() {
        valid_new_symbol(symbol).map_err(invalid)?;
    }
    if request.bars.is_empty() {
        return Err(invalid(format!("no bars pushed to {symbol}: send at least one bar")));
    }
    let mut factor = match held {
        None => Some(1.0),
        Some(instrument) => instrument.bars.adj_factor.last(),
    };
    let mut bars = Vec::with_capacity(request.bars.len());
    let mut previous: Option<Date> = None;
    for (i, pushed) in request.bars.iter().enumerate() {
        let which = |date: &str| format!("bar {} ({date})", i + 1);
        // Not `which`: the error quotes the text, cut short (a date of any length fits a status).
        let date = Date::parse(&pushed.date).map_err(|e| invalid(format!("bar {}: {e}", i + 1)))?;
        let prices = [pushed.open, pushed.high, pushed.low, pushed.close];
        let bar = check_bar(date, prices, pushed.volume, |k| prices[k].to_string())
            .map_err(|problem| invalid(format!("{}: {problem}", which(&pushed.date))))?;
        if pushed.adj_factor != 0.0 {
            let value = check_adj_factor(pushed.adj_factor)
                .map_err(|problem| invalid(format!("{}: {problem}", which(&pushed.date))))?;
            factor = Some(value);
        }
        if let Some(before) = previous {
            if date <= before {
                let how = if date == before { "has the same date as" } else { "is dated before" };
                return Err(invalid(format!(
                    "{} {how} bar {} ({before}): bars are sent oldest first, one a date",
                    which(&pushed.date),
                    i
                )));
            }
        }
        previous = Some(date);
        bars.push(PushedBar { bar, adj_factor: factor });
    }
    let first = bars[0].bar.date;
    let last_held = held.and_then(Instrument::last_date);
    if let Some(last) = last_held {
        if first < last {
            return Err(QueryError {
                kind: Kind::FailedPrecondition,
                message: format!(
                    "bar 1 is dated {first}, before {symbol}'s last bar {last}: bars are appended after the last \
                     bar held, or revise it (the same date)"
                ),
            });
        }
    }
    Ok(PushQuery {
        symbol: symbol.to_string(),
        bars,
        forming: request.forming,
        creates: held.is_none(),
        revises: last_held == Some(first),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal travels in the status's trailers, which gRPC clients take up to 8-16 KiB of: a
    /// date of 100 kB once came back whole, and the client saw RESOURCE_EXHAUSTED instead.
    #[test]
    fn a_long_date_is_quoted_cut_short() {
        let bar = |date: String| pb::Bar { date, open: 1.0, high: 1.0, low: 1.0, close: 1.0, ..Default::default() };
        let request =
            pb::PushBarsRequest { symbol: "NEW".into(), bars: vec![bar("2".repeat(100_000))], ..Default::default() };
        let e = push(&request, None).unwrap_err();
        assert_eq!(e.kind, Kind::InvalidArgument);
        assert_eq!(e.message, format!("bar 1: \"{}…\" is not a date: use YYYY-MM-DD, e.g. 2023-01-31", "2".repeat(32)));
    }
}
