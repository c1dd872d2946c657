//! Bearer-token auth: the token file both ends read, the server's check, the client's header.
//!
//! With `--auth-token-file`, every call but the health checks must carry the metadata
//! `authorization: Bearer <token>`. The server checks it in a grpcio [`ServerChecker`], which runs
//! before any handler, so a refused call costs no work. One exception in part: a reflection call
//! without the header goes on to its handler, which answers it only for the health service's own
//! descriptor ([`crate::server::reflection`]), because `grpcurl … grpc.health.v1.Health/Check`
//! asks reflection for that descriptor before it calls health; a checker sees a call's metadata
//! but not its messages, so the handler has to draw that line. The comparison is constant-time
//! (`subtle`), so response timing does not reveal how much of a guess was right. The token never
//! appears in a log line, an error message or a `Debug` output, and is never taken on the command
//! line, where `ps` would show it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use grpcio::{CheckResult, RpcContext, RpcStatus, RpcStatusCode, ServerChecker};
use subtle::ConstantTimeEq;

use crate::metrics::Metrics;

/// The metadata key that carries the token.
pub const HEADER: &str = "authorization";
/// The scheme before the token in [`HEADER`].
const SCHEME: &str = "Bearer ";
/// The longest token accepted: far more than any random token needs, and well inside gRPC's
/// 8 KiB metadata limit.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Calls to these services need no token: a load balancer's health probe carries none.
pub const EXEMPT_SERVICES: &[&str] = &["/grpc.health.v1.Health/"];
/// Calls to these services may come without a token, and are then answered only for what the
/// exempt services need (see the module documentation); with a wrong token they are refused.
pub const REFLECTION_SERVICES: &[&str] =
    &["/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"];

/// Why a call without a token was refused: what to send, and how.
pub const TOKEN_REQUIRED: &str = "this server requires a token: send the metadata `authorization: Bearer <token>` \
                                  (idc clients: --auth-token-file FILE; grpcurl: -H 'authorization: Bearer TOKEN')";

/// A bearer token. Its `Debug` form hides it.
#[derive(Clone)]
pub struct Token {
    /// `Bearer <token>`, the whole header value, as sent and compared.
    header_value: Arc<str>,
}

/// The token file cannot be used. The messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read --{flag} {}: {reason}", .path.display())]
    Read { flag: &'static str, path: PathBuf, reason: std::io::Error },
    #[error("--{flag} {} is empty: put the token on its first line", .path.display())]
    Empty { flag: &'static str, path: PathBuf },
    #[error(
        "--{flag} {}: the token must be one line of printable ASCII without spaces, at most {MAX_TOKEN_LEN} \
         characters (for instance `openssl rand -hex 32`)",
        .path.display()
    )]
    Invalid { flag: &'static str, path: PathBuf },
}

impl Token {
    /// Reads the token from the first line of `path`; surrounding white space is ignored.
    pub fn from_file(path: &Path) -> Result<Token, TokenError> {
        Token::from_flag_file("auth-token-file", path)
    }

    /// As [`Token::from_file`], for the file of the flag `--{flag}` (named in the errors).
    pub fn from_flag_file(flag: &'static str, path: &Path) -> Result<Token, TokenError> {
        let path_buf = || path.to_path_buf();
        let bytes = std::fs::read(path).map_err(|reason| TokenError::Read { flag, path: path_buf(), reason })?;
        let text = String::from_utf8(bytes).map_err(|_| TokenError::Invalid { flag, path: path_buf() })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(TokenError::Empty { flag, path: path_buf() });
        }
        // A header value must be visible ASCII; a space or a second line is a mistake.
        let printable = token.bytes().all(|b| b.is_ascii_graphic());
        if !printable || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid { flag, path: path_buf() });
        }
        warn_if_others_can_read(flag, path);
        Ok(Token { header_value: format!("{SCHEME}{token}").into() })
    }

    /// The value of the `authorization` metadata that carries this token.
    pub fn header_value(&self) -> &str {
        &self.header_value
    }

    /// Whether a call's metadata holds this token: one `authorization` value, and the right one.
    pub fn is_carried_by(&self, headers: &grpcio::Metadata) -> bool {
        let mut values = authorization_values(headers);
        values.next().is_some_and(|value| self.matches(value)) && values.next().is_none()
    }

    /// Whether `value` is exactly this token's header value. Constant-time in the content; a value
    /// of another length is refused at once, which reveals only the length.
    fn matches(&self, value: &[u8]) -> bool {
        bool::from(self.header_value.as_bytes().ct_eq(value))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The values of a call's `authorization` metadata (keys are case-insensitive).
fn authorization_values(headers: &grpcio::Metadata) -> impl Iterator<Item = &[u8]> {
    headers.iter().filter(|(key, _)| key.eq_ignore_ascii_case(HEADER)).map(|(_, value)| value)
}

#[cfg(unix)]
fn warn_if_others_can_read(flag: &str, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            log::warn!("--{flag} {} can be read by other users (mode {mode:03o}); `chmod 600` it", path.display());
        }
    }
}

