//! Live bars: what one pushed bar costs per indicator, and how soon subscribers receive it.
//! Prints two Markdown tables; nothing is asserted about speed. `cargo bench --bench live` runs
//! the full form (a couple of minutes); `cargo bench --bench live -- --smoke` runs every path with
//! tiny counts in seconds (`bench/run` runs both forms as its `live` section).
//!
//! 1. Incremental cost per indicator: each of the 20 built-ins in both conventions, default
//!    parameters, over a 2,500-bar random walk. Batch: `Indicator::compute` over the whole
//!    history, divided by the bars. Incremental: a `Track` (no adjustment, daily) holding that one
//!    indicator, `advance` timed over a run of appended bars, then over as many revisions of the
//!    last bar (its close moved within its range). Medians of repeated runs, `black_box`ed.
//! 2. Push-to-receive latency: an in-process `idc::server::start` with `--data DIR` (one CSV
//!    instrument of 2,500 bars in a temp dir) and `--push-token-file`; N subscribers (Subscribe
//!    to that symbol with MACD, RSI and KDJ) spread over a few channels (one connection each),
//!    each stream read by a future on the client's completion-queue threads that stamps each
//!    update's arrival (`Instant`, by subscriber and date) where it is decoded. A pusher on its
//!    own channel pushes one bar at a time, each a new date, waiting for its reply; latency is
//!    arrival minus the instant the push was sent, over every (push, subscriber) pair. Then it
//!    pushes back to back for a few seconds: pushes/s sustained, with the updates delivered per
//!    second and their latency under that load.
//! 3. Pushes across a market (`live_market.rs`): concurrent pushers over 256 symbols while the
//!    subscribers listen to one of them: pushes per second as a feed makes them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use grpcio::{CallOption, ChannelBuilder, EnvBuilder, Environment, MetadataBuilder};
use idc::config::cli::ServerArgs;
use idc::domain::indicators::{Convention, Indicator, ALL};
use idc::domain::live::{Advanced, Track};
use idc::domain::series::{Adjust, BarColumns, Frequency};
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

#[path = "bars.rs"]
mod bars;
#[path = "live_market.rs"]
mod market;
use bars::{head, median, ns, walk};

const SYMBOL: &str = "LIVE";
const TOKEN: &str = "bench-live-push-token";
/// A subscriber that hears nothing for this long has lost its stream: the bench stops waiting.
const SILENCE: Duration = Duration::from_secs(60);

/// What one run measures.
struct Settings {
    smoke: bool,
    bars: usize,
    /// Part 1: batch runs, incremental rounds, and bars appended (and revisions) per round.
    batch_runs: usize,
    rounds: usize,
    steps: usize,
    /// Part 2: subscriber counts, pushes timed one at a time, and the back-to-back window.
    subscribers: &'static [usize],
    pushes: usize,
    sustain: Duration,
}

impl Settings {
    fn new(smoke: bool) -> Settings {
        if smoke {
            let (subscribers, sustain) = (&[1, 20][..], Duration::from_millis(500));
            Settings { smoke, bars: 2500, batch_runs: 3, rounds: 3, steps: 20, subscribers, pushes: 5, sustain }
        } else {
            let (subscribers, sustain) = (&[1, 100, 1000][..], Duration::from_secs(4));
            Settings { smoke, bars: 2500, batch_runs: 31, rounds: 21, steps: 1000, subscribers, pushes: 200, sustain }
        }
    }
}

/// idc_server's allocator and malloc thresholds (idc_core::memory), so that what is computed
/// here in-process is computed as the server computes it.
#[global_allocator]
static ALLOCATOR: idc_core::memory::Allocator = idc_core::memory::Allocator;

fn main() {
    let _ = idc_core::memory::fix_malloc_thresholds();
    // `cargo bench` passes `--bench`; only `--smoke` means anything here.
    let smoke = std::env::args().any(|a| a == "--smoke");
    let s = Settings::new(smoke);
    println!("live bench ({}): {} bars of history", if s.smoke { "smoke" } else { "full" }, s.bars);
    println!();
    incremental(&s);
    println!();
    latency(&s);
    println!();
    market::market(&s);
}

