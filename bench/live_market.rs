//! Part 3 of the live bench: pushes across a market while 1,000 subscribers listen to one symbol.
//!
//! One symbol fanned out to 1,000 streams is bounded by gRPC's cost per message (each update is
//! one message on each stream: 10,000 pushes a second to it would be 10,000,000 messages a
//! second), so pushes per second are measured as a feed makes them: `PUSHERS` concurrent
//! pushers (one connection each, one push in flight each), each pushing the next bar of its own
//! share of `MARKET` symbols in turn, LIVE among them; the subscribers (MACD, RSI, KDJ each)
//! listen to LIVE. Concurrent pushes share the journal's fsyncs (group commit).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use grpcio::EnvBuilder;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

use super::{await_snapshots, bar, channel, head, ms, percentile, push_option, sorted, walk};
use super::{Receivers, Served, Settings, Shared, SYMBOL};

/// Concurrent pushers, and the symbols they push to (LIVE and `MARKET - 1` others).
const PUSHERS: usize = 16;
const MARKET: usize = 256;
/// Each market symbol's history (LIVE keeps the bench's longer one).
const MARKET_BARS: usize = 250;

pub(super) fn market(s: &Settings) {
    let (n, window) = if s.smoke { (20, Duration::from_millis(500)) } else { (1000, s.sustain) };
    println!(
        "### Pushes across a market ({MARKET} symbols, {PUSHERS} concurrent pushers, one bar a push, for {:.1} s; \
         {n} subscribers to {SYMBOL}, each with MACD, RSI, KDJ)",
        window.as_secs_f64()
    );
    println!();
    println!(
        "| subscribers | pushes/s | push reply p50 ms | push reply p99 ms | {SYMBOL} updates received/s | \
         {SYMBOL} push→receive p50 ms | p99 ms | missing | ended |"
    );
    println!("| --: | --: | --: | --: | --: | --: | --: | --: | --: |");
    // Room for every bar a symbol could be pushed in the window.
    let room = 50_000 * window.as_secs() as usize + 5_000;
    let bars = walk(s.bars + room, 13);
    let server = Served::start_market(&head(&bars, s.bars), &head(&bars, MARKET_BARS), MARKET - 1, n);
    let live: Vec<pb::Bar> = (s.bars..bars.len()).map(|i| bar(&bars, i)).collect();
    let dates = live.iter().enumerate().map(|(k, b)| (b.date.clone(), k as u32)).collect();
    let shared = Arc::new(Shared { dates, snapshots: AtomicUsize::new(0), target: AtomicUsize::new(usize::MAX) });
    let channels = n.clamp(1, 4);
    let env = Arc::new(EnvBuilder::new().cq_count(2).name_prefix("bench-cq").build());
    let receivers = Receivers::start(&env, server.port, n, channels, &shared);
    await_snapshots(&shared, n);
    let option = push_option();
    // LIVE's pushes: when each was sent (pusher 0 pushes LIVE, among its symbols).
    let sent = Arc::new(Mutex::new(Vec::with_capacity(room)));
    let start = Instant::now();
    let pushers: Vec<thread::JoinHandle<(usize, Vec<Duration>)>> = (0..PUSHERS)
        .map(|p| {
            let client = IndicatorsClient::new(channel(&env, server.port));
            let (option, bars, live, sent) = (option.clone(), bars.clone(), live.clone(), Arc::clone(&sent));
            thread::spawn(move || {
                let symbols: Vec<usize> = (p..MARKET).step_by(PUSHERS).collect();
                let mut next = vec![0usize; symbols.len()];
                let (mut pushed, mut replies) = (0, Vec::new());
                'window: while start.elapsed() < window {
                    for (j, &symbol) in symbols.iter().enumerate() {
                        let (name, pushed_bar) = match symbol {
                            0 => (SYMBOL.to_string(), live[next[j]].clone()),
                            _ => (format!("M{symbol:04}"), bar(&bars, MARKET_BARS + next[j])),
                        };
                        let request =
                            pb::PushBarsRequest { symbol: name, bars: vec![pushed_bar], ..Default::default() };
                        let at = Instant::now();
                        if symbol == 0 {
                            sent.lock().unwrap().push(at);
                        }
                        let reply = client.push_bars_opt(&request, option.clone()).expect("a push");
                        assert_eq!(reply.appended, 1, "each push appends its bar");
                        replies.push(at.elapsed());
                        next[j] += 1;
                        pushed += 1;
                        if start.elapsed() >= window || next[j] + 1 >= live.len() {
                            break 'window;
                        }
                    }
                }
                (pushed, replies)
            })
        })
        .collect();
    let (mut total, mut replies) = (0, Vec::new());
    for pusher in pushers {
        let (pushed, r) = pusher.join().expect("a pusher");
        total += pushed;
        replies.extend(r);
    }
    let elapsed = start.elapsed();
    // One more push to LIVE once the target is set: each stream's reader checks the target when
    // an update comes, so the last one must come after it (every push before it was counted).
    let live_pushes = sent.lock().unwrap().len();
    shared.target.store(live_pushes + 1, Ordering::Release);
    let last =
        pb::PushBarsRequest { symbol: SYMBOL.into(), bars: vec![live[live_pushes].clone()], ..Default::default() };
    sent.lock().unwrap().push(Instant::now());
    let client = IndicatorsClient::new(channel(&env, server.port));
    client.push_bars_opt(&last, option).expect("the last push");
    let received = receivers.join();
    drop(server);
    let sent = sent.lock().unwrap();
    let (mut took, mut ended) = (Vec::new(), Vec::new());
    for r in received {
        took.extend(r.arrivals.iter().map(|&(_, k, at)| at.saturating_duration_since(sent[k as usize])));
        ended.extend(r.ended);
    }
    let missing = (n * (live_pushes + 1)).saturating_sub(took.len());
    let (rate, delivered) = (total as f64 / elapsed.as_secs_f64(), took.len() as f64 / elapsed.as_secs_f64());
    let (replies, took) = (sorted(replies), sorted(took));
    let (r50, r99) = (ms(percentile(&replies, 0.5)), ms(percentile(&replies, 0.99)));
    let (l50, l99) = (ms(percentile(&took, 0.5)), ms(percentile(&took, 0.99)));
    println!(
        "| {n} | {rate:.0} | {r50:.2} | {r99:.2} | {delivered:.0} | {l50:.2} | {l99:.2} | {missing} | {} |",
        ended.len()
    );
    if let Some(first) = ended.first() {
        eprintln!("live bench, market: {} streams ended early, the first: {first}", ended.len());
    }
}
