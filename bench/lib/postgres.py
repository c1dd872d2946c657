"""The postgres section: start-up from a PostgreSQL catalog against the file catalog of the same
bars (issue 23: start-up loads every instrument with `COPY ... TO STDOUT`, as fast as the file
catalog within 2×; since issue 24, in one part a core).

A temporary PostgreSQL 15 (initdb into a directory under /tmp, pg_ctl on a free loopback port,
fsync=off; as the `postgres` OS user when the bench runs as root, as tests/common/pg.rs does) is
started, a generated catalog (memory.py's seeded random-walk files: 2,000 instruments × 2,500 daily
bars, 5,000,000 bars; 20 × 250 in the smoke run) is loaded into it with `idc_server import` (timed),
and `idc_server --data DIR` and `idc_server --data postgres://...` are started in turn, alternating
which goes first, each timed from spawn to its `Server started` line and checked to list every bar;
RSS is read once it has. The cluster is stopped and removed at the end, on failure too.

Where PostgreSQL's start-up time goes comes from the database's own log (statement durations and
connection times at millisecond resolution, on the same wall clock as the spawn): before the COPY
(process start, connection, migration, the instruments query), the COPY (its parts from the first
one's start to the last one's end, streamed and parsed as they arrive, so the server's side and
idc's parsing overlap), and after it (building the
catalog, the article's first instrument and its MACD, the gRPC server); beside it, the same COPY
into /dev/null by psql, the database's share alone.
"""

import datetime
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import calls
import memory
from report import fmt, table
from servers import BenchError

ROOT = calls.ROOT
INSTALL_SCRIPT = os.path.join(ROOT, "scripts", "install_postgres.sh")
INSTALL = ("PostgreSQL 15 is needed: run scripts/install_postgres.sh as root, or "
           "`sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql-15`")
TARGET_RATIO = 2.0
# The start-up load of src/pg/load.rs (each instrument's bars as arrays, binary), whole in one
# statement, run by psql into /dev/null for the database's share alone; idc runs it in parts, one
# a core, on as many connections.
COPY = ("SET max_parallel_workers_per_gather = 0; SET jit = off; "
        "COPY (SELECT symbol, array_agg(day), array_agg(open), array_agg(high), array_agg(low), "
        "array_agg(close), array_agg(volume), array_agg(adj_factor), array_agg(forming) "
        "FROM (SELECT symbol, date - DATE '1970-01-01' AS day, open, high, low, close, volume, adj_factor, "
        "forming FROM bars ORDER BY symbol, date) sorted GROUP BY symbol ORDER BY symbol) TO STDOUT (FORMAT binary)")
# The database's log: `%m [%p] ` (wall clock to the millisecond, backend pid).
LOG_PREFIX = r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[(?P<pid>\d+)\] "
COPY_LOGGED = re.compile(LOG_PREFIX + r"LOG:  duration: (?P<ms>[\d.]+) ms  (?:statement|execute [^:]*): COPY ",
                         re.M)
CONNECTED = re.compile(LOG_PREFIX + r"LOG:  connection received", re.M)
PG_CTL_WAIT = "60"
PORT_TRIES = 5
COMMAND_LIMIT = 600


def sizes(smoke):
    """(instruments, bars each): 5,000,000 bars in the full run, 5,000 in the smoke run."""
    return (20, 250) if smoke else (2_000, 2_500)


def runs(smoke):
    """Starts of each catalog (alternating which goes first)."""
    return 2 if smoke else 5


# -- PostgreSQL --------------------------------------------------------------------------------


def bindir():
    """The directory of initdb, pg_ctl, postgres and psql, or None (as tests/common/pg.rs looks)."""
    candidates = []
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    except OSError:
        pass
    candidates.append("/usr/lib/postgresql/15/bin")
    # Debian's /usr/bin/psql is a wrapper with no initdb beside it: a directory counts with all four.
    candidates += os.environ.get("PATH", "").split(os.pathsep)
    for folder in candidates:
        if folder and all(os.path.isfile(os.path.join(folder, b)) for b in ("initdb", "pg_ctl", "postgres", "psql")):
            return folder
    return None


