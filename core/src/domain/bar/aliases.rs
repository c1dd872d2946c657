//! The names a column may have, case-insensitive: the one table that both loaders and the
//! messages use (docs/data.md shows the same table).
//!
//! | column | names |
//! |---|---|
//! | date | `date`, `trade_date` (tushare), `日期` (akshare), `datetime`, `time` |
//! | open | `open`, `开盘` |
//! | high | `high`, `最高` |
//! | low | `low`, `最低` |
//! | close | `close`, `收盘` |
//! | volume | `volume`, `vol` (tushare), `成交量` |
//! | adj_factor | `adj_factor`, `复权因子` |
//!
//! When a file has several names of one column, the first in this table is taken and the others
//! are ignored, as are all other columns. `Adj Close` (Yahoo, yfinance) is an adjusted close,
//! not a factor, and is ignored; a bare `factor` is not taken either, as a quant file's `factor`
//! may be any factor at all.

/// Each column and its names, lowercase, in order of preference.
pub(crate) const ALIASES: [(&str, &[&str]); 7] = [
    ("date", &["date", "trade_date", "日期", "datetime", "time"]),
    ("open", &["open", "开盘"]),
    ("high", &["high", "最高"]),
    ("low", &["low", "最低"]),
    ("close", &["close", "收盘"]),
    ("volume", &["volume", "vol", "成交量"]),
    ("adj_factor", &["adj_factor", "复权因子"]),
];

/// Index of each column of [`ALIASES`] in [`Located`].
pub(crate) const DATE: usize = 0;
pub(crate) const PRICES: [usize; 4] = [1, 2, 3, 4];
pub(crate) const VOLUME: usize = 5;
pub(crate) const ADJ_FACTOR: usize = 6;

/// Where each column of [`ALIASES`] is among a file's columns.
pub(crate) type Located = [Option<usize>; 7];

/// A column name as compared: trimmed, ASCII letters lowercased.
pub(crate) fn normalized(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

/// Finds each column among `names` (already [`normalized`]) by its preferred name present.
pub(crate) fn locate(names: &[String]) -> Located {
    ALIASES.map(|(_, aliases)| aliases.iter().find_map(|alias| names.iter().position(|name| name == alias)))
}

/// `the date column may be named `date`, `trade_date`, … (any case)`, for messages.
pub(crate) fn accepted_names(column: &str) -> String {
    let names = ALIASES.iter().find(|(c, _)| *c == column).map_or(&[][..], |(_, names)| names);
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    let list = match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    format!("the {column} column may be named {list} (any case)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_name_wins_and_case_does_not_matter() {
        let names: Vec<String> = ["Trade_Date", "DATE", "开盘", "High", "low", "收盘", "vol"].map(normalized).into();
        let located = locate(&names);
        assert_eq!(located, [Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), None]);
        assert_eq!(
            accepted_names("date"),
            "the date column may be named `date`, `trade_date`, `日期`, `datetime` or `time` (any case)"
        );
    }
}
