"""Python data-mode peer for idc's benchmarks: the article's two services over real daily bars,
written as a pandas and matplotlib user would write them.

    data_server.py [--host HOST] [--port PORT] [--data PATH|sample] [--chunk-size N]

--host        address to bind (default "[::]")
--port        port to bind (default 50051; 0 picks a free port, and the port
              actually bound is the one printed)
--data        CSV of daily bars with the header date,open,high,low,close[,volume]
              (ISO dates, any order), or "sample" for data/sp500.csv (default)
--chunk-size  bytes per MACDGraphReply (default 1024, as the article's server)

At start-up it loads the CSV with pandas and computes MACD over the whole history
with ewm(span=n, adjust=False) (the 通达信 convention idc serves by default:
DIF = EMA12 - EMA26, DEA = EMA9 of DIF, MACD = 2 * (DIF - DEA)); it logs to stderr
"computed MACD for N bars in X ms", the line idc logs, so the two can be compared.

GetMACD returns the rows with start_date <= date <= end_date (an empty date is an
open end), the same fields idc returns, macd being the MACD column; a bad date is
INVALID_ARGUMENT and more than 100,000 rows OUT_OF_RANGE, as idc answers.
GetMACDGraph renders the range with matplotlib (Agg, 1280x800 px) on every call and
streams the PNG in --chunk-size pieces; an empty range is INVALID_ARGUMENT.

On startup it prints exactly "Server started, listening on PORT" and flushes
stdout; SIGTERM or SIGINT stops it, as tests/python/idc_server.py does.
"""

from concurrent import futures
import datetime
import os
import sys
import time

import grpc
import matplotlib

# Agg draws into memory; no display is needed, and the charts (macd_chart.py) are made without pyplot,
# whose global state is not safe across the server's worker threads.
matplotlib.use("Agg")
import pandas as pd  # noqa: E402

import macd_chart  # noqa: E402
import peer  # noqa: E402
import stubs  # noqa: E402

stubs.ensure_stubs()

import indicator_graph_pb2  # noqa: E402
import indicator_graph_pb2_grpc  # noqa: E402
import indicator_pb2  # noqa: E402
import indicator_pb2_grpc  # noqa: E402

SAMPLE = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "sp500.csv")
)
# idc refuses larger replies (they would pass gRPC's default 4 MiB message limit); so does this.
MAX_ROWS = 100_000


def load(path):
    """The bars of the CSV at path, indexed and sorted by date, with dif, dea and macd columns."""
    started = time.perf_counter()
    bars = pd.read_csv(path)
    bars.columns = [c.strip().lower() for c in bars.columns]
    bars["date"] = pd.to_datetime(bars["date"], format="%Y-%m-%d")
    bars = bars.set_index("date").sort_index()[["open", "high", "low", "close"]]
    loaded = time.perf_counter()

    def ema(series, span):
        return series.ewm(span=span, adjust=False).mean()

    bars["dif"] = ema(bars["close"], 12) - ema(bars["close"], 26)
    bars["dea"] = ema(bars["dif"], 9)
    bars["macd"] = 2.0 * (bars["dif"] - bars["dea"])
    done = time.perf_counter()
    print(
        "loaded %d bars from %s in %.1f ms; computed MACD for %d bars in %.1f ms"
        % (len(bars), path, (loaded - started) * 1e3, len(bars), (done - loaded) * 1e3),
        file=sys.stderr,
        flush=True,
    )
    return bars


def parse_date(text, field, context):
    """The day text names (YYYY-MM-DD), None for an empty text; aborts the call otherwise."""
    if text == "":
        return None
    try:
        if len(text) != 10:
            raise ValueError("not YYYY-MM-DD")
        return pd.Timestamp(datetime.datetime.strptime(text, "%Y-%m-%d"))
    except ValueError:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "%s: %r is not a date: use YYYY-MM-DD, e.g. 2023-01-31" % (field, text[:32]),
        )


def select(bars, request, context):
    """The rows of the request's range."""
    start = parse_date(request.start_date, "start_date", context)
    end = parse_date(request.end_date, "end_date", context)
    if start is not None and end is not None and start > end:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "start_date is after end_date")
    return bars.loc[start:end]


class Indicator(indicator_pb2_grpc.IndicatorServicer):
    def __init__(self, bars):
        self.bars = bars

    def GetMACD(self, request, context):
        rows = select(self.bars, request, context)
        if len(rows) > MAX_ROWS:
            context.abort(
                grpc.StatusCode.OUT_OF_RANGE,
                "%d rows asked for, at most %d per call: ask for a shorter range" % (len(rows), MAX_ROWS),
            )
        macd = [
            indicator_pb2.MACDData(
                date=row.Index.date().isoformat(),
                open=row.open,
                close=row.close,
                high=row.high,
                low=row.low,
                macd=row.macd,
            )
            for row in rows.itertuples()
        ]
        return indicator_pb2.MACDReply(macd=macd)


def draw(rows):
    """The chart of rows as PNG bytes (tests/python/macd_chart.py)."""
    first, last = rows.index[0].date().isoformat(), rows.index[-1].date().isoformat()
    return macd_chart.draw(rows, rows.index, rows["dif"], rows["dea"], rows["macd"],
                           "daily · MACD(12,26,9) · %s to %s" % (first, last))


class IndicatorGraph(indicator_graph_pb2_grpc.IndicatorGraphServicer):
    def __init__(self, bars, chunk_size):
        self.bars = bars
        self.chunk_size = chunk_size

    def GetMACDGraph(self, request, context):
        rows = select(self.bars, request, context)
        if len(rows) == 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no bars in that range")
        png = draw(rows)
        for offset in range(0, len(png), self.chunk_size):
            yield indicator_graph_pb2.MACDGraphReply(macd_chunk=png[offset : offset + self.chunk_size])


def parse_args(argv=None):
    parser = peer.server_arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample")
    parser.add_argument("--chunk-size", type=int, default=1024)
    args = parser.parse_args(argv)
    if args.chunk_size <= 0:
        parser.error("--chunk-size must be positive")
    if args.data == "sample":
        args.data = SAMPLE
    return args


def serve(args):
    bars = load(args.data)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    indicator_pb2_grpc.add_IndicatorServicer_to_server(Indicator(bars), server)
    indicator_graph_pb2_grpc.add_IndicatorGraphServicer_to_server(IndicatorGraph(bars, args.chunk_size), server)
    peer.run_server(server, args.host, args.port)


if __name__ == "__main__":
    serve(parse_args())
