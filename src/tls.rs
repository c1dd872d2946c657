//! TLS for both ends: the server's certificate, key and (for mutual TLS) client CA, and the
//! clients' CA, certificate, key and expected server name, read from PEM files.
//!
//! gRPC C-core takes PEM bytes as they are; a file that is not what it should be fails much later,
//! at a handshake or in `add_listening_port`, with a C-core log line that names neither the file
//! nor the flag. So every file is read and checked here first (certificates parsed as X.509 with
//! `x509-parser`), and an error names the flag, the path and the reason.

use std::path::{Path, PathBuf};

use grpcio::{
    CertificateRequestType, ChannelCredentials, ChannelCredentialsBuilder, ServerCredentials, ServerCredentialsBuilder,
};
use x509_parser::pem::Pem;

use crate::config::TlsFiles;

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {flag} {}: {reason}", .path.display())]
    Read { flag: &'static str, path: PathBuf, reason: std::io::Error },
    #[error("{flag} {}: {reason}", .path.display())]
    Invalid { flag: &'static str, path: PathBuf, reason: String },
    #[error("{0} needs {1} as well")]
    Incomplete(&'static str, &'static str),
}

/// The TLS settings of a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM certificates of the CAs that may sign the server's certificate. `None`: gRPC's
    /// default roots.
    pub ca: Option<PathBuf>,
    /// The client's own certificate and key, for servers that require one (mutual TLS).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate must carry, when it differs from the target's host
    /// (connecting to an IP address with a certificate for a name, say).
    pub server_name: Option<String>,
}

/// The credentials of a TLS listener; with `client_ca`, clients must present a certificate that
/// CA signed.
pub fn server_credentials(files: &TlsFiles) -> Result<ServerCredentials, TlsError> {
    let cert = certificates("--tls-cert", &files.cert)?;
    let key = private_key("--tls-key", &files.key)?;
    let mut builder = ServerCredentialsBuilder::new().add_cert(cert, key);
    if let Some(ca) = &files.client_ca {
        let ca = certificates("--tls-client-ca", ca)?;
        builder = builder.root_cert(ca, CertificateRequestType::RequestAndRequireClientCertificateAndVerify);
    }
    Ok(builder.build())
}

/// The credentials of a TLS channel.
pub fn channel_credentials(tls: &ClientTls) -> Result<ChannelCredentials, TlsError> {
    let mut builder = ChannelCredentialsBuilder::new();
    if let Some(ca) = &tls.ca {
        builder = builder.root_cert(certificates("--tls-ca", ca)?);
    }
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            builder = builder.cert(certificates("--tls-cert", cert)?, private_key("--tls-key", key)?);
        }
        (Some(_), None) => return Err(TlsError::Incomplete("--tls-cert", "--tls-key")),
        (None, Some(_)) => return Err(TlsError::Incomplete("--tls-key", "--tls-cert")),
        (None, None) => {}
    }
    Ok(builder.build())
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|reason| TlsError::Read { flag, path: path.to_path_buf(), reason })
}

/// Reads a PEM file of one or more certificates, and checks that each is an X.509 certificate.
/// A certificate outside its validity period is logged, not refused: the peer decides, and says
/// so in its own error.
fn certificates(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let bytes = read(flag, path)?;
    let invalid = |reason: String| TlsError::Invalid { flag, path: path.to_path_buf(), reason };
    let mut count = 0;
    for block in Pem::iter_from_buffer(&bytes) {
        let block = block.map_err(|e| invalid(format!("not a valid PEM file ({e})")))?;
        if block.label != "CERTIFICATE" {
            return Err(invalid(format!(
                "holds a PEM \"{}\" block where a CERTIFICATE was expected; give the certificate file here",
                block.label
            )));
        }
        let cert = block.parse_x509().map_err(|e| invalid(format!("a CERTIFICATE block does not parse ({e})")))?;
        let validity = cert.validity();
        if !validity.is_valid() {
            log::warn!(
                "{flag} {}: the certificate for {} is valid only from {} to {}; peers will refuse it",
                path.display(),
                cert.subject(),
                validity.not_before,
                validity.not_after
            );
        }
        count += 1;
    }
    if count == 0 {
        return Err(invalid("holds no PEM certificate (a \"-----BEGIN CERTIFICATE-----\" block)".into()));
    }
    Ok(bytes)
}

/// Reads a PEM private key (PKCS#8, or the older RSA and EC forms).
fn private_key(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let bytes = read(flag, path)?;
    let invalid = |reason: &str| TlsError::Invalid { flag, path: path.to_path_buf(), reason: reason.to_string() };
    let mut keys = 0;
    for block in Pem::iter_from_buffer(&bytes) {
        let block = block.map_err(|_| invalid("not a valid PEM file"))?;
        match block.label.as_str() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => keys += 1,
            "ENCRYPTED PRIVATE KEY" => return Err(invalid(
                "the key is encrypted, which gRPC cannot read; decrypt it with `openssl pkey -in KEY -out KEY.plain`",
            )),
            // Parameters and certificates may share a key file; they are not the key.
            _ => {}
        }
    }
    match keys {
        1 => Ok(bytes),
        0 => Err(invalid("holds no PEM private key (a \"-----BEGIN PRIVATE KEY-----\" block)")),
        _ => Err(invalid("holds more than one private key; give the file with just the one for the certificate")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_pem_certificates_or_keys_are_named_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello\n").unwrap();
        let e = certificates("--tls-cert", &garbage).unwrap_err().to_string();
        assert!(e.starts_with("--tls-cert ") && e.contains("garbage.pem") && e.contains("no PEM certificate"), "{e}");
        let e = private_key("--tls-key", &garbage).unwrap_err().to_string();
        assert!(e.contains("no PEM private key"), "{e}");

        let bad_der = dir.path().join("bad.pem");
        std::fs::write(&bad_der, "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n").unwrap();
        let e = certificates("--tls-ca", &bad_der).unwrap_err().to_string();
        assert!(e.contains("does not parse"), "{e}");

        let missing = dir.path().join("missing.pem");
        let e = certificates("--tls-cert", &missing).unwrap_err().to_string();
        assert!(e.starts_with("cannot read --tls-cert ") && e.contains("missing.pem"), "{e}");

        let tls = ClientTls { cert: Some(garbage), ..ClientTls::default() };
        assert!(matches!(channel_credentials(&tls), Err(TlsError::Incomplete(..))));
    }
}
