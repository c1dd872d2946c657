//! PostgreSQL as the catalog several replicas share (`--data postgres://...`), against a real
//! PostgreSQL 15 started for the test (tests/common/pg.rs): a push to replica A is served by
//! `Compute` on replica B and reaches a subscriber on B; a restarted replica serves every
//! committed bar; an ETL job's `INSERT` and `idc_bars_changed` reach both; values from the
//! database equal those from the same bars as files (`idc_server import`), also when the role may
//! hold one connection and start-up's extra ones are refused; and a database that
//! goes away leaves reads serving from memory, refuses pushes with `UNAVAILABLE`, flips the
//! `idc.v2.store` health, and catches up with what happened meanwhile when it is back.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::live::{self, PUSH_TOKEN};
use common::pg::Postgres;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;
use protobuf::Message;

struct Replica {
    server: common::Server,
    client: IndicatorsClient,
}

fn replica(url: &str, token: &Path) -> Replica {
    let server = live::start_server(Path::new(url), Some(token), &["--drain-delay", "0"]);
    let client = IndicatorsClient::new(common::channel(&server.target()));
    Replica { server, client }
}

/// `idc_server import` of the files in `data` into the database `url`.
fn import(data: &Path, url: &str, what: &str) {
    let mut import = common::rust_bin("idc_server");
    import.args(["import", "--data", data.to_str().unwrap(), "--into", url]);
    common::run(import).assert_success(what);
}

/// Each series' bytes, to compare: a NaN of the warm-up equals itself only so.
fn bytes(series: Vec<pb::Series>) -> Vec<Vec<u8>> {
    series.iter().map(|s| s.write_to_bytes().unwrap()).collect()
}

/// A role `name` that logs in with `options` (as `CREATE ROLE` takes them) and holds
/// docs/postgres.md's grants for replicas, and nothing more.
fn replica_role(db: &Postgres, name: &str, options: &str) {
    db.psql_on(
        "idc",
        &format!(
            "CREATE ROLE {name} LOGIN {options}; GRANT CONNECT ON DATABASE idc TO {name}; \
             GRANT USAGE ON SCHEMA public TO {name}; \
             GRANT SELECT, INSERT, UPDATE ON instruments, bars, idc_schema TO {name}; \
             GRANT EXECUTE ON FUNCTION idc_bars_changed(text) TO {name};"
        ),
    );
}

/// Waits (bounded) until `symbol` on `client` has `bars` bars, and returns its series.
fn served(client: &IndicatorsClient, symbol: &str, bars: usize, limit: Duration) -> pb::Series {
    let mut found = None;
    common::wait_for(&format!("{symbol} with {bars} bars"), limit, || {
        found = live::history(client, symbol).filter(|s| s.date.len() == bars);
        found.is_some()
    });
    found.expect("waited for")
}

/// Waits (bounded) until `service`'s health on `target` is `status` (1 SERVING, 2 NOT_SERVING).
fn health_becomes(target: &str, service: &str, status: i32, what: &str) {
    common::wait_for(what, Duration::from_secs(20), || health(target, service) == status);
}

fn health(target: &str, service: &str) -> i32 {
    let client = idc::protocol::health_grpc::HealthClient::new(common::channel(target));
    let request = idc::protocol::health::HealthCheckRequest { service: service.into(), ..Default::default() };
    client.check(&request).map(|r| r.status.value()).unwrap_or(-1)
}

