//! The field delimiter of a CSV of bars: `,`, `;` or tab, given or detected from the header.

use std::fmt;

/// The field delimiter of a CSV of bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// The first of `,`, `;` and tab that splits the header into the needed columns.
    Auto,
    Comma,
    Semicolon,
    Tab,
}

impl Delimiter {
    /// What [`Delimiter::Auto`] tries, in this order.
    pub const DETECTED: [Delimiter; 3] = [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab];

    /// The byte between fields; `None` for [`Delimiter::Auto`].
    pub fn byte(self) -> Option<u8> {
        match self {
            Delimiter::Auto => None,
            Delimiter::Comma => Some(b','),
            Delimiter::Semicolon => Some(b';'),
            Delimiter::Tab => Some(b'\t'),
        }
    }

    /// How messages show it: `` `,` ``, `` `;` `` or `tab`.
    pub(super) fn shown(self) -> &'static str {
        match self {
            Delimiter::Auto => "a detected delimiter",
            Delimiter::Comma => "`,`",
            Delimiter::Semicolon => "`;`",
            Delimiter::Tab => "tab",
        }
    }
}

impl std::str::FromStr for Delimiter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Delimiter::Auto),
            "comma" => Ok(Delimiter::Comma),
            "semicolon" => Ok(Delimiter::Semicolon),
            "tab" => Ok(Delimiter::Tab),
            other => Err(format!("unknown CSV delimiter {other:?}: use auto, comma, semicolon or tab")),
        }
    }
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delimiter::Auto => "auto",
            Delimiter::Comma => "comma",
            Delimiter::Semicolon => "semicolon",
            Delimiter::Tab => "tab",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bar::parse_csv;
    use crate::domain::bar::parse_csv_with;
    use crate::domain::bar::tests::{message_with, prices, problem};

    #[test]
    fn reads_semicolon_files_with_decimal_commas() {
        let csv = "Datum;x;date;open;high;low;close;volume\n1;y;2020-01-02;1,5;2,25;1;2.0;1000\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1.5, 2.25, 1.0, 2.0, 1000.0));
        assert_eq!(parse_csv_with("x", csv.as_bytes(), Delimiter::Semicolon).unwrap(), bars);
    }

    #[test]
    fn reads_tab_separated_files() {
        let csv = "date\topen\thigh\tlow\tclose\n2020-01-02\t1.5\t2\t1\t1,75\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1.5, 2.0, 1.0, 1.75, 0.0));
        assert_eq!(parse_csv_with("x", csv.as_bytes(), Delimiter::Tab).unwrap(), bars);
    }

    #[test]
    fn the_delimiter_may_be_given_and_detection_says_what_it_tried() {
        let semicolons = "date;open;high;low;close\n2020-01-02;1;2;1;1\n";
        assert_eq!(
            message_with(Delimiter::Comma, semicolons),
            "bars.csv:1: the header has no `date` column: expected `date,open,high,low,close[,volume]` (with `,` as \
             the delimiter); the header read is \"date;open;high;low;close\"; the date column may be named `date`, \
             `trade_date`, `日期`, `datetime` or `time` (any case)"
        );
        assert!(message_with(Delimiter::Tab, semicolons).contains("(with tab as the delimiter); the header read is"));
        let (line, _, msg) = problem("date;open;high;close\n2020-01-02;1;2;1\n");
        assert_eq!(line, 1);
        assert_eq!(
            msg,
            "bars.csv:1: the header has no `low` column: expected `date,open,high,low,close[,volume]` (tried `,`, \
             `;` and tab as the delimiter); the header read is \"date;open;high;close\"; the low column may be named \
             `low` or `最低` (any case)"
        );
        for name in ["auto", "comma", "semicolon", "tab"] {
            assert_eq!(name.parse::<Delimiter>().unwrap().to_string(), name);
        }
        assert!("pipe".parse::<Delimiter>().unwrap_err().contains("auto, comma, semicolon or tab"));
    }
}
