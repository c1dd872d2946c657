//! The files quant users have, as their tools write them, loaded as a new user would load them:
//! a tushare export, an akshare export (UTF-8, and GBK for the hint), a pandas `to_csv` with its
//! index column and Yahoo's columns, dates with a midnight time, and suspended days.

use super::{parse_table, Delimiter, Table};

fn table(csv: &str) -> Table {
    parse_table("bars.csv", csv.as_bytes(), Delimiter::Auto).unwrap_or_else(|e| panic!("{e}"))
}

fn dates(table: &Table) -> Vec<String> {
    table.bars.iter().map(|b| b.date.to_string()).collect()
}

/// `pro.daily(ts_code='600519.SH').to_csv(index=False)`: YYYYMMDD, newest first, `vol`.
#[test]
fn a_tushare_export() {
    let csv = "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n\
               600519.SH,20240105,1660.00,1665.00,1630.00,1641.00,1660.00,-19.00,-1.1446,26541.27,4363180.321\n\
               600519.SH,20240104,1680.00,1693.00,1662.00,1669.00,1679.87,-10.87,-0.6471,31337.02,5253028.458\n\
               600519.SH,20240103,1681.11,1695.22,1676.00,1679.87,1685.01,-5.14,-0.3050,32155.81,5409843.367\n\
               600519.SH,20240102,1715.00,1718.19,1678.10,1685.01,1726.00,-40.99,-2.3748,32156.95,5458093.613\n";
    let table = table(csv);
    assert_eq!(dates(&table), ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]);
    let first = table.bars[0];
    assert_eq!(
        (first.open, first.high, first.low, first.close, first.volume),
        (1715.0, 1718.19, 1678.1, 1685.01, 32156.95)
    );
    assert_eq!((table.adj_factor, table.skipped), (None, 0));
}

/// tushare's `pro_bar(..., adjfactor=True)`: the factor comes along, newest first too.
#[test]
fn a_tushare_export_with_its_factor() {
    let csv = "ts_code,trade_date,open,high,low,close,vol,adj_factor\n\
               000001.SZ,20240103,9.30,9.33,9.17,9.20,1158366.45,108.031\n\
               000001.SZ,20240102,9.39,9.42,9.21,9.21,1158366.45,107.500\n";
    let table = table(csv);
    assert_eq!(dates(&table), ["2024-01-02", "2024-01-03"]);
    assert_eq!(table.adj_factor, Some(vec![107.5, 108.031]));
}

/// `ak.stock_zh_a_hist(...).to_csv(index=False)` in UTF-8: Chinese names, other order.
#[test]
fn an_akshare_export() {
    let csv = "日期,开盘,收盘,最高,最低,成交量,成交额,振幅,涨跌幅,涨跌额,换手率\n\
               2024-01-02,1715.00,1685.01,1718.19,1678.10,32157,5458093613.00,2.33,-2.37,-40.99,0.26\n\
               2024-01-03,1681.11,1679.87,1695.22,1676.00,32156,5409843367.00,1.13,-0.31,-5.14,0.26\n";
    let table = table(csv);
    assert_eq!(dates(&table), ["2024-01-02", "2024-01-03"]);
    let bar = table.bars[1];
    assert_eq!((bar.open, bar.high, bar.low, bar.close, bar.volume), (1681.11, 1695.22, 1676.0, 1679.87, 32156.0));
}

/// The same file saved in GBK, as Chinese Excel saves it: refused, with the command that fixes it.
#[test]
fn an_akshare_export_in_gbk_gets_the_iconv_hint() {
    let gbk = b"\xc8\xd5\xc6\xda,\xbf\xaa\xc5\xcc,\xca\xd5\xc5\xcc,\xd7\xee\xb8\xdf,\xd7\xee\xb5\xcd,\xb3\xc9\xbd\xbb\xc1\xbf\n\
                2024-01-02,1715.00,1685.01,1718.19,1678.10,32157\n";
    let e = parse_table("data/600519 SH.csv", gbk, Delimiter::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        "data/600519 SH.csv:1: the text is not UTF-8; it looks like GBK (Chinese Windows and Excel save CSV so): \
         convert it with `iconv -f GBK -t UTF-8 'data/600519 SH.csv' > 'data/600519 SH.csv'.utf8` and load that"
    );
    // Bytes that are not GBK's pairs get no such hint.
    let e = parse_table("x.csv", b"date,open,high,low,close\n2024-01-02,1,1,1,1\xff\n", Delimiter::Auto).unwrap_err();
    assert_eq!(e.to_string(), "x.csv:2: the text is not UTF-8");
}

