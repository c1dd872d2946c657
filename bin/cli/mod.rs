//! What the three binaries share on the command line: logging set-up ([`logs`]), error lines that never
//! panic, and the clients' common flags. The server's flags are declared in the library
//! (`idc::config`), beside the settings they set; the clients' flags live here and with the
//! client binaries, with the defaults they show taken from the library.

#![allow(dead_code)] // each binary uses its own part of this module

mod logs;

pub use logs::init_logs;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use idc::auth::Token;
use idc::client::{self, Target};
use idc::tls::ClientTls;

/// Writes `program: message` to stderr. Never panics: `eprintln!` does when stderr is a closed
/// pipe (`idc_client 2>&1 | head -1`), and an error report must not turn into a crash.
pub fn report(program: &str, message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{program}: {message}");
}

/// Whether an error writing to stdout means the reader has gone away (`| head`), which ends a
/// program quietly, as it does for other command-line tools.
pub fn is_closed_pipe(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::BrokenPipe
}

/// A `--timeout` in seconds: above 0, at most a week.
pub fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= client::MAX_TIMEOUT_SECONDS => Ok(s),
        _ => Err(format!(
            "{text:?} is not a number of seconds above 0 and at most {} (a week)",
            client::MAX_TIMEOUT_SECONDS
        )),
    }
}

/// The flags both clients take: where to call, which dates, and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// Server address, HOST:PORT ([::1]:PORT for IPv6); or several replicas, HOST:PORT,HOST:PORT,
    /// or dns:///NAME:PORT for every address of a name: calls go round-robin over those that are
    /// up.
    #[arg(long, default_value = client::DEFAULT_TARGET)]
    pub target: String,

    /// First day, YYYY-MM-DD.
    #[arg(long, default_value = client::DEFAULT_START_DATE)]
    pub start_date: String,

    /// Last day, YYYY-MM-DD.
    #[arg(long, default_value = client::DEFAULT_END_DATE)]
    pub end_date: String,

    /// Connect with TLS, trusting the CAs in this PEM file to sign the server's certificate.
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,

    /// Client certificate (PEM) for servers that require one (mutual TLS); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// The name the server's certificate must carry, when it is not the host in --target.
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// Send the token in this file (its first line) as `authorization: Bearer TOKEN`.
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
}

impl CallArgs {
    /// The target these flags describe. Any `--tls-*` flag turns TLS on.
    pub fn target(&self, timeout_seconds: f64) -> anyhow::Result<Target> {
        let timeout = Duration::from_secs_f64(timeout_seconds);
        let tls = ClientTls {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            server_name: self.tls_server_name.clone(),
        };
        let token = self.auth_token_file.as_deref().map(Token::from_file).transpose()?;
        let mut target = Target::new(self.target.clone(), timeout);
        target.tls = (tls != ClientTls::default()).then_some(tls);
        target.token = token;
        Ok(target)
    }
}
