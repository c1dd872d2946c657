"""Python reference client for idc's Indicator service (the article's client).

    idc_client.py [--target HOST:PORT] [--start-date D] [--end-date D] [--timeout S]

--target      server address (default "localhost:50051")
--start-date  MACDRequest.start_date (default "2023-01-01")
--end-date    MACDRequest.end_date (default "2023-12-31")
--timeout     deadline of the call in seconds (default 10)

Calls GetMACD once and prints exactly as the article does:
"indicator client received: " then print(response). On an RPC error it
prints one line to stderr and exits 1.
"""

import sys

import grpc

import peer
import stubs

stubs.ensure_stubs()

import indicator_pb2  # noqa: E402
import indicator_pb2_grpc  # noqa: E402


def parse_args(argv=None):
    return peer.client_arg_parser(__doc__.splitlines()[0]).parse_args(argv)


def run(args):
    with grpc.insecure_channel(args.target) as channel:
        stub = indicator_pb2_grpc.IndicatorStub(channel)
        try:
            response = stub.GetMACD(
                indicator_pb2.MACDRequest(start_date=args.start_date, end_date=args.end_date),
                timeout=args.timeout,
            )
        except grpc.RpcError as err:
            return peer.call_failed("GetMACD", err)
        print("indicator client received: ")
        print(response)
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_args()))
