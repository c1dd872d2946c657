//! Certificates made at test time with `rcgen`: a CA, server certificates for `localhost` and
//! `127.0.0.1` (valid, or expired), and client certificates, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

/// A certificate authority that can sign server and client certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, PEM.
    pub cert: PathBuf,
}

/// A certificate and its key, as PEM files.
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// A new CA named `name`, its certificate written to `dir/NAME-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        params.distinguished_name.push(DnType::CommonName, format!("idc test CA {name}"));
        let cert = params.self_signed(&key).unwrap();
        let path = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&path, cert.pem()).unwrap();
        Ca { issuer: Issuer::new(params, key), cert: path }
    }

    /// A server certificate for `localhost` and `127.0.0.1`, valid now.
    pub fn server(&self, dir: &Path, name: &str) -> Identity {
        self.sign(dir, name, &["localhost", "127.0.0.1"], Validity::Now)
    }

    /// A server certificate for `localhost` and `127.0.0.1` that expired yesterday.
    pub fn expired_server(&self, dir: &Path, name: &str) -> Identity {
        self.sign(dir, name, &["localhost", "127.0.0.1"], Validity::Expired)
    }

    /// A client certificate.
    pub fn client(&self, dir: &Path, name: &str) -> Identity {
        self.sign(dir, name, &[], Validity::Now)
    }

    fn sign(&self, dir: &Path, name: &str, names: &[&str], validity: Validity) -> Identity {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = match validity {
            Validity::Now => (now - Duration::days(1), now + Duration::days(30)),
            Validity::Expired => (now - Duration::days(30), now - Duration::days(1)),
        };
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let identity = Identity { cert: dir.join(format!("{name}.pem")), key: dir.join(format!("{name}.key")) };
        std::fs::write(&identity.cert, cert.pem()).unwrap();
        std::fs::write(&identity.key, key.serialize_pem()).unwrap();
        identity
    }
}

enum Validity {
    Now,
    Expired,
}
