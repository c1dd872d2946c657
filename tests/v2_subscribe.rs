//! `Subscribe` of `idc.v2.Indicators` against its contract, through the real `idc_server` with
//! `--data DIR`: a snapshot per symbol first (the latest bar and Compute's last row), then one
//! update per pushed bar in push order, each equal to Compute over the same history; 1,000
//! subscribers all hear every update while one that stops reading is ended with
//! RESOURCE_EXHAUSTED; a CSV row appended by another program reaches a subscriber within 2 s;
//! WEEKLY and MONTHLY give provisional updates equal to Compute's; a new adj_factor gives FORWARD
//! subscribers a new snapshot; SIGTERM ends subscriptions with UNAVAILABLE after the drain delay;
//! and the limits (subscriptions, unknown symbols, bad indicators) answer with their status.
//! Every wait is on a stream with a deadline (gates), never a sleep.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::live::{
    self, assert_update_is_row, bar, computed, expect_update, next_update, push, spec, subscribe, subscription, Live,
};
use futures::StreamExt;
use grpcio::RpcStatusCode;
use idc::protocol::indicators as pb;

fn indicators() -> Vec<pb::IndicatorSpec> {
    let fast = pb::IndicatorSpec { name: "RSI".into(), params: vec![6.0], label: "fast".into(), ..Default::default() };
    vec![spec("MACD", &[]), spec("RSI", &[24.0]), fast]
}

fn bars(first: &str, count: usize, seed: u64) -> Vec<pb::Bar> {
    live::walk(&live::weekdays(first, count), seed)
}

/// The weekday after `date`.
fn after(date: &str, k: usize) -> String {
    live::weekdays(&live::date_of(live::days_of(date) + 1), k + 1)[k].clone()
}

#[test]
fn a_snapshot_per_symbol_then_one_update_per_pushed_bar_equal_to_compute() {
    let (a, b) = (bars("2022-01-03", 120, 1), bars("2022-02-01", 100, 2));
    let live = Live::start(&[("AAA", &a, false), ("BBB", &b, false)], &[]);
    let request = subscription(&["AAA", "BBB"], indicators());
    let mut stream = subscribe(&live.client, &request);
    let mut seen = BTreeMap::new();
    for _ in 0..2 {
        let update = expect_update(&mut stream, "a snapshot");
        assert!(update.snapshot, "the first updates are snapshots: {update:?}");
        let series = computed(&live.client, &request, &update.symbol);
        assert_eq!(update.date, *series.date.last().unwrap(), "a snapshot is of the latest bar");
        assert_update_is_row(&update, &series, "the snapshot");
        assert!(seen.insert(update.symbol.clone(), ()).is_none(), "one snapshot per symbol: {update:?}");
    }
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), ["AAA", "BBB"]);

    // Appends to both, acknowledged one after the other, then read in that order.
    let (la, lb) = (a.last().unwrap().date.clone(), b.last().unwrap().date.clone());
    let pushes =
        [("AAA", bar(&after(&la, 0), 90.0)), ("BBB", bar(&after(&lb, 0), 80.0)), ("AAA", bar(&after(&la, 1), 91.0))];
    for (symbol, pushed) in &pushes {
        push(&live.client, symbol, std::slice::from_ref(pushed), false).expect("push");
    }
    for (symbol, pushed) in &pushes {
        let update = expect_update(&mut stream, "an update per push");
        assert_eq!((update.symbol.as_str(), update.date.as_str()), (*symbol, pushed.date.as_str()), "in push order");
        assert!(!update.snapshot && !update.provisional, "{update:?}");
        assert_update_is_row(&update, &computed(&live.client, &request, symbol), "an appended bar");
    }

    // A revision of the last bar, a forming bar, its revision, then a later date.
    let steps = [
        (bar(&after(&la, 1), 95.0), false),
        (bar(&after(&la, 2), 96.0), true),
        (bar(&after(&la, 2), 97.5), true),
        (bar(&after(&la, 3), 99.0), false),
    ];
    for (pushed, forming) in &steps {
        push(&live.client, "AAA", std::slice::from_ref(pushed), *forming).expect("push");
        let update = expect_update(&mut stream, "an update per push");
        assert_eq!((update.symbol.as_str(), update.date.as_str()), ("AAA", pushed.date.as_str()));
        assert_eq!(update.provisional, *forming, "provisional is the forming flag: {update:?}");
        assert!(!update.snapshot);
        assert_update_is_row(&update, &computed(&live.client, &request, "AAA"), "a revised or forming bar");
    }

    // Three bars in one request: three updates, oldest first.
    let three: Vec<pb::Bar> = (0..3).map(|k| bar(&after(&lb, 1 + k), 81.0 + k as f64)).collect();
    push(&live.client, "BBB", &three, false).expect("push three");
    let series = computed(&live.client, &request, "BBB");
    for pushed in &three {
        let update = expect_update(&mut stream, "one of three");
        assert_eq!((update.symbol.as_str(), update.date.as_str()), ("BBB", pushed.date.as_str()));
        assert_update_is_row(&update, &series, "one of three bars");
    }
}

