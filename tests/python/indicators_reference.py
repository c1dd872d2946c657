"""Reference values for idc's indicator engine: MyTT 2.9.3 (cn) and TA-Lib 0.8 (talib).

Usage: indicators_reference.py BARS.csv OUT.csv
       indicators_reference.py --random-walk OUT.csv

Reads daily bars (date,open,high,low,close[,volume]) or generates a seeded random walk of 3,000
bars with volume, adj_factor and a run of unchanged bars, and writes one CSV: the bars, then one
column per indicator output, named `CONVENTION|SPEC|OUTPUT` (OUTPUT empty for a single output).
Every float is written with 17 significant digits, so the Rust side reads back the exact values.

MyTT's RD (rounding to 3 decimals) is replaced by the identity, so its values are unrounded, and
TA-Lib is called with keyword arguments only (positional ones land in the wrong parameters).
"""

import sys

import numpy as np
import pandas as pd
import talib

import MyTT.MyTT

# The functions look RD up in their own module's globals: patch it there.
MyTT.MyTT.RD = lambda x, d=3: x
from MyTT.MyTT import (ATR, BBI, BIAS, BOLL, CCI, DMI, EMA, KDJ, MA, MACD, MFI, MTM, OBV, PSY, ROC,  # noqa: E402
                  RSI, SMA, TRIX, WR)

# (name, params): every built-in with MyTT's defaults (None) and with other parameters.
SPECS = [
    ("MA", None), ("MA", [10]), ("EMA", None), ("EMA", [26]), ("SMA", None), ("SMA", [7, 2]),
    ("MACD", None), ("MACD", [5, 35, 5]), ("KDJ", None), ("KDJ", [14, 3, 5]), ("RSI", None),
    ("RSI", [6]), ("BOLL", None), ("BOLL", [10, 1.5]), ("ATR", None), ("ATR", [7]), ("CCI", None),
    ("CCI", [20]), ("WR", None), ("WR", [6]), ("DMI", None), ("DMI", [10, 4]), ("BIAS", None),
    ("BIAS", [12]), ("OBV", None), ("PSY", None), ("PSY", [6, 3]), ("MFI", None), ("MFI", [7]),
    ("ROC", None), ("ROC", [6, 3]), ("MTM", None), ("MTM", [6, 3]), ("TRIX", None),
    ("TRIX", [9, 5]), ("BBI", None), ("BBI", [2, 4, 8, 16]), ("VOL", None),
]

# The v2 issue's defaults: MyTT's, and the talib convention's where the table gives a second one.
CN_DEFAULTS = {
    "MA": [5], "EMA": [12], "SMA": [5, 1], "MACD": [12, 26, 9], "KDJ": [9, 3, 3], "RSI": [24],
    "BOLL": [20, 2], "ATR": [20], "CCI": [14], "WR": [10], "DMI": [14, 6], "BIAS": [6], "OBV": [],
    "PSY": [12, 6], "MFI": [14], "ROC": [12, 6], "MTM": [12, 6], "TRIX": [12, 20],
    "BBI": [3, 6, 12, 20], "VOL": [],
}
TALIB_DEFAULTS = dict(CN_DEFAULTS, RSI=[14], ATR=[14], WR=[14])

OUTPUTS = {
    "MACD": ["DIF", "DEA", "MACD"], "KDJ": ["K", "D", "J"], "BOLL": ["UPPER", "MID", "LOWER"],
    "DMI": ["PDI", "MDI", "ADX", "ADXR"], "PSY": ["PSY", "PSYMA"], "ROC": ["ROC", "MAROC"],
    "MTM": ["MTM", "MTMMA"], "TRIX": ["TRIX", "TRMA"],
}


def cn(name, p, o, h, l, c, v):
    return {
        "MA": lambda: MA(c, p[0]), "EMA": lambda: EMA(c, p[0]), "SMA": lambda: SMA(c, p[0], p[1]),
        "MACD": lambda: MACD(c, p[0], p[1], p[2]), "KDJ": lambda: KDJ(c, h, l, p[0], p[1], p[2]),
        "RSI": lambda: RSI(c, p[0]), "BOLL": lambda: BOLL(c, p[0], p[1]),
        "ATR": lambda: ATR(c, h, l, p[0]), "CCI": lambda: CCI(c, h, l, p[0]),
        "WR": lambda: WR(c, h, l, p[0])[0], "DMI": lambda: DMI(c, h, l, p[0], p[1]),
        "BIAS": lambda: BIAS(c, L1=p[0])[0], "OBV": lambda: OBV(c, v),
        "PSY": lambda: PSY(c, p[0], p[1]), "MFI": lambda: MFI(c, h, l, v, p[0]),
        "ROC": lambda: ROC(c, p[0], p[1]), "MTM": lambda: MTM(c, p[0], p[1]),
        "TRIX": lambda: TRIX(c, p[0], p[1]), "BBI": lambda: BBI(c, p[0], p[1], p[2], p[3]),
        "VOL": lambda: v,
    }[name]()


