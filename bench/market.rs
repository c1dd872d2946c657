//! "The market in one call" (issue 24): `Compute` of MACD, RSI, BOLL and KDJ for every instrument
//! of a catalog, read to the end, against idc_server and the Python peer of the same proto
//! (tests/python/v2_peer.py: grpcio, pandas, TA-Lib), both already running on the same files;
//! bench/lib/market.py starts them and runs this as the `market` section of bench/run.
//!
//! `cargo bench --bench market -- --idc HOST:PORT --python HOST:PORT [--smoke]` prints one JSON
//! object on stdout (progress on stderr):
//!
//! 1. Checks, before any timing: both list the same instruments (symbols, bar counts); the market
//!    request (every symbol, whole history, MACD(12,26,9), RSI(14), BOLL(20,2), KDJ(9,3,3)) in the
//!    TALIB convention and again in CN (the peer's MyTT), and the latency requests in both, give
//!    the same symbols, dates, bars and column names, and every value equal to 1e-9 (absolute
//!    under 1, relative above; NaN where the other has NaN). The two streams are read in lockstep,
//!    so no call's 600 MB are held at once.
//! 2. The market call (TALIB): one `Compute` with no symbols (every instrument), every `Series`
//!    read, decoded and counted; client-observed time from the call to the end of its stream,
//!    median of a few runs; bars delivered must be every bar of the catalog. The client's own CPU
//!    time per call (getrusage) is reported beside it, and the server's (/proc/PID/stat, with
//!    `--idc-pid` and `--python-pid`): they share the machine's cores.
//! 3. One typical call, two ways, each by 16 callers on 16 connections making N calls one after
//!    another, every call timed to the end of its stream (p50, p99 and calls/s over every call
//!    after a warm-up): `one`, the whole of the one instrument of a second catalog of 250 bars
//!    (`--one-idc`, `--one-python`: the 1 symbol × 250 bars); `tail`, the last 250 bars
//!    of the market catalog's first instrument, whose indicators are computed over its 2,500.

use std::cmp::Ordering as CmpOrdering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::executor::block_on;
use futures::{StreamExt, TryStreamExt};
use grpcio::{CallOption, ChannelBuilder, ClientSStreamReceiver, EnvBuilder, Environment};
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;
use protobuf::EnumOrUnknown;
use serde_json::{json, Value};

/// The market call may take minutes from the Python peer.
const CALL_LIMIT: Duration = Duration::from_secs(900);
/// The indicators of every request, as the issue names them (TA-Lib's RSI period).
const SPECS: [(&str, &[f64]); 4] =
    [("MACD", &[12.0, 26.0, 9.0]), ("RSI", &[14.0]), ("BOLL", &[20.0, 2.0]), ("KDJ", &[9.0, 3.0, 3.0])];
const LATENCY_BARS: usize = 250;

#[derive(Parser)]
struct Args {
    /// idc_server's address.
    #[arg(long)]
    idc: String,
    /// The Python peer's address.
    #[arg(long)]
    python: String,
    /// Tiny counts, every path.
    #[arg(long)]
    smoke: bool,
    /// What `cargo bench` passes; nothing here.
    #[arg(long, hide = true)]
    bench: bool,
    /// idc_server on a catalog of one instrument (the latency call's).
    #[arg(long)]
    one_idc: String,
    /// The Python peer on that catalog.
    #[arg(long)]
    one_python: String,
    /// idc_server's process id, to report the CPU time it spends on a market call.
    #[arg(long)]
    idc_pid: Option<u32>,
    /// The Python peer's process id, likewise.
    #[arg(long)]
    python_pid: Option<u32>,
    /// Concurrent callers of the latency part.
    #[arg(long, default_value_t = 16)]
    callers: usize,
}

/// Runs and calls per server: (market runs, latency calls per caller, warm-up calls per caller).
fn counts(smoke: bool, peer: &str) -> (usize, usize, usize) {
    match (smoke, peer) {
        (true, _) => (1, 5, 1),
        (false, "idc") => (5, 1000, 50),
        (false, _) => (3, 60, 5),
    }
}

