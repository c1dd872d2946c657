//! What the server counts and logs about its calls, and the Prometheus endpoint that shows it.
//!
//! Every call is followed by a [`CallRecord`] (`call`) from its start to its status: at the end
//! it writes one log line at info (method, peer, status code, duration, bytes sent; nothing per
//! chunk) and moves the counters. The counters use the `prometheus-client` crate and are served at
//! `/metrics` by [`MetricsEndpoint`] (`http`: hyper on a thread of its own; off by default,
//! `--metrics-addr`), in OpenMetrics or in the classic text format (`text`), as the scraper
//! asks. A scrape only reads atomics, so it never waits for a call.

mod call;
mod compute;
mod http;
mod live;
mod text;

use std::sync::Arc;
use std::time::Instant;

use grpcio::RpcStatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use call::{code_name, CallRecord};
pub use http::{MetricsEndpoint, REQUEST_DEADLINE};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

/// How a chart render ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderOutcome {
    /// Drawn and encoded.
    Done,
    /// Stopped because its caller cancelled, went away or ran out of time.
    Cancelled,
    /// Never started: the blocking queue was full.
    Refused,
    /// Not drawn: the same chart was drawn before and is still kept.
    Cached,
}

impl RenderOutcome {
    fn label(self) -> &'static str {
        match self {
            RenderOutcome::Done => "done",
            RenderOutcome::Cancelled => "cancelled",
            RenderOutcome::Refused => "refused",
            RenderOutcome::Cached => "cached",
        }
    }
}

/// The render counters at one moment, as [`Metrics::renders`] reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderCounts {
    /// Renders that began drawing.
    pub started: u64,
    /// Renders drawn and encoded ([`RenderOutcome::Done`]).
    pub done: u64,
    /// Renders stopped, or skipped before drawing, because their call ended.
    pub cancelled: u64,
    /// Renders refused because the blocking queue was full.
    pub refused: u64,
    /// Charts answered from the cache without drawing.
    pub cached: u64,
}

/// What one catalog file's reload did (`idc_catalog_reloads{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// A new or changed file loaded and is served.
    Loaded,
    /// A file (or `instruments.csv`, or the directory) no longer loads; the last good version is
    /// still served.
    Failed,
    /// A file went away, and its instrument with it.
    Removed,
}

impl ReloadOutcome {
    const ALL: [ReloadOutcome; 3] = [ReloadOutcome::Loaded, ReloadOutcome::Failed, ReloadOutcome::Removed];

    fn label(self) -> &'static str {
        match self {
            ReloadOutcome::Loaded => "loaded",
            ReloadOutcome::Failed => "failed",
            ReloadOutcome::Removed => "removed",
        }
    }
}

type LatencyFamily = Family<MethodLabel, Histogram, fn() -> Histogram>;

/// The series a call of one method moves, looked up once when the server starts. A family
/// lookup takes a lock and allocates its labels; under load that was every call's cost, three
/// times over, for series that never change.
struct MethodSeries {
    method: &'static str,
    in_flight: Gauge,
    latency: Histogram,
    ok: Counter,
}

/// The methods whose series are looked up once; any other method's are found per call.
const SERVED_METHODS: [&str; 2] = ["GetMACD", "GetMACDGraph"];