def ensure_postgres(bench):
    """bindir(), installing postgresql-15 with scripts/install_postgres.sh (as root) when missing;
    fails with the apt-get line otherwise."""
    found = bindir()
    if found:
        return found
    bench.log("postgres: PostgreSQL 15 is missing; running scripts/install_postgres.sh")
    done = subprocess.run(["bash", INSTALL_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                          timeout=COMMAND_LIMIT, check=False)
    found = bindir()
    if done.returncode != 0 or not found:
        raise BenchError("no PostgreSQL binaries (initdb, pg_ctl, postgres, psql); %s%s"
                         % (INSTALL, ("\nscripts/install_postgres.sh said:\n" + (done.stdout + done.stderr)[-2000:])
                            if (done.stdout + done.stderr).strip() else ""))
    return found


def _run(argv, what, cwd=None, env=None, stdout=subprocess.PIPE):
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          timeout=COMMAND_LIMIT, check=False)
    if done.returncode != 0:
        raise BenchError("%s failed with status %d: %s" % (what, done.returncode, (done.stderr or "").strip()[-2000:]))
    return done


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A PostgreSQL server of its own in a temporary directory; a context manager that stops it and
    removes the directory on the way out, whatever happened."""

    def __init__(self, bin_dir, log):
        self.bin = bin_dir
        self.log = log
        self.dir = None
        self.port = None
        self.running = False
        self.owner = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise BenchError("running as root, PostgreSQL must run as the `postgres` OS user, and there is "
                                 "none (the Debian package creates it); %s" % INSTALL) from None

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def log_path(self):
        return os.path.join(self.dir, "postgres.log")

    def server_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _as_server(self, program, args):
        """argv and env running `program` as the server's user."""
        argv = [os.path.join(self.bin, program)] + args
        if self.owner:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return argv, env

    def _pg_ctl(self, args, what):
        argv, env = self._as_server("pg_ctl", ["-D", self.data_dir, "-w", "-t", PG_CTL_WAIT] + args)
        return _run(argv, what, cwd=self.dir, env=env)

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="idc-bench-pg-", dir="/tmp")
        os.chmod(self.dir, 0o700)
        os.mkdir(os.path.join(self.dir, "sock"))
        if self.owner:
            for path in (self.dir, os.path.join(self.dir, "sock")):
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        argv, env = self._as_server("initdb", ["-D", self.data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                               "--locale=C", "--no-sync", "--no-instructions"])
        _run(argv, "initdb", cwd=self.dir, env=env)
        # Millisecond wall-clock times and backend pids in the log, and every connection: where
        # idc's start-up time goes is read from them. Statements are logged with their durations
        # only on the benchmark's database, after the import (see measure).
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as conf:
            conf.write("\n# idc bench/lib/postgres.py\nfsync = off\nlog_timezone = 'UTC'\n"
                       "log_line_prefix = '%m [%p] '\nlog_connections = on\nlog_parameter_max_length = 0\n")
        for _ in range(PORT_TRIES):
            self.port = _free_port()
            before = len(self.server_log())
            options = "-p %d -k %s -h 127.0.0.1 -c listen_addresses=127.0.0.1" % (self.port,
                                                                                 os.path.join(self.dir, "sock"))
            argv, env = self._as_server("pg_ctl", ["-D", self.data_dir, "-w", "-t", PG_CTL_WAIT, "start", "-o",
                                                   options, "-l", self.log_path])
            done = subprocess.run(argv, cwd=self.dir, env=env, capture_output=True, text=True,
                                  timeout=COMMAND_LIMIT, check=False)
            if done.returncode == 0:
                self.running = True
                self.log("postgres: PostgreSQL started on 127.0.0.1:%d (%s)" % (self.port, self.dir))
                return
            argv, env = self._as_server("pg_ctl", ["-D", self.data_dir, "stop", "-m", "immediate"])
            subprocess.run(argv, cwd=self.dir, env=env, capture_output=True, timeout=COMMAND_LIMIT, check=False)
            text = self.server_log()[before:]
            if "Address already in use" not in text:
                raise BenchError("PostgreSQL did not start on port %d: %s; its log:\n%s"
                                 % (self.port, done.stderr.strip(), text[-2000:]))
        raise BenchError("PostgreSQL found no free port in %d tries" % PORT_TRIES)

    def __exit__(self, *exc):
        try:
            if self.running:
                argv, env = self._as_server("pg_ctl", ["-D", self.data_dir, "-w", "-t", PG_CTL_WAIT, "stop",
                                                       "-m", "fast"])
                done = subprocess.run(argv, cwd=self.dir, env=env, capture_output=True, timeout=COMMAND_LIMIT,
                                      check=False)
                if done.returncode != 0:
                    argv, env = self._as_server("pg_ctl", ["-D", self.data_dir, "stop", "-m", "immediate"])
                    subprocess.run(argv, cwd=self.dir, env=env, capture_output=True, timeout=COMMAND_LIMIT,
                                   check=False)
                self.running = False
                self.log("postgres: PostgreSQL stopped")
        finally:
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
        return False

    def url(self, database="postgres"):
        return "postgres://postgres@127.0.0.1:%d/%s" % (self.port, database)

    def psql(self, sql, database="postgres", stdout=subprocess.PIPE):
        """Runs sql with psql over TCP as the superuser; its unaligned, tuples-only output."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGCONNECT_TIMEOUT"] = "10"
        argv = [os.path.join(self.bin, "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                "-d", self.url(database), "-c", sql]
        done = _run(argv, "psql %r" % sql[:80], env=env, stdout=stdout)
        return (done.stdout or "").strip()


# -- the measurement ---------------------------------------------------------------------------


def _wall(text):
    """A log line's `%m` time (UTC) as seconds since the epoch."""
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def serve(bench, data, label, expected):
    """Starts idc on `data`, checks that it lists `expected` ([(symbol, bars, has_adj)]), reads
    its RSS, and stops it. Returns (start-up s, RSS KiB, spawn wall time, its stderr)."""
    spawned = time.time()
    server = bench.start("idc", ["--data", data], label=label)
    try:
        listed = memory.list_instruments(server)
        if listed != expected:
            raise BenchError("%s lists %d instruments of %d bars; the file catalog %d of %d (or other symbols)"
                             % (label, len(listed), sum(b for _, b, _ in listed), len(expected),
                                sum(b for _, b, _ in expected)))
        rss = server.rss_kib()
        return server.startup_s, rss, spawned, server.stderr()
    finally:
        server.stop()


