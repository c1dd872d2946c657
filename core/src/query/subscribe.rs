//! `SubscribeRequest`, checked as `Compute`'s request is (the enums, the indicator specs, the
//! symbols, the adjustment's precondition), with the subscription's own limits: too many symbols
//! or indicators is `RESOURCE_EXHAUSTED`, since each costs the server state for as long as the
//! stream stays open.

use super::{adjust, convention, frequency, indicators, instruments, Kind, QueryError, MAX_INDICATORS, MAX_SYMBOLS};
use crate::domain::catalog::Catalog;
use crate::domain::indicators::Convention;
use crate::domain::series::{Adjust, Frequency, Labelled};
use crate::protocol::indicators as pb;

/// A checked `SubscribeRequest`.
#[derive(Debug, Clone)]
pub struct SubscribeQuery {
    /// In the order asked; empty: every instrument, including ones created later.
    pub symbols: Vec<String>,
    pub adjust: Adjust,
    pub frequency: Frequency,
    pub indicators: Vec<Labelled>,
}

/// Every check of a `SubscribeRequest`.
pub fn subscribe(
    request: &pb::SubscribeRequest,
    catalog: &Catalog,
    server: Convention,
) -> Result<SubscribeQuery, QueryError> {
    let exhausted = |message: String| QueryError { kind: Kind::ResourceExhausted, message };
    if request.symbols.len() > MAX_SYMBOLS {
        return Err(exhausted(format!(
            "{} symbols asked; at most {MAX_SYMBOLS} a subscription: split it into several",
            request.symbols.len()
        )));
    }
    if request.indicators.len() > MAX_INDICATORS {
        return Err(exhausted(format!(
            "{} indicators asked; at most {MAX_INDICATORS} a subscription: split it into several",
            request.indicators.len()
        )));
    }
    let convention = convention(request.convention, server)?;
    let adjust = adjust(request.adjust)?;
    let frequency = frequency(request.frequency)?;
    let indicators = indicators(&request.indicators, convention)?;
    let held = instruments(&request.symbols, catalog)?;
    super::adjustable(&held, adjust)?;
    Ok(SubscribeQuery { symbols: request.symbols.clone(), adjust, frequency, indicators })
}
