//! A real PostgreSQL 15 server for a test: `initdb` into a fresh temporary directory, `pg_ctl start`
//! on an ephemeral loopback port, stopped and removed when dropped.
//!
//! The binaries are Debian's (`postgresql-15`, which `scripts/test.sh` installs as root): the
//! directory `pg_config --bindir` names, else `/usr/lib/postgresql/15/bin`, else `PATH`. Missing,
//! they fail the test with the line that installs them: a database test never skips.
//!
//! PostgreSQL refuses to run as root, so when the test runs as root (CI does) `initdb`, `pg_ctl` and
//! the server run as the `postgres` OS user (`runuser -u postgres --`), in a directory under `/tmp`
//! of mode 0700 that user owns. `psql` runs as the test's own user, over TCP.
//!
//! The cluster: superuser `postgres`, `trust` authentication for local and loopback connections,
//! UTF8 with the C locale, `fsync=off`; listening on 127.0.0.1 only, with its Unix socket in the
//! temporary directory. Every wait is bounded (`pg_ctl -w -t 30`, and each command at most
//! [`RUN_LIMIT`](super::RUN_LIMIT)).
//!
//! ```ignore
//! let pg = Postgres::start();
//! pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
//! assert_eq!(pg.psql("SELECT x FROM t"), "1");
//! let url = pg.create_database("idc"); // postgres://postgres@127.0.0.1:PORT/idc
//! ```

use std::ffi::CString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use super::{poll_until, Output};

/// What installs the binaries, in every message about them missing.
pub const INSTALL: &str = "PostgreSQL 15 is needed: run scripts/install_postgres.sh (which scripts/test.sh runs) \
                           as root, or `apt-get update && apt-get install -y postgresql-15`";

/// `pg_ctl -w -t` (seconds): how long a start or stop may take.
const PG_CTL_WAIT: &str = "30";
/// How many ports a start tries when the one picked is taken meanwhile.
const PORT_TRIES: usize = 5;
/// How long [`Postgres::kill`] waits for the killed processes to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// A PostgreSQL server of its own; stopped (and its directory removed) on drop.
pub struct Postgres {
    /// `/tmp/idc-pg-XXXXXX`: `data/` (the cluster), `sock/` (the Unix socket), `postgres.log`.
    dir: tempfile::TempDir,
    port: u16,
    running: bool,
}

