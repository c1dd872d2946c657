"""The market section (issue 24, part 2, "the market in one call"): `Compute` of MACD, RSI, BOLL
and KDJ for every instrument of a generated catalog (2,000 × 2,500 daily bars, 5,000,000 bars;
20 × 250 in the smoke run), read to the end by one client, against the Python peer of the same
proto (tests/python/v2_peer.py: grpcio, pandas, TA-Lib); and one typical call of 1 symbol × 250
bars at 16 concurrent callers, p50 and p99.

The catalog is memory.py's seeded random-walk files (bench/lib/walk.py), the ones the postgres
section loads, written once under target/bench/data and reused; the one-instrument catalog of
250 bars likewise. idc_server (with its metrics endpoint) and the peer are started on each,
then `cargo bench --bench market` (bench/market.rs) checks the two servers' values equal (1e-9,
TALIB and CN) and times them, printing JSON. idc's call counters must show no call but OK.
idc's default limits take the market call as one request (at most 10,000 symbols a request and
4 MiB a `Series`; 2,500 bars with 15 columns are about 330 KB), so no flag is changed.
"""

import json
import os
import subprocess
import sys
import time

import calls
import memory
from report import fmt, table
from servers import BenchError, Server

ROOT = calls.ROOT
PEER = os.path.join(ROOT, "tests", "python", "v2_peer.py")
LOGS = os.path.join(ROOT, "target", "bench", "logs")
COMPUTE = "/idc.v2.Indicators/Compute"
TARGET_RATIO = 20.0
TARGET_P99_MS = 1.0


def sizes(smoke):
    """(instruments, bars each) of the market catalog."""
    return (20, 250) if smoke else (2_000, 2_500)


def start_peer(bench, directory, label):
    """The Python peer on directory, as bench.start starts the other Python servers."""
    bench.server_count += 1
    log = os.path.join(LOGS, "%02d-%s.log" % (bench.server_count, label.replace(" ", "_")))
    argv = [sys.executable, PEER, "--host", "127.0.0.1", "--port", "0", "--data", directory]
    return Server(label, argv, {"PYTHONUTF8": "1"}, log)


def measure(bench):
    files, bars = sizes(bench.s.smoke)
    began = time.monotonic()
    data = os.path.join(ROOT, "target", "bench", "data")
    market_dir, _ = memory.catalog(data, files, bars)
    one_dir, _ = memory.catalog(data, 1, 250)
    bench.log("market: catalogs of %s × %s and 1 × 250 bars ready in %.1f s" % (fmt(files), fmt(bars),
                                                                                  time.monotonic() - began))
    servers = []
    try:
        for directory, what in ((market_dir, "market"), (one_dir, "one")):
            servers.append(bench.start("idc", ["--data", directory], label="idc %s" % what))
            servers.append(start_peer(bench, directory, "v2_peer %s" % what))
        before = [bench.counters(s) for s in servers[::2]]
        argv = ["cargo", "bench", "--locked", "--bench", "market", "--", "--idc", servers[0].target, "--python",
                servers[1].target, "--one-idc", servers[2].target, "--one-python", servers[3].target,
                "--idc-pid", str(servers[0].pid), "--python-pid", str(servers[1].pid)]
        argv += ["--smoke"] if bench.s.smoke else []
        bench.log(" ".join(argv))
        # cargo's output and the bench's progress go to stderr; the bench prints its JSON on stdout.
        done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, timeout=3600,
                              check=False)
        if done.returncode != 0:
            raise BenchError("`%s` failed with status %d (a check failed, or a call did): its output:\n%s"
                             % (" ".join(argv[:6]), done.returncode, done.stdout[-2000:]))
        result = json.loads(done.stdout.strip().splitlines()[-1])
        for server, counted in zip(servers[::2], before):
            server.check_alive()
            bench.check_counters(server, counted, COMPUTE, 0)
        for server in servers[1::2]:
            server.check_alive()
    finally:
        for server in servers:
            server.stop()
    result["seconds"] = time.monotonic() - began
    return result


def ratio(result):
    idc, py = (result["peers"][p]["market"]["bars_per_s"] for p in ("idc", "python"))
    return idc / py


