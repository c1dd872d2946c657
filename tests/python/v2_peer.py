"""Python peer of idc.v2.Indicators for the `market` benchmark (bench/lib/market.py): the catalog
and Compute written the straightforward way a pandas and TA-Lib user writes them.

    v2_peer.py [--host HOST] [--port PORT] --data DIR [--convention cn|talib]

--host        address to bind (default "[::]")
--port        port to bind (default 50051; 0 picks a free port, and the port
              actually bound is the one printed)
--data        a directory of SYMBOL.csv files (date,open,high,low,close,volume[,adj_factor]),
              each read with pandas at start-up, as idc_server --data DIR reads them
--convention  the convention of a request that names none (default cn, as idc_server's)

ListInstruments lists the catalog. Compute serves MACD, RSI, BOLL and KDJ (with their
parameters, or the convention's defaults) for the symbols asked (every one, in symbol order,
when none are), one Series per symbol, daily and unadjusted: the indicators are computed over
the symbol's whole history on every call, then the bars in [start_date, end_date] are sent, so a
value does not depend on the range, as idc's do not. TALIB computes with TA-Lib (talib.MACD,
RSI, BBANDS, STOCH with J = 3K - 2D); CN with MyTT, whose RD (rounding to 3 decimals) is
replaced by the identity, as tests/python/indicators_reference.py does, so that its values are
comparable with idc's unrounded ones. Anything else (formulas, adjustment, weekly or monthly
bars, Chart, PushBars, Subscribe) is UNIMPLEMENTED.

The stubs are generated from protos/idc/v2/indicators.proto into a temporary directory at each
start, as examples/python/compute.py does. On start-up it prints exactly
"Server started, listening on PORT"; SIGTERM or SIGINT stops it (tests/python/peer.py).
"""

import atexit
import datetime
import os
import shutil
import sys
import tempfile
from concurrent import futures

import grpc
import numpy as np
import pandas as pd
import talib

import MyTT.MyTT
import peer

# MyTT's functions look RD up in their own module's globals: patch it there.
MyTT.MyTT.RD = lambda x, d=3: x

PROTOS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "protos"))
DEFAULTS = {
    "cn": {"MACD": [12, 26, 9], "RSI": [24], "BOLL": [20, 2], "KDJ": [9, 3, 3]},
    "talib": {"MACD": [12, 26, 9], "RSI": [14], "BOLL": [20, 2], "KDJ": [9, 3, 3]},
}
OUTPUTS = {"MACD": ["DIF", "DEA", "MACD"], "RSI": [None], "BOLL": ["UPPER", "MID", "LOWER"], "KDJ": ["K", "D", "J"]}


