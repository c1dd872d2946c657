"""Writes the committed seed corpus of the fuzz targets, fuzz/corpus/<target>/.

    .venv/bin/python fuzz/make_corpus.py

Run it again after changing it, and commit what it writes. The seeds are small, real inputs that
give libFuzzer a head start: the first rows of the two data files and the CSV dialects the loader
reads (csv_bars); dates and request ranges, good and bad (date_range); and reply bytes as the
Python reference servers encode them, through the protobuf package that the interop tests use, with
the awkward values of tests/python/hard_values_server.py, a chunk of docs/macd.png, and the
groups and odd varints that upb accepts (text_format); v2 requests as protoc encodes them from
text format, good ones and ones each check refuses, behind the byte that picks their type
(v2_request); and small bar files as pandas' `to_parquet` writes them, with string, date32 and
timestamp dates and an adj_factor column (parquet). Needs the test venv (scripts/test.sh makes it): protobuf and
grpcio-tools, for the stubs; pandas and pyarrow.
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


def v2_request_seeds():
    """Each seed is a byte picking the type (0 Compute, 1 PushBars, 2 Subscribe), then the message,
    encoded by protoc (`--encode`) from text format: no generated stubs needed."""
    import subprocess

    from grpc_tools import protoc

    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    macd = 'indicators { name: "MACD" params: [12, 26, 9] }'
    formula = 'indicators { formula: "DIF:EMA(CLOSE,12)-EMA(CLOSE,26);DEA:EMA(DIF,9);" label: "MYMACD" }'

    def bar(date, close, extra=""):
        return 'bars { date: "%s" open: %s high: %s low: %s close: %s volume: 1000 %s }' % (
            date, close, close + 1, close - 1, close, extra)

    compute = {
        "compute_macd_spx": 'symbols: "SPX" start_date: "2018-01-02" ' + macd,
        "compute_formula_weekly_talib": 'symbols: ["SPX", "AAPL"] frequency: WEEKLY convention: TALIB ' + formula,
        "compute_forward_adj": 'symbols: "ADJ" adjust: FORWARD ' + macd,
        "compute_every_symbol": "",
        "compute_unknown_and_twice": 'symbols: ["SPX", "NOPE", "SPX"]',
        "compute_bad_params": 'symbols: "SPX" indicators { name: "BOLL" params: [20, nan] }',
    }
    push = {
        "push_new_symbol": 'symbol: "NEW.SH" ' + bar("2024-01-02", 10) + bar("2024-01-03", 11),
        "push_revise_spx": 'symbol: "SPX" ' + bar("2018-12-31", 2500) + bar("2019-01-02", 2510),
        "push_adj_forming": 'symbol: "ADJ" forming: true ' + bar("2001-01-02", 1300, "adj_factor: 2.5"),
        "push_escaping_symbol": 'symbol: "../x" ' + bar("2024-01-02", 10),
        "push_out_of_order": 'symbol: "NEW" ' + bar("2024-01-03", 10) + bar("2024-01-02", 10),
    }
    subscribe = {
        "subscribe_spx_macd": 'symbols: "SPX" ' + macd + formula,
        "subscribe_every_symbol_monthly": "frequency: MONTHLY",
    }
    seeds = {}
    for kind, (message, group) in enumerate(
        (("ComputeRequest", compute), ("PushBarsRequest", push), ("SubscribeRequest", subscribe))
    ):
        for name, text in group.items():
            encoded = subprocess.run(
                [sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(ROOT, "protos"), "-I" + well_known,
                 "--encode=idc.v2." + message, "idc/v2/indicators.proto"],
                input=text.encode(), capture_output=True, check=True,
            ).stdout
            seeds[name] = bytes([kind]) + encoded
    return seeds


def parquet_seeds():
    """Small files as `DataFrame.to_parquet` (pyarrow, Snappy) writes them, read back as bytes."""
    import io

    import pandas as pd

    dates = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    prices = {"open": [10.0, 11.0, 12.0], "high": [11.0, 12.0, 13.0], "low": [9.0, 10.0, 11.0], "close": [10.5, 11.5, 12.5]}
    frames = {
        "timestamp_dates.parquet": pd.DataFrame({"date": dates, **prices, "volume": [100, 200, 300]}),
        "string_dates_adj_factor.parquet": pd.DataFrame(
            {"trade_date": ["20240102", "20240103", "20240104"], **prices, "adj_factor": [1.0, 1.0, 1.5]}
        ),
        "date32_float32.parquet": pd.DataFrame({"date": dates.date, **{k: pd.Series(v, dtype="float32") for k, v in prices.items()}}),
        "suspended_day_index.parquet": pd.DataFrame(
            {"date": dates, "open": [10.0, None, 12.0], "high": [11.0, None, 13.0], "low": [9.0, None, 11.0],
             "close": [10.5, None, 12.5]}
        ).set_index("date", drop=False),
    }
    seeds = {}
    for name, frame in frames.items():
        out = io.BytesIO()
        frame.to_parquet(out)
        seeds[name] = out.getvalue()
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
    write("v2_request", v2_request_seeds())
    write("parquet", parquet_seeds())