#[cfg(not(unix))]
fn warn_if_others_can_read(_: &str, _: &Path) {}

/// The server side: refuses calls without the right token before their handler runs.
#[derive(Clone)]
pub struct AuthChecker {
    /// What every call but health's needs (`--auth-token-file`).
    token: Option<Token>,
    /// What `PushBars` needs (`--push-token-file`), instead of the read token.
    push: Option<Token>,
    metrics: Arc<Metrics>,
}

/// The method that needs the push token.
pub const PUSH_METHOD: &str = "/idc.v2.Indicators/PushBars";
/// Why a push without a token was refused.
pub const PUSH_TOKEN_REQUIRED: &str =
    "PushBars needs the push token: send the metadata `authorization: Bearer <token>` \
                                       with the token of the server's --push-token-file (idc_client push: \
                                       --push-token-file FILE)";

impl AuthChecker {
    pub fn new(token: Token, metrics: Arc<Metrics>) -> AuthChecker {
        AuthChecker { token: Some(token), push: None, metrics }
    }

    /// The checker of a server with the read token `token` and the push token `push` (either may
    /// be absent; a server with neither needs no checker).
    pub fn with_tokens(token: Option<Token>, push: Option<Token>, metrics: Arc<Metrics>) -> AuthChecker {
        AuthChecker { token, push, metrics }
    }

    /// `Ok` when `method` may go ahead with these `authorization` values.
    fn verdict<'a>(&self, method: &[u8], mut values: impl Iterator<Item = &'a [u8]>) -> Result<(), RpcStatus> {
        if method == PUSH_METHOD.as_bytes() {
            // Without a push token, the handler refuses every push, saying how to enable them.
            let Some(push) = &self.push else { return Ok(()) };
            let Some(value) = values.next() else {
                return Err(RpcStatus::with_message(RpcStatusCode::UNAUTHENTICATED, PUSH_TOKEN_REQUIRED.to_string()));
            };
            return carries(push, value, values, "push-token-file");
        }
        let is_one_of = |services: &[&str]| services.iter().any(|service| method.starts_with(service.as_bytes()));
        let Some(token) = &self.token else { return Ok(()) };
        if is_one_of(EXEMPT_SERVICES) {
            return Ok(());
        }
        let Some(value) = values.next() else {
            // The reflection handler answers a call without a token for health's descriptor only.
            if is_one_of(REFLECTION_SERVICES) {
                return Ok(());
            }
            return Err(RpcStatus::with_message(RpcStatusCode::UNAUTHENTICATED, TOKEN_REQUIRED.to_string()));
        };
        carries(token, value, values, "auth-token-file")
    }
}

/// `Ok` when `value` is `token`'s and no other value follows: a second `authorization` is refused
/// rather than guessed at.
fn carries<'a>(
    token: &Token,
    value: &[u8],
    mut rest: impl Iterator<Item = &'a [u8]>,
    flag: &str,
) -> Result<(), RpcStatus> {
    if token.matches(value) && rest.next().is_none() {
        return Ok(());
    }
    let message = if value.starts_with(SCHEME.as_bytes()) {
        format!("the token is not valid for this server; check --{flag}")
    } else {
        format!("the `{HEADER}` metadata must be `Bearer <token>`")
    };
    Err(RpcStatus::with_message(RpcStatusCode::UNAUTHENTICATED, message))
}

