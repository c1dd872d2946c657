//! The bars `idc_client push` sends, read as CSV by the catalog's own parser
//! ([`crate::domain::bar::parse_table`]), so that a row the server would load from a file is a row
//! that can be pushed, with the same column names (`trade_date`, `vol`, `日期`, ...), date forms,
//! delimiters and checks, and the same `file:line: reason` when it is refused.
//!
//! * A file is read whole, sorted by date, and cut into requests of at most [`MAX_BARS`] bars.
//! * stdin is a feed: the header line first, then each row is parsed (with that header) and
//!   pushed as soon as its line arrives, one request per row, so that a program writing a row at
//!   a time reaches subscribers row by row. A row is one line: a quoted field that spans lines is
//!   not read here.

use std::io::{BufRead, Write};

use super::live::Pusher;
use super::V2Error;
use crate::domain::bar::{parse_table, Delimiter, Problem, Table};
use crate::protocol::indicators as pb;

/// The most bars one PushBars request carries: a year of minutes' worth would exceed the
/// server's message limit in one request.
pub const MAX_BARS: usize = 10_000;

/// The bars of `table` as the proto carries them; a file without `adj_factor` sends 0 (the
/// instrument's last factor).
pub fn bars(table: &Table) -> Vec<pb::Bar> {
    let factors = table.adj_factor.as_deref();
    table
        .bars
        .iter()
        .enumerate()
        .map(|(i, bar)| pb::Bar {
            date: bar.date.to_string(),
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume,
            adj_factor: factors.map_or(0.0, |f| f[i]),
            ..Default::default()
        })
        .collect()
}

/// The requests that push `bars` (oldest first) to `symbol`: at most [`MAX_BARS`] each, and
/// `forming` on the last one only, since only the last bar of all can still be forming.
pub fn requests(symbol: &str, bars: Vec<pb::Bar>, forming: bool) -> Vec<pb::PushBarsRequest> {
    let chunks: Vec<Vec<pb::Bar>> = bars.chunks(MAX_BARS).map(<[pb::Bar]>::to_vec).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, bars)| pb::PushBarsRequest {
            symbol: symbol.to_string(),
            bars,
            forming: forming && i == last,
            ..Default::default()
        })
        .collect()
}

/// A file of bars, whole: parsed and checked before anything is sent (the parser refuses a file
/// without bars).
pub fn read_file(name: &str, bytes: &[u8]) -> Result<Table, V2Error> {
    parse_table(name, bytes, Delimiter::Auto).map_err(|e| V2Error::Input(e.to_string()))
}

/// Writes a reply's line, `600519.SH: 1 appended, 0 revised, last 2024-01-05`, and flushes it,
/// so that a reader downstream sees each push as it is answered.
pub fn report(mut out: impl Write, symbol: &str, reply: &pb::PushBarsReply) -> Result<(), V2Error> {
    let line = format!("{symbol}: {} appended, {} revised, last {}\n", reply.appended, reply.revised, reply.last_date);
    out.write_all(line.as_bytes()).and_then(|()| out.flush()).map_err(V2Error::Stdout)
}

/// Pushes each row of `input` as its line arrives, one request per row, [`report`]ing each reply
/// on `out`. Stops at the first row
/// that does not parse or that the server refuses. Returns the number of requests sent.
pub fn feed(
    pusher: &Pusher,
    symbol: &str,
    forming: bool,
    input: impl BufRead,
    mut out: impl Write,
) -> Result<usize, V2Error> {
    const NAME: &str = "stdin";
    let read_error = |e: std::io::Error| V2Error::Input(format!("cannot read {NAME}: {e}"));
    let mut lines = input.lines().enumerate().map(|(i, line)| (i + 1, line));
    // The header: the first line that is not blank, without a byte order mark.
    let (header_line, header) = loop {
        match lines.next() {
            None => return Err(V2Error::Input(format!("{NAME}: no header line (date,open,high,low,close,...)"))),
            Some((n, line)) => {
                let line = line.map_err(read_error)?;
                let line = line.strip_prefix('\u{feff}').unwrap_or(&line).to_string();
                if !line.trim().is_empty() {
                    break (n, line);
                }
            }
        }
    };
    let mut sent = 0;
    for (number, line) in lines {
        let line = line.map_err(read_error)?;
        if line.trim().is_empty() {
            continue;
        }
        // The header and this row, as a two-line file: the catalog's parser then reads the row
        // exactly as it would in a file. Its line numbers (1 and 2) become stdin's.
        let text = format!("{header}\n{line}\n");
        let table = match parse_table(NAME, text.as_bytes(), Delimiter::Auto) {
            Ok(table) => table,
            // A suspended day (every price empty): nothing to push, as a file's is skipped.
            Err(e) if matches!(e.problem, Problem::OnlySkipped(_)) => continue,
            Err(mut e) => {
                e.line = if e.line <= 1 { header_line } else { number };
                return Err(V2Error::Input(e.to_string()));
            }
        };
        for request in requests(symbol, bars(&table), forming) {
            report(&mut out, symbol, &pusher.push(&request)?)?;
            sent += 1;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_becomes_requests_of_at_most_max_bars_and_forming_marks_the_last() {
        let mut csv = String::from("trade_date,open,high,low,close,vol,adj_factor\n");
        // Days 1 to 28 of each month from 2000 on: valid dates, strictly increasing.
        for i in 0..(MAX_BARS + 5) {
            let (year, month, day) = (2000 + i / (12 * 28), 1 + i / 28 % 12, 1 + i % 28);
            csv.push_str(&format!("{year:04}{month:02}{day:02},10,11,9,10.5,100,1.5\n"));
        }
        let table = read_file("bars.csv", csv.as_bytes()).unwrap();
        let all = requests("X", bars(&table), true);
        assert_eq!(all.iter().map(|r| (r.bars.len(), r.forming)).collect::<Vec<_>>(), [(MAX_BARS, false), (5, true)]);
        let first = &all[0].bars[0];
        assert_eq!(
            (first.date.as_str(), first.close, first.volume, first.adj_factor),
            ("2000-01-01", 10.5, 100.0, 1.5)
        );
    }

    #[test]
    fn a_bad_row_or_an_empty_file_is_refused_with_its_place() {
        let e = read_file("b.csv", b"date,open,high,low,close\n2024-01-02,10,9,11,10\n").unwrap_err().to_string();
        assert!(e.starts_with("b.csv:2: "), "{e}");
        let e = read_file("b.csv", b"date,open,high,low,close\n").unwrap_err().to_string();
        assert_eq!(e, "b.csv:1: the file has a header but no rows");
        let table = read_file("b.csv", b"date,open,high,low,close\n2024-01-02,10,11,9,10\n").unwrap();
        assert_eq!(bars(&table)[0].adj_factor, 0.0, "no adj_factor column: the instrument's last factor");
    }
}
