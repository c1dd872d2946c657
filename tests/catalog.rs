//! The catalog from `--data`: a directory of instrument files with their display names, one file,
//! the sample; start-up refusing what does not load; and hot reload through the [`Watcher`] and
//! SIGHUP, observed on a [`SharedCatalog`] without gRPC.

mod common;

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{daily_bars_csv, scratch, wait_for, write_file};
use idc::catalog::{self, reload_on_sighup, CatalogError, Reloader, Source, Watcher, POLL_EVERY};
use idc::domain::bar::Delimiter;
use idc::metrics::{Metrics, ReloadOutcome};

/// Every line logged by this test binary, for the tests that check what an operator reads.
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        LOGGED.lock().unwrap().push(format!("{} {}", record.level(), record.args()));
    }

    fn flush(&self) {}
}

/// The lines logged so far that contain `part` (installs the capture on first use).
fn logged(part: &str) -> Vec<String> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Info);
    });
    LOGGED.lock().unwrap().iter().filter(|line| line.contains(part)).cloned().collect()
}

/// What the issue promises: a change is served within 2 s.
const SERVED_WITHIN: Duration = Duration::from_secs(2);

/// The (symbol, name, bars) of every instrument served now.
fn served(reloader: &Reloader) -> Vec<(String, String, usize)> {
    reloader.shared().current().iter().map(|i| (i.symbol.clone(), i.name.clone(), i.bars.len())).collect()
}

fn bars_of(reloader: &Reloader, symbol: &str) -> Option<usize> {
    reloader.shared().current().get(symbol).map(|i| i.bars.len())
}

/// Writes `bytes` to a temporary name in `dir` and renames it to `name`, as a careful writer
/// replaces a file: a reader sees the old file or the new one, whole.
fn replace(dir: &Path, name: &str, bytes: &[u8]) {
    let temporary = write_file(dir, &format!("{name}.tmp"), bytes);
    fs::rename(temporary, dir.join(name)).unwrap();
}

fn two_instruments() -> tempfile::TempDir {
    let dir = scratch();
    write_file(dir.path(), "600519.SH.csv", daily_bars_csv(2020, 30).as_bytes());
    write_file(dir.path(), "AAPL.csv", daily_bars_csv(2021, 20).as_bytes());
    write_file(dir.path(), "instruments.csv", "symbol,name\n600519.SH,贵州茅台\n".as_bytes());
    dir
}

#[test]
fn a_directory_is_one_instrument_a_file_with_names_from_instruments_csv() {
    let dir = two_instruments();
    // Not instruments: other extensions, hidden files, a writer's temporary, subdirectories.
    write_file(dir.path(), "README.txt", b"notes");
    write_file(dir.path(), ".hidden.csv", b"garbage");
    write_file(dir.path(), "AAPL.csv.tmp", b"garbage");
    fs::create_dir(dir.path().join("old.csv")).unwrap();
    // A tushare-style file with its factors and a suspended day (no prices), which is skipped.
    let factors =
        "date,open,high,low,close,adj_factor\n2020-01-02,1,2,1,1,1.5\n2020-01-03,,,,,1.5\n2020-01-06,1,2,1,1,3\n";
    write_file(dir.path(), "000002.SZ.csv", factors.as_bytes());
    logged("");
    let catalog = catalog::load(&Source::Dir(dir.path().to_path_buf())).unwrap();
    let held: Vec<_> = catalog.iter().map(|i| (i.symbol.as_str(), i.name.as_str(), i.bars.len())).collect();
    assert_eq!(held, [("000002.SZ", "000002.SZ", 2), ("600519.SH", "贵州茅台", 30), ("AAPL", "AAPL", 20)]);
    let first = catalog.get("AAPL").unwrap().first_date().unwrap();
    assert_eq!(first.to_string(), "2021-01-01");
    assert!(catalog.get("000002.SZ").unwrap().has_adj_factor());
    assert!(!catalog.get("AAPL").unwrap().has_adj_factor());
    // One line for the catalog, with what was skipped.
    let lines = logged(&format!("catalog {}:", dir.path().display()));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("INFO "), "{lines:?}");
    assert!(lines[0].contains(": 3 instruments, 52 bars, 1 row skipped; loaded in "), "{lines:?}");
}