// -- part 1 ------------------------------------------------------------------------------------

fn incremental(s: &Settings) {
    let bars = walk(s.bars + s.steps, 7);
    let history = head(&bars, s.bars);
    println!(
        "### Incremental cost per indicator ({} bars; batch: median of {} runs; incremental: median of {} rounds \
         of {} appends, then {} revisions of the last bar)",
        s.bars, s.batch_runs, s.rounds, s.steps, s.steps
    );
    println!();
    println!(
        "| indicator | convention | batch ns/bar | append ns/update | revise ns/update | append/batch | revise/batch |"
    );
    println!("| --- | --- | --: | --: | --: | --: | --: |");
    let mut all = Vec::new();
    let mut batch_sum = 0.0;
    for def in ALL {
        for convention in [Convention::Cn, Convention::Talib] {
            let indicator = Indicator::new(def.name, &[], convention).expect("the defaults are valid");
            let prices = history.prices();
            let batch = median((0..s.batch_runs).map(|_| {
                let start = Instant::now();
                black_box(indicator.compute(black_box(&prices)));
                start.elapsed()
            }));
            let batch = ns(batch) / s.bars as f64;
            let (append, revise) = time_track(s, &[&indicator], &history, &bars);
            let (label, a, r) = (indicator.label(), append / batch, revise / batch);
            println!("| {label} | {convention} | {batch:.1} | {append:.1} | {revise:.1} | {a:.2} | {r:.2} |");
            batch_sum += batch;
            all.push(indicator);
        }
    }
    // As a subscription key holds them: every indicator in one track, whose per-bar work (the
    // derived bar, the period) is shared by all of them.
    let every: Vec<&Indicator> = all.iter().collect();
    let (append, revise) = time_track(s, &every, &history, &bars);
    let (a, r) = (append / batch_sum, revise / batch_sum);
    println!(
        "| all {} above, one track | both | {batch_sum:.1} | {append:.1} | {revise:.1} | {a:.2} | {r:.2} |",
        all.len()
    );
}

/// A track of `indicators` over `history`, then the bars after it of `bars` appended, the last
/// one forming and then revised again and again: ns per append and per revision (medians).
fn time_track(s: &Settings, indicators: &[&Indicator], history: &BarColumns, bars: &BarColumns) -> (f64, f64) {
    let mut bars = bars.clone();
    let last = bars.len() - 1;
    let (low, high) = (bars.low[last], bars.high[last]);
    let (mut appends, mut revisions) = (Vec::new(), Vec::new());
    for _ in 0..s.rounds {
        let mut track = Track::new(history, Adjust::None, Frequency::Daily).expect("a track");
        let slots = track.add_all(indicators, history).expect("the slots");
        let start = Instant::now();
        for i in s.bars..bars.len() {
            // Final bars, as a feed pushes them; the last one forming, to be revised below.
            let advanced = track.advance(black_box(&bars), i, i == last).expect("an append");
            for &slot in &slots {
                black_box(track.values(slot));
            }
            assert_eq!(advanced, Advanced::Appended, "bar {i}: the timed path");
        }
        appends.push(start.elapsed());
        let start = Instant::now();
        for k in 0..s.steps {
            bars.close[last] = low + (high - low) * (k % 7) as f64 / 6.0;
            let advanced = track.advance(black_box(&bars), last, true).expect("a revision");
            for &slot in &slots {
                black_box(track.values(slot));
            }
            assert_eq!(advanced, Advanced::Revised, "the timed path");
        }
        revisions.push(start.elapsed());
    }
    (ns(median(appends)) / s.steps as f64, ns(median(revisions)) / s.steps as f64)
}

// -- part 2 ------------------------------------------------------------------------------------

