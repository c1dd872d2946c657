//! Everything `idc_server` can be told, each setting declared once.
//!
//! A setting is one field of a group, and that field is at once the `--flag` (its `#[arg]`
//! attribute holds the default, the range and the help text), a part of [`Config`], and a line
//! of the generated `docs/configuration.md`. [`Config::default()`] reads the defaults from the
//! same attributes, so it is the server with no flags: the article's, in parity mode on
//! `[::]:50051`, plaintext, no token. [`Config::validate`] refuses what the flags refuse, with
//! their messages (the [`Bounds`] of a setting give both), so a `Config` built in code, as the
//! tests build theirs, is held to the same ranges.
//!
//! The groups, as `--help` and docs/configuration.md show them:
//!
//! | group | file | flags |
//! | --- | --- | --- |
//! | [`Listen`] | `listen.rs` | host, port, reuse port, metrics address |
//! | [`Data`] | `data.rs` | `--data`, CSV delimiter, instrument, MACD convention and periods |
//! | [`Chart`], [`RenderChart`] | `chart.rs` | chart size, graph file, chunk size; `--render-chart` |
//! | [`Threads`] | `threads.rs` | completion queues, blocking threads and queue |
//! | [`Drain`] | `drain.rs` | drain delay, grace period |
//! | [`Security`] | `security.rs` | TLS files, token file |
//! | [`Limits`] | `limits.rs` | message size, streams, memory quota, keepalive |
//! | [`Tuning`] | `tuning.rs` | write batching, raw gRPC arguments |
//!
//! The MACD periods and convention default in [`crate::domain::macd`], the chart size in
//! [`crate::domain::chart`]; the flags take their defaults from there. [`cli`] is the whole
//! command line of `idc_server`, and [`docs`] renders it as Markdown.

mod bounds;
mod chart;
pub mod cli;
mod data;
pub mod docs;
mod drain;
mod import;
mod limits;
mod listen;
mod security;
mod threads;
mod tuning;

use std::path::PathBuf;
use std::time::Duration;

use crate::domain::macd::ParamsError;

pub use bounds::{Bounds, Quantity};
pub use chart::*;
pub use data::*;
pub use drain::*;
pub use import::ImportArgs;
pub use limits::*;
pub use listen::*;
pub use security::*;
pub use threads::*;
pub use tuning::*;

/// What the server serves and how: one field per group of flags.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub listen: Listen,
    #[command(flatten)]
    pub data: Data,
    #[command(flatten)]
    pub chart: Chart,
    #[command(flatten)]
    pub threads: Threads,
    #[command(flatten)]
    pub drain: Drain,
    #[command(flatten)]
    pub security: Security,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub tuning: Tuning,
}

impl Default for Config {
    fn default() -> Self {
        defaults()
    }
}

/// The value every flag of `T` takes when it is not given. The defaults are written once, in the
/// `#[arg]` attributes; each group's `Default` reads them from there, so the two cannot differ.
fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"));
    let matches = command.try_get_matches_from(["defaults"]).expect("no setting is required");
    T::from_arg_matches(&matches).expect("every default is in its range")
}

/// A setting that its flag would refuse. Each message names the setting as the flag does.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The flag's own message, after the flag's name.
    #[error("--{flag} {message}")]
    Setting { flag: &'static str, message: String },
    #[error("--{flag} needs --{needs}")]
    Requires { flag: &'static str, needs: &'static str },
    #[error(transparent)]
    Macd(#[from] ParamsError),
}

impl Config {
    /// Checks every setting against its flag's range, so that a library caller gets the same
    /// refusals as the flags give.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.data.validate()?;
        self.chart.validate()?;
        self.threads.validate()?;
        self.drain.validate()?;
        self.security.validate()?;
        self.limits.validate()?;
        self.tuning.validate()
    }

    /// Whether the service computes from real bars (`--data`).
    pub fn is_data_mode(&self) -> bool {
        self.data.source.is_some()
    }
}

/// The whole configuration on one line, for the start-up log: each group's settings by their
/// flags' names. Paths are shown; what is in the token or key files never is.
impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config { listen, data, chart, threads, drain, security, limits, tuning } = self;
        write!(f, "{listen} {data} {chart} {threads} {drain} {security} {limits} {tuning}")
    }
}

/// `5 s`, `0.25 s`: a duration as an operator would write it.
pub fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

fn path_or_none(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or_else(|| "none".to_string(), |p| p.display().to_string())
}

#[cfg(test)]
mod tests;
