//! The live issue's equality: after any sequence of pushes (appends, revisions, forming bars,
//! bars that start a new week or month, a new FORWARD factor), every value a [`Track`] holds
//! equals what `Compute`'s computation ([`series::compute`]) gives over the same history at that
//! date, to 1e-9 relative, for every built-in in both conventions and every formula of the
//! corpus (`tests/formulas/corpus.json`), at every adjustment and frequency. The batch is itself
//! checked against MyTT and TA-Lib (`indicators_reference.rs`, `formula_reference.rs`).

mod common;

use idc_core::domain::catalog::Instrument;
use idc_core::domain::date::{Date, DateRange};
use idc_core::domain::indicators::{self, Convention, Indicator};
use idc_core::domain::live::{self, Advanced, Track};
use idc_core::domain::series::{self, Adjust, BarColumns, Frequency, Labelled};
use idc_core::protocol::indicators as pb;
use idc_core::query;
use proptest::prelude::*;

/// One push: bars after the last (days apart), or the last one revised first; `factor`, when
/// set, is a new adj_factor for a one-bar push.
#[derive(Debug, Clone)]
struct Push {
    revise: bool,
    gaps: Vec<u8>,
    moves: Vec<(f64, f64, f64, f64)>,
    factor: Option<f64>,
    forming: bool,
}

fn push_strategy() -> impl Strategy<Value = Push> {
    (any::<bool>(), 1usize..4, prop::option::weighted(0.15, 0.5f64..2.0), any::<bool>())
        .prop_flat_map(|(revise, n, factor, forming)| {
            let n = if factor.is_some() { 1 } else { n };
            (
                Just(revise),
                prop::collection::vec(1u8..5, n),
                prop::collection::vec((-0.03f64..0.03, 0.0f64..0.02, 0.0f64..0.02, 0.0f64..1.0), n),
                Just(factor),
                Just(forming),
            )
        })
        .prop_map(|(revise, gaps, moves, factor, forming)| Push { revise, gaps, moves, factor, forming })
}

/// A history of `n` bars from 2024-01-01, every day or two, factor 1 then 1.5.
fn history(n: usize) -> BarColumns {
    let mut bars = BarColumns::default();
    let mut day = Date::parse("2024-01-01").unwrap().days_since_epoch();
    let mut close = 50.0f64;
    let mut factors = Vec::new();
    for i in 0..n {
        close *= 1.0 + ((i * 7919) % 13) as f64 / 400.0 - 0.015;
        bars.date.push(Date::from_days_since_epoch(day));
        bars.open.push(close * 0.995);
        bars.high.push(close * 1.01);
        bars.low.push(close * 0.985);
        bars.close.push(close);
        bars.volume.push(1000.0 + (i % 5) as f64 * 10.0);
        factors.push(if i < n / 2 { 1.0 } else { 1.5 });
        day += 1 + (i % 3 == 0) as i64;
    }
    bars.adj_factor = series::AdjFactors::from_values(factors);
    bars
}

/// The request for `push` onto `bars`.
fn request(bars: &BarColumns, push: &Push) -> pb::PushBarsRequest {
    let last = bars.len() - 1;
    let mut day = bars.date[last].days_since_epoch();
    let mut close = bars.close[last];
    let mut out = pb::PushBarsRequest { symbol: "X".into(), forming: push.forming, ..Default::default() };
    for (k, (&gap, &(step, up, down, volume))) in push.gaps.iter().zip(&push.moves).enumerate() {
        if !(k == 0 && push.revise) {
            day += i64::from(gap);
        }
        close *= 1.0 + step;
        let open = close * (1.0 - step / 2.0);
        out.bars.push(pb::Bar {
            date: Date::from_days_since_epoch(day).to_string(),
            open,
            high: open.max(close) * (1.0 + up),
            low: open.min(close) * (1.0 - down),
            close,
            volume: (volume * 5000.0).round(),
            adj_factor: push.factor.unwrap_or(0.0),
            ..Default::default()
        });
    }
    out
}

/// Every built-in in both conventions, and every formula of the corpus.
fn every_indicator() -> Vec<Indicator> {
    let mut out = Vec::new();
    for def in indicators::ALL {
        for convention in [Convention::Cn, Convention::Talib] {
            out.push(Indicator::new(def.name, &[], convention).unwrap());
        }
    }
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/formulas/corpus.json");
    let corpus: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(corpus).unwrap()).unwrap();
    let formulas = corpus.as_array().unwrap();
    assert!(formulas.len() >= 30, "the corpus has {} formulas", formulas.len());
    let texts = formulas.iter().map(|entry| entry["formula"].as_str().unwrap());
    // The factor as a series, which MyTT has no column for, and built-ins inside a formula.
    let more = ["F:ADJ_FACTOR; R:C*ADJ_FACTOR/REF(ADJ_FACTOR,1);", "D:MACD(12,26,9).DIF-RSI(6); K:KDJ(9,3,3).K;"];
    for text in texts.chain(more) {
        out.push(Indicator::formula(text, Convention::Cn).unwrap_or_else(|e| panic!("{text}: {e}")));
    }
    out
}