def ta(name, p, o, h, l, c, v):
    def sma_of(first, m):
        return first, talib.SMA(first, timeperiod=m)

    def kdj():
        k, d = talib.STOCH(h, l, c, fastk_period=p[0], slowk_period=p[1], slowk_matype=0,
                           slowd_period=p[2], slowd_matype=0)
        return k, d, 3 * k - 2 * d

    table = {
        "MA": lambda: talib.SMA(c, timeperiod=p[0]), "EMA": lambda: talib.EMA(c, timeperiod=p[0]),
        "MACD": lambda: talib.MACD(c, fastperiod=p[0], slowperiod=p[1], signalperiod=p[2]),
        "KDJ": kdj, "RSI": lambda: talib.RSI(c, timeperiod=p[0]),
        "BOLL": lambda: talib.BBANDS(c, timeperiod=p[0], nbdevup=p[1], nbdevdn=p[1], matype=0),
        "ATR": lambda: talib.ATR(h, l, c, timeperiod=p[0]),
        "CCI": lambda: talib.CCI(h, l, c, timeperiod=p[0]),
        "WR": lambda: talib.WILLR(h, l, c, timeperiod=p[0]),
        "DMI": lambda: (talib.PLUS_DI(h, l, c, timeperiod=p[0]), talib.MINUS_DI(h, l, c, timeperiod=p[0]),
                        talib.ADX(h, l, c, timeperiod=p[0]), talib.ADXR(h, l, c, timeperiod=p[0])),
        "OBV": lambda: talib.OBV(c, v), "MFI": lambda: talib.MFI(h, l, c, v, timeperiod=p[0]),
        "ROC": lambda: sma_of(talib.ROC(c, timeperiod=p[0]), p[1]),
        "MTM": lambda: sma_of(talib.MOM(c, timeperiod=p[0]), p[1]),
        "TRIX": lambda: sma_of(talib.TRIX(c, timeperiod=p[0]), p[1]),
        "VOL": lambda: v,
    }
    # TA-Lib has no SMA (Chinese), BIAS, PSY or BBI: both conventions are MyTT's.
    return table[name]() if name in table else cn(name, p, o, h, l, c, v)


def label(name, params):
    if not params:
        return name
    return f"{name}({','.join(f'{x:g}' for x in params)})"


def random_walk(n=3000, seed=20261202):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = np.concatenate(([close[0]], close[:-1])) * (1 + rng.normal(0, 0.005, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.01, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.01, n)))
    volume = np.round(rng.lognormal(13, 0.5, n))
    # A suspension-like run of 15 unchanged bars: zero ranges and zero changes, where the
    # conventions' divisions by zero differ.
    flat = slice(1500, 1515)
    open_[flat] = high[flat] = low[flat] = close[flat] = close[1499]
    adj = np.cumprod(np.where(rng.random(n) < 0.01, 1.1, 1.0))
    dates = pd.bdate_range("2010-01-04", periods=n).strftime("%Y-%m-%d")
    return pd.DataFrame({"date": dates, "open": open_, "high": high, "low": low, "close": close,
                         "volume": volume, "adj_factor": adj})


def main():
    if sys.argv[1] == "--random-walk":
        bars, out = random_walk(), sys.argv[2]
    else:
        bars, out = pd.read_csv(sys.argv[1]), sys.argv[2]
    if "volume" not in bars:
        bars["volume"] = 0.0
    o, h, l, c, v = (bars[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close", "volume"))
    columns = {k: bars[k] for k in bars.columns}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, params in SPECS:
            for convention, defaults, fn in (("cn", CN_DEFAULTS, cn), ("talib", TALIB_DEFAULTS, ta)):
                p = params if params is not None else defaults[name]
                result = fn(name, p, o, h, l, c, v)
                outputs = OUTPUTS.get(name, [""])
                results = result if len(outputs) > 1 else [result]
                for output, values in zip(outputs, results):
                    columns[f"{convention}|{label(name, p)}|{output}"] = np.asarray(values, dtype="float64")
    pd.DataFrame(columns).to_csv(out, index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