def targets(result):
    """(name, met or None, detail) of the issue's two targets."""
    name = "market: bars/s of one Compute of every instrument ≥ %g× the Python peer's" % TARGET_RATIO
    p99 = "market: 1 symbol × 250 bars, p99 < %g ms at 16 concurrent calls" % TARGET_P99_MS
    if not result:
        return [(name, None, "not run"), (p99, None, "not run")]
    idc, py = result["peers"]["idc"], result["peers"]["python"]
    x = ratio(result)
    return [
        (name, x >= TARGET_RATIO, "%s×: %s against %s bars/s over %s bars" % (
            fmt(x), fmt(idc["market"]["bars_per_s"]), fmt(py["market"]["bars_per_s"]), fmt(result["bars"]))),
        (p99, idc["one"]["p99_ms"] < TARGET_P99_MS, "%s ms (p50 %s ms; the Python peer's p99 %s ms)" % (
            fmt(idc["one"]["p99_ms"]), fmt(idc["one"]["p50_ms"]), fmt(py["one"]["p99_ms"]))),
    ]


def markdown(result):
    r, peers = result, result["peers"]
    names = {"idc": "idc", "python": "Python peer (grpcio, pandas, TA-Lib)"}
    out = ["\n## The market in one call (v2 Compute)\n"]
    out.append(
        "`cargo bench --bench market` (bench/market.rs; %.0f s with the servers' start-up and the build check) "
        "against idc_server and tests/python/v2_peer.py, each on a generated catalog of %s instruments × %s "
        "seeded random-walk daily bars (memory.py's files) and on one of a single instrument of %s bars. Checked "
        "first, both conventions (TALIB: TA-Lib; CN: MyTT, its rounding removed), every request below: same "
        "symbols, dates, bars and columns, every value equal to 1e-9 (%s values in all). The market call is one "
        "`Compute` with no symbols (every instrument), MACD(12,26,9), RSI(14), BOLL(20,2) and KDJ(9,3,3) in "
        "TALIB, whole history, read to the end and decoded by one grpcio client (the same for both servers), "
        "timed from the call to the end of its stream, median of the runs; bars/s are the bars delivered over "
        "that time. The client shares the machine's two cores with the server; the CPU seconds a call of each "
        "(the server's from /proc/PID/stat, the client's from getrusage) say how much of them each took.\n" % (
            r["seconds"], fmt(r["instruments"]), fmt(r["bars"] // r["instruments"]), fmt(r["one_bars"]),
            fmt(sum(c["values"] for c in r["checks"]))))
    rows = []
    for peer in ("idc", "python"):
        m = peers[peer]["market"]
        rows.append([names[peer], fmt(m["bars"]), fmt(m["total_s"], 3), fmt(m["bars_per_s"]),
                     "%s×" % fmt(m["bars_per_s"] / peers["python"]["market"]["bars_per_s"]),
                     fmt(m["server_cpu_s"], 2), fmt(m["client_cpu_s"], 2), ", ".join(fmt(x, 3) for x in m["runs_s"])])
    out.append(table(["server", "bars delivered", "total s", "bars/s", "vs Python", "server CPU s a call",
                      "client CPU s a call", "every run s"], rows))
    out.append(
        "\nOne call, %d callers on a connection each, one call after another: `one` is the whole of the "
        "single 250-bar instrument (the issue's 1 symbol × 250 bars); `tail` the last 250 bars (from %s) of "
        "%s in the market catalog, whose indicators are computed over its %s bars, as every call computes "
        "them over the whole history. Times from the call to the end of its stream, after a warm-up.\n"
        % (r["callers"], r["tail_start"], r["tail_symbol"], fmt(r["bars"] // r["instruments"])))
    rows = []
    for what in ("one", "tail"):
        for peer in ("idc", "python"):
            c = peers[peer][what]
            rows.append([what, names[peer], fmt(c["calls"]), fmt(c["p50_ms"], 2), fmt(c["p99_ms"], 2),
                         fmt(c["max_ms"], 2), fmt(c["calls_per_s"])])
    out.append(table(["call", "server", "calls", "p50 ms", "p99 ms", "max ms", "calls/s"], rows))
    out.append("")
    out.append(table(["target", "result", "measured"],
                     [[name, "met" if met else "**missed**", detail] for name, met, detail in targets(r)]))
    return "\n".join(out)
