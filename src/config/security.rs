//! TLS and auth: the listener's certificate and key, mutual TLS, and the bearer token. Only
//! paths are held here; [`crate::tls`] and [`crate::auth`] read the files at start-up, and the
//! log shows the paths, never what is in them.

use std::path::PathBuf;

use super::ConfigError;

/// The PEM files of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The private key of that certificate.
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// Who may connect, and with what. All off: plaintext and no token, as the article's server.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "TLS and auth")]
pub struct Security {
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM, unencrypted) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require clients to present a certificate signed by a CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Require `authorization: Bearer TOKEN` on every call but health checks, TOKEN being the
    /// first line of this file (keep it private: chmod 600).
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,

    /// Allow PushBars from callers with `authorization: Bearer TOKEN`, TOKEN being the first line
    /// of this file; a token of its own, apart from the read token (keep it private: chmod 600).
    /// Without it, PushBars is refused.
    #[arg(long, value_name = "FILE")]
    pub push_token_file: Option<PathBuf>,
}

/// `tls cert a.pem key a.key client-ca none auth-token-file none`, for the start-up log line: the
/// paths, never what is in the files.
impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.tls() {
            None => write!(f, "tls off")?,
            Some(TlsFiles { cert, key, client_ca }) => {
                let client_ca = super::path_or_none(&client_ca);
                write!(f, "tls cert {} key {} client-ca {client_ca}", cert.display(), key.display())?
            }
        }
        write!(f, " auth-token-file {}", super::path_or_none(&self.auth_token_file))?;
        write!(f, " push-token-file {}", super::path_or_none(&self.push_token_file))
    }
}

impl Security {
    /// The TLS files, or `None` for plaintext.
    pub fn tls(&self) -> Option<TlsFiles> {
        let (cert, key) = (self.tls_cert.clone()?, self.tls_key.clone()?);
        Some(TlsFiles { cert, key, client_ca: self.tls_client_ca.clone() })
    }

    /// What the flags' `requires` refuse: half a TLS configuration.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let given = |path: &Option<PathBuf>| path.is_some();
        for (flag, is_given, needs, has) in [
            ("tls-cert", given(&self.tls_cert), "tls-key", given(&self.tls_key)),
            ("tls-key", given(&self.tls_key), "tls-cert", given(&self.tls_cert)),
            ("tls-client-ca", given(&self.tls_client_ca), "tls-cert", given(&self.tls_cert)),
        ] {
            if is_given && !has {
                return Err(ConfigError::Requires { flag, needs });
            }
        }
        Ok(())
    }
}
