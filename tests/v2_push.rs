//! `PushBars` of `idc.v2.Indicators` against its contract, through the real `idc_server` with
//! `--data DIR --push-token-file FILE`: every bad push (a bar before the last, inconsistent or
//! non-finite prices, bad volume, factor or date, a date twice, no bars, bad symbols, no or a
//! wrong token, pushing disabled or on the sample) is refused with its status and a message
//! naming what was wrong (a bad symbol: the rule it breaks), nothing of it is applied (Compute
//! serves the history as it was) and the server serves on, a health check answering within 1 s;
//! good pushes append, revise the last bar, turn a forming bar final, and a new symbol becomes
//! DIR/SYMBOL.csv, which the CSV loader reads back as pushed and ListInstruments lists.

mod common;

use common::live::{self, assert_history, bar, ohlcv, push, push_with, Live, PUSH_TOKEN};
use grpcio::RpcStatusCode;
use idc::protocol::indicators as pb;

/// AAA: 40 weekday bars from 2024-01-01; `next(k)` the k-th weekday after its last.
fn history() -> (Vec<pb::Bar>, impl Fn(usize) -> String) {
    let dates = live::weekdays("2024-01-01", 60);
    let bars = live::walk(&dates[..40], 7);
    let later = dates[40..].to_vec();
    (bars, move |k: usize| later[k].clone())
}

/// How long a new symbol's file may take to appear after its push was acknowledged.
const FILE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

fn listed(client: &idc::protocol::indicators_grpc::IndicatorsClient) -> Vec<(String, u32, String, String)> {
    let reply = client.list_instruments(&pb::ListInstrumentsRequest::new()).expect("ListInstruments answers");
    reply.instruments.iter().map(|i| (i.symbol.clone(), i.bars, i.first_date.clone(), i.last_date.clone())).collect()
}

/// One refused push: what it is, the request, its status and the parts its message must hold.
struct Case {
    what: &'static str,
    symbol: String,
    bars: Vec<pb::Bar>,
    code: RpcStatusCode,
    says: Vec<String>,
}

fn case(what: &'static str, bars: Vec<pb::Bar>, code: RpcStatusCode, says: &[&str]) -> Case {
    Case { what, symbol: "AAA".into(), bars, code, says: says.iter().map(|s| s.to_string()).collect() }
}

fn check_refused(live: &Live, model: &[pb::Bar], c: &Case) {
    match push(&live.client, &c.symbol, &c.bars, false) {
        Ok(reply) => panic!("{}: accepted ({reply:?})", c.what),
        Err((code, message)) => {
            assert_eq!(code, c.code, "{}: {message}", c.what);
            for part in &c.says {
                assert!(message.contains(part.as_str()), "{}: {message:?} should name {part:?}", c.what);
            }
        }
    }
    assert_history(&live.client, "AAA", model, &format!("after the refused {}", c.what));
    common::assert_healthy_after(&live.server.target(), &format!("the refused {}", c.what));
    assert!(!listed(&live.client).is_empty(), "{}: the server serves on", c.what);
}