/// What the pusher and the receiving threads share.
struct Shared {
    /// The date of push k -> k.
    dates: HashMap<String, u32>,
    snapshots: AtomicUsize,
    /// Updates (not snapshots) each stream must receive before its thread ends; set before the
    /// last push.
    target: AtomicUsize,
}

/// What one receiving thread saw.
#[derive(Default)]
struct Received {
    /// (subscriber, push, arrival).
    arrivals: Vec<(u32, u32, Instant)>,
    /// Streams that ended, and why.
    ended: Vec<String>,
}

fn latency(s: &Settings) {
    println!(
        "### Push-to-receive latency (one instrument of {} bars; each subscriber: MACD, RSI, KDJ; {} pushes one at \
         a time, then back to back for {:.1} s)",
        s.bars,
        s.pushes,
        s.sustain.as_secs_f64()
    );
    println!();
    println!(
        "| subscribers | channels | push reply p50 ms | push→receive p50 ms | p99 ms | max ms | sustained pushes/s | \
         updates received/s | sustained p50 ms | sustained p99 ms | missing | ended |"
    );
    println!("| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
    for &n in s.subscribers {
        live_run(s, n);
    }
}

fn live_run(s: &Settings, n: usize) {
    // Room for every push the back-to-back window could make.
    let room = s.pushes + 1 + 200_000.min(s.sustain.as_millis() as usize * 20);
    let bars = walk(s.bars + room, 11);
    let server = Served::start(&head(&bars, s.bars), n);
    let pushes: Vec<pb::Bar> = (s.bars..bars.len()).map(|i| bar(&bars, i)).collect();
    let dates = pushes.iter().enumerate().map(|(k, b)| (b.date.clone(), k as u32)).collect();
    let shared = Arc::new(Shared { dates, snapshots: AtomicUsize::new(0), target: AtomicUsize::new(usize::MAX) });
    let channels = n.clamp(1, 4);
    let env = Arc::new(EnvBuilder::new().cq_count(channels.min(2)).name_prefix("bench-cq").build());
    let receivers = Receivers::start(&env, server.port, n, channels, &shared);
    await_snapshots(&shared, n);
    let pusher = IndicatorsClient::new(channel(&env, server.port));
    let option = push_option();
    let push = |k: usize| {
        let request =
            pb::PushBarsRequest { symbol: SYMBOL.into(), bars: vec![pushes[k].clone()], ..Default::default() };
        let reply = pusher.push_bars_opt(&request, option.clone()).unwrap_or_else(|e| panic!("push {k}: {e}"));
        assert_eq!(reply.appended, 1, "push {k} appends its bar");
    };
    // One at a time: the instant each push was sent, and how long its reply took.
    let mut sent = Vec::with_capacity(room);
    let mut replies = Vec::with_capacity(s.pushes);
    for k in 0..s.pushes {
        let start = Instant::now();
        sent.push(start);
        push(k);
        replies.push(start.elapsed());
    }
    // Back to back.
    let window = Instant::now();
    let mut k = s.pushes;
    while window.elapsed() < s.sustain && k + 1 < room {
        sent.push(Instant::now());
        push(k);
        k += 1;
    }
    let window = window.elapsed();
    let sustained = k - s.pushes;
    // The last push, after which every stream that is still open has all it will get.
    shared.target.store(k + 1, Ordering::Release);
    sent.push(Instant::now());
    push(k);
    let received = receivers.join();
    drop(server);

    let (mut one, mut load, mut ended) = (Vec::new(), Vec::new(), Vec::new());
    for r in received {
        for (_, k, at) in r.arrivals {
            let k = k as usize;
            let took = at.saturating_duration_since(sent[k]);
            if k < s.pushes {
                one.push(took);
            } else if k < s.pushes + sustained {
                load.push(took);
            }
        }
        ended.extend(r.ended);
    }
    let missing = (n * s.pushes).saturating_sub(one.len()) + (n * sustained).saturating_sub(load.len());
    let delivered = load.len() as f64 / window.as_secs_f64();
    let (one, load) = (sorted(one), sorted(load));
    let (p50, p99, max) = (ms(percentile(&one, 0.5)), ms(percentile(&one, 0.99)), ms(percentile(&one, 1.0)));
    let (reply, rate) = (ms(percentile(&sorted(replies), 0.5)), sustained as f64 / window.as_secs_f64());
    let (l50, l99, gone) = (ms(percentile(&load, 0.5)), ms(percentile(&load, 0.99)), ended.len());
    println!(
        "| {n} | {channels} | {reply:.2} | {p50:.2} | {p99:.2} | {max:.2} | {rate:.0} | {delivered:.0} | {l50:.2} | \
         {l99:.2} | {missing} | {gone} |"
    );
    if let Some(first) = ended.first() {
        eprintln!("live bench: {n} subscribers: {} streams ended early, the first: {first}", ended.len());
    }
}

/// Waits until `n` subscribers have their snapshots (every stream is open and listening).
fn await_snapshots(shared: &Shared, n: usize) {
    let began = Instant::now();
    while shared.snapshots.load(Ordering::Acquire) < n {
        let got = shared.snapshots.load(Ordering::Acquire);
        assert!(began.elapsed() < SILENCE, "{n} subscribers: only {got} snapshots came");
        thread::sleep(Duration::from_millis(2));
    }
}

/// A push's call options: the push token, and a deadline far past any push.
fn push_option() -> CallOption {
    let mut metadata = MetadataBuilder::new();
    metadata.add_str("authorization", &format!("Bearer {TOKEN}")).unwrap();
    CallOption::default().headers(metadata.build()).timeout(Duration::from_secs(30))
}

/// The subscribers' streams, each read by a future of its own on the client's completion-queue
/// threads (grpcio's `spawn`, as its route_guide client does): an update is stamped where it is
/// decoded, with no hand-over to a thread of the bench's.
struct Receivers {
    results: std::sync::mpsc::Receiver<Received>,
    count: usize,
    /// Kept open while the streams run (a channel dropped takes its calls with it).
    _clients: Vec<IndicatorsClient>,
}

impl Receivers {
    /// Subscribes `n` streams over `channels` channels of `env` (one connection each).
    fn start(env: &Arc<Environment>, port: u16, n: usize, channels: usize, shared: &Arc<Shared>) -> Receivers {
        let request = pb::SubscribeRequest {
            symbols: vec![SYMBOL.into()],
            indicators: ["MACD", "RSI", "KDJ"]
                .iter()
                .map(|name| pb::IndicatorSpec { name: name.to_string(), ..Default::default() })
                .collect(),
            ..Default::default()
        };
        let (done, results) = std::sync::mpsc::channel();
        let clients: Vec<IndicatorsClient> = (0..channels).map(|_| IndicatorsClient::new(channel(env, port))).collect();
        for sub in 0..n {
            let client = &clients[sub * channels / n.max(1)];
            let stream = client.subscribe_opt(&request, CallOption::default()).expect("Subscribe starts");
            let (shared, done) = (Arc::clone(shared), done.clone());
            client.spawn(async move {
                let _ = done.send(receive(sub, stream, &shared).await);
            });
        }
        Receivers { results, count: n, _clients: clients }
    }

    /// What every stream saw, once each has its `target` updates or has ended; a stream silent
    /// for [`SILENCE`] is given up on (its arrivals are then missing).
    fn join(self) -> Vec<Received> {
        let mut all = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            match self.results.recv_timeout(SILENCE) {
                Ok(received) => all.push(received),
                Err(_) => {
                    let gone = self.count - all.len();
                    all.push(Received {
                        ended: vec![format!("{gone} streams: nothing for {SILENCE:?}")],
                        ..Default::default()
                    });
                    break;
                }
            }
        }
        all
    }
}

