//! The gRPC handlers. A handler validates its request, calls the [`crate::domain`], and maps the
//! outcome to a reply or a status; nothing here blocks a completion-queue thread.
//!
//! * [`indicator`] answers `idc.Indicator/GetMACD`.
//! * [`graph`] answers `idc.IndicatorGraph/GetMACDGraph`, the chart streamed in chunks.
//! * [`v2`] answers `idc.v2.Indicators`: many instruments, many indicators.
//! * [`wire`] writes the two replies that carry the bulk straight into gRPC's buffer, and
//!   registers the methods that send them.
//! * `cache` keeps the graph file and recent charts between calls.
//!
//! Parity mode (the default) answers as the article's Python server does; data mode
//! (`--data`) answers with real bars, MACD and charts. Every request's dates are checked for
//! length before anything else, and in data mode parsed, by both methods alike.

mod cache;
pub mod graph;
pub mod indicator;
pub mod v2;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use std::pin::Pin;
use std::task::Poll;

use futures::{future, Sink};
use grpcio::{RpcStatus, RpcStatusCode, ServerStreamingSink, ServiceBuilder, WriteFlags};

use crate::blocking::BlockingPool;
use crate::catalog::SharedCatalog;
use crate::config::{Config, DEFAULT_GRAPH_FILE};
use crate::domain::analysis::Analysis;
use crate::domain::bar::BarsError;
use crate::domain::date::{DateRange, RangeError};
use crate::domain::macd::{Convention, MacdParams};
use crate::domain::sample;
use crate::metrics::Metrics;

pub use graph::{Fallback, GraphService, GraphSource};
pub use indicator::IndicatorService;

/// The longest `start_date` or `end_date` accepted, in bytes. Data mode takes exactly
/// `YYYY-MM-DD` (ten bytes); parity mode echoes the text back as the reference does, so it keeps
/// room for what a client might put there (a date with a time and a zone, a label in Chinese),
/// but a longer text is refused before any work rather than copied into four rows.
pub const MAX_DATE_TEXT: usize = 64;

/// The services could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot start the blocking-work threads: {0}")]
    Threads(#[source] std::io::Error),
    #[error("the embedded sample does not load: {0}")]
    Sample(#[from] BarsError),
    #[error(transparent)]
    Params(#[from] crate::domain::macd::ParamsError),
}

/// The services, ready to be registered with a server.
pub struct Services {
    pub indicator: IndicatorService,
    pub graph: GraphService,
    pub v2: v2::V2Service,
    /// What v2 serves; the catalog's watcher replaces it when files change.
    pub catalog: Arc<SharedCatalog>,
}

impl Services {
    /// The services `config` describes; `analysis` is the loaded data in data mode, `None` in
    /// parity mode; `catalog` is what v2 serves.
    pub fn new(
        config: &Config,
        analysis: Option<Arc<Analysis>>,
        catalog: Arc<SharedCatalog>,
        live: Arc<crate::live::Live>,
        metrics: &Arc<Metrics>,
    ) -> Result<Services, ServiceError> {
        let pool = BlockingPool::new(
            "idc-blocking",
            config.threads.blocking_threads,
            config.threads.max_blocking_queue,
            metrics.queue_depth(),
        )
        .map_err(ServiceError::Threads)?;
        let m = || Arc::clone(metrics);
        let (indicator, source) = match (analysis, &config.chart.graph_file) {
            (None, Some(path)) => (IndicatorService::parity(m()), GraphSource::File(path.clone())),
            (None, None) => {
                // The fallback chart is always the sample's, with the default parameters: the
                // MACD flags belong to data mode.
                let sample =
                    Analysis::new(sample::INSTRUMENT, sample::bars()?, MacdParams::default(), Convention::default())?;
                let fallback = Fallback::new(Arc::new(sample), config.chart.chart_size);
                let path = PathBuf::from(DEFAULT_GRAPH_FILE);
                (IndicatorService::parity(m()), GraphSource::FileOrChart { path, fallback })
            }
            (Some(analysis), Some(path)) => {
                (IndicatorService::data(Arc::clone(&analysis), m()), GraphSource::DataFile { path: path.clone() })
            }
            (Some(analysis), None) => (
                IndicatorService::data(Arc::clone(&analysis), m()),
                GraphSource::Chart { analysis, size: config.chart.chart_size },
            ),
        };
        let graph = GraphService::new(source, config.chart.chunk_size, config.tuning.write_batching, pool.clone(), m());
        let source = crate::data::catalog_source(config);
        let v2 = v2::V2Service::new(Arc::clone(&catalog), config.data.convention, pool, m(), live, source).with_chart(
            config.chart.chart_size,
            config.chart.chunk_size,
            config.tuning.write_batching,
        );
        Ok(Services { indicator, graph, v2, catalog })
    }

    /// The grpcio services, for registration with a server. They are registered by hand rather
    /// than with the generated `create_indicator` functions, because their replies are the
    /// hand-encoded ones of [`wire`].
    pub fn into_grpc(self) -> Vec<grpcio::Service> {
        let Services { indicator, graph, v2, catalog: _ } = self;
        vec![
            v2.into_grpc(),
            ServiceBuilder::new()
                .add_unary_handler(&wire::GET_MACD, move |ctx, request, sink| indicator.get_macd(ctx, request, sink))
                .build(),
            ServiceBuilder::new()
                .add_server_streaming_handler(&wire::GET_MACD_GRAPH, move |ctx, request, sink| {
                    graph.get_macd_graph(ctx, request, sink)
                })
                .build(),
        ]
    }
}

/// Resolves when a streaming call ends from the other side: a cancel, a disconnect, or its
/// deadline.
///
/// grpcio gives no cancellation callback, and goes on polling a spawned future after its call is
/// cancelled. But the sink's `poll_ready` looks at the call's close notification first, and
/// registers the task to be woken by it; until then it is ready, and this keeps waiting. Race the
/// work of a call against this, and stop the work when this wins.
pub async fn call_ended<T>(sink: &mut ServerStreamingSink<T>) {
    future::poll_fn(|cx| match Sink::<(T, WriteFlags)>::poll_ready(Pin::new(&mut *sink), cx) {
        Poll::Ready(Err(_)) => Poll::Ready(()),
        _ => Poll::Pending,
    })
    .await
}

fn status(code: RpcStatusCode, message: impl Into<String>) -> RpcStatus {
    RpcStatus::with_message(code, message.into())
}

/// Refuses a `start_date` or `end_date` longer than a date, before anything else looks at it.
fn check_lengths(start_date: &str, end_date: &str) -> Result<(), RpcStatus> {
    for (field, text) in [("start_date", start_date), ("end_date", end_date)] {
        if text.len() > MAX_DATE_TEXT {
            return Err(status(
                RpcStatusCode::INVALID_ARGUMENT,
                format!(
                    "{field} is {} bytes long, more than the {MAX_DATE_TEXT} this server accepts; send a date as \
                     YYYY-MM-DD, e.g. 2023-01-31",
                    text.len()
                ),
            ));
        }
    }
    Ok(())
}

/// A request's date range, or `INVALID_ARGUMENT` saying what is wrong with it.
fn parse_range(start_date: &str, end_date: &str) -> Result<DateRange, RpcStatus> {
    check_lengths(start_date, end_date)?;
    DateRange::parse(start_date, end_date)
        .map_err(|e: RangeError| status(RpcStatusCode::INVALID_ARGUMENT, e.to_string()))
}
