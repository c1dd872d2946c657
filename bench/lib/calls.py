"""Raw gRPC calls (bytes in, bytes out, with Python's grpcio) for the checks around every load run,
and idc's Prometheus call counters."""

import math
import os
import re
import sys
import urllib.request

import grpc

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
os.environ.setdefault("IDC_PY_STUBS_DIR", os.path.join(ROOT, "target", "bench", "py-stubs"))

import stubs  # noqa: E402

stubs.ensure_stubs()

import indicator_graph_pb2  # noqa: E402
import indicator_pb2  # noqa: E402

from servers import BenchError  # noqa: E402

UNARY = "/idc.Indicator/GetMACD"
STREAM = "/idc.IndicatorGraph/GetMACDGraph"
# idc.v2's chart (bench/lib/chart_v2.py), a server stream too.
CHART = "/idc.v2.Indicators/Chart"
# Replies of 100,000 rows take about 3.3 MB, charts and file chunks less; this leaves room.
_OPTIONS = [("grpc.max_receive_message_length", 64 << 20)]


def request(start_date="", end_date=""):
    """A serialized MACDRequest (the same message both methods take)."""
    return indicator_pb2.MACDRequest(start_date=start_date, end_date=end_date).SerializeToString()


def _call(target, method, body, streaming, timeout):
    with grpc.insecure_channel(target, options=_OPTIONS) as channel:
        if streaming:
            call = channel.unary_stream(method, request_serializer=None, response_deserializer=None)
            return list(call(body, timeout=timeout))
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        return [call(body, timeout=timeout)]


def messages(target, method, body, timeout=120.0, label=""):
    """The serialized reply messages of one call, which must end with OK."""
    try:
        return _call(target, method, body, method in (STREAM, CHART), timeout)
    except grpc.RpcError as err:
        raise BenchError(
            "%s %s at %s failed: %s: %s" % (label, method, target, err.code().name, err.details())
        ) from None


def rows(raw):
    """The (date, open, close, high, low, macd) rows of a serialized MACDReply."""
    reply = indicator_pb2.MACDReply.FromString(raw)
    return [(r.date, r.open, r.close, r.high, r.low, r.macd) for r in reply.macd]


def payload(raw_messages):
    """The bytes a GetMACDGraph stream carried: its serialized MACDGraphReply messages' chunks."""
    return b"".join(indicator_graph_pb2.MACDGraphReply.FromString(m).macd_chunk for m in raw_messages)


def compare_rows(ours, theirs, what):
    """Dates equal and every float close (both sides store f64 results as f32)."""
    if len(ours) != len(theirs):
        raise BenchError("%s: %d rows against %d" % (what, len(ours), len(theirs)))
    for a, b in zip(ours, theirs):
        if a[0] != b[0]:
            raise BenchError("%s: date %s against %s" % (what, a[0], b[0]))
        for name, x, y in zip(("open", "close", "high", "low", "macd"), a[1:], b[1:]):
            if not math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-4):
                raise BenchError("%s: %s on %s is %r against %r" % (what, name, a[0], x, y))


def idc_calls(metrics_url):
    """idc's `idc_calls_total` counters: {(method, code): count}."""
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(metrics_url, timeout=10) as r:
            text = r.read().decode()
    except OSError as err:
        raise BenchError("cannot read idc's metrics at %s: %s" % (metrics_url, err)) from None
    counts = {}
    for match in re.finditer(r'^idc_calls_total\{([^}]*)\} (\d+)', text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        counts[(labels.get("method"), labels.get("code"))] = int(match.group(2))
    return counts
