#!/usr/bin/env python3
"""bench/run: idc_server against the Python reference, a C++ peer (Debian's grpc++) and a tonic
peer, on loopback, with h2load driving every server with the same load; and idc's data mode
against a pandas/matplotlib server (tests/python/data_server.py); idc's tuning knobs, one at a
time against its defaults (bench/lib/tuning.py); the memory a bar held costs in idc's catalog
(bench/lib/memory.py); the v2 chart's first render against mplfinance and its cached chart against
a file of its size (bench/lib/chart_v2.py); start-up from a PostgreSQL catalog against the file
catalog of the same bars (bench/lib/postgres.py); the live-bars benchmark, `cargo bench --bench
live`, whose tables the report takes as they are (bench/lib/live.py); and the formula benchmark,
`cargo bench --bench formula`, likewise (bench/lib/formula.py); and the market in one call, v2
`Compute` of every instrument against a Python peer of the proto (bench/lib/market.py).

Before any timing, every peer's reply bytes are compared with the Python server's (raw calls:
bytes in, bytes out), and data-mode rows with the data server's. Around every load run a raw
call must end with OK and return those bytes again, h2load's DATA bytes must equal the requests
times the framed reply (a call that fails with a gRPC status sends no message), and idc's
per-code call counters must show no call but OK. Any failed check stops the run with a non-zero
exit status. Targets that are missed do not: the summary says which.

The numbers are ratios measured side by side in one run: the machine (2 shared cores) is noisy,
so compare rows of one run, not runs.
"""

import argparse
import datetime
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import calls  # noqa: E402
import chart_v2  # noqa: E402
import formula  # noqa: E402
import indicators  # noqa: E402
import live  # noqa: E402
import market  # noqa: E402
import load  # noqa: E402
import memory  # noqa: E402
import postgres  # noqa: E402
import report  # noqa: E402
import tuning  # noqa: E402
import walk  # noqa: E402
from report import fmt, ratio, table  # noqa: E402
from servers import BenchError, RssSampler, Server, stop_all  # noqa: E402

ROOT = calls.ROOT
BENCH_DIR = os.path.join(ROOT, "target", "bench")
WORK = os.path.join(BENCH_DIR, "work")
LOGS = os.path.join(BENCH_DIR, "logs")
DATA = os.path.join(BENCH_DIR, "data")
IDC = os.path.join(ROOT, "target", "release", "idc_server")
CPP = os.path.join(BENCH_DIR, "idc_cpp_server")
TONIC_DIR = os.path.join(ROOT, "bench", "tonic")
TONIC = os.path.join(TONIC_DIR, "target", "release", "idc_tonic_server")
PY_SERVER = os.path.join(ROOT, "tests", "python", "idc_server.py")
DATA_SERVER = os.path.join(ROOT, "tests", "python", "data_server.py")
SAMPLE_CSV = os.path.join(ROOT, "data", "sp500.csv")

PEERS = ("idc", "tonic", "cpp", "python")
# The unary rows also measure idc as users run it, with its default per-call log line
# (RUST_LOG unset: one `idc::rpc` line a call, written by the logging thread), beside the quiet idc.
UNARY_PEERS = ("idc", "idc_log", "tonic", "cpp", "python")
# The parts of a run, in the order they run; `--only` picks some.
SECTIONS = ("parity", "data", "tuning", "memory", "chart_v2", "postgres", "live", "formula", "indicators", "market")
PEER_NAMES = {
    "idc": "idc (grpcio crate)",
    "idc_log": "idc, default log (a line per call)",
    "tonic": "tonic",
    "cpp": "C++ (Debian grpc++)",
    "python": "Python grpcio (reference)",
}
# Per-call log lines are off for idc (the peers log nothing per call); its start-up lines stay on,
# as do the metrics address and the data-mode timings the report reads.
IDC_ENV = {"RUST_LOG": "info,idc::rpc=warn"}
PY_ENV = {"PYTHONUTF8": "1", "IDC_PY_STUBS_DIR": os.path.join(BENCH_DIR, "py-stubs")}

MIB = 1 << 20
MB = 1e6  # rates are in decimal MB/s
# The parity request: the article's client's dates.
PARITY_REQUEST = calls.request("2023-01-01", "2023-12-31")
UNARY_TARGET_CONFIGS = ((16, 8), (64, 16))
# A data-mode reply may hold at most this many rows (idc answers OUT_OF_RANGE beyond it).
MAX_ROWS = 100_000
WHOLE_SAMPLE = "S&P 500, whole (1999-2018)"


class Settings:
    """What one run measures: the full run, or the smoke run's one of each with tiny counts."""

    def __init__(self, smoke):
        self.smoke = smoke
        self.unary_configs = ((1, 1), (16, 8), (64, 16))
        self.stream_chunks = (1024,) if smoke else (1024, 64 * 1024)
        self.stream_files = (1 * MIB,) if smoke else (1 * MIB, 8 * MIB)
        self.stream_configs = ((1, 1), (16, 1))
        # Calibrated runs last about this long (a warm-up first); the smoke run sends one round.
        self.run_s = 2.0
        self.data_ranges = (
            (("S&P 500, 1 year", "2018-01-01", "2018-12-31"),)
            if smoke
            else (
                ("S&P 500, 1 year", "2018-01-01", "2018-12-31"),
                ("S&P 500, 10 years", "2009-01-01", "2018-12-31"),
                (WHOLE_SAMPLE, "", ""),
            )
        )
        self.data_configs = ((1, 1),) if smoke else ((1, 1), (16, 1))
        self.csv_sizes = (10_000,) if smoke else (10_000, 100_000, 1_000_000)
        self.first_charts = 1 if smoke else 5
        self.chart_configs = ((1, 1),) if smoke else ((1, 1), (16, 1))


