//! `PushBars` is durable before it answers, and a request is applied whole or not at all, through
//! the real `idc_server` process killed with SIGKILL mid-push: 50 rounds of starting the server
//! on the same `--data DIR`, checking that every acknowledged bar is served by Compute exactly
//! (dates and values) and that the one request in flight at the kill is there whole or not at all,
//! then pushing a few requests (1 to 5 bars; appends, revisions, forming bars, new factors, new
//! symbols) and killing the server a random 0 to 20 ms after starting one. After the rounds,
//! every CSV file in DIR loads and equals what was acknowledged. The RNG's seed is printed (and
//! `IDC_LIVE_SEED` replays it).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::live::{self, push, Rng};
use grpcio::RpcStatusCode;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

const ROUNDS: usize = 50;
/// The whole test, bounded.
const LIMIT: Duration = Duration::from_secs(180);

/// What the server must hold: each symbol's bars, factors resolved (0 = the last, 1 when new).
type Model = BTreeMap<String, Vec<pb::Bar>>;

/// `model` with `request` applied, as the contract says a push applies.
fn applied(model: &Model, request: &pb::PushBarsRequest) -> Model {
    let mut model = model.clone();
    let bars = model.entry(request.symbol.clone()).or_default();
    for b in &request.bars {
        let mut b = b.clone();
        if b.adj_factor == 0.0 {
            b.adj_factor = bars.last().map_or(1.0, |l| l.adj_factor);
        }
        match bars.last() {
            Some(last) if last.date == b.date => *bars.last_mut().unwrap() = b,
            _ => bars.push(b),
        }
    }
    model
}

/// A random valid request: to a held symbol (appends, or a revision of its last bar first) or
/// now and then to a new one; 1 to 5 bars, sometimes forming, sometimes with a new factor.
fn random_request(rng: &mut Rng, model: &Model, fresh: &mut usize) -> pb::PushBarsRequest {
    let new_symbol = model.len() < 8 && rng.below(5) == 0;
    let symbol = match new_symbol {
        true => {
            *fresh += 1;
            format!("NEW{fresh}.X")
        }
        false => model.keys().nth(rng.below(model.len() as u64) as usize).unwrap().clone(),
    };
    let (mut day, revise) = match model.get(&symbol).and_then(|bars| bars.last()) {
        Some(last) => (live::days_of(&last.date), rng.below(3) == 0),
        None => (live::days_of("2020-01-01") + rng.below(100) as i64, true),
    };
    let count = 1 + rng.below(5) as usize;
    let mut bars = Vec::with_capacity(count);
    for k in 0..count {
        if k > 0 || !revise {
            day += 1 + rng.below(3) as i64;
        }
        let cents = |rng: &mut Rng, low: f64, span: f64| ((low + rng.unit() * span) * 100.0).round() / 100.0;
        let low = cents(rng, 10.0, 90.0);
        let high = low + cents(rng, 0.0, 5.0);
        let open = cents(rng, low, high - low).clamp(low, high);
        let close = cents(rng, low, high - low).clamp(low, high);
        let mut b = live::ohlcv(&live::date_of(day), open, high, low, close, rng.below(1_000_000) as f64);
        if rng.below(8) == 0 {
            b.adj_factor = cents(rng, 0.5, 2.0);
        }
        bars.push(b);
    }
    live::request(&symbol, &bars, rng.below(3) == 0)
}

/// Every instrument the server serves, by symbol: its bars as Compute serves them.
fn served(client: &IndicatorsClient) -> BTreeMap<String, pb::Series> {
    let all = live::compute(client, &pb::ComputeRequest::default()).unwrap_or_else(|e| panic!("Compute: {e:?}"));
    all.into_iter().map(|s| (s.symbol.clone(), s)).collect()
}

/// Where `served` differs from `model`; `None` when it serves exactly the model.
fn difference(served: &BTreeMap<String, pb::Series>, model: &Model) -> Option<String> {
    let (ours, theirs): (Vec<&String>, Vec<&String>) = (served.keys().collect(), model.keys().collect());
    if ours != theirs {
        return Some(format!("symbols served {ours:?}, acknowledged {theirs:?}"));
    }
    model
        .iter()
        .find_map(|(symbol, bars)| live::history_difference(&served[symbol], bars).map(|d| format!("{symbol}: {d}")))
}

/// Starts the server on DIR (with the push token file) and waits until it answers.
fn start((data, token): (&Path, &Path), context: &str) -> (common::Server, IndicatorsClient) {
    let server = live::start_server(data, Some(token), &[]);
    let client = IndicatorsClient::new(common::channel(&server.target()));
    let serving = common::poll_until(Duration::from_secs(10), || {
        client
            .list_instruments_opt(
                &pb::ListInstrumentsRequest::new(),
                grpcio::CallOption::default().timeout(Duration::from_secs(2)),
            )
            .is_ok()
    });
    assert!(serving, "{context}: the server does not answer ListInstruments");
    (server, client)
}

