//! The v2 part of the soak (tests/soak.rs): a third server, `--data DIR --push-token-file`, with
//! 30 static instruments and 10 that pushers own, and the calls the clients make to it:
//! `Compute` over many symbols, `Chart` with overlays and panels, short `Subscribe` streams (the
//! snapshot, then cancelled), pushes (each pusher revises its instrument's forming bar, now and
//! then opening the next day's), and long subscribers that record every update until they have
//! heard each pusher's last push. At the end, each long subscriber's rows since its snapshot must
//! be Compute's, and each pushed instrument exactly what its pusher pushed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use grpcio::CallOption;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

use crate::common::live as l;
use crate::common::{self, Server};

pub const STATIC: usize = 30;
/// Bars in each static instrument (`common::daily_bars_csv`: closes 100 + i % 50).
const STATIC_BARS: usize = 300;
pub const PUSHERS: usize = 10;
pub const SUBSCRIBERS: usize = 20;
/// Symbols each long subscriber follows.
const FOLLOWED: usize = 3;
/// How long a long subscriber may take, after the last push, to hear it.
const HEAR_LIMIT: Duration = Duration::from_secs(30);

fn static_symbol(i: usize) -> String {
    format!("S{i:02}")
}

fn pushed_symbol(i: usize) -> String {
    format!("P{i:02}")
}

fn pushed_history(i: usize) -> Vec<pb::Bar> {
    l::walk(&l::weekdays("2020-01-01", 200), 70 + i as u64)
}

/// Starts the live server on a folder of its own under `dir`.
pub fn start(dir: &Path) -> Server {
    let data = dir.join("live");
    std::fs::create_dir(&data).unwrap();
    for i in 0..STATIC {
        let text = common::daily_bars_csv(2000 + i as u32 % 10, STATIC_BARS as u32);
        common::write_file(&data, &format!("{}.csv", static_symbol(i)), text.as_bytes());
    }
    for i in 0..PUSHERS {
        let text = l::csv_text(&pushed_history(i), false);
        common::write_file(&data, &format!("{}.csv", pushed_symbol(i)), text.as_bytes());
    }
    let token = common::token_file(dir, "push.token", l::PUSH_TOKEN);
    l::start_server(&data, Some(&token), &["--chart-size", "320x240"])
}

/// What the long subscribers heard and the pushers pushed, for the checks at the end.
#[derive(Default)]
pub struct Outcome {
    /// Per pushed symbol, its bars as pushed (the last revision of each day), once its pusher is done.
    pub pushed: Mutex<BTreeMap<String, Vec<pb::Bar>>>,
    /// Per long subscriber: its request, and per symbol the latest update of each date since its
    /// snapshot, in date order.
    pub heard: Mutex<Vec<(pb::SubscribeRequest, BTreeMap<String, Vec<pb::Update>>)>>,
}

fn err(e: grpcio::Error) -> String {
    e.to_string()
}

/// `Compute` of 10 to 30 static symbols with three indicators: one series per symbol asked, in
/// order, with the bars of its file.
pub async fn compute(client: &IndicatorsClient, rng: &mut crate::Rng, option: CallOption) -> Result<(), String> {
    let count = 10 + rng.below((STATIC - 9) as u64) as usize;
    let first = rng.below(STATIC as u64) as usize;
    let symbols: Vec<String> = (0..count).map(|k| static_symbol((first + k) % STATIC)).collect();
    let indicators = vec![l::spec("MACD", &[]), l::spec("KDJ", &[]), l::spec("RSI", &[14.0])];
    let request = pb::ComputeRequest { symbols: symbols.clone(), indicators, ..Default::default() };
    let series: Vec<pb::Series> =
        client.compute_opt(&request, option).map_err(err)?.try_collect().await.map_err(err)?;
    let got: Vec<&String> = series.iter().map(|s| &s.symbol).collect();
    if got != symbols.iter().collect::<Vec<_>>() {
        return Err(format!("Compute of {symbols:?} answered {got:?}"));
    }
    for s in &series {
        let closes = (0..STATIC_BARS).map(|i| 100.0 + (i % 50) as f64);
        let whole = s.columns.len() >= 3 && s.columns.iter().all(|c| c.values.len() == s.date.len());
        if s.date.len() != STATIC_BARS || !s.close.iter().copied().eq(closes) || !whole {
            return Err(format!(
                "Compute of {}: {} rows, {} columns, not its file's",
                s.symbol,
                s.date.len(),
                s.columns.len()
            ));
        }
    }
    Ok(())
}

