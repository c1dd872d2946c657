//! The PostgreSQL harness itself (`tests/common/pg.rs`), before any test relies on it: a real
//! PostgreSQL 15 starts in a temporary directory, keeps committed rows across a clean stop and
//! start and across a SIGKILL (crash recovery), and two run at once on their own ports.
//!
//! PostgreSQL is a real dependency: missing, these tests fail with the `apt-get` line
//! (`scripts/test.sh` installs it as root).

mod common;

use std::net::TcpStream;

use common::pg::Postgres;

#[test]
fn rows_survive_a_stop_and_a_sigkill() {
    let mut pg = Postgres::start();
    let dir = pg.data_dir().parent().unwrap().to_path_buf();
    assert!(pg.url().starts_with("postgres://postgres@127.0.0.1:"), "{}", pg.url());
    assert!(pg.url().ends_with(&format!(":{}/postgres", pg.port())), "{}", pg.url());
    assert_eq!(pg.psql("SHOW server_version_num").get(..2), Some("15"), "PostgreSQL 15");
    assert_eq!(pg.psql("SHOW server_encoding"), "UTF8");
    assert_eq!(pg.psql("SHOW fsync"), "off");
    assert_eq!(pg.psql("SHOW listen_addresses"), "127.0.0.1");
    assert_eq!(pg.psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"), "t");

    pg.psql(
        "CREATE TABLE bars (symbol text, date date, close double precision, PRIMARY KEY (symbol, date));
         INSERT INTO bars VALUES ('SPX', '2024-01-02', 4742.83), ('贵州茅台', '2024-01-02', 1685.01);",
    );
    let rows = "SPX|2024-01-02|4742.83\n贵州茅台|2024-01-02|1685.01";
    assert_eq!(pg.psql("SELECT * FROM bars ORDER BY symbol"), rows);

    // A clean stop and a start on the same directory and port.
    let port = pg.port();
    pg.stop();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens on {port} once stopped");
    assert!(!pg.try_psql_on("postgres", "SELECT 1").status.success(), "psql fails while it is stopped");
    pg.start_again();
    assert_eq!(pg.port(), port);
    assert_eq!(pg.psql("SELECT * FROM bars ORDER BY symbol"), rows);

    // A committed row, then SIGKILL: no shutdown checkpoint, so the next start replays the WAL.
    pg.psql("INSERT INTO bars VALUES ('SPX', '2024-01-03', 4704.81)");
    let postmaster = pg.postmaster_pid();
    pg.kill();
    assert!(!pg.is_running());
    let state = std::fs::read_to_string(format!("/proc/{postmaster}/stat")).unwrap_or_default();
    assert!(state.is_empty() || state.contains(") Z "), "the postmaster {postmaster} is gone: {state}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens on {port} once killed");
    pg.start_again();
    assert!(pg.log().contains("automatic recovery in progress"), "a recovery after SIGKILL:\n{}", pg.log());
    assert_eq!(
        pg.psql("SELECT * FROM bars ORDER BY symbol, date"),
        "SPX|2024-01-02|4742.83\nSPX|2024-01-03|4704.81\n贵州茅台|2024-01-02|1685.01"
    );

    // A failing statement panics with psql's message (the harness's contract), and the server
    // serves on.
    let refused = pg.try_psql_on("postgres", "INSERT INTO bars VALUES ('SPX', '2024-01-03', 1)");
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("duplicate key"), "{}", refused.stderr);
    assert_eq!(pg.psql("SELECT count(*) FROM bars"), "3");

    drop(pg);
    assert!(!dir.exists(), "{} removed on drop", dir.display());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens on {port} once dropped");
}

#[test]
fn two_servers_at_once_and_a_database_each() {
    let a = Postgres::start();
    let b = Postgres::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    a.psql("CREATE TABLE t (who text); INSERT INTO t VALUES ('a')");
    b.psql("CREATE TABLE t (who text); INSERT INTO t VALUES ('b')");
    assert_eq!(a.psql("SELECT who FROM t"), "a");
    assert_eq!(b.psql("SELECT who FROM t"), "b");

    let url = a.create_database("idc");
    assert_eq!(url, format!("postgres://postgres@127.0.0.1:{}/idc", a.port()));
    a.psql_on("idc", "CREATE TABLE instruments (symbol text PRIMARY KEY, name text)");
    assert_eq!(a.psql_on("idc", "SELECT current_database(), count(*) FROM instruments"), "idc|0");
    assert_eq!(b.psql("SELECT count(*) FROM pg_database WHERE datname = 'idc'"), "0");
}
