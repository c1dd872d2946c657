"""The live section: `cargo bench --bench live` (bench/live.rs), whose two Markdown tables go into
the report as they are printed: what one pushed bar costs per indicator (incrementally, against
the batch over the whole history), and push-to-receive latency with 1, 100 and 1,000 subscribers
of an in-process server, and the pushes a second it sustains. The smoke form passes `--smoke`
(tiny counts, every path, seconds). Nothing here is a target: the tables are for reading.
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
        "to back for a few seconds (sustained). The server and the clients share the machine's cores.\n"
        % result["seconds"])
    out.append(result["tables"])
    return "\n".join(out)
