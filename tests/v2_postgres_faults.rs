//! PostgreSQL as the shared catalog, under faults, against a real PostgreSQL 15 started for each
//! test (tests/common/pg.rs; under CI=true a missing PostgreSQL fails, it never skips):
//!
//! * a push whose transaction dies inside its `INSERT INTO bars` (held there by a trigger that
//!   sleeps) leaves nothing: neither the bars nor the `instruments` row the same transaction made,
//!   whether the replica is SIGKILLed (the push never acknowledged) or the backend is ended with
//!   `pg_terminate_backend` (the push refused with UNAVAILABLE, the replica's next push working);
//! * PostgreSQL stopped and started while two replicas serve reads in a loop and a pusher pushes
//!   to one of them: no read fails, pushes during the outage fail with UNAVAILABLE and write
//!   nothing, pushes after it succeed, the other replica ends with every acknowledged bar, and its
//!   `idc.v2.store` health goes NOT_SERVING and back to SERVING;
//! * two replicas behind the tested nginx recipe (tests/nginx/idc.conf.template): a push through
//!   nginx is served by Compute through nginx and on each replica directly, and a subscriber
//!   connected straight to the replica that did not take the push hears it within 1 s.
//!
//! Every wait is a gate (a condition polled against a deadline), never a blind sleep.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::live::{self, Refusal, PUSH_TOKEN};
use common::nginx::Nginx;
use common::pg::Postgres;
use common::replica::Replica;
use common::{poll_until, wait_for};
use grpcio::RpcStatusCode;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

/// The symbol whose inserts the trigger holds for 30 s.
const SLOW: &str = "SLOW";
/// How long a gate on the database or a replica may wait.
const GATE: Duration = Duration::from_secs(20);

/// What these tests read of a replica.
trait PushesOk {
    /// PushBars calls this replica finished with OK.
    fn pushes_ok(&self) -> u64;
}

impl PushesOk for Replica {
    fn pushes_ok(&self) -> u64 {
        self.metric(r#"idc_calls_total{code="OK",method="PushBars"}"#).unwrap_or(0.0) as u64
    }
}

/// The status `grpc.health.v1.Health/Check` gives `service` (1 SERVING, 2 NOT_SERVING), -1 when
/// the call fails.
fn health(target: &str, service: &str) -> i32 {
    let client = idc::protocol::health_grpc::HealthClient::new(common::channel(target));
    let request = idc::protocol::health::HealthCheckRequest { service: service.into(), ..Default::default() };
    let option = grpcio::CallOption::default().timeout(Duration::from_secs(5));
    client.check_opt(&request, option).map(|r| r.status.value()).unwrap_or(-1)
}

fn wait_health(target: &str, status: i32, what: &str) {
    wait_for(what, GATE, || health(target, "idc.v2.store") == status);
}

/// Waits (bounded) until Compute on `client` serves exactly `bars` for `symbol`.
fn wait_served(client: &IndicatorsClient, symbol: &str, bars: &[pb::Bar], limit: Duration, what: &str) {
    let mut last = String::new();
    let ok = poll_until(limit, || match live::history(client, symbol) {
        Some(series) => match live::history_difference(&series, bars) {
            None => true,
            Some(difference) => {
                last = difference;
                false
            }
        },
        None => {
            last = "not served".into();
            false
        }
    });
    assert!(ok, "{what}: {symbol} not served as pushed within {limit:?}: {last}");
}

/// A trigger that holds every insert of a `SLOW` bar for 30 s inside the push's transaction.
fn install_slow_trigger(db: &Postgres) {
    db.psql_on(
        "idc",
        "CREATE FUNCTION idc_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$; \
         CREATE TRIGGER idc_test_slow BEFORE INSERT ON bars FOR EACH ROW WHEN (NEW.symbol = 'SLOW') \
             EXECUTE FUNCTION idc_test_slow();",
    );
}

/// Waits (bounded) until a backend is inside the push's `INSERT INTO bars`, asleep in the
/// trigger; its pid.
fn backend_inside_insert(db: &Postgres) -> String {
    let mut pid = String::new();
    let found = poll_until(GATE, || {
        pid = db.psql_on(
            "idc",
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%INSERT INTO bars%' \
             AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()",
        );
        !pid.is_empty()
    });
    assert!(found, "no backend was ever asleep inside INSERT INTO bars");
    assert!(!pid.contains('\n'), "one push, one backend: {pid:?}");
    pid
}

/// Ends backend `pid` and waits (bounded) until it is gone.
fn terminate(db: &Postgres, pid: &str) {
    db.psql_on("idc", &format!("SELECT pg_terminate_backend({pid})"));
    wait_for("the terminated backend to end", GATE, || {
        db.psql_on("idc", &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}")) == "0"
    });
}

/// Nothing of `symbol` in either table.
fn assert_nothing_written(db: &Postgres, symbol: &str, what: &str) {
    let bars = db.psql_on("idc", &format!("SELECT count(*) FROM bars WHERE symbol = '{symbol}'"));
    let instruments = db.psql_on("idc", &format!("SELECT count(*) FROM instruments WHERE symbol = '{symbol}'"));
    assert_eq!((bars.as_str(), instruments.as_str()), ("0", "0"), "{what}: (bars, instruments) rows of {symbol}");
}

/// Compute of `symbol` on `client` must say NOT_FOUND.
fn assert_not_served(client: &IndicatorsClient, symbol: &str, what: &str) {
    let request = pb::ComputeRequest { symbols: vec![symbol.into()], ..Default::default() };
    match live::compute(client, &request) {
        Err((RpcStatusCode::NOT_FOUND, _)) => {}
        other => panic!("{what}: Compute {symbol} gave {other:?}, expected NOT_FOUND"),
    }
}

/// PushBars of `bars` to `symbol` from a thread of its own: its result arrives on the receiver.
fn push_in_thread(client: &IndicatorsClient, symbol: &str, bars: Vec<pb::Bar>) -> mpsc::Receiver<Result<(), Refusal>> {
    let (tx, rx) = mpsc::channel();
    let (client, symbol) = (client.clone(), symbol.to_string());
    thread::spawn(move || {
        let _ = tx.send(live::push(&client, &symbol, &bars, false).map(|_| ()));
    });
    rx
}

#[test]
fn a_push_whose_replica_is_killed_inside_the_transaction_leaves_nothing() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let a = Replica::start(&url, &token, &[]); // migrates: the tables exist from here on
    install_slow_trigger(&db);
    let bars = live::walk(&live::weekdays("2024-01-02", 5), 21);

