//! `idc_server --data` on the CSV dialects the loader reads: a semicolon file with decimal
//! commas, a tab file, and a quoted CRLF file with a byte order mark and thousands separators
//! serve the same `GetMACD` rows as the same bars in plain comma CSV; `--csv-delimiter` forces a
//! delimiter; and bad files stop the server at start-up with `file:line: reason`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{repo_root, run, rust_bin, rust_server, scratch, write_file};
use idc::client::{self, Target};
use idc::protocol::indicator::MACDReply;

/// The first 300 days of the sample (1999-2000, prices above 1,000): header and rows, split.
fn sample_rows() -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(repo_root().join("data/sp500.csv")).unwrap();
    let mut lines = text.lines().map(|line| line.split(',').map(str::to_owned).collect::<Vec<_>>());
    let header = lines.next().unwrap();
    (header, lines.take(300).collect())
}

/// Writes the header and rows with `delimiter` between fields, each field passed through `field`
/// (`column` is the field's index), lines ended with `end`.
fn dialect(
    header: &[String],
    rows: &[Vec<String>],
    delimiter: &str,
    end: &str,
    field: impl Fn(usize, &str) -> String,
) -> String {
    std::iter::once(header)
        .chain(rows.iter().map(Vec::as_slice))
        .map(|fields| fields.iter().enumerate().map(|(i, f)| field(i, f)).collect::<Vec<_>>().join(delimiter))
        .map(|line| line + end)
        .collect()
}