fn main() {
    let args = Args::parse();
    let env = Arc::new(EnvBuilder::new().name_prefix("bench-market").build());
    let peers = ["idc", "python"];
    let market_at = [args.idc.clone(), args.python.clone()];
    let one_at = [args.one_idc.clone(), args.one_python.clone()];
    let clients = market_at.clone().map(|target| client(&env, &target));
    let one_clients = one_at.clone().map(|target| client(&env, &target));

    let listed = same_instruments(&clients, "market");
    let bars: u64 = listed.iter().map(|(_, n)| u64::from(*n)).sum();
    let first = listed[0].0.clone();
    let one_listed = same_instruments(&one_clients, "one-instrument");
    assert_eq!(one_listed.len(), 1, "the one-instrument catalog holds {} instruments", one_listed.len());
    let (one_symbol, one_bars) = one_listed[0].clone();
    eprintln!("market: {} instruments, {bars} bars; {one_symbol}: {one_bars} bars", listed.len());

    let market = request(&[], "", pb::Convention::TALIB);
    let one = request(&[one_symbol.clone()], "", pb::Convention::TALIB);
    // The typical call on the market catalog: the first symbol's last 250 dates (idc's reply
    // says which they are), its indicators over the whole history.
    let whole = fetch(&clients[0], &request(&[first.clone()], "", pb::Convention::TALIB));
    let start = whole[0].date[whole[0].date.len().saturating_sub(LATENCY_BARS)].clone();
    let tail = request(&[first.clone()], &start, pb::Convention::TALIB);

    let mut checks = Vec::new();
    for convention in [pb::Convention::TALIB, pb::Convention::CN] {
        for (what, pair, body) in
            [("market", &clients, &market), ("one", &one_clients, &one), ("tail", &clients, &tail)]
        {
            let mut body = body.clone();
            body.convention = EnumOrUnknown::new(convention);
            let began = Instant::now();
            let (series, values) = compare(&pair[0], &pair[1], &body);
            let name = format!("{what} {convention:?}");
            eprintln!("market: {name}: {series} series, {values} values equal to 1e-9 ({:.1?})", began.elapsed());
            checks.push(json!({"request": name, "series": series, "values": values}));
        }
    }

    let mut out = serde_json::Map::new();
    for (k, peer) in peers.iter().enumerate() {
        let (runs, calls, warm) = counts(args.smoke, peer);
        let pid = [args.idc_pid, args.python_pid][k];
        let (cpu, server_cpu) = (cpu_s(), pid.map(process_cpu_s));
        let timed: Vec<f64> = (0..runs).map(|_| market_call(&clients[k], &market, bars, listed.len())).collect();
        let client_cpu_s = (cpu_s() - cpu) / runs as f64;
        let server_cpu_s = pid.zip(server_cpu).map(|(pid, before)| (process_cpu_s(pid) - before) / runs as f64);
        let total_s = median(&timed);
        eprintln!("market: {peer}: {bars} bars in {total_s:.3} s (runs {timed:.3?})");
        let one = latency(&env, &one_at[k], &one, args.callers, calls, warm);
        let tail = latency(&env, &market_at[k], &tail, args.callers, calls, warm);
        eprintln!("market: {peer}: one call {one}; tail {tail}");
        out.insert(
            peer.to_string(),
            json!({"market": {"runs_s": timed, "total_s": total_s, "bars": bars, "bars_per_s": bars as f64 / total_s,
                              "client_cpu_s": client_cpu_s, "server_cpu_s": server_cpu_s},
                   "one": one, "tail": tail}),
        );
    }
    let report = json!({
        "instruments": listed.len(), "bars": bars, "one_symbol": one_symbol, "one_bars": one_bars,
        "tail_symbol": first, "tail_start": start, "tail_bars": whole[0].date.len().min(LATENCY_BARS),
        "callers": args.callers, "checks": checks, "peers": Value::Object(out),
    });
    println!("{report}");
}

/// Both servers' instruments, which must be the same: (symbol, bars) in their order.
fn same_instruments(clients: &[IndicatorsClient; 2], what: &str) -> Vec<(String, u32)> {
    let [a, b] = clients.each_ref().map(instruments);
    assert_eq!(a, b, "{what} catalog: idc and the Python peer list other instruments");
    assert!(!a.is_empty(), "{what} catalog: no instruments");
    a
}

fn client(env: &Arc<Environment>, target: &str) -> IndicatorsClient {
    // One connection per client (no shared subchannel), so the callers do not share one.
    let channel = ChannelBuilder::new(Arc::clone(env))
        .use_local_subchannel_pool(true)
        .max_receive_message_len(64 << 20)
        .connect(target);
    IndicatorsClient::new(channel)
}

fn option() -> CallOption {
    CallOption::default().timeout(CALL_LIMIT)
}

fn instruments(client: &IndicatorsClient) -> Vec<(String, u32)> {
    let reply = client.list_instruments_opt(&pb::ListInstrumentsRequest::new(), option()).expect("ListInstruments");
    reply.instruments.into_iter().map(|i| (i.symbol, i.bars)).collect()
}

fn request(symbols: &[String], start: &str, convention: pb::Convention) -> pb::ComputeRequest {
    pb::ComputeRequest {
        symbols: symbols.to_vec(),
        start_date: start.to_string(),
        indicators: SPECS
            .iter()
            .map(|(name, params)| pb::IndicatorSpec {
                name: name.to_string(),
                params: params.to_vec(),
                ..Default::default()
            })
            .collect(),
        convention: EnumOrUnknown::new(convention),
        ..Default::default()
    }
}

fn stream(client: &IndicatorsClient, body: &pb::ComputeRequest) -> ClientSStreamReceiver<pb::Series> {
    client.compute_opt(body, option()).expect("Compute starts")
}