#[test]
fn every_bad_bar_is_refused_with_its_status_and_nothing_of_it_is_applied() {
    let (model, next) = history();
    let live = Live::start(&[("AAA", &model, false)], &[]);
    let last = model.last().unwrap().date.clone();
    let before = model[model.len() - 2].date.clone();
    let d = next(0);
    let with = |f: &dyn Fn(&mut pb::Bar)| {
        let mut b = bar(&d, 50.0);
        f(&mut b);
        vec![b]
    };
    let invalid = RpcStatusCode::INVALID_ARGUMENT;
    let mut cases = vec![
        case("bar before the last", vec![bar(&before, 50.0)], RpcStatusCode::FAILED_PRECONDITION, &[&before, &last]),
        case("high below low", vec![ohlcv(&d, 10.0, 9.0, 10.0, 9.5, 1.0)], invalid, &[&d, "high", "low"]),
        case("open above high", vec![ohlcv(&d, 12.0, 11.0, 9.0, 10.0, 1.0)], invalid, &[&d, "open"]),
        case("open below low", vec![ohlcv(&d, 8.0, 11.0, 9.0, 10.0, 1.0)], invalid, &[&d, "open"]),
        case("close above high", vec![ohlcv(&d, 10.0, 11.0, 9.0, 11.5, 1.0)], invalid, &[&d, "close"]),
        case("close below low", vec![ohlcv(&d, 10.0, 11.0, 9.0, 8.5, 1.0)], invalid, &[&d, "close"]),
        case("NaN close", with(&|b| b.close = f64::NAN), invalid, &[&d]),
        case("NaN high", with(&|b| b.high = f64::NAN), invalid, &[&d]),
        case("infinite high", with(&|b| b.high = f64::INFINITY), invalid, &[&d]),
        case("-inf low", with(&|b| b.low = f64::NEG_INFINITY), invalid, &[&d]),
        case("negative prices", vec![ohlcv(&d, -2.0, -1.0, -3.0, -2.0, 1.0)], invalid, &[&d]),
        case("zero prices", vec![ohlcv(&d, 0.0, 0.0, 0.0, 0.0, 1.0)], invalid, &[&d]),
        case("negative volume", with(&|b| b.volume = -1.0), invalid, &[&d, "volume"]),
        case("NaN volume", with(&|b| b.volume = f64::NAN), invalid, &[&d, "volume"]),
        case("negative adj_factor", with(&|b| b.adj_factor = -1.0), invalid, &[&d, "adj_factor"]),
        case("NaN adj_factor", with(&|b| b.adj_factor = f64::NAN), invalid, &[&d, "adj_factor"]),
        case("infinite adj_factor", with(&|b| b.adj_factor = f64::INFINITY), invalid, &[&d, "adj_factor"]),
        case("no real day", vec![bar("2024-02-30", 50.0)], invalid, &["2024-02-30"]),
        case("not a date", vec![bar("yesterday", 50.0)], invalid, &["yesterday"]),
        case("slashes", vec![bar("2024/03/01", 50.0)], invalid, &["2024/03/01"]),
        case("empty date", vec![bar("", 50.0)], invalid, &["date"]),
        case("a date twice in one request", vec![bar(&d, 50.0), bar(&d, 51.0)], invalid, &[&d]),
        case("dates going back within a request", vec![bar(&next(1), 50.0), bar(&d, 51.0)], invalid, &[&d]),
        case("no bars", vec![], invalid, &[]),
    ];
    // Bar 3 of 5 is bad: the two good ones before it are not applied either.
    let mut five: Vec<pb::Bar> = (0..5).map(|k| bar(&next(k), 60.0 + k as f64)).collect();
    five[2].high = five[2].low - 1.0;
    let third = next(2);
    cases.push(case("bar 3 of 5 high below low", five, invalid, &[&third, "high", "low"]));
    for c in &cases {
        check_refused(&live, &model, c);
    }
    // And the server still takes a good push after all of them.
    let reply = push(&live.client, "AAA", &[bar(&d, 50.0)], false).expect("a good push after the bad ones");
    assert_eq!((reply.appended, reply.revised, reply.last_date.as_str()), (1, 0, d.as_str()));
}

#[test]
fn bad_symbols_are_refused_and_create_no_file() {
    let (model, next) = history();
    let live = Live::start(&[("AAA", &model, false)], &[]);
    let long = "A".repeat(300);
    let just_over = "B".repeat(65);
    let symbols = ["../x", "..", "a/b", "a\\b", "a\0b", long.as_str(), just_over.as_str(), ".hidden", "", "a b", "ä"];
    for symbol in symbols {
        let c = Case {
            what: "bad symbol",
            symbol: symbol.to_string(),
            bars: vec![bar(&next(0), 50.0)],
            code: RpcStatusCode::INVALID_ARGUMENT,
            // The refusal names the rule a new symbol breaks.
            says: vec![
                "symbol".into(),
                "a new symbol is 1 to 64 ASCII letters, digits, '.', '_' or '-', not starting with '.' or '-' \
                 (it becomes the file SYMBOL.csv)"
                    .into(),
            ],
        };
        check_refused(&live, &model, &c);
    }
    assert!(!live.scratch.path().join("x.csv").exists(), "../x wrote outside DIR");
    let mut files: Vec<String> = std::fs::read_dir(live.data())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".csv"))
        .collect();
    files.sort();
    assert_eq!(files, ["AAA.csv"], "no instrument file for a refused symbol");
    let symbols: Vec<String> = listed(&live.client).into_iter().map(|l| l.0).collect();
    assert_eq!(symbols, ["AAA"]);
    // The longest symbol the rules allow is taken.
    let longest = "C".repeat(64);
    push(&live.client, &longest, &[bar(&next(0), 50.0)], false).expect("a 64-byte symbol");
}

