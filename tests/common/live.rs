//! Plumbing of the live-bars tests (`PushBars`, `Subscribe`): instrument files written as another
//! program would, servers started with `--data DIR --push-token-file`, pushes with and without the
//! token, `Compute` read back as the model to compare with, waits on streams bounded by a
//! deadline, the 1e-9 relative float rule, dates, and a seeded RNG.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use grpcio::{CallOption, ClientSStreamReceiver, MetadataBuilder, RpcStatusCode};
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

use super::{rust_server, scratch, token_file, Server};

/// The push token of the servers these tests start.
pub const PUSH_TOKEN: &str = "live-push-token-7f3a9c";
/// How long a test waits for one update that must come.
pub const UPDATE_WITHIN: Duration = Duration::from_secs(10);

/// A refused call: its status code and message.
pub type Refusal = (RpcStatusCode, String);

pub fn refusal(error: grpcio::Error) -> Refusal {
    match error {
        grpcio::Error::RpcFailure(status) => (status.code(), status.message().to_string()),
        other => panic!("expected a status, got {other:?}"),
    }
}

/// The date `days` days after 1970-01-01, as YYYY-MM-DD.
pub fn date_of(days: i64) -> String {
    idc::domain::date::Date::from_days_since_epoch(days).to_string()
}

/// Days since 1970-01-01 of a YYYY-MM-DD date.
pub fn days_of(date: &str) -> i64 {
    let d = idc::domain::date::Date::parse(date).unwrap_or_else(|e| panic!("{date}: {e:?}"));
    d.days_since_epoch()
}

/// 0 = Monday .. 6 = Sunday.
pub fn weekday(days: i64) -> i64 {
    (days + 3).rem_euclid(7)
}

/// `count` weekdays (Monday to Friday) starting at `first` (a date), in order.
pub fn weekdays(first: &str, count: usize) -> Vec<String> {
    let mut day = days_of(first);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        if weekday(day) < 5 {
            out.push(date_of(day));
        }
        day += 1;
    }
    out
}

/// A bar around `close` with its high and low one unit off, volume 1000 and factor `adj`.
pub fn bar(date: &str, close: f64) -> pb::Bar {
    ohlcv(date, close, close + 1.0, close - 1.0, close, 1000.0)
}

pub fn ohlcv(date: &str, open: f64, high: f64, low: f64, close: f64, volume: f64) -> pb::Bar {
    pb::Bar { date: date.to_string(), open, high, low, close, volume, adj_factor: 0.0, ..Default::default() }
}

/// `count` bars dated by `dates`, a random-looking walk from 100 (deterministic in `seed`).
pub fn walk(dates: &[String], seed: u64) -> Vec<pb::Bar> {
    let mut rng = Rng::new(seed);
    let mut close = 100.0;
    dates
        .iter()
        .map(|date| {
            let open = close;
            close = (close * (1.0 + (rng.unit() - 0.5) * 0.04)).max(1.0);
            let high = open.max(close) * (1.0 + rng.unit() * 0.01);
            let low = open.min(close) * (1.0 - rng.unit() * 0.01);
            ohlcv(date, open, high, low, close, (1000.0 + rng.unit() * 9000.0).round())
        })
        .collect()
}

/// An instrument file as another program writes one; with an `adj_factor` column when `adj`.
pub fn csv_text(bars: &[pb::Bar], adj: bool) -> String {
    let mut text = String::from(if adj {
        "date,open,high,low,close,volume,adj_factor\n"
    } else {
        "date,open,high,low,close,volume\n"
    });
    for b in bars {
        text.push_str(&csv_row(b, adj));
    }
    text
}

pub fn csv_row(b: &pb::Bar, adj: bool) -> String {
    let mut row = format!("{},{},{},{},{},{}", b.date, b.open, b.high, b.low, b.close, b.volume);
    if adj {
        row.push_str(&format!(",{}", b.adj_factor));
    }
    row.push('\n');
    row
}

/// A scratch folder with `data/` (the instrument files) and the push token file beside it.
pub struct Live {
    pub scratch: tempfile::TempDir,
    pub server: Server,
    pub client: IndicatorsClient,
}

impl Live {
    /// Writes `files` (symbol, bars, with an adj_factor column) under `data/` and starts
    /// `idc_server --data data --push-token-file TOKEN extra...`.
    pub fn start(files: &[(&str, &[pb::Bar], bool)], extra: &[&str]) -> Live {
        let scratch = scratch();
        let data = scratch.path().join("data");
        std::fs::create_dir(&data).unwrap();
        for (symbol, bars, adj) in files {
            std::fs::write(data.join(format!("{symbol}.csv")), csv_text(bars, *adj)).unwrap();
        }
        let token = token_file(scratch.path(), "push.token", PUSH_TOKEN);
        let server = start_server(&data, Some(&token), extra);
        let client = IndicatorsClient::new(super::channel(&server.target()));
        Live { scratch, server, client }
    }

