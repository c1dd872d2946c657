"""The indicators section (issue 24, part 1): idc-core's twenty built-ins per bar, in both
conventions, batch (`Indicator::compute`) and incremental (the live `Stream` stepped bar by bar),
beside TA-Lib (its Python binding on numpy arrays, the C call timed: over 1M bars the call's own
overhead is noise) and the Rust crates ta 0.5, kand 0.2 and yata 0.7 (bench/indicators/, a crate
of its own). Both sides read one seeded random walk that this file writes once, so TA-Lib sees the
bars idc sees. Values are checked before anything is timed: the Rust side checks the peer crates
against idc and the stream against the batch (bit for bit), this side checks TA-Lib against idc's
talib convention, all to 1e-9 (relative; absolute below 1). `--smoke`: 20,000 bars, one round.
"""

import json
import os
import subprocess
import sys
import time

import calls
import walk
from report import table
from servers import BenchError

CRATE = os.path.join(calls.ROOT, "bench", "indicators")
BINARY = os.path.join(CRATE, "target", "release", "idc-bench-indicators")
PEERS = ("TA-Lib", "ta", "kand", "yata")
TOLERANCE = 1e-9
# Disagreements with TA-Lib that are known and reported rather than fatal (bench/findings.md, "v2
# indicators per bar"); the row shows the first bar that differs. None since idc's talib MFI
# follows TA-Lib 0.6's loop: every row with a TA-Lib function must agree.
KNOWN = set()
# Where bench/run keeps generated data and outputs.
DATA = os.path.join(calls.ROOT, "target", "bench", "data")
OUT = os.path.join(calls.ROOT, "target", "bench", "work", "indicators-out")


def talib_calls(talib, o, h, l, c, v):
    """idc's talib convention at its defaults, as TA-Lib computes it: name -> (function giving the
    columns, the idc outputs they match). Keyword arguments only: a positional period lands in
    another parameter of some functions."""
    sma = talib.SMA

    def after(column, n):
        return [column, sma(column, timeperiod=n)]

    return {
        "MA": (lambda: [sma(c, timeperiod=5)], [0]),
        "EMA": (lambda: [talib.EMA(c, timeperiod=12)], [0]),
        "MACD": (lambda: list(talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)), [0, 1, 2]),
        "KDJ": (lambda: list(talib.STOCH(h, l, c, fastk_period=9, slowk_period=3, slowk_matype=0,
                                         slowd_period=3, slowd_matype=0)), [0, 1]),
        "RSI": (lambda: [talib.RSI(c, timeperiod=14)], [0]),
        "BOLL": (lambda: list(talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)), [0, 1, 2]),
        "ATR": (lambda: [talib.ATR(h, l, c, timeperiod=14)], [0]),
        "CCI": (lambda: [talib.CCI(h, l, c, timeperiod=14)], [0]),
        "WR": (lambda: [talib.WILLR(h, l, c, timeperiod=14)], [0]),
        "DMI": (lambda: [talib.PLUS_DI(h, l, c, timeperiod=14), talib.MINUS_DI(h, l, c, timeperiod=14),
                         talib.ADX(h, l, c, timeperiod=14), talib.ADXR(h, l, c, timeperiod=14)], [0, 1, 2, 3]),
        "OBV": (lambda: [talib.OBV(c, v)], [0]),
        "MFI": (lambda: [talib.MFI(h, l, c, v, timeperiod=14)], [0]),
        "ROC": (lambda: after(talib.ROC(c, timeperiod=12), 6), [0, 1]),
        "MTM": (lambda: after(talib.MOM(c, timeperiod=12), 6), [0, 1]),
        "TRIX": (lambda: after(talib.TRIX(c, timeperiod=12), 20), [0, 1]),
    }


def write_bars(path, count):
    """The walk of bench/lib/walk.py (seed 24), as the Rust side reads it: a little-endian u64
    count, then open, high, low, close, volume as little-endian f64 columns. The close moves 0.1%
    a bar (a tenth of the other sections' walks): over 1M bars a 1% walk wanders over decades of
    price, and a running sum kept from 100 down to 2 (ta's SMA) drifts past 1e-9 of the value."""
    import numpy as np

    if not os.path.exists(path):
        rng = np.random.default_rng(24)
        columns = walk.ohlcv(rng, count, 100.0, 0.001, 0.003, 0.005, (1_000, 1_000_000))
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(np.uint64(count).astype("<u8").tobytes())
            for column in columns:
                f.write(np.asarray(column, dtype="<f8").tobytes())
        os.replace(tmp, path)
    with open(path, "rb") as f:
        raw = f.read()
    n = int(np.frombuffer(raw[:8], dtype="<u8")[0])
    return [np.frombuffer(raw, dtype="<f8", count=n, offset=8 + 8 * n * k) for k in range(5)]


def same(ours, theirs):
    """Equal NaN for NaN, numbers within TOLERANCE; the index of the first difference or None."""
    import numpy as np

    nan = np.isnan(ours)
    bad = (nan != np.isnan(theirs)) | (~nan & ~(np.abs(ours - theirs) <= TOLERANCE * np.maximum(
        1.0, np.maximum(np.abs(ours), np.abs(theirs)))))
    return int(np.argmax(bad)) if bad.any() else None