/// A chart of a static symbol with an overlay and two panels: a PNG.
pub async fn chart(client: &IndicatorsClient, rng: &mut crate::Rng, option: CallOption) -> Result<(), String> {
    let request = pb::ChartRequest {
        symbol: static_symbol(rng.below(STATIC as u64) as usize),
        overlays: vec![l::spec("MA", &[5.0])],
        panels: vec![l::spec("VOL", &[]), l::spec("MACD", &[])],
        ..Default::default()
    };
    let chunks: Vec<pb::ChartChunk> =
        client.chart_opt(&request, option).map_err(err)?.try_collect().await.map_err(err)?;
    let png: Vec<u8> = chunks.into_iter().flat_map(|c| c.png).collect();
    png.starts_with(b"\x89PNG\r\n\x1a\n")
        .then_some(())
        .ok_or_else(|| format!("the chart of {} is not a PNG", request.symbol))
}

/// A short subscription: its snapshot, then cancelled.
pub async fn subscribe_briefly(
    client: &IndicatorsClient,
    rng: &mut crate::Rng,
    option: CallOption,
) -> Result<(), String> {
    let symbol = match rng.below(2) {
        0 => static_symbol(rng.below(STATIC as u64) as usize),
        _ => pushed_symbol(rng.below(PUSHERS as u64) as usize),
    };
    let request = l::subscription(&[&symbol], vec![l::spec("MACD", &[])]);
    let mut stream = client.subscribe_opt(&request, option).map_err(err)?;
    match stream.next().await {
        Some(Ok(u)) if u.snapshot && u.symbol == symbol => Ok(()),
        other => Err(format!("Subscribe {symbol}: the first item is {other:?}, not its snapshot")),
    }
}

/// Pusher `i`: pushes to its own symbol until `end`, one push at a time, each a forming bar (a
/// revision of the day's, or one in five the next day's), and records what it pushed.
pub async fn pusher(client: &IndicatorsClient, i: usize, end: Instant, tally: &crate::Tally, outcome: &Outcome) {
    let symbol = pushed_symbol(i);
    let mut rng = crate::Rng(0x5EED_0000 + i as u64);
    let mut bars = pushed_history(i);
    let mut day = l::days_of(&bars.last().unwrap().date);
    while Instant::now() < end {
        let last = bars.last().unwrap().clone();
        let close = last.low + (last.high - last.low) * (rng.below(1000) as f64 / 1000.0);
        // In cents, inside the day's range (the walk's highs and lows are not in cents).
        let close = ((close * 100.0).round() / 100.0).clamp(last.low, last.high);
        let bar = if rng.below(5) == 0 {
            day += if l::weekday(day) == 4 { 3 } else { 1 };
            l::ohlcv(&l::date_of(day), close, close + 1.0, close - 1.0, close, 1000.0)
        } else {
            pb::Bar { close, volume: last.volume + 10.0, ..last.clone() }
        };
        let request = l::request(&symbol, std::slice::from_ref(&bar), true);
        let result = match client.push_bars_async_opt(&request, l::bearer(l::PUSH_TOKEN)) {
            Ok(reply) => reply.await.map_err(err).and_then(|reply| match reply.last_date == bar.date {
                true => Ok(()),
                false => Err(format!("push to {symbol}: last_date {}, pushed {}", reply.last_date, bar.date)),
            }),
            Err(e) => Err(err(e)),
        };
        if result.is_ok() {
            match last.date == bar.date {
                true => *bars.last_mut().unwrap() = bar,
                false => bars.push(bar),
            }
        }
        tally.record(crate::Kind::Push, result);
    }
    outcome.pushed.lock().unwrap().insert(symbol, bars);
}

