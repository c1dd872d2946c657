//! Hostile v2 requests (issue 25) against a real `idc_server --data DIR --push-token-file FILE`:
//! each gets its exact status and a message naming the rule it breaks, and is followed by a health
//! check that must answer SERVING within 1 s ([`common::HEALTHY_WITHIN`]).
//!
//! * `Compute` at the limits: 10,000 symbols × 64 indicators of the longest periods; 64 MACDs
//!   whose series could not fit a message; 1 million `IndicatorSpec`s in one message (refused by
//!   `--max-receive-message` before the handler runs, or at its largest setting by the indicator
//!   limit); a 1 MB symbol; 30 unknown symbols of control characters (quoted back cut short). Each is refused before any work: the server's own time for the call
//!   (`idc_call_duration_seconds`) stays short, and the receive limit's refusal never reaches the
//!   handler (`idc_calls` does not move).
//! * NaN, ±inf, 1e308 and negative parameters, for a period and for a positive number.
//! * Every enum of every request (`convention`, `adjust`, `frequency` of `Compute`, `Chart` and
//!   `Subscribe`) out of range: proto3 decodes an unknown value as a number.
//! * `PushBars` of 100,000 bars: over `--max-receive-message` even at its largest setting, while
//!   half of it fits that; nothing applied; and a date of 100 kB, refused with a short message.
//! * `Subscribe` opened and abandoned 10,000 times (`IDC_HOSTILE_SUBSCRIBES`, default 10,000),
//!   500 at a time by a process that never reads and is killed, so the kernel drops every
//!   connection: the subscription gauge, the descriptors and the memory go back to what they were.
//! * A formula as costly as the limits allow (256 statements of 10,000-bar windows over the
//!   longest series a message carries), ended by its deadline: the computation stops
//!   (`idc_computations_stopped`) and the server answers health meanwhile.
//! * Parquet files on which the parquet crate's decoder panics (the fuzz target's finds), put
//!   into DIR: refused by the reloader, the server serving on.
//!
//! Covered elsewhere (not repeated here): NaN/inf/negative/zero prices, bad volume and factors,
//! dates out of order or twice in one request, a bar before the last held, the revision of the
//! last (final) bar, and symbols with `/`, `..`, `\`, NUL or 300 bytes (the refusal naming the
//! rule, no file written outside DIR) in `tests/v2_push.rs`; the table of malformed formulas in
//! `tests/v2_formulas.rs` (both now with the 1 s health check after each case); 10,001 symbols, a
//! symbol asked twice and the first enum case in `tests/v2_compute.rs`; undecodable protobuf,
//! 10 MB fields and HTTP/2 abuse in `tests/hostile.rs`.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::live::{self, bar, push, spec, weekdays, Live, Refusal};
use grpcio::{CallOption, RpcStatusCode as Code};
use idc::protocol::indicators as pb;
use protobuf::{EnumOrUnknown, Message};

/// The server's own time for a call refused before any work may take, at most (its checks take
/// well under a millisecond; the margin is for a loaded CI machine).
const REFUSED_WITHIN: f64 = 0.25;

/// A `Live` server on `DIR` holding `AAA` (3,000 weekdays), with its metrics endpoint.
fn metered(extra: &[&str]) -> (Live, String, Vec<pb::Bar>) {
    let history = live::walk(&weekdays("2010-01-04", 3000), 25);
    let metrics = format!("127.0.0.1:{}", common::free_port());
    let mut args = vec!["--metrics-addr", metrics.as_str()];
    args.extend(extra);
    (Live::start(&[("AAA", &history, false)], &args), metrics, history)
}

fn sample(metrics: &str, name: &str) -> f64 {
    common::scrape_metrics(metrics).get(name).copied().unwrap_or(0.0)
}

/// `method`'s calls finished, every code together.
fn calls(metrics: &BTreeMap<String, f64>, method: &str) -> f64 {
    let label = format!("method=\"{method}\"}}");
    metrics.iter().filter(|(k, _)| k.starts_with("idc_calls_total{") && k.ends_with(&label)).map(|(_, v)| v).sum()
}

fn compute_seconds(metrics: &str) -> f64 {
    sample(metrics, "idc_call_duration_seconds_sum{method=\"Compute\"}")
}