def breakdown(log_text, spawned, startup_s):
    """(spawn to the first connection, connection to the COPY, the COPY, after the COPY), in s, of
    one start-up, from the database's log lines written since the spawn; None without a COPY. The
    COPY runs in parts on several connections at once: its time is from the first part's start to
    the last one's end."""
    copies = list(COPY_LOGGED.finditer(log_text))
    connected = CONNECTED.search(log_text)
    if not copies or not connected:
        return None
    ends = [_wall(copy.group("at")) - spawned for copy in copies]
    starts = [end - float(copy.group("ms")) / 1000.0 for end, copy in zip(ends, copies)]
    first = _wall(connected.group("at")) - spawned
    begun, end = min(starts), max(ends)
    return (first, begun - first, end - begun, startup_s - end)


def measure(bench, data_dir, idc):
    files, bars = sizes(bench.s.smoke)
    bin_dir = ensure_postgres(bench)
    version = _run([os.path.join(bin_dir, "postgres"), "--version"], "postgres --version").stdout.strip()
    # `postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`: PostgreSQL 15.20 (Debian ...).
    version = re.sub(r"^postgres \(PostgreSQL\) ", "PostgreSQL ", version)
    bench.log("postgres: writing or reusing a catalog of %s instruments of %s bars" % (fmt(files), fmt(bars)))
    path, _ = memory.catalog(data_dir, files, bars)
    began = time.monotonic()
    with Postgres(bin_dir, bench.log) as pg:
        pg.psql("CREATE DATABASE idc")
        url = pg.url("idc")
        bench.log("postgres: idc_server import --data %s --into %s" % (path, url))
        t0 = time.monotonic()
        done = subprocess.run([idc, "import", "--data", path, "--into", url], capture_output=True, text=True,
                              timeout=3600, check=False, env=dict(os.environ, RUST_LOG="info"))
        import_s = time.monotonic() - t0
        if done.returncode != 0:
            raise BenchError("idc_server import failed with status %d: %s" % (done.returncode,
                                                                               done.stderr.strip()[-2000:]))
        counted = pg.psql("SELECT count(*), count(DISTINCT symbol) FROM bars", "idc")
        if counted != "%d|%d" % (files * bars, files):
            raise BenchError("after the import the bars table holds %s (bars|symbols); expected %d|%d"
                             % (counted, files * bars, files))
        bench.log("postgres: imported %s bars in %.1f s" % (fmt(files * bars), import_s))
        # From here on, every statement on the benchmark's database is logged with its duration.
        pg.psql("ALTER DATABASE idc SET log_min_duration_statement = 0")
        # The database's share alone: the same COPY into /dev/null (it warms the table's pages too).
        psql_copy = []
        for _ in range(runs(bench.s.smoke)):
            t0 = time.monotonic()
            with open(os.devnull, "w") as null:
                pg.psql(COPY, "idc", stdout=null)
            psql_copy.append(time.monotonic() - t0)
        # What every start must list: the file catalog's ListInstruments (this start is a warm-up,
        # not timed).
        server = bench.start("idc", ["--data", path], label="idc files warm-up")
        try:
            expected = memory.list_instruments(server)
        finally:
            server.stop()
        if len(expected) != files or sum(b for _, b, _ in expected) != files * bars:
            raise BenchError("the file catalog lists %d instruments of %d bars; expected %d of %d"
                             % (len(expected), sum(b for _, b, _ in expected), files, files * bars))
        times = {"files": [], "postgres": []}
        rss = {"files": [], "postgres": []}
        parts = []
        loaded_ms = []
        for i in range(runs(bench.s.smoke)):
            for kind in (("files", "postgres") if i % 2 == 0 else ("postgres", "files")):
                before = len(pg.server_log())
                data = path if kind == "files" else url
                startup, kib, spawned, stderr = serve(bench, data, "idc %s %d" % (kind, i), expected)
                if kind == "files":
                    loaded = re.search(memory.LOADED, stderr)
                    if loaded:
                        loaded_ms.append(float(loaded.group("ms")))
                else:
                    part = breakdown(pg.server_log()[before:], spawned, startup)
                    if part:
                        parts.append(part)
                times[kind].append(startup)
                rss[kind].append(kib)
                bench.log("postgres: %s start-up %.0f ms, RSS %s MiB" % (kind, startup * 1000, fmt(kib / 1024)))
    result = {
        "instruments": files, "bars": files * bars, "runs": runs(bench.s.smoke), "version": version,
        "files_s": statistics.median(times["files"]), "postgres_s": statistics.median(times["postgres"]),
        "files_all": times["files"], "postgres_all": times["postgres"],
        "files_rss_kib": statistics.median(rss["files"]), "postgres_rss_kib": statistics.median(rss["postgres"]),
        "import_s": import_s, "psql_copy_s": statistics.median(psql_copy),
        "files_loaded_ms": statistics.median(loaded_ms) if loaded_ms else None,
        "parts": tuple(statistics.median(p[k] for p in parts) for k in range(4)) if parts else None,
        "seconds": time.monotonic() - began,
    }
    result["ratio"] = result["postgres_s"] / result["files_s"]
    bench.log("postgres: start-up %.0f ms from PostgreSQL against %.0f ms from files: %.2f× (target ≤ %g×)"
              % (result["postgres_s"] * 1000, result["files_s"] * 1000, result["ratio"], TARGET_RATIO))
    return result


