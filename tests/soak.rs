//! Soak: 200 concurrent clients against three real `idc_server` processes (parity mode with a
//! graph file, data mode on the embedded sample, and a v2 live server on a catalog folder with
//! pushes), for `IDC_SOAK_SECS` seconds (default 10, the CI form; the long form in
//! docs/testing.md is 60). 170 clients mix the v1 calls (GetMACD in both modes, GetMACDGraph of a
//! file and of a chart, health checks) with v2 `Compute` over many symbols, `Chart` with panels
//! and short `Subscribe` streams; 10 push to an instrument each; 20 hold a `Subscribe` stream
//! open throughout (tests/soak/live.rs).
//!
//! Asserts: no call fails (any status but OK, or a reply that is wrong, is a failure); every long
//! subscriber's updates since its snapshot are Compute's at the end, and every pushed instrument
//! what was pushed; each server's resident memory at the end is within 20 % of what it was after
//! the warm-up (the first 20 % of the time); and each server's open file descriptors, counted
//! while it is quiet before the load and again once every client connection has gone, are the
//! same. It prints the figures (`cargo test --release --test soak -- --nocapture`).

mod common;
#[path = "soak/live.rs"]
mod live_load;

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use grpcio::{CallOption, ChannelBuilder, Environment};
use idc::protocol::health::health_check_response::ServingStatus;
use idc::protocol::health::HealthCheckRequest;
use idc::protocol::health_grpc::HealthClient;
use idc::protocol::indicator::MACDRequest;
use idc::protocol::indicator_graph::MACDGraphRequest;
use idc::protocol::indicator_graph_grpc::IndicatorGraphClient;
use idc::protocol::indicator_grpc::IndicatorClient;
use idc::protocol::indicators_grpc::IndicatorsClient;

use common::{fd_count, pseudo_random_bytes, rss_kib, rust_server, scratch, write_file, Server};

const CLIENTS: usize = 200;
/// The graph file of the parity server: 64 KiB, 64 messages of 1 KiB per call.
const GRAPH_LEN: usize = 64 << 10;
/// RSS at the end may exceed RSS after the warm-up by this fraction...
const RSS_GROWTH: f64 = 0.20;
/// ...plus this much. The servers hold only 20 to 30 MiB, so 20 % is 4 to 6 MiB, while the
/// allocator keeps freed memory in per-thread arenas whose peaks depend on which calls happened
/// to overlap: in our runs a steady server moved by 0.1 to 2.2 MiB between the two samples (the
/// data server, whose renders allocate the most, the furthest), with no trend from 10 s to 60 s.
/// A leak worth finding grows far beyond this: one 64 KiB graph kept per call would be hundreds
/// of MiB even in the 10 s form.
const RSS_SLACK_KIB: u64 = 2 << 10;
/// How long a server may take to close the connections of clients that have gone.
const CLOSE_LIMIT: Duration = Duration::from_secs(20);
/// No call should take long; one stuck for this long counts as failed (DEADLINE_EXCEEDED).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The calls the clients mix, and how often each comes up (out of 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    ParityMacd,
    DataMacd,
    FileGraph,
    ChartGraph,
    Health,
    Compute,
    Chart,
    SubscribeBriefly,
    Push,
    Subscribe,
}

/// Push and Subscribe are not in the mix: clients of their own make them (see `Client::run`).
const KINDS: [(Kind, u64, &str); 10] = [
    (Kind::ParityMacd, 25, "GetMACD (parity)"),
    (Kind::DataMacd, 25, "GetMACD (data)"),
    (Kind::FileGraph, 12, "GetMACDGraph (file)"),
    // A render costs milliseconds of CPU on two shared cores: a few, for the render path's memory.
    (Kind::ChartGraph, 4, "GetMACDGraph (chart)"),
    (Kind::Health, 16, "Health/Check"),
    (Kind::Compute, 12, "Compute (10-30 symbols)"),
    (Kind::Chart, 2, "Chart (panels)"),
    (Kind::SubscribeBriefly, 4, "Subscribe (snapshot)"),
    (Kind::Push, 0, "PushBars"),
    (Kind::Subscribe, 0, "Subscribe (throughout)"),
];

fn kind_index(kind: Kind) -> usize {
    KINDS.iter().position(|(k, _, _)| *k == kind).unwrap()
}

fn soak_duration() -> Duration {
    let secs = match std::env::var("IDC_SOAK_SECS") {
        Ok(text) => text.parse::<u64>().unwrap_or_else(|_| panic!("IDC_SOAK_SECS={text:?} is not a number of seconds")),
        Err(_) => 10,
    };
    assert!((5..=3600).contains(&secs), "IDC_SOAK_SECS must be 5 to 3600, not {secs}");
    Duration::from_secs(secs)
}