    let pushed = push_in_thread(&a.client, SLOW, bars.clone());
    let pid = backend_inside_insert(&db);
    let (status, _) = a.server.stop_with("KILL");
    assert!(!status.success(), "the replica was killed: {status}");
    let answer = pushed.recv_timeout(GATE).expect("the push's call ends once its replica is gone");
    assert!(answer.is_err(), "the push was acknowledged although its replica died before the commit");

    // The backend sleeps on in the trigger (nothing reads the dead client's socket): end it, as
    // an operator would, or as PostgreSQL does when it next writes to the socket.
    terminate(&db, &pid);
    assert_nothing_written(&db, SLOW, "after the killed push");
    let b = Replica::start(&url, &token, &[]);
    assert_not_served(&b.client, SLOW, "a new replica after the killed push");
}

#[test]
fn a_push_whose_backend_is_terminated_fails_unavailable_and_leaves_nothing() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let a = Replica::start(&url, &token, &[]);
    install_slow_trigger(&db);
    let bars = live::walk(&live::weekdays("2024-01-02", 5), 22);

    let pushed = push_in_thread(&a.client, SLOW, bars.clone());
    let pid = backend_inside_insert(&db);
    terminate(&db, &pid);
    let answer = pushed.recv_timeout(GATE).expect("the push answers once its backend is gone");
    let refused = answer.expect_err("a push whose transaction was terminated");
    assert_nothing_written(&db, SLOW, "after the terminated push");
    assert_not_served(&a.client, SLOW, "the replica whose push was terminated");

    // The same replica reconnects for its next push.
    live::push(&a.client, "OTHER", &bars, false).expect("the next push, to another symbol");
    live::assert_history(&a.client, "OTHER", &bars, "the next push");
    assert_eq!(db.psql_on("idc", "SELECT count(*) FROM bars WHERE symbol = 'OTHER'"), "5");
    let b = Replica::start(&url, &token, &[]);
    live::assert_history(&b.client, "OTHER", &bars, "a new replica");
    assert_not_served(&b.client, SLOW, "a new replica");
    // Last, so that everything above is checked whatever this says.
    assert_eq!(refused.0, RpcStatusCode::UNAVAILABLE, "the push whose backend was terminated: {}", refused.1);
}

