"""Check that idc_tonic_server answers byte for byte as the Python reference
server (tests/python/idc_server.py), so that a benchmark compares servers
that do the same work.

    check_bytes.py [--tonic BINARY] [--timeout S]

--tonic    the tonic server (default: bench/tonic/target/release/idc_tonic_server;
           build it with bench/tonic/build.sh)
--timeout  seconds allowed for each start-up, call and shutdown (default 10)

Starts both servers on 127.0.0.1 with ephemeral ports and the same
generated graph file, then sends the same raw request bytes to each and
compares the raw reply bytes (response_deserializer=None): GetMACD for
several requests (the empty one, non-ASCII and long dates, an unknown field)
and GetMACDGraph at two chunk sizes. Finally both are stopped with SIGTERM
and must exit 0. Prints one line per check and exits 1 on any difference.
Run it with the project venv's Python (grpcio, grpcio-tools).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

import grpc  # noqa: E402

import stubs  # noqa: E402

stubs.ensure_stubs()

import indicator_pb2  # noqa: E402

STARTED = "Server started, listening on "


def start(cmd, timeout):
    """Start a server, wait (bounded) for its start-up line, return (proc, port)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0].startswith(STARTED):
        proc.kill()
        proc.wait()
        sys.exit("%s: no start-up line within %ss (got %r)" % (cmd[0], timeout, line))
    return proc, int(line[0][len(STARTED):])


def stop(proc, name, timeout):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "%s did not exit within %ss of SIGTERM" % (name, timeout)
    return None if code == 0 else "%s exited %d after SIGTERM" % (name, code)


def macd_raw(port, request_bytes, timeout):
    with grpc.insecure_channel("127.0.0.1:%d" % port) as channel:
        call = channel.unary_unary(
            "/idc.Indicator/GetMACD", request_serializer=None, response_deserializer=None
        )
        return call(request_bytes, timeout=timeout)


def graph_raw(port, timeout):
    with grpc.insecure_channel("127.0.0.1:%d" % port) as channel:
        call = channel.unary_stream(
            "/idc.IndicatorGraph/GetMACDGraph",
            request_serializer=None,
            response_deserializer=None,
        )
        return list(call(b"", timeout=timeout))


def macd_requests():
    """(name, raw request bytes) pairs."""
    def req(start, end):
        return indicator_pb2.MACDRequest(start_date=start, end_date=end).SerializeToString()

    # Field 15 (tag 0x7a, length-delimited): unknown to both servers.
    unknown = req("2023-01-01", "2023-12-31") + b"\x7a\x03abc"
    return [
        ("default dates", req("2023-01-01", "2023-12-31")),
        ("empty request", b""),
        ("non-ASCII dates", req("2023年1月1日 📈", "Ünïcödé")),
        ("200-byte date (2-byte length prefixes)", req("d" * 200, "")),
        ("unknown field", unknown),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tonic", default=os.path.join(HERE, "target", "release", "idc_tonic_server")
    )
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    if not os.access(args.tonic, os.X_OK):
        sys.exit("%s is missing: build it with bench/tonic/build.sh" % args.tonic)

    failures = []
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        graph = os.path.join(tmp, "macd.png")
        # Not a multiple of either chunk size, so the last chunk is short.
        with open(graph, "wb") as f:
            f.write(bytes((i * 7919 + (i >> 8)) & 0xFF for i in range(10_000)))
        for chunk_size in (1024, 4093):
            common = ["--host", "127.0.0.1", "--port", "0", "--graph-file", graph,
                      "--chunk-size", str(chunk_size)]
            python = [sys.executable, os.path.join(ROOT, "tests", "python", "idc_server.py")]
            servers = [("python", start(python + common, args.timeout)),
                       ("tonic", start([args.tonic] + common, args.timeout))]
            try:
                cases = [(name, lambda port, b=body: macd_raw(port, b, args.timeout))
                         for name, body in macd_requests()] if chunk_size == 1024 else []
                cases.append(("GetMACDGraph, chunk size %d" % chunk_size,
                              lambda port: graph_raw(port, args.timeout)))
                for name, call in cases:
                    checks += 1
                    replies = [call(port) for _, (_, port) in servers]
                    same = replies[0] == replies[1]
                    size = (sum(map(len, replies[0])) if isinstance(replies[0], list)
                            else len(replies[0]))
                    print("%s: %s (%d bytes)" % ("same" if same else "DIFFERENT", name, size))
                    if not same:
                        failures.append(name)
                        print("  python: %s\n  tonic:  %s" % tuple(repr(r)[:300] for r in replies))
            finally:
                for name, (proc, _) in servers:
                    checks += 1
                    problem = stop(proc, name, args.timeout)
                    if problem:
                        failures.append(problem)
                        print("FAILED: " + problem)
    print("%d passed, %d failed" % (checks - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
