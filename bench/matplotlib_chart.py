#!/usr/bin/env python3
"""The article's way of drawing a MACD chart, timed: matplotlib into an in-memory PNG
(tests/python/macd_chart.py, the drawing bench/run's data server uses too).

Draws the same picture as idc's chart (candlesticks over a date axis; DIF, DEA and a histogram
coloured by sign below; a title; 1280x800 px) for the last --bars rows of --csv, --runs times after
one warm-up, and prints one line of JSON: {"median_ms": ..., "png_bytes": ..., "bars": ..., "runs": ...}.
bench/chart.rs runs it to put matplotlib beside plotters in one table.
"""

import argparse
import json
import os
import statistics
import sys
import time

import pandas as pd

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

import macd_chart  # noqa: E402


def draw(bars: pd.DataFrame, full_close: pd.Series, title: str) -> bytes:
    """MACD over the whole history, as pandas users compute it, then the chart of bars."""
    ema = lambda s, n: s.ewm(span=n, adjust=False).mean()  # noqa: E731
    dif_all = ema(full_close, 12) - ema(full_close, 26)
    dea_all = ema(dif_all, 9)
    dif, dea = dif_all.iloc[-len(bars):].to_numpy(), dea_all.iloc[-len(bars):].to_numpy()
    return macd_chart.draw(bars, bars["date"], dif, dea, 2.0 * (dif - dea), title)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", default=os.path.join(ROOT, "data", "sp500.csv"))
    ap.add_argument("--bars", type=int, default=250)
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()

    df = pd.read_csv(args.csv, dtype={"date": str})
    bars = df.iloc[-args.bars:].reset_index(drop=True)
    title = f"S&P 500 · daily · MACD(12,26,9) cn · {bars['date'].iloc[0]} to {bars['date'].iloc[-1]}"
    png = draw(bars, df["close"], title)  # warm-up: imports, font cache
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        png = draw(bars, df["close"], title)
        times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"median_ms": statistics.median(times), "png_bytes": len(png), "bars": len(bars),
                      "runs": args.runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