/// What the pusher did: the pairs of bars acknowledged, and every refusal.
#[derive(Default)]
struct Pushed {
    acked: usize,
    refusals: Vec<Refusal>,
}

#[test]
fn the_database_stopped_and_started_under_reads_and_pushes() {
    let mut db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let a = Replica::start(&url, &token, &[]);
    let b = Replica::start(&url, &token, &[]);
    let bars = live::walk(&live::weekdays("2010-01-04", 4000), 23);
    const FIRST: usize = 10;
    live::push(&a.client, "X", &bars[..FIRST], false).expect("the first push");
    wait_served(&b.client, "X", &bars[..FIRST], Duration::from_secs(5), "B before the outage");
    wait_health(&b.target(), 1, "B's store health to say SERVING");

    let stop = Arc::new(AtomicBool::new(false));
    // Reads on both replicas every few milliseconds: none may fail.
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (clients, stop, failures, reads) =
            ([a.client.clone(), b.client.clone()], Arc::clone(&stop), Arc::clone(&failures), Arc::clone(&reads));
        thread::spawn(move || {
            let request = pb::ComputeRequest {
                symbols: vec!["X".into()],
                indicators: vec![live::spec("MACD", &[])],
                ..Default::default()
            };
            while !stop.load(Ordering::SeqCst) {
                for (name, client) in ["A", "B"].iter().zip(&clients) {
                    match live::compute(client, &request) {
                        Ok(series) if series.len() == 1 && series[0].date.len() >= FIRST => {}
                        Ok(series) => failures.lock().unwrap().push(format!("{name}: {} series", series.len())),
                        Err(e) => failures.lock().unwrap().push(format!("{name}: {e:?}")),
                    }
                    reads.fetch_add(1, Ordering::SeqCst);
                }
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // Pushes to A, two bars at a time, each pair pushed again until it is acknowledged; paused
    // (between two pushes) while `pause` is set, saying so in `paused`.
    let pushed = Arc::new(Mutex::new(Pushed::default()));
    let (pause, paused) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let pusher = {
        let (client, stop, pushed, pause, paused, bars) = (
            a.client.clone(),
            Arc::clone(&stop),
            Arc::clone(&pushed),
            Arc::clone(&pause),
            Arc::clone(&paused),
            bars.clone(),
        );
        thread::spawn(move || {
            let mut next = FIRST;
            while !stop.load(Ordering::SeqCst) && next + 2 <= bars.len() {
                if pause.load(Ordering::SeqCst) {
                    paused.store(true, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(5));
                    continue;
                }
                paused.store(false, Ordering::SeqCst);
                match live::push(&client, "X", &bars[next..next + 2], false) {
                    Ok(_) => {
                        next += 2;
                        pushed.lock().unwrap().acked += 1;
                    }
                    Err(refusal) => pushed.lock().unwrap().refusals.push(refusal),
                }
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let acked = || pushed.lock().unwrap().acked;
    let refused = || pushed.lock().unwrap().refusals.len();
    wait_for("5 pushes acknowledged before the outage", GATE, || acked() >= 5);

    db.stop();
    let refused_before = refused();
    wait_for("3 pushes refused during the outage", GATE, || refused() >= refused_before + 3);
    wait_health(&b.target(), 2, "B's store health to say NOT_SERVING during the outage");
    assert_eq!(health(&b.target(), ""), 1, "the server as a whole serves reads during the outage");
    pause.store(true, Ordering::SeqCst);
    wait_for("the pusher to pause", GATE, || paused.load(Ordering::SeqCst));
    let acked_in_outage = acked();

    db.start_again();
    // Nothing half-written: the database holds the acknowledged pairs, and at most the pair whose
    // commit went through while its answer was lost (then pushed again, as a revision).
    let held: usize = db.psql_on("idc", "SELECT count(*) FROM bars WHERE symbol = 'X'").parse().unwrap();
    let expected = FIRST + 2 * acked_in_outage;
    assert!(
        held == expected || held == expected + 2,
        "after the outage the database holds {held} bars of X; {expected} were acknowledged, in pairs"
    );
    pause.store(false, Ordering::SeqCst);
    let acked_after = acked();
    wait_for("5 pushes acknowledged after the outage", GATE, || acked() >= acked_after + 5);
    wait_health(&b.target(), 1, "B's store health to say SERVING again");
    stop.store(true, Ordering::SeqCst);
    pusher.join().unwrap();
    reader.join().unwrap();

    let pushed = pushed.lock().unwrap();
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "reads failed ({} of {}): {failures:?}", failures.len(), reads.load(Ordering::SeqCst));
    assert!(reads.load(Ordering::SeqCst) > 20, "the reader read");

    let all = &bars[..FIRST + 2 * pushed.acked];
    wait_served(&a.client, "X", all, Duration::from_secs(5), "A, every acknowledged bar");
    wait_served(&b.client, "X", all, Duration::from_secs(10), "B, every acknowledged bar");
    let (on_a, on_b) = (live::history(&a.client, "X").unwrap(), live::history(&b.client, "X").unwrap());
    assert_eq!(on_a.date, on_b.date, "A and B serve the same dates");
    assert_eq!(db.psql_on("idc", "SELECT count(*) FROM bars WHERE symbol = 'X'"), all.len().to_string());
    // Last, so that everything above is checked whatever this says.
    let unexpected: Vec<&Refusal> = pushed.refusals.iter().filter(|r| r.0 != RpcStatusCode::UNAVAILABLE).collect();
    assert!(unexpected.is_empty(), "pushes refused otherwise than UNAVAILABLE: {unexpected:?}");
    assert!(
        pushed.refusals.iter().all(|r| r.1.contains("the database is unreachable")),
        "UNAVAILABLE says why: {:?}",
        pushed.refusals
    );
}

// ---- nginx in front of the replicas, as tests/scale_out.rs runs the recipe ----

#[test]
fn two_replicas_behind_nginx_share_pushes() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let replicas = [Replica::start(&url, &token, &[]), Replica::start(&url, &token, &[])];
    let nginx = Nginx::start([replicas[0].target(), replicas[1].target()]);
    let front = IndicatorsClient::new(common::channel(&nginx.target()));
    let bars = live::walk(&live::weekdays("2024-01-02", 40), 24);

    live::push(&front, "N", &bars[..30], false).expect("the first push, through nginx");
    for (name, replica) in ["A", "B"].iter().zip(&replicas) {
        wait_served(&replica.client, "N", &bars[..30], Duration::from_secs(5), &format!("{name} directly"));
    }
    live::assert_history(&front, "N", &bars[..30], "Compute through nginx");

    // A subscriber straight on each replica; each push through nginx lands on one of them, and
    // the subscriber on the other hears it within 1 s (the one on the same replica too).
    let subscription = live::subscription(&["N"], vec![live::spec("MACD", &[])]);
    let mut streams: Vec<_> = replicas.iter().map(|r| live::subscribe(&r.client, &subscription)).collect();
    for (name, stream) in ["A", "B"].iter().zip(streams.iter_mut()) {
        let snapshot = live::expect_update(stream, &format!("the snapshot on {name}"));
        assert!(snapshot.snapshot, "the first update on {name} is the snapshot");
    }
    let mut took = [0; 2];
    for (i, bar) in bars.iter().enumerate().skip(30).take(4) {
        let before: Vec<u64> = replicas.iter().map(Replica::pushes_ok).collect();
        let sent = Instant::now();
        live::push(&front, "N", std::slice::from_ref(bar), false).expect("a push through nginx");
        for (name, stream) in ["A", "B"].iter().zip(streams.iter_mut()) {
            let update = live::expect_update(stream, &format!("push {i} on {name}"));
            let elapsed = sent.elapsed();
            assert_eq!(update.date, bar.date, "push {i} on {name}");
            assert!(elapsed < Duration::from_secs(1), "{name}'s subscriber heard push {i} after {elapsed:?}");
        }
        let mut by = None;
        wait_for("the replica that took the push to count it", Duration::from_secs(5), || {
            by = (0..2).find(|&r| replicas[r].pushes_ok() > before[r]);
            by.is_some()
        });
        took[by.unwrap()] += 1;
    }
    assert!(took.iter().all(|&n| n > 0), "nginx gave pushes to both replicas: {took:?}");
    for (name, replica) in ["A", "B"].iter().zip(&replicas) {
        live::assert_history(&replica.client, "N", &bars[..34], &format!("{name} directly after the pushes"));
    }
    live::assert_history(&front, "N", &bars[..34], "Compute through nginx after the pushes");
    drop(streams);
    drop(nginx);
}
