"""The formula section: `cargo bench --bench formula` (bench/formula.rs), whose Markdown table goes
into the report as it is printed: the MACD formula of the formula issue against the built-in MACD,
and KDJ, BOLL, CROSS(MA(C,5),MA(C,20)) and BARSLAST(C>REF(C,1)) from tests/formulas/corpus.json
against their built-ins where one exists, batch ns/bar over 2,500 and 1,000,000 bars and live ns
per update (appends and revisions of a `Track`), with the ratio formula/built-in and a line on
issue 24's target (the MACD formula within 1.5x the built-in). The bench checks the formulas'
values equal the built-ins' (1e-9) before it times them. The smoke form passes `--smoke` (tiny
counts, every path, seconds).
"""

import live


def measure(bench):
    """Runs the bench (cargo builds it first when needed) and returns its table and its time."""
    return live.cargo_bench(bench, "formula", "| MACD ")


def markdown(result):
    out = ["\n## Formulas against the built-ins\n"]
    out.append(
        "`cargo bench --bench formula` (bench/formula.rs; %.0f s with its build check). Each formula of "
        "tests/formulas/corpus.json below, compiled with `Indicator::formula` (cn), beside the built-in that "
        "computes the same values (`Indicator::new`, cn), over random walks. Batch: `Indicator::compute` over "
        "the whole walk per bar, the two timed alternately (medians of the runs). Live: a `Track` holding that "
        "one indicator, `advance` timed over appended bars and over revisions of the last bar, as in the live "
        "section (medians of the rounds). Values checked equal to 1e-9 (every bar of the batch before its timing, the last bar live). Ratios are "
        "formula/built-in: 1.00 is the built-in's cost.\n" % result["seconds"])
    out.append(result["tables"])
    return "\n".join(out)
