//! The Parquet loader against pandas: pandas writes the same bars as CSV (`to_csv`) and as
//! Parquet (`to_parquet`, pyarrow, its defaults: Snappy, dictionary pages, NaN as null) with the
//! date as a string, a `date32` and timestamps in ns, µs and ms, in several row groups, newest
//! first, with suspended days and an `adj_factor`; every file must give the same [`Table`]. Then
//! the refusals: a damaged file, a missing column, a bad row, a repeated date, a codec this build
//! does not read, a time of day.
//!
//! The Python interpreter is `$IDC_PYTHON` (scripts/test.sh sets it to the venv that has pandas
//! and pyarrow). Without it the test fails under `CI=true` and says how to run it otherwise; it
//! never passes without comparing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use idc_core::domain::bar::{self, Delimiter, Table};
use idc_core::domain::parquet;

/// Writes the files into argv[1]: `n` = argv[2] bars, every `skip`-th (argv[3]) a suspended day.
const WRITE: &str = r#"
import sys
import numpy as np
import pandas as pd

out, n, skip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(20240102)
days = pd.bdate_range("1990-01-01", periods=n)
# Waves and noise rather than a random walk, which a million steps would take to 0.
close = np.round(100 * np.exp(0.5 * np.sin(np.arange(n) / 50) + rng.normal(0, 0.02, n)), 2)
open_ = np.round(close * (1 + rng.normal(0, 0.005, n)), 2)
high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n)), 2)
low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n)), 2)
volume = rng.integers(0, 10**9, n)
factor = np.round(np.cumprod(np.where(rng.uniform(size=n) < 0.003, 1.05, 1.0)), 6)
df = pd.DataFrame({"date": days, "open": open_, "high": high, "low": low, "close": close,
                   "volume": volume, "adj_factor": factor})
if skip:
    df.loc[df.index % skip == skip - 1, ["open", "high", "low", "close"]] = np.nan
df = df.iloc[::-1].reset_index(drop=True)  # newest first, as tushare serves them
groups = max(n // 3, 1)
text = df.assign(date=df["date"].dt.strftime("%Y-%m-%d"))
text.to_csv(f"{out}/bars.csv", index=False)
text.to_parquet(f"{out}/text.parquet", row_group_size=groups)
df.assign(date=df["date"].dt.date).to_parquet(f"{out}/date32.parquet", row_group_size=groups)
if n < 100_000:  # datetime64[ns] ends in 2262
    for unit in ["ns", "us", "ms"]:
        df.assign(date=df["date"].astype(f"datetime64[{unit}]")).to_parquet(
            f"{out}/timestamp_{unit}.parquet", row_group_size=groups)
    df.drop(columns=["low"]).to_parquet(f"{out}/no_low.parquet")
    bad = text.head(5).copy()
    bad.loc[2, "high"] = bad.loc[2, "low"] / 2
    bad.to_parquet(f"{out}/bad_row.parquet")
    partly = text.head(3).copy()
    partly.loc[1, "low"] = np.nan
    partly.to_parquet(f"{out}/partly.parquet")
    twice = text.head(5).copy()
    twice.loc[3, "date"] = twice.loc[1, "date"]
    twice.to_parquet(f"{out}/twice.parquet", row_group_size=2)
    text.to_parquet(f"{out}/zstd.parquet", compression="zstd")
    late = df.head(3).assign(date=df["date"].head(3) + pd.Timedelta(hours=15))
    late.to_parquet(f"{out}/late.parquet")
"#;

/// A fresh directory with pandas' files of `n` bars in it.
fn written(n: usize, skip: usize) -> Option<PathBuf> {
    let python = common::python("pandas and pyarrow")?;
    let dir = std::env::temp_dir().join(format!("idc-parquet-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new(python)
        .args(["-c", WRITE])
        .arg(&dir)
        .args([n.to_string(), skip.to_string()])
        .status()
        .expect("the Python interpreter runs");
    assert!(status.success(), "pandas could not write the files (is pyarrow installed? scripts/test.sh installs it)");
    Some(dir)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

fn load(dir: &Path, name: &str) -> Table {
    parquet::parse_table(name, &read(dir, name)).unwrap_or_else(|e| panic!("{e}"))
}

fn refusal(dir: &Path, name: &str) -> String {
    parquet::parse_table(name, &read(dir, name)).unwrap_err().to_string()
}

#[test]
fn every_encoding_loads_the_same_table_as_the_csv() {
    let Some(dir) = written(3000, 50) else { return };
    let csv = bar::parse_table("bars.csv", &read(&dir, "bars.csv"), Delimiter::Auto).unwrap();
    assert_eq!((csv.bars.len(), csv.skipped), (2940, 60));
    assert_eq!(csv.adj_factor.as_ref().map(Vec::len), Some(2940));
    assert!(csv.bars.windows(2).all(|w| w[0].date < w[1].date), "oldest first");
    for name in
        ["text.parquet", "date32.parquet", "timestamp_ns.parquet", "timestamp_us.parquet", "timestamp_ms.parquet"]
    {
        assert_eq!(load(&dir, name), csv, "{name}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn refusals_say_where_and_why() {
    let Some(dir) = written(30, 0) else { return };
    assert_eq!(
        refusal(&dir, "no_low.parquet"),
        "no_low.parquet: the file has no `low` column: expected date, open, high, low, close and optional volume and \
         adj_factor; its columns are \"date, open, high, close, volume, adj_factor\"; the low column may be named \
         `low` or `最低` (any case)"
    );
    let bad = refusal(&dir, "bad_row.parquet");
    assert!(bad.starts_with("bad_row.parquet: row 3: high ") && bad.contains(" is below low "), "{bad}");
    assert_eq!(
        refusal(&dir, "partly.parquet"),
        "partly.parquet: row 2: low is null or NaN (a day without trading has all four prices null or NaN, and is \
         skipped; this row has some)"
    );
    // Rows are counted across row groups (two rows each here).
    let twice = refusal(&dir, "twice.parquet");
    assert!(
        twice.starts_with("twice.parquet: row 4: date ") && twice.ends_with("appears again (first on row 2)"),
        "{twice}"
    );
    let zstd = refusal(&dir, "zstd.parquet");
    assert!(zstd.contains("only Snappy-compressed or uncompressed Parquet is read"), "{zstd}");
    let late = refusal(&dir, "late.parquet");
    assert!(
        late.starts_with("late.parquet: row 1: timestamp ") && late.contains(" 15:00:00: the bars must be daily"),
        "{late}"
    );
    // A damaged file: cut short, and not Parquet at all.
    let whole = read(&dir, "text.parquet");
    for (name, bytes) in [("cut.parquet", &whole[..whole.len() / 2]), ("csv.parquet", &read(&dir, "bars.csv")[..])] {
        let e = parquet::parse_table(name, bytes).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{name}: not a Parquet file that can be read: ")), "{e}");
    }
    std::fs::remove_dir_all(dir).ok();
}
