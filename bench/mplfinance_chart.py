#!/usr/bin/env python3
"""The chart v2 benchmark's peer (issue 24, part 5): mplfinance 0.12 drawing the chart idc's v2
`Chart` draws, into an in-memory 1280x800 PNG, timed.

The chart: the last --bars daily bars of --csv as candles, MA(5), MA(10), MA(20) and BOLL(20,2)
(upper, mid, lower) over them, and three panels below: VOL (volume bars coloured by their candle),
MACD(12,26,9) (DIF, DEA and the histogram) and KDJ(9,3,3) (K, D, J), with a title. The
indicators are computed as pandas users compute them, the way MyTT (the cn convention) does, over
the whole history, then cut to the window, as idc's series are. Each timed call is what a service
would do for one request: a fresh figure from `mpf.plot`, saved as PNG into memory and closed.

Also timed: the candles alone (no overlays, no panels), the figure the issue quotes beside it.
Prints one line of JSON: {"full": {"best_ms", "median_ms", "png_bytes"}, "candles": {...}, "runs",
"bars", "width", "height", "panels"} (the price panel counted); with --out PATH the last full
chart is written there, so that the caller can decode it and check its size itself.
bench/chart_v2.rs runs it.
"""

import argparse
import io
import json
import logging
import os
import statistics
import struct
import sys
import time

import matplotlib

matplotlib.use("Agg")  # no display: a server's back end
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # its weight fallbacks, per font

import matplotlib.pyplot as plt  # noqa: E402
import mplfinance as mpf  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
WIDTH, HEIGHT, DPI = 1280, 800, 100


def indicators(df):
    """The overlays' and panels' columns over the whole history (MyTT's definitions)."""
    close, high, low = df["close"], df["high"], df["low"]
    ema = lambda s, n: s.ewm(span=n, adjust=False).mean()  # noqa: E731
    sma = lambda s, n, m: s.ewm(alpha=m / n, adjust=False).mean()  # noqa: E731  MyTT's SMA(X,N,M)
    out = pd.DataFrame(index=df.index)
    for n in (5, 10, 20):
        out["MA%d" % n] = close.rolling(n).mean()
    mid = close.rolling(20).mean()
    std = close.rolling(20).std(ddof=0)
    out["UPPER"], out["MID"], out["LOWER"] = mid + 2 * std, mid, mid - 2 * std
    out["DIF"] = ema(close, 12) - ema(close, 26)
    out["DEA"] = ema(out["DIF"], 9)
    out["MACD"] = 2 * (out["DIF"] - out["DEA"])
    llv, hhv = low.rolling(9).min(), high.rolling(9).max()
    rsv = (close - llv) / (hhv - llv) * 100
    out["K"] = sma(rsv, 3, 1)
    out["D"] = sma(out["K"], 3, 1)
    out["J"] = 3 * out["K"] - 2 * out["D"]
    return out


def ohlcv(df):
    """The bars as mplfinance takes them: a DatetimeIndex and capitalised columns."""
    bars = df[["open", "high", "low", "close", "volume"]].copy()
    bars.columns = ["Open", "High", "Low", "Close", "Volume"]
    bars.index = pd.DatetimeIndex(pd.to_datetime(df["date"]), name="Date")
    return bars


def draw_full(df, title):
    """One request: the indicators over the history, the window's figure drawn and saved."""
    ind = indicators(df)
    window = slice(len(df) - ARGS.bars, len(df))
    bars, ind = ohlcv(df).iloc[window], ind.iloc[window].set_index(ohlcv(df).index[window])
    hist = ind["MACD"]
    extra = [
        mpf.make_addplot(ind[["UPPER", "MID", "LOWER"]], panel=0, width=0.8),
        mpf.make_addplot(ind["DIF"], panel=2, color="#1f5bc8", width=0.8, ylabel="MACD"),
        mpf.make_addplot(ind["DEA"], panel=2, color="#f59600", width=0.8),
        mpf.make_addplot(hist, panel=2, type="bar", width=0.7,
                         color=["#d62728" if v >= 0 else "#2ca02c" for v in hist.fillna(0)]),
        mpf.make_addplot(ind[["K", "D", "J"]], panel=3, width=0.8, ylabel="KDJ"),
    ]
    fig, axes = mpf.plot(bars, type="candle", style="charles", mav=(5, 10, 20), volume=True, addplot=extra,
                         panel_ratios=(4, 1, 1, 1), title=title, figsize=(WIDTH / DPI, HEIGHT / DPI),
                         warn_too_much_data=10 ** 6, returnfig=True)
    # mplfinance gives each panel a primary and a secondary axis: the price panel and three below.
    global PANELS
    PANELS = len(axes) // 2
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    plt.close(fig)
    return buf.getvalue()


def draw_candles(df, title):
    """The candles alone, the same window and size."""
    buf = io.BytesIO()
    mpf.plot(ohlcv(df).iloc[len(df) - ARGS.bars:], type="candle", style="charles", title=title,
             figsize=(WIDTH / DPI, HEIGHT / DPI), savefig=dict(fname=buf, dpi=DPI, format="png"))
    return buf.getvalue()


def timed(draw, df, title, runs):
    """Best and median ms of `runs` calls after one warm-up (imports, font caches), and the PNG."""
    png = draw(df, title)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        png = draw(df, title)
        times.append((time.perf_counter() - start) * 1e3)
    return {"best_ms": min(times), "median_ms": statistics.median(times), "png_bytes": len(png)}, png


def png_size(png):
    """(width, height) from the PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise SystemExit("mplfinance did not write a PNG")
    return struct.unpack(">II", png[16:24])


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", default=os.path.join(ROOT, "data", "sp500.csv"))
    ap.add_argument("--bars", type=int, default=250)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--out", help="write the last full chart's PNG here")
    ARGS = ap.parse_args()
    df = pd.read_csv(ARGS.csv, dtype={"date": str})
    window = df["date"].iloc[-ARGS.bars:]
    title = "S&P 500 · daily · cn · %s to %s" % (window.iloc[0], window.iloc[-1])
    full, png = timed(draw_full, df, title, ARGS.runs)
    candles, _ = timed(draw_candles, df, title, ARGS.runs)
    width, height = png_size(png)
    if ARGS.out:
        with open(ARGS.out, "wb") as f:
            f.write(png)
    print(json.dumps({"full": full, "candles": candles, "runs": ARGS.runs, "bars": ARGS.bars, "width": width,
                      "height": height, "panels": PANELS, "mplfinance": mpf.__version__}))
    return 0


ARGS = None
PANELS = None

if __name__ == "__main__":
    sys.exit(main())