/// A channel with a connection of its own; a small stream window for a reader that stops
/// reading, so that what the server sends it piles up on the server, in its queue.
fn own_channel(address: &str, small_window: bool) -> grpcio::Channel {
    let env = std::sync::Arc::new(grpcio::EnvBuilder::new().cq_count(1).build());
    let builder = grpcio::ChannelBuilder::new(env).use_local_subchannel_pool(true);
    match small_window {
        true => builder.stream_initial_window_size(16 * 1024).http2_bdp_probe(false).connect(address),
        false => builder.connect(address),
    }
}

#[test]
fn a_thousand_subscribers_hear_every_update_and_one_that_stops_reading_is_ended() {
    const SUBSCRIBERS: usize = 1000;
    const CHANNELS: usize = 4;
    const PUSHES: usize = 40;
    let history = bars("2021-01-04", 60, 3);
    let extra = ["--max-concurrent-streams", "2000", "--subscriber-queue", "16"];
    let live = Live::start(&[("AAA", &history, false)], &extra);
    let request = subscription(&["AAA"], vec![spec("MA", &[5.0])]);
    let clients: Vec<_> = (0..CHANNELS)
        .map(|_| idc::protocol::indicators_grpc::IndicatorsClient::new(own_channel(&live.server.target(), false)))
        .collect();
    let mut streams: Vec<_> = (0..SUBSCRIBERS).map(|i| subscribe(&clients[i % CHANNELS], &request)).collect();
    let firsts = live::within(Duration::from_secs(60), futures::future::join_all(streams.iter_mut().map(|s| s.next())))
        .expect("1,000 snapshots within 60 s");
    for (i, first) in firsts.into_iter().enumerate() {
        let update = first.unwrap_or_else(|| panic!("subscriber {i} ended")).unwrap_or_else(|e| panic!("{i}: {e}"));
        assert!(update.snapshot, "subscriber {i}: {update:?}");
    }

    // The slow one asks for big updates (64 indicators of three outputs each, long labels), reads
    // its snapshot, and never reads again.
    let big: Vec<pb::IndicatorSpec> = (0..64)
        .map(|i| pb::IndicatorSpec {
            name: "MACD".into(),
            params: vec![12.0, 26.0 + f64::from(i), 9.0],
            label: format!("a_label_long_enough_to_fill_the_window_quickly_{i:02}"),
            ..Default::default()
        })
        .collect();
    let slow_client = idc::protocol::indicators_grpc::IndicatorsClient::new(own_channel(&live.server.target(), true));
    let mut slow = subscribe(&slow_client, &subscription(&["AAA"], big));
    assert!(expect_update(&mut slow, "the slow subscriber's snapshot").snapshot);

    let mut date = history.last().unwrap().date.clone();
    for n in 0..PUSHES {
        // Every third push revises the last bar; the others append.
        if n % 3 != 2 {
            date = after(&date, 0);
        }
        let close = 100.0 + n as f64;
        push(&live.client, "AAA", &[bar(&date, close)], false).unwrap_or_else(|e| panic!("push {n}: {e:?}"));
        let heard =
            live::within(Duration::from_secs(30), futures::future::join_all(streams.iter_mut().map(|s| s.next())))
                .unwrap_or_else(|| panic!("push {n}: not every subscriber heard it within 30 s"));
        for (i, item) in heard.into_iter().enumerate() {
            let update = item
                .unwrap_or_else(|| panic!("push {n}: subscriber {i} ended"))
                .unwrap_or_else(|e| panic!("push {n}: subscriber {i} ended: {e}"));
            assert_eq!(
                (update.date.as_str(), update.bar.as_ref().map(|b| b.close)),
                (date.as_str(), Some(close)),
                "push {n}, subscriber {i}"
            );
        }
    }

    // The slow one: what was in its window, then RESOURCE_EXHAUSTED.
    let mut read = 0;
    let ended = loop {
        match next_update(&mut slow, Duration::from_secs(10), "the slow subscriber") {
            Ok(_) => read += 1,
            Err(refusal) => break refusal,
        }
        assert!(read <= PUSHES, "the slow subscriber got every update: it was never ended");
    };
    assert_eq!(ended.0, RpcStatusCode::RESOURCE_EXHAUSTED, "after {read} updates: {}", ended.1);
    assert!(ended.1.contains("too slow"), "{:?}", ended.1);
}