def load_stubs():
    """Generates the v2 stubs into a temporary directory and imports them."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="idc-v2-peer-stubs-")
    atexit.register(shutil.rmtree, out, True)
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", "-I" + PROTOS, "-I" + well_known, "--python_out=" + out, "--grpc_python_out=" + out,
            os.path.join(PROTOS, "idc", "v2", "indicators.proto")]
    if protoc.main(args) != 0:
        sys.exit("v2_peer.py: grpc_tools.protoc failed on %s" % PROTOS)
    sys.path.insert(0, out)
    from idc.v2 import indicators_pb2, indicators_pb2_grpc  # noqa: E402 (generated just now)

    return indicators_pb2, indicators_pb2_grpc


pb, pb_grpc = load_stubs()


def load(directory):
    """{symbol: DataFrame} of every SYMBOL.csv in directory, sorted by date."""
    catalog = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".csv"):
            frame = pd.read_csv(os.path.join(directory, name), dtype={"date": str})
            catalog[name[:-4]] = frame.sort_values("date").reset_index(drop=True)
    return catalog


def compute(name, p, frame, convention):
    """The output columns of one indicator over the whole history."""
    c = frame["close"].to_numpy(dtype="float64")
    h = frame["high"].to_numpy(dtype="float64")
    low = frame["low"].to_numpy(dtype="float64")
    if convention == "talib":
        if name == "MACD":
            return talib.MACD(c, fastperiod=int(p[0]), slowperiod=int(p[1]), signalperiod=int(p[2]))
        if name == "RSI":
            return [talib.RSI(c, timeperiod=int(p[0]))]
        if name == "BOLL":
            return talib.BBANDS(c, timeperiod=int(p[0]), nbdevup=p[1], nbdevdn=p[1], matype=0)
        k, d = talib.STOCH(h, low, c, fastk_period=int(p[0]), slowk_period=int(p[1]), slowk_matype=0,
                           slowd_period=int(p[2]), slowd_matype=0)
        return [k, d, 3 * k - 2 * d]
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "MACD":
            return MyTT.MyTT.MACD(c, int(p[0]), int(p[1]), int(p[2]))
        if name == "RSI":
            return [MyTT.MyTT.RSI(c, int(p[0]))]
        if name == "BOLL":
            return MyTT.MyTT.BOLL(c, int(p[0]), p[1])
        return MyTT.MyTT.KDJ(c, h, low, int(p[0]), int(p[1]), int(p[2]))


def day(text, which, context):
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "%s %r is not a date (YYYY-MM-DD)" % (which, text))


class Indicators(pb_grpc.IndicatorsServicer):
    def __init__(self, catalog, convention):
        self.catalog = catalog
        self.convention = convention

    def ListInstruments(self, request, context):
        return pb.ListInstrumentsReply(instruments=[
            pb.Instrument(symbol=symbol, name=symbol, first_date=frame["date"].iloc[0],
                          last_date=frame["date"].iloc[-1], bars=len(frame), has_adj_factor="adj_factor" in frame)
            for symbol, frame in self.catalog.items()
        ])

    def Compute(self, request, context):
        if request.adjust != pb.ADJUST_NONE or request.frequency != pb.DAILY:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this peer serves daily, unadjusted bars only")
        convention = {pb.CONVENTION_UNSPECIFIED: self.convention, pb.CN: "cn", pb.TALIB: "talib"}.get(
            request.convention)
        if convention is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown convention %d" % request.convention)
        specs = []
        for spec in request.indicators:
            name = spec.name.upper()
            if spec.formula or name not in OUTPUTS:
                context.abort(grpc.StatusCode.UNIMPLEMENTED,
                              "this peer computes MACD, RSI, BOLL and KDJ only, not %r" % (spec.name or spec.formula))
            params = list(spec.params) or DEFAULTS[convention][name]
            if len(params) != len(DEFAULTS[convention][name]):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "%s takes %d parameter(s), not %d" % (
                    name, len(DEFAULTS[convention][name]), len(params)))
            label = spec.label or "%s(%s)" % (name, ",".join("%g" % x for x in params))
            specs.append((name, params, label))
        start = day(request.start_date, "start_date", context)
        end = day(request.end_date, "end_date", context)
        symbols = list(request.symbols) or list(self.catalog)
        unknown = [s for s in symbols if s not in self.catalog]
        if unknown:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown symbols: %s" % ", ".join(unknown))
        for symbol in symbols:
            frame = self.catalog[symbol]
            keep = np.ones(len(frame), dtype=bool)
            if start:
                keep &= (frame["date"] >= start).to_numpy()
            if end:
                keep &= (frame["date"] <= end).to_numpy()
            columns = []
            for name, params, label in specs:
                for output, values in zip(OUTPUTS[name], compute(name, params, frame, convention)):
                    column = label if output is None else "%s.%s" % (label, output)
                    values = np.asarray(values, dtype="float64")[keep]
                    columns.append(pb.Column(name=column, values=values.tolist()))
            rows = frame[keep]
            yield pb.Series(
                symbol=symbol, date=rows["date"].tolist(), open=rows["open"].astype(float).tolist(),
                high=rows["high"].astype(float).tolist(), low=rows["low"].astype(float).tolist(),
                close=rows["close"].astype(float).tolist(), volume=rows["volume"].astype(float).tolist(),
                columns=columns)


def main():
    parser = peer.server_arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--convention", choices=("cn", "talib"), default="cn")
    args = parser.parse_args()
    catalog = load(args.data)
    print("v2_peer: %d instruments, %d bars" % (len(catalog), sum(map(len, catalog.values()))), file=sys.stderr)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    pb_grpc.add_IndicatorsServicer_to_server(Indicators(catalog, args.convention), server)
    peer.run_server(server, args.host, args.port)


if __name__ == "__main__":
    main()
