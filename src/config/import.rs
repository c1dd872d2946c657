//! `idc_server import`: the flags of loading a file catalog into a PostgreSQL one.

use std::path::PathBuf;

use crate::domain::bar::Delimiter;

/// `idc_server import --data DIR --into postgres://USER@HOST:PORT/DB`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "idc_server import",
    about = "Loads a file catalog (a directory of instrument files, or one file) into a PostgreSQL catalog: \
             each instrument's bars replace what the database held of it, in a transaction of its own, and the \
             serving replicas are notified. Running it again changes nothing."
)]
pub struct ImportArgs {
    /// The file catalog: a directory with one file an instrument, or one file.
    #[arg(long, value_name = "DIR|FILE")]
    pub data: PathBuf,

    /// The database (created tables if missing, as the server does).
    #[arg(long, value_name = "postgres://USER@HOST:PORT/DB")]
    pub into: String,

    /// The database password (first line; else `PGPASSWORD`).
    #[arg(long, value_name = "FILE")]
    pub pg_password_file: Option<PathBuf>,

    /// The CSV files' delimiter.
    #[arg(long, value_name = "auto|comma|semicolon|tab", default_value_t = Delimiter::Auto)]
    pub csv_delimiter: Delimiter,
}
