//! v2 requests from arbitrary bytes, checked as the service checks them: the first byte picks
//! `ComputeRequest`, `PushBarsRequest` or `SubscribeRequest`, the rest is parsed as that message
//! (as gRPC hands it to a handler), and a message that parses goes through `idc_core::query`
//! (`compute`, `push` with the instrument the catalog holds for its symbol, `subscribe`) against
//! a small catalog: the sample (AAPL, SPX, no factors) and `ADJ`, 300 of SPX's bars with factors.
//!
//! The checks never panic. A refusal's message is short enough for a gRPC status (it travels in
//! the trailers, whose default limit is 8 KiB) and never empty; what is accepted keeps the
//! limits (symbols, indicators, unique labels) and, for a push, the bars are checked bars, dated
//! strictly in order, not before the last bar held, and a new symbol is a safe file name.

#![no_main]

use std::sync::OnceLock;

use idc_core::domain::catalog::{Catalog, Instrument};
use idc_core::domain::indicators::Convention;
use idc_core::domain::series::BarColumns;
use idc_core::protocol::indicators as pb;
use idc_core::query::{self, QueryError};
use libfuzzer_sys::fuzz_target;
use protobuf::Message;

/// The longest refusal message allowed: well inside gRPC's 8 KiB of trailers.
const MAX_MESSAGE: usize = 4096;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let sample = idc_core::domain::sample::catalog().expect("the sample loads");
        let bars = idc_core::domain::sample::bars().expect("the sample loads");
        let bars = &bars[..300];
        let factors: Vec<f64> = (0..bars.len()).map(|i| 1.0 + (i / 100) as f64 * 0.5).collect();
        let adj =
            Instrument { symbol: "ADJ".into(), name: "ADJ".into(), bars: BarColumns::from_bars(bars, Some(&factors)) };
        sample.with(adj)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            let Ok(request) = pb::ComputeRequest::parse_from_bytes(bytes) else { return };
            match query::compute(&request, catalog(), Convention::Cn) {
                Ok(q) => {
                    assert!(q.instruments.len() <= query::MAX_SYMBOLS.max(catalog().len()));
                    check_labels(&q.indicators);
                }
                Err(e) => check_refusal(&e),
            }
        }
        1 => {
            let Ok(request) = pb::PushBarsRequest::parse_from_bytes(bytes) else { return };
            let held = catalog().get(&request.symbol).map(|i| &**i);
            match query::push(&request, held) {
                Ok(q) => check_push(&q, held),
                Err(e) => check_refusal(&e),
            }
        }
        _ => {
            let Ok(request) = pb::SubscribeRequest::parse_from_bytes(bytes) else { return };
            match query::subscribe(&request, catalog(), Convention::Talib) {
                Ok(q) => {
                    assert!(q.symbols.len() <= query::MAX_SYMBOLS);
                    check_labels(&q.indicators);
                }
                Err(e) => check_refusal(&e),
            }
        }
    }
});

fn check_refusal(e: &QueryError) {
    assert!(!e.message.is_empty(), "{e:?}");
    assert!(e.message.len() <= MAX_MESSAGE, "a refusal of {} bytes: {:.300}…", e.message.len(), e.message);
}

fn check_labels(indicators: &[idc_core::domain::series::Labelled]) {
    assert!(indicators.len() <= query::MAX_INDICATORS);
    let mut labels = std::collections::HashSet::new();
    for l in indicators {
        assert!(!l.label.is_empty() && l.label.len() <= query::MAX_LABEL_BYTES, "{:?}", l.label);
        assert!(labels.insert(&l.label), "the label {:?} twice", l.label);
    }
}

fn check_push(q: &query::PushQuery, held: Option<&Instrument>) {
    assert!(!q.bars.is_empty());
    assert_eq!(q.creates, held.is_none());
    if q.creates {
        // It becomes SYMBOL.csv in the catalog directory: nothing that leaves it or hides.
        query::valid_new_symbol(&q.symbol).expect("a created symbol is a valid one");
        assert!(!q.symbol.contains(['/', '\\', '\0']) && !q.symbol.starts_with('.'), "{:?}", q.symbol);
    }
    for pair in q.bars.windows(2) {
        assert!(pair[0].bar.date < pair[1].bar.date, "{} then {}", pair[0].bar.date, pair[1].bar.date);
    }
    for pushed in &q.bars {
        let b = &pushed.bar;
        for price in [b.open, b.high, b.low, b.close] {
            assert!(price.is_finite() && price > 0.0, "{b}");
        }
        assert!(b.low <= b.open && b.open <= b.high && b.low <= b.close && b.close <= b.high, "{b}");
        assert!(b.volume.is_finite() && b.volume >= 0.0, "{b}");
        if let Some(f) = pushed.adj_factor {
            assert!(f.is_finite() && f > 0.0, "factor {f}");
        }
    }
    if let Some(last) = held.and_then(Instrument::last_date) {
        let first = q.bars[0].bar.date;
        assert!(first >= last, "{first} before the last bar held {last}");
        assert_eq!(q.revises, first == last);
    } else {
        assert!(!q.revises);
    }
}