/// `outcome` is a refusal with `code`; its message.
fn refused<T: std::fmt::Debug>(outcome: Result<T, Refusal>, code: Code, what: &str) -> String {
    match outcome {
        Err((got, message)) => {
            assert_eq!(got, code, "{what}: {message}");
            message
        }
        Ok(reply) => panic!("{what}: expected {code:?}, got {:.200}", format!("{reply:?}")),
    }
}

/// Compute is refused with `code` and exactly `message`, before any work, and the server is
/// healthy after it.
fn compute_refused(live: &Live, metrics: &str, request: &pb::ComputeRequest, code: Code, message: &str, what: &str) {
    let before = compute_seconds(metrics);
    let got = refused(live::compute(&live.client, request).map(|s| s.len()), code, what);
    assert_eq!(got, message, "{what}");
    let took = compute_seconds(metrics) - before;
    assert!(took < REFUSED_WITHIN, "{what}: the server spent {took:.3} s on a call refused before any work");
    common::assert_healthy_after(&live.server.target(), what);
}

/// 64 specs of the longest periods the limits allow, each label its own.
fn longest(name: &str) -> Vec<pb::IndicatorSpec> {
    (0..64).map(|k| spec(name, &[10_000.0 - k as f64])).collect()
}

#[test]
fn compute_at_the_limits_is_refused_before_any_work() {
    let (live, metrics, _) = metered(&[]);
    let symbols: Vec<String> = (0..10_000).map(|i| format!("U{i:04}")).collect();
    let request = pb::ComputeRequest { symbols: symbols.clone(), indicators: longest("MA"), ..Default::default() };
    let named: Vec<String> = symbols[..20].iter().map(|s| format!("{s:?}")).collect();
    let message = format!(
        "unknown symbols {}, and 9980 more: ListInstruments lists the symbols this server holds",
        named.join(", ")
    );
    compute_refused(&live, &metrics, &request, Code::NOT_FOUND, &message, "10,000 symbols × 64 MA(10000..9937)");

    // 64 MACDs are 192 columns: 3,000 rows of them are over the 4 MiB a message carries.
    let macds = (0..64).map(|k| spec("MACD", &[9_000.0 - k as f64, 10_000.0, 10_000.0 - k as f64])).collect();
    let request = pb::ComputeRequest { symbols: vec!["AAA".into()], indicators: macds, ..Default::default() };
    let message = "AAA: 3000 rows × 192 indicator columns is about 5 MB, over the 100000 rows and 4 MiB a message \
                   may carry; shorten the range (start_date, end_date), ask fewer indicators, or a longer frequency";
    compute_refused(&live, &metrics, &request, Code::OUT_OF_RANGE, message, "64 MACDs of the longest periods");

    let request = pb::ComputeRequest { symbols: vec!["S".repeat(1_000_000)], ..Default::default() };
    let message = "a symbol of 1000000 bytes was asked; symbols are at most 64 bytes (ListInstruments lists them)";
    compute_refused(&live, &metrics, &request, Code::INVALID_ARGUMENT, message, "a 1 MB symbol");

    // Unknown symbols are quoted back, the first 20: of control characters, each byte is five
    // when escaped, so each is cut short and the refusal stays well inside a status's 8 KiB.
    let control: Vec<String> = (0..30).map(|i| format!("{}{}", "\u{1}".repeat(63), char::from(b'A' + i))).collect();
    let request = pb::ComputeRequest { symbols: control, ..Default::default() };
    let got = refused(live::compute(&live.client, &request).map(|s| s.len()), Code::NOT_FOUND, "escaped symbols");
    let one = format!("{:?}…", "\u{1}".repeat(24));
    let message = format!(
        "unknown symbols {}, and 10 more: ListInstruments lists the symbols this server holds",
        vec![one; 20].join(", ")
    );
    assert_eq!(got, message, "escaped symbols");
    assert!(got.len() <= 4096, "a refusal of {} bytes", got.len());
    common::assert_healthy_after(&live.server.target(), "30 unknown symbols of control characters");

    // 1 million specs are 6 MB: gRPC refuses them before the handler runs, so no call is counted.
    let request = pb::ComputeRequest { indicators: vec![spec("MA", &[]); 1_000_000], ..Default::default() };
    let before = calls(&common::scrape_metrics(&metrics), "Compute");
    let got = refused(live::compute(&live.client, &request).map(|s| s.len()), Code::RESOURCE_EXHAUSTED, "1M specs");
    let size = request.compute_size();
    assert!(got.contains(&format!("larger than max ({size} vs. 1048576)")), "1M specs: {got:?}");
    assert_eq!(calls(&common::scrape_metrics(&metrics), "Compute"), before, "1M specs reached the handler");
    common::assert_healthy_after(&live.server.target(), "1 million specs");
}

