"""Writes the committed seed corpus of the fuzz targets, fuzz/corpus/<target>/.

    .venv/bin/python fuzz/make_corpus.py

Run it again after changing it, and commit what it writes. The seeds are small, real inputs that
give libFuzzer a head start: the first rows of the two data files and the CSV dialects the loader
reads (csv_bars); dates and request ranges, good and bad (date_range); and reply bytes as the
Python reference servers encode them, through the protobuf package that the interop tests use, with
the awkward values of tests/python/hard_values_server.py, a chunk of docs/macd.png, and the
groups and odd varints that upb accepts (text_format). Needs the test venv (scripts/test.sh makes
it): protobuf and grpcio-tools, for the stubs.
"""

import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

import hard_values_server  # noqa: E402  (generates and imports the stubs)
import idc_server  # noqa: E402
import indicator_graph_pb2  # noqa: E402
import indicator_pb2  # noqa: E402


def head(path, rows):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return "".join(f.readline() for _ in range(rows + 1))


def csv_seeds():
    sp500 = head("data/sp500.csv", 5)
    lines = [line.split(",") for line in sp500.splitlines()]
    as_dialect = lambda sep, end, field=lambda i, f: f: "".join(  # noqa: E731
        sep.join(field(i, f) for i, f in enumerate(row)) + end for row in lines
    )
    thousands = lambda f: '"{:,}"'.format(float(f)) if f[0].isdigit() and "." in f else '"%s"' % f  # noqa: E731
    return {
        "sp500_head.csv": sp500,
        "aapl_head.csv": head("data/aapl.csv", 5),
        "semicolon_decimal_comma_crlf.csv": as_dialect(";", "\r\n", lambda i, f: f.replace(".", ",")),
        "tab.csv": as_dialect("\t", "\n"),
        "quoted_thousands_crlf_bom.csv": "\ufeff" + as_dialect(",", "\r\n", lambda i, f: thousands(f)),
        "columns_reordered_no_volume.csv": "Close,low,DATE,High,open,note\n"
        '12,9,2023-01-03,12.5,10,"a ""quoted"" note"\n'
        '\n11,10.5,2023-01-02,11.5,11,"two\nlines"\n',
        "blank_lines_and_spaces.csv": "\n date , open , high , low , close \n\n 2023-01-02 , 1 , 2 , 0.5 , 1.5 \n  \n",
        "duplicate_date.csv": "date,open,high,low,close\n2023-01-02,1,2,0.5,1.5\n2023-01-02,1,2,0.5,1.5\n",
        "open_above_high.csv": "date,open,high,low,close\n2023-01-02,12.5,12,11,11.5\n",
        "float32_limits.csv": "date,open,high,low,close\n2023-01-02,1e-45,3.4e38,1e-45,1e38\n",
        "unclosed_quote.csv": 'date,open,high,low,close\n2023-01-02,"1,2,0.5,1.5\n2023-01-03,1,2,0.5,1.5\n',
    }


def date_seeds():
    return {
        "date": "2023-01-01",
        "leap_day": "2024-02-29",
        "not_a_day": "2023-02-30",
        "first_day": "0001-01-01",
        "last_day": "9999-12-31",
        "month_13": "2019-13-01",
        "range": "2018-12-24\n2018-12-31",
        "range_reversed": "2018-12-31\n2018-01-01",
        "open_start": "\n2018-12-31",
        "open_end": "2018-12-24\n",
        "slashes": "2023/01/01",
        "long_unicode": "2023年1月1日" * 8,
    }


def wire_seeds():
    seeds = {}
    parity = idc_server.Indicator().GetMACD(indicator_pb2.MACDRequest(start_date="2023-01-01"), None)
    seeds["parity_reply"] = parity.SerializeToString()
    for case in ("negzero", "nan", "inf", "tiny", "huge", "digits", "strings", "allzero", "empty"):
        request = indicator_pb2.MACDRequest(start_date=case)
        reply = hard_values_server.HardValues().GetMACD(request, None)
        seeds["hard_values_" + case] = reply.SerializeToString()
    with open(os.path.join(ROOT, "docs", "macd.png"), "rb") as f:
        png = f.read(200)
    seeds["graph_chunk_png"] = indicator_graph_pb2.MACDGraphReply(macd_chunk=png).SerializeToString()
    # Wire forms that upb accepts and rust-protobuf never writes (see idc-core's text_format tests).
    seeds["groups"] = bytes.fromhex("131b08011c140a023b3c")
    seeds["padded_tag_and_length"] = bytes.fromhex("8a8080800000128180808000" + "61")
    seeds["long_varint_and_fixed"] = bytes.fromhex("10ffffffffffffffffff7f" + "1901020304050607081d01020304")
    # The fuzzer's finds (each is also a unit test in core/src/text_format.rs).
    seeds["found_row_length_past_the_end"] = bytes.fromhex("0a29")
    seeds["found_row_length_above_32_bits"] = bytes.fromhex("0af4f4f4f41b")
    return seeds


def write(target, seeds):
    folder = os.path.join(CORPUS, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, content in seeds.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("csv_bars", csv_seeds())
    write("date_range", date_seeds())
    write("text_format", wire_seeds())