fn fetch(client: &IndicatorsClient, body: &pb::ComputeRequest) -> Vec<pb::Series> {
    block_on(stream(client, body).try_collect()).expect("Compute")
}

/// Reads both replies in lockstep; panics on the first difference. Returns (series, values).
fn compare(idc: &IndicatorsClient, python: &IndicatorsClient, body: &pb::ComputeRequest) -> (usize, usize) {
    let (mut a, mut b) = (stream(idc, body), stream(python, body));
    let (mut series, mut values) = (0, 0);
    block_on(async {
        loop {
            match (a.next().await, b.next().await) {
                (None, None) => break,
                (Some(x), Some(y)) => {
                    let (x, y) = (x.expect("idc's Compute"), y.expect("the peer's Compute"));
                    values += same_series(&x, &y);
                    series += 1;
                }
                (x, y) => panic!(
                    "after {series} series, only one stream ended: idc {:?}, peer {:?}",
                    x.is_none(),
                    y.is_none()
                ),
            }
        }
    });
    (series, values)
}

fn close(ours: f64, theirs: f64) -> bool {
    if ours.is_nan() || theirs.is_nan() {
        return ours.is_nan() && theirs.is_nan();
    }
    let tolerance = if theirs.abs() < 1.0 { 1e-9 } else { 1e-9 * theirs.abs() };
    (ours - theirs).abs() <= tolerance
}

fn same_values(what: &str, ours: &[f64], theirs: &[f64]) -> usize {
    assert_eq!(ours.len(), theirs.len(), "{what}: {} values from idc, {} from the peer", ours.len(), theirs.len());
    if let Some(i) = (0..ours.len()).find(|&i| !close(ours[i], theirs[i])) {
        panic!("{what}, bar {i}: idc {} against the peer's {}", ours[i], theirs[i]);
    }
    ours.len()
}

fn same_series(x: &pb::Series, y: &pb::Series) -> usize {
    assert_eq!(x.symbol, y.symbol, "symbols in another order");
    let s = &x.symbol;
    assert_eq!(x.date, y.date, "{s}: other dates");
    let mut n = 0;
    for (what, a, b) in
        [("open", &x.open, &y.open), ("high", &x.high, &y.high), ("low", &x.low, &y.low), ("close", &x.close, &y.close)]
    {
        n += same_values(&format!("{s} {what}"), a, b);
    }
    n += same_values(&format!("{s} volume"), &x.volume, &y.volume);
    let names = |s: &pb::Series| s.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(x), names(y), "{s}: other columns");
    for (a, b) in x.columns.iter().zip(&y.columns) {
        n += same_values(&format!("{s} {}", a.name), &a.values, &b.values);
    }
    n
}

/// One market call read to the end: its client-observed seconds. Checks every bar came.
fn market_call(client: &IndicatorsClient, body: &pb::ComputeRequest, bars: u64, symbols: usize) -> f64 {
    let began = Instant::now();
    let (got_bars, got_series) = block_on(
        stream(client, body)
            .try_fold((0u64, 0usize), |(b, n), series| async move { Ok((b + series.date.len() as u64, n + 1)) }),
    )
    .expect("the market call");
    let took = began.elapsed().as_secs_f64();
    assert_eq!((got_bars, got_series), (bars, symbols), "the market call delivered other counts");
    took
}

/// `callers` threads on a connection each, `warm` then `calls` calls one after another.
fn latency(
    env: &Arc<Environment>,
    target: &str,
    body: &pb::ComputeRequest,
    callers: usize,
    calls: usize,
    warm: usize,
) -> Value {
    let began = Instant::now();
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (client, body) = (client(env, target), body.clone());
            thread::spawn(move || {
                let mut took = Vec::with_capacity(calls);
                for k in 0..warm + calls {
                    let began = Instant::now();
                    let got = fetch(&client, &body);
                    if k >= warm {
                        took.push(began.elapsed().as_secs_f64());
                    }
                    assert_eq!(got.len(), 1, "one series");
                }
                took
            })
        })
        .collect();
    // Every caller warms up at once, so the window is all of it, warm-up included.
    let mut all: Vec<f64> = threads.into_iter().flat_map(|t| t.join().expect("a caller")).collect();
    let window = began.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap_or(CmpOrdering::Equal));
    let at = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize] * 1000.0;
    json!({"calls": all.len(), "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": at(1.0),
           "calls_per_s": (callers * (warm + calls)) as f64 / window})
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(CmpOrdering::Equal));
    v[v.len() / 2]
}

/// This process's CPU time (user and system, every thread), in seconds: what the client costs.
fn cpu_s() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(usage.ru_utime) + s(usage.ru_stime)
}

/// A process's CPU time (user and system), in seconds, from /proc/PID/stat.
fn process_cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's /proc/PID/stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the line; the first here is field 3, the state.
    let ticks: f64 = fields[11..13].iter().map(|f| f.parse::<f64>().expect("clock ticks")).sum();
    // SAFETY: sysconf only reads a configuration value.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}