/// `yf.download("AAPL").reset_index().to_csv()`: the index column has no name, `Adj Close` is an
/// adjusted close (not a factor) and is ignored.
#[test]
fn a_pandas_to_csv_with_its_index_and_yahoo_columns() {
    let csv = ",Date,Open,High,Low,Close,Adj Close,Volume\n\
               0,2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700\n\
               1,2024-01-03,184.22,185.88,183.43,184.25,183.55,58414500\n";
    let table = table(csv);
    assert_eq!(dates(&table), ["2024-01-02", "2024-01-03"]);
    assert_eq!((table.bars[0].close, table.bars[0].volume), (185.64, 82488700.0));
    assert_eq!(table.adj_factor, None);
}

/// A datetime column written with its midnight time, and with slashes; a time of day is refused.
#[test]
fn dates_with_a_midnight_time() {
    let csv = "datetime,open,high,low,close,volume\n\
               2024-01-02 00:00:00,10,11,9,10.5,100\n\
               2024/01/03 00:00:00,10.5,12,10,11,200\n";
    assert_eq!(dates(&table(csv)), ["2024-01-02", "2024-01-03"]);
    let intraday = "datetime,open,high,low,close\n2024-01-02 09:31:00,10,11,9,10.5\n";
    let e = parse_table("bars.csv", intraday.as_bytes(), Delimiter::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bars.csv:2: \"2024-01-02 09:31:00\" has a time of day (09:31:00): the bars must be daily, dated by their day \
         or by midnight"
    );
}

/// Suspended days as pandas writes them (NaN as an empty field) or as `NaN`: skipped, counted.
#[test]
fn suspended_days_are_skipped_and_counted() {
    let csv = "date,open,high,low,close,volume\n\
               2024-01-02,10,11,9,10.5,100\n\
               2024-01-03,,,,,0\n\
               2024-01-04,NaN,NaN,NaN,NaN,NaN\n\
               2024-01-05,10.5,12,10,11,200\n";
    let table = table(csv);
    assert_eq!(dates(&table), ["2024-01-02", "2024-01-05"]);
    assert_eq!(table.skipped, 2);
}

/// A header that has none of the names: what was read, and what would have been accepted.
#[test]
fn a_refused_header_says_what_was_read_and_what_is_accepted() {
    let csv = "Datum,Eröffnung,Hoch,Tief,Schluss\n2024-01-02,10,11,9,10.5\n";
    let e = parse_table("bars.csv", csv.as_bytes(), Delimiter::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bars.csv:1: the header has no `date` column: expected `date,open,high,low,close[,volume]` (tried `,`, `;` \
         and tab as the delimiter); the header read is \"Datum,Eröffnung,Hoch,Tief,Schluss\"; the date column may \
         be named `date`, `trade_date`, `日期`, `datetime` or `time` (any case)"
    );
    let long = format!("{},date,open,high,close\n", "x".repeat(200));
    let e = parse_table("bars.csv", long.as_bytes(), Delimiter::Comma).unwrap_err().to_string();
    assert!(e.contains(&format!("the header read is \"{}…\"; the low column", "x".repeat(120))), "{e}");
    let unnamed = ",open,high,low,close\n2024-01-02,10,11,9,10.5\n";
    let e = parse_table("bars.csv", unnamed.as_bytes(), Delimiter::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bars.csv:1: the header has no `date` column, and its first column has no name, as pandas writes an unnamed \
         index: name it, e.g. `df.rename_axis(\"date\").to_csv(path)` (tried `,`, `;` and tab as the delimiter); \
         the header read is \",open,high,low,close\"; the date column may be named `date`, `trade_date`, `日期`, \
         `datetime` or `time` (any case)"
    );
}
