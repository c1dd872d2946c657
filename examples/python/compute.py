#!/usr/bin/env python3
"""Call idc.v2.Indicators/Compute for a few symbols and print the last bars of
each, with their MACD(12,26,9) and RSI(6) columns, as a table.

    python examples/python/compute.py [--rows 5] [--timeout 30] ADDRESS SYMBOL [SYMBOL...]
    python examples/python/compute.py localhost:50051 AAPL SPX

Needs grpcio and grpcio-tools (pip install grpcio grpcio-tools). The stubs
are generated from protos/idc/v2/indicators.proto into a temporary directory
at each run, so nothing generated is kept. The table is the one
examples/go/compute.go prints, character for character: fixed four decimals,
NaN where an indicator has no value yet.
"""

import argparse
import atexit
import math
import os
import shutil
import sys
import tempfile

import grpc

PROTOS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "protos"))


def load_stubs():
    """Generates the stubs into a temporary directory and imports them."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="idc-v2-stubs-")
    atexit.register(shutil.rmtree, out, True)
    # grpc_tools ships the well-known types; keep them on the include path.
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", "-I" + PROTOS, "-I" + well_known, "--python_out=" + out, "--grpc_python_out=" + out,
            os.path.join(PROTOS, "idc", "v2", "indicators.proto")]
    if protoc.main(args) != 0:
        sys.exit("compute.py: grpc_tools.protoc failed on %s" % PROTOS)
    sys.path.insert(0, out)
    from idc.v2 import indicators_pb2, indicators_pb2_grpc  # noqa: E402 (generated just now)

    return indicators_pb2, indicators_pb2_grpc


def number(value):
    return "NaN" if math.isnan(value) else "%.4f" % value


def print_table(table):
    """Symbol and date left-aligned, numbers right-aligned, two spaces apart."""
    if not table:
        return
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="server address, HOST:PORT")
    parser.add_argument("symbols", nargs="+", help="symbols, as ListInstruments lists them")
    parser.add_argument("--rows", type=int, default=5, help="bars to print per symbol, the latest")
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of the call, in seconds")
    args = parser.parse_args()
    pb, pb_grpc = load_stubs()

    request = pb.ComputeRequest(
        symbols=args.symbols,
        indicators=[pb.IndicatorSpec(name="MACD", params=[12, 26, 9]), pb.IndicatorSpec(name="RSI", params=[6])],
    )
    table = []
    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.IndicatorsStub(channel)
        try:
            for series in stub.Compute(request, timeout=args.timeout):
                if not table:
                    table.append(["symbol", "date", "close"] + [column.name for column in series.columns])
                for i in range(max(0, len(series.date) - args.rows), len(series.date)):
                    row = [series.symbol, series.date[i], number(series.close[i])]
                    table.append(row + [number(column.values[i]) for column in series.columns])
        except grpc.RpcError as e:
            sys.exit("compute.py: Compute failed: %s: %s" % (e.code().name, e.details()))
    print_table(table)


if __name__ == "__main__":
    main()