    pub fn data(&self) -> PathBuf {
        self.scratch.path().join("data")
    }
}

/// `idc_server --data DATA [--push-token-file TOKEN] extra...`.
pub fn start_server(data: &Path, token: Option<&Path>, extra: &[&str]) -> Server {
    let mut args: Vec<String> = vec!["--data".into(), data.to_str().unwrap().into()];
    if let Some(token) = token {
        args.extend(["--push-token-file".into(), token.to_str().unwrap().into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    rust_server(&args)
}

/// A call option carrying `authorization: Bearer TOKEN`.
pub fn bearer(token: &str) -> CallOption {
    let mut metadata = MetadataBuilder::new();
    metadata.add_str("authorization", &format!("Bearer {token}")).unwrap();
    CallOption::default().headers(metadata.build()).timeout(Duration::from_secs(30))
}

pub fn request(symbol: &str, bars: &[pb::Bar], forming: bool) -> pb::PushBarsRequest {
    pb::PushBarsRequest { symbol: symbol.to_string(), bars: bars.to_vec(), forming, ..Default::default() }
}

/// PushBars with `token` (none: no metadata at all).
pub fn push_with(
    client: &IndicatorsClient,
    token: Option<&str>,
    symbol: &str,
    bars: &[pb::Bar],
    forming: bool,
) -> Result<pb::PushBarsReply, Refusal> {
    let option = match token {
        Some(token) => bearer(token),
        None => CallOption::default().timeout(Duration::from_secs(30)),
    };
    client.push_bars_opt(&request(symbol, bars, forming), option).map_err(refusal)
}

/// PushBars with the push token.
pub fn push(
    client: &IndicatorsClient,
    symbol: &str,
    bars: &[pb::Bar],
    forming: bool,
) -> Result<pb::PushBarsReply, Refusal> {
    push_with(client, Some(PUSH_TOKEN), symbol, bars, forming)
}

pub fn spec(name: &str, params: &[f64]) -> pb::IndicatorSpec {
    pb::IndicatorSpec { name: name.to_string(), params: params.to_vec(), ..Default::default() }
}

pub fn compute(client: &IndicatorsClient, request: &pb::ComputeRequest) -> Result<Vec<pb::Series>, Refusal> {
    let option = CallOption::default().timeout(Duration::from_secs(30));
    let stream = client.compute_opt(request, option).map_err(refusal)?;
    futures::executor::block_on(stream.try_collect()).map_err(refusal)
}

/// One symbol's whole history as Compute serves it (no indicators, no adjustment); `None` when
/// the server does not hold the symbol.
pub fn history(client: &IndicatorsClient, symbol: &str) -> Option<pb::Series> {
    let request = pb::ComputeRequest { symbols: vec![symbol.to_string()], ..Default::default() };
    match compute(client, &request) {
        Ok(mut series) => {
            assert_eq!(series.len(), 1, "one series for {symbol}");
            Some(series.remove(0))
        }
        Err((RpcStatusCode::NOT_FOUND, _)) => None,
        Err(other) => panic!("Compute of {symbol}: {other:?}"),
    }
}

/// Where `series` differs from `bars` (dates, open, high, low, close, volume, exactly); `None`
/// when it equals them.
pub fn history_difference(series: &pb::Series, bars: &[pb::Bar]) -> Option<String> {
    let dates: Vec<&str> = bars.iter().map(|b| b.date.as_str()).collect();
    if series.date != dates {
        return Some(format!("dates {:?}, expected {:?}", series.date, dates));
    }
    for (i, b) in bars.iter().enumerate() {
        let served = (series.open[i], series.high[i], series.low[i], series.close[i], series.volume[i]);
        if served != (b.open, b.high, b.low, b.close, b.volume) {
            return Some(format!("{}: served (o,h,l,c,v) {served:?}, expected {b:?}", b.date));
        }
    }
    None
}

pub fn assert_history(client: &IndicatorsClient, symbol: &str, bars: &[pb::Bar], what: &str) {
    let series = history(client, symbol).unwrap_or_else(|| panic!("{what}: {symbol} is not served"));
    if let Some(difference) = history_difference(&series, bars) {
        panic!("{what}: {symbol}: {difference}");
    }
}

/// The 1e-9 rule: relative 1e-9 (absolute below 1), NaN equal to NaN, infinities exact.
pub fn same(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Row `i` of a series: its bar and its column values by name.
pub fn row(series: &pb::Series, i: usize) -> (pb::Bar, BTreeMap<String, f64>) {
    let bar = ohlcv(&series.date[i], series.open[i], series.high[i], series.low[i], series.close[i], series.volume[i]);
    let values = series.columns.iter().map(|c| (c.name.clone(), c.values[i])).collect();
    (bar, values)
}

/// Where `update` differs from row `i` of `series` (date, bar, values by the 1e-9 rule).
pub fn update_difference(update: &pb::Update, series: &pb::Series, i: usize) -> Option<String> {
    let (bar, values) = row(series, i);
    if update.date != bar.date {
        return Some(format!("update dated {}, Compute's row {}", update.date, bar.date));
    }
    let ub = update.bar.as_ref().cloned().unwrap_or_default();
    let pairs = [
        ("open", ub.open, bar.open),
        ("high", ub.high, bar.high),
        ("low", ub.low, bar.low),
        ("close", ub.close, bar.close),
        ("volume", ub.volume, bar.volume),
    ];
    for (name, ours, theirs) in pairs {
        if !same(ours, theirs) {
            return Some(format!("{}: bar {name} {ours}, Compute {theirs}", bar.date));
        }
    }
    let names: Vec<&String> = update.values.keys().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let expected: Vec<&String> = values.keys().collect();
    if names != expected {
        return Some(format!("{}: value names {names:?}, Compute's columns {expected:?}", bar.date));
    }
    for (name, theirs) in &values {
        let ours = update.values[name];
        if !same(ours, *theirs) {
            return Some(format!("{}: {name} {ours}, Compute {theirs}", bar.date));
        }
    }
    None
}

/// Checks `update` against the row of `series` with the update's date.
pub fn assert_update_is_row(update: &pb::Update, series: &pb::Series, what: &str) {
    let i = series
        .date
        .iter()
        .position(|d| *d == update.date)
        .unwrap_or_else(|| panic!("{what}: update dated {} is not a date Compute serves: {update:?}", update.date));
    if let Some(difference) = update_difference(update, series, i) {
        panic!("{what}: {difference}; update {update:?}");
    }
}

/// Runs `future` for at most `limit`: its output, or `None` when the limit passed first.
pub fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    runtime.block_on(async { tokio::time::timeout(limit, future).await.ok() })
}

/// The stream's next item within `limit`: an update, or the status that ended it. A stream that
/// ends with OK or says nothing in time fails the test.
pub fn next_update(
    stream: &mut ClientSStreamReceiver<pb::Update>,
    limit: Duration,
    what: &str,
) -> Result<pb::Update, Refusal> {
    match within(limit, stream.next()) {
        None => panic!("{what}: no update and no status within {limit:?}"),
        Some(None) => panic!("{what}: the stream ended with OK"),
        Some(Some(Ok(update))) => Ok(update),
        Some(Some(Err(e))) => Err(refusal(e)),
    }
}

/// [`next_update`] that must be an update.
pub fn expect_update(stream: &mut ClientSStreamReceiver<pb::Update>, what: &str) -> pb::Update {
    next_update(stream, UPDATE_WITHIN, what).unwrap_or_else(|e| panic!("{what}: the stream ended with {e:?}"))
}

pub fn subscribe(client: &IndicatorsClient, request: &pb::SubscribeRequest) -> ClientSStreamReceiver<pb::Update> {
    client.subscribe_opt(request, CallOption::default()).expect("Subscribe starts")
}

pub fn subscription(symbols: &[&str], indicators: Vec<pb::IndicatorSpec>) -> pb::SubscribeRequest {
    pb::SubscribeRequest { symbols: symbols.iter().map(|s| s.to_string()).collect(), indicators, ..Default::default() }
}

/// The Compute request that asks what `subscription` does, for `symbol`'s whole history.
pub fn compute_like(subscription: &pb::SubscribeRequest, symbol: &str) -> pb::ComputeRequest {
    pb::ComputeRequest {
        symbols: vec![symbol.to_string()],
        indicators: subscription.indicators.clone(),
        convention: subscription.convention,
        adjust: subscription.adjust,
        frequency: subscription.frequency,
        ..Default::default()
    }
}

/// Compute as `subscription` asks, for `symbol`.
pub fn computed(client: &IndicatorsClient, subscription: &pb::SubscribeRequest, symbol: &str) -> pb::Series {
    let mut series =
        compute(client, &compute_like(subscription, symbol)).unwrap_or_else(|e| panic!("Compute {symbol}: {e:?}"));
    series.remove(0)
}

/// xorshift64*: a small seeded generator, so a failure can be replayed from its printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The seed of `IDC_LIVE_SEED`, or one from the clock.
    pub fn seed() -> u64 {
        match std::env::var("IDC_LIVE_SEED") {
            Ok(text) => text.parse().expect("IDC_LIVE_SEED is a number"),
            Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
