"""The memory section: what a bar held in idc's catalog costs (issue 20: at most 48 bytes a bar,
prices and volume as f64, adj_factor as its changes only), on a generated catalog of many
instruments against a baseline catalog of one of its files; and the time to serving it (issue 24,
part 6: 10M bars from Parquet in under 3 s, from CSV in under 6 s). Both with the catalog as CSV
files and as the same bars in Parquet files, written by pandas' `to_parquet` (pyarrow, snappy, the
date a timestamp column), as a pandas user keeps them.

A bar is held as columns: a 4-byte date and five f64 (open, high, low, close, volume), 44 bytes;
the adj_factor column keeps its changes only. The article's services also keep the first symbol as
their own copy with its MACD: the baseline serves that same first file, so that copy (and the
C-core, the threads, the binary) is in both RSS figures and cancels out of the difference.
"""

import os
import shutil

import calls
import walk
from report import fmt, table
from servers import BenchError

LIST_INSTRUMENTS = "/idc.v2.Indicators/ListInstruments"
TARGET_BYTES = 48
# Spawn to `Server started`, by format: issue 24's targets at 10,000,000 bars.
TARGET_SERVING_S = {"csv": 6.0, "parquet": 3.0}
FORMATS = ("csv", "parquet")
KIND_NAMES = {"csv": "CSV", "parquet": "Parquet"}
# The catalog's load line: `catalog DIR: N instruments, M bars, K rows skipped; loaded in X ms`.
LOADED = r"catalog \S+: (?P<files>[\d,]+) instruments?, (?P<bars>[\d,]+) bars?, .*?loaded in (?P<ms>[\d.]+) ?ms"


def sizes(smoke):
    """(files, bars a file): 10,000,000 bars in the full run, 20,000 in the smoke run."""
    return (20, 1_000) if smoke else (1_000, 10_000)