/// The server's counters. One per server, shared by its handlers.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: LatencyFamily,
    in_flight: Family<MethodLabel, Gauge>,
    stream_bytes: Counter,
    stream_messages: Counter,
    queue_depth: Gauge,
    renders_started: Counter,
    renders: Family<OutcomeLabel, Counter>,
    file_reads: Counter,
    catalog_reloads: Family<OutcomeLabel, Counter>,
    catalog_instruments: Gauge,
    live: live::LiveMetrics,
    compute: compute::ComputeMetrics,
    served: Vec<MethodSeries>,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 26 s, each bucket four times the last.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        registry.register("idc_calls", "Calls finished, by method and gRPC status code", calls.clone());
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register(
            "idc_call_duration_seconds",
            "Time from a call's start to its status, by method",
            latency.clone(),
        );
        let in_flight = Family::<MethodLabel, Gauge>::default();
        registry.register("idc_calls_in_flight", "Calls started and not yet finished, by method", in_flight.clone());
        let stream_bytes = Counter::default();
        registry.register("idc_stream_bytes", "PNG bytes sent by GetMACDGraph", stream_bytes.clone());
        let stream_messages = Counter::default();
        registry.register("idc_stream_messages", "Messages (chunks) sent by GetMACDGraph", stream_messages.clone());
        let queue_depth = Gauge::default();
        registry.register(
            "idc_blocking_queue_depth",
            "Blocking jobs (file reads, chart renders) waiting for a thread",
            queue_depth.clone(),
        );
        let renders_started = Counter::default();
        registry.register("idc_renders_started", "Chart renders that began drawing", renders_started.clone());
        let renders = Family::<OutcomeLabel, Counter>::default();
        registry.register("idc_renders", "Chart renders, by outcome: done, cancelled or refused", renders.clone());
        let file_reads = Counter::default();
        registry.register("idc_graph_file_reads", "Blocks read from graph files", file_reads.clone());
        let catalog_reloads = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "idc_catalog_reloads",
            "Catalog files reloaded, by outcome: loaded, failed (the last good version still served) or removed",
            catalog_reloads.clone(),
        );
        let catalog_instruments = Gauge::default();
        registry.register("idc_catalog_instruments", "Instruments the catalog holds", catalog_instruments.clone());
        let live = live::LiveMetrics::register(&mut registry);
        let compute = compute::ComputeMetrics::register(&mut registry);
        // A labelled series appears only once it is used; create the ones every scrape should
        // show, so that dashboards and alerts see zeros rather than nothing on a fresh server.
        let served = SERVED_METHODS
            .iter()
            .map(|&method| {
                let label = MethodLabel { method: method.into() };
                MethodSeries {
                    method,
                    in_flight: in_flight.get_or_create_owned(&label),
                    latency: latency.get_or_create_owned(&label),
                    ok: calls.get_or_create_owned(&CallLabels { method: method.into(), code: "OK".into() }),
                }
            })
            .collect();
        for outcome in [RenderOutcome::Done, RenderOutcome::Cancelled, RenderOutcome::Refused, RenderOutcome::Cached] {
            let _ = renders.get_or_create(&OutcomeLabel { outcome: outcome.label().into() });
        }
        for outcome in ReloadOutcome::ALL {
            let _ = catalog_reloads.get_or_create(&OutcomeLabel { outcome: outcome.label().into() });
        }
        Metrics {
            registry,
            calls,
            latency,
            in_flight,
            stream_bytes,
            stream_messages,
            queue_depth,
            renders_started,
            renders,
            file_reads,
            catalog_reloads,
            catalog_instruments,
            live,
            compute,
            served,
        }
    }

    fn served(&self, method: &str) -> Option<&MethodSeries> {
        self.served.iter().find(|series| series.method == method)
    }

    /// Starts following a call, to be logged at info when it ends.
    /// `peer` names the client; it is asked for only when the line will be written, since
    /// C-core builds the text anew each time.
    pub fn call(self: &Arc<Self>, method: &'static str, peer: impl FnOnce() -> String) -> CallRecord {
        self.start(method, log::Level::Info, peer)
    }

    /// Starts following a call that is logged at debug only (health probes).
    pub fn quiet_call(self: &Arc<Self>, method: &'static str, peer: impl FnOnce() -> String) -> CallRecord {
        self.start(method, log::Level::Debug, peer)
    }

    fn start(self: &Arc<Self>, method: &'static str, level: log::Level, peer: impl FnOnce() -> String) -> CallRecord {
        match self.served(method) {
            Some(series) => series.in_flight.inc(),
            None => self.in_flight.get_or_create(&MethodLabel { method: method.into() }).inc(),
        };
        let enabled = match level {
            log::Level::Info => tracing::enabled!(target: "idc::rpc", tracing::Level::INFO),
            _ => tracing::enabled!(target: "idc::rpc", tracing::Level::DEBUG),
        };
        let peer = enabled.then(peer);
        CallRecord {
            metrics: Arc::clone(self),
            method,
            peer,
            started: Instant::now(),
            bytes: 0,
            finished: false,
            level,
        }
    }

    /// A call refused before any handler ran (by the token check).
    pub fn refused(&self, method: &str, code: RpcStatusCode) {
        self.calls.get_or_create(&CallLabels { method: short_method(method).into(), code: code_name(code) }).inc();
    }

    /// The gauge the blocking pool keeps at its queue's depth.
    pub fn queue_depth(&self) -> Gauge {
        self.queue_depth.clone()
    }

    pub fn render_started(&self) {
        self.renders_started.inc();
    }

    pub fn render_ended(&self, outcome: RenderOutcome) {
        self.renders.get_or_create(&OutcomeLabel { outcome: outcome.label().into() }).inc();
    }

    pub fn file_read(&self) {
        self.file_reads.inc();
    }

    /// Renders that began drawing, and those that ended each way: for tests and the log.
    pub fn renders(&self) -> RenderCounts {
        let count = |outcome: RenderOutcome| {
            self.renders.get_or_create(&OutcomeLabel { outcome: outcome.label().into() }).get()
        };
        RenderCounts {
            started: self.renders_started.get(),
            done: count(RenderOutcome::Done),
            cancelled: count(RenderOutcome::Cancelled),
            refused: count(RenderOutcome::Refused),
            cached: count(RenderOutcome::Cached),
        }
    }

    /// One catalog file reloaded with `outcome`.
    pub fn catalog_reloaded(&self, outcome: ReloadOutcome) {
        self.catalog_reloads.get_or_create(&OutcomeLabel { outcome: outcome.label().into() }).inc();
    }

    /// Catalog reloads so far that ended with `outcome`.
    pub fn catalog_reloads(&self, outcome: ReloadOutcome) -> u64 {
        self.catalog_reloads.get_or_create(&OutcomeLabel { outcome: outcome.label().into() }).get()
    }

    /// The catalog now holds `count` instruments.
    pub fn set_catalog_instruments(&self, count: usize) {
        self.catalog_instruments.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Instruments the catalog holds, as last set.
    pub fn catalog_instruments(&self) -> i64 {
        self.catalog_instruments.get()
    }

    /// Blocks read from graph files so far.
    pub fn file_reads(&self) -> u64 {
        self.file_reads.get()
    }

    /// Calls of `method` (`GetMACD`) that finished with `code`.
    pub fn calls(&self, method: &str, code: RpcStatusCode) -> u64 {
        self.calls.get_or_create(&CallLabels { method: method.into(), code: code_name(code) }).get()
    }

    /// Everything, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Everything, in the classic Prometheus text format (0.0.4).
    pub fn encode_classic(&self) -> String {
        text::classic(&self.encode())
    }
}

