"""Test server for the Indicator service that returns awkward values, used to
check that the Rust client prints a reply exactly like Python's
print(response).

    hard_values_server.py [--host HOST] [--port PORT]

--host  address to bind (default "[::]")
--port  port to bind (default 50051; 0 picks a free port, and the port
        actually bound is the one printed)

Startup line and shutdown are as in idc_server.py: it prints exactly
"Server started, listening on PORT", flushes, and stops on SIGTERM/SIGINT.

GetMACD treats request.start_date as a case name (end_date is ignored) and
returns that case's rows (see CASES). Python floats are stored into the
float (32-bit) fields, so values are rounded to float32 as protobuf does.
The special name "cases" returns one row per case name, in CASES order, with
the name in `date` and every float 0.0, so a test can list the cases. An
unknown name aborts the call with NOT_FOUND.
"""

import random
import struct
from concurrent import futures

import grpc

import peer
import stubs

stubs.ensure_stubs()

import indicator_pb2  # noqa: E402
import indicator_pb2_grpc  # noqa: E402

FLOAT_FIELDS = ("open", "close", "high", "low", "macd")
LIST_CASES = "cases"


def row(date="", open=0.0, close=0.0, high=0.0, low=0.0, macd=0.0):
    return {"date": date, "open": open, "close": close, "high": high, "low": low, "macd": macd}


def rows_of(values, label):
    """One row per value: the value in open, high and macd, its negation in
    close and low, so both signs get printed."""
    return [
        row("%s-%d" % (label, i), open=v, close=-v, high=v, low=-v, macd=v)
        for i, v in enumerate(values)
    ]


def f32_from_bits(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def random_rows(seed=7, count=200):
    """Rows of random floats; nothing is skipped (NaNs with payloads, infs,
    subnormals, float32 overflow of large gauss values all stay).

    Each value is one of: uniform in [-1000, 1000]; gauss * 10**k for k in
    [-45, 45]; a random 32-bit pattern read as float32; or a random pattern
    whose exponent is forced to all-ones or all-zeros (inf, NaN with a
    random payload and sign, or a subnormal/zero), since plain random bits
    almost never hit those.
    """
    rng = random.Random(seed)

    def value():
        kind = rng.randrange(4)
        if kind == 0:
            return rng.uniform(-1000.0, 1000.0)
        if kind == 1:
            return rng.gauss(0.0, 1.0) * 10.0 ** rng.randint(-45, 45)
        bits = rng.getrandbits(32)
        if kind == 3:
            exponent = 0xFF if rng.random() < 0.5 else 0x00
            bits = (bits & 0x807FFFFF) | (exponent << 23)
        return f32_from_bits(bits)

    rows = []
    for i in range(count):
        date = "%04d-%02d-%02d" % (rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 28))
        rows.append(row(date, *[value() for _ in FLOAT_FIELDS]))
    return rows


NAN = float("nan")
NEG_NAN = -float("nan")
INF = float("inf")

CASES = {
    "tiny": rows_of([1e-45, 1.4e-45, 1e-38, 1.17549435e-38, 3e-39], "tiny"),
    "huge": rows_of([3.4028235e38, 1e30, 123456789.0, 16777217.0], "huge"),
    "negative": [
        row("negative", open=-1.1, close=-2.1, high=-3.1, low=-0.1, macd=-2.5),
        row("negative-small", open=-1e-10, close=-0.5, high=-1.0, low=-1e10, macd=-3.4028235e38),
    ],
    "negzero": [
        row("negzero-all", open=-0.0, close=-0.0, high=-0.0, low=-0.0, macd=-0.0),
        row("negzero-mixed", open=-0.0, close=0.0, high=-0.0, low=0.0, macd=-0.0),
        row("poszero-all", open=0.0, close=0.0, high=0.0, low=0.0, macd=0.0),
    ],
    "nan": [
        row("nan", open=NAN, close=NAN, high=NAN, low=NAN, macd=NAN),
        row("neg-nan", open=NEG_NAN, close=NEG_NAN, high=NEG_NAN, low=NEG_NAN, macd=NEG_NAN),
        row("nan-payload", open=f32_from_bits(0x7FC00001), close=f32_from_bits(0xFFC00001),
            high=f32_from_bits(0x7F800001), low=f32_from_bits(0xFFFFFFFF), macd=1.0),
    ],
    "inf": [
        row("inf", open=INF, close=-INF, high=INF, low=-INF, macd=INF),
        row("overflow", open=1e39, close=-1e39, high=3.4028236e38, low=1e300, macd=-1e300),
    ],
    "digits": rows_of(
        [0.1, 1 / 3, 2 / 3, 0.3, 1.0000001, 123.456789, 9.999999e-5, 100.0, 1e6, 1e7,
         1e16, 1e-5, 0.0001, 1.1, 2.1, 3.1, 0.1 * 3, 2.5, 16777216.0, 0.5, 1e-4 * 3],
        "digits",
    ),
    "strings": [
        row("2023年1月1日", open=1.0),
        row("café é", open=2.0),
        row("emoji 📈🚀", open=3.0),
        row('double "quotes"', open=4.0),
        row("single 'quotes'", open=5.0),
        row("back\\slash", open=6.0),
        row("newline\ncr\rtab\t", open=7.0),
        row("nul\x00one\x01us\x1fdel\x7f", open=8.0),
        row("c1\u0080nbsp\u00a0zwsp\u200b", open=9.0),
        row("", open=10.0),
    ],
    "empty": [],
    "allzero": [row()],
    "random": random_rows(),
}


class HardValues(indicator_pb2_grpc.IndicatorServicer):
    def GetMACD(self, request, context):
        name = request.start_date
        if name == LIST_CASES:
            rows = [row(case) for case in CASES]
        elif name in CASES:
            rows = CASES[name]
        else:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown case %r" % name)
        return indicator_pb2.MACDReply(macd=[indicator_pb2.MACDData(**r) for r in rows])


def parse_args(argv=None):
    return peer.server_arg_parser(__doc__.splitlines()[0]).parse_args(argv)


def serve(args):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    indicator_pb2_grpc.add_IndicatorServicer_to_server(HardValues(), server)
    peer.run_server(server, args.host, args.port)


if __name__ == "__main__":
    serve(parse_args())