#[test]
fn adj_factor_in_a_formula_is_the_bars_factor_and_the_weeks_last() {
    let bars = history(40);
    let f = Indicator::formula("F:ADJ_FACTOR;", Convention::Cn).unwrap();
    let labelled = [Labelled { label: "F".into(), indicator: f }];
    let daily = series::compute(&bars, Adjust::Forward, Frequency::Daily, &labelled, DateRange::default()).unwrap();
    assert_eq!(daily.columns[0].1, bars.adj_factor.values(bars.len()));
    let weekly = series::compute(&bars, Adjust::None, Frequency::Weekly, &labelled, DateRange::default()).unwrap();
    for (k, date) in weekly.bars.date.iter().enumerate() {
        let last_of_week = bars.date.iter().rposition(|d| d == date).unwrap();
        assert_eq!(weekly.columns[0].1[k], bars.adj_factor.at(last_of_week).unwrap(), "week ending {date}");
    }
    let bare = BarColumns { adj_factor: Default::default(), ..bars.clone() };
    let none = series::compute(&bare, Adjust::None, Frequency::Daily, &labelled, DateRange::default()).unwrap();
    assert!(none.columns[0].1.iter().all(|x| x.is_nan()), "no factors: NaN");
}

/// Every slot of `track` against the batch over `bars` at its last row.
fn check(track: &Track, slots: &[usize], indicators: &[Indicator], bars: &BarColumns) -> Result<(), TestCaseError> {
    let labelled: Vec<Labelled> = indicators
        .iter()
        .enumerate()
        .map(|(k, i)| Labelled { label: format!("{}#{k}", i.label()), indicator: i.clone() })
        .collect();
    let batch = series::compute(bars, track.adjust(), track.frequency(), &labelled, DateRange::default()).unwrap();
    let last = batch.bars.len() - 1;
    let (date, quote) = track.last().unwrap();
    prop_assert_eq!(date, batch.bars.date[last]);
    prop_assert_eq!(quote.close, batch.bars.close[last]);
    prop_assert_eq!(quote.high, batch.bars.high[last]);
    prop_assert_eq!(quote.volume, batch.bars.volume[last]);
    let mut column = 0;
    for (indicator, &slot) in indicators.iter().zip(slots) {
        for (k, &live) in track.values(slot).iter().enumerate() {
            let (name, values) = &batch.columns[column + k];
            let want = values[last];
            prop_assert!(
                (live.is_nan() && want.is_nan()) || common::close_to(live, want),
                "{name} ({indicator:?}) {:?} {:?} at {date}: live {live}, batch {want}",
                track.adjust(),
                track.frequency()
            );
        }
        column += indicator.outputs();
    }
    Ok(())
}

fn truncated(bars: &BarColumns, len: usize) -> BarColumns {
    let mut out = bars.clone();
    out.truncate(len);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_update_equals_the_batch(start in 30usize..70, pushes in prop::collection::vec(push_strategy(), 1..25)) {
        let indicators = every_indicator();
        let mut bars = history(start);
        let mut tracks = Vec::new();
        for adjust in [Adjust::None, Adjust::Forward, Adjust::Backward] {
            for frequency in [Frequency::Daily, Frequency::Weekly, Frequency::Monthly] {
                let mut track = Track::new(&bars, adjust, frequency).unwrap();
                let asked: Vec<&Indicator> = indicators.iter().collect();
                let slots = track.add_all(&asked, &bars).unwrap();
                check(&track, &slots, &indicators, &bars)?;
                tracks.push((track, slots));
            }
        }
        for push in &pushes {
            let instrument = Instrument { symbol: "X".into(), name: "X".into(), bars: bars.clone() };
            let query = query::push(&request(&bars, push), Some(&instrument)).unwrap();
            let applied = live::apply(&mut bars, &query);
            for (track, slots) in &mut tracks {
                if track.is_stale(&bars) {
                    track.rebuild(&bars).unwrap();
                    check(track, slots, &indicators, &bars)?;
                    continue;
                }
                for i in applied.first_changed..bars.len() {
                    let forming = push.forming && i + 1 == bars.len();
                    let advanced = track.advance(&bars, i, forming).unwrap();
                    prop_assert_ne!(advanced, Advanced::Rebuilt);
                    check(track, slots, &indicators, &truncated(&bars, i + 1))?;
                }
            }
        }
    }
}