/// `/idc.Indicator/GetMACD` -> `GetMACD`.
fn short_method(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_call_moves_the_counters_once() {
        let metrics = Arc::new(Metrics::new());
        let mut call = metrics.call("GetMACDGraph", || "ipv4:127.0.0.1:1".into());
        call.streamed(1024);
        call.streamed(10);
        call.finish(RpcStatusCode::OK);
        drop(metrics.call("GetMACDGraph", || "ipv4:127.0.0.1:2".into()));
        assert_eq!(metrics.calls("GetMACDGraph", RpcStatusCode::OK), 1);
        assert_eq!(metrics.calls("GetMACDGraph", RpcStatusCode::CANCELLED), 1);
        let text = metrics.encode();
        assert!(text.contains("idc_stream_bytes_total 1034"), "{text}");
        assert!(text.contains("idc_stream_messages_total 2"), "{text}");
        assert!(text.contains(r#"idc_calls_in_flight{method="GetMACDGraph"} 0"#), "{text}");
    }

    /// The served methods' series are held from the start; the others are found per call. Both
    /// show in the same families.
    #[test]
    fn served_and_other_methods_land_in_the_same_series_a_scrape_shows() {
        let metrics = Arc::new(Metrics::new());
        let open = metrics.call("GetMACD", || "ipv4:127.0.0.1:1".into());
        let probe = metrics.quiet_call("Check", || "ipv4:127.0.0.1:2".into());
        let text = metrics.encode();
        assert!(text.contains(r#"idc_calls_in_flight{method="GetMACD"} 1"#), "{text}");
        assert!(text.contains(r#"idc_calls_in_flight{method="Check"} 1"#), "{text}");
        open.finish(RpcStatusCode::OK);
        probe.finish(RpcStatusCode::OK);
        metrics.call("GetMACD", || "ipv4:127.0.0.1:3".into()).finish(RpcStatusCode::INVALID_ARGUMENT);
        assert_eq!(metrics.calls("GetMACD", RpcStatusCode::OK), 1);
        assert_eq!(metrics.calls("GetMACD", RpcStatusCode::INVALID_ARGUMENT), 1);
        assert_eq!(metrics.calls("Check", RpcStatusCode::OK), 1);
        let text = metrics.encode();
        assert!(text.contains(r#"idc_calls_in_flight{method="GetMACD"} 0"#), "{text}");
        assert!(text.contains(r#"idc_calls_in_flight{method="Check"} 0"#), "{text}");
        assert!(text.contains(r#"idc_call_duration_seconds_count{method="GetMACD"} 2"#), "{text}");
        assert!(text.contains(r#"idc_call_duration_seconds_count{method="Check"} 1"#), "{text}");
    }
}
