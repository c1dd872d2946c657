//! nginx with the scale-out recipe (tests/nginx/idc.conf.template) in front of two replicas, as
//! docs/scale-out.md tells users to run it: on a loopback port of its own, in the foreground
//! under `timeout`, its files in a scratch folder; stopped on drop. tests/scale_out.rs and
//! tests/v2_postgres_faults.rs put it in front of their replicas.

use std::fs::File;
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, run, scratch, wait_for, write_file};

/// The recipe, as users copy it.
pub const TEMPLATE: &str = include_str!("../nginx/idc.conf.template");

/// How long the old workers may take to exit after a reload.
const SETTLE: Duration = Duration::from_secs(10);

const INSTALL: &str = "run scripts/install_nginx.sh (as root it runs `apt-get install -y \
                       --no-install-recommends nginx`; otherwise it prints that command), or set \
                       IDC_NGINX to an nginx built with HTTP/2 and gRPC proxying";

/// The nginx to run: `$IDC_NGINX`, else Debian's. Missing, or without gRPC proxying, fails the
/// test with the way to install it: the recipe is only tested if nginx really runs it.
pub fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("IDC_NGINX").map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from);
    let out = Command::new(&path)
        .arg("-V")
        .output()
        .unwrap_or_else(|e| panic!("no nginx at {} ({e}); {INSTALL}", path.display()));
    // `nginx -V` prints its build flags to stderr. The gRPC module is built whenever HTTP/2 is,
    // unless it is left out explicitly.
    let flags = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && flags.contains("--with-http_v2_module")
            && !flags.contains("--without-http_grpc_module"),
        "{} cannot proxy gRPC (`nginx -V` shows no HTTP/2 or no gRPC module):\n{flags}\n{INSTALL}",
        path.display()
    );
    path
}

/// nginx with the recipe in front of two replicas, on a loopback port of its own; stopped on drop.
pub struct Nginx {
    /// `timeout`, which runs nginx's master process and ends it if the test hangs.
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    /// The replicas' addresses, in the order of the recipe's `server` lines.
    replicas: [String; 2],
    /// Changes made to the recipe (`from`, `to`), for tests of one of its settings.
    edits: Vec<(String, String)>,
}

impl Nginx {
    /// nginx in front of the replicas at these addresses.
    pub fn start(replicas: [String; 2]) -> Nginx {
        Nginx::start_edited(replicas, &[])
    }

    /// nginx running the recipe with each `from` text (which must be there) replaced by `to`: a
    /// test that must see a setting take effect sooner than the recipe's value lets it (a timeout
    /// of seconds instead of a minute) changes that line alone.
    pub fn start_edited(replicas: [String; 2], edits: &[(&str, &str)]) -> Nginx {
        let edits: Vec<(String, String)> = edits.iter().map(|(from, to)| (from.to_string(), to.to_string())).collect();
        let nginx = nginx_binary();
        // A port picked by binding port 0 may be taken again before nginx binds it: then nginx
        // exits with "Address already in use", and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            let dir = scratch();
            write_file(dir.path(), "idc.conf", recipe(port, &replicas, None, &edits).as_bytes());
            write_file(dir.path(), "nginx.conf", main_config(dir.path()).as_bytes());

            let mut cmd = Command::new("timeout");
            // 120 s: far more than a test takes; SIGTERM (nginx's fast shutdown), then SIGKILL.
            cmd.args(["--kill-after=5", "120"]).arg(&nginx).args(nginx_args(dir.path()));
            cmd.args(["-g", "daemon off;"]);
            let log = |name: &str| File::create(dir.path().join(name)).unwrap();
            cmd.stdin(Stdio::null()).stdout(log("stdout.log")).stderr(log("stderr.log"));
            let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run timeout {}: {e}", nginx.display()));
            let mut started = Nginx { child, dir, port, replicas: replicas.clone(), edits: edits.clone() };
            match started.wait_until_listening() {
                Ok(()) => return started,
                Err(logs) if logs.contains("Address already in use") => continue,
                Err(logs) => panic!("nginx did not start:\n{logs}"),
            }
        }
        panic!("nginx found no free port in 5 tries");
    }

    /// Marks replica `index` `down` in the recipe and reloads nginx, as an operator takes a
    /// replica out of rotation before stopping it; returns once the workers that had the old
    /// configuration have exited, so that no call can reach that replica any more.
    pub fn take_out_and_reload(&self, index: usize) {
        let recipe = recipe(self.port, &self.replicas, Some(index), &self.edits);
        write_file(self.dir.path(), "idc.conf", recipe.as_bytes());
        let exited_before = self.error_log().matches("exited with code").count();
        let mut cmd = Command::new(nginx_binary());
        cmd.args(nginx_args(self.dir.path())).args(["-s", "reload"]);
        run(cmd).assert_success("nginx -s reload");
        // The master starts new workers and tells the old one to finish its calls and exit.
        wait_for("the old nginx worker to exit after the reload", SETTLE, || {
            self.error_log().matches("exited with code").count() > exited_before
        });
    }

    /// Waits (bounded) for nginx's pid file, which it writes once its port is bound, and for the
    /// port to accept; `Err(logs)` when nginx exited first.
    pub fn wait_until_listening(&mut self) -> Result<(), String> {
        let mut exited = None;
        let listening = super::poll_until(Duration::from_secs(20), || {
            exited = self.child.try_wait().unwrap();
            exited.is_some()
                || (self.dir.path().join("nginx.pid").exists() && TcpStream::connect(("127.0.0.1", self.port)).is_ok())
        });
        assert!(listening, "nginx did not listen within 20 s\n{}", self.logs());
        match exited {
            Some(status) => Err(format!("nginx exited ({status})\n{}", self.logs())),
            None => Ok(()),
        }
    }

    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    pub fn error_log(&self) -> String {
        self.read("error.log")
    }

    /// Everything nginx said, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- nginx error.log:\n{}--- nginx access.log:\n{}--- nginx stderr:\n{}",
            self.error_log(),
            self.read("access.log"),
            self.read("stderr.log")
        )
    }
}