#[test]
fn a_file_that_does_not_load_stops_start_up_with_file_and_line() {
    let dir = two_instruments();
    let bad = write_file(dir.path(), "BAD.csv", b"date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,x,1,1\n");
    let e = catalog::load(&Source::Dir(dir.path().to_path_buf())).unwrap_err();
    assert!(matches!(e, CatalogError::Bars(_)), "{e:?}");
    assert_eq!(e.to_string(), format!("{}:3: high \"x\" is not a number", bad.display()));

    fs::remove_file(&bad).unwrap();
    let names = write_file(dir.path(), "instruments.csv", "symbol,name\nAAPL,Apple\nAAPL,苹果\n".as_bytes());
    let e = catalog::load(&Source::Dir(dir.path().to_path_buf())).unwrap_err().to_string();
    assert_eq!(e, format!("{}:3: AAPL is named again (first on line 2)", names.display()));

    // Two files that give one symbol: neither is taken silently.
    write_file(dir.path(), "instruments.csv", b"symbol,name\n");
    write_file(dir.path(), "AAPL.CSV", daily_bars_csv(2021, 2).as_bytes());
    let e = catalog::load(&Source::Dir(dir.path().to_path_buf())).unwrap_err().to_string();
    let (upper, lower) = (dir.path().join("AAPL.CSV"), dir.path().join("AAPL.csv"));
    assert_eq!(e, format!("{} and {} both give the symbol AAPL: keep one of them", upper.display(), lower.display()));

    let empty = scratch();
    let e = catalog::load(&Source::Dir(empty.path().to_path_buf())).unwrap_err().to_string();
    assert!(e.contains("no instrument files"), "{e}");
    let e = catalog::load(&Source::Dir(empty.path().join("nope"))).unwrap_err().to_string();
    assert!(e.starts_with(&format!("cannot read {}", empty.path().join("nope").display())), "{e}");
}

#[test]
fn one_file_is_one_instrument_and_the_sample_is_two() {
    let dir = scratch();
    let file = write_file(dir.path(), "000001.SZ.csv", daily_bars_csv(2022, 7).as_bytes());
    assert_eq!(Source::parse(file.to_str().unwrap()), Source::File(file.clone()));
    assert_eq!(Source::parse(dir.path().to_str().unwrap()), Source::Dir(dir.path().to_path_buf()));
    assert_eq!(Source::parse("sample"), Source::Sample);
    let catalog = catalog::load_with(&Source::File(file), Delimiter::Comma).unwrap();
    let held: Vec<_> = catalog.iter().map(|i| (i.symbol.as_str(), i.name.as_str(), i.bars.len())).collect();
    assert_eq!(held, [("000001.SZ", "000001.SZ", 7)]);

    let sample = catalog::load(&Source::Sample).unwrap();
    let held: Vec<_> = sample.iter().map(|i| (i.symbol.as_str(), i.name.as_str(), i.bars.len())).collect();
    assert_eq!(held, [("AAPL", "Apple", 3270), ("SPX", "S&P 500", 5031)]);
}

/// `--data FILE` reloads too; that file gone keeps its last good version (it is the only one).
#[test]
fn one_file_is_reloaded_and_kept_when_it_goes_away() {
    let dir = scratch();
    let file = write_file(dir.path(), "000001.SZ.csv", daily_bars_csv(2022, 7).as_bytes());
    let reloader = Reloader::start(Source::File(file.clone()), Delimiter::Auto, None).unwrap();
    assert_eq!(reloader.scan(), catalog::ScanReport::default());
    replace(dir.path(), "000001.SZ.csv", daily_bars_csv(2022, 9).as_bytes());
    assert_eq!(reloader.scan().loaded, 1);
    assert_eq!(bars_of(&reloader, "000001.SZ"), Some(9));
    fs::remove_file(&file).unwrap();
    assert_eq!(reloader.scan().failed, 1);
    assert_eq!(reloader.scan().failed, 0, "reported once");
    assert_eq!(bars_of(&reloader, "000001.SZ"), Some(9));
    write_file(dir.path(), "000001.SZ.csv", daily_bars_csv(2022, 4).as_bytes());
    assert_eq!(reloader.scan().loaded, 1);
    assert_eq!(bars_of(&reloader, "000001.SZ"), Some(4));
}

