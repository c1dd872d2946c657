"""Python reference client for idc's IndicatorGraph service (the article's
graph client).

    idc_graph_client.py [--target HOST:PORT] [--start-date D] [--end-date D]
                        [--timeout S] [--output PATH]

--target      server address (default "localhost:50051")
--start-date  MACDGraphRequest.start_date (default "2023-01-01")
--end-date    MACDGraphRequest.end_date (default "2023-12-31")
--timeout     deadline of the whole stream in seconds (default 10)
--output      file written with the received chunks (default "./received_macd.png")

As in the article it prints "indicator client received: ", opens the output
file, then writes each chunk as it arrives. On an RPC error it prints one
line to stderr and exits 1 (the chunks received so far stay in the file).
"""

import sys

import grpc

import peer
import stubs

stubs.ensure_stubs()

import indicator_graph_pb2  # noqa: E402
import indicator_graph_pb2_grpc  # noqa: E402


def parse_args(argv=None):
    parser = peer.client_arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--output", default="./received_macd.png")
    return parser.parse_args(argv)


def run(args):
    with grpc.insecure_channel(args.target) as channel:
        stub = indicator_graph_pb2_grpc.IndicatorGraphStub(channel)
        print("indicator client received: ")
        with open(args.output, mode="wb") as f:
            try:
                for response in stub.GetMACDGraph(
                    indicator_graph_pb2.MACDGraphRequest(
                        start_date=args.start_date, end_date=args.end_date
                    ),
                    timeout=args.timeout,
                ):
                    f.write(response.macd_chunk)
            except grpc.RpcError as err:
                return peer.call_failed("GetMACDGraph", err)
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_args()))
