//! Shared test plumbing: start servers (ours or the Python reference) on an ephemeral loopback
//! port, run clients with a time limit, and find the Python peers.
//!
//! Every process is bounded in time and killed when its guard drops, so a failing test never
//! leaves a server behind.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod live;
pub mod nginx;
pub mod pg;
pub mod pki;
pub mod replica;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print its start-up line.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
/// How long one client run may take.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn python_dir() -> PathBuf {
    repo_root().join("tests/python")
}

/// The Python interpreter of the project's venv (set up by `scripts/test.sh`).
///
/// The interop tests are the contract with existing Python clients, so a missing interpreter or
/// missing packages are a failure, never a skip.
pub fn python() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED.get_or_init(find_python).clone()
}

fn find_python() -> PathBuf {
    let python =
        std::env::var_os("IDC_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    let check = Command::new(&python).args(["-c", "import grpc, grpc_tools, google.protobuf"]).output();
    match check {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!(
            "the Python peer at {} lacks grpcio/grpcio-tools/protobuf ({}); run scripts/test.sh, \
             which installs tests/python/requirements.txt into .venv",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => {
            panic!("no Python interpreter at {} ({e}); run scripts/test.sh, which creates .venv", python.display())
        }
    }
}

/// A command for one of our binaries.
pub fn rust_bin(name: &str) -> Command {
    let path = match name {
        "idc_server" => env!("CARGO_BIN_EXE_idc_server"),
        "idc_client" => env!("CARGO_BIN_EXE_idc_client"),
        "idc_graph_client" => env!("CARGO_BIN_EXE_idc_graph_client"),
        other => panic!("no binary {other}"),
    };
    let mut cmd = Command::new(path);
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// A command for one of the Python peers in `tests/python/`.
pub fn python_script(script: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(python_dir().join(script));
    // Python's print() encodes with the locale's encoding; make it UTF-8 whatever the machine.
    cmd.env("PYTHONUTF8", "1");
    // Stubs go to one folder under target/ (written atomically by stubs.py), not to a temporary
    // folder per process that a killed peer would leave behind.
    cmd.env("IDC_PY_STUBS_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-stubs"));
    cmd
}

/// A running server, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `cmd` (which must be told to listen on 127.0.0.1 port 0) and waits for its
    /// `Server started, listening on PORT` line.
    pub fn start(cmd: Command) -> Server {
        match start_or_exit(cmd) {
            (Some(server), _) => server,
            (None, out) => panic!("the server exited instead of starting: {out:?}"),
        }
    }

    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends `signal` and waits (bounded) for the process to exit; returns its status and stderr.
    pub fn stop_with(mut self, signal: &str) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
        assert!(sent.success(), "kill -{signal} {pid} failed");
        let status = wait_bounded(&mut self.child, RUN_LIMIT)
            .unwrap_or_else(|| panic!("server did not exit within {RUN_LIMIT:?} of SIG{signal}"));
        let stderr = self.stderr.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        (status, stderr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most `limit`) for the process to exit by itself; returns its status and stderr.
    pub fn wait_exit(mut self, limit: Duration) -> (ExitStatus, String) {
        let status =
            wait_bounded(&mut self.child, limit).unwrap_or_else(|| panic!("server did not exit within {limit:?}"));
        let stderr = self.stderr.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        (status, stderr)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    /// SIGTERM first, so the server cleans up; SIGKILL if it has not exited within 5 s.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = wait_bounded(&mut self.child, Duration::from_secs(5));
    }
}

/// Starts a server and waits for its start-up line: `(Some(server), None)`. A server that exits
/// first is `(None, Some(what it printed))`; one that does neither in time fails the test.
pub fn start_or_exit(mut cmd: Command) -> (Option<Server>, Option<Output>) {
    let (description, mut child) = spawn_piped(&mut cmd);
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        // None: stdout closed without a line (the process is exiting).
        let _ = line_tx.send(lines.next().and_then(Result::ok));
        for _ in lines {} // keep draining so the server never blocks on a full pipe
    });
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        let _ = err_tx.send(text);
    });
    let line = match line_rx.recv_timeout(STARTUP_LIMIT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let err = err_rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
            panic!("{description} did not start within {STARTUP_LIMIT:?}; stderr:\n{err}");
        }
    };
    let Some(line) = line else {
        let status = wait_bounded(&mut child, RUN_LIMIT).unwrap_or_else(|| panic!("{description} hung"));
        let stderr = err_rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        return (None, Some(Output { status, stdout: Vec::new(), stderr }));
    };
    let port = line
        .strip_prefix("Server started, listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected start-up line from {description}: {line:?}"));
    (Some(Server { child, port, stderr: err_rx }), None)
}