#[test]
fn a_row_appended_to_the_file_by_another_program_reaches_a_subscriber_within_two_seconds() {
    use std::io::Write;
    let history = bars("2021-01-04", 50, 4);
    let live = Live::start(&[("AAA", &history, false)], &[]);
    let request = subscription(&["AAA"], indicators());
    let mut stream = subscribe(&live.client, &request);
    assert!(expect_update(&mut stream, "the snapshot").snapshot);
    let row = bar(&after(&history.last().unwrap().date, 0), 77.0);
    let mut file = std::fs::OpenOptions::new().append(true).open(live.data().join("AAA.csv")).unwrap();
    file.write_all(live::csv_row(&row, false).as_bytes()).unwrap();
    drop(file);
    let written = Instant::now();
    let update = next_update(&mut stream, Duration::from_secs(2), "the appended row").expect("an update");
    assert!(written.elapsed() <= Duration::from_secs(2));
    assert_eq!(update.date, row.date);
    assert_update_is_row(&update, &computed(&live.client, &request, "AAA"), "the appended row");
}

#[test]
fn weekly_and_monthly_subscribers_get_provisional_updates_equal_to_compute() {
    // Up to Friday 2020-07-31, the end of a week and of a month.
    let history = live::walk(&live::weekdays("2019-06-03", 305), 5);
    assert_eq!(history.last().unwrap().date, "2020-07-31");
    let live = Live::start(&[("AAA", &history, false)], &[]);
    let ask = |frequency: pb::Frequency| pb::SubscribeRequest {
        frequency: frequency.into(),
        ..subscription(&["AAA"], indicators())
    };
    let (weekly, monthly) = (ask(pb::Frequency::WEEKLY), ask(pb::Frequency::MONTHLY));
    let mut streams = [(&weekly, subscribe(&live.client, &weekly)), (&monthly, subscribe(&live.client, &monthly))];
    for (request, stream) in streams.iter_mut() {
        let update = expect_update(stream, "the snapshot");
        assert!(update.snapshot);
        assert_eq!(update.date, "2020-07-31");
        assert_update_is_row(&update, &computed(&live.client, request, "AAA"), "the snapshot");
    }
    // Mon-Wed of a new week and month; the next Monday (a new week, the same month); then
    // Tuesday 1 September (a new week and month).
    let days = ["2020-08-03", "2020-08-04", "2020-08-05", "2020-08-10", "2020-09-01"];
    let mut previous = "2020-07-31".to_string();
    for (k, day) in days.iter().enumerate() {
        push(&live.client, "AAA", &[bar(day, 100.0 + k as f64)], false).expect("a daily push");
        for (request, stream) in streams.iter_mut() {
            let what = format!("{:?} after {day}", request.frequency);
            let series = computed(&live.client, request, "AAA");
            let mut update = expect_update(stream, &what);
            // A new period may first close the one before with a final update.
            if update.date == previous {
                assert!(!update.provisional, "{what}: the period before, final: {update:?}");
                assert_update_is_row(&update, &series, &what);
                update = expect_update(stream, &what);
            }
            assert_eq!(update.date, *day, "{what}: the period is dated by its last bar");
            assert!(update.provisional, "{what}: the period's bar is still forming: {update:?}");
            assert!(!update.snapshot, "{what}");
            assert_update_is_row(&update, &series, &what);
        }
        previous = day.to_string();
    }
}