impl Postgres {
    /// `initdb` into a fresh temporary directory, then starts the server on a free loopback port
    /// (another port is tried if the one picked is taken before the server binds it). Panics,
    /// saying why, when PostgreSQL is missing or does not start.
    pub fn start() -> Postgres {
        let bin = bindir(); // first: a missing PostgreSQL fails before anything is made
        let owner = server_user();
        let dir = tempfile::Builder::new().prefix("idc-pg-").tempdir_in("/tmp").expect("a directory under /tmp");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir(dir.path().join("sock")).unwrap();
        if let Some(user) = &owner {
            for path in [dir.path().to_path_buf(), dir.path().join("sock")] {
                std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))
                    .unwrap_or_else(|e| panic!("cannot chown {} to postgres: {e}", path.display()));
            }
        }
        let data = dir.path().join("data");
        let mut initdb = server_command(dir.path(), &bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]);
        super::run(initdb).assert_success("initdb");

        let mut pg = Postgres { dir, port: 0, running: false };
        for _ in 0..PORT_TRIES {
            pg.port = free_port();
            match pg.try_start() {
                Ok(()) => return pg,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("PostgreSQL did not start on port {}; its log:\n{log}", pg.port),
            }
        }
        panic!("PostgreSQL found no free port in {PORT_TRIES} tries; its log:\n{}", pg.log());
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`: the superuser on the default database.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`, whether or not it exists.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates database `name` (owned by `postgres`) and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql(&format!("CREATE DATABASE {}", quote_ident(name)));
        self.url_of(name)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory of the server's Unix socket (`.s.PGSQL.PORT`).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// Everything the server has logged since `initdb` (every start, stop and recovery).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the server is running, as far as this handle knows (started and not stopped or
    /// killed through it).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Runs `sql` (one or more statements) on database `postgres` as the superuser; see
    /// [`psql_on`](Self::psql_on).
    pub fn psql(&self, sql: &str) -> String {
        self.psql_on("postgres", sql)
    }

    /// Runs `sql` on `database` with `psql -X -A -t -v ON_ERROR_STOP=1` over TCP, the statements
    /// read from stdin: each result's rows, one a line, columns separated by `|`, no header, with
    /// the final newline taken off. Panics with psql's stderr when a statement fails or psql cannot
    /// connect.
    pub fn psql_on(&self, database: &str, sql: &str) -> String {
        let out = self.try_psql_on(database, sql);
        out.assert_success(&format!("psql on port {} ({sql:?})", self.port));
        let text = String::from_utf8(out.stdout).expect("psql prints UTF-8");
        text.strip_suffix('\n').map(str::to_owned).unwrap_or(text)
    }

    /// [`psql_on`](Self::psql_on) without the panic: for SQL that is meant to fail, or a server
    /// that may be down.
    pub fn try_psql_on(&self, database: &str, sql: &str) -> Output {
        let mut cmd = Command::new(bindir().join("psql"));
        cmd.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"]).arg(self.url_of(database));
        for var in ["PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE", "PGOPTIONS"] {
            cmd.env_remove(var);
        }
        cmd.env("PGCONNECT_TIMEOUT", "10");
        run_with_stdin(cmd, sql.as_bytes())
    }

    /// `pg_ctl stop -m fast`: the server ends its sessions, checkpoints and exits.
    pub fn stop(&mut self) {
        assert!(self.running, "stop: PostgreSQL on port {} is not running", self.port);
        let out = self.pg_ctl(&["stop", "-m", "fast"]);
        self.running = false;
        out.assert_success(&format!("pg_ctl stop (log:\n{})", self.log()));
    }

    /// Starts the server again on the same data directory and port (after [`stop`](Self::stop) or
    /// [`kill`](Self::kill); after a kill the server recovers from its WAL first). Panics when it
    /// does not start, the port taken by someone else meanwhile included.
    pub fn start_again(&mut self) {
        assert!(!self.running, "start_again: PostgreSQL on port {} is running", self.port);
        if let Err(log) = self.try_start() {
            panic!("PostgreSQL did not start again on port {}; its log:\n{log}", self.port);
        }
    }

    /// Kills the server with SIGKILL, as a crash would: the postmaster and every process it had
    /// started (stopped with SIGSTOP first, so that it forks no more), then waits (bounded) until
    /// they are all gone. Nothing is shut down cleanly: the next [`start_again`](Self::start_again)
    /// runs crash recovery. The stale lock files (`postmaster.pid`, the socket's `.lock`) are removed
    /// once the processes are gone: the killed postmaster may linger as a zombie where nothing
    /// reaps it (a container's init), and a start would take it for a running server.
    pub fn kill(&mut self) {
        assert!(self.running, "kill: PostgreSQL on port {} is not running", self.port);
        let pid = self.postmaster_pid();
        if let Err(victims) = self.kill_all(pid) {
            panic!("PostgreSQL's processes {victims:?} outlived SIGKILL by {KILL_WAIT:?}");
        }
    }

    /// [`kill`](Self::kill) without the panic: `Err(the pids still there)` after [`KILL_WAIT`].
    fn kill_all(&mut self, pid: i32) -> Result<(), Vec<i32>> {
        signal(pid, libc::SIGSTOP);
        let mut victims = children_of(pid);
        victims.push(pid);
        for &victim in &victims {
            signal(victim, libc::SIGKILL);
        }
        self.running = false;
        if !poll_until(KILL_WAIT, || victims.iter().all(|&p| !alive(p))) {
            return Err(victims.into_iter().filter(|&p| alive(p)).collect());
        }
        // The lock files name the killed postmaster, which a start takes for alive while it is a
        // zombie; with every process gone they are stale.
        let _ = std::fs::remove_file(self.data_dir().join("postmaster.pid"));
        for entry in std::fs::read_dir(self.socket_dir()).into_iter().flatten().flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(())
    }

    /// The postmaster's process id, from the first line of `postmaster.pid`.
    pub fn postmaster_pid(&self) -> i32 {
        let path = self.data_dir().join("postmaster.pid");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        text.lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("no pid in {text:?}"))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// `pg_ctl start -w` on `self.port`; `Err(what the server logged)` when it did not start.
    fn try_start(&mut self) -> Result<(), String> {
        let before = self.log().len();
        let options = format!(
            "-p {} -k {} -h 127.0.0.1 -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.socket_dir().display()
        );
        let log = self.log_path();
        let out = self.pg_ctl(&["start", "-o", &options, "-l", log.to_str().unwrap()]);
        if out.status.success() {
            self.running = true;
            return Ok(());
        }
        // A server that failed may still be half up (pg_ctl gave up waiting): make sure it is not.
        let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        let text = self.log();
        Err(format!("{}\npg_ctl: {}", text.get(before..).unwrap_or(&text), out.stderr.trim()))
    }

    /// Runs `pg_ctl -D DATA -w -t 30 ARGS` as the server's user.
    fn pg_ctl(&self, args: &[&str]) -> Output {
        let mut cmd = server_command(self.dir.path(), &bindir().join("pg_ctl"));
        cmd.arg("-D").arg(self.data_dir()).args(["-w", "-t", PG_CTL_WAIT]).args(args);
        super::run(cmd)
    }
}

