//! Subscribers behind nginx while a replica drains (issue 25, "Faults"): two `idc_server`
//! replicas on one PostgreSQL (tests/common/pg.rs; the shared store, so a push to either is heard
//! by both), the tested nginx recipe in front (tests/common/nginx.rs), 20 subscribers through
//! nginx and pushes flowing to both replicas. Replica A is sent SIGTERM (its drain): every
//! subscriber whose stream was on A gets `UNAVAILABLE` ("server shutting down"), subscribes again
//! through nginx, lands on B, gets a snapshot, and from then on misses no update: at the end each
//! subscriber's updates since its last snapshot are, row for row, what Compute on B serves, and B
//! serves every pushed bar. Every wait is a gate on a counter or a condition, never a sleep.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::live::{self, PUSH_TOKEN};
use common::nginx::Nginx;
use common::pg::Postgres;
use common::replica::Replica;
use common::wait_for;
use futures::StreamExt;
use grpcio::RpcStatusCode;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

const SUBSCRIBERS: usize = 20;
const SYMBOLS: [&str; 2] = ["DR1", "DR2"];
/// Bars each symbol starts with, pushed before anyone subscribes.
const HISTORY: usize = 60;
/// How long a gate waits.
const GATE: Duration = Duration::from_secs(20);
/// The drain's status message (src/service/v2/subscribe.rs).
const SHUTTING_DOWN: &str = "server shutting down; subscribe to another replica";
/// A subscriber that resubscribes at once could, through nginx's kept-alive connection, land on
/// A again, which then cancelled the new stream (nginx: "upstream sent frame for closed stream"),
/// while a draining replica ended its subscriptions before it stopped taking calls: in about 1
/// run of 6. It now stops taking calls first (src/server/mod.rs, `shutdown`): such a stream,
/// failed before any update, is retried so that the rest is still checked, and the test then
/// fails unless there was none (0 in 36 runs of 36 when this became an assertion).
const LANDED_ON_A: &str = "resubscribes cancelled by the draining replica";

/// A replica on `url` whose calls in flight get 5 s at the drain.
fn replica(url: &str, token: &Path) -> Replica {
    Replica::start(url, token, &["--grace-period", "5"])
}

/// What this test reads of a replica.
trait Subscriptions {
    /// Its open Subscribe streams.
    fn subscriptions(&self) -> f64;
}

impl Subscriptions for Replica {
    fn subscriptions(&self) -> f64 {
        self.metric("idc_subscriptions").unwrap_or(-1.0)
    }
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// Per symbol: its last snapshot, then every update after it, in order.
    since_snapshot: BTreeMap<String, Vec<pb::Update>>,
    /// The status of each stream that ended (all must be UNAVAILABLE).
    ended: Vec<(RpcStatusCode, String)>,
    /// Whether the latest stream has had its snapshot of every symbol.
    live: bool,
    /// A stream ended otherwise than with UNAVAILABLE, or something else went wrong.
    failure: Option<String>,
    /// Streams that failed with CANCELLED before their first update (see `LANDED_ON_A`).
    landed_on_a: usize,
}

impl Seen {
    fn last_date(&self, symbol: &str) -> Option<&str> {
        self.since_snapshot.get(symbol).and_then(|u| u.last()).map(|u| u.date.as_str())
    }
}

/// Subscribes through `front` until `stop`; subscribes again after each `UNAVAILABLE`, and after
/// a stream that failed before its first update (`CANCELLED`: see `LANDED_ON_A`).
fn subscriber(front: IndicatorsClient, request: pb::SubscribeRequest, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let fail = |why: String| seen.lock().unwrap().failure = Some(why);
    'subscribe: for _ in 0..20 {
        let mut stream = front.subscribe_opt(&request, grpcio::CallOption::default()).expect("Subscribe starts");
        let mut snapshots = 0;
        while !stop.load(Ordering::SeqCst) {
            // A bounded wait, so that the stop flag is looked at; a pending `next` drops nothing.
            let Ok(next) =
                runtime.block_on(async { tokio::time::timeout(Duration::from_millis(100), stream.next()).await })
            else {
                continue;
            };
            let mut seen = seen.lock().unwrap();
            match next {
                Some(Ok(update)) => {
                    let updates = seen.since_snapshot.entry(update.symbol.clone()).or_default();
                    if update.snapshot {
                        updates.clear();
                        snapshots += 1;
                    }
                    updates.push(update);
                    seen.live = snapshots >= SYMBOLS.len();
                }
                Some(Err(e)) => {
                    let (code, message) = live::refusal(e);
                    seen.ended.push((code, message.clone()));
                    seen.live = false;
                    // No snapshot yet: this stream never opened (the snapshot is the first update).
                    let unopened = code == RpcStatusCode::CANCELLED && snapshots == 0;
                    if unopened {
                        seen.landed_on_a += 1;
                    }
                    if code != RpcStatusCode::UNAVAILABLE && !unopened {
                        seen.failure = Some(format!("the stream ended with {code:?}: {message}"));
                        return;
                    }
                    continue 'subscribe;
                }
                None => {
                    seen.failure = Some("the stream ended with OK".into());
                    return;
                }
            }
        }
        return;
    }
    fail("20 streams ended with UNAVAILABLE".into());
}