#[test]
fn a_new_adj_factor_gives_forward_subscribers_a_new_snapshot() {
    let mut history = bars("2021-01-04", 80, 6);
    for (i, b) in history.iter_mut().enumerate() {
        b.adj_factor = if i < 40 { 1.0 } else { 1.2 };
    }
    let live = Live::start(&[("AAA", &history, true)], &[]);
    let forward = pb::SubscribeRequest { adjust: pb::Adjust::FORWARD.into(), ..subscription(&["AAA"], indicators()) };
    let none = subscription(&["AAA"], indicators());
    let (mut fwd, mut raw) = (subscribe(&live.client, &forward), subscribe(&live.client, &none));
    for (request, stream) in [(&forward, &mut fwd), (&none, &mut raw)] {
        let update = expect_update(stream, "the snapshot");
        assert!(update.snapshot);
        assert_update_is_row(&update, &computed(&live.client, request, "AAA"), "the snapshot");
    }
    let last = history.last().unwrap().date.clone();
    let mut split = bar(&after(&last, 0), 50.0);
    split.adj_factor = 2.4;
    push(&live.client, "AAA", &[split.clone()], false).expect("a new factor");
    let update = expect_update(&mut fwd, "FORWARD after a new factor");
    assert!(update.snapshot, "history was rewritten: a new snapshot: {update:?}");
    assert_eq!(update.date, split.date);
    assert_update_is_row(&update, &computed(&live.client, &forward, "AAA"), "FORWARD's new snapshot");
    let update = expect_update(&mut raw, "ADJUST_NONE after a new factor");
    assert!(!update.snapshot, "unadjusted history is as it was: {update:?}");
    assert_update_is_row(&update, &computed(&live.client, &none, "AAA"), "ADJUST_NONE's update");

    // The same factor again (0 = the last one): a normal update for both.
    let next = bar(&after(&last, 1), 51.0);
    push(&live.client, "AAA", &[next.clone()], false).expect("the same factor");
    for (request, stream) in [(&forward, &mut fwd), (&none, &mut raw)] {
        let update = expect_update(stream, "after the same factor");
        assert!(!update.snapshot, "{update:?}");
        assert_eq!(update.date, next.date);
        assert_update_is_row(&update, &computed(&live.client, request, "AAA"), "the same factor");
    }
}

#[test]
fn sigterm_ends_a_subscription_with_unavailable_after_the_drain_delay() {
    let history = bars("2021-01-04", 30, 7);
    let live = Live::start(&[("AAA", &history, false)], &["--drain-delay", "1", "--grace-period", "3"]);
    let mut stream = subscribe(&live.client, &subscription(&["AAA"], vec![]));
    assert!(expect_update(&mut stream, "the snapshot").snapshot);
    let Live { scratch: _scratch, server, client: _client } = live;
    let signalled = Instant::now();
    let stopping = std::thread::spawn(move || server.stop_with("TERM"));
    let ended = next_update(&mut stream, Duration::from_secs(15), "the subscription at SIGTERM");
    let after = signalled.elapsed();
    let (code, message) = ended.expect_err("no update comes during a drain");
    assert_eq!(code, RpcStatusCode::UNAVAILABLE, "{message}");
    assert!(message.contains("shutting down"), "{message:?}");
    assert!(after >= Duration::from_secs(1), "ended {after:?} after SIGTERM, before the 1 s drain delay");
    assert!(after < Duration::from_secs(4), "ended {after:?} after SIGTERM: after the grace period");
    let (status, stderr) = stopping.join().unwrap();
    assert!(status.success(), "the server drains and exits 0: {stderr}");
}

#[test]
fn the_limits_answer_with_their_status() {
    let history = bars("2021-01-04", 30, 8);
    let live = Live::start(&[("AAA", &history, false)], &["--max-subscriptions", "2"]);
    // Refusals first, while no subscription holds a place.
    let (code, message) = next_update(
        &mut subscribe(&live.client, &subscription(&["AAA", "NOPE"], vec![])),
        live::UPDATE_WITHIN,
        "unknown",
    )
    .expect_err("an unknown symbol");
    assert_eq!(code, RpcStatusCode::NOT_FOUND, "{message}");
    assert!(message.contains("NOPE"), "{message:?}");

    let bad = subscription(&["AAA"], vec![spec("MACDX", &[])]);
    let (code, message) = next_update(&mut subscribe(&live.client, &bad), live::UPDATE_WITHIN, "bad indicator")
        .expect_err("a bad indicator");
    assert_eq!(code, RpcStatusCode::INVALID_ARGUMENT, "{message}");
    let compute = live::compute(&live.client, &live::compute_like(&bad, "AAA")).expect_err("Compute refuses it too");
    assert_eq!((code, message), compute, "Subscribe refuses as Compute does");

    let request = subscription(&["AAA"], vec![]);
    let mut first = subscribe(&live.client, &request);
    let mut second = subscribe(&live.client, &request);
    assert!(expect_update(&mut first, "the first").snapshot);
    assert!(expect_update(&mut second, "the second").snapshot);
    let mut third = subscribe(&live.client, &request);
    let (code, message) = next_update(&mut third, live::UPDATE_WITHIN, "the third").expect_err("a third is refused");
    assert_eq!(code, RpcStatusCode::RESOURCE_EXHAUSTED, "{message}");
    // One ended frees its place.
    drop(first);
    let freed = common::poll_until(Duration::from_secs(5), || {
        let mut again = subscribe(&live.client, &request);
        next_update(&mut again, live::UPDATE_WITHIN, "after one ended").is_ok()
    });
    assert!(freed, "a subscription ended by its client still counts against --max-subscriptions");
    drop(second);
}