/// Checks what a restarted server serves against the model and the request in flight at the
/// kill (whole or not at all); returns the model with that request when it is there, and
/// whether it was.
fn check(
    client: &IndicatorsClient,
    model: Model,
    in_flight: Option<&pb::PushBarsRequest>,
    context: &str,
) -> (Model, bool) {
    let now = served(client);
    let Some(diff) = difference(&now, &model) else { return (model, false) };
    if let Some(request) = in_flight {
        let with = applied(&model, request);
        if difference(&now, &with).is_none() {
            return (with, true);
        }
        panic!(
            "{context}: neither what was acknowledged ({diff}) nor that with the request in flight \
             applied whole ({}); the request in flight: {request:?}",
            difference(&now, &with).unwrap()
        );
    }
    panic!("{context}: acknowledged bars are not served exactly: {diff}");
}

#[test]
fn acknowledged_pushes_survive_sigkill_and_a_request_in_flight_is_whole_or_absent() {
    let seed = Rng::seed();
    eprintln!("v2_durability: seed {seed} (IDC_LIVE_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let seed_bars = live::walk(&live::weekdays("2019-01-01", 20), 9);
    let scratch = common::scratch();
    let data = scratch.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("SEED.csv"), live::csv_text(&seed_bars, false)).unwrap();
    let token = common::token_file(scratch.path(), "push.token", live::PUSH_TOKEN);
    let dirs = (data.as_path(), token.as_path());
    let mut model: Model = BTreeMap::from([("SEED".to_string(), seed_bars.clone())]);
    for b in model.get_mut("SEED").unwrap() {
        b.adj_factor = 1.0;
    }

    let mut in_flight: Option<pb::PushBarsRequest> = None;
    let mut fresh = 0;
    let (mut acknowledged, mut unanswered, mut landed) = (0usize, 0usize, 0usize);
    for round in 0..ROUNDS {
        let context = format!("seed {seed}, round {round}");
        assert!(started.elapsed() < LIMIT, "{context}: over {LIMIT:?}");
        let (server, client) = start(dirs, &context);
        let was_applied;
        (model, was_applied) = check(&client, model, in_flight.as_ref(), &context);
        landed += usize::from(was_applied);

        let before_kill = 1 + rng.below(4);
        for _ in 0..before_kill - 1 {
            let request = random_request(&mut rng, &model, &mut fresh);
            let reply = client.push_bars_opt(&request, live::bearer(live::PUSH_TOKEN));
            let reply = reply.unwrap_or_else(|e| panic!("{context}: {request:?}: {e}"));
            assert_eq!(reply.last_date, request.bars.last().unwrap().date, "{context}");
            model = applied(&model, &request);
            acknowledged += 1;
        }
        // The kill: a random 0 to 20 ms after starting this push; pushes go on until one fails.
        let delay = Duration::from_micros(rng.below(20_000));
        let pid = server.pid() as libc::pid_t;
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            // SAFETY: kill(2) with our own child's pid.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        });
        loop {
            let request = random_request(&mut rng, &model, &mut fresh);
            match push(&client, &request.symbol, &request.bars, request.forming) {
                Ok(_) => {
                    model = applied(&model, &request);
                    acknowledged += 1;
                }
                Err((code, message)) => {
                    let transport = [
                        RpcStatusCode::UNAVAILABLE,
                        RpcStatusCode::CANCELLED,
                        RpcStatusCode::UNKNOWN,
                        RpcStatusCode::INTERNAL,
                    ];
                    assert!(transport.contains(&code), "{context}: {request:?} refused: {code:?} {message}");
                    in_flight = Some(request);
                    unanswered += 1;
                    break;
                }
            }
        }
        killer.join().unwrap();
        server.wait_exit(Duration::from_secs(10));
    }

    // The last round's request in flight, then a clean stop, then the files themselves.
    let context = format!("seed {seed}, after the rounds");
    let (server, client) = start(dirs, &context);
    let was_applied;
    (model, was_applied) = check(&client, model, in_flight.as_ref(), &context);
    landed += usize::from(was_applied);
    let (status, stderr) = server.stop_with("TERM");
    assert!(status.success(), "{context}: the server drains and exits 0: {stderr}");
    let mut files = Model::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("csv") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let table =
            idc::domain::bar::parse_table(&path.display().to_string(), &bytes, idc::domain::bar::Delimiter::Auto)
                .unwrap_or_else(|e| panic!("{context}: the CSV loader refuses {}: {e}", path.display()));
        let factors = table.adj_factor.clone().unwrap_or_else(|| vec![1.0; table.bars.len()]);
        let bars = table
            .bars
            .iter()
            .zip(factors)
            .map(|(b, f)| pb::Bar {
                adj_factor: f,
                ..live::ohlcv(&b.date.to_string(), b.open, b.high, b.low, b.close, b.volume)
            })
            .collect();
        files.insert(path.file_stem().unwrap().to_string_lossy().into_owned(), bars);
    }
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        model.keys().collect::<Vec<_>>(),
        "{context}: the instrument files in DIR"
    );
    for (symbol, bars) in &model {
        assert!(files[symbol] == *bars, "{context}: {symbol}.csv holds {:?}, acknowledged {bars:?}", files[symbol]);
    }
    eprintln!(
        "v2_durability: {acknowledged} pushes acknowledged, {unanswered} unanswered at a kill ({landed} of them \
         applied whole, the others not at all), {:?}",
        started.elapsed()
    );
}