class Bench:
    def __init__(self, settings, h2load, sections=SECTIONS):
        self.s = settings
        self.sections = set(sections)
        self.h2load = h2load
        self.results = {}
        self.server_count = 0
        self.began = time.monotonic()
        self.load_before = report.load_average()
        # Load runs in which a peer failed calls (the run goes on; idc may fail none).
        self.not_ok = []

    # -- servers ------------------------------------------------------------------------------

    def start(self, peer, args, label=None, env=None):
        """Starts a server (idc with its metrics endpoint) and returns it; `env` adds to or
        replaces the peer's environment variables (idc's RUST_LOG, for one)."""
        self.server_count += 1
        label = label or peer
        env_extra = env
        log_path = os.path.join(LOGS, "%02d-%s.log" % (self.server_count, label.replace(" ", "_")))
        common = ["--host", "127.0.0.1", "--port", "0"]
        if peer == "idc":
            argv, env = [IDC] + common + ["--metrics-addr", "127.0.0.1:0"] + args, IDC_ENV
        elif peer == "tonic":
            argv, env = [TONIC] + common + args, {}
        elif peer == "cpp":
            argv, env = [CPP] + common + args, {}
        elif peer == "python":
            argv, env = [sys.executable, PY_SERVER] + common + args, PY_ENV
        elif peer == "data_server":
            argv, env = [sys.executable, DATA_SERVER] + common + args, PY_ENV
        else:
            raise ValueError(peer)
        server = Server(label, argv, dict(env, **(env_extra or {})), log_path)
        server.peer = peer
        server.metrics_url = None
        if peer == "idc":
            match = server.wait_stderr(r"metrics at (http://\S+/metrics)")
            if not match:
                raise BenchError("idc did not log its metrics address; its stderr:\n%s" % server.stderr()[-2000:])
            server.metrics_url = match.group(1)
        return server

    # -- one measurement ----------------------------------------------------------------------

    def measure(self, server, method, body, connections, streams, expected, run_s=None):
        """A load run of `body` on `method`, at connections x streams, against `server`, whose
        replies must be the serialized messages `expected`, lasting about `run_s` (default: the
        settings' run_s). Returns (Run, peak RSS in KiB)."""

        def check(when):
            got = calls.messages(server.target, method, body, label="%s (%s the run)" % (server.label, when))
            if got != expected:
                raise BenchError(
                    "%s: %s replied with other bytes %s the load run (%d messages, %d bytes; expected %d, %d)"
                    % (server.label, method, when, len(got), sum(map(len, got)), len(expected),
                       sum(map(len, expected)))
                )  # fmt: skip

        per_request = load.framed_size(expected)
        check("before")
        before = self.counters(server)

        def go(n):
            # A bound on time whatever the server does: a run is meant to last seconds.
            return load.run(
                self.h2load, server.target, method, body, connections, streams, n, timeout_s=300,
                expect_bytes_per_request=per_request, allow_not_ok=not self.s.smoke and server.peer != "idc",
            )  # fmt: skip

        one_round = connections * streams
        if self.s.smoke:
            n = one_round
        else:
            # Warm up with one round of calls, more while a round is too short to time.
            n = one_round
            while True:
                warm = go(n)
                if warm.elapsed_s >= 0.25 or n >= 1_000_000:
                    break
                n *= 8
            n = max(one_round, min(2_000_000, int(warm.done / warm.elapsed_s * (run_s or self.s.run_s))))
        with RssSampler(server) as rss:
            result = go(n)
        if result.not_ok:
            self.not_ok.append("%s, %s at %d×%d: %s of %s calls" % (
                server.label, method.rsplit("/", 1)[1], connections, streams, fmt(result.not_ok), fmt(n)))
            self.log("%s: %d calls did not end with OK" % (server.label, result.not_ok))
        server.check_alive()
        check("after")
        self.check_counters(server, before, method, n)
        return result, rss.peak_kib

    @staticmethod
    def counters(server):
        """idc's call counters (None for the peers, which have none)."""
        return calls.idc_calls(server.metrics_url) if server.metrics_url else None

    @staticmethod
    def check_counters(server, before, method, sent):
        """No call but OK since `before`, and at least `sent` OK calls of `method`."""
        if before is None:
            return
        after = calls.idc_calls(server.metrics_url)
        name = method.rsplit("/", 1)[1]
        not_ok = {key: after[key] - before.get(key, 0) for key in after if key[1] != "OK"}
        not_ok = {key: count for key, count in not_ok.items() if count}
        if not_ok:
            raise BenchError("%s: calls that did not end with OK during the run: %s" % (server.label, not_ok))
        ok = after.get((name, "OK"), 0) - before.get((name, "OK"), 0)
        if ok < sent:
            raise BenchError("%s: its counters show %d OK %s calls for %d sent" % (server.label, ok, name, sent))

    def log(self, text):
        print("bench: [%5.1f s] %s" % (time.monotonic() - self.began, text), file=sys.stderr, flush=True)

    # -- parity mode --------------------------------------------------------------------------

    def parity(self):
        unary = self.results["unary"] = {}
        streaming = self.results["streaming"] = {}
        startups = self.results["startup"] = {peer: [] for peer in PEERS}
        idle = self.results["rss_idle"] = {}
        peak_unary = self.results["rss_unary"] = {}
        peak_stream = self.results["rss_stream"] = {}
        first = True
        for chunk in self.s.stream_chunks:
            for size in self.s.stream_files:
                graph = os.path.join(WORK, "graph-%d.bin" % size)
                write_random(graph, size, seed=size)
                servers = {}
                try:
                    for peer in PEERS:
                        servers[peer] = self.start(peer, ["--graph-file", graph, "--chunk-size", str(chunk)])
                        startups[peer].append(servers[peer].startup_s)
                        if first:
                            idle[peer] = servers[peer].rss_kib()
                    if first:
                        # `info` is idc's default filter (RUST_LOG unset): the per-call line on.
                        servers["idc_log"] = self.start("idc", ["--graph-file", graph, "--chunk-size", str(chunk)],
                                                        label="idc_log", env={"RUST_LOG": "info"})
                        self.unary(servers, unary, peak_unary)
                        servers.pop("idc_log").stop()
                        first = False
                    self.streams(servers, chunk, size, graph, streaming, peak_stream)
                finally:
                    for server in servers.values():
                        server.stop()

    def unary(self, servers, unary, peak):
        for body in (PARITY_REQUEST, calls.request()):
            reference = calls.messages(servers["python"].target, calls.UNARY, body, label="python")
            for peer in PEERS:
                got = calls.messages(servers[peer].target, calls.UNARY, body, label=peer)
                if got != reference:
                    raise BenchError("GetMACD reply bytes of %s differ from Python's: %r against %r"
                                     % (peer, got, reference))
        self.log("GetMACD reply bytes equal Python's on every peer")
        expected = calls.messages(servers["python"].target, calls.UNARY, PARITY_REQUEST)
        for c, m in self.s.unary_configs:
            for peer in [p for p in UNARY_PEERS if p in servers]:
                run, rss = self.measure(servers[peer], calls.UNARY, PARITY_REQUEST, c, m, expected)
                unary[(peer, c, m)] = run
                # Per load level: the levels run from 1x1 up, so each peak includes what the
                # lighter levels left allocated.
                peak[(peer, c, m)] = rss
                self.log("GetMACD %dx%d %s: %s req/s, p50 %s ms, p99 %s ms (%d calls)"
                         % (c, m, peer, fmt(run.ok_req_s), fmt(run.percentile_ms(50)), fmt(run.percentile_ms(99)),
                            run.done))

    def streams(self, servers, chunk, size, graph, streaming, peak):
        body = calls.request("2023-01-01", "2023-12-31")
        reference = calls.messages(servers["python"].target, calls.STREAM, body, label="python")
        with open(graph, "rb") as f:
            if calls.payload(reference) != f.read():
                raise BenchError("the Python server's GetMACDGraph chunks do not add up to %s" % graph)
        for peer in PEERS:
            got = calls.messages(servers[peer].target, calls.STREAM, body, label=peer)
            if got != reference:
                raise BenchError(
                    "GetMACDGraph messages of %s differ from Python's (%d KiB file, %d B chunks): %d messages of %d "
                    "bytes against %d of %d" % (peer, size // 1024, chunk, len(got), sum(map(len, got)),
                                                len(reference), sum(map(len, reference)))
                )  # fmt: skip
        self.log("GetMACDGraph messages (%d KiB file, %d B chunks) equal Python's on every peer"
                 % (size // 1024, chunk))
        for c, m in self.s.stream_configs:
            for peer in PEERS:
                run, rss = self.measure(servers[peer], calls.STREAM, body, c, m, reference)
                streaming[(peer, size, chunk, c * m)] = run
                peak[peer] = max(peak.get(peer, 0), rss)
                self.log("GetMACDGraph %d KiB/%d B %d streams %s: %s MB/s, last byte after %s ms"
                         % (size // 1024, chunk, c * m, peer, fmt(run.ok_req_s * size / MB), fmt(run.mean_ms())))

    # -- data mode ----------------------------------------------------------------------------

    def data(self):
        data = self.results["data"] = {}
        charts = self.results["charts"] = {}
        starts = self.results["data_startup"] = {}
        dates = sample_dates()
        idc = py = None
        try:
            idc = self.start("idc", ["--data", "sample"], label="idc data sample")
            py = self.start("data_server", ["--data", "sample"], label="data_server sample")
            starts[("idc", "sample")] = startup_facts(idc, len(dates))
            starts[("python", "sample")] = startup_facts(py, len(dates))
            whole = [calls.messages(s.target, calls.UNARY, calls.request(), label=s.label)[0] for s in (idc, py)]
            calls.compare_rows(*map(calls.rows, whole), "GetMACD of the whole sample: idc against data_server")
            self.log("GetMACD of the whole sample: idc's rows match data_server's")
            for name, start, end in self.s.data_ranges:
                self.getmacd(idc, py, name, start, end, data)
            self.charts(idc, py, dates, charts)
        finally:
            for server in (idc, py):
                if server:
                    server.stop()
        for count in self.s.csv_sizes:
            path = bars_csv(count)
            idc = py = None
            try:
                idc = self.start("idc", ["--data", path], label="idc data %d" % count)
                py = self.start("data_server", ["--data", path], label="data_server %d" % count)
                starts[("idc", count)] = startup_facts(idc, count)
                starts[("python", count)] = startup_facts(py, count)
                # The last rows idc may send in one reply.
                start = "" if count <= MAX_ROWS else day(count - MAX_ROWS)
                self.getmacd(idc, py, "%s bars" % fmt(count), start, "", data)
            finally:
                for server in (idc, py):
                    if server:
                        server.stop()

    def getmacd(self, idc, py, name, start, end, data):
        body = calls.request(start, end)
        ours = calls.messages(idc.target, calls.UNARY, body, label=idc.label)
        theirs = calls.messages(py.target, calls.UNARY, body, label=py.label)
        calls.compare_rows(calls.rows(ours[0]), calls.rows(theirs[0]), "GetMACD %s: idc against data_server" % name)
        rows = len(calls.rows(ours[0]))
        self.log("GetMACD %s: idc's %d rows match data_server's" % (name, rows))
        for c, m in self.s.data_configs:
            for peer, server, expected in (("idc", idc, ours), ("python", py, theirs)):
                run, _ = self.measure(server, calls.UNARY, body, c, m, expected)
                data[(name, peer, c * m)] = (run, rows, len(expected[0]))
                self.log("GetMACD %s %d streams %s: %s req/s, %s MB/s"
                         % (name, c * m, peer, fmt(run.ok_req_s), fmt(run.ok_req_s * len(expected[0]) / MB)))

    def charts(self, idc, py, dates, charts):
        bars = 250
        # Windows of 250 bars never asked for before, one per first call, and a warm-up window
        # (imports, font caches) before them; the repeated chart is the last 250 bars.
        windows = [(dates[-bars - 300 * k], dates[-1 - 300 * k]) for k in range(1, self.s.first_charts + 2)]
        for peer, server in (("idc", idc), ("python", py)):
            times, sizes = [], []
            before = self.counters(server)
            for i, (start, end) in enumerate(windows):
                body = calls.request(start, end)
                run = load.run(self.h2load, server.target, calls.STREAM, body, 1, 1, 1, timeout_s=120)
                # The bytes a repeated call returns (charts are deterministic) must be what came.
                again = calls.messages(server.target, calls.STREAM, body, label=server.label)
                if run.data_bytes != load.framed_size(again) or not calls.payload(again).startswith(b"\x89PNG"):
                    raise BenchError("%s: the first chart of %s..%s was not a whole PNG (%d bytes against %d)"
                                     % (server.label, start, end, run.data_bytes, load.framed_size(again)))
                if i > 0:
                    times.append(run.latencies_us[0] / 1000.0)
                    sizes.append(len(calls.payload(again)))
            self.check_counters(server, before, calls.STREAM, 2 * len(windows))
            charts[("first", peer)] = (statistics.mean(times), statistics.mean(sizes))
            self.log("first chart of %d bars, %s: %s ms (mean of %d)" % (bars, peer, fmt(charts[("first", peer)][0]),
                                                                        len(times)))
        body = calls.request(dates[-bars], dates[-1])
        pngs = {}
        for peer, server in (("idc", idc), ("python", py)):
            expected = calls.messages(server.target, calls.STREAM, body, label=server.label)
            pngs[peer] = expected
            for c, m in self.s.chart_configs:
                run, _ = self.measure(server, calls.STREAM, body, c, m, expected)
                size = len(calls.payload(expected))
                charts[("repeated", peer, c * m)] = (run, size)
                self.log("repeated chart %d streams %s: %s req/s, %s MB/s"
                         % (c * m, peer, fmt(run.ok_req_s), fmt(run.ok_req_s * size / MB)))
        # The same bytes as a graph file, streamed by idc in parity mode with the same chunk size.
        size = len(calls.payload(pngs["idc"]))
        chunk = max(len(calls.payload([m])) for m in pngs["idc"])
        graph = os.path.join(WORK, "chart-sized.bin")
        write_random(graph, size, seed=size)
        server = self.start("idc", ["--graph-file", graph, "--chunk-size", str(chunk)], label="idc chart-sized file")
        try:
            expected = calls.messages(server.target, calls.STREAM, calls.request(), label=server.label)
            for c, m in self.s.chart_configs:
                run, _ = self.measure(server, calls.STREAM, calls.request(), c, m, expected)
                charts[("file", "idc", c * m)] = (run, size)
                self.log("chart-sized file %d streams idc: %s MB/s" % (c * m, fmt(run.ok_req_s * size / MB)))
        finally:
            server.stop()
        charts["chunk"] = chunk

    # -- tuning -------------------------------------------------------------------------------

    def tuning(self):
        graphs = {}
        for size in tuning.file_sizes(self.s.smoke):
            graphs[size] = os.path.join(WORK, "graph-%d.bin" % size)
            write_random(graphs[size], size, seed=size)
        self.results["tuning"] = tuning.measure(self, IDC, PARITY_REQUEST, graphs)

    # -- the report ---------------------------------------------------------------------------

    def markdown(self, argv, elapsed_s):
        r = self.results
        out = []
        mode = "a smoke run: tiny counts that check the tool and measure nothing" if self.s.smoke else "full run"
        out.append("# Benchmarks\n")
        out.append(
            "Written by `bench/run` (%s, %s UTC, %.0f s). Every number below comes from that one run; the "
            "machine is shared and noisy, so compare within the run (the targets are ratios)."
            % (mode, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), elapsed_s)
        )
        out.append("")
        out.append("- Command: `%s`" % " ".join(shlex.quote(a) for a in ["bench/run"] + argv))
        out.append("- Machine: %s; 1-minute load average %s when the measurements began (after the builds) and "
                   "%s at the end (this run's own load included)"
                   % (report.machine(), fmt(self.load_before), fmt(report.load_average())))
        for name, version in report.versions(ROOT, TONIC_DIR):
            out.append("- %s: %s" % (name, version))
        out.append("")
        if self.sections & {"parity", "data", "memory", "chart_v2", "postgres", "market", "live"}:
            # The verdicts first, one line each, so a reader sees what was met before the method.
            targets = self.targets()
            met = sum(1 for _, m, _ in targets if m is True)
            missed = sum(1 for _, m, _ in targets if m is False)
            out.append("## Summary\n")
            out.append("Each target of this run, met or missed (%d met, %d missed); the figures behind each are in "
                       "\"Targets\", the reasons for the misses in \"What profiling found\".\n" % (met, missed))
            out.append(table(["target", "result", "measured"],
                             [[name, "met" if m is True else "**missed**" if m is False else "not measured", detail]
                              for name, m, detail in targets]))
            out.append("")
        out.append(METHOD)
        if self.sections != set(SECTIONS):
            out.append("\nOnly the section%s %s ran (`--only`): the others, and the targets they measure, are "
                       "missing." % ("s" if len(self.sections) > 1 else "",
                                     ", ".join(s for s in SECTIONS if s in self.sections)))
        if self.sections & {"parity", "data", "memory", "chart_v2", "postgres", "market", "live"}:
            out.append("\n## Targets\n")
            for name, met, detail in self.targets():
                mark = "met" if met is True else "**missed**" if met is False else "not measured"
                out.append("- %s: %s (%s)" % (name, mark, detail))
            out.append("\n## Calls that did not end with OK\n")
            out.append("Rates count only calls that returned their whole reply; idc may fail none (the run stops), "
                       "a peer's failures are listed here.\n")
            out.extend(["- %s" % line for line in self.not_ok] or ["None."])
            # What profiling found about the misses: written by hand (bench/findings.md), kept with
            # the measured tables so that a reader sees the reasons next to the verdicts.
            with open(os.path.join(ROOT, "bench", "findings.md")) as f:
                out.append("\n" + f.read().strip())
        if "parity" in self.sections:
            self.parity_markdown(out)
        if "data" in self.sections:
            self.data_markdown(out)
        if "parity" in self.sections or "data" in self.sections:
            self.processes_markdown(out)
        if "tuning" in self.sections:
            out.append(tuning.markdown(r["tuning"]))
        if "memory" in self.sections:
            out.append(memory.markdown(r["memory"]))
        if "chart_v2" in self.sections:
            out.append(chart_v2.markdown(r["chart_v2"], self.s.chart_configs))
        if "postgres" in self.sections:
            out.append(postgres.markdown(r["postgres"]))
        if "live" in self.sections:
            out.append(live.markdown(r["live"]))
        if "formula" in self.sections:
            out.append(formula.markdown(r["formula"]))
        if "indicators" in self.sections:
            out.append(indicators.markdown(r["indicators"]))
        if "market" in self.sections:
            out.append(market.markdown(r["market"]))
        return "\n".join(out) + "\n"

    def parity_markdown(self, out):
        r = self.results
        out.append("\n## Unary `GetMACD`, parity mode\n")
        rows = []
        for c, m in self.s.unary_configs:
            for peer in [p for p in UNARY_PEERS if (p, c, m) in r["unary"]]:
                run = r["unary"][(peer, c, m)]
                py = r["unary"][("python", c, m)]
                rows.append(["%d×%d" % (c, m), PEER_NAMES[peer], fmt(run.done), fmt(run.not_ok), fmt(run.ok_req_s),
                             fmt(run.percentile_ms(50)), fmt(run.percentile_ms(99)), ratio(run.ok_req_s, py.ok_req_s)])
        out.append(table(["connections × streams", "server", "calls", "not OK", "req/s", "p50 ms", "p99 ms",
                          "req/s vs Python"], rows))
        out.append("\n## `GetMACDGraph`, parity mode (a file of pseudo-random bytes)\n")
        out.append("Time to last byte is the mean per stream, from the request to the end of its stream.\n")
        rows = []
        for size in self.s.stream_files:
            for chunk in self.s.stream_chunks:
                for c, m in self.s.stream_configs:
                    for peer in PEERS:
                        run = r["streaming"][(peer, size, chunk, c * m)]
                        py = r["streaming"][("python", size, chunk, c * m)]
                        rows.append(["%d MiB" % (size // MIB), size_name(chunk), str(c * m), PEER_NAMES[peer],
                                     fmt(run.done), fmt(run.not_ok), fmt(run.ok_req_s * size / MB), fmt(run.mean_ms()),
                                     ratio(run.ok_req_s, py.ok_req_s)])
        out.append(table(["file", "chunk", "streams", "server", "calls", "not OK", "MB/s", "time to last byte ms",
                          "vs Python"], rows))

    def data_markdown(self, out):
        r = self.results
        out.append("\n## Data mode: `GetMACD` (idc `--data` against `tests/python/data_server.py`)\n")
        out.append("The S&P 500 sample (5,031 bars) and generated series of one bar per calendar day from "
                   "0001-01-01; of the 1,000,000-bar series the last 100,000 rows (idc's largest reply). "
                   "MB/s counts reply messages.\n")
        rows = []
        names = [n for n, _, _ in self.s.data_ranges] + ["%s bars" % fmt(n) for n in self.s.csv_sizes]
        for name in names:
            for c, m in self.s.data_configs:
                run, count, size = r["data"][(name, "idc", c * m)]
                py, _, py_size = r["data"][(name, "python", c * m)]
                rows.append([name, fmt(count), fmt(size), str(c * m), fmt(run.ok_req_s), fmt(run.ok_req_s * size / MB),
                             fmt(py.ok_req_s), fmt(py.ok_req_s * py_size / MB), ratio(run.ok_req_s, py.ok_req_s)])
        out.append(table(["series", "rows", "reply bytes", "streams", "idc req/s", "idc MB/s", "pandas req/s",
                          "pandas MB/s", "idc vs pandas"], rows))
        out.append("\n## Data mode: `GetMACDGraph` of 250 bars (1280x800 PNG)\n")
        ch = r["charts"]
        out.append("First call: a range never asked for before, one call at a time (mean of %d ranges, after a "
                   "warm-up range); repeated: the last 250 bars of the sample again and again. The file row is "
                   "idc in parity mode streaming a file of the size of idc's chart, in the same %s chunks.\n"
                   % (self.s.first_charts, size_name(ch["chunk"])))
        rows = []
        for peer, name in (("idc", "idc (plotters)"), ("python", "pandas + matplotlib")):
            ms, size = ch[("first", peer)]
            rows.append([name, "first call", "1", fmt(int(size)), fmt(1000.0 / ms), fmt(size / ms / 1000.0), fmt(ms)])
        for c, m in self.s.chart_configs:
            for peer, name in (("idc", "idc (plotters)"), ("python", "pandas + matplotlib")):
                run, size = ch[("repeated", peer, c * m)]
                rows.append([name, "repeated", str(c * m), fmt(size), fmt(run.ok_req_s), fmt(run.ok_req_s * size / MB),
                             fmt(run.mean_ms())])
            run, size = ch[("file", "idc", c * m)]
            rows.append(["idc, graph file of that size", "repeated", str(c * m), fmt(size), fmt(run.ok_req_s),
                         fmt(run.ok_req_s * size / MB), fmt(run.mean_ms())])
        out.append(table(["server", "call", "streams", "PNG bytes", "req/s", "MB/s", "time to last byte ms"], rows))

    def processes_markdown(self, out):
        r = self.results
        out.append("\n## Processes: start-up and memory\n")
        if "parity" in self.sections:
            out.append("Start-up: from the process's spawn to its `Server started` line (median of %d starts). RSS "
                       "(VmRSS): idle after start-up, and the largest seen (every 20 ms) during the unary runs at "
                       "each load level (run from 1×1 up, on one server, so a level's peak includes what the "
                       "lighter ones left allocated) and during the streaming runs.\n" % len(r["startup"]["idc"]))
            rows = []
            for peer in PEERS:
                rows.append([PEER_NAMES[peer], fmt(statistics.median(r["startup"][peer]) * 1000),
                             fmt(r["rss_idle"][peer] / 1024)]
                            + [fmt(r["rss_unary"][(peer, c, m)] / 1024) for c, m in self.s.unary_configs]
                            + [fmt(r["rss_stream"][peer] / 1024)])
            out.append(table(["server", "start-up ms", "RSS idle MiB"]
                             + ["RSS unary %d×%d MiB" % (c, m) for c, m in self.s.unary_configs]
                             + ["RSS streaming MiB"], rows))
        if "data" not in self.sections:
            return
        out.append("\nData mode (the CSV and MACD times are what each server logs about its start-up; the "
                   "sample is embedded in idc):\n")
        rows = []
        for key in ["sample"] + list(self.s.csv_sizes):
            for peer, name in (("idc", "idc"), ("python", "pandas data server")):
                facts = r["data_startup"][(peer, key)]
                rows.append(["S&P 500 sample" if key == "sample" else "%s bars" % fmt(key), name,
                             fmt(facts["startup_s"] * 1000), fmt(facts["rss_kib"] / 1024),
                             fmt(facts["load_ms"]) if facts["load_ms"] is not None else "not logged",
                             fmt(facts["macd_ms"]) if facts["macd_ms"] is not None else "not logged"])
        out.append(table(["data", "server", "start-up ms", "RSS after start-up MiB", "CSV read ms",
                          "MACD computed in ms"], rows))

    def targets(self):
        """(name, met or None when not measured, detail) for every target of the issue."""
        r = self.results
        found = []

        def add(name, met, detail):
            found.append((name, met, detail))

        unary = r.get("unary", {})
        for c, m in UNARY_TARGET_CONFIGS:
            idc = unary.get(("idc", c, m))
            for peer, need in (("tonic", 1.0), ("cpp", 1.0), ("python", 20.0)):
                other = unary.get((peer, c, m))
                if idc and other:
                    x = idc.ok_req_s / other.ok_req_s
                    add("unary %d×%d req/s ≥ %s× %s" % (c, m, fmt(need), PEER_NAMES[peer]), x >= need,
                        "%s×: %s against %s req/s" % (fmt(x), fmt(idc.ok_req_s), fmt(other.ok_req_s)))
                else:
                    add("unary %d×%d req/s ≥ %s× %s" % (c, m, fmt(need), PEER_NAMES[peer]), None, "not run")
            py = unary.get(("python", c, m))
            if idc and py:
                a, b = idc.percentile_ms(99), py.percentile_ms(99)
                add("unary %d×%d p99 ≤ 1/10 of Python's" % (c, m), a <= b / 10,
                    "%s ms against %s ms" % (fmt(a), fmt(b)))
        for c, m in UNARY_TARGET_CONFIGS:
            quiet, logged = unary.get(("idc", c, m)), unary.get(("idc_log", c, m))
            name = "unary %d×%d req/s with the default per-call log ≥ 0.95× quiet idc's (the line costs nothing measurable)" % (c, m)
            if quiet and logged:
                x = logged.ok_req_s / quiet.ok_req_s
                add(name, x >= 0.95, "%s×: %s against %s req/s" % (fmt(x), fmt(logged.ok_req_s), fmt(quiet.ok_req_s)))
            else:
                add(name, None, "not run")
        idc, tonic = unary.get(("idc", 1, 1)), unary.get(("tonic", 1, 1))
        if idc and tonic:
            add("unary 1×1 req/s ≥ tonic's", idc.ok_req_s >= tonic.ok_req_s,
                "%s against %s req/s" % (fmt(idc.ok_req_s), fmt(tonic.ok_req_s)))
            add("unary 1×1 p50 ≤ tonic's", idc.percentile_ms(50) <= tonic.percentile_ms(50),
                "%s against %s ms" % (fmt(idc.percentile_ms(50), 3), fmt(tonic.percentile_ms(50), 3)))
        streaming = r.get("streaming", {})
        for chunk, peer, need in ((1024, "python", 30.0), (64 * 1024, "tonic", 1.0)):
            cases = [(key, run) for key, run in streaming.items() if key[0] == "idc" and key[2] == chunk]
            name = "streaming at %s chunks ≥ %s× %s (every file and stream count)" % (size_name(chunk), fmt(need),
                                                                                      PEER_NAMES[peer])
            if not cases:
                add(name, None, "not run")
                continue
            worst = None
            for (_, size, _, streams), run in cases:
                x = run.ok_req_s / streaming[(peer, size, chunk, streams)].ok_req_s
                if worst is None or x < worst[0]:
                    worst = (x, "%d MiB, %d streams" % (size // MIB, streams))
            add(name, worst[0] >= need, "lowest %s× (%s)" % (fmt(worst[0]), worst[1]))
        data = r.get("data", {})
        for c, m in self.s.data_configs:
            whole = data.get((WHOLE_SAMPLE, "idc", c * m))
            file_run = streaming.get(("idc", MIB, 64 * 1024, c * m))
            name = "whole-history GetMACD MB/s ≥ 0.5× idc streaming a 1 MiB file in 64 KiB chunks (%d streams)" % (
                c * m)
            if whole and file_run:
                a, b = whole[0].ok_req_s * whole[2] / MB, file_run.ok_req_s * MIB / MB
                add(name, a >= 0.5 * b, "%s×: %s against %s MB/s" % (fmt(a / b), fmt(a), fmt(b)))
            else:
                add(name, None, "not run")
        ch = r.get("charts", {})
        for c, m in self.s.chart_configs:
            rep, file_run = ch.get(("repeated", "idc", c * m)), ch.get(("file", "idc", c * m))
            if rep and file_run:
                a, b = rep[0].ok_req_s * rep[1] / MB, file_run[0].ok_req_s * file_run[1] / MB
                add("repeated chart MB/s ≥ 0.9× a graph file of its size (%d streams)" % (c * m), a >= 0.9 * b,
                    "%s×: %s against %s MB/s" % (fmt(a / b), fmt(a), fmt(b)))
        if ("first", "idc") in ch:
            a, b = ch[("first", "idc")][0], ch[("first", "python")][0]
            add("first render of 250 bars ≥ 30× matplotlib's", b / a >= 30,
                "%s×: %s ms against %s ms" % (fmt(b / a), fmt(a), fmt(b)))
        starts = r.get("data_startup", {})
        big = starts.get(("idc", 1_000_000))
        if big:
            if big["macd_ms"] is None:
                add("MACD over 1,000,000 bars under 50 ms", None,
                    "TODO: idc does not log it; add the start-up line `computed MACD for N bars in X ms`")
            else:
                add("MACD over 1,000,000 bars under 50 ms", big["macd_ms"] < 50, "%s ms" % fmt(big["macd_ms"]))
            add("start-up with the 1,000,000-bar CSV under 1 s", big["startup_s"] < 1.0,
                "%s ms" % fmt(big["startup_s"] * 1000))
            add("RSS with the 1,000,000-bar CSV under 100 MB", big["rss_kib"] * 1024 / MB < 100,
                "%s MB (%s MiB)" % (fmt(big["rss_kib"] * 1024 / MB), fmt(big["rss_kib"] / 1024)))
        else:
            add("MACD, start-up and RSS with the 1,000,000-bar CSV", None, "not run")
        rss = r.get("rss_unary", {})
        if ("idc", 16, 8) in rss:
            # The issue measured 16 MB at 16×8; 64×16 is printed beside it, not held to the target.
            mb = rss[("idc", 16, 8)] * 1024 / MB
            heavy = rss.get(("idc", 64, 16))
            add("RSS under parity load at 16×8 ≤ 25 MB", mb <= 25, "%s MB at 16×8 (%s MiB)%s" % (
                fmt(mb), fmt(rss[("idc", 16, 8)] / 1024),
                "; %s MB at 64×16" % fmt(heavy * 1024 / MB) if heavy is not None else ""))
        else:
            add("RSS under parity load at 16×8 ≤ 25 MB", None, "not run")
        for target in memory.targets(r.get("memory")):
            add(*target)
        for target in chart_v2.targets(r.get("chart_v2"), self.s.chart_configs):
            add(*target)
        add(*postgres.target(r.get("postgres")))
        for target in market.targets(r.get("market")):
            add(*target)
        for target in live.targets(r.get("live")):
            add(*target)
        return found


METHOD = """## How

- Servers: each on 127.0.0.1, port 0 (through `setpriv --pdeathsig TERM`, so that none outlives the
  tool), default threads (idc with `--metrics-addr 127.0.0.1:0` and
  `RUST_LOG=info,idc::rpc=warn`: no line per call, as the peers write none; the Python servers with
  grpcio's `ThreadPoolExecutor(max_workers=10)`, as the article's). Started anew for every chunk size
  and graph file. The unary rows also measure idc as users run it, `RUST_LOG` at its default
  (`info`: one `idc::rpc` line a call, to the log file), interleaved with the quiet one.
- Load: `h2load -n N -c CONNECTIONS -m STREAMS -H 'content-type: application/grpc' -H 'te: trailers'
  -d BODY --log-file LOG http://127.0.0.1:PORT/SERVICE/METHOD`, BODY being the 5-byte gRPC prefix and
  the serialized request; one thread (h2load's default), so on two cores the client has one and the
  server the other. Each run follows a warm-up whose rate sets N for about 2 s; percentiles and
  time to last byte come from the per-request log.
- Checks, before any timing: every peer's `GetMACD` reply and `GetMACDGraph` messages are the Python
  server's byte for byte (raw calls, no deserialization); idc's data-mode rows equal the pandas
  server's (same dates, floats within 1e-5 relative). Around every run: a raw call before and after
  returns those bytes with OK; h2load's DATA bytes are exactly the calls times the framed reply (a
  call failed with a gRPC status has no message, which h2load would count as a success); idc's
  per-code counters (`/metrics`) show no call but OK.
- Units: MB/s are 10^6 bytes of reply messages (file or PNG bytes for streams) per second."""


def size_name(n):
    return "%d KiB" % (n // 1024) if n >= 1024 else "%d B" % n


def write_random(path, size, seed):
    """A file of size pseudo-random bytes (same seed, same bytes), rewritten only when different."""
    data = random.Random(seed).randbytes(size)
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def sample_dates():
    with open(SAMPLE_CSV) as f:
        header = f.readline().strip().split(",")
        column = header.index("date")
        return sorted(line.split(",")[column] for line in f if line.strip())


EPOCH = datetime.date(1, 1, 1)


def day(i):
    """The date of bar i of a generated series: one bar per calendar day from 0001-01-01."""
    return (EPOCH + datetime.timedelta(days=i)).isoformat()


def bars_csv(count):
    """A generated CSV of count daily bars (a seeded random walk), made once under target/bench."""
    import numpy as np

    path = os.path.join(DATA, "bars-%d-v1.csv" % count)
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(count)
    open_, high, low, close, volume = walk.ohlcv(rng, count, 100.0, 0.01, 0.003, 0.005, (1_000, 1_000_000))
    dates = np.datetime_as_string(np.datetime64("0001-01-01") + np.arange(count), unit="D")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("date,open,high,low,close,volume\n")
        for i in range(count):
            f.write("%s,%.4f,%.4f,%.4f,%.4f,%d\n" % (dates[i], open_[i], high[i], low[i], close[i], volume[i]))
    os.replace(tmp, path)
    return path


# What a data-mode server logs about its start-up: idc's `catalog PATH: 1 instrument, N bars, ...;
# loaded in X ms` and `... serve SYMBOL (NAME): N bars from A to B; MACD computed in Y ms`, the data server's `loaded N bars from PATH in X ms;
# computed MACD for N bars in Y ms`, or just `computed MACD for N bars in Y ms`.
MACD_LOGGED = (
    r"(?P<bars>[\d,]+) bars from \S+ to \S+;.*?MACD computed in (?P<ms>[\d.]+) ?ms",
    r"computed MACD for (?P<bars>[\d,]+) bars in (?P<ms>[\d.]+) ?ms",
)
LOAD_LOGGED = (r"skipped; loaded in (?P<ms>[\d.]+) ?ms", r"loaded \d+ bars from \S+ in (?P<ms>[\d.]+) ?ms")


def startup_facts(server, bars):
    """Start-up time, RSS right after it, and the CSV load and MACD times the server logged (None
    when it logs none)."""
    facts = {"startup_s": server.startup_s, "rss_kib": server.rss_kib(), "macd_ms": None, "load_ms": None}
    for pattern in MACD_LOGGED:
        match = server.wait_stderr(pattern, limit=0.5)
        if match:
            if int(match.group("bars").replace(",", "")) != bars:
                raise BenchError("%s logged MACD for %s bars, not %d" % (server.label, match.group("bars"), bars))
            facts["macd_ms"] = float(match.group("ms"))
            break
    for pattern in LOAD_LOGGED:
        match = server.wait_stderr(pattern, limit=0.1)
        if match:
            facts["load_ms"] = float(match.group("ms"))
            break
    return facts


def build(no_build, peers=True):
    """Builds idc and, with `peers`, the C++ and the tonic peers (each is quick when up to date)."""
    steps = [(["cargo", "build", "--release", "--locked", "--bins"], IDC)]
    if peers:
        steps += [
            ([os.path.join(ROOT, "bench", "cpp", "build.sh"), CPP], CPP),
            ([os.path.join(TONIC_DIR, "build.sh")], TONIC),
        ]
    for argv, binary in steps:
        if no_build:
            if not os.access(binary, os.X_OK):
                raise BenchError("--no-build, but %s is not built (run without --no-build)" % binary)
            continue
        if not os.path.exists(argv[0]) and argv[0] != "cargo":
            raise BenchError("%s is missing: the peer it builds is needed" % argv[0])
        print("bench: %s" % " ".join(argv), file=sys.stderr, flush=True)
        # The builds' own output goes to stderr; a first build of gRPC C-core takes minutes.
        done = subprocess.run(argv, cwd=ROOT, stdout=sys.stderr, timeout=3600, check=False)
        if done.returncode != 0:
            raise BenchError("`%s` failed with status %d" % (" ".join(argv), done.returncode))
        if not os.access(binary, os.X_OK):
            raise BenchError("`%s` did not make %s" % (" ".join(argv), binary))


def main(argv):
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true",
                        help="every code path with tiny counts; writes target/bench/BENCHMARKS-smoke.md")
    parser.add_argument("--no-build", action="store_true", help="use the binaries as built (they must exist)")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                        help="run only this section (repeatable; %s; default: all). The report then goes to "
                             "target/bench/, never BENCHMARKS.md" % ", ".join(SECTIONS))
    parser.add_argument("--output", help="where to write the report (default: BENCHMARKS.md; "
                                         "target/bench/BENCHMARKS-smoke.md with --smoke; "
                                         "target/bench/BENCHMARKS[-smoke]-only-SECTIONS.md with --only)")
    args = parser.parse_args(argv)
    sections = [s for s in SECTIONS if s in (args.only or SECTIONS)]
    if args.output:
        output = args.output
    elif args.only:
        # A partial report must never replace the full one.
        output = os.path.join(BENCH_DIR, "BENCHMARKS%s-only-%s.md" % ("-smoke" if args.smoke else "",
                                                                      "-".join(sections)))
    else:
        output = os.path.join(BENCH_DIR, "BENCHMARKS-smoke.md") if args.smoke else os.path.join(ROOT, "BENCHMARKS.md")
    began = time.monotonic()
    # SIGTERM and SIGHUP end the run as Ctrl-C does: through the `finally` that stops the servers.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: sys.exit(128 + signum))
    for folder in (WORK, LOGS, DATA):
        os.makedirs(folder, exist_ok=True)
    try:
        h2load = load.ensure_h2load()
        # Only the parity section runs the C++ and tonic peers.
        build(args.no_build, peers="parity" in sections)
        bench = Bench(Settings(args.smoke), h2load, sections)
        if "parity" in sections:
            bench.parity()
        if "data" in sections:
            bench.data()
        if "tuning" in sections:
            began_tuning = time.monotonic()
            bench.tuning()
            bench.log("tuning section: %.0f s" % (time.monotonic() - began_tuning))
        if "memory" in sections:
            began_memory = time.monotonic()
            bench.results["memory"] = memory.measure(bench, DATA)
            bench.log("memory section: %.0f s" % (time.monotonic() - began_memory))
        if "chart_v2" in sections:
            bench.results["chart_v2"] = chart_v2.measure(bench, sample_dates(), WORK, write_random)
            bench.log("chart_v2 section: %.0f s" % bench.results["chart_v2"]["seconds"])
        if "postgres" in sections:
            bench.results["postgres"] = postgres.measure(bench, DATA, IDC)
            bench.log("postgres section: %.0f s" % bench.results["postgres"]["seconds"])
        if "live" in sections:
            bench.results["live"] = live.measure(bench)
            bench.log("live section: %.0f s" % bench.results["live"]["seconds"])
        if "formula" in sections:
            bench.results["formula"] = formula.measure(bench)
            bench.log("formula section: %.0f s" % bench.results["formula"]["seconds"])
        if "indicators" in sections:
            bench.results["indicators"] = indicators.measure(bench)
        if "market" in sections:
            bench.results["market"] = market.measure(bench)
            bench.log("market section: %.0f s" % bench.results["market"]["seconds"])
        text = bench.markdown(argv, time.monotonic() - began)
    except BenchError as err:
        print("bench: FAILED: %s" % err, file=sys.stderr, flush=True)
        print("bench: server logs are in %s" % LOGS, file=sys.stderr)
        return 1
    finally:
        stop_all()
    print(text)
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, output)
    print("bench: wrote %s in %.0f s" % (os.path.relpath(output, ROOT), time.monotonic() - began), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
