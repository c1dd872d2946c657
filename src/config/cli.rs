//! The whole command line of `idc_server`: the server's [`Config`] and `--render-chart`. It is
//! declared here, in the library, so that docs/configuration.md is rendered from the very
//! declarations that `--help` shows.

use clap::parser::ValueSource;
use clap::ArgMatches;

use super::{Config, Data, RenderChart};

/// gRPC indicator server: MACD rows (GetMACD) and the MACD chart as PNG chunks (GetMACDGraph).
///
/// Without --data it answers exactly as the article's Python server (parity mode). With --data
/// it serves real daily bars, their MACD, and charts of the requested range.
///
/// Logs go to stderr (level set by RUST_LOG, default info); stdout carries only the start-up
/// line `Server started, listening on PORT`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "idc_server", version)]
pub struct ServerArgs {
    #[command(flatten)]
    pub config: Config,
    #[command(flatten)]
    pub render: RenderChart,
}

impl ServerArgs {
    /// The flags given on the command line that this run will ignore, as `--flag` names: the
    /// MACD flags shape data mode's answers only, so parity mode would do nothing with them.
    pub fn ignored_flags(&self, matches: &ArgMatches) -> Vec<String> {
        if self.config.is_data_mode() || self.render.render_chart.is_some() {
            return Vec::new();
        }
        Data::DATA_MODE_ONLY
            .into_iter()
            .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect()
    }

    /// Logs one warning naming every flag that [`ignored_flags`](Self::ignored_flags) finds.
    pub fn warn_about_ignored_flags(&self, matches: &ArgMatches) {
        let given = self.ignored_flags(matches);
        if !given.is_empty() {
            let (verb, it) = if given.len() == 1 { ("applies", "it") } else { ("apply", "them") };
            log::warn!("{} {verb} only with --data (or --render-chart); parity mode ignores {it}", given.join(", "));
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    fn ignored(flags: &[&str]) -> Vec<String> {
        let matches = ServerArgs::command().try_get_matches_from(["idc_server"].iter().chain(flags)).unwrap();
        ServerArgs::from_arg_matches(&matches).unwrap().ignored_flags(&matches)
    }

    #[test]
    fn only_macd_flags_given_in_parity_mode_are_ignored() {
        assert_eq!(ignored(&["--fast", "5", "--instrument", "X", "--port", "0"]), ["--instrument", "--fast"]);
        assert_eq!(ignored(&["--csv-delimiter", "tab"]), ["--csv-delimiter"]);
        assert!(ignored(&["--fast", "5", "--data", "sample"]).is_empty());
        assert!(ignored(&["--fast", "5", "--render-chart", "x.png"]).is_empty());
        assert!(ignored(&[]).is_empty());
    }
}
