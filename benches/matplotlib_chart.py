#!/usr/bin/env python3
"""The article's way of drawing a MACD chart, timed: matplotlib (Agg) into an in-memory PNG.

Draws the same picture as idc's chart (candlesticks over a date axis; DIF, DEA and a histogram
coloured by sign below; a title; 1280x800 px) for the last --bars rows of --csv, --runs times after
one warm-up, and prints one line of JSON: {"median_ms": ..., "png_bytes": ..., "bars": ..., "runs": ...}.
benches/chart.rs runs it to put matplotlib beside plotters in one table.
"""

import argparse
import io
import json
import os
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
RISING, FALLING, DIF, DEA = "#d62728", "#1a9641", "#1f5bc8", "#f59600"


def draw(bars: pd.DataFrame, full_close: pd.Series, title: str) -> bytes:
    ema = lambda s, n: s.ewm(span=n, adjust=False).mean()  # noqa: E731
    dif_all = ema(full_close, 12) - ema(full_close, 26)
    dea_all = ema(dif_all, 9)
    dif, dea = dif_all.iloc[-len(bars):].to_numpy(), dea_all.iloc[-len(bars):].to_numpy()
    hist = 2.0 * (dif - dea)
    x = range(len(bars))
    up = (bars["close"] > bars["open"]).to_numpy()
    colours = [RISING if u else FALLING for u in up]

    fig, (price, macd) = plt.subplots(2, 1, figsize=(12.8, 8), dpi=100, sharex=True,
                                      gridspec_kw={"height_ratios": [62, 38]})
    fig.suptitle(title)
    price.vlines(x, bars["low"], bars["high"], colors=colours, linewidth=1)
    body_low = bars[["open", "close"]].min(axis=1)
    body_high = bars[["open", "close"]].max(axis=1)
    price.bar(x, body_high - body_low, bottom=body_low, color=colours, width=0.7)
    price.set_ylabel("price")
    price.grid(color="#e8e8e8")
    macd.bar(x, hist, color=[RISING if h >= 0 else FALLING for h in hist], width=0.7)
    macd.plot(x, dif, color=DIF, linewidth=2, label="DIF")
    macd.plot(x, dea, color=DEA, linewidth=2, label="DEA")
    macd.axhline(0, color="#5a5a5a", linewidth=1)
    macd.set_ylabel("MACD")
    macd.legend(loc="upper left")
    macd.grid(color="#e8e8e8")
    ticks = list(range(0, len(bars), max(1, len(bars) // 8)))
    macd.set_xticks(ticks)
    macd.set_xticklabels([bars["date"].iloc[i] for i in ticks])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


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
