"""What the Python peers share: the clients' and servers' common flags, the
one stderr line of a failed call, and the servers' start-up and shutdown.

Imports no generated stub, so a peer may import it before
stubs.ensure_stubs().
"""

import argparse
import signal
import sys

import grpc

STOP_GRACE_SECONDS = 1.0


def client_arg_parser(description):
    """A parser with the flags every client takes (the script may add more):

    --target      server address (default "localhost:50051")
    --start-date  request start_date (default "2023-01-01")
    --end-date    request end_date (default "2023-12-31")
    --timeout     deadline of the call in seconds (default 10)
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--target", default="localhost:50051")
    parser.add_argument("--start-date", default="2023-01-01")
    parser.add_argument("--end-date", default="2023-12-31")
    parser.add_argument("--timeout", type=float, default=10.0)
    return parser


def server_arg_parser(description):
    """A parser with the flags every server takes (the script may add more):

    --host  address to bind (default "[::]")
    --port  port to bind (default 50051; 0 picks a free port)
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="[::]")
    parser.add_argument("--port", type=int, default=50051)
    return parser


def call_failed(method, err):
    """Print "METHOD failed: CODE: details" to stderr for the grpc.RpcError
    err, and return 1, the exit code of a failed call."""
    print("%s failed: %s: %s" % (method, err.code().name, err.details()), file=sys.stderr)
    return 1


def run_server(server, host, port):
    """Bind server (its servicers already added) to host:port, or exit with
    "could not bind HOST:PORT"; stop it with a short grace on SIGTERM or
    SIGINT; start it, print exactly "Server started, listening on PORT" (the
    port actually bound) with a flush, and return once it has stopped."""
    bound = server.add_insecure_port("%s:%d" % (host, port))
    if bound == 0:
        sys.exit("could not bind %s:%d" % (host, port))

    def stop(signum, frame):
        server.stop(STOP_GRACE_SECONDS)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    server.start()
    print("Server started, listening on " + str(bound), flush=True)
    server.wait_for_termination()