pub fn rust_server(extra: &[&str]) -> Server {
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0"]).args(extra);
    Server::start(cmd)
}

pub fn python_server(extra: &[&str]) -> Server {
    let mut cmd = python_script("idc_server.py");
    cmd.args(["--host", "127.0.0.1", "--port", "0"]).args(extra);
    Server::start(cmd)
}

/// Starts `cmd` with no stdin and piped stdout and stderr; returns it with its description.
fn spawn_piped(cmd: &mut Command) -> (String, Child) {
    let description = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    (description, child)
}

/// Waits (at most `limit`) for `child` to exit; kills it and returns `None` if it does not.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    if poll_until(limit, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }) {
        return status;
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// What a finished client run printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("client stdout is UTF-8")
    }

    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(self.status.success(), "{what} failed ({}); stderr:\n{}", self.status, self.stderr);
        self
    }
}

/// Runs `cmd` to completion, killing it if it takes longer than [`RUN_LIMIT`].
pub fn run(mut cmd: Command) -> Output {
    let (description, child) = spawn_piped(&mut cmd);
    finish(&description, child)
}

/// Reads the stdout and stderr of `child` (spawned with both piped) to their ends while waiting,
/// bounded by [`RUN_LIMIT`], for it to exit.
pub fn finish(description: &str, mut child: Child) -> Output {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = String::new();
        let _ = stderr.read_to_string(&mut buf);
        buf
    });
    let status = wait_bounded(&mut child, RUN_LIMIT)
        .unwrap_or_else(|| panic!("{description} did not finish within {RUN_LIMIT:?}"));
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// A scratch directory, removed on drop.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("idc-test-").tempdir().unwrap()
}

/// Deterministic, incompressible-looking bytes for graph-file tests.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A complete server started in process from a library `Config`, on an ephemeral loopback port,
/// with its counters at hand. Stopped (gracefully, with the config's grace) when dropped.
pub struct InProcess {
    pub port: u16,
    pub metrics: std::sync::Arc<idc::metrics::Metrics>,
    pub metrics_address: Option<std::net::SocketAddr>,
    stop: Option<futures::channel::oneshot::Sender<()>>,
    done: Option<thread::JoinHandle<()>>,
    /// Opened when the server stops, so that a failed test never leaves work held.
    gate: Option<std::sync::Arc<idc::blocking::Gate>>,
}

impl InProcess {
    /// Starts `config` on 127.0.0.1 port 0, with no grace period unless the config sets one.
    pub fn start(config: idc::config::Config) -> InProcess {
        Self::start_gated(config, None)
    }