/// Calls and failures, per kind.
#[derive(Default)]
struct Tally {
    ok: [AtomicU64; KINDS.len()],
    failed: [AtomicU64; KINDS.len()],
    /// The first few failures, to show what went wrong.
    first_failures: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, kind: Kind, result: Result<(), String>) {
        let i = kind_index(kind);
        match result {
            Ok(()) => self.ok[i].fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                let mut first = self.first_failures.lock().unwrap();
                if first.len() < 10 {
                    first.push(format!("{}: {e}", KINDS[i].2));
                }
                self.failed[i].fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// A small deterministic generator, one per client, so that a run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (the proleptic Gregorian calendar).
fn date_of(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The sample's span, 1999-01-04 to 2018-12-31, in days since 1970-01-01.
const SAMPLE_FIRST: i64 = 10_595;
const SAMPLE_LAST: i64 = 17_896;

/// A range inside the sample of `min..=max` days. At least 10 days always hold a trading day
/// (the longest closure in the sample, after 2001-09-11, is four weekdays), so the chart of any
/// such range has bars and a data-mode call never gets INVALID_ARGUMENT for an empty range.
fn sample_range(rng: &mut Rng, min: i64, max: i64) -> (String, String, i64) {
    let len = min + rng.below((max - min + 1) as u64) as i64;
    let start = SAMPLE_FIRST + rng.below((SAMPLE_LAST - SAMPLE_FIRST - min + 1) as u64) as i64;
    let end = (start + len - 1).min(SAMPLE_LAST);
    (date_of(start), date_of(end), end - start + 1)
}

/// One client: a connection of its own to each server.
struct Client {
    parity: IndicatorClient,
    parity_graph: IndicatorGraphClient,
    parity_health: HealthClient,
    data: IndicatorClient,
    data_graph: IndicatorGraphClient,
    data_health: HealthClient,
    live: IndicatorsClient,
}

impl Client {
    fn new(env: &Arc<Environment>, id: usize, [parity, data, live]: [&str; 3]) -> Client {
        // grpcio shares a subchannel (one TCP connection) between channels with the same target
        // and arguments; an argument of our own that differs per client makes each client's
        // channel, and so its connection, its own.
        let connect = |target: &str| {
            ChannelBuilder::new(Arc::clone(env))
                .raw_cfg_int(CString::new("idc.soak.client").unwrap(), id as i32)
                .connect(target)
        };
        let (p, d) = (connect(parity), connect(data));
        Client {
            parity: IndicatorClient::new(p.clone()),
            parity_graph: IndicatorGraphClient::new(p.clone()),
            parity_health: HealthClient::new(p),
            data: IndicatorClient::new(d.clone()),
            data_graph: IndicatorGraphClient::new(d.clone()),
            data_health: HealthClient::new(d),
            live: IndicatorsClient::new(connect(live)),
        }
    }

    /// The first clients push and subscribe (see tests/soak/live.rs); the others mix calls until
    /// `end`, recording every outcome.
    async fn run(&self, id: usize, end: Instant, graph: &[u8], tally: &Tally, outcome: &live_load::Outcome) {
        if id < live_load::PUSHERS {
            return live_load::pusher(&self.live, id, end, tally, outcome).await;
        }
        if id < live_load::PUSHERS + live_load::SUBSCRIBERS {
            return live_load::subscriber(&self.live, id - live_load::PUSHERS, tally, outcome).await;
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0x0100_0000_01B3));
        let total: u64 = KINDS.iter().map(|(_, weight, _)| weight).sum();
        while Instant::now() < end {
            let mut pick = rng.below(total);
            let kind = KINDS
                .iter()
                .find(|(_, weight, _)| {
                    let hit = pick < *weight;
                    pick = pick.saturating_sub(*weight);
                    hit
                })
                .unwrap()
                .0;
            let result = match kind {
                Kind::ParityMacd => self.parity_macd(&mut rng).await,
                Kind::DataMacd => self.data_macd(&mut rng).await,
                Kind::FileGraph => self.file_graph(graph).await,
                Kind::ChartGraph => self.chart_graph(&mut rng).await,
                Kind::Health => self.health(&mut rng).await,
                Kind::Compute => live_load::compute(&self.live, &mut rng, Self::option()).await,
                Kind::Chart => live_load::chart(&self.live, &mut rng, Self::option()).await,
                Kind::SubscribeBriefly => live_load::subscribe_briefly(&self.live, &mut rng, Self::option()).await,
                Kind::Push | Kind::Subscribe => unreachable!("not in the mix"),
            };
            tally.record(kind, result);
        }
    }

    fn option() -> CallOption {
        CallOption::default().timeout(CALL_TIMEOUT)
    }

    async fn parity_macd(&self, rng: &mut Rng) -> Result<(), String> {
        let mut request = MACDRequest::new();
        request.start_date = format!("2023-01-{:02}", 1 + rng.below(28));
        request.end_date = "2023-12-31".into();
        let reply = self.parity.get_macd_async_opt(&request, Self::option()).map_err(|e| e.to_string())?;
        let reply = reply.await.map_err(|e| e.to_string())?;
        let ok = reply.macd.len() == 4
            && reply
                .macd
                .iter()
                .zip(1..)
                .all(|(row, i)| row.date == request.start_date && row.open == (i as f64 * 1.1) as f32);
        ok.then_some(()).ok_or_else(|| format!("wrong parity reply to {request:?}: {reply:?}"))
    }

    async fn data_macd(&self, rng: &mut Rng) -> Result<(), String> {
        let (start, end, days) = sample_range(rng, 1, 1200);
        let mut request = MACDRequest::new();
        request.start_date = start;
        request.end_date = end;
        let reply = self.data.get_macd_async_opt(&request, Self::option()).map_err(|e| e.to_string())?;
        let reply = reply.await.map_err(|e| e.to_string())?;
        let rows = &reply.macd;
        let inside = rows.iter().all(|r| r.date >= request.start_date && r.date <= request.end_date);
        let ascending = rows.windows(2).all(|w| w[0].date < w[1].date);
        let sane = rows.iter().all(|r| r.low <= r.high && r.macd.is_finite());
        // A range of 10 days or more always holds a trading day (see `sample_range`).
        let present = days < 10 || !rows.is_empty();
        if inside && ascending && sane && present {
            Ok(())
        } else {
            Err(format!("wrong data reply to {}..{}: {} rows", request.start_date, request.end_date, rows.len()))
        }
    }

    async fn file_graph(&self, graph: &[u8]) -> Result<(), String> {
        let mut stream = self
            .parity_graph
            .get_macd_graph_opt(&MACDGraphRequest::new(), Self::option())
            .map_err(|e| e.to_string())?;
        let mut received = Vec::with_capacity(graph.len());
        while let Some(reply) = stream.try_next().await.map_err(|e| e.to_string())? {
            received.extend_from_slice(&reply.macd_chunk);
        }
        (received == graph).then_some(()).ok_or_else(|| format!("graph of {} bytes, not the file's", received.len()))
    }

    async fn chart_graph(&self, rng: &mut Rng) -> Result<(), String> {
        let (start, end, _) = sample_range(rng, 10, 400);
        let mut request = MACDGraphRequest::new();
        request.start_date = start;
        request.end_date = end;
        let mut stream = self.data_graph.get_macd_graph_opt(&request, Self::option()).map_err(|e| e.to_string())?;
        let mut received = Vec::new();
        while let Some(reply) = stream.try_next().await.map_err(|e| e.to_string())? {
            received.extend_from_slice(&reply.macd_chunk);
        }
        received
            .starts_with(b"\x89PNG\r\n\x1a\n")
            .then_some(())
            .ok_or_else(|| format!("chart of {}..{} is not a PNG", request.start_date, request.end_date))
    }

    async fn health(&self, rng: &mut Rng) -> Result<(), String> {
        let client = if rng.below(2) == 0 { &self.parity_health } else { &self.data_health };
        let mut request = HealthCheckRequest::new();
        request.service = ["", "idc.Indicator", "idc.IndicatorGraph"][rng.below(3) as usize].into();
        let reply = client.check_async_opt(&request, Self::option()).map_err(|e| e.to_string())?;
        let reply = reply.await.map_err(|e| e.to_string())?;
        let status = reply.status.enum_value_or(ServingStatus::UNKNOWN);
        (status == ServingStatus::SERVING).then_some(()).ok_or_else(|| format!("{:?}: {status:?}", request.service))
    }
}

/// Waits (bounded) until `server` holds `want` descriptors again; returns the last count.
fn fds_settle(server: &Server, want: usize) -> usize {
    common::poll_until(CLOSE_LIMIT, || fd_count(server.pid()) == want);
    fd_count(server.pid())
}

#[test]
fn two_hundred_clients_mixing_every_call_fail_nothing_and_leave_memory_and_descriptors_flat() {
    let duration = soak_duration();
    let dir = scratch();
    let graph = pseudo_random_bytes(GRAPH_LEN, 41);
    let file = write_file(dir.path(), "graph.png", &graph);
    let parity = rust_server(&["--graph-file", file.to_str().unwrap()]);
    // A small chart: the renders exercise their path without taking the two cores.
    let data = rust_server(&["--data", "sample", "--chart-size", "320x240"]);
    let live = live_load::start(dir.path());
    let servers = [("parity", &parity), ("data", &data), ("live", &live)];
    let fds_before = servers.map(|(_, s)| fd_count(s.pid()));

    let env = Arc::new(grpcio::EnvBuilder::new().cq_count(2).name_prefix("soak-client").build());
    let targets = [parity.target(), data.target(), live.target()];
    let targets = targets.each_ref().map(String::as_str);
    let clients: Vec<Client> = (0..CLIENTS).map(|id| Client::new(&env, id, targets)).collect();
    let tally = Tally::default();
    let outcome = live_load::Outcome::default();
    let started = Instant::now();
    let end = started + duration;
    // Sampled by a thread of its own while the load runs.
    let pids = servers.map(|(_, s)| s.pid());
    let warm_up = duration / 5;
    let warm_sampler = std::thread::spawn(move || {
        std::thread::sleep(warm_up);
        pids.map(rss_kib)
    });
    // One thread drives every client, as before; tokio's, for the subscribers' bounded waits.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let runs = clients.iter().enumerate().map(|(id, c)| c.run(id, end, &graph, &tally, &outcome));
    runtime.block_on(futures::future::join_all(runs));
    let elapsed = started.elapsed();
    // At the end of the load, with the connections still open as they were after the warm-up.
    let rss_end = pids.map(rss_kib);
    let rss_warm = warm_sampler.join().unwrap();
    let fds_loaded = pids.map(fd_count);

    drop(clients);
    drop(env);
    let fds_after =
        [fds_settle(&parity, fds_before[0]), fds_settle(&data, fds_before[1]), fds_settle(&live, fds_before[2])];
    let checked = live_load::check(&live, &outcome);

    // The figures.
    println!("\nsoak: {CLIENTS} clients, {:.1} s (warm-up {:.1} s)", elapsed.as_secs_f64(), warm_up.as_secs_f64());
    println!("{:<24} {:>10} {:>8} {:>10}", "call", "ok", "failed", "per s");
    let mut total_ok = 0;
    for (i, (_, _, name)) in KINDS.iter().enumerate() {
        let (ok, failed) = (tally.ok[i].load(Ordering::Relaxed), tally.failed[i].load(Ordering::Relaxed));
        total_ok += ok;
        println!("{name:<24} {ok:>10} {failed:>8} {:>10.0}", ok as f64 / elapsed.as_secs_f64());
    }
    println!("{:<24} {total_ok:>10}", "all");
    println!(
        "{:<8} {:>14} {:>14} {:>8} {:>11} {:>11} {:>10}",
        "server", "RSS warm KiB", "RSS end KiB", "change", "fds before", "fds loaded", "fds after"
    );
    for (i, (name, _)) in servers.iter().enumerate() {
        println!(
            "{name:<8} {:>14} {:>14} {:>+7.1}% {:>11} {:>11} {:>10}",
            rss_warm[i],
            rss_end[i],
            (rss_end[i] as f64 / rss_warm[i] as f64 - 1.0) * 100.0,
            fds_before[i],
            fds_loaded[i],
            fds_after[i]
        );
    }

    let failures: u64 = tally.failed.iter().map(|f| f.load(Ordering::Relaxed)).sum();
    assert_eq!(failures, 0, "failed calls; the first ones:\n{}", tally.first_failures.lock().unwrap().join("\n"));
    for (i, (_, _, name)) in KINDS.iter().enumerate() {
        assert!(tally.ok[i].load(Ordering::Relaxed) > 0, "no {name} call completed");
    }
    match checked {
        Ok(rows) => println!("the long subscribers' {rows} rows since their snapshots are Compute's"),
        Err(e) => panic!("at the end of the load: {e}"),
    }
    for (i, (name, _)) in servers.iter().enumerate() {
        let limit = (rss_warm[i] as f64 * (1.0 + RSS_GROWTH)) as u64 + RSS_SLACK_KIB;
        assert!(
            rss_end[i] <= limit,
            "the {name} server grew from {} KiB after the warm-up to {} KiB at the end (limit {limit} KiB)",
            rss_warm[i],
            rss_end[i]
        );
        // Loaded: a connection of each client that calls it is open (the mixing clients call
        // every server; of the live server's, only those that push or subscribe surely do).
        let mixers = CLIENTS - live_load::PUSHERS - live_load::SUBSCRIBERS;
        let connected = if *name == "live" { live_load::PUSHERS + live_load::SUBSCRIBERS } else { mixers };
        assert!(fds_loaded[i] >= fds_before[i] + connected, "the {name} server had {} fds under load", fds_loaded[i]);
        assert_eq!(
            fds_after[i], fds_before[i],
            "the {name} server holds {} descriptors {CLOSE_LIMIT:?} after its clients left, {} before the load",
            fds_after[i], fds_before[i]
        );
    }
}