/// Long subscriber `k`: follows three pushed symbols, recording every update, until each pusher
/// is done and it has heard the last bar each pushed.
pub async fn subscriber(client: &IndicatorsClient, k: usize, tally: &crate::Tally, outcome: &Outcome) {
    let symbols: Vec<String> = (0..FOLLOWED).map(|j| pushed_symbol((k + j * 3) % PUSHERS)).collect();
    let names: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let request = l::subscription(&names, vec![l::spec("MACD", &[]), l::spec("EMA", &[10.0])]);
    let mut heard: BTreeMap<String, Vec<pb::Update>> = BTreeMap::new();
    let result = async {
        let mut stream = client.subscribe_opt(&request, CallOption::default()).map_err(err)?;
        let mut done_at = None;
        loop {
            match tokio::time::timeout(Duration::from_millis(100), stream.next()).await {
                Err(_) => {}
                Ok(None) => return Err("the stream ended with OK".to_string()),
                Ok(Some(Err(e))) => return Err(err(e)),
                Ok(Some(Ok(update))) => {
                    let rows = heard.entry(update.symbol.clone()).or_default();
                    if update.snapshot {
                        rows.clear();
                    }
                    match rows.last_mut() {
                        Some(last) if last.date == update.date => *last = update,
                        _ => rows.push(update),
                    }
                }
            }
            let pushed = outcome.pushed.lock().unwrap();
            if pushed.len() < PUSHERS {
                continue;
            }
            let at_last = |s: &String| {
                let (Some(row), Some(bar)) = (heard.get(s).and_then(|r| r.last()), pushed[s].last()) else {
                    return false;
                };
                row.date == bar.date && row.bar.as_ref().is_some_and(|b| b.close == bar.close && b.volume == bar.volume)
            };
            if symbols.iter().all(at_last) {
                return Ok(());
            }
            if done_at.get_or_insert_with(Instant::now).elapsed() > HEAR_LIMIT {
                return Err(format!("the last pushes were not heard within {HEAR_LIMIT:?}"));
            }
        }
    }
    .await;
    tally.record(crate::Kind::Subscribe, result);
    outcome.heard.lock().unwrap().push((request, heard));
}

/// The checks at the end, against the server at rest: each pushed symbol holds what its pusher
/// pushed, and each long subscriber's rows since its snapshot are Compute's, date for date.
/// Returns how many rows were compared.
pub fn check(server: &Server, outcome: &Outcome) -> Result<usize, String> {
    let client = IndicatorsClient::new(common::channel(&server.target()));
    for (symbol, bars) in outcome.pushed.lock().unwrap().iter() {
        let series = l::history(&client, symbol).ok_or_else(|| format!("{symbol} is not served"))?;
        if let Some(d) = l::history_difference(&series, bars) {
            return Err(format!("{symbol} is not what was pushed: {d}"));
        }
    }
    let heard = outcome.heard.lock().unwrap();
    let mut compared = 0;
    for (k, (request, rows)) in heard.iter().enumerate() {
        for symbol in &request.symbols {
            let series = l::computed(&client, request, symbol);
            let rows = rows.get(symbol).ok_or_else(|| format!("subscriber {k} heard nothing of {symbol}"))?;
            let first = series.date.iter().position(|d| *d == rows[0].date).ok_or("a snapshot date not served")?;
            let dates: Vec<&str> = rows.iter().map(|u| u.date.as_str()).collect();
            if dates != series.date[first..] {
                return Err(format!("subscriber {k}, {symbol}: dates {dates:?}, Compute {:?}", &series.date[first..]));
            }
            for (j, row) in rows.iter().enumerate() {
                if let Some(d) = l::update_difference(row, &series, first + j) {
                    return Err(format!("subscriber {k}, {symbol}: {d}"));
                }
            }
            compared += rows.len();
        }
    }
    Ok(compared)
}
