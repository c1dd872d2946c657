"""The live section: `cargo bench --bench live` (bench/live.rs), whose three Markdown tables go
into the report as they are printed: what one pushed bar costs per indicator (incrementally,
against the batch over the whole history), push-to-receive latency with 1, 100 and 1,000
subscribers of an in-process server and the pushes a second one pusher sustains, and pushes a
second across a 256-symbol market from 16 concurrent pushers while 1,000 subscribers listen to
one symbol. The smoke form passes `--smoke` (tiny counts, every path, seconds). `targets` reads
issue 24's live targets from the tables.
"""

import subprocess
import sys
import time

import calls
from servers import BenchError

ROOT = calls.ROOT


def measure(bench):
    """Runs the bench (cargo builds it first when needed) and returns its tables and its time."""
    return cargo_bench(bench, "live", "| ")


def cargo_bench(bench, name, row, args=()):
    """Runs `cargo bench --bench NAME -- ARGS` (`--smoke` in the smoke form) and returns the
    Markdown it prints from its first ### heading on, which must hold a line starting with `row`,
    and its time. The formula and chart_v2 sections run their benches through this too."""
    argv = ["cargo", "bench", "--locked", "--bench", name, "--"] + (["--smoke"] if bench.s.smoke else []) + list(args)
    bench.log(" ".join(argv))
    began = time.monotonic()
    # cargo's own output goes to stderr; the bench prints its tables on stdout.
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, timeout=3600,
                          check=False)
    if done.returncode != 0:
        raise BenchError("`%s` failed with status %d; its output:\n%s" % (" ".join(argv), done.returncode,
                                                                          done.stdout[-2000:]))
    lines = done.stdout.splitlines()
    # The first line says which form ran; the tables follow under their ### headings.
    start = next((i for i, line in enumerate(lines) if line.startswith("### ")), None)
    if start is None or not any(line.startswith(row) for line in lines):
        raise BenchError("`%s` printed no tables:\n%s" % (" ".join(argv), done.stdout[-2000:]))
    return {"tables": "\n".join(lines[start:]).strip(), "seconds": time.monotonic() - began}


def markdown(result):
    out = ["\n## Live bars: incremental indicators and push-to-receive latency\n"]
    out.append(
        "`cargo bench --bench live` (bench/live.rs; %.0f s with its build check). Incremental: a `Track` "
        "holding one indicator, `advance` timed over appended bars and over revisions of the last bar, "
        "against `Indicator::compute` over the whole 2,500-bar history per bar (medians of repeated runs). "
        "Latency: an in-process server with `--data DIR` (one CSV of 2,500 bars) and `--push-token-file`, "
        "N subscribers (MACD, RSI, KDJ) over up to 4 channels with one draining thread each, a pusher "
        "pushing one new date at a time and waiting for each reply; push→receive is the arrival of that "
        "bar's update minus the instant its push was sent, over every (push, subscriber) pair; then back "
        "to back for a few seconds (sustained). Across a market: 16 pushers, one push in flight each, over 256 "
        "symbols (the subscribers listen to one of them), sharing the journal's fsyncs. The server and the "
        "clients share the machine's cores.\n"
        % result["seconds"])
    out.append(result["tables"])
    return "\n".join(out)


def _rows(tables, heading):
    """The cells of each row of the table under the ### heading that starts with `heading`."""
    rows, inside = [], False
    for line in tables.splitlines():
        if line.startswith("### "):
            inside = line.startswith(heading)
        elif inside and line.startswith("| ") and not line.startswith("| --"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # the header row


def _number(cell):
    return float(cell.replace(",", ""))


def targets(result):
    """(name, met or None when not measured, detail) of issue 24's live targets, read from the
    bench's tables (the smoke form measures 1 and 20 subscribers: the 1,000 rows are not run)."""
    found = []
    names = ("live: one track's update of all 40 indicators ≤ 2× their batch per bar (each alone: "
             "bench/indicators' stream rows)",
             "live: p99 push→receive < 1 ms with 1 subscriber",
             "live: p99 push→receive < 10 ms with 1,000 subscribers",
             "live: ≥ 10,000 pushes/s sustained with 1,000 subscribers (pushes across a market)")
    if not result:
        return [(name, None, "not run") for name in names]
    tables = result["tables"]
    incremental = _rows(tables, "### Incremental")
    # A track's own work a bar (the derived bar, its period) is shared by every indicator a
    # subscription key holds: the row of all of them in one track is the cost as served; a track
    # of one indicator alone pays it for that one (the worst of those is shown beside).
    singles = [row for row in incremental if not row[0].startswith("all ")]
    together = [row for row in incremental if row[0].startswith("all ")]
    if together and singles:
        worst = max(singles, key=lambda row: _number(row[5]))
        met = sum(_number(row[5]) <= 2.0 for row in singles)
        detail = "%s× per append (%s× per revision); alone in a track, %d of %d within 2× (worst %s %s %s×)" % (
            together[0][5], together[0][6], met, len(singles), worst[0], worst[1], worst[5])
        found.append((names[0], _number(together[0][5]) <= 2.0, detail))
    else:
        found.append((names[0], None, "not run"))
    latency = {row[0]: row for row in _rows(tables, "### Push-to-receive")}
    for name, subscribers, limit in ((names[1], "1", 1.0), (names[2], "1000", 10.0)):
        row = latency.get(subscribers)
        if row:
            found.append((name, _number(row[4]) < limit, "%s ms (p50 %s ms)" % (row[4], row[3])))
        else:
            found.append((name, None, "not run (smoke)"))
    market = {row[0]: row for row in _rows(tables, "### Pushes across a market")}
    row = market.get("1000")
    if row:
        found.append((names[3], _number(row[1]) >= 10_000, "%s pushes/s (reply p99 %s ms); %s updates of the "
                      "watched symbol received/s" % (row[1], row[3], row[4])))
    else:
        found.append((names[3], None, "not run (smoke)"))
    return found
