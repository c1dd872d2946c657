"""Parse a Prometheus text exposition with the reference parser
(prometheus_client) and print its samples as JSON, so tests can check a
server's /metrics with the parser Prometheus' own Python client uses.

    parse_metrics.py [--timeout S] [--openmetrics] URL|-

URL        an http:// URL on this machine (localhost, 127.0.0.0/8 or [::1]);
           fetched with urllib, ignoring any proxy settings
-          read the exposition from stdin instead
--timeout  seconds to wait for the URL (default 10)
--openmetrics
           ask for OpenMetrics with the Accept header Prometheus sends, and
           read the answer with the strict OpenMetrics parser
           (prometheus_client.openmetrics.parser, which also checks the
           "# EOF" and each sample's suffix); without it, the request has no
           Accept header and the classic text-format parser
           (prometheus_client.parser) reads the answer

Prints one JSON array to stdout, one element per sample, in the order of the
text:

    {"name": "idc_requests_total", "labels": {"method": "GetMACD"},
     "family": "idc_requests", "type": "counter", "value": 3.0}

"family" is the name of the sample's metric family, "type" its type as the
parser names it
("counter", "gauge", "histogram", "summary", "unknown" for an untyped one,
...). A counter's family drops "_total", its samples keep it; a value is
what the parser read (an int for "1", a float for "1.0"). Values are numbers, except NaN,
+Inf and -Inf, which strict JSON cannot hold and are the strings "NaN",
"+Inf" and "-Inf".

Exit 1, with the reason on stderr, when the text does not parse, the URL
cannot be fetched or answers with an HTTP error (a redirect included: it is
not followed); exit 2 on a usage error,
such as a URL that is not on this machine.
"""

import argparse
import ipaddress
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request

from prometheus_client.openmetrics import parser as openmetrics
from prometheus_client import parser as classic

# What Prometheus 3 asks a scrape target for (its default scrape protocols).
OPENMETRICS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", metavar="URL|-")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--openmetrics", action="store_true")
    args = parser.parse_args(argv)
    if args.source != "-":
        reason = not_loopback(args.source)
        if reason:
            parser.error(reason)
    return args


def not_loopback(url):
    """Why url may not be fetched, or None: only plain http to this machine,
    since tests must never send traffic anywhere else."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        return "only http:// URLs are fetched, not %r" % url
    host = parts.hostname or ""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return "not a loopback address: %r (use localhost, 127.0.0.1 or [::1])" % host


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could point off this machine: answer it with the HTTPError
    # of the 3xx instead of following it.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def fetch(url, timeout, accept=None):
    # An empty ProxyHandler: an http_proxy in the environment must not
    # send the request off this machine either.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with opener.open(request, timeout=timeout) as response:
        return response.read().decode("utf-8")


def json_value(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def samples(text, parser):
    """The samples of text, as JSON-ready dicts. The parser is lazy, so
    every error surfaces while iterating here."""
    out = []
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            out.append(
                {
                    "name": sample.name,
                    "labels": dict(sample.labels),
                    "family": family.name,
                    "type": family.type,
                    "value": json_value(sample.value),
                }
            )
    return out


def run(args):
    try:
        if args.source == "-":
            # Bytes decoded strictly, as a fetched body is: the locale's
            # decoder might let invalid UTF-8 through as surrogates.
            text = sys.stdin.buffer.read().decode("utf-8")
        else:
            accept = OPENMETRICS_ACCEPT if args.openmetrics else None
            text = fetch(args.source, args.timeout, accept)
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as err:
        print("cannot read %s: %s" % (args.source, err), file=sys.stderr)
        return 1
    try:
        parsed = samples(text, openmetrics if args.openmetrics else classic)
    # The parser reports malformed text with ValueError mostly, but some
    # inputs raise IndexError, KeyError or TypeError from inside it; all of
    # them mean the same here: not a valid exposition.
    except (ValueError, IndexError, KeyError, TypeError) as err:
        print("parse error: %s: %s" % (type(err).__name__, err), file=sys.stderr)
        return 1
    print(json.dumps(parsed, indent=1, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_args()))