/// At the largest `--max-receive-message` (4 MiB), a million empty specs (2 MB) decode, and the
/// indicator limit refuses them before any is checked.
#[test]
fn a_million_specs_under_the_largest_receive_limit_meet_the_indicator_limit() {
    let (live, metrics, _) = metered(&["--max-receive-message", "4194304"]);
    let request = pb::ComputeRequest {
        symbols: vec!["AAA".into()],
        indicators: vec![pb::IndicatorSpec::default(); 1_000_000],
        ..Default::default()
    };
    let rss = common::rss_kib(live.server.pid());
    let message = "1000000 indicators asked; at most 64 a request: split it into several calls";
    compute_refused(&live, &metrics, &request, Code::INVALID_ARGUMENT, message, "1M empty specs");
    println!("1M empty specs: server RSS {rss} KiB before, {} KiB after", common::rss_kib(live.server.pid()));
}

#[test]
fn non_finite_huge_and_negative_parameters_name_the_parameter_and_what_it_must_be() {
    let (live, metrics, history) = metered(&[]);
    let period = "a whole number of bars from 1 to 10000";
    let positive = "a finite number above 0";
    let huge = format!("{}", 1e308);
    let cases: Vec<(pb::IndicatorSpec, String)> = vec![
        (spec("RSI", &[f64::NAN]), format!("RSI parameter N is NaN: it must be {period}")),
        (spec("RSI", &[f64::INFINITY]), format!("RSI parameter N is inf: it must be {period}")),
        (spec("RSI", &[f64::NEG_INFINITY]), format!("RSI parameter N is -inf: it must be {period}")),
        (spec("RSI", &[1e308]), format!("RSI parameter N is {huge}: it must be {period}")),
        (spec("RSI", &[-14.0]), format!("RSI parameter N is -14: it must be {period}")),
        (spec("MACD", &[12.0, 1e308, 9.0]), format!("MACD parameter LONG is {huge}: it must be {period}")),
        (spec("BOLL", &[20.0, f64::NAN]), format!("BOLL parameter P is NaN: it must be {positive}")),
        (spec("BOLL", &[20.0, f64::INFINITY]), format!("BOLL parameter P is inf: it must be {positive}")),
        (spec("BOLL", &[20.0, f64::NEG_INFINITY]), format!("BOLL parameter P is -inf: it must be {positive}")),
        (spec("BOLL", &[20.0, -2.0]), format!("BOLL parameter P is -2: it must be {positive}")),
        (spec("BOLL", &[-20.0, 2.0]), format!("BOLL parameter N is -20: it must be {period}")),
    ];
    for (s, problem) in cases {
        let what = format!("{} {:?}", s.name, s.params);
        let request = pb::ComputeRequest { symbols: vec!["AAA".into()], indicators: vec![s], ..Default::default() };
        compute_refused(&live, &metrics, &request, Code::INVALID_ARGUMENT, &format!("indicator 1: {problem}"), &what);
    }
    // 1e308 is a finite number above 0, but the label made of it is 318 bytes: the refusal
    // says to give one.
    let boll = |label: &str| pb::IndicatorSpec { label: label.into(), ..spec("BOLL", &[20.0, 1e308]) };
    let request = pb::ComputeRequest { symbols: vec!["AAA".into()], indicators: vec![boll("")], ..Default::default() };
    let message = "indicator 1: the label made of its parameters is 318 bytes long; at most 128: give it a shorter \
                   label (IndicatorSpec.label)";
    compute_refused(&live, &metrics, &request, Code::INVALID_ARGUMENT, message, "BOLL(20, 1e308)");
    // With a label, BOLL's width takes it, and its bands overflow to ±inf (as TA-Lib's and MyTT's
    // would), the middle band staying the 20-bar mean.
    let request =
        pb::ComputeRequest { symbols: vec!["AAA".into()], indicators: vec![boll("WIDE")], ..Default::default() };
    let series = live::compute(&live.client, &request).expect("BOLL(20, 1e308) is answered");
    let column = |name: &str| &series[0].columns.iter().find(|c| c.name.ends_with(name)).expect(name).values;
    let mean: f64 = history[history.len() - 20..].iter().map(|b| b.close).sum::<f64>() / 20.0;
    let mid = *column("MID").last().unwrap();
    assert!((mid - mean).abs() <= 1e-9 * mean, "MID {mid}, the mean of the last 20 closes {mean}");
    assert_eq!(
        (*column("UPPER").last().unwrap(), *column("LOWER").last().unwrap()),
        (f64::INFINITY, f64::NEG_INFINITY)
    );
    common::assert_healthy_after(&live.server.target(), "BOLL(20, 1e308)");
}