/// Writes argv[1] as pandas does with `to_parquet` (pyarrow): timestamps at midnight, a suspended
/// day as NaN (stored as null), and an `adj_factor`.
const WRITE_PARQUET: &str = r#"
import sys
import pandas as pd
nan = float("nan")
pd.DataFrame({
    "date": pd.to_datetime(["2024-01-04", "2024-01-03", "2024-01-02"]),
    "open": [11.0, nan, 10.0], "high": [12.0, nan, 11.0], "low": [10.5, nan, 9.5],
    "close": [11.5, nan, 10.5], "volume": [200, 0, 100], "adj_factor": [2.0, 1.0, 1.0],
}).to_parquet(sys.argv[1])
"#;

#[test]
fn parquet_files_are_instruments_too() {
    let dir = two_instruments();
    let path = dir.path().join("000001.SZ.parquet");
    let mut write = std::process::Command::new(common::python());
    write.arg("-c").arg(WRITE_PARQUET).arg(&path);
    common::run(write).assert_success("pandas' to_parquet");
    let reloader = Reloader::start(Source::Dir(dir.path().to_path_buf()), Delimiter::Auto, None).unwrap();
    let catalog = reloader.shared().current();
    let parquet = catalog.get("000001.SZ").unwrap();
    assert_eq!(parquet.bars.close, [10.5, 11.5]);
    assert_eq!(parquet.first_date().unwrap().to_string(), "2024-01-02");
    assert!(parquet.has_adj_factor());
    assert_eq!(catalog.len(), 3);

    // One that does not load is refused as Parquet words it: `file: reason`, or `file: row N`.
    let bad = write_file(dir.path(), "BAD.parquet", b"PAR1 this is not parquet PAR1");
    let e = catalog::load(&Source::Dir(dir.path().to_path_buf())).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", bad.display())), "{e}");
    // While serving, it is counted and the rest stays served.
    assert_eq!(reloader.scan(), catalog::ScanReport { failed: 1, ..Default::default() });
    assert_eq!(reloader.shared().current().len(), 3);
}

