"""Python client for idc's Indicator, IndicatorGraph and grpc.health.v1.Health
services, over plaintext, TLS or mTLS, with an optional bearer token.

    secure_client.py --call macd|graph|health|health-watch
                     [--target HOST:PORT] [--start-date D] [--end-date D] [--timeout S]
                     [--tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME]]
                     [--auth-token-file FILE]
                     [--output PATH] [--service NAME] [--watch-count N]

--call             which RPC to make (below)
--target           server address (default "localhost:50051")
--start-date       request start_date (default "2023-01-01"), macd and graph
--end-date         request end_date (default "2023-12-31"), macd and graph
--timeout          deadline of the call, or of the whole stream, in seconds
                   (default 10); health-watch too, so a watch that outlives
                   it fails with DEADLINE_EXCEEDED
--tls-ca, --tls-cert, --tls-key, --tls-server-name, --auth-token-file
                   TLS, mTLS and the bearer token: see secure_channel.py.
                   The token goes as call metadata, so it is sent on a
                   plaintext channel too.
--output           file the graph is written to (default "./received_macd.png")
--service          HealthCheckRequest.service, health and health-watch
                   (default "", the server as a whole)
--watch-count      health-watch: stop after N statuses and exit 0
                   (default: until the server ends the stream)

What each call prints to stdout:

  macd          GetMACD, as the article's client: "indicator client received: "
                then print(response).
  graph         GetMACDGraph: "indicator client received: " (before the call,
                as the article's client), then the chunks go to a temporary
                file beside --output, which replaces --output only when the
                stream ends with OK; a failed stream leaves --output as it was.
  health        Health/Check: the status name, e.g. "SERVING".
  health-watch  Health/Watch: each status name on its own line, flushed as it
                arrives; exit 0 when the server ends the stream with OK (or
                after --watch-count statuses).

On an RPC error: one stderr line "METHOD failed: CODE: details" (METHOD is
GetMACD, GetMACDGraph, Check or Watch) and exit 1. Bad flags, or an
unreadable certificate, key or token file, exit 2.
"""

import os
import sys
import tempfile

# gRPC C-core itself logs some failures to stderr (a refused TLS handshake,
# at INFO level), beside the one line a failed call prints: keep it to
# errors unless the caller chose a level. C-core reads the variable once,
# when grpc is first imported, hence before any import of grpc or peer.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2  # noqa: E402
from grpc_health.v1 import health_pb2_grpc  # noqa: E402

import peer  # noqa: E402
import secure_channel  # noqa: E402
import stubs  # noqa: E402

stubs.ensure_stubs()

import indicator_graph_pb2  # noqa: E402
import indicator_graph_pb2_grpc  # noqa: E402
import indicator_pb2  # noqa: E402
import indicator_pb2_grpc  # noqa: E402

CALLS = ("macd", "graph", "health", "health-watch")


def parse_args(argv=None):
    parser = peer.client_arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--call", required=True, choices=CALLS)
    secure_channel.add_security_flags(parser)
    parser.add_argument("--output", default="./received_macd.png")
    parser.add_argument("--service", default="")
    parser.add_argument("--watch-count", type=int, metavar="N")
    args = parser.parse_args(argv)
    secure_channel.check_security_flags(parser, args)
    if args.watch_count is not None and args.watch_count < 1:
        parser.error("--watch-count must be at least 1")
    # Read the token and certificates now, so that a bad file is a usage
    # error (exit 2) before any call is made.
    args.metadata = secure_channel.auth_metadata(parser, args)
    args.channel = secure_channel.open_channel(parser, args)
    return args


def status_name(response):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def call_macd(channel, args):
    stub = indicator_pb2_grpc.IndicatorStub(channel)
    try:
        response = stub.GetMACD(
            indicator_pb2.MACDRequest(start_date=args.start_date, end_date=args.end_date),
            timeout=args.timeout,
            metadata=args.metadata,
        )
    except grpc.RpcError as err:
        return peer.call_failed("GetMACD", err)
    print("indicator client received: ")
    print(response)
    return 0


def call_graph(channel, args):
    stub = indicator_graph_pb2_grpc.IndicatorGraphStub(channel)
    print("indicator client received: ", flush=True)
    # The chunks go to a temporary file in the same directory, so that the
    # final os.replace is atomic and a failed stream never leaves a partial
    # --output behind.
    out_dir = os.path.dirname(os.path.abspath(args.output))
    fd, partial = tempfile.mkstemp(prefix=".partial-", suffix=".png", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            for response in stub.GetMACDGraph(
                indicator_graph_pb2.MACDGraphRequest(
                    start_date=args.start_date, end_date=args.end_date
                ),
                timeout=args.timeout,
                metadata=args.metadata,
            ):
                f.write(response.macd_chunk)
        os.replace(partial, args.output)
    except grpc.RpcError as err:
        return peer.call_failed("GetMACDGraph", err)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return 0


def call_health(channel, args):
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        response = stub.Check(
            health_pb2.HealthCheckRequest(service=args.service),
            timeout=args.timeout,
            metadata=args.metadata,
        )
    except grpc.RpcError as err:
        return peer.call_failed("Check", err)
    print(status_name(response))
    return 0


def call_health_watch(channel, args):
    stub = health_pb2_grpc.HealthStub(channel)
    call = stub.Watch(
        health_pb2.HealthCheckRequest(service=args.service),
        timeout=args.timeout,
        metadata=args.metadata,
    )
    received = 0
    try:
        for response in call:
            # Flushed one by one: a test reads each status while the
            # stream is still open, e.g. before it changes the server's.
            print(status_name(response), flush=True)
            received += 1
            if received == args.watch_count:
                # Enough: cancel so the server sees the watch end now,
                # not when the channel closes.
                call.cancel()
                break
    except grpc.RpcError as err:
        return peer.call_failed("Watch", err)
    return 0


def run(args):
    handlers = {
        "macd": call_macd,
        "graph": call_graph,
        "health": call_health,
        "health-watch": call_health_watch,
    }
    with args.channel as channel:
        return handlers[args.call](channel, args)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
