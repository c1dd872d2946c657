#!/usr/bin/env python3
"""Reference MACD values for idc's sample CSVs, from established Python libraries.

Reads a CSV in idc's format (``date,open,high,low,close,volume``) and prints ``date,dif,dea,macd``
to stdout, with floats written as Python's shortest round-trip repr.

Conventions (``--convention``):

* ``cn``    pandas ``close.ewm(span=n, adjust=False).mean()`` (EMA seeded with the first close,
            alpha = 2/(n+1)); dif = ema_fast - ema_slow; dea = dif.ewm(span=signal, adjust=False);
            macd = 2 * (dif - dea). One row per input bar.
* ``talib`` ``talib.MACD(close, fast, slow, signal)`` from the ``ta-lib`` wheel: dif = macd line,
            dea = signal line, macd = macdhist (not doubled). Leading rows where TA-Lib returns NaN
            (its lookback, 33 bars for 12/26/9) are left out.
* ``mytt``  ``MyTT.MACD(close, fast, slow, signal)``: the same pandas EMA arithmetic as ``cn``
            (macd = 2 * (dif - dea)), but MyTT rounds each of dif, dea and macd to 3 decimals
            (``np.round(x, 3)``, each from the unrounded values); those rounded values are printed
            as they are. One row per input bar.

``--check-mytt`` also computes ``MyTT.MACD`` and reports, on stderr, the largest absolute
difference from the pandas ``cn`` values (at most 5e-4, from MyTT's rounding); it works with any
``--convention`` and does not change stdout.

Requirements: tests/python/requirements-analysis.txt (numpy, pandas, ta-lib, MyTT).
"""

from __future__ import annotations

import argparse
import csv
import sys

import numpy as np
import pandas as pd


def load(path: str) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"date": str})
    want = ["date", "open", "high", "low", "close", "volume"]
    if list(df.columns) != want:
        raise SystemExit(f"{path}: header {list(df.columns)} != {want}")
    if not df["date"].is_monotonic_increasing or df["date"].duplicated().any():
        raise SystemExit(f"{path}: dates must be strictly ascending")
    return df


def macd_cn(close: pd.Series, fast: int, slow: int, signal: int) -> pd.DataFrame:
    ema_fast = close.ewm(span=fast, adjust=False).mean()
    ema_slow = close.ewm(span=slow, adjust=False).mean()
    dif = ema_fast - ema_slow
    dea = dif.ewm(span=signal, adjust=False).mean()
    return pd.DataFrame({"dif": dif, "dea": dea, "macd": 2.0 * (dif - dea)})


def macd_talib(close: pd.Series, fast: int, slow: int, signal: int) -> pd.DataFrame:
    import talib

    line, sig, hist = talib.MACD(close.to_numpy(dtype=np.float64), fastperiod=fast,
                                 slowperiod=slow, signalperiod=signal)
    out = pd.DataFrame({"dif": line, "dea": sig, "macd": hist}, index=close.index)
    return out[~out.isna().any(axis=1)]


def macd_mytt(close: pd.Series, fast: int, slow: int, signal: int) -> pd.DataFrame:
    from MyTT import MACD as mytt_macd

    dif, dea, macd = mytt_macd(close.to_numpy(dtype=np.float64), fast, slow, signal)
    return pd.DataFrame({"dif": np.asarray(dif, dtype=np.float64),
                         "dea": np.asarray(dea, dtype=np.float64),
                         "macd": np.asarray(macd, dtype=np.float64)}, index=close.index)


def check_mytt(close: pd.Series, fast: int, slow: int, signal: int, ref: pd.DataFrame) -> float:
    mytt = macd_mytt(close, fast, slow, signal)
    worst = 0.0
    for name in ("dif", "dea", "macd"):
        diff = np.abs(mytt[name].to_numpy() - ref[name].to_numpy())
        i = int(np.nanargmax(diff))
        print(f"MyTT vs pandas cn: {name} max |diff| = {diff[i]:.3e} (row {i})", file=sys.stderr)
        worst = max(worst, float(diff[i]))
    print(f"MyTT vs pandas cn: overall max |diff| = {worst:.3e} "
          f"(MyTT rounds to 3 decimals, so <= 5e-4 is expected)", file=sys.stderr)
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True, help="input CSV (date,open,high,low,close,volume)")
    ap.add_argument("--convention", choices=("cn", "talib", "mytt"), default="cn")
    ap.add_argument("--fast", type=int, default=12)
    ap.add_argument("--slow", type=int, default=26)
    ap.add_argument("--signal", type=int, default=9)
    ap.add_argument("--check-mytt", action="store_true",
                    help="also compare MyTT.MACD with the pandas cn values (report on stderr)")
    args = ap.parse_args()

    df = load(args.csv)
    close = df["close"].astype(np.float64)
    if args.convention == "cn":
        out = macd_cn(close, args.fast, args.slow, args.signal)
    elif args.convention == "mytt":
        out = macd_mytt(close, args.fast, args.slow, args.signal)
    else:
        out = macd_talib(close, args.fast, args.slow, args.signal)
        print(f"talib: {len(df) - len(out)} leading rows left out (lookback)", file=sys.stderr)

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["date", "dif", "dea", "macd"])
    dates = df["date"].to_numpy()
    for i, dif, dea, macd in zip(out.index, out["dif"], out["dea"], out["macd"]):
        w.writerow([dates[i], repr(float(dif)), repr(float(dea)), repr(float(macd))])

    if args.check_mytt:
        worst = check_mytt(close, args.fast, args.slow, args.signal,
                           macd_cn(close, args.fast, args.slow, args.signal))
        if worst > 5e-4 + 1e-9:
            print("MyTT differs from pandas cn by more than its rounding", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