#[test]
fn added_replaced_and_removed_files_are_served_within_two_seconds() {
    let dir = two_instruments();
    let metrics = Arc::new(Metrics::new());
    let reloader =
        Reloader::start(Source::Dir(dir.path().to_path_buf()), Delimiter::Auto, Some(Arc::clone(&metrics))).unwrap();
    assert_eq!(metrics.catalog_instruments(), 2);
    let _watcher = Watcher::start(&reloader, POLL_EVERY).unwrap();
    let before = reloader.shared().current();

    write_file(dir.path(), "MSFT.csv", daily_bars_csv(2019, 5).as_bytes());
    wait_for("MSFT served", SERVED_WITHIN, || bars_of(&reloader, "MSFT") == Some(5));
    assert_eq!(metrics.catalog_instruments(), 3);

    replace(dir.path(), "AAPL.csv", daily_bars_csv(2021, 25).as_bytes());
    wait_for("the new AAPL served", SERVED_WITHIN, || bars_of(&reloader, "AAPL") == Some(25));

    fs::remove_file(dir.path().join("600519.SH.csv")).unwrap();
    wait_for("600519.SH gone", SERVED_WITHIN, || bars_of(&reloader, "600519.SH").is_none());
    assert_eq!(
        served(&reloader),
        [("AAPL".to_string(), "AAPL".to_string(), 25), ("MSFT".to_string(), "MSFT".to_string(), 5)]
    );
    assert_eq!(metrics.catalog_reloads(ReloadOutcome::Loaded), 2);
    assert_eq!(metrics.catalog_reloads(ReloadOutcome::Removed), 1);
    assert_eq!(metrics.catalog_reloads(ReloadOutcome::Failed), 0);
    assert_eq!(metrics.catalog_instruments(), 2);
    let text = metrics.encode();
    assert!(text.contains(r#"idc_catalog_reloads_total{outcome="loaded"} 2"#), "{text}");
    assert!(text.contains("idc_catalog_instruments 2"), "{text}");

    // A call that took the catalog before the changes still sees it whole, as it was.
    let held: Vec<_> = before.iter().map(|i| (i.symbol.as_str(), i.bars.len())).collect();
    assert_eq!(held, [("600519.SH", 30), ("AAPL", 20)]);

    // New display names are served too, with the bars they had.
    replace(dir.path(), "instruments.csv", "symbol,name\nAAPL,Apple Inc.\n".as_bytes());
    wait_for("the new name served", SERVED_WITHIN, || {
        reloader.shared().current().get("AAPL").is_some_and(|i| i.name == "Apple Inc.")
    });
    assert_eq!(bars_of(&reloader, "AAPL"), Some(25));
}

#[test]
fn a_broken_replacement_keeps_the_last_good_version_and_is_counted_once() {
    let dir = two_instruments();
    let metrics = Arc::new(Metrics::new());
    let reloader =
        Reloader::start(Source::Dir(dir.path().to_path_buf()), Delimiter::Auto, Some(Arc::clone(&metrics))).unwrap();
    let watcher = Watcher::start(&reloader, POLL_EVERY).unwrap();

    replace(dir.path(), "AAPL.csv", b"date,open,high,low,close\n2021-01-01,1,2,1,1\n2021-01-02,5,2,1,1\n");
    logged("");
    wait_for("the failure counted", SERVED_WITHIN, || metrics.catalog_reloads(ReloadOutcome::Failed) == 1);
    assert_eq!(bars_of(&reloader, "AAPL"), Some(20), "the last good AAPL is still served");
    let path = dir.path().join("AAPL.csv");
    let lines = logged(&format!("{}:3: ", path.display()));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("WARN "), "{lines:?}");
    assert!(lines[0].contains("open 5 is above high 2; still serving its last good version"), "{lines:?}");
    watcher.stop();
    // The same broken version is not reread, nor counted again, at later scans.
    assert_eq!(reloader.scan(), catalog::ScanReport::default());
    assert_eq!(metrics.catalog_reloads(ReloadOutcome::Failed), 1);
    // A broken names file keeps the names served.
    write_file(dir.path(), "instruments.csv", b"symbol;name\n");
    assert_eq!(reloader.scan().failed, 1);
    assert_eq!(reloader.shared().current().get("600519.SH").unwrap().name, "贵州茅台");

    // Fixed, it is served again.
    replace(dir.path(), "AAPL.csv", daily_bars_csv(2021, 3).as_bytes());
    assert_eq!(reloader.scan().loaded, 1);
    assert_eq!(bars_of(&reloader, "AAPL"), Some(3));
    assert_eq!(metrics.catalog_reloads(ReloadOutcome::Failed), 2);
}

/// SIGHUP rereads every file at once, even one rewritten in place with the same length and time
/// (which a scan, comparing versions, cannot see), and does not end the process.
#[test]
fn sighup_reloads_every_file_and_does_not_kill_the_process() {
    let dir = two_instruments();
    let metrics = Arc::new(Metrics::new());
    let reloader =
        Reloader::start(Source::Dir(dir.path().to_path_buf()), Delimiter::Auto, Some(Arc::clone(&metrics))).unwrap();
    let path = dir.path().join("AAPL.csv");
    let old = fs::read_to_string(&path).unwrap();
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    // Same length, other prices, written in place (same inode), its time set back.
    let new = old.replace("2021-01-01,100,101,99,100", "2021-01-01,500,501,99,500");
    assert_ne!(new, old);
    assert_eq!(new.len(), old.len());
    fs::write(&path, &new).unwrap();
    fs::File::options().write(true).open(&path).unwrap().set_modified(modified).unwrap();
    assert_eq!(reloader.scan(), catalog::ScanReport::default(), "a scan cannot tell");
    let close = |reloader: &Reloader| reloader.shared().current().get("AAPL").unwrap().bars.close[0];
    assert_eq!(close(&reloader), 100.0);

    let _sighup = reload_on_sighup(&reloader).unwrap();
    signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
    wait_for("SIGHUP's reload", SERVED_WITHIN, || close(&reloader) == 500.0);
    wait_for("both files counted", SERVED_WITHIN, || metrics.catalog_reloads(ReloadOutcome::Loaded) == 2);
    // Still here: the handler replaced SIGHUP's default action, which ends the process.
    assert_eq!(served(&reloader).len(), 2);
}
