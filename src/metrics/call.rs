//! One call's record ([`CallRecord`]): from its start to its status, then its one log line (an
//! `idc::rpc` event) and its counters; and the canonical names of gRPC's status codes, which the
//! line and the counters' `code` label print.

use std::sync::Arc;
use std::time::Instant;

use grpcio::RpcStatusCode;

use super::{CallLabels, MethodLabel, Metrics};

/// `OK`, `CANCELLED`, …: the canonical names that every gRPC implementation prints.
pub fn code_name(code: RpcStatusCode) -> String {
    code_text(code).into_owned()
}

/// [`code_name`] without building a string for one of the 17 codes gRPC defines (the per-call
/// line's case); another number is named as grpcio names it, after its `NUMBER-`.
fn code_text(code: RpcStatusCode) -> std::borrow::Cow<'static, str> {
    if let Some(name) = canonical_name(code) {
        return name.into();
    }
    let text = code.to_string();
    text.split_once('-').map_or(text.clone(), |(_, name)| name.to_string()).into()
}

/// The canonical name of one of the 17 codes gRPC defines, `None` for any other number.
fn canonical_name(code: RpcStatusCode) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(i32::from(code)).ok().and_then(|i| NAMES.get(i)).copied()
}

/// One call, from its start until its status; see the module docs.
pub struct CallRecord {
    pub(super) metrics: Arc<Metrics>,
    pub(super) method: &'static str,
    /// `None` when the line is not written.
    pub(super) peer: Option<String>,
    pub(super) started: Instant,
    pub(super) bytes: u64,
    pub(super) finished: bool,
    pub(super) level: log::Level,
}

impl CallRecord {
    /// `bytes` of payload went out in one message.
    pub fn sent(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }

    /// A streamed chunk of `bytes` went out.
    pub fn streamed(&mut self, bytes: usize) {
        self.sent(bytes);
        self.metrics.stream_bytes.inc_by(bytes as u64);
        self.metrics.stream_messages.inc();
    }

    /// The call ended with `code`: one log line, and the counters.
    pub fn finish(mut self, code: RpcStatusCode) {
        self.record(code);
    }

    fn record(&mut self, code: RpcStatusCode) {
        if self.finished {
            return;
        }
        self.finished = true;
        let took = self.started.elapsed();
        let metrics = &self.metrics;
        let calls = |method: &str| CallLabels { method: method.into(), code: code_name(code) };
        match metrics.served(self.method) {
            Some(series) => {
                series.in_flight.dec();
                series.latency.observe(took.as_secs_f64());
                match code {
                    RpcStatusCode::OK => series.ok.inc(),
                    _ => metrics.calls.get_or_create(&calls(self.method)).inc(),
                };
            }
            None => {
                let method = MethodLabel { method: self.method.into() };
                metrics.in_flight.get_or_create(&method).dec();
                metrics.latency.get_or_create(&method).observe(took.as_secs_f64());
                metrics.calls.get_or_create(&calls(self.method)).inc();
            }
        }
        if let Some(peer) = &self.peer {
            let name = code_text(code);
            // Tenths of a millisecond in integers: formatting a float to one place is a
            // noticeable part of the line's cost.
            let tenths = (took.as_micros() + 50) / 100;
            let ms = format_args!("{}.{}", tenths / 10, tenths % 10);
            // A `tracing` event, not a `log` record: the bridge would rebuild its metadata for
            // every line. The level must be a constant of the callsite, hence the two arms.
            macro_rules! line {
                ($level:expr) => {
                    tracing::event!(target: "idc::rpc", $level, "{} from {peer}: {name} in {ms} ms, {} bytes sent", self.method, self.bytes)
                };
            }
            match self.level {
                log::Level::Info => line!(tracing::Level::INFO),
                _ => line!(tracing::Level::DEBUG),
            }
        }
    }
}

impl Drop for CallRecord {
    /// A call dropped without a status was cut short: by a cancel, or by the server stopping.
    fn drop(&mut self) {
        self.record(RpcStatusCode::CANCELLED);
    }
}