def _varint(buf, i):
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def fields(buf):
    """(field number, value) of a serialized message: ints for varints, bytes for length-delimited."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise BenchError("ListInstrumentsReply: wire type %d" % wire)
        yield number, value


def list_instruments(server):
    """[(symbol, bars, has_adj_factor)] of the server's idc.v2 ListInstruments (a raw call; the
    reply is decoded by hand, the bench has no idc.v2 stubs)."""
    raw = calls.messages(server.target, LIST_INSTRUMENTS, b"", label=server.label)[0]
    found = []
    for number, value in fields(raw):
        if number != 1:
            continue
        instrument = dict(fields(value))
        found.append((instrument.get(1, b"").decode(), instrument.get(5, 0), bool(instrument.get(6, 0))))
    return found


def write_file(path, bars, seed):
    """One instrument of `bars` seeded random-walk daily bars (weekdays from 1980-01-01) with
    volume and an adj_factor that changes a few times."""
    import numpy as np

    rng = np.random.default_rng(seed)
    open_, high, low, close, volume = walk.ohlcv(rng, bars, 20.0, 0.015, 0.004, 0.006, (10_000, 50_000_000))
    # A few changes (dividends, splits): the factor steps up at 2 to 5 bars of the file.
    factor = np.ones(bars)
    for at in rng.choice(np.arange(1, bars), size=int(rng.integers(2, 6)), replace=False):
        factor[at:] *= 1.0 + rng.uniform(0.01, 0.5)
    factor = np.round(factor, 6)
    dates = np.datetime_as_string(np.busday_offset("1980-01-01", np.arange(bars), roll="forward"), unit="D")
    rows = zip(dates.tolist(), open_.tolist(), high.tolist(), low.tolist(), close.tolist(), volume.tolist(),
               factor.tolist())
    with open(path, "w") as f:
        f.write("date,open,high,low,close,volume,adj_factor\n")
        f.write("".join("%s,%.4f,%.4f,%.4f,%.4f,%d,%.6f\n" % row for row in rows))


def catalog(data_dir, files, bars):
    """The generated catalog of `files` instruments of `bars` bars each, written once under
    data_dir (a finished one is renamed into place, so a present one is whole), and a baseline
    catalog of its first file alone. Returns (catalog dir, baseline dir)."""
    path = os.path.join(data_dir, "catalog-%dx%d-v1" % (files, bars))
    names = ["S%05d.csv" % k for k in range(files)]
    if not os.path.isdir(path) or sorted(n for n in os.listdir(path) if n.endswith(".csv")) != names:
        shutil.rmtree(path, ignore_errors=True)
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for k, name in enumerate(names):
            write_file(os.path.join(tmp, name), bars, seed=(files, bars, k))
        os.rename(tmp, path)
    base = path + "-baseline"
    if not os.path.isdir(base) or os.listdir(base) != [names[0]]:
        shutil.rmtree(base, ignore_errors=True)
        tmp = base + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        shutil.copyfile(os.path.join(path, names[0]), os.path.join(tmp, names[0]))
        os.rename(tmp, base)
    return path, base


def parquet_catalog(csv_dir, csv_base):
    """The CSV catalog's files as Parquet, each read by pandas and written with `to_parquet`, and its
    baseline likewise, made once beside them (renamed into place when whole). Returns (catalog dir,
    baseline dir)."""
    import pandas as pd

    made = []
    for source in (csv_dir, csv_base):
        names = sorted(n for n in os.listdir(source) if n.endswith(".csv"))
        path = source.replace("-v1", "-v1-parquet", 1)
        wanted = [n[:-len(".csv")] + ".parquet" for n in names]
        if not os.path.isdir(path) or sorted(os.listdir(path)) != wanted:
            shutil.rmtree(path, ignore_errors=True)
            tmp = path + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            for name, out in zip(names, wanted):
                df = pd.read_csv(os.path.join(source, name))
                df["date"] = pd.to_datetime(df["date"])
                df.to_parquet(os.path.join(tmp, out), index=False)
            os.rename(tmp, path)
        made.append(path)
    return tuple(made)


def serve(bench, directory, label, files, bars):
    """Starts idc on the catalog, checks that it serves every bar, and returns its facts."""
    server = bench.start("idc", ["--data", directory], label=label)
    try:
        listed = list_instruments(server)
        held = sum(b for _, b, _ in listed)
        if len(listed) != files or held != files * bars or not all(adj for _, _, adj in listed):
            raise BenchError("%s: ListInstruments lists %d instruments of %d bars (adj_factor in %d); expected %d of %d"
                             % (label, len(listed), held, sum(adj for _, _, adj in listed), files, files * bars))
        rss = server.rss_kib()
        loaded = server.wait_stderr(LOADED, limit=1.0)
        return {"bars": held, "files": files, "rss_kib": rss, "startup_s": server.startup_s,
                "load_ms": float(loaded.group("ms")) if loaded else None}
    finally:
        server.stop()


def measure(bench, data_dir):
    """{format: the catalog's and the baseline's facts and the bytes a bar} for CSV and Parquet."""
    files, bars = sizes(bench.s.smoke)
    bench.log("memory: writing or reusing a catalog of %s files of %s bars, CSV and Parquet" % (fmt(files),
                                                                                              fmt(bars)))
    dirs = {"csv": catalog(data_dir, files, bars)}
    dirs["parquet"] = parquet_catalog(*dirs["csv"])
    result = {}
    for kind in FORMATS:
        path, base = dirs[kind]
        baseline = serve(bench, base, "idc memory baseline %s" % kind, 1, bars)
        full = serve(bench, path, "idc memory catalog %s" % kind, files, bars)
        per_bar = (full["rss_kib"] - baseline["rss_kib"]) * 1024.0 / (full["bars"] - baseline["bars"])
        bench.log("memory, %s: %s bars held in %s MiB RSS (baseline %s MiB): %s bytes a bar; serving after %s ms"
                  % (kind, fmt(full["bars"]), fmt(full["rss_kib"] / 1024), fmt(baseline["rss_kib"] / 1024),
                     fmt(per_bar), fmt(full["startup_s"] * 1000)))
        result[kind] = {"catalog": full, "baseline": baseline, "bytes_per_bar": per_bar, "dir": path}
    return result


def targets(result):
    """[(name, met or None, detail)] of the memory and start-up targets, for each format."""
    found = []
    for kind in FORMATS:
        name = "memory, %s catalog: a bar held costs at most %d bytes (RSS over a one-file catalog, per bar)" % (
            KIND_NAMES[kind], TARGET_BYTES)
        serving = "start-up: %s catalog of 10,000,000 bars serving in under %s s" % (
            KIND_NAMES[kind], fmt(TARGET_SERVING_S[kind], 0))
        facts = (result or {}).get(kind)
        if not facts:
            found += [(name, None, "not run"), (serving, None, "not run")]
            continue
        full = facts["catalog"]
        found.append((name, facts["bytes_per_bar"] <= TARGET_BYTES,
                      "%s bytes a bar over %s bars (%s MiB against %s MiB)" % (
                          fmt(facts["bytes_per_bar"]), fmt(full["bars"]), fmt(full["rss_kib"] / 1024),
                          fmt(facts["baseline"]["rss_kib"] / 1024))))
        if full["bars"] < 10_000_000:
            found.append((serving, None, "%s ms with %s bars (a smoke run)" % (fmt(full["startup_s"] * 1000),
                                                                             fmt(full["bars"]))))
        else:
            found.append((serving, full["startup_s"] < TARGET_SERVING_S[kind], "%s ms (catalog loaded in %s ms)" % (
                fmt(full["startup_s"] * 1000), fmt(full["load_ms"]))))
    return found


def markdown(result):
    csv = result["csv"]
    full, base = csv["catalog"], csv["baseline"]
    out = ["\n## Memory and start-up: bars held in the catalog\n"]
    out.append(
        "`idc_server --data DIR` on a generated catalog of %s files of %s seeded random-walk daily bars "
        "(date,open,high,low,close,volume,adj_factor; the factor changes 2 to 5 times a file), against a "
        "baseline catalog of its first file alone, which holds the same copy of the first instrument "
        "with its MACD that the article's services keep, the C-core, the threads and the binary. RSS is "
        "VmRSS once ListInstruments lists every bar; bytes a bar are (RSS − baseline RSS) / (bars − "
        "baseline bars). Time to serving: spawn to the `Server started` line. Bars are held as "
        "columns, a 4-byte date and five f64 (44 bytes), adj_factor as its changes only; the target is "
        "at most %d bytes a bar.\n" % (fmt(full["files"]), fmt(full["bars"] // full["files"]), TARGET_BYTES))
    out.append("The Parquet catalog holds the same bars, each CSV file read by pandas and written with "
               "`to_parquet` (pyarrow, snappy; the date a timestamp column). Targets at 10,000,000 bars: "
               "serving in under %s s from CSV and under %s s from Parquet.\n" % (
                   fmt(TARGET_SERVING_S["csv"], 0), fmt(TARGET_SERVING_S["parquet"], 0)))
    rows = []
    for kind in FORMATS:
        for name, facts in (("baseline (1 file)", result[kind]["baseline"]), ("catalog", result[kind]["catalog"])):
            rows.append([KIND_NAMES[kind], name, fmt(facts["files"]), fmt(facts["bars"]), fmt(facts["rss_kib"] / 1024),
                         fmt(facts["startup_s"] * 1000), fmt(facts["load_ms"]) if facts["load_ms"] is not None
                         else "not logged"])
    out.append(table(["format", "catalog", "files", "bars held", "RSS MiB", "time to serving ms",
                      "catalog loaded in ms"], rows))
    out.append("")
    for kind in FORMATS:
        facts = result[kind]
        full, base = facts["catalog"], facts["baseline"]
        if full["bars"] < 10_000_000:
            serving = "not held to the target: a smoke run"
        else:
            serving = "target under %s s: %s" % (fmt(TARGET_SERVING_S[kind], 0),
                                                 "met" if full["startup_s"] < TARGET_SERVING_S[kind] else "**missed**")
        out.append("- %s: bytes a bar **%s** (%s KiB over %s bars; target at most %d: %s); serving after %s ms (%s)."
                   % (KIND_NAMES[kind], fmt(facts["bytes_per_bar"]), fmt(full["rss_kib"] - base["rss_kib"]),
                      fmt(full["bars"] - base["bars"]), TARGET_BYTES,
                      "met" if facts["bytes_per_bar"] <= TARGET_BYTES else "**missed**", fmt(full["startup_s"] * 1000),
                      serving))
    return "\n".join(out)
