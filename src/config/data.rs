//! Data and analysis: where `GetMACD` and the charts get their bars, and how MACD is computed
//! from them. The MACD defaults themselves live in [`crate::domain::macd`].

use std::path::PathBuf;

use super::bounds::Bounds;
use crate::domain::bar::Delimiter;
use crate::domain::macd::{Convention, MacdParams, MAX_PERIOD};

/// The delimiter of a `--data` CSV: detected from its header (`,`, `;` or tab).
pub const DEFAULT_CSV_DELIMITER: Delimiter = Delimiter::Auto;
/// Data mode encodes every row's reply bytes once at start-up when they take at most this much
/// (about 39 bytes a row: 16 MiB holds 430,000 rows), so a `GetMACD` reply is one copy; a longer
/// history is encoded call by call instead (about 18 ns a row), so that its memory stays that of
/// the bars and their MACD.
pub const PREBUILT_ROWS_BUDGET: usize = 16 * 1024 * 1024;
/// Each EMA period; [`MacdParams::validate`] checks that the fast one is the shorter.
pub const PERIOD: Bounds<usize> = Bounds::new(1, MAX_PERIOD, "a number of bars");

/// Where `GetMACD` and the charts get their bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The embedded S&P 500 sample ([`crate::domain::sample`]).
    Sample,
    /// A CSV file of daily bars.
    Csv(PathBuf),
    /// A PostgreSQL database (`postgres://USER@HOST:PORT/DB`): the catalog replicas share.
    Postgres(String),
}

impl DataSource {
    /// `sample` or a path, as `--data` takes it.
    pub fn parse(text: &str) -> DataSource {
        if text == crate::domain::sample::NAME {
            DataSource::Sample
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            DataSource::Postgres(text.to_string())
        } else {
            DataSource::Csv(PathBuf::from(text))
        }
    }

    /// [`parse`](Self::parse) as a clap value parser: every text names a source (a missing
    /// file is found out when it is read).
    fn flag(text: &str) -> Result<DataSource, std::convert::Infallible> {
        Ok(DataSource::parse(text))
    }
}

/// The bars and their analysis. Without `--data` the server is in parity mode, and the other
/// settings here shape nothing but `--render-chart`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Data and analysis")]
pub struct Data {
    /// `None`: parity mode, the article's placeholder rows. `Some`: real bars and MACD.
    #[arg(long = "data", id = "data", value_name = "DIR|FILE|sample|postgres://...", value_parser = DataSource::flag,
          help = "Serve real data: a directory with one file per instrument (SYMBOL.csv or SYMBOL.parquet with \
                  date,open,high,low,close[,volume][,adj_factor], names in an optional instruments.csv; files \
                  added, replaced or removed are served within 2 s, SIGHUP rereads them all), one such file, \
                  `sample` for the embedded S&P 500 (SPX) and Apple (AAPL) daily bars, or a PostgreSQL database \
                  (postgres://USER@HOST:PORT/DB) that several replicas share (docs/postgres.md)")]
    pub source: Option<DataSource>,

    /// The database password for `--data postgres://...` (first line; else `PGPASSWORD`).
    #[arg(long, value_name = "FILE")]
    pub pg_password_file: Option<PathBuf>,

    /// The field delimiter of the --data CSV: auto (the first of comma, semicolon and tab that
    /// splits the header into its columns), comma, semicolon or tab.
    #[arg(long, value_name = "auto|comma|semicolon|tab", default_value_t = DEFAULT_CSV_DELIMITER)]
    pub csv_delimiter: Delimiter,

    /// The symbol GetMACD and GetMACDGraph serve, of the --data catalog (default: SPX for the
    /// sample, else the first in symbol order); with a one-file --data, a name that is no symbol
    /// titles its charts instead.
    #[arg(long, value_name = "SYMBOL")]
    pub instrument: Option<String>,

    /// MACD convention: cn (EMAs seeded with the first close, macd = 2 x (DIF - DEA)) or talib
    /// (TA-Lib's seeding and lookback, macd = DIF - DEA). With --data or --render-chart.
    #[arg(long, default_value_t = Convention::default())]
    pub convention: Convention,

    /// The fast EMA period.
    #[arg(long, default_value_t = MacdParams::default().fast, value_parser = PERIOD.parser(),
          help = format!("Fast EMA period, {PERIOD}, shorter than --slow"))]
    pub fast: usize,

    /// The slow EMA period.
    #[arg(long, default_value_t = MacdParams::default().slow, value_parser = PERIOD.parser(),
          help = format!("Slow EMA period, {PERIOD}, longer than --fast"))]
    pub slow: usize,

    /// The signal (DEA) EMA period.
    #[arg(long, default_value_t = MacdParams::default().signal, value_parser = PERIOD.parser(),
          help = format!("Signal (DEA) EMA period, {PERIOD}"))]
    pub signal: usize,
}

/// `data sample csv-delimiter auto instrument default convention cn macd 12,26,9`, for the
/// start-up log line.
impl std::fmt::Display for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            None => write!(f, "data none (parity mode)")?,
            Some(DataSource::Sample) => write!(f, "data sample")?,
            Some(DataSource::Csv(path)) => write!(f, "data {}", path.display())?,
            Some(DataSource::Postgres(url)) => write!(f, "data {}", crate::pg::redact(url))?,
        }
        let instrument = self.instrument.as_deref().unwrap_or("default");
        write!(f, " csv-delimiter {} instrument {instrument} convention {}", self.csv_delimiter, self.convention)?;
        write!(f, " macd {},{},{}", self.fast, self.slow, self.signal)
    }
}

impl Default for Data {
    fn default() -> Self {
        super::defaults()
    }
}

impl Data {
    /// The three periods as the domain takes them.
    pub fn macd(&self) -> MacdParams {
        MacdParams { fast: self.fast, slow: self.slow, signal: self.signal }
    }

    /// The flags that shape data mode's answers only: parity mode warns that it ignores them.
    pub const DATA_MODE_ONLY: [&'static str; 6] =
        ["instrument", "csv_delimiter", "convention", "fast", "slow", "signal"];

    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        PERIOD.check("fast", self.fast)?;
        PERIOD.check("slow", self.slow)?;
        PERIOD.check("signal", self.signal)?;
        self.macd().validate()?;
        Ok(())
    }
}