#[test]
fn pushing_needs_the_push_token_and_reads_do_not() {
    let (model, next) = history();
    let live = Live::start(&[("AAA", &model, false)], &[]);
    let good = [bar(&next(0), 50.0)];
    for (what, token) in [("no token", None), ("a wrong token", Some("not-the-token")), ("empty", Some(""))] {
        let refused = push_with(&live.client, token, "AAA", &good, false).expect_err(what);
        assert_eq!(refused.0, RpcStatusCode::UNAUTHENTICATED, "{what}: {}", refused.1);
        assert!(!refused.1.contains(PUSH_TOKEN), "{what}: the message shows the token: {}", refused.1);
        // Compute without any token is a read: served, and unchanged.
        assert_history(&live.client, "AAA", &model, what);
    }
    let mut options = live::bearer(PUSH_TOKEN);
    options = options.timeout(std::time::Duration::from_secs(30));
    let reply = live.client.push_bars_opt(&live::request("AAA", &good, false), options).expect("with the token");
    assert_eq!(reply.appended, 1);
}

#[test]
fn without_a_push_token_file_pushing_is_disabled_and_the_sample_takes_no_pushes() {
    let (model, next) = history();
    let scratch = common::scratch();
    let data = scratch.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("AAA.csv"), live::csv_text(&model, false)).unwrap();
    let server = live::start_server(&data, None, &[]);
    let client = idc::protocol::indicators_grpc::IndicatorsClient::new(common::channel(&server.target()));
    let good = [bar(&next(0), 50.0)];
    for token in [Some(PUSH_TOKEN), None] {
        let (code, message) = push_with(&client, token, "AAA", &good, false).expect_err("pushing is disabled");
        assert_eq!(code, RpcStatusCode::PERMISSION_DENIED, "{message}");
        assert!(message.contains("--push-token-file"), "{message:?} should say how to enable pushing");
    }
    assert_history(&client, "AAA", &model, "pushing disabled");

    // The sample is no directory: FAILED_PRECONDITION.
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let mut cmd = common::rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--data", "sample", "--push-token-file"]).arg(&token);
    let sample = common::Server::start(cmd);
    let client = idc::protocol::indicators_grpc::IndicatorsClient::new(common::channel(&sample.target()));
    let (code, message) = push(&client, "SPX", &[bar("2019-01-02", 2500.0)], false).expect_err("the sample");
    assert_eq!(code, RpcStatusCode::FAILED_PRECONDITION, "{message}");
}

#[test]
fn appends_and_revisions_are_applied_and_answered() {
    let (mut model, next) = history();
    let live = Live::start(&[("AAA", &model, false)], &[]);
    let last = model.last().unwrap().date.clone();

    let two = [bar(&next(0), 101.0), bar(&next(1), 102.0)];
    let reply = push(&live.client, "AAA", &two, false).expect("append two");
    assert_eq!((reply.appended, reply.revised, reply.last_date.as_str()), (2, 0, next(1).as_str()));
    model.extend(two.iter().cloned());
    assert_history(&live.client, "AAA", &model, "after appending two");

    let revised = ohlcv(&next(1), 102.0, 110.0, 95.0, 96.5, 777.0);
    let reply = push(&live.client, "AAA", std::slice::from_ref(&revised), false).expect("revise the last");
    assert_eq!((reply.appended, reply.revised, reply.last_date.as_str()), (0, 1, next(1).as_str()));
    *model.last_mut().unwrap() = revised;
    assert_history(&live.client, "AAA", &model, "after revising the last");

    // A revision and appends in one request.
    let mixed = [bar(&next(1), 97.0), bar(&next(2), 98.0), bar(&next(3), 99.0)];
    let reply = push(&live.client, "AAA", &mixed, false).expect("revise and append");
    assert_eq!((reply.appended, reply.revised, reply.last_date.as_str()), (2, 1, next(3).as_str()));
    model.pop();
    model.extend(mixed.iter().cloned());
    assert_history(&live.client, "AAA", &model, "after revising and appending");

    // The bar before the last is no longer revisable.
    let (code, message) = push(&live.client, "AAA", &[bar(&next(2), 50.0)], false).expect_err("before the last");
    assert_eq!(code, RpcStatusCode::FAILED_PRECONDITION, "{message}");
    assert!(message.contains(&next(2)) && message.contains(&next(3)), "{message:?} names both dates");
    assert_history(&live.client, "AAA", &model, "after a refused push");
    let listing = listed(&live.client);
    assert_eq!(listing, [("AAA".to_string(), model.len() as u32, "2024-01-01".to_string(), next(3))], "{last}");
}

