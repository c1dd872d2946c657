//! The listening address: its form, its resolution, and whether it is free, checked before gRPC
//! is asked to bind.
//!
//! grpcio's `add_listening_port` reports any failure as `BindFail(address)`, after a C-core log
//! line that a user cannot act on: a host that does not resolve, a host with a port in it and a
//! port in use all look the same. So the host's form is checked first, then it is resolved, then
//! (unless `--reuse-port` asks to share the port) each address is bound once with a plain socket,
//! which gives the operating system's own reason ("Address already in use").

use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};

/// Why the server cannot listen where it was told to.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("invalid --host {host:?}: {reason}")]
    Host { host: String, reason: &'static str },
    #[error("--host {host:?} does not resolve to an address here ({reason}); give an IP address or a known host name")]
    Resolve { host: String, reason: std::io::Error },
    #[error("cannot listen on {address}: {reason}; {hint}")]
    Unavailable { address: SocketAddr, reason: std::io::Error, hint: &'static str },
    #[error("gRPC cannot listen on {address}{detail}")]
    Grpc { address: String, detail: &'static str },
}

/// The address as gRPC wants it: `host:port`, with a bare IPv6 address in brackets.
pub fn grpc_address(host: &str, port: u16) -> Result<String, ListenError> {
    let bare = check_host(host)?;
    if bare.contains(':') {
        Ok(format!("[{bare}]:{port}"))
    } else {
        Ok(format!("{bare}:{port}"))
    }
}

/// `host` without brackets, if it is an IP address or a syntactically valid host name.
fn check_host(host: &str) -> Result<&str, ListenError> {
    let invalid = |reason| ListenError::Host { host: host.to_string(), reason };
    if host.is_empty() {
        return Err(invalid("it is empty; give an address such as [::], 0.0.0.0 or 127.0.0.1"));
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or_else(|| {
            invalid("an IPv6 address in brackets ends with `]`, and the port goes in --port, as in --host [::1] --port 50051")
        })?;
        return match inner.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => Ok(inner),
            _ => Err(invalid("only an IPv6 address goes in brackets, such as [::] or [::1]")),
        };
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(host);
    }
    if host.contains(':') {
        return Err(invalid("a host has no port in it: give the port with --port, as in --host 127.0.0.1 --port 5000"));
    }
    // RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
    let valid_label =
        |label: &str| (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let edges_ok = |label: &str| !label.starts_with('-') && !label.ends_with('-');
    if host.len() <= 253 && host.split('.').all(|label| valid_label(label) && edges_ok(label)) {
        return Ok(host);
    }
    Err(invalid("give a host name or an IP address, such as [::], 0.0.0.0, 127.0.0.1 or localhost"))
}

/// Resolves `host` and, unless the port is to be shared (`reuse_port`) or picked by the system
/// (port 0), binds each of its addresses once to learn whether they are free.
pub fn check_available(host: &str, port: u16, reuse_port: bool) -> Result<(), ListenError> {
    let bare = check_host(host)?;
    let addresses: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|reason| ListenError::Resolve { host: host.to_string(), reason })?
        .collect();
    if reuse_port || port == 0 {
        return Ok(());
    }
    for address in addresses {
        // Dropped at once: the port is only looked at, not held. A server that takes it in the
        // moment between is caught by gRPC's own bind, which then fails.
        if let Err(reason) = TcpListener::bind(address) {
            let hint = match reason.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "another server (perhaps another idc_server) listens there; stop it, or choose another --port"
                }
                std::io::ErrorKind::PermissionDenied => "ports below 1024 need privileges; choose a --port above 1023",
                _ => "choose a --host that is an address of this machine, or another --port",
            };
            return Err(ListenError::Unavailable { address, reason, hint });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_bracket_bare_ipv6_and_refuse_malformed_hosts() {
        assert_eq!(grpc_address("[::]", 1).unwrap(), "[::]:1");
        assert_eq!(grpc_address("::1", 2).unwrap(), "[::1]:2");
        assert_eq!(grpc_address("127.0.0.1", 3).unwrap(), "127.0.0.1:3");
        assert_eq!(grpc_address("localhost", 4).unwrap(), "localhost:4");
        for (bad, says) in [
            ("", "empty"),
            ("unix:/tmp/x", "no port"),
            ("127.0.0.1:5000", "--port"),
            ("[::1", "ends with"),
            ("[127.0.0.1]", "only an IPv6"),
            ("a b", "host name"),
            ("-x.example", "host name"),
        ] {
            let e = grpc_address(bad, 5).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_host_that_does_not_resolve_says_so() {
        let e = check_available("0.0.0.0x", 0, false).unwrap_err();
        assert!(matches!(e, ListenError::Resolve { .. }), "{e}");
        assert!(e.to_string().contains("does not resolve"), "{e}");
    }

    #[test]
    fn a_port_in_use_gives_the_systems_reason() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = check_available("127.0.0.1", port, false).unwrap_err().to_string();
        assert!(e.contains("in use") && e.contains("another server"), "{e}");
        assert!(check_available("127.0.0.1", port, true).is_ok(), "--reuse-port skips the check");
    }
}