def target(result):
    """(name, met or None, detail) of the issue's start-up target."""
    name = "postgres: start-up from a PostgreSQL catalog ≤ %g× the file catalog's, same bars" % TARGET_RATIO
    if not result:
        return name, None, "not run"
    return name, result["ratio"] <= TARGET_RATIO, "%s×: %s s against %s s over %s bars" % (
        fmt(result["ratio"]), fmt(result["postgres_s"]), fmt(result["files_s"]), fmt(result["bars"]))


def markdown(result):
    r = result
    out = ["\n## PostgreSQL catalog: start-up against the file catalog\n"]
    out.append(
        "A temporary %s (initdb into /tmp, pg_ctl on a loopback port, fsync=off), loaded with `idc_server "
        "import --data DIR --into postgres://...` from a generated catalog of %s instruments × %s seeded "
        "random-walk daily bars (the memory section's files). Start-up: spawn to the `Server started` line, "
        "after which each server's ListInstruments must equal the file catalog's; RSS is VmRSS then. Median "
        "of %d starts of each, alternating which goes first. The target is PostgreSQL's start-up at most %g× "
        "the files'.\n" % (r["version"], fmt(r["instruments"]), fmt(r["bars"] // r["instruments"]), r["runs"],
                           TARGET_RATIO))
    out.append(table(
        ["bars", "files s", "postgres s", "postgres/files", "target", "result", "import s", "RSS files MiB",
         "RSS postgres MiB"],
        [[fmt(r["bars"]), fmt(r["files_s"]), fmt(r["postgres_s"]), "%s×" % fmt(r["ratio"]), "≤ %g×" % TARGET_RATIO,
          "met" if r["ratio"] <= TARGET_RATIO else "**missed**", fmt(r["import_s"]), fmt(r["files_rss_kib"] / 1024),
          fmt(r["postgres_rss_kib"] / 1024)]]))
    out.append("\nEvery start (s): files %s; postgres %s.\n" % (
        ", ".join(fmt(x) for x in r["files_all"]), ", ".join(fmt(x) for x in r["postgres_all"])))
    out.append("Where the time goes (medians; the PostgreSQL rows from the database's log, whose COPY covers the "
               "rows streamed and parsed by idc as they arrive; psql's COPY into /dev/null is the database's "
               "share alone):\n")
    rows = [["files: the catalog loaded (its log line)", fmt(r["files_loaded_ms"] / 1000)
             if r["files_loaded_ms"] is not None else "not logged"]]
    if r["parts"]:
        connect, prepare, copy, after = r["parts"]
        rows += [["postgres: spawn to its connection (process start, configuration)", fmt(connect)],
                 ["postgres: connection to the COPY (migration, the instruments query)", fmt(prepare)],
                 ["postgres: the COPY, streamed and parsed", fmt(copy)],
                 ["postgres: after the COPY (catalog built, first instrument, gRPC server)", fmt(after)]]
    else:
        rows.append(["postgres: the COPY", "not in the database's log"])
    rows.append(["psql: the same COPY into /dev/null", fmt(r["psql_copy_s"])])
    out.append(table(["part", "s"], rows))
    return "\n".join(out)