/// Drains subscriber `sub`'s stream until it has `target` updates (or ended).
async fn receive(sub: usize, mut stream: grpcio::ClientSStreamReceiver<pb::Update>, shared: &Shared) -> Received {
    let (mut count, mut out) = (0, Received::default());
    while count < shared.target.load(Ordering::Acquire) {
        match stream.next().await {
            None => break,
            Some(Ok(update)) => {
                let at = Instant::now();
                if update.snapshot {
                    shared.snapshots.fetch_add(1, Ordering::AcqRel);
                    continue;
                }
                if let Some(&k) = shared.dates.get(&update.date) {
                    out.arrivals.push((sub as u32, k, at));
                }
                count += 1;
            }
            Some(Err(e)) => {
                out.ended.push(format!("subscriber {sub}: {e}"));
                break;
            }
        }
    }
    out
}

/// A channel of its own connection (a local subchannel pool), for enough concurrent streams.
fn channel(env: &Arc<Environment>, port: u16) -> grpcio::Channel {
    ChannelBuilder::new(Arc::clone(env))
        .use_local_subchannel_pool(true)
        .max_concurrent_stream(100_000)
        .connect(&format!("127.0.0.1:{port}"))
}

/// An in-process idc_server over a temp dir holding `LIVE.csv`, stopped when dropped.
struct Served {
    port: u16,
    stop: Option<futures::channel::oneshot::Sender<()>>,
    done: Option<thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(history: &BarColumns, subscribers: usize) -> Served {
        Served::start_market(history, history, 0, subscribers)
    }

