"""The servers under test as child processes: started on 127.0.0.1 with an ephemeral port, timed
to their `Server started, listening on PORT` line, watched for RSS, and always stopped.
"""

import os
import re
import signal
import subprocess
import threading
import time

STARTED = re.compile(rb"^Server started, listening on (\d+)\s*$")
# How long a server may take to print its start-up line (the Python data server parsing a
# 1,000,000-bar CSV included).
START_LIMIT = 120.0

_running = []


class BenchError(Exception):
    """A check failed or a tool is missing: the run stops with this message and exits non-zero."""


def rss_kib(pid):
    """VmRSS of pid in KiB, from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS for pid %d" % pid)


class Server:
    """One server process. `label` names it in messages and logs."""

    def __init__(self, label, argv, env, log_path):
        self.label = label
        self.argv = argv
        self.log_path = log_path
        self.port = None
        self.startup_s = None
        self._lines = []
        self._started = threading.Event()
        full_env = dict(os.environ)
        full_env.update(env)
        self._log = open(log_path, "wb")
        began = time.monotonic()
        # setpriv (util-linux, in every Debian) has the kernel send SIGTERM to the server when the
        # tool dies, even by SIGKILL, so that no server outlives a run; it execs the server in the
        # same process, at a cost of under a millisecond of the start-up time measured.
        self.proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "TERM", "--"] + argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=full_env,
        )
        _running.append(self)
        threading.Thread(target=self._read_stdout, args=(began,), daemon=True).start()
        if not self._started.wait(START_LIMIT) or self.port is None:
            self.stop()
            raise BenchError(
                "%s did not print its start-up line within %.0f s (exit status %s); its stderr:\n%s"
                % (label, START_LIMIT, self.proc.poll(), self.stderr()[-2000:])
            )

    def _read_stdout(self, began):
        # Keeps reading after the start-up line, so that a server that prints more never blocks.
        for line in self.proc.stdout:
            if self.port is None:
                match = STARTED.match(line)
                if match:
                    self.startup_s = time.monotonic() - began
                    self.port = int(match.group(1))
                    self._started.set()
                    continue
            self._lines.append(line)
        self._started.set()  # exited without the line: wake the waiter

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        self.check_alive()
        return rss_kib(self.proc.pid)

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(
                "%s exited with status %s; its stderr:\n%s" % (self.label, self.proc.returncode, self.stderr()[-2000:])
            )

    def stderr(self):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_stderr(self, pattern, limit=10.0):
        """The first match of the regex pattern in the server's stderr, waiting up to limit s."""
        deadline = time.monotonic() + limit
        while True:
            match = re.search(pattern, self.stderr())
            if match or time.monotonic() > deadline:
                return match
            time.sleep(0.02)

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s: every server ends with the run."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self in _running:
            _running.remove(self)
        self._log.close()


def stop_all():
    for server in list(_running):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - cleanup goes on with the others
            pass


class RssSampler:
    """Samples a server's RSS every 20 ms while in a `with` block; `peak_kib` is the largest."""

    def __init__(self, server):
        self.server = server
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, rss_kib(self.server.pid))
            except (OSError, BenchError):
                return
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
