"""Seeded random-walk daily bars, for the benchmark's generated data (the data-mode CSV and the
memory section's catalog): one formula, so that every generated file has bars of the same kind."""


def ohlcv(rng, count, start, close_sd, gap_sd, range_sd, volume_range):
    """(open, high, low, close, volume) numpy columns of `count` bars from `rng`: the close a
    geometric random walk from `start`, each open a small gap from the close before, high and low
    around both, prices to 4 decimals, and volume uniform in `volume_range`."""
    import numpy as np

    close = start * np.exp(np.cumsum(rng.normal(0, close_sd, count)))
    open_ = np.concatenate(([start], close[:-1])) * np.exp(rng.normal(0, gap_sd, count))
    close, open_ = np.round(close, 4), np.round(open_, 4)
    high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, range_sd, count))), 4)
    low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, range_sd, count))), 4)
    high, low = np.maximum(high, np.maximum(open_, close)), np.minimum(low, np.minimum(open_, close))
    volume = rng.integers(volume_range[0], volume_range[1], count)
    return open_, high, low, close, volume