#[test]
fn every_enum_out_of_range_is_invalid_argument_in_every_request() {
    let (live, _metrics, _) = metered(&[]);
    let options = || CallOption::default().timeout(Duration::from_secs(30));
    for value in [3, -1, i32::MAX, i32::MIN] {
        let messages = [
            ("convention", format!("convention {value} is not a Convention: use CONVENTION_UNSPECIFIED (0, the server's), CN (1) or TALIB (2)")),
            ("adjust", format!("adjust {value} is not an Adjust: use ADJUST_NONE (0), FORWARD (1) or BACKWARD (2)")),
            ("frequency", format!("frequency {value} is not a Frequency: use DAILY (0), WEEKLY (1) or MONTHLY (2)")),
        ];
        for (field, message) in messages {
            let (mut c, mut h, mut s) = (
                pb::ComputeRequest { symbols: vec!["AAA".into()], ..Default::default() },
                pb::ChartRequest { symbol: "AAA".into(), ..Default::default() },
                pb::SubscribeRequest { symbols: vec!["AAA".into()], ..Default::default() },
            );
            match field {
                "convention" => {
                    let v = EnumOrUnknown::from_i32(value);
                    (c.convention, h.convention, s.convention) = (v, v, v);
                }
                "adjust" => {
                    let v = EnumOrUnknown::from_i32(value);
                    (c.adjust, h.adjust, s.adjust) = (v, v, v);
                }
                _ => {
                    let v = EnumOrUnknown::from_i32(value);
                    (c.frequency, h.frequency, s.frequency) = (v, v, v);
                }
            }
            let what = format!("Compute with {field} {value}");
            assert_eq!(
                refused(live::compute(&live.client, &c).map(|s| s.len()), Code::INVALID_ARGUMENT, &what),
                message
            );
            common::assert_healthy_after(&live.server.target(), &what);

            let what = format!("Chart with {field} {value}");
            let mut chart = live.client.chart_opt(&h, options()).expect("Chart starts");
            let first = live::within(live::UPDATE_WITHIN, futures::StreamExt::next(&mut chart)).expect("Chart answers");
            let outcome = first.expect("a status").map(|c| c.png.len()).map_err(live::refusal);
            assert_eq!(refused(outcome, Code::INVALID_ARGUMENT, &what), message, "{what}");
            common::assert_healthy_after(&live.server.target(), &what);

            let what = format!("Subscribe with {field} {value}");
            let outcome = live::next_update(&mut live::subscribe(&live.client, &s), live::UPDATE_WITHIN, &what);
            assert_eq!(refused(outcome, Code::INVALID_ARGUMENT, &what), message, "{what}");
            common::assert_healthy_after(&live.server.target(), &what);
        }
    }
}

/// `count` weekday bars from 1700-01-01 on, a random walk.
fn many_bars(count: usize) -> Vec<pb::Bar> {
    live::walk(&weekdays("1700-01-01", count), 26)
}

#[test]
fn a_hundred_thousand_bars_are_over_the_receive_limit_even_at_its_largest() {
    let bars = many_bars(100_000);
    let size = live::request("BIG", &bars, false).compute_size();
    for (limit, extra) in [(1_048_576, vec![]), (4_194_304, vec!["--max-receive-message", "4194304"])] {
        let (live, metrics, history) = metered(&extra);
        let what = format!("100,000 bars with --max-receive-message {limit}");
        let before = common::scrape_metrics(&metrics);
        let message = refused(push(&live.client, "AAA", &bars, false), Code::RESOURCE_EXHAUSTED, &what);
        assert!(message.contains(&format!("larger than max ({size} vs. {limit})")), "{what}: {message:?}");
        let after = common::scrape_metrics(&metrics);
        assert_eq!(calls(&after, "PushBars"), calls(&before, "PushBars"), "{what}: the handler ran");
        live::assert_history(&live.client, "AAA", &history, &what);
        common::assert_healthy_after(&live.server.target(), &what);
        if limit == 4_194_304 {
            // Half of them fit the largest limit, and are appended.
            let half = &bars[..50_000];
            let reply = push(&live.client, "BIG", half, false).expect("50,000 bars under 4 MiB");
            assert_eq!((reply.appended, reply.last_date.as_str()), (50_000, half[49_999].date.as_str()));
            common::assert_healthy_after(&live.server.target(), "50,000 bars");
        }
    }
}

