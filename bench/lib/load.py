"""h2load (Debian's nghttp2-client) as the gRPC load generator.

A gRPC call over HTTP/2 is a POST to /SERVICE/METHOD with `content-type: application/grpc` and
`te: trailers`, whose body is one length-prefixed message: a zero byte (not compressed), the
message length as a big-endian u32, then the serialized request. h2load sends that body from a
file with -d and, with --log-file, writes one line per request (start time, HTTP status, time to
the stream's end in microseconds), from which the latency percentiles come.

h2load knows HTTP, not gRPC: a call that fails with a gRPC status still counts as an HTTP 200
"succeeded". So every run here is also checked on the bytes: a failed call sends no message, so
the DATA bytes h2load counts must equal the requests times the exact framed reply (5 bytes of
prefix per message plus the message) that a checked call returned. The caller adds raw calls
before and after the run and, for idc, its per-code call counters.
"""

import os
import re
import shutil
import struct
import subprocess
import tempfile

from servers import BenchError

H2LOAD_PACKAGE = "nghttp2-client"


def ensure_h2load():
    """The path of h2load; installs it with apt-get when missing and root, else fails saying how."""
    path = shutil.which("h2load")
    if path:
        return path
    command = "apt-get install -y --no-install-recommends %s" % H2LOAD_PACKAGE
    if os.geteuid() != 0:
        raise BenchError("h2load is missing; install it with: sudo apt-get update && sudo %s" % command)
    print("bench: installing %s (h2load) with apt-get" % H2LOAD_PACKAGE, flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
    subprocess.run(
        command.split(), check=True, timeout=600, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    )
    path = shutil.which("h2load")
    if not path:
        raise BenchError("h2load still missing after `%s`" % command)
    return path


def grpc_body(message):
    """The HTTP/2 body of a unary gRPC request carrying the serialized message."""
    return b"\0" + struct.pack(">I", len(message)) + message


def framed_size(messages):
    """The DATA bytes a reply of these serialized messages takes: 5 bytes of prefix each."""
    return sum(5 + len(m) for m in messages)


class Run:
    """One h2load run: its counts, rate, DATA bytes and per-request times (µs, sorted)."""

    def __init__(self, text, latencies_us):
        self.text = text
        self.latencies_us = sorted(latencies_us)

        def number(pattern, cast=int):
            match = re.search(pattern, text, re.M)
            if not match:
                raise BenchError("h2load output lacks %r:\n%s" % (pattern, text[-3000:]))
            return cast(match.group(1))

        finished = re.search(r"^finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", text, re.M)
        if not finished:
            raise BenchError("h2load output lacks its `finished in` line:\n%s" % text[-3000:])
        scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[finished.group(2)]
        self.elapsed_s = float(finished.group(1)) * scale
        self.req_s = float(finished.group(3))
        self.total = number(r"^requests: (\d+) total")
        self.done = number(r"(\d+) done")
        self.succeeded = number(r"(\d+) succeeded")
        self.failed = number(r"(\d+) failed")
        self.errored = number(r"(\d+) errored")
        self.timeouts = number(r"(\d+) timeout")
        self.status_2xx = number(r"^status codes: (\d+) 2xx")
        self.data_bytes = number(r"^traffic: .*\((\d+)\) data")
        # Calls that ended without their whole reply (a gRPC error status): counted from the DATA
        # bytes that are missing, so exact for unary calls and a lower bound for streams.
        self.not_ok = 0

    @property
    def ok_req_s(self):
        """Calls per second that ended with their whole reply."""
        return self.req_s * (self.done - self.not_ok) / self.done if self.done else 0.0

    def percentile_ms(self, p):
        """The p-th percentile (nearest rank) of the request times, in ms."""
        if not self.latencies_us:
            return float("nan")
        rank = max(1, -(-len(self.latencies_us) * p // 100))
        return self.latencies_us[int(rank) - 1] / 1000.0

    def mean_ms(self):
        return sum(self.latencies_us) / len(self.latencies_us) / 1000.0 if self.latencies_us else float("nan")


def run(h2load, target, path, body, connections, streams, requests, timeout_s, expect_bytes_per_request=None,
        allow_not_ok=False):
    """Sends `requests` calls of `body` to http://target/path over `connections` connections with
    `streams` concurrent streams each; checks that all succeeded at the HTTP level and, when given,
    that the DATA bytes are `requests` times `expect_bytes_per_request`: with allow_not_ok, fewer
    bytes are counted as calls that failed (Run.not_ok) rather than stopping the run. Returns the
    Run."""
    requests = max(requests, connections)
    with tempfile.TemporaryDirectory(prefix="idc-bench-h2load-") as tmp:
        body_path = os.path.join(tmp, "body")
        log_path = os.path.join(tmp, "log")
        with open(body_path, "wb") as f:
            f.write(grpc_body(body))
        argv = [
            h2load,
            "-n", str(requests),
            "-c", str(connections),
            "-m", str(streams),
            "-H", "content-type: application/grpc",
            "-H", "te: trailers",
            "-d", body_path,
            "--log-file", log_path,
            "http://%s%s" % (target, path),
        ]  # fmt: skip
        try:
            out = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise BenchError("h2load took over %.0f s: %s" % (timeout_s, " ".join(argv))) from None
        text = out.stdout.decode("utf-8", "replace")
        if out.returncode != 0:
            raise BenchError(
                "h2load exited with %d: %s\n%s%s"
                % (out.returncode, " ".join(argv), text[-2000:], out.stderr.decode("utf-8", "replace")[-2000:])
            )
        latencies = []
        with open(log_path) as log:
            for line in log:
                fields = line.split()
                if len(fields) >= 3:
                    latencies.append(int(fields[2]))
    result = Run(text, latencies)
    bad = []
    if not (result.total == result.done == result.succeeded == result.status_2xx == requests):
        bad.append(
            "%d asked, %d done, %d succeeded, %d HTTP 2xx"
            % (requests, result.done, result.succeeded, result.status_2xx)
        )
    if result.failed or result.errored or result.timeouts:
        bad.append("%d failed, %d errored, %d timed out" % (result.failed, result.errored, result.timeouts))
    if len(result.latencies_us) != requests:
        bad.append("%d lines in the log file for %d requests" % (len(result.latencies_us), requests))
    expected = None if expect_bytes_per_request is None else requests * expect_bytes_per_request
    if expected is not None and allow_not_ok and result.data_bytes < expected:
        result.not_ok = -(-(expected - result.data_bytes) // expect_bytes_per_request)
    elif expected is not None and result.data_bytes != expected:
        bad.append(
            "%d DATA bytes received, expected %d x %d = %d (a call ended without its whole reply: a gRPC "
            "error or a cut stream)"
            % (result.data_bytes, requests, expect_bytes_per_request, requests * expect_bytes_per_request)
        )
    if bad:
        raise BenchError("h2load run against %s%s is wrong: %s\n%s" % (target, path, "; ".join(bad), text[-1500:]))
    return result
