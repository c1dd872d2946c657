"""Call /idc.Indicator/GetMACD and write the raw, undeserialized reply bytes
to stdout, so tests can compare reply bytes between the Rust and Python
servers.

    raw_call.py [--target HOST:PORT] [--start-date D] [--end-date D] [--timeout S]

--target      server address (default "localhost:50051")
--start-date  MACDRequest.start_date (default "2023-01-01")
--end-date    MACDRequest.end_date (default "2023-12-31")
--timeout     deadline of the call in seconds (default 10)

The request is serialized with the generated MACDRequest; the reply is taken
with response_deserializer=None, i.e. as the exact bytes of the gRPC message.
On an RPC error it prints one line to stderr, writes nothing to stdout and
exits 1.
"""

import sys

import grpc

import peer
import stubs

stubs.ensure_stubs()

import indicator_pb2  # noqa: E402

METHOD = "/idc.Indicator/GetMACD"


def parse_args(argv=None):
    return peer.client_arg_parser(__doc__.splitlines()[0]).parse_args(argv)


def run(args):
    request = indicator_pb2.MACDRequest(start_date=args.start_date, end_date=args.end_date)
    with grpc.insecure_channel(args.target) as channel:
        call = channel.unary_unary(
            METHOD,
            request_serializer=indicator_pb2.MACDRequest.SerializeToString,
            response_deserializer=None,
        )
        try:
            raw = call(request, timeout=args.timeout)
        except grpc.RpcError as err:
            return peer.call_failed(METHOD, err)
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_args()))
