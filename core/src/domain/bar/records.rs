//! The records of a CSV, read with the `csv` crate, and the physical line each one starts on,
//! which is what a refusal names.

use super::Problem;

/// The records of a CSV with the lines they start on, blank lines skipped.
///
/// The line is counted here: the `csv` crate's `Position::line` is where its read began, before
/// the empty lines it skips, and one line early after a CRLF (it counts the `\n` of a `\r\n`
/// with the next record).
pub(super) struct Records<'a> {
    bytes: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    separator: u8,
    /// Line breaks in `bytes[..counted]`.
    breaks: usize,
    counted: usize,
}

impl<'a> Records<'a> {
    pub(super) fn new(bytes: &'a [u8], separator: u8) -> Records<'a> {
        let reader =
            csv::ReaderBuilder::new().delimiter(separator).has_headers(false).flexible(true).from_reader(bytes);
        Records { bytes, reader, separator, breaks: 0, counted: 0 }
    }

    /// The 1-based line of the first byte at or after `offset` that is not a line end: where a
    /// record read from `offset` starts, since the reader skips empty lines.
    fn line_from(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        let start = offset + self.bytes[offset..].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        if start > self.counted {
            self.breaks += self.bytes[self.counted..start].iter().filter(|&&b| b == b'\n').count();
            self.counted = start;
        }
        self.breaks + 1
    }

    /// The first record that is not blank, with the line it starts on.
    pub(super) fn next_header(&mut self) -> Result<Option<(usize, csv::StringRecord)>, (usize, Problem)> {
        let mut record = csv::StringRecord::new();
        Ok(self.next_record(&mut record)?.map(|line| (line, record)))
    }

    /// Reads the next record that is not blank into `record` (reused, so that a million rows do
    /// not cost a million allocations), and returns the line it starts on.
    pub(super) fn next_record(&mut self, record: &mut csv::StringRecord) -> Result<Option<usize>, (usize, Problem)> {
        loop {
            let offset = self.reader.position().byte() as usize;
            match self.reader.read_record(record) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(e) => {
                    let offset = e.position().map_or(offset, |p| p.byte() as usize);
                    return Err((self.line_from(offset), Problem::Unreadable(e.to_string())));
                }
            }
            // A line of white space is blank, as it was before quoting: one field, or several
            // when the delimiter is itself white space.
            let blank = (record.len() == 1 || self.separator == b'\t') && record.iter().all(|f| f.trim().is_empty());
            if !blank {
                let offset = record.position().map_or(offset, |p| p.byte() as usize);
                return Ok(Some(self.line_from(offset)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::bar::parse_csv;
    use crate::domain::bar::tests::{prices, problem};

    #[test]
    fn blank_lines_are_skipped_anywhere() {
        let csv = "\n  \ndate,open,high,low,close\n\n \t \n2020-01-02,1,2,1,1\n   \n2020-01-03,1,2,1,1x\n";
        let (line, _, _) = problem(csv);
        assert_eq!(line, 8);
        let csv = "\t\ndate\topen\thigh\tlow\tclose\n \t \t\n2020-01-02\t1\t2\t1\t1\n";
        assert_eq!(parse_csv("x", csv.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn reads_a_quoted_header_and_quoted_fields() {
        let csv = "\"date\",\"open\",\"high\",\"low\",\"close\"\n\"2020-01-02\",\"1\",\"2\",\"1\",\"1.5\"\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1.0, 2.0, 1.0, 1.5, 0.0));
    }

    #[test]
    fn reads_a_quoted_crlf_file_with_a_byte_order_mark() {
        let csv = "\u{feff}\"Date\",\"Open\",\"High\",\"Low\",\"Close\"\r\n\
                   \"2020-01-02\",\"1,001.5\",\"1,002\",\"1,000\",\"1,001\"\r\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1001.5, 1002.0, 1000.0, 1001.0, 0.0));
    }

    #[test]
    fn a_missing_closing_quote_is_named() {
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,\"1,2,1,1\n2020-01-03,1,2,1,1\n");
        assert_eq!(line, 2);
        assert!(msg.contains("is a closing `\"` missing?"), "{msg}");
    }

    #[test]
    fn lines_are_physical_lines_even_after_a_quoted_line_break() {
        let csv = "date,open,high,low,close,note\n2020-01-02,1,2,1,1,\"two\nlines\"\n2020-01-03,1,2,3,1,x\n";
        let (line, _, msg) = problem(csv);
        assert_eq!((line, msg.as_str()), (4, "bars.csv:4: high 2 is below low 3"));
        let csv = "\u{feff}date,open,high,low,close\r\n\r\n2020-01-02,1,2,1,1\r\n2020-01-02,1,2,1,1\r\n";
        assert_eq!(problem(csv).2, "bars.csv:4: date 2020-01-02 appears again (first on line 3)");
    }
}