    /// [`Served::start`], with `others` more symbols (`M0001`...) holding `other`.
    fn start_market(history: &BarColumns, other: &BarColumns, others: usize, subscribers: usize) -> Served {
        let dir = tempfile::tempdir().expect("a temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let csv = |bars: &BarColumns| {
            let mut csv = String::from("date,open,high,low,close,volume\n");
            for i in 0..bars.len() {
                let b = bar(bars, i);
                writeln!(csv, "{},{},{},{},{},{}", b.date, b.open, b.high, b.low, b.close, b.volume).unwrap();
            }
            csv
        };
        std::fs::write(data.join(format!("{SYMBOL}.csv")), csv(history)).unwrap();
        let other = csv(other);
        for k in 1..=others {
            std::fs::write(data.join(format!("M{k:04}.csv")), &other).unwrap();
        }
        let token = dir.path().join("push.token");
        std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        let (data, token) = (data.to_str().unwrap().to_string(), token.to_str().unwrap().to_string());
        let streams = (subscribers + 100).to_string();
        let args = [
            "idc_server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data",
            &data,
            "--push-token-file",
            &token,
            "--max-concurrent-streams",
            &streams,
            "--max-subscriptions",
            &streams,
        ];
        let args = ServerArgs::try_parse_from(args).unwrap_or_else(|e| panic!("{e}"));
        let running = idc::server::start(&args.config).unwrap_or_else(|e| panic!("the server starts: {e}"));
        let port = running.port();
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let done = thread::spawn(move || {
            running.serve_until(async move {
                let _ = stopped.await;
            })
        });
        Served { port, stop: Some(stop), done: Some(done), _dir: dir }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.join();
        }
    }
}

// -- bars and numbers --------------------------------------------------------------------------

fn bar(bars: &BarColumns, i: usize) -> pb::Bar {
    pb::Bar {
        date: bars.date[i].to_string(),
        open: bars.open[i],
        high: bars.high[i],
        low: bars.low[i],
        close: bars.close[i],
        volume: bars.volume[i],
        ..Default::default()
    }
}

fn sorted(mut samples: Vec<Duration>) -> Vec<Duration> {
    samples.sort_unstable();
    samples
}

/// The `q` quantile of sorted `samples` (nearest rank); zero when there are none.
fn percentile(samples: &[Duration], q: f64) -> Duration {
    match samples.len() {
        0 => Duration::ZERO,
        n => samples[((n as f64 * q).ceil() as usize).clamp(1, n) - 1],
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