#[test]
fn a_date_of_a_hundred_kilobytes_is_refused_with_a_short_message() {
    let (live, _metrics, history) = metered(&[]);
    let long = "2".repeat(100_000);
    for symbol in ["AAA", "NEW"] {
        let what = format!("a 100 kB date pushed to {symbol}");
        let message = refused(push(&live.client, symbol, &[bar(&long, 50.0)], false), Code::INVALID_ARGUMENT, &what);
        let quoted = format!("bar 1: \"{}…\" is not a date: use YYYY-MM-DD, e.g. 2023-01-31", "2".repeat(32));
        assert_eq!(message, quoted, "{what}");
        live::assert_history(&live.client, "AAA", &history, &what);
        common::assert_healthy_after(&live.server.target(), &what);
    }
}

/// How many Subscribe calls the abandonment test opens; CI's default is the 10,000.
fn abandoned_count() -> usize {
    std::env::var("IDC_HOSTILE_SUBSCRIBES").map_or(10_000, |v| v.parse().expect("IDC_HOSTILE_SUBSCRIBES: a count"))
}

/// One round: a process opens `count` subscriptions, each on a connection of its own, reads
/// none, and is killed once the server counts them all; then the gauge must fall back to 0.
fn abandon(live: &Live, metrics: &str, request: &[u8], count: usize) {
    let mut cmd = common::python_script("abandon_subscribe.py");
    cmd.args([live.server.target(), count.to_string(), hex(request)]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("abandon_subscribe.py starts");
    let opened = common::poll_until(Duration::from_secs(60), || {
        sample(metrics, "idc_subscriptions") == count as f64 || child.try_wait().unwrap().is_some()
    });
    let exited = child.try_wait().unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    if exited.is_some() || !opened {
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        panic!("abandon_subscribe.py did not hold {count} subscriptions open ({exited:?}): {err}");
    }
    common::wait_for("the abandoned subscriptions to be ended", Duration::from_secs(30), || {
        sample(metrics, "idc_subscriptions") == 0.0
    });
    common::assert_healthy_after(&live.server.target(), &format!("{count} abandoned subscriptions"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn subscriptions_abandoned_ten_thousand_times_leak_nothing() {
    const AT_ONCE: usize = 500;
    let total = abandoned_count();
    let (live, metrics, _) = metered(&[]);
    let request = live::subscription(&["AAA"], vec![spec("MACD", &[]), spec("RSI", &[])]).write_to_bytes().unwrap();
    let pid = live.server.pid();
    // A warm-up round first: C-core's and the allocator's pools grow once and are kept.
    abandon(&live, &metrics, &request, AT_ONCE);
    let (fds, rss) = (common::fd_count(pid), common::rss_kib(pid));
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        let count = AT_ONCE.min(total - done);
        abandon(&live, &metrics, &request, count);
        done += count;
    }
    let took = started.elapsed();
    // Descriptors: back to the warm-up's (a closed connection's socket is closed at once; allow
    // the two a scrape and a health check may still hold).
    assert!(
        common::poll_until(Duration::from_secs(10), || common::fd_count(pid) <= fds + 2),
        "descriptors: {} after {total} abandoned subscriptions, {fds} after the warm-up",
        common::fd_count(pid)
    );
    // Memory: within 20% or 16 MiB of the warm-up's, whichever is more (the allocator keeps some
    // freed pages; a leak of even 2 KiB a subscription would be 20 MB).
    let after = common::rss_kib(pid);
    let allowed = rss + (rss / 5).max(16 * 1024);
    println!(
        "{total} abandoned subscriptions in {took:?}: RSS {rss} KiB after the warm-up, {after} KiB after; fds {fds}"
    );
    assert!(after <= allowed, "RSS {after} KiB after {total} abandoned subscriptions, {rss} KiB after the warm-up");
    // And a new subscriber is served as usual.
    let mut stream = live::subscribe(&live.client, &live::subscription(&["AAA"], vec![]));
    assert!(live::expect_update(&mut stream, "a subscriber after the abandoned ones").snapshot);
}

#[test]
fn a_formula_as_costly_as_the_limits_allow_stops_at_its_deadline() {
    // The longest daily series one message carries with one column: 60,000 bars.
    let dir = common::scratch();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    common::write_file(&data, "X.csv", common::daily_bars_csv(1800, 60_000).as_bytes());
    let metrics = format!("127.0.0.1:{}", common::free_port());
    let server = live::start_server(&data, None, &["--blocking-threads", "1", "--metrics-addr", &metrics]);
    let client = idc::protocol::indicators_grpc::IndicatorsClient::new(common::channel(&server.target()));
    // 255 windows of 10,000 bars (the longest period) and one output: 256 statements, the most a
    // formula may have; 60,000 × 10,000 × 255 steps are many minutes of the one blocking thread.
    let formula: String = (0..255).map(|k| format!("A{k}:=AVEDEV(C+{k},10000);")).collect::<String>() + "OUT:A0+A254;";
    assert!(formula.len() <= idc_core::query::MAX_FORMULA_BYTES, "{} bytes", formula.len());
    let costly = pb::ComputeRequest {
        symbols: vec!["X".into()],
        indicators: vec![pb::IndicatorSpec { formula, ..Default::default() }],
        ..Default::default()
    };
    let options = CallOption::default().timeout(Duration::from_millis(500));
    let mut stream = client.compute_opt(&costly, options).expect("the call starts");
    // While it runs, health answers.
    common::assert_healthy_after(&server.target(), "starting the costly formula");
    let ended = futures::executor::block_on(futures::TryStreamExt::try_next(&mut stream));
    refused(ended.map_err(live::refusal), Code::DEADLINE_EXCEEDED, "the costly formula");
    common::wait_for("the costly formula to be given up", Duration::from_secs(20), || {
        sample(&metrics, "idc_computations_stopped_total") == 1.0
    });
    common::assert_healthy_after(&server.target(), "the costly formula's deadline");
    // The one blocking thread is free again.
    let cheap = pb::ComputeRequest {
        symbols: vec!["X".into()],
        indicators: vec![pb::IndicatorSpec { formula: "M:MA(C,5);".into(), ..Default::default() }],
        ..Default::default()
    };
    let series = live::compute(&client, &cheap).expect("a cheap formula after the costly one");
    assert_eq!(series[0].date.len(), 60_000);
}

/// Parquet files on which the parquet crate's own decoder panics (found by the fuzz target
/// `parquet`; core's unit tests keep them), put into DIR by another program: the reloader refuses
/// each (the loader catches the panic), the last good catalog is still served, and the server
/// answers health.
#[test]
fn a_parquet_file_that_makes_the_decoder_panic_is_refused_and_the_server_serves_on() {
    let (live, metrics, _) = metered(&[]);
    let testdata = common::repo_root().join("core/src/domain/parquet/testdata");
    let found = ["rle_run_cut_short", "level_length_past_the_end", "footer_list_length_overflows"];
    for (k, name) in found.into_iter().enumerate() {
        let bytes = std::fs::read(testdata.join(format!("{name}.parquet"))).unwrap();
        // Written under another name and renamed in, so the reloader never reads half of it.
        let part = live.data().join(".part");
        std::fs::write(&part, bytes).unwrap();
        std::fs::rename(&part, live.data().join(format!("BAD{k}.parquet"))).unwrap();
        let failed = "idc_catalog_reloads_total{outcome=\"failed\"}";
        common::wait_for(&format!("{name}.parquet refused"), Duration::from_secs(20), || {
            sample(&metrics, failed) == (k + 1) as f64
        });
        common::assert_healthy_after(&live.server.target(), &format!("{name}.parquet in DIR"));
        let listed = live.client.list_instruments(&pb::ListInstrumentsRequest::new()).unwrap();
        let symbols: Vec<&str> = listed.instruments.iter().map(|i| i.symbol.as_str()).collect();
        assert_eq!(symbols, ["AAA"], "after {name}.parquet");
    }
}
