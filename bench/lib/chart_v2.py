"""The chart_v2 section (issue 24, part 5): idc.v2's `Chart` of the S&P 500's last 250 bars with
MA(5), MA(10), MA(20) and BOLL over the candles and VOL, MACD and KDJ panels, 1280x800.

- First render: `cargo bench --bench chart_v2` (bench/chart_v2.rs) draws it through the domain and
  runs mplfinance 0.12 drawing the same chart (bench/mplfinance_chart.py); both PNGs are decoded
  and idc's panels checked there. Its table goes into the report as printed; the target is idc at
  least 50x faster (best of the runs on each side).
- Over gRPC, on `idc_server --data sample`: first calls of windows never asked before (one at a
  time), then the cached chart (the same request again) under h2load, against idc in parity mode
  streaming a graph file of the PNG's size via GetMACDGraph in the same chunks, as the data
  section does for v1's repeated chart. Before timing, the server's chart must be the domain's PNG
  byte for byte (so it has the panels the bench checked) and decode to 1280x800 in its header.
"""

import json
import os
import struct
import time

import calls
import live
import load
import memory
from report import fmt, table
from servers import BenchError

BARS = 250
OVERLAYS = (("MA", (5.0,)), ("MA", (10.0,)), ("MA", (20.0,)), ("BOLL", ()))
PANELS = (("VOL", ()), ("MACD", ()), ("KDJ", ()))
FIRST_TARGET = 50.0
CACHED_TARGET = 0.9  # "as fast as a file of its size", within the noise the v1 row allows


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    """A length-delimited field (strings, bytes, messages, packed repeated)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _spec(name, params):
    """A serialized IndicatorSpec: the built-in's name and its packed double params."""
    body = _field(1, name.encode())
    if params:
        body += _field(2, struct.pack("<%dd" % len(params), *params))
    return body


def chart_request(symbol, start, end, width=1280, height=800):
    """A serialized idc.v2 ChartRequest of the issue's chart (the bench has no v2 stubs)."""
    body = _field(1, symbol.encode()) + _field(2, start.encode()) + _field(3, end.encode())
    body += b"".join(_field(4, _spec(*spec)) for spec in OVERLAYS)
    body += b"".join(_field(5, _spec(*spec)) for spec in PANELS)
    return body + _varint(9 << 3) + _varint(width) + _varint(10 << 3) + _varint(height)


def png_of(messages):
    """The PNG bytes of a Chart stream: its ChartChunks' `png` fields, in order."""
    return b"".join(value for m in messages for number, value in memory.fields(m) if number == 1)


def png_size(png):
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise BenchError("the v2 chart is not a PNG (it starts %r)" % png[:16])
    return struct.unpack(">II", png[16:24])


def first_render(bench, png_path):
    """`cargo bench --bench chart_v2`: its table, its figures (the CHART_V2 line) and its time."""
    result = live.cargo_bench(bench, "chart_v2", "CHART_V2 ", ["--out", png_path])
    lines = result["tables"].splitlines()
    facts = next(line[len("CHART_V2 "):] for line in lines if line.startswith("CHART_V2 "))
    tables = "\n".join(line for line in lines if not line.startswith("CHART_V2 ")).strip()
    return {"tables": tables, "facts": json.loads(facts), "seconds": result["seconds"]}


def measure(bench, dates, work_dir, write_random):
    """The section's results; `dates` are the sample's S&P 500 dates, oldest first, and
    `write_random(path, size, seed)` writes the graph file (bench.py's)."""
    began = time.monotonic()
    domain_png = os.path.join(work_dir, "chart-v2-domain.png")
    result = first_render(bench, domain_png)
    facts = result["facts"]
    if (facts["start"], facts["end"]) != (dates[-BARS], dates[-1]):
        raise BenchError("chart_v2: the bench drew %s..%s, not the sample's last %d bars" % (facts["start"],
                                                                                           facts["end"], BARS))
    with open(domain_png, "rb") as f:
        expected_png = f.read()
    bench.log("chart v2 first render: idc %s ms, mplfinance %s ms (best of %d)" % (
        fmt(facts["idc_best_ms"]), fmt(facts["mpf_best_ms"]), facts["runs"]))
    server = bench.start("idc", ["--data", "sample"], label="idc chart v2 sample")
    grpc = result["grpc"] = {}
    try:
        # First calls: windows of 250 bars never asked before, after a warm-up window.
        windows = [(dates[-BARS - 300 * k], dates[-1 - 300 * k]) for k in range(1, bench.s.first_charts + 2)]
        times = []
        before = bench.counters(server)
        for i, (start, end) in enumerate(windows):
            body = chart_request("SPX", start, end)
            run = load.run(bench.h2load, server.target, calls.CHART, body, 1, 1, 1, timeout_s=120)
            again = calls.messages(server.target, calls.CHART, body, label=server.label)
            if run.data_bytes != load.framed_size(again) or png_size(png_of(again)) != (1280, 800):
                raise BenchError("%s: the first chart of %s..%s was not a whole 1280x800 PNG" % (server.label, start,
                                                                                               end))
            if i > 0:
                times.append(run.latencies_us[0] / 1000.0)
        bench.check_counters(server, before, calls.CHART, 2 * len(windows))
        grpc["first_ms"] = sum(times) / len(times)
        grpc["first_calls"] = len(times)
        bench.log("chart v2 first call over gRPC: %s ms (mean of %d)" % (fmt(grpc["first_ms"]), len(times)))
        # The cached chart: the sample's last 250 bars, the domain's picture byte for byte.
        body = chart_request("SPX", dates[-BARS], dates[-1])
        expected = calls.messages(server.target, calls.CHART, body, label=server.label)
        png = png_of(expected)
        if png != expected_png or png_size(png) != (1280, 800):
            raise BenchError("%s: the v2 chart (%d bytes, %s) is not the domain's checked PNG (%d bytes)" % (
                server.label, len(png), png_size(png), len(expected_png)))
        bench.log("chart v2 over gRPC: the domain's PNG byte for byte (%d bytes, %d chunks)" % (len(png),
                                                                                              len(expected)))
        grpc["size"], grpc["chunk"] = len(png), max(len(png_of([m])) for m in expected)
        for c, m in bench.s.chart_configs:
            run, _ = bench.measure(server, calls.CHART, body, c, m, expected)
            grpc[("cached", c * m)] = run
            bench.log("chart v2 cached, %d streams: %s req/s, %s MB/s" % (c * m, fmt(run.ok_req_s),
                                                                          fmt(run.ok_req_s * len(png) / 1e6)))
    finally:
        server.stop()
    # The same number of bytes as a graph file, in the same chunks, from idc's parity mode.
    graph = os.path.join(work_dir, "chart-v2-sized.bin")
    write_random(graph, grpc["size"], seed=grpc["size"])
    server = bench.start("idc", ["--graph-file", graph, "--chunk-size", str(grpc["chunk"])],
                         label="idc chart-v2-sized file")
    try:
        expected = calls.messages(server.target, calls.STREAM, calls.request(), label=server.label)
        for c, m in bench.s.chart_configs:
            run, _ = bench.measure(server, calls.STREAM, calls.request(), c, m, expected)
            grpc[("file", c * m)] = run
            bench.log("chart-v2-sized file, %d streams: %s MB/s" % (c * m, fmt(run.ok_req_s * grpc["size"] / 1e6)))
    finally:
        server.stop()
    result["seconds"] = time.monotonic() - began
    return result