#[test]
fn two_replicas_share_one_database() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let a = replica(&url, &token);
    let b = replica(&url, &token);
    let dates = live::weekdays("2024-01-02", 40);
    let bars = live::walk(&dates, 7);
    live::push(&a.client, "600519.SH", &bars[..30], false).expect("the push to A");
    let on_b = served(&b.client, "600519.SH", 30, Duration::from_secs(2));
    live::assert_history(&b.client, "600519.SH", &bars[..30], "B after the push to A");
    assert_eq!(on_b.symbol, "600519.SH");

    // A subscriber on B hears a push made to A, with the values Compute gives on B.
    let subscription = live::subscription(&["600519.SH"], vec![live::spec("MACD", &[]), live::spec("RSI", &[6.0])]);
    let mut stream = live::subscribe(&b.client, &subscription);
    let snapshot = live::expect_update(&mut stream, "the snapshot on B");
    assert!(snapshot.snapshot);
    assert_eq!(snapshot.date, dates[29]);
    let sent = Instant::now();
    live::push(&a.client, "600519.SH", &bars[30..31], false).expect("a second push to A");
    let update = live::expect_update(&mut stream, "the update on B");
    assert!(sent.elapsed() < Duration::from_secs(1), "B's subscriber heard A's push after {:?}", sent.elapsed());
    assert_eq!(update.date, dates[30]);
    let series = live::computed(&b.client, &subscription, "600519.SH");
    live::assert_update_is_row(&update, &series, "B's update");

    // An ETL job writes a row and says so: both replicas serve it, and a subscriber on each hears it.
    let mut on_a = live::subscribe(&a.client, &subscription);
    assert!(live::expect_update(&mut on_a, "the snapshot on A").snapshot);
    let etl = &bars[31];
    db.psql_on(
        "idc",
        &format!(
            "INSERT INTO bars (symbol, date, open, high, low, close, volume) VALUES ('600519.SH', '{}', {}, {}, {}, {}, {}); \
             SELECT idc_bars_changed('600519.SH');",
            etl.date, etl.open, etl.high, etl.low, etl.close, etl.volume
        ),
    );
    let update = live::expect_update(&mut stream, "the ETL row on B");
    assert_eq!(update.date, dates[31]);
    let update = live::expect_update(&mut on_a, "the ETL row on A");
    assert_eq!(update.date, dates[31]);
    live::assert_update_is_row(&update, &live::computed(&a.client, &subscription, "600519.SH"), "A's ETL update");
    drop(on_a);
    served(&a.client, "600519.SH", 32, Duration::from_secs(2));
    served(&b.client, "600519.SH", 32, Duration::from_secs(2));

    // A replica restarted serves every committed bar.
    drop(stream);
    let (status, _) = a.server.stop_with("TERM");
    assert!(status.success(), "A stops cleanly");
    let a = replica(&url, &token);
    let expected: Vec<pb::Bar> = bars[..32].to_vec();
    live::assert_history(&a.client, "600519.SH", &expected, "A after its restart");
    drop(b);
}

#[test]
fn a_database_that_goes_away_and_comes_back() {
    let mut db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let a = replica(&url, &token);
    let b = replica(&url, &token);
    let dates = live::weekdays("2024-01-02", 30);
    let bars = live::walk(&dates, 11);
    live::push(&a.client, "X", &bars[..20], false).expect("the first push");
    served(&b.client, "X", 20, Duration::from_secs(2));
    assert_eq!(health(&a.server.target(), "idc.v2.store"), 1, "the store serves");

    db.stop();
    // Reads go on from memory; pushes are refused, with nothing half-written.
    live::assert_history(&a.client, "X", &bars[..20], "A while the database is down");
    let refused = live::push(&a.client, "X", &bars[20..21], false).expect_err("a push with the database down");
    assert_eq!(refused.0, grpcio::RpcStatusCode::UNAVAILABLE, "{}", refused.1);
    assert!(refused.1.contains("the database is unreachable"), "{}", refused.1);
    health_becomes(&b.server.target(), "idc.v2.store", 2, "B's store health saying NOT_SERVING");
    assert_eq!(health(&b.server.target(), ""), 1, "the server as a whole still serves reads");

    db.start_again();
    health_becomes(&b.server.target(), "idc.v2.store", 1, "B's store health coming back");
    // A change with no notification (as one made while B was away would be, for B): B hears of
    // it only by comparing revisions when its connection is made again, here by ending it.
    db.psql_on(
        "idc",
        &format!(
            "INSERT INTO bars (symbol, date, open, high, low, close, volume) VALUES ('X', '{}', {}, {}, {}, {}, {}); \
             UPDATE instruments SET revision = revision + 1 WHERE symbol = 'X';",
            bars[20].date, bars[20].open, bars[20].high, bars[20].low, bars[20].close, bars[20].volume
        ),
    );
    let ended = db.psql_on(
        "idc",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'idc listen'",
    );
    assert_eq!(ended, "2", "both replicas' listening connections end");
    served(&b.client, "X", 21, Duration::from_secs(20));
    served(&a.client, "X", 21, Duration::from_secs(20));
    common::wait_for("pushes resuming", Duration::from_secs(20), || {
        live::push(&a.client, "X", &bars[21..22], false).is_ok()
    });
    served(&b.client, "X", 22, Duration::from_secs(2));
    assert_eq!(health(&b.server.target(), "idc.v2.store"), 1, "B's store serves again");
}