    /// [`start`](Self::start), with `gate` (if any) holding the server's blocking work at its
    /// place until the test opens it.
    pub fn start_gated(config: idc::config::Config, gate: Option<&std::sync::Arc<idc::blocking::Gate>>) -> InProcess {
        let mut config = config;
        (config.listen.host, config.listen.port) = ("127.0.0.1".into(), 0);
        let installed = gate.map(idc::blocking::install_gate);
        let running = idc::server::start(&config).expect("the server starts");
        drop(installed);
        let (port, metrics, metrics_address) =
            (running.port(), std::sync::Arc::clone(running.metrics()), running.metrics_address());
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let done = thread::spawn(move || {
            running.serve_until(async move {
                let _ = stopped.await;
            })
        });
        let gate = gate.cloned();
        InProcess { port, metrics, metrics_address, stop: Some(stop), done: Some(done), gate }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn target(&self) -> idc::client::Target {
        idc::client::Target::new(self.address(), Duration::from_secs(30))
    }

    /// Starts the shutdown, as SIGTERM would, and returns a handle that waits for its end.
    pub fn begin_shutdown(&mut self) -> thread::JoinHandle<()> {
        let _ = self.stop.take().expect("shut down once").send(());
        self.done.take().unwrap()
    }
}

impl InProcess {
    /// [`wait_for`] on this server's counters. When the condition never holds, the panic shows
    /// every counter as a scrape would, so that a failure says what the server did instead.
    pub fn wait_for_counters(
        &self,
        what: &str,
        limit: Duration,
        mut condition: impl FnMut(&idc::metrics::Metrics) -> bool,
    ) {
        if !poll_until(limit, || condition(&self.metrics)) {
            panic!("{what} did not happen within {limit:?}; the server's counters:\n{}", self.metrics.encode());
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(gate) = &self.gate {
            gate.open();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.join();
        }
    }
}

/// Waits until `condition` holds, checking every few milliseconds, for at most `limit`: for
/// events a test observes through counters. Panics with `what` when it never holds.
pub fn wait_for(what: &str, limit: Duration, condition: impl FnMut() -> bool) {
    assert!(poll_until(limit, condition), "{what} did not happen within {limit:?}");
}

/// How often [`poll_until`] looks: often enough that a wait ends within a few milliseconds of its
/// event, seldom enough that looking (a `/proc` read, a scrape) costs nothing to speak of.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Checks `condition` every few milliseconds until it holds or `limit` has passed; whether it
/// held. The one polling loop of the tests: [`wait_for`], [`wait_bounded`] and the waits of the
/// test files are this, so that none can forget its bound or spin without sleeping.
pub fn poll_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL_EVERY);
    }
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Open file descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// A loopback port that was free a moment ago, for a server that is told its port rather than
/// choosing one (`--metrics-addr`, nginx). Whoever binds it next may lose a race to another
/// process; a caller that cannot afford that retries.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One scrape of the `/metrics` endpoint at `address` (`HOST:PORT`): each sample's name with its
/// labels sorted by name (as `name{a="1",b="2"}`), and its value. `tests/metrics.rs` checks the
/// format with the reference parsers; the tests that count what a server did need the numbers.
pub fn scrape_metrics(address: &str) -> std::collections::BTreeMap<String, f64> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("metrics at {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("not HTTP: {answer:?}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
            let key = match key.split_once('{') {
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort();
                    format!("{name}{{{}}}", labels.join(","))
                }
                None => key.to_string(),
            };
            (key, value.parse().unwrap_or_else(|_| panic!("{line:?}")))
        })
        .collect()
}

/// A bearer-token file as an operator writes one: the token and a newline, readable by its owner
/// alone (the server warns about a token file that others can read).
pub fn token_file(dir: &Path, name: &str, token: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{token}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// A CSV of `count` valid daily bars, one per calendar day from `first_year`-01-01.
pub fn daily_bars_csv(first_year: u32, count: u32) -> String {
    let mut csv = String::from("date,open,high,low,close\n");
    let (mut year, mut month, mut day) = (first_year, 1u32, 1u32);
    for i in 0..count {
        let price = 100.0 + f64::from(i % 50);
        csv.push_str(&format!("{year:04}-{month:02}-{day:02},{price},{},{},{price}\n", price + 1.0, price - 1.0));
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
        day += 1;
        if day > days {
            (day, month) = (1, month + 1);
            if month > 12 {
                (month, year) = (1, year + 1);
            }
        }
    }
    csv
}

/// How soon a server must answer a health check after a hostile request (tests/v2_hostile.rs,
/// and the refusal tables of tests/v2_push.rs and tests/v2_formulas.rs).
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(1);

/// A health check (`grpc.health.v1`, the whole server) on a connection of its own, bounded by
/// `limit`: how long it took to answer SERVING, or what went wrong.
pub fn health_within(address: &str, limit: Duration) -> Result<Duration, String> {
    use idc::protocol::health::health_check_response::ServingStatus;
    let started = Instant::now();
    let option = grpcio::CallOption::default().timeout(limit);
    let client = idc::protocol::health_grpc::HealthClient::new(channel(address));
    match client.check_opt(&idc::protocol::health::HealthCheckRequest::new(), option) {
        Ok(reply) if reply.status.enum_value_or(ServingStatus::UNKNOWN) == ServingStatus::SERVING => {
            Ok(started.elapsed())
        }
        Ok(reply) => Err(format!("health answered {:?}", reply.status)),
        Err(e) => Err(format!("health check failed after {:?}: {e}", started.elapsed())),
    }
}

/// The server at `address` answers a health check with SERVING within [`HEALTHY_WITHIN`] after
/// `case`.
pub fn assert_healthy_after(address: &str, case: &str) {
    if let Err(e) = health_within(address, HEALTHY_WITHIN) {
        panic!("after {case}: {e}");
    }
}

/// A channel of its own to `address` (`HOST:PORT`), on one completion queue. A new channel is a
/// new connection, as a test that watches the server stop taking calls needs.
pub fn channel(address: &str) -> grpcio::Channel {
    let env = std::sync::Arc::new(grpcio::EnvBuilder::new().cq_count(1).build());
    grpcio::ChannelBuilder::new(env).connect(address)
}