/// `1229.22998` as `1,229.22998`.
fn with_thousands(number: &str) -> String {
    let (whole, fraction) = number.split_once('.').map_or((number, ""), |(w, f)| (w, f));
    let groups: Vec<&str> = whole.as_bytes().rchunks(3).rev().map(|g| std::str::from_utf8(g).unwrap()).collect();
    let point = if fraction.is_empty() { "" } else { "." };
    format!("{}{point}{fraction}", groups.join(","))
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Every row the server serves for this data file, with these extra flags.
fn served(csv: &Path, extra: &[&str]) -> MACDReply {
    let mut args = vec!["--data", csv.to_str().unwrap()];
    args.extend_from_slice(extra);
    let server = rust_server(&args);
    let rows = client::get_macd(&Target::new(server.target(), Duration::from_secs(30)), "", "")
        .unwrap_or_else(|e| panic!("GetMACD on {}: {e}", csv.display()));
    assert_eq!(rows.macd.len(), 300, "{}", csv.display());
    rows
}

struct Files {
    _dir: tempfile::TempDir,
    plain: PathBuf,
    semicolon: PathBuf,
    tab: PathBuf,
    quoted_crlf_bom: PathBuf,
}

fn files() -> Files {
    let dir = scratch();
    let (header, rows) = sample_rows();
    let plain = dialect(&header, &rows, ",", "\n", |_, f| f.to_owned());
    // As a German spreadsheet exports it: `;` between fields, decimal commas, capitalised names.
    let semicolon =
        dialect(&header, &rows, ";", "\r\n", |i, f| if i == 0 { f.to_owned() } else { f.replace('.', ",") })
            .replace("date;open;high;low;close;volume", "Date;Open;High;Low;Close;Volume");
    let tab = dialect(&header, &rows, "\t", "\n", |_, f| f.to_owned());
    // As Excel's "CSV UTF-8" with every field quoted: a byte order mark, CRLF, and "1,229.22998".
    let quoted_crlf_bom = String::from("\u{feff}")
        + &dialect(&header, &rows, ",", "\r\n", |i, f| {
            if i == 0 || f.parse::<f64>().is_err() {
                quoted(f)
            } else {
                quoted(&with_thousands(f))
            }
        });
    assert!(quoted_crlf_bom.contains("\"1,229.22998\""), "the prices have thousands separators");
    Files {
        plain: write_file(dir.path(), "plain.csv", plain.as_bytes()),
        semicolon: write_file(dir.path(), "semicolon.csv", semicolon.as_bytes()),
        tab: write_file(dir.path(), "tab.tsv", tab.as_bytes()),
        quoted_crlf_bom: write_file(dir.path(), "quoted.csv", quoted_crlf_bom.as_bytes()),
        _dir: dir,
    }
}

#[test]
fn every_dialect_serves_the_rows_of_the_plain_comma_file() {
    let files = files();
    let plain = served(&files.plain, &[]);
    assert_eq!(plain.macd[0].date, "1999-01-04");
    assert_eq!(plain.macd[0].open, 1229.22998_f64 as f32, "the file's open, as a float");
    for (csv, flag) in [(&files.semicolon, "semicolon"), (&files.tab, "tab"), (&files.quoted_crlf_bom, "comma")] {
        assert_eq!(served(csv, &[]).macd, plain.macd, "{} with the delimiter detected", csv.display());
        assert_eq!(
            served(csv, &["--csv-delimiter", flag]).macd,
            plain.macd,
            "{} with --csv-delimiter {flag}",
            csv.display()
        );
    }
}

/// Runs `idc_server --data csv extra...`, which must stop at start-up; returns its stderr.
fn refused(csv: &Path, extra: &[&str]) -> String {
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--data"]).arg(csv).args(extra);
    let out = run(cmd);
    assert!(!out.status.success(), "{} was accepted; stderr:\n{}", csv.display(), out.stderr);
    out.stderr
}

fn assert_refused(dir: &Path, name: &str, text: &str, extra: &[&str], line: usize, reason: &str) {
    let csv = write_file(dir, name, text.as_bytes());
    let stderr = refused(&csv, extra);
    let expected = format!("{}:{line}: {reason}", csv.display());
    assert!(stderr.contains(&expected), "expected {expected:?} in:\n{stderr}");
}

#[test]
fn bad_files_stop_the_server_with_file_line_and_reason() {
    let dir = scratch();
    let dir = dir.path();
    let ok = "2020-01-02,11,12,10,11";
    let header = "date,open,high,low,close";
    assert_refused(
        dir,
        "open.csv",
        &format!("{header}\n{ok}\n2020-01-03,12.5,12.0,10,11\n"),
        &[],
        3,
        "open 12.5 is above high 12",
    );
    assert_refused(
        dir,
        "close.csv",
        &format!("{header}\r\n{ok}\r\n\r\n2020-01-06,11,12,10,9.5\r\n"),
        &[],
        4,
        "close 9.5 is below low 10",
    );
    assert_refused(
        dir,
        "huge.csv",
        &format!("{header}\n2020-01-02,1,1e39,1,1\n"),
        &[],
        2,
        "high 1e39 does not fit a 32-bit float (the wire type of prices)",
    );
    // What was refused before stays refused, with the same reason.
    assert_refused(dir, "low.csv", &format!("{header}\n{ok}\n2020-01-03,1,2,3,1\n"), &[], 3, "high 2 is below low 3");
    // A line break inside a quoted field does not shift the line numbers that follow.
    assert_refused(
        dir,
        "note.csv",
        "\u{feff}\"date\",\"open\",\"high\",\"low\",\"close\",\"note\"\r\n\
         \"2020-01-02\",\"11\",\"12\",\"10\",\"11\",\"two\r\nlines\"\r\n\
         \"2020-01-02\",\"11\",\"12\",\"10\",\"11\",\"\"\r\n",
        &[],
        4,
        "date 2020-01-02 appears again (first on line 2)",
    );
    // Separators in numbers: the reason says what this dialect allows.
    assert_refused(
        dir,
        "comma.csv",
        &format!("{header}\n2020-01-02,\"1,5\",2,1,1\n"),
        &[],
        2,
        "open \"1,5\" is not a number: in a comma-separated file a comma in a number can only group thousands",
    );
    assert_refused(
        dir,
        "unquoted.csv",
        &format!("{header}\n2020-01-02,1,000.5,2000,1,1000\n"),
        &[],
        2,
        "expected 5 fields as in the header, found 6 (a field that holds a comma, such as 1,000.5, must be quoted)",
    );
    assert_refused(
        dir,
        "grouped.csv",
        "date;open;high;low;close\n2020-01-02;1.000,5;2000;1;1000\n",
        &[],
        2,
        "open \"1.000,5\" is not a number: with `;` or tab as the delimiter, a number has one decimal separator",
    );
    // A delimiter that does not fit the file, given or detected.
    let semicolons = "date;open;high;low;close\n2020-01-02;1;2;1;1\n";
    assert_refused(
        dir,
        "given.csv",
        semicolons,
        &["--csv-delimiter", "comma"],
        1,
        "the header has no `date` column: expected `date,open,high,low,close[,volume]` (with `,` as the delimiter)",
    );
    assert_refused(
        dir,
        "pipes.csv",
        "date|open|high|low|close\n2020-01-02|1|2|1|1\n",
        &[],
        1,
        "the header has no `date` column: expected `date,open,high,low,close[,volume]` (tried `,`, `;` and tab as \
         the delimiter)",
    );
}

#[test]
fn an_unknown_delimiter_is_refused_by_the_flag() {
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--data", "sample", "--csv-delimiter", "pipe"]);
    let out = run(cmd);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("--csv-delimiter") && out.stderr.contains("auto, comma, semicolon or tab"),
        "{}",
        out.stderr
    );
}