#[test]
fn values_from_the_database_equal_those_from_the_files() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let data = scratch.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let dates = live::weekdays("2020-01-02", 600);
    let mut bars = live::walk(&dates, 3);
    for (i, bar) in bars.iter_mut().enumerate() {
        bar.adj_factor = if i < 300 { 1.0 } else { 1.25 };
    }
    std::fs::write(data.join("AAA.csv"), live::csv_text(&bars, true)).unwrap();
    std::fs::write(data.join("BBB.csv"), live::csv_text(&live::walk(&dates, 4), false)).unwrap();
    // A long history, from before 1970 (dates travel as days since then) to after it.
    let long = live::weekdays("1800-01-01", 60_000);
    std::fs::write(data.join("CCC.csv"), live::csv_text(&live::walk(&long, 5), false)).unwrap();
    for round in 0..2 {
        import(&data, &url, &format!("idc_server import, round {round}"));
    }
    assert_eq!(db.psql_on("idc", "SELECT count(*) FROM bars"), "61200", "importing twice changes nothing");
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let from_db = replica(&url, &token);
    let from_files = replica(data.to_str().unwrap(), &token);
    let request = pb::ComputeRequest {
        indicators: vec![live::spec("MACD", &[]), live::spec("KDJ", &[]), live::spec("BOLL", &[])],
        adjust: pb::Adjust::FORWARD.into(),
        symbols: vec!["AAA".into()],
        ..Default::default()
    };
    let a = bytes(live::compute(&from_db.client, &request).unwrap());
    let b = bytes(live::compute(&from_files.client, &request).unwrap());
    assert!(a == b, "the same series from the database and from the files");
    let all = pb::ComputeRequest { indicators: vec![live::spec("RSI", &[])], ..Default::default() };
    let (a, b) = (live::compute(&from_db.client, &all).unwrap(), live::compute(&from_files.client, &all).unwrap());
    assert_eq!(a.len(), 3);
    assert!(bytes(a) == bytes(b), "every instrument the same");
}

#[test]
fn tls_to_the_database_is_verified_as_asked() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let ca = common::pki::Ca::new(scratch.path(), "db-ca");
    let identity = ca.server(scratch.path(), "db");
    // The server's key must be the postgres user's own, and private.
    let (cert, key) = (db.data_dir().join("server.crt"), db.data_dir().join("server.key"));
    std::fs::copy(&identity.cert, &cert).unwrap();
    std::fs::copy(&identity.key, &key).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    if unsafe { libc::geteuid() } == 0 {
        let chown = std::process::Command::new("chown").args(["postgres"]).arg(&cert).arg(&key).status().unwrap();
        assert!(chown.success());
    }
    db.psql("ALTER SYSTEM SET ssl = on; SELECT pg_reload_conf();");
    common::wait_for("the test database turning TLS on", Duration::from_secs(10), || db.psql("SHOW ssl") == "on");
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);

    // verify-full against the right CA: served, over TLS.
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.cert.display());
    let a = replica(&verified, &token);
    live::push(&a.client, "T", &live::walk(&live::weekdays("2024-01-02", 3), 5), false).expect("a push over TLS");
    let encrypted = db.psql(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name LIKE 'idc%' AND s.ssl",
    );
    assert_eq!(encrypted, "2", "both of the replica's connections are TLS");

    // Another CA: refused at start-up, saying why, not retried forever.
    let other = common::pki::Ca::new(scratch.path(), "other-ca");
    let mismatched = format!("{url}?sslmode=verify-full&sslrootcert={}", other.cert.display());
    let mut cmd = common::rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--data", &mismatched]);
    let (server, exited) = common::start_or_exit(cmd);
    assert!(server.is_none(), "a server that cannot verify the database's certificate does not start");
    let stderr = exited.unwrap().stderr;
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    assert!(!stderr.contains(&format!("{}", ca.cert.display())) || stderr.len() < 2000, "{stderr}");

    // verify-full needs a CA; an unknown sslmode is named.
    for (bad, says) in [("?sslmode=verify-full", "need sslrootcert"), ("?sslmode=sometimes", "sslmode=sometimes")] {
        let mut cmd = common::rust_bin("idc_server");
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--data", &format!("{url}{bad}")]);
        let (server, exited) = common::start_or_exit(cmd);
        assert!(server.is_none(), "{bad}");
        let stderr = exited.unwrap().stderr;
        assert!(stderr.contains(says), "{bad}: {stderr}");
    }
}

#[test]
fn replicas_run_with_the_documented_grants_and_a_bare_notify_is_served() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    // The owner's replica makes the tables once.
    let owner = replica(&url, &token);
    let dates = live::weekdays("2024-01-02", 12);
    let bars = live::walk(&dates, 21);
    live::push(&owner.client, "X", &bars[..10], false).expect("the owner's push");
    // docs/postgres.md's grants, and nothing more.
    replica_role(&db, "idc", "");
    let limited_url = format!("postgres://idc@127.0.0.1:{}/idc", db.port());
    let limited = replica(&limited_url, &token);
    live::assert_history(&limited.client, "X", &bars[..10], "the limited role's replica");
    live::push(&limited.client, "X", &bars[10..11], false).expect("a push by the limited role");
    served(&owner.client, "X", 11, Duration::from_secs(2));

    // An ETL row announced by a bare NOTIFY (no revision bump) is served by both.
    let etl = &bars[11];
    db.psql_on(
        "idc",
        &format!(
            "INSERT INTO bars (symbol, date, open, high, low, close, volume) VALUES ('X', '{}', {}, {}, {}, {}, {}); \
             NOTIFY idc_bars, 'X';",
            etl.date, etl.open, etl.high, etl.low, etl.close, etl.volume
        ),
    );
    served(&owner.client, "X", 12, Duration::from_secs(2));
    served(&limited.client, "X", 12, Duration::from_secs(2));
}