#[test]
fn a_forming_bar_is_revised_then_made_final_by_a_later_date() {
    let (mut model, next) = history();
    let live = Live::start(&[("AAA", &model, false)], &[]);
    let forming = ohlcv(&next(0), 100.0, 101.0, 99.0, 100.5, 10.0);
    let reply = push(&live.client, "AAA", std::slice::from_ref(&forming), true).expect("a forming bar");
    assert_eq!((reply.appended, reply.revised), (1, 0));
    model.push(forming);
    assert_history(&live.client, "AAA", &model, "after the forming bar");

    let later = ohlcv(&next(0), 100.0, 103.0, 98.0, 102.0, 25.0);
    let reply = push(&live.client, "AAA", std::slice::from_ref(&later), true).expect("the forming bar revised");
    assert_eq!((reply.appended, reply.revised, reply.last_date.as_str()), (0, 1, next(0).as_str()));
    *model.last_mut().unwrap() = later;
    assert_history(&live.client, "AAA", &model, "after revising the forming bar");

    let following = bar(&next(1), 104.0);
    let reply = push(&live.client, "AAA", std::slice::from_ref(&following), false).expect("a later date");
    assert_eq!((reply.appended, reply.revised, reply.last_date.as_str()), (1, 0, next(1).as_str()));
    model.push(following);
    assert_history(&live.client, "AAA", &model, "after the later date");
}

#[test]
fn a_new_symbol_becomes_its_csv_file_which_the_loader_reads_back() {
    let (model, _) = history();
    let live = Live::start(&[("AAA", &model, false)], &[]);
    let symbol = "600519.SH_new-1";
    let dates = live::weekdays("2023-06-01", 5);
    let mut bars = live::walk(&dates, 11);
    bars[3].adj_factor = 1.25;
    bars[4].adj_factor = 1.25;
    let reply = push(&live.client, symbol, &bars, false).expect("a new symbol");
    assert_eq!((reply.appended, reply.revised, reply.last_date.as_str()), (5, 0, dates[4].as_str()));
    assert_history(&live.client, symbol, &bars, "the new symbol");

    // The journal makes the push durable; the file may be written a moment later.
    let path = live.data().join(format!("{symbol}.csv"));
    let pushed_at = std::time::Instant::now();
    let written = common::poll_until(FILE_WITHIN, || path.exists());
    assert!(written, "{} not written within {FILE_WITHIN:?} of the push", path.display());
    eprintln!("{} written {:?} after the push", path.display(), pushed_at.elapsed());
    let bytes = std::fs::read(&path).unwrap();
    let table = idc::domain::bar::parse_table(&path.display().to_string(), &bytes, idc::domain::bar::Delimiter::Auto)
        .unwrap_or_else(|e| panic!("the CSV loader refuses {}: {e}", path.display()));
    let loaded: Vec<(String, f64, f64, f64, f64, f64)> =
        table.bars.iter().map(|b| (b.date.to_string(), b.open, b.high, b.low, b.close, b.volume)).collect();
    let pushed: Vec<(String, f64, f64, f64, f64, f64)> =
        bars.iter().map(|b| (b.date.clone(), b.open, b.high, b.low, b.close, b.volume)).collect();
    assert_eq!(loaded, pushed, "{} as the loader reads it", path.display());
    // adj_factor 0 is 1 for a new instrument; the pushed factors are kept.
    let factors = table.adj_factor.unwrap_or_else(|| vec![1.0; table.bars.len()]);
    assert_eq!(factors, [1.0, 1.0, 1.0, 1.25, 1.25], "the factors in {}", path.display());

    let listing = listed(&live.client);
    let entry = listing.iter().find(|l| l.0 == symbol).unwrap_or_else(|| panic!("{symbol} not in {listing:?}"));
    assert_eq!(entry, &(symbol.to_string(), 5, dates[0].clone(), dates[4].clone()));
}
