//! What `idc_client` and `idc_graph_client` share: a checked target, a channel to the server
//! (plaintext or TLS, with or without a token), the two calls, and a download that never leaves a
//! truncated file behind. Their defaults, the reference clients', are defined here once.
//!
//! [`v2`] adds the `idc.v2.Indicators` calls of their subcommands over the same machinery.

pub mod v2;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use futures::TryStreamExt;
use grpcio::{
    CallOption, Channel, ChannelBuilder, Client, EnvBuilder, Marshaller, MessageReader, MetadataBuilder, Method,
    MethodType,
};
use protobuf::Message;

use crate::auth::{self, Token};
use crate::output::OutputFile;
use crate::protocol::indicator::{MACDReply, MACDRequest};
use crate::protocol::indicator_graph::MACDGraphRequest;
use crate::protocol::indicator_graph_grpc::IndicatorGraphClient;
use crate::protocol::indicator_grpc::METHOD_INDICATOR_GET_MACD;
use crate::tls::{self, ClientTls, TlsError};

/// gRPC's default limit is 4 MiB per message; a 4 MiB chunk plus its framing is a little more.
const MAX_RECEIVE_MESSAGE: i32 = 8 * 1024 * 1024;

/// The reference clients' server address.
pub const DEFAULT_TARGET: &str = "localhost:50051";
/// The reference clients' dates (the article's example). The embedded sample ends in 2018, so a
/// data-mode server answers these with no rows; ask for dates inside its span.
pub const DEFAULT_START_DATE: &str = "2023-01-01";
pub const DEFAULT_END_DATE: &str = "2023-12-31";
/// Seconds `idc_client` waits for its reply, and `idc_graph_client` for the whole stream.
pub const DEFAULT_UNARY_TIMEOUT_SECONDS: f64 = 30.0;
pub const DEFAULT_STREAM_TIMEOUT_SECONDS: f64 = 60.0;
/// The longest timeout the clients take: a week.
pub const MAX_TIMEOUT_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Where to call, how, and for how long at most.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port`, as grpc understands it (`localhost:50051`, `[::1]:50051`, `dns:///…`), or a
    /// comma-separated list of `host:port` replicas; calls go round-robin over what it names.
    pub address: String,
    /// Deadline for the whole call.
    pub timeout: Duration,
    /// `None`: plaintext, as the article's clients.
    pub tls: Option<ClientTls>,
    /// Sent as `authorization: Bearer <token>` with every call.
    pub token: Option<Token>,
}

impl Target {
    /// A plaintext target without a token.
    pub fn new(address: impl Into<String>, timeout: Duration) -> Target {
        Target { address: address.into(), timeout, tls: None, token: None }
    }
}