impl Drop for Postgres {
    /// Stops the server (SIGKILL if a fast stop fails); the temporary directory goes with `dir`.
    fn drop(&mut self) {
        if !self.running {
            return;
        }
        let stopped = self.pg_ctl(&["stop", "-m", "fast"]).status.success();
        let pid = std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok());
        if let (false, Some(pid)) = (stopped, pid) {
            let _ = self.kill_all(pid); // no panic in a drop, which may run during one
        }
        self.running = false;
    }
}

/// The directory of `initdb`, `pg_ctl`, `postgres` and `psql`. Panics with [`INSTALL`] when there
/// is none.
pub fn bindir() -> PathBuf {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(find_bindir).clone()
}

fn find_bindir() -> PathBuf {
    let has_all = |dir: &Path| ["initdb", "pg_ctl", "postgres", "psql"].iter().all(|b| dir.join(b).is_file());
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    candidates.push(PathBuf::from("/usr/lib/postgresql/15/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        // Debian's /usr/bin/psql is a wrapper without initdb beside it, so a PATH entry counts
        // only when it has all four.
        candidates.extend(std::env::split_paths(&path));
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let found = candidates.into_iter().find(|dir| has_all(dir)).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL binaries (initdb, pg_ctl, postgres, psql) in `pg_config --bindir`, \
             /usr/lib/postgresql/15/bin or PATH{}; {INSTALL}",
            if ci { " (CI=true: the CI image must install postgresql-15)" } else { "" }
        )
    });
    let version = Command::new(found.join("postgres")).arg("--version").output();
    match version {
        Ok(out) if out.status.success() => found,
        Ok(out) => {
            panic!("{}/postgres --version failed: {}; {INSTALL}", found.display(), String::from_utf8_lossy(&out.stderr))
        }
        Err(e) => panic!("cannot run {}/postgres: {e}; {INSTALL}", found.display()),
    }
}

/// The OS user the server runs as when the test runs as root; `None` when it runs as the test's
/// own user.
struct ServerUser {
    uid: u32,
    gid: u32,
}

fn server_user() -> Option<ServerUser> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = CString::new("postgres").unwrap();
    // SAFETY: a valid C string; the record is read at once, before any other getpw* call here.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !entry.is_null(),
        "running as root, PostgreSQL must run as the `postgres` OS user, and there is none; the \
         Debian package creates it: {INSTALL}"
    );
    // SAFETY: non-null, as checked.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Some(ServerUser { uid, gid })
}

/// A command running `program` as the server's user (through `runuser` when the test is root),
/// from `dir` (which that user can enter, unlike perhaps the test's working directory).
fn server_command(dir: &Path, program: &Path) -> Command {
    let mut cmd = if server_user().is_some() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    cmd.current_dir(dir).env("LC_ALL", "C").env_remove("PGDATA").env_remove("PGPORT");
    cmd
}

/// A loopback port that was free a moment ago (the server may still lose it to someone else:
/// [`Postgres::start`] then tries another).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().unwrap().port()
}

/// `"name"`, with any `"` doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn signal(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions. A process already gone is fine here.
    unsafe { libc::kill(pid, signal) };
}

/// Whether `pid` is a process that has not exited (a zombie has: it holds nothing any more).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// The processes whose parent is `pid`, from `/proc`.
fn children_of(pid: i32) -> Vec<i32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok());
        if ppid == Some(pid) {
            children.push(child);
        }
    }
    children
}

/// [`run`](super::run) with `input` on the command's stdin.
fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    let description = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}; {INSTALL}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input); // psql stopping early (ON_ERROR_STOP) closes the pipe
    });
    let output = super::finish(&description, child);
    let _ = writer.join();
    output
}