/// Start-up reads the catalog in parts, one connection each (src/pg/load.rs); a role that may
/// hold one connection has every extra one refused, and each such part is read on the first
/// connection instead: the catalog is whole, the same as the files', and the log says so.
#[test]
fn a_role_allowed_one_connection_still_reads_the_whole_catalog() {
    let db = Postgres::start();
    let url = db.create_database("idc");
    let scratch = common::scratch();
    let data = scratch.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let dates = live::weekdays("2021-01-04", 300);
    for (k, symbol) in ["A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2"].iter().enumerate() {
        std::fs::write(data.join(format!("{symbol}.csv")), live::csv_text(&live::walk(&dates, 40 + k as u64), false))
            .unwrap();
    }
    import(&data, &url, "idc_server import");
    replica_role(&db, "idc_one", "CONNECTION LIMIT 1");
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    let one_url = format!("postgres://idc_one@127.0.0.1:{}/idc", db.port());
    let from_db = replica(&one_url, &token);
    let from_files = replica(data.to_str().unwrap(), &token);
    let all =
        pb::ComputeRequest { indicators: vec![live::spec("MACD", &[]), live::spec("WR", &[])], ..Default::default() };
    let (a, b) = (live::compute(&from_db.client, &all).unwrap(), live::compute(&from_files.client, &all).unwrap());
    assert_eq!(a.len(), 8, "every instrument");
    assert!(bytes(a) == bytes(b), "the catalog read on one connection is the files'");
    let (status, stderr) = from_db.server.stop_with("TERM");
    assert!(status.success(), "{stderr}");
    // One part a core, at most four: a machine of one core reads in one part and refuses none.
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let fell_back = stderr.matches("reading it on the first connection").count();
    assert_eq!(fell_back, parts - 1, "each extra part read on the first connection: {stderr}");
    if parts > 1 {
        assert!(stderr.contains("too many connections for role"), "PostgreSQL's refusal is shown: {stderr}");
    }
}

#[test]
fn the_database_password_is_never_logged() {
    let db = Postgres::start();
    db.create_database("idc");
    let scratch = common::scratch();
    let token = common::token_file(scratch.path(), "push.token", PUSH_TOKEN);
    // The test database trusts loopback, so any password gets in: what matters is where it shows.
    let url = format!("postgres://postgres:s3cret-in-url@127.0.0.1:{}/idc", db.port());
    let password_file = scratch.path().join("pg.password");
    std::fs::write(&password_file, "s3cret-in-file\n").unwrap();
    let mut cmd = common::rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--data", &url, "--drain-delay", "0"])
        .arg("--pg-password-file")
        .arg(&password_file)
        .arg("--push-token-file")
        .arg(&token)
        // Every line the server can write, so that the check sees them all.
        .env("RUST_LOG", "debug");
    let server = common::Server::start(cmd);
    let client = IndicatorsClient::new(common::channel(&server.target()));
    live::push(&client, "P", &live::walk(&live::weekdays("2024-01-02", 2), 9), false).expect("a push");
    let (status, stderr) = server.stop_with("TERM");
    assert!(status.success());
    assert!(stderr.contains("postgres://postgres:***@127.0.0.1"), "the URL is shown, redacted: {stderr}");
    assert!(!stderr.contains("s3cret"), "a password in the log: {stderr}");
}

#[test]
fn health_says_not_serving_until_the_catalog_is_loaded() {
    let mut db = Postgres::start();
    let url = db.create_database("idc");
    db.stop();
    let port = common::free_port();
    let target = format!("127.0.0.1:{port}");
    let mut cmd = common::rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--data", &url, "--drain-delay", "0"]);
    // Server::start waits for the start-up line, which comes once the catalog is loaded.
    let starting = std::thread::spawn(move || common::Server::start(cmd));
    health_becomes(&target, "", 2, "NOT_SERVING while the database is down");
    assert_eq!(health(&target, "idc.v2.store"), 2);
    db.start_again();
    let server = starting.join().expect("the server starts once the database answers");
    assert_eq!(server.port, port, "the real server took the placeholder's port");
    assert_eq!(health(&target, ""), 1, "serving once loaded");
    assert_eq!(health(&target, "idc.v2.store"), 1);
    let client = IndicatorsClient::new(common::channel(&target));
    let listed = client.list_instruments(&pb::ListInstrumentsRequest::default()).expect("ListInstruments answers");
    assert!(listed.instruments.is_empty());
}