impl ServerChecker for AuthChecker {
    fn check(&mut self, ctx: &RpcContext) -> CheckResult {
        match self.verdict(ctx.method(), authorization_values(ctx.request_headers())) {
            Ok(()) => CheckResult::Continue,
            Err(status) => {
                self.metrics.refused(&String::from_utf8_lossy(ctx.method()), status.code());
                log::info!(
                    "{} from {}: refused, {}",
                    String::from_utf8_lossy(ctx.method()),
                    ctx.peer(),
                    status.message()
                );
                CheckResult::Abort(status)
            }
        }
    }

    fn box_clone(&self) -> Box<dyn ServerChecker> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_file(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn the_token_is_the_trimmed_first_line_and_never_shown() {
        let (_dir, path) = token_file("s3cret-token\n");
        let token = Token::from_file(&path).unwrap();
        assert_eq!(token.header_value(), "Bearer s3cret-token");
        assert!(!format!("{token:?}").contains("s3cret"));
        for bad in ["", "  \n", "two words", "line\nline", "é"] {
            let (_dir, path) = token_file(bad);
            let e = Token::from_file(&path).unwrap_err().to_string();
            assert!(e.contains("token") && !e.contains(bad.trim()) || bad.trim().is_empty(), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_checker_wants_exactly_the_token_except_for_health() {
        let (_dir, path) = token_file("abc");
        let checker = AuthChecker::new(Token::from_file(&path).unwrap(), Arc::new(Metrics::new()));
        let method = b"/idc.Indicator/GetMACD".as_slice();
        let code = |values: &[&[u8]]| checker.verdict(method, values.iter().copied()).err().map(|s| s.code());
        assert_eq!(code(&[b"Bearer abc"]), None);
        assert_eq!(code(&[]), Some(RpcStatusCode::UNAUTHENTICATED));
        assert_eq!(code(&[b"Bearer abd"]), Some(RpcStatusCode::UNAUTHENTICATED));
        assert_eq!(code(&[b"Bearer ab"]), Some(RpcStatusCode::UNAUTHENTICATED));
        assert_eq!(code(&[b"abc"]), Some(RpcStatusCode::UNAUTHENTICATED));
        assert_eq!(code(&[b"Bearer abc", b"Bearer abc"]), Some(RpcStatusCode::UNAUTHENTICATED));
        let refused = checker.verdict(method, [b"Bearer abd".as_slice()].into_iter()).unwrap_err();
        assert!(!refused.message().contains("abd"), "{}", refused.message());
        let health = b"/grpc.health.v1.Health/Check".as_slice();
        assert!(checker.verdict(health, std::iter::empty()).is_ok());
        let missing = checker.verdict(method, std::iter::empty()).unwrap_err();
        assert_eq!(
            missing.message(),
            "this server requires a token: send the metadata `authorization: Bearer <token>` (idc clients: \
             --auth-token-file FILE; grpcurl: -H 'authorization: Bearer TOKEN')"
        );
    }

    #[test]
    fn reflection_goes_on_without_a_token_but_not_with_a_wrong_one() {
        let (_dir, path) = token_file("abc");
        let checker = AuthChecker::new(Token::from_file(&path).unwrap(), Arc::new(Metrics::new()));
        for method in [
            b"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".as_slice(),
            b"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo".as_slice(),
        ] {
            assert!(checker.verdict(method, std::iter::empty()).is_ok());
            assert!(checker.verdict(method, [b"Bearer abc".as_slice()].into_iter()).is_ok());
            let wrong = checker.verdict(method, [b"Bearer abd".as_slice()].into_iter()).unwrap_err();
            assert_eq!(wrong.message(), "the token is not valid for this server; check --auth-token-file");
        }
    }
}
