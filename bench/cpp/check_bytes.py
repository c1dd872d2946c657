"""Check that idc_cpp_server answers byte for byte as the Python reference
server (tests/python/idc_server.py) does.

    check_bytes.py --cpp-server PATH [--timeout S]

Starts both servers on 127.0.0.1 (ephemeral ports) for a few graph files and
chunk sizes, and sends each the same raw request bytes: GetMACD replies are
compared as the exact serialized messages (response_deserializer=None), and
GetMACDGraph streams as the list of serialized messages, whose chunks must
also add up to the graph file. A call that fails must fail on both servers
with the same status code. Prints one line per case; exits 0 when all agree,
1 otherwise. Run with the project venv's Python (it needs grpcio).
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PYTHON_SERVER = os.path.join(ROOT, "tests", "python", "idc_server.py")
GET_MACD = "/idc.Indicator/GetMACD"
GET_MACD_GRAPH = "/idc.IndicatorGraph/GetMACDGraph"
STARTED = "Server started, listening on "


# Requests are encoded by hand rather than with generated stubs, so the cases
# can hold bytes a stub would never produce (unknown fields, repeated fields,
# fields out of order, a string that is not UTF-8).
def length_delimited(field, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes([field << 3 | 2]) + varint(len(data)) + data


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def request(start=None, end=None):
    raw = b""
    if start is not None:
        raw += length_delimited(1, start)
    if end is not None:
        raw += length_delimited(2, end)
    return raw


MACD_CASES = [
    ("typical request", request("2023-01-01", "2023-12-31")),
    ("empty request", b""),
    ("non-ASCII date", request("2024年1月2日 Ünïcødé 📈", "2024-12-31")),
    ("end_date only", request(end="2023-12-31")),
    ("1000-character date", request("9" * 1000, "2023-12-31")),
    ("fields reversed, unknown field 3", request(end="2023-12-31") + b"\x18\x2a"
     + request("2023-01-01")),
    ("start_date twice: the last wins", request("first") + request("second")),
]

# Requests neither server can parse. Python answers INTERNAL; gRPC C++'s
# callback handler (server_callback_handlers.h in 1.51) answers any request
# that fails to deserialize with UNIMPLEMENTED and an empty message, before
# our code is called. A known library difference, checked so that a change
# in either server shows up.
UNPARSABLE_CASES = [
    ("start_date not UTF-8", length_delimited(1, b"\xff\xfe2023")),
    ("truncated message", request("2023-01-01")[:-3]),
]
UNPARSABLE_EXPECTED = {"python": "INTERNAL", "cpp": "UNIMPLEMENTED"}

GRAPH_REQUESTS = [
    ("typical request", request("2023-01-01", "2023-12-31")),
    ("empty request", b""),
]


class Server:
    """A server process started with argv; .port once it printed its start line."""

    def __init__(self, name, argv, env, timeout):
        self.name = name
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env
        )
        self.stderr = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith(STARTED):
            self.proc.kill()
            self.proc.wait()
            sys.exit("%s did not start within %g s: stdout %r, stderr %r"
                     % (name, timeout, line, "".join(self.stderr)))
        self.port = int(line[0][len(STARTED):])
        self.target = "127.0.0.1:%d" % self.port

    def _drain_stderr(self):
        for chunk in self.proc.stderr:
            self.stderr.append(chunk)

    def stop(self, timeout):
        """SIGTERM, then the exit code (None if it had to be killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def call_unary(target, raw, timeout):
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(GET_MACD, request_serializer=None,
                                   response_deserializer=None)
        try:
            return ("OK", call(raw, timeout=timeout))
        except grpc.RpcError as err:
            return (err.code().name, None)


def call_stream(target, raw, timeout):
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_stream(GET_MACD_GRAPH, request_serializer=None,
                                    response_deserializer=None)
        try:
            return ("OK", list(call(raw, timeout=timeout)))
        except grpc.RpcError as err:
            return (err.code().name, None)


def chunk_of(message):
    """The macd_chunk bytes of one serialized MACDGraphReply (field 1 only,
    as both servers write it; an empty chunk is an empty message)."""
    if not message:
        return b""
    assert message[0] == 0x0A, message[:8]
    n, shift, i = 0, 0, 1
    while True:
        byte = message[i]
        n |= (byte & 0x7F) << shift
        shift += 7
        i += 1
        if not byte & 0x80:
            break
    assert len(message) == i + n, (len(message), i, n)
    return message[i:]


def describe(result):
    status, payload = result
    if status != "OK":
        return status
    if isinstance(payload, list):
        return "OK, %d messages, %d bytes" % (len(payload), sum(len(m) for m in payload))
    return "OK, %d bytes" % len(payload)


def run(args, tmp):
    failures = 0
    rng = random.Random(20240102)
    odd = os.path.join(tmp, "odd.bin")
    with open(odd, "wb") as f:
        f.write(bytes(rng.randrange(256) for _ in range(3 * 1024 + 17)))
    empty = os.path.join(tmp, "empty.bin")
    open(empty, "wb").close()
    configs = [
        # (graph file, chunk size, run the GetMACD cases too)
        (odd, 1024, True),
        (empty, 1024, False),
        (os.path.join(ROOT, "docs", "macd.png"), 7000, False),
    ]
    env = dict(os.environ, IDC_PY_STUBS_DIR=os.path.join(tmp, "stubs"))
    for graph_file, chunk_size, with_macd in configs:
        flags = ["--host", "127.0.0.1", "--port", "0", "--graph-file", graph_file,
                 "--chunk-size", str(chunk_size)]
        servers = [
            Server("python", [sys.executable, PYTHON_SERVER] + flags, env, args.timeout),
            Server("cpp", [args.cpp_server] + flags, env, args.timeout),
        ]
        try:
            if with_macd:
                for name, raw in MACD_CASES:
                    py, cpp = (call_unary(s.target, raw, args.timeout) for s in servers)
                    same = py == cpp
                    failures += not same
                    print("%s GetMACD %s: python %s, cpp %s" % (
                        "same" if same else "DIFFERENT", name, describe(py), describe(cpp)))
                    if not same and py[1] is not None and cpp[1] is not None:
                        print("  python %s\n  cpp    %s" % (py[1].hex(), cpp[1].hex()))
                for name, raw in UNPARSABLE_CASES:
                    py, cpp = (call_unary(s.target, raw, args.timeout) for s in servers)
                    known = (py[0], cpp[0]) == (UNPARSABLE_EXPECTED["python"],
                                                UNPARSABLE_EXPECTED["cpp"])
                    failures += not known
                    print("%s GetMACD %s: python %s, cpp %s" % (
                        "known difference" if known else "UNEXPECTED", name, describe(py),
                        describe(cpp)))
            with open(graph_file, "rb") as f:
                contents = f.read()
            for name, raw in GRAPH_REQUESTS:
                py, cpp = (call_stream(s.target, raw, args.timeout) for s in servers)
                same = py == cpp
                whole = py[0] == "OK" and b"".join(chunk_of(m) for m in py[1]) == contents
                failures += not (same and whole)
                print("%s GetMACDGraph %s, %d-byte file in %d-byte chunks: python %s, cpp %s%s"
                      % ("same" if same else "DIFFERENT", name, len(contents), chunk_size,
                         describe(py), describe(cpp),
                         "" if whole else " (NOT the file's bytes)"))
        finally:
            for server in servers:
                code = server.stop(args.timeout)
                if code != 0:
                    failures += 1
                    print("%s server exited with %s on SIGTERM; stderr:\n%s"
                          % (server.name, code, "".join(server.stderr)))
    print("all replies as expected" if failures == 0 else "%d difference(s)" % failures)
    return 0 if failures == 0 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpp-server", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    if not os.access(args.cpp_server, os.X_OK):
        sys.exit("no executable %s: build it with bench/cpp/build.sh %s"
                 % (args.cpp_server, args.cpp_server))
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="idc-cpp-check-")
    try:
        code = run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("(%.1f s)" % (time.monotonic() - started))
    return code


if __name__ == "__main__":
    sys.exit(main())
