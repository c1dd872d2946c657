"""The MACD chart drawn as a pandas and matplotlib user would draw it: candlesticks over a date
axis; DIF, DEA and a histogram coloured by sign below; a title; 1280x800 px, as a PNG.

One drawing for the two places that put matplotlib beside idc's plotters chart:
tests/python/data_server.py (the data-mode peer of bench/run) and bench/matplotlib_chart.py
(the chart benchmark). It uses matplotlib's Figure directly, not pyplot, whose global state is
not safe across a server's worker threads.
"""

import io

from matplotlib.figure import Figure
import pandas as pd

RISING, FALLING, DIF_COLOUR, DEA_COLOUR = "#d62728", "#1a9641", "#1f5bc8", "#f59600"


def draw(bars, dates, dif, dea, macd, title):
    """PNG bytes of the chart. bars: a DataFrame with open, high, low and close columns; dates:
    their dates (ISO strings or timestamps), for the axis labels; dif, dea, macd: the indicator, one value a bar."""
    x = range(len(bars))
    colours = [RISING if up else FALLING for up in bars["close"] >= bars["open"]]
    fig = Figure(figsize=(12.8, 8), dpi=100)
    price, lower = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [62, 38]})
    fig.suptitle(title)
    price.vlines(x, bars["low"], bars["high"], colors=colours, linewidth=1)
    body_low = bars[["open", "close"]].min(axis=1)
    body_high = bars[["open", "close"]].max(axis=1)
    price.bar(x, body_high - body_low, bottom=body_low, color=colours, width=0.7)
    price.set_ylabel("price")
    price.grid(color="#e8e8e8")
    lower.bar(x, macd, color=[RISING if h >= 0 else FALLING for h in macd], width=0.7)
    lower.plot(x, dif, color=DIF_COLOUR, linewidth=2, label="DIF")
    lower.plot(x, dea, color=DEA_COLOUR, linewidth=2, label="DEA")
    lower.axhline(0, color="#5a5a5a", linewidth=1)
    lower.set_ylabel("MACD")
    lower.legend(loc="upper left")
    lower.grid(color="#e8e8e8")
    ticks = list(range(0, len(bars), max(1, len(bars) // 8)))
    lower.set_xticks(ticks)
    lower.set_xticklabels([pd.Timestamp(dates[i]).date().isoformat() for i in ticks])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
