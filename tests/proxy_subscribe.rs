//! A quiet subscription through nginx (the recipe, tests/nginx/idc.conf.template): nginx cuts a
//! call after `grpc_read_timeout` without a byte from its replica, and a subscription says
//! nothing while no bars arrive, so the recipe tells users to run the replicas behind it with
//! `--keepalive-time 20`, whose pings count as reads for nginx. This test shows both sides, with
//! the recipe's 60 s timeout changed to 3 s (and pings every second) so that it takes seconds:
//!
//! * behind a replica with the default keepalive (pings every 60 s), a subscription nginx carries
//!   is cut once it has been quiet for the timeout, with INTERNAL (nginx resets the stream);
//! * behind a replica pinging every second, a subscription quiet for as long stays open, and the
//!   next pushed bar reaches the subscriber through nginx.
//!
//! The cuts of two subscriptions of the first kind, one after the other, are the gate (waited for,
//! bounded): the subscription of the second kind, quiet all along, must still be open after them.

mod common;

use std::time::{Duration, Instant};

use grpcio::{ClientSStreamReceiver, RpcStatusCode};
use idc::protocol::indicators::Update;
use idc::protocol::indicators_grpc::IndicatorsClient;

use common::live::{self, Live};
use common::nginx::Nginx;

/// The recipe's read timeout, and what this test makes of it.
const RECIPE_TIMEOUT: &str = "grpc_read_timeout 60s;";
const SHORT_TIMEOUT: &str = "grpc_read_timeout 3s;";
const TIMEOUT: Duration = Duration::from_secs(3);

/// A subscription to `symbol` through `nginx`, its snapshot read; with its client, whose
/// completion queue the stream needs.
fn subscribed_through(nginx: &Nginx, symbol: &str) -> (IndicatorsClient, ClientSStreamReceiver<Update>) {
    let client = IndicatorsClient::new(common::channel(&nginx.target()));
    let mut stream = live::subscribe(&client, &live::subscription(&[symbol], vec![live::spec("MACD", &[])]));
    let snapshot = live::expect_update(&mut stream, "the snapshot through nginx");
    assert!(snapshot.snapshot && snapshot.symbol == symbol, "the first update is the snapshot: {snapshot:?}");
    (client, stream)
}

#[test]
fn a_quiet_subscription_through_nginx_lives_on_the_replicas_keepalive_pings() {
    let dates = live::weekdays("2024-01-02", 41);
    let bars = live::walk(&dates, 25);
    let files = [("Q", &bars[..40], false)];
    let pinging = Live::start(&files, &["--keepalive-time", "1"]);
    let silent = Live::start(&files, &[]);
    let edit = [(RECIPE_TIMEOUT, SHORT_TIMEOUT)];
    let front_pinging = Nginx::start_edited([pinging.server.target(), pinging.server.target()], &edit);
    let front_silent = Nginx::start_edited([silent.server.target(), silent.server.target()], &edit);

    let (_kept_client, mut kept) = subscribed_through(&front_pinging, "Q");
    let kept_since = Instant::now();

    // The gate, twice over: behind the default keepalive, nginx cuts a quiet subscription once
    // the timeout has passed; a second one, opened when the first is cut, is cut in turn. By then
    // the subscription behind the pings has been quiet for twice the timeout.
    let mut cut_after = Vec::new();
    for round in 1..=2 {
        let (_cut_client, mut cut) = subscribed_through(&front_silent, "Q");
        let cut_since = Instant::now();
        let what = format!("subscription {round} behind the default keepalive");
        match live::next_update(&mut cut, TIMEOUT * 10, &what) {
            Err((code, message)) => {
                let after = cut_since.elapsed();
                eprintln!("{what}: nginx cut it, quiet, after {after:?}: {message}");
                assert_eq!(code, RpcStatusCode::INTERNAL, "{what}: {message}\n{}", front_silent.logs());
                assert!(
                    after >= TIMEOUT - Duration::from_millis(500),
                    "{what}: cut after {after:?}, before the timeout"
                );
                cut_after.push(after);
            }
            Ok(update) => panic!("{what}: an update, with nothing pushed: {update:?}"),
        }
    }
    assert!(front_silent.error_log().contains("upstream timed out"), "{}", front_silent.logs());

    // The other has been as quiet for as long, and is still open: the next bar reaches it.
    let quiet_for = kept_since.elapsed();
    assert!(quiet_for > cut_after[0] + cut_after[1], "quiet for only {quiet_for:?}");
    live::push(&pinging.client, "Q", &bars[40..], false).expect("the push, straight to the replica");
    let update = live::expect_update(&mut kept, "the subscription behind pings every second");
    assert_eq!(update.date, dates[40], "{update:?}");
    eprintln!("behind pings every second, the subscription quiet for {quiet_for:?} got the next bar");
    assert!(!front_pinging.error_log().contains("upstream timed out"), "{}", front_pinging.logs());
}