impl Drop for Nginx {
    /// SIGTERM to nginx's master (through `timeout`, which passes it on), bounded; then SIGKILL
    /// to the master as well as to `timeout`, which would leave it running.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        super::poll_until(Duration::from_secs(10), || self.child.try_wait().ok().flatten().is_some());
        if self.child.try_wait().ok().flatten().is_none() {
            let master = self.read("nginx.pid");
            if !master.trim().is_empty() {
                let _ = Command::new("kill").args(["-KILL", master.trim()]).status();
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The recipe with real addresses: nginx on `port`, the replicas in order; replica `down` (if
/// any) marked `down`, as docs/scale-out.md says to take one out; `edits` made.
fn recipe(port: u16, replicas: &[String; 2], down: Option<usize>, edits: &[(String, String)]) -> String {
    let mut recipe = TEMPLATE
        .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
        .replace("@REPLICA_1@", &replicas[0])
        .replace("@REPLICA_2@", &replicas[1]);
    // Placeholders are @NAME@, in capitals (`@grpc_unavailable` is a named location).
    let between: Vec<&str> = recipe.split('@').collect();
    let left = between[1..between.len().saturating_sub(1)].iter().find(|name| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    });
    assert!(left.is_none(), "placeholder @{}@ of the template left:\n{recipe}", left.copied().unwrap_or_default());
    if let Some(index) = down {
        let line = format!("server {} max_fails=1 fail_timeout=10s;", replicas[index]);
        assert!(recipe.contains(&line), "no line {line:?} in the recipe:\n{recipe}");
        recipe = recipe.replace(&line, &format!("server {} down;", replicas[index]));
    }
    for (from, to) in edits {
        assert!(recipe.contains(from.as_str()), "no {from:?} in the recipe to change:\n{recipe}");
        recipe = recipe.replace(from.as_str(), to);
    }
    recipe
}

/// nginx's arguments for the instance in `dir`: -p, relative paths resolve there; -e, the error
/// log from the first line on (before the configuration names it), not /var/log/nginx.
fn nginx_args(dir: &Path) -> Vec<String> {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    ["-p", &path(""), "-e", &path("error.log"), "-c", &path("nginx.conf")].map(String::from).to_vec()
}

/// The frame around the recipe: what /etc/nginx/nginx.conf gives it on Debian, with every path
/// inside the test's folder.
fn main_config(dir: &Path) -> String {
    let dir = dir.to_str().unwrap();
    // As root, nginx's workers switch to `nobody`, who may not use the test's folder; they stay
    // root here instead (a test on loopback; Debian's own config runs them as www-data). As
    // another user nginx cannot switch, and the directive would only draw a warning.
    let running_as_root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let user = if running_as_root { "user root;\n" } else { "" };
    format!(
        "# Written by tests/common/nginx.rs around tests/nginx/idc.conf.template.
{user}# One worker: each worker keeps its own round-robin position and its own count of failed
# replicas, so with one the counts a test sees are exact.
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{
    worker_connections 256;
}}
http {{
    # A line per call: tests/proxy_flood.rs counts the calls of one client address that nginx
    # passed on to a replica (upstream) and the connections it opened for them (connect).
    log_format idc '$request $status upstream=$upstream_addr upstream_status=$upstream_status client=$remote_addr connect=$upstream_connect_time';
    access_log {dir}/access.log idc;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/idc.conf;
}}
"
    )
}
