#!/usr/bin/env python3
"""Subscribe to one symbol's live bars through idc.v2.Indicators/Subscribe,
with MACD(12,26,9) and RSI(24), and print the first N updates, one a line.

    python examples/python/subscribe.py [--timeout S] ADDRESS SYMBOL [N]
    python examples/python/subscribe.py localhost:50051 SPX 3

Each line is `date close MACD(12,26,9).DIF RSI(24) provisional snapshot`,
numbers to four decimals (NaN where an indicator has no value yet). The first
update is the snapshot (the latest bar held); the next ones are bars pushed
after it. After N updates (default 3) the call is cancelled and the program
exits 0. The lines are the ones examples/go/subscribe.go prints, character
for character.

Needs grpcio and grpcio-tools (pip install grpcio grpcio-tools); the stubs
are generated at each run, as compute.py does.
"""

import argparse
import math
import os
import sys

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compute import load_stubs  # noqa: E402 (the stubs, generated as compute.py generates them)

# The columns printed, as the server names them: the canonical spec, then the output.
COLUMNS = ["MACD(12,26,9).DIF", "RSI(24)"]


def number(value):
    return "NaN" if math.isnan(value) else "%.4f" % value


def line(update):
    values = [number(update.values.get(name, float("nan"))) for name in COLUMNS]
    flags = ["true" if update.provisional else "false", "true" if update.snapshot else "false"]
    return " ".join([update.date, number(update.bar.close)] + values + flags)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="server address, HOST:PORT")
    parser.add_argument("symbol", help="the symbol, as ListInstruments lists it")
    parser.add_argument("n", nargs="?", type=int, default=3, help="updates to print (default 3)")
    parser.add_argument("--timeout", type=float, default=None, help="deadline in seconds (default: none)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("N must be at least 1")
    pb, pb_grpc = load_stubs()

    request = pb.SubscribeRequest(
        symbols=[args.symbol],
        indicators=[pb.IndicatorSpec(name="MACD", params=[12, 26, 9]), pb.IndicatorSpec(name="RSI", params=[24])],
    )
    with grpc.insecure_channel(args.address) as channel:
        updates = pb_grpc.IndicatorsStub(channel).Subscribe(request, timeout=args.timeout)
        printed = 0
        try:
            for update in updates:
                # Flushed at once: whoever reads this (a pipe, a test) sees each update as it comes.
                print(line(update), flush=True)
                printed += 1
                if printed == args.n:
                    updates.cancel()  # tells the server to end the subscription now
                    return
        except grpc.RpcError as e:
            sys.exit("subscribe.py: Subscribe failed: %s: %s" % (e.code().name, e.details()))
        sys.exit("subscribe.py: the server ended the subscription after %d update(s)" % printed)


if __name__ == "__main__":
    main()