#[test]
fn subscribers_behind_nginx_move_to_the_other_replica_when_one_drains_and_miss_nothing() {
    let started = Instant::now();
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let (a, b) = (replica(&url, &token), replica(&url, &token));
    let nginx = Nginx::start([a.server.target(), b.server.target()]);
    let front = IndicatorsClient::new(common::channel(&nginx.target()));

    let bars: Vec<Vec<pb::Bar>> =
        (0..SYMBOLS.len()).map(|i| live::walk(&live::weekdays("2015-01-01", HISTORY + 3000), 61 + i as u64)).collect();
    for (symbol, bars) in SYMBOLS.iter().zip(&bars) {
        live::push(&a.client, symbol, &bars[..HISTORY], false).expect("the history");
    }
    for symbol in SYMBOLS {
        let held = |r: &Replica| live::history(&r.client, symbol).is_some_and(|s| s.date.len() == HISTORY);
        wait_for("both replicas to serve the history", GATE, || held(&a) && held(&b));
    }

    // The subscribers, through nginx, which gives each stream to one replica in turn.
    let request = live::subscription(&SYMBOLS, vec![live::spec("MACD", &[]), live::spec("EMA", &[10.0])]);
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Vec<Arc<Mutex<Seen>>> = (0..SUBSCRIBERS).map(|_| Arc::default()).collect();
    let threads: Vec<_> = seen
        .iter()
        .map(|seen| {
            let (front, request, seen, stop) = (front.clone(), request.clone(), Arc::clone(seen), Arc::clone(&stop));
            thread::spawn(move || subscriber(front, request, seen, stop))
        })
        .collect();
    let all = |f: &dyn Fn(&Seen) -> bool| seen.iter().all(|s| f(&s.lock().unwrap()));
    let failures = || seen.iter().filter_map(|s| s.lock().unwrap().failure.clone()).collect::<Vec<_>>();
    wait_for("every subscriber's snapshot", GATE, || all(&|s| s.live) || !failures().is_empty());
    wait_for("every stream open on a replica", GATE, || a.subscriptions() + b.subscriptions() == 20.0);
    let on_a = a.subscriptions();
    assert!(on_a > 0.0 && on_a < 20.0, "nginx gave {on_a} of the {SUBSCRIBERS} streams to A");

    // Pushes, one bar at a time to each symbol in turn, to A and B in turn until `b_only`.
    let (b_only, pushed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let pushes_ended = Arc::new(AtomicBool::new(false));
    let pusher = {
        let clients = [a.client.clone(), b.client.clone()];
        let (bars, b_only, pushed, ended) =
            (bars.clone(), Arc::clone(&b_only), Arc::clone(&pushed), Arc::clone(&pushes_ended));
        thread::spawn(move || {
            let mut next = [HISTORY; SYMBOLS.len()];
            for n in 0.. {
                if ended.load(Ordering::SeqCst) {
                    return next;
                }
                let s = n % SYMBOLS.len();
                let to_b = b_only.load(Ordering::SeqCst) || n % 2 == 1;
                let bar = &bars[s][next[s]];
                let client = &clients[usize::from(to_b)];
                live::push(client, SYMBOLS[s], std::slice::from_ref(bar), false)
                    .unwrap_or_else(|e| panic!("push {n} to {}: {e:?}", ["A", "B"][usize::from(to_b)]));
                next[s] += 1;
                pushed.fetch_add(1, Ordering::SeqCst);
                assert!(next[s] < bars[s].len(), "the pusher ran out of bars");
            }
            unreachable!()
        })
    };
    let count = || pushed.load(Ordering::SeqCst);
    wait_for("pushes heard by every subscriber", GATE, || {
        count() >= 10 && all(&|s| SYMBOLS.iter().all(|sym| s.since_snapshot.get(*sym).is_some_and(|u| u.len() > 1)))
    });

    // The drain: pushes go to B alone from the next one on (a push to A in flight at the signal
    // would finish within the grace period, but one begun after it would be refused).
    b_only.store(true, Ordering::SeqCst);
    let at_switch = count();
    wait_for("a push after the switch to B", GATE, || count() >= at_switch + 2);
    let drained = Instant::now();
    let (status, _) = a.server.stop_with("TERM");
    assert!(status.success(), "A drains and exits 0: {status}");
    let drain_took = drained.elapsed();
    let during_drain = count() - at_switch;
    wait_for("every subscriber live again", GATE, || all(&|s| s.live) || !failures().is_empty());
    let mut on_b = 0.0;
    if !common::poll_until(GATE, || {
        on_b = b.subscriptions();
        on_b == 20.0
    }) {
        let ended: Vec<_> = seen.iter().map(|s| s.lock().unwrap().ended.clone()).collect();
        panic!("{on_b} streams on B, not 20, {GATE:?} after A's exit; the streams ended: {ended:?}\n{}", nginx.logs());
    }
    let after_drain = count();
    wait_for("10 pushes after the drain", GATE, || count() >= after_drain + 10);
    pushes_ended.store(true, Ordering::SeqCst);
    let next = pusher.join().expect("no push failed");
    let last: Vec<&str> = (0..SYMBOLS.len()).map(|s| bars[s][next[s] - 1].date.as_str()).collect();
    wait_for("every subscriber to hear the last pushes", GATE, || {
        all(&|s| SYMBOLS.iter().zip(&last).all(|(sym, date)| s.last_date(sym) == Some(*date))) || !failures().is_empty()
    });
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().unwrap();
    }
    let failures = failures();
    assert!(failures.is_empty(), "subscribers failed: {failures:?}");

    // B serves every pushed bar, and each subscriber's rows since its last snapshot are Compute's.
    for (s, symbol) in SYMBOLS.iter().enumerate() {
        live::assert_history(&b.client, symbol, &bars[s][..next[s]], "B at the end");
    }
    let mut moved = 0;
    for (i, seen) in seen.iter().enumerate() {
        let seen = seen.lock().unwrap();
        for symbol in SYMBOLS {
            let series = live::computed(&b.client, &request, symbol);
            let updates = &seen.since_snapshot[symbol];
            let first = series.date.iter().position(|d| *d == updates[0].date).expect("the snapshot's date is served");
            let dates: Vec<&str> = updates.iter().map(|u| u.date.as_str()).collect();
            assert_eq!(dates, series.date[first..], "subscriber {i}, {symbol}: the dates since its snapshot");
            for (k, update) in updates.iter().enumerate() {
                if let Some(d) = live::update_difference(update, &series, first + k) {
                    panic!("subscriber {i}, {symbol}: {d}");
                }
            }
        }
        // A subscriber on B all along saw no stream end; one on A saw exactly the drain's.
        match seen.ended.as_slice() {
            [] => {}
            [(RpcStatusCode::UNAVAILABLE, message), ..] if message == SHUTTING_DOWN => moved += 1,
            other => panic!("subscriber {i}: streams ended with {other:?}"),
        }
    }
    let landed_on_a: usize = seen.iter().map(|s| s.lock().unwrap().landed_on_a).sum();
    println!(
        "{SUBSCRIBERS} subscribers, {on_a} on A; {moved} moved to B after A's drain ({drain_took:?}, {during_drain} \
         pushes from the switch to B to A's exit); {landed_on_a} {LANDED_ON_A}; {} pushes; {:?} in all",
        count(),
        started.elapsed()
    );
    assert_eq!(moved as f64, on_a, "each subscriber on A, and only those, got the drain's UNAVAILABLE");
    assert_eq!(landed_on_a, 0, "a replica that stops taking calls before it ends its subscriptions cancels no new one");
    drop(nginx);
}