def targets(result, configs):
    """(name, met or None, detail) of the issue's chart v2 targets."""
    first = "chart v2 first render ≥ %s× mplfinance 0.12's (best of the runs)" % fmt(FIRST_TARGET)
    cached = ["chart v2 cached MB/s ≥ %s× a graph file of its size (%d streams)" % (fmt(CACHED_TARGET), c * m)
              for c, m in configs]
    if not result:
        return [(first, None, "not run")] + [(name, None, "not run") for name in cached]
    f = result["facts"]
    x = f["mpf_best_ms"] / f["idc_best_ms"]
    found = [(first, x >= FIRST_TARGET, "%s×: %s ms against %s ms" % (fmt(x), fmt(f["idc_best_ms"]),
                                                                       fmt(f["mpf_best_ms"])))]
    g = result["grpc"]
    for name, (c, m) in zip(cached, configs):
        a, b = (g[(kind, c * m)].ok_req_s * g["size"] / 1e6 for kind in ("cached", "file"))
        found.append((name, a >= CACHED_TARGET * b, "%s×: %s against %s MB/s" % (fmt(a / b), fmt(a), fmt(b))))
    return found


def markdown(result, configs):
    g = result["grpc"]
    out = ["\n## Chart v2: first render and the cached chart\n"]
    out.append(
        "The S&P 500's last %d bars (%s to %s) as idc.v2 `Chart` draws them: candles, MA(5), MA(10), MA(20) "
        "and BOLL(20,2) over them, VOL, MACD(12,26,9) and KDJ(9,3,3) panels, 1280x800 PNG. First render: "
        "`cargo bench --bench chart_v2` (bench/chart_v2.rs; %.0f s with its build check), the series computed "
        "from the bars, drawn and encoded as the server does for a chart it has not cached, against "
        "mplfinance 0.12 drawing the same chart (bench/mplfinance_chart.py: the indicators in pandas, a fresh "
        "`mpf.plot` figure saved to an in-memory PNG per call); both PNGs decoded to 1280x800 and idc's "
        "panels and legend checked first.\n" % (BARS, result["facts"]["start"], result["facts"]["end"],
                                                result["seconds"]))
    out.append(result["tables"])
    out.append(
        "\nOver gRPC (`idc_server --data sample`): first calls of %d windows of %d bars never asked before, "
        "one at a time (mean, after a warm-up window); cached: the same request again and again (its PNG is "
        "the domain's above, byte for byte); the file row is idc in parity mode streaming a file of the "
        "PNG's size via GetMACDGraph in the same %s-byte chunks.\n" % (g["first_calls"], BARS, fmt(g["chunk"])))
    rows = [["idc v2 Chart", "first call", "1", fmt(g["size"]), fmt(1000.0 / g["first_ms"]), "—",
             fmt(g["first_ms"])]]
    for c, m in configs:
        for kind, name in (("cached", "idc v2 Chart"), ("file", "idc, graph file of that size")):
            run = g[(kind, c * m)]
            rows.append([name, "cached" if kind == "cached" else "repeated", str(c * m), fmt(g["size"]),
                         fmt(run.ok_req_s), fmt(run.ok_req_s * g["size"] / 1e6), fmt(run.mean_ms())])
    out.append(table(["server", "call", "streams", "PNG bytes", "req/s", "MB/s", "time to last byte ms"], rows))
    return "\n".join(out)
