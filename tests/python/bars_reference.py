"""Reference for idc's adjusted and resampled bars: pandas.

Usage: bars_reference.py OUT.csv

Takes the seeded random walk of indicators_reference.py (3,000 business days with adj_factor),
adjusts it (Tushare's pro_bar: hfq = price * adj_factor, qfq = price * adj_factor / the latest
adj_factor; volume as it is) and resamples it with pandas (weeks W-SUN, months ME: open first,
high max, low min, close last, volume sum, dated by the period's last bar). Writes one long CSV:
adjust,frequency,date,open,high,low,close,volume, with 17 significant digits.
"""

import sys

import pandas as pd

from indicators_reference import random_walk


def adjusted(bars, adjust):
    out = bars.copy()
    if adjust == "none":
        return out
    factor = bars["adj_factor"] if adjust == "backward" else bars["adj_factor"] / bars["adj_factor"].iloc[-1]
    for column in ("open", "high", "low", "close"):
        out[column] = bars[column] * factor
    return out


def resampled(bars, frequency):
    if frequency == "daily":
        return bars
    rule = {"weekly": "W-SUN", "monthly": "ME"}[frequency]
    indexed = bars.assign(day=pd.to_datetime(bars["date"])).set_index("day")
    out = indexed.resample(rule).agg({"date": "last", "open": "first", "high": "max", "low": "min",
                                      "close": "last", "volume": "sum"})
    return out.dropna(subset=["date"]).reset_index(drop=True)


def main():
    bars = random_walk()
    frames = []
    for adjust in ("none", "forward", "backward"):
        for frequency in ("daily", "weekly", "monthly"):
            frame = resampled(adjusted(bars, adjust), frequency)[["date", "open", "high", "low", "close", "volume"]]
            frames.append(frame.assign(adjust=adjust, frequency=frequency))
    table = pd.concat(frames)[["adjust", "frequency", "date", "open", "high", "low", "close", "volume"]]
    table.to_csv(sys.argv[1], index=False, float_format="%.17g")
    bars.to_csv(sys.argv[1] + ".bars.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