def measure(bench):
    import numpy as np
    import talib

    bars = 20_000 if bench.s.smoke else 1_000_000
    rounds = 1 if bench.s.smoke else 7
    began = time.monotonic()
    os.makedirs(DATA, exist_ok=True)
    path = os.path.join(DATA, "indicator-bars-%d-v2.bin" % bars)
    o, h, l, c, v = write_bars(path, bars)
    argv = ["cargo", "build", "--release", "--locked"]
    bench.log("%s (in bench/indicators)" % " ".join(argv))
    done = subprocess.run(argv, cwd=CRATE, stdout=sys.stderr, timeout=3600, check=False)
    if done.returncode != 0:
        raise BenchError("`%s` in bench/indicators failed with status %d" % (" ".join(argv), done.returncode))
    argv = [BINARY, "--bars", path, "--rounds", str(rounds), "--out", OUT]
    bench.log(" ".join(argv))
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=3600,
                          check=False)
    if done.returncode != 0:
        raise BenchError("the indicators bench failed (status %d): %s" % (done.returncode, done.stderr[-2000:]))
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    rows = {}
    for line in lines:
        key = (line["indicator"], line["convention"])
        row = rows.setdefault(key, {"peers": {}})
        if line["kind"] == "idc":
            row.update(label=line["label"], batch=line["batch_ns"], stream=line["stream_ns"])
        else:
            row["peers"][line["peer"]] = (line["ns"], line["match"], line["from"], line["how"])
    for name, (compute, outputs) in talib_calls(talib, o, h, l, c, v).items():
        theirs = compute()
        ours = np.fromfile(os.path.join(OUT, "%s.f64" % name), dtype="<f8").reshape(-1, bars)
        match, start = "equal", 0
        for column, k in zip(theirs, outputs):
            at = same(ours[k], np.asarray(column))
            if at is not None and name in KNOWN:
                match, start = "known", at
                bench.log("indicators: TA-Lib's %s differs from idc's from bar %d (known)" % (name, at))
            elif at is not None:
                raise BenchError("TA-Lib's %s output %d differs from idc's talib convention at bar %d: %r against %r"
                                 % (name, k, at, column[at], ours[k][at]))
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            compute()
            best = min(best, (time.perf_counter_ns() - t0) / bars)
        rows[(name, "talib")]["peers"]["TA-Lib"] = (best, match, start, "batch")
    bench.log("indicators: every peer checked against idc; %d rows" % len(rows))
    order = [(r["indicator"], r["convention"]) for r in lines if r["kind"] == "idc"]
    return {"rows": [(key, rows[key]) for key in order], "bars": bars, "rounds": rounds,
            "seconds": time.monotonic() - began}


def cell(peer):
    """A peer's ns/bar, marked ≈N where its seed differs (equal from bar N), ~N where its running
    update drifts (equal on the first N bars), ≠ where its formula differs."""
    if peer is None:
        return ""
    ns, match, start, _how = peer
    if match == "equal":
        return "%.2f" % ns
    if match == "seeded":
        return "%.2f ≈%d" % (ns, start)
    if match == "drifts":
        return "%.2f ~%d" % (ns, start)
    if match == "known":
        return "%.2f ≠%d" % (ns, start)
    return "%.2f ≠" % ns


def markdown(result):
    out = ["\n## Indicators per bar (issue 24)\n"]
    out.append(
        "`bench/indicators` (its own crate; %.0f s with the build check): idc-core's built-ins at their defaults "
        "over one seeded random walk of %s bars (bench/lib/walk.py), best of %d, ns/bar. idc batch is "
        "`Indicator::compute`; idc incremental a `Stream` stepped bar by bar (what a live subscription does). "
        "TA-Lib through its Python binding on numpy arrays (the C call over the whole array); kand over slices; "
        "ta and yata stepped with `next`. A composite (DMI's four lines, ROC/MTM/TRIX with their average) is timed "
        "as every call it takes. Values checked before timing, to 1e-9 (relative; absolute below 1): every peer "
        "against idc's convention of its row wherever idc has a value; ≈N: the same formula seeded otherwise, "
        "checked from bar N; ~N: the same formula, whose running update drifts past 1e-9 over a long history "
        "(ta's rolling variance, yata's and kand's CCI), checked on the first N bars; ≠: another formula (ta's RSI "
        "and ATR smooth with EMAs, its CCI deviates the close, its MFI windows the flows otherwise), timed, not "
        "checked; ≠N on TA-Lib: differs from bar N, a known difference of idc's (bench/findings.md). Target: "
        "batch at or below the best peer of the row, incremental at or below 2× batch. The machine's noise is "
        "large: compare rows of one run.\n"
        % (result["seconds"], "{:,}".format(result["bars"]), result["rounds"]))
    body = []
    for (name, convention), row in result["rows"]:
        peers = row["peers"]
        best = min((p[0] for p in peers.values()), default=None)
        ratio = row["batch"] / best if best else None
        inc = row["stream"] / row["batch"]
        met = (best is None or row["batch"] <= best) and inc <= 2.0
        body.append([row["label"], convention, "%.2f" % row["batch"], "%.2f" % row["stream"]]
                    + [cell(peers.get(p)) for p in PEERS]
                    + ["%.2f" % best if best else "—", "%.2f" % ratio if ratio else "—", "%.2f" % inc,
                       "met" if met else "missed"])
    out.append(table(["indicator", "convention", "idc batch", "idc incremental"] + list(PEERS)
                     + ["best peer", "batch/best", "incr/batch", "target"], body))
    return "\n".join(out)