/// Why a client call did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid --target {target:?}: {reason}")]
    Target { target: String, reason: &'static str },
    #[error("invalid --target {target:?}: {host} {reason}")]
    Resolve { target: String, host: String, reason: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{method} on {target} failed: {}{hint}", describe(.error))]
    Rpc {
        method: &'static str,
        target: String,
        // Boxed: grpcio's error is large, and this travels in every `Result`.
        error: Box<grpcio::Error>,
        /// What the user may have got wrong, when the status suggests it.
        hint: &'static str,
    },
    #[error("cannot write {}: {reason}", .path.display())]
    Output { path: PathBuf, reason: String },
}

impl ClientError {
    /// The gRPC status code, when the server (or gRPC) answered with one.
    pub fn code(&self) -> Option<grpcio::RpcStatusCode> {
        match self {
            ClientError::Rpc { error, .. } => match &**error {
                grpcio::Error::RpcFailure(status) => Some(status.code()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `UNAVAILABLE: failed to connect …` rather than grpcio's `RpcFailure: 14-UNAVAILABLE …`.
fn describe(error: &grpcio::Error) -> String {
    match error {
        grpcio::Error::RpcFailure(status) => {
            let code = status.code().to_string();
            let name = code.split_once('-').map_or(code.as_str(), |(_, name)| name);
            if status.message().is_empty() {
                name.to_string()
            } else {
                format!("{name}: {}", status.message())
            }
        }
        other => other.to_string(),
    }
}

/// A hint for a failed call: a plaintext client that reached a TLS server sees the connection
/// closed, and a TLS client that reached a plaintext one sees a failed handshake; neither says
/// so in words a user would search for.
fn hint_for(method: &str, target: &Target, error: &grpcio::Error) -> &'static str {
    let grpcio::Error::RpcFailure(status) = error else { return "" };
    // gRPC's own answer for a method the server does not have (Python's reads "Method not
    // found!"), not a v2 server's UNIMPLEMENTED for work still to come, which says so itself.
    let unknown_method = status.message().is_empty() || status.message().starts_with("Method not found");
    if status.code() == grpcio::RpcStatusCode::UNIMPLEMENTED && unknown_method && v2::METHODS.contains(&method) {
        return " (this server does not serve idc.v2.Indicators: it is the article's Python server, or an \
                 idc_server from before v2)";
    }
    // A server that drains ends its subscriptions with UNAVAILABLE too; that one was reached.
    if status.message().contains("shutting down") {
        return "";
    }
    // C-core's own word for a call that a stopping server took but never answered (it cancels
    // what is still queued at shutdown): the server was reached, and is going away.
    if status.code() == grpcio::RpcStatusCode::CANCELLED && status.message() == "CANCELLED" {
        return " (the server ended the call unanswered: it is probably stopping; try again, or another replica)";
    }
    match (status.code(), target.tls.is_some()) {
        (grpcio::RpcStatusCode::UNAVAILABLE, false) => {
            " (if the server uses TLS, connect with --tls-ca; otherwise check that it runs at this address)"
        }
        (grpcio::RpcStatusCode::UNAVAILABLE, true) => {
            " (check that the server uses TLS, that --tls-ca signed its certificate, that the certificate is \
             valid today and names this host or --tls-server-name, and that --tls-cert is given if it \
             requires client certificates)"
        }
        _ => "",
    }
}

/// Checks the form of a `--target`: `host:port`, `[ipv6]:port`, or a gRPC target URI
/// (`dns:`, `ipv4:`, `ipv6:`, `unix:`), so that a missing port is not reported as a refused
/// connection to port 0.
pub fn check_target(target: &str) -> Result<(), ClientError> {
    let invalid = |reason| ClientError::Target { target: target.to_string(), reason };
    if target.is_empty() {
        return Err(invalid("it is empty; give HOST:PORT, such as localhost:50051"));
    }
    if target.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains spaces or control characters; give HOST:PORT, such as localhost:50051"));
    }
    let schemes = ["dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:"];
    if schemes.iter().any(|scheme| target.starts_with(scheme)) {
        return Ok(());
    }
    if target.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(invalid("an IPv6 address goes in brackets, followed by the port: [::1]:50051"));
    }
    let Some((host, port)) = target.rsplit_once(':') else {
        return Err(invalid("it has no port; give HOST:PORT, such as 127.0.0.1:50051"));
    };
    if host.is_empty() || host == "[]" {
        return Err(invalid("it has no host; give HOST:PORT, such as 127.0.0.1:50051"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(invalid("an IPv6 address goes in brackets, followed by the port: [::1]:50051"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err(invalid("the port must be a number from 1 to 65535, as in localhost:50051")),
    }
}

/// The gRPC target for `address`. A single target is passed on as it is. A comma-separated list of
/// replicas becomes one `ipv4:` (or `ipv6:`) list of their resolved addresses: C-core resolves one
/// name per channel, and its address-list schemes take IP literals only.
pub fn grpc_target(address: &str) -> Result<String, ClientError> {
    if !address.contains(',') {
        check_target(address)?;
        return Ok(address.to_string());
    }
    let mut per_replica = Vec::new();
    for replica in address.split(',').map(str::trim) {
        if ["dns:", "ipv4:", "ipv6:", "unix:"].iter().any(|s| replica.starts_with(s)) {
            return Err(ClientError::Target {
                target: address.to_string(),
                reason: "a list of replicas takes HOST:PORT items only, as in 10.0.0.1:50051,10.0.0.2:50051; \
                         for a DNS name with several addresses, give dns:///NAME:PORT alone",
            });
        }
        check_target(replica)?;
        let resolve_failed =
            |reason: String| ClientError::Resolve { target: address.to_string(), host: replica.to_string(), reason };
        let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(replica)
            .map_err(|e| resolve_failed(format!("does not resolve: {e}")))?
            .collect();
        per_replica.push(addrs);
    }
    // One family for the whole list: IPv4 if every replica has an IPv4 address, else IPv6.
    for (scheme, v4) in [("ipv4:", true), ("ipv6:", false)] {
        let picked: Vec<Vec<std::net::SocketAddr>> =
            per_replica.iter().map(|addrs| addrs.iter().filter(|a| a.is_ipv4() == v4).copied().collect()).collect();
        if picked.iter().all(|addrs| !addrs.is_empty()) {
            let mut list: Vec<String> = picked.into_iter().flatten().map(|a| a.to_string()).collect();
            list.dedup();
            return Ok(format!("{scheme}{}", list.join(",")));
        }
    }
    Err(ClientError::Target {
        target: address.to_string(),
        reason: "its replicas do not share an address family (some only IPv4, others only IPv6); \
                 give them all as IPv4 or all as IPv6 addresses",
    })
}

fn channel(target: &Target) -> Result<Channel, ClientError> {
    let address = grpc_target(&target.address)?;
    let env = Arc::new(EnvBuilder::new().cq_count(1).name_prefix("idc-client").build());
    // Round robin: a list of replicas, or a DNS name with several addresses, spreads the calls
    // over every replica that is up, and skips one that is down; for one address it is the same
    // as gRPC's default, pick-first.
    let mut builder = ChannelBuilder::new(env)
        .max_receive_message_len(MAX_RECEIVE_MESSAGE)
        .load_balancing_policy(grpcio::LbPolicy::RoundRobin);
    if let Some(tls) = &target.tls {
        if let Some(name) = &tls.server_name {
            builder = builder.override_ssl_target(name.as_bytes());
        }
        builder = builder.set_credentials(tls::channel_credentials(tls)?);
    }
    Ok(builder.connect(&address))
}

fn call_option(target: &Target) -> CallOption {
    with_token(CallOption::default().timeout(target.timeout), target.token.as_ref())
}

/// `option` with `token` (if any) as the call's `authorization` metadata: the read token of
/// [`Target`], or PushBars' own (`--push-token-file`).
fn with_token(option: CallOption, token: Option<&Token>) -> CallOption {
    match token {
        Some(token) => {
            let mut headers = MetadataBuilder::with_capacity(1);
            // A token is checked to be printable ASCII when it is read, which is all a header
            // value needs.
            headers.add_str(auth::HEADER, token.header_value()).expect("a checked token is a valid header value");
            option.headers(headers.build())
        }
        None => option,
    }
}

fn rpc_error<'a>(method: &'static str, target: &'a Target) -> impl Fn(grpcio::Error) -> ClientError + 'a {
    move |error| ClientError::Rpc {
        method,
        target: target.address.clone(),
        hint: hint_for(method, target, &error),
        error: Box::new(error),
    }
}

/// `idc.Indicator/GetMACD`, parsed.
pub fn get_macd(target: &Target, start_date: &str, end_date: &str) -> Result<MACDReply, ClientError> {
    let bytes = get_macd_bytes(target, start_date, end_date)?;
    MACDReply::parse_from_bytes(&bytes).map_err(|e| rpc_error("GetMACD", target)(grpcio::Error::Codec(Box::new(e))))
}

/// Why a `GetMACD` reply has no rows, as `idc_client` says on stderr. A parity-mode server always
/// sends the article's rows, so the server is in data mode; the article's protocol carries
/// nothing more, so both reasons a data-mode server has are named: days outside its data (or without trading), and TA-Lib's warm-up,
/// whose bars are in the data but have no MACD value.
pub fn why_empty(start: &str, end: &str) -> String {
    let asked = match (start.is_empty(), end.is_empty()) {
        (false, false) => format!("for {start} to {end}"),
        (false, true) => format!("from {start} on"),
        (true, false) => format!("up to {end}"),
        (true, true) => "for any date".to_string(),
    };
    format!(
        "the server returned no rows {asked}: a data-mode server has rows only for the days of its data that \
         have a MACD value; with --convention talib, the first bars of its data have none (TA-Lib's warm-up: \
         slow + signal - 2 bars, 33 for MACD(12,26,9))"
    )
}

/// `idc.Indicator/GetMACD`, as the reply's wire bytes.
///
/// `idc_client` prints from these, as upb does (see [`crate::text_format`]): the parsed
/// rust-protobuf message cannot tell a `-0.0` field from an absent one.
pub fn get_macd_bytes(target: &Target, start_date: &str, end_date: &str) -> Result<Vec<u8>, ClientError> {
    let client = Client::new(channel(target)?);
    let mut request = MACDRequest::new();
    request.start_date = start_date.to_owned();
    request.end_date = end_date.to_owned();
    client.unary_call(&GET_MACD_RAW, &request, call_option(target)).map_err(rpc_error("GetMACD", target))
}

/// `GetMACD` with the reply left undecoded.
const GET_MACD_RAW: Method<MACDRequest, Vec<u8>> = Method {
    ty: MethodType::Unary,
    name: METHOD_INDICATOR_GET_MACD.name,
    req_mar: Marshaller { ser: grpcio::pb_ser, de: grpcio::pb_de },
    resp_mar: Marshaller { ser: raw_ser, de: raw_de },
};

/// Marshals bytes that are already a message, as they are (for calls that compare wire bytes).
pub fn raw_ser(bytes: &Vec<u8>, buf: &mut grpcio::GrpcSlice) -> grpcio::Result<()> {
    *buf = grpcio::GrpcSlice::from(bytes.as_slice());
    Ok(())
}

/// Takes a message as its wire bytes, undecoded.
pub fn raw_de(mut reader: MessageReader) -> grpcio::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| grpcio::Error::Codec(Box::new(e)))?;
    Ok(bytes)
}

/// `idc.IndicatorGraph/GetMACDGraph`, written to `output` chunk by chunk as the chunks arrive.
///
/// The bytes go through an [`OutputFile`]: a regular file at `output` is replaced only once the
/// stream has ended with OK, and a failed or cut stream leaves any earlier `output` as it was
/// (stdout, a device or a FIFO is written as the chunks arrive). Returns the number of bytes
/// written.
pub fn download_graph(target: &Target, start_date: &str, end_date: &str, output: &Path) -> Result<u64, ClientError> {
    let output_error =
        |source: io::Error| ClientError::Output { path: output.to_path_buf(), reason: source.to_string() };
    let rpc_error = rpc_error("GetMACDGraph", target);
    let channel = channel(target)?;
    let mut file = create_output(output)?;

    let client = IndicatorGraphClient::new(channel);
    let mut request = MACDGraphRequest::new();
    request.start_date = start_date.to_owned();
    request.end_date = end_date.to_owned();
    let mut replies = client.get_macd_graph_opt(&request, call_option(target)).map_err(&rpc_error)?;

    let mut written = 0u64;
    block_on(async {
        while let Some(reply) = replies.try_next().await.map_err(&rpc_error)? {
            file.write_all(&reply.macd_chunk).map_err(output_error)?;
            written += reply.macd_chunk.len() as u64;
        }
        Ok::<(), ClientError>(())
    })?;
    file.commit().map_err(output_error)?;
    Ok(written)
}

/// `; ./x.png was left as it was`, when a failed download has an earlier file to speak of.
pub fn kept_note(output: &Path) -> String {
    if output.as_os_str() != "-" && output.is_file() {
        format!("; {} was left as it was", output.display())
    } else {
        String::new()
    }
}

/// Starts the download's output, with an error that names the user's path and the real cause
/// rather than the hidden temporary file. `-` is stdout; [`OutputFile`] checks the path and its
/// folder, and says what is wrong with them.
fn create_output(output: &Path) -> Result<OutputFile, ClientError> {
    OutputFile::create_for(output, "--output")
        .map_err(|e| ClientError::Output { path: output.to_path_buf(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_without_a_port_or_with_a_bare_ipv6_address_say_what_is_wrong() {
        for good in ["localhost:50051", "127.0.0.1:1", "[::1]:50051", "dns:///example.com:443", "unix:/tmp/s"] {
            assert!(check_target(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("", "empty"),
            ("127.0.0.1", "no port"),
            ("localhost:", "port must be"),
            ("localhost:0", "port must be"),
            ("localhost:99999", "port must be"),
            (":50051", "no host"),
            ("::1", "brackets"),
            ("::1:50051", "brackets"),
            ("local host:1", "spaces"),
        ] {
            let e = check_target(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_list_of_replicas_becomes_one_address_list_of_a_single_family() {
        assert_eq!(grpc_target("localhost:50051").unwrap(), "localhost:50051");
        assert_eq!(grpc_target("127.0.0.1:1,127.0.0.2:2").unwrap(), "ipv4:127.0.0.1:1,127.0.0.2:2");
        assert_eq!(grpc_target("[::1]:1, [::1]:2").unwrap(), "ipv6:[::1]:1,[::1]:2");
        // localhost has an IPv4 address on every machine we run on; both replicas get it.
        assert!(grpc_target("localhost:1,127.0.0.1:2").unwrap().starts_with("ipv4:127.0.0.1:1,"));
        for (bad, says) in [
            ("127.0.0.1:1,[::1]:2", "address family"),
            ("127.0.0.1:1,dns:///x:2", "HOST:PORT items only"),
            ("127.0.0.1:1,", "empty"),
            ("127.0.0.1:1,127.0.0.1", "no port"),
            ("127.0.0.1:1,no-such-host.invalid:2", "does not resolve"),
        ] {
            let e = grpc_target(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    /// These two messages once shipped with runs of 26 and 18 spaces inside, from a string
    /// continued onto the next line without a `\`: asserted whole, so that cannot come back.
    #[test]
    fn the_replica_list_messages_read_as_one_sentence() {
        assert_eq!(
            grpc_target("127.0.0.1:1,dns:///x:2").unwrap_err().to_string(),
            "invalid --target \"127.0.0.1:1,dns:///x:2\": a list of replicas takes HOST:PORT items only, as in \
             10.0.0.1:50051,10.0.0.2:50051; for a DNS name with several addresses, give dns:///NAME:PORT alone"
        );
        assert_eq!(
            grpc_target("127.0.0.1:1,[::1]:2").unwrap_err().to_string(),
            "invalid --target \"127.0.0.1:1,[::1]:2\": its replicas do not share an address family (some only \
             IPv4, others only IPv6); give them all as IPv4 or all as IPv6 addresses"
        );
    }
}
