//! The gRPC handlers. A handler validates its request, calls the [`crate::domain`], and maps the
//! outcome to a reply or a status; nothing here blocks a completion-queue thread.
//!
//! * [`indicator`] answers `idc.Indicator/GetMACD`.
//! * [`graph`] answers `idc.IndicatorGraph/GetMACDGraph`, the chart streamed in chunks.
//!
//! Parity mode (the default) answers as the article's Python server does; data mode
//! ([`Mode::Data`]) answers with real bars, MACD and charts.

pub mod graph;
pub mod indicator;

use std::path::PathBuf;
use std::sync::Arc;

use grpcio::{RpcStatus, RpcStatusCode};

use crate::blocking::BlockingPool;
use crate::domain::analysis::Analysis;
use crate::domain::bar::BarsError;
use crate::domain::chart::ChartSize;
use crate::domain::macd::{Convention, MacdParams};
use crate::domain::sample;

pub use graph::{Fallback, GraphService, GraphSource};
pub use indicator::IndicatorService;

/// The largest `--chunk-size`: 4 MiB. Note that clients with gRPC's default 4 MiB receive limit
/// (Python's, among others) reject chunks above 4 MiB − 5 bytes, as each reply adds a field tag
/// and a length to the chunk; `idc_graph_client` raises its limit to accept them.
pub const MAX_CHUNK_SIZE: usize = 4 * 1024 * 1024;

/// Which answers `GetMACD` gives.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    /// The article's placeholder rows, byte for byte (the default).
    #[default]
    Parity,
    /// Real rows and charts from these bars.
    Data(Arc<Analysis>),
}

/// What the services serve.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub mode: Mode,
    /// The PNG that `GetMACDGraph` streams, opened anew for every call as the reference does.
    /// When `None`: in parity mode `./macd.png`, or the chart of the embedded sample while that
    /// file does not exist; in data mode the chart of the requested range.
    pub graph_file: Option<PathBuf>,
    /// Bytes per `MACDGraphReply`, `1..=MAX_CHUNK_SIZE`.
    pub chunk_size: usize,
    /// Size of rendered charts.
    pub chart_size: ChartSize,
    /// Threads for blocking work (file reads, chart renders).
    pub blocking_threads: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            mode: Mode::Parity,
            graph_file: None,
            chunk_size: 1024,
            chart_size: ChartSize::default(),
            blocking_threads: crate::server::default_parallelism().max(2).into(),
        }
    }
}

/// The reference's graph file, streamed in parity mode when `--graph-file` is not given.
pub const DEFAULT_GRAPH_FILE: &str = "./macd.png";

/// A configuration the services cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("chunk size {0} is out of range: use 1 to {MAX_CHUNK_SIZE} bytes")]
    ChunkSize(usize),
    #[error("cannot start the blocking-work threads: {0}")]
    Threads(#[source] std::io::Error),
    #[error("the embedded sample does not load: {0}")]
    Sample(#[from] BarsError),
}

/// Both services, ready to be registered with a server.
pub struct Services {
    pub indicator: IndicatorService,
    pub graph: GraphService,
}

impl Services {
    pub fn new(config: &ServiceConfig) -> Result<Services, ConfigError> {
        if !(1..=MAX_CHUNK_SIZE).contains(&config.chunk_size) {
            return Err(ConfigError::ChunkSize(config.chunk_size));
        }
        let pool = BlockingPool::new("idc-blocking", config.blocking_threads).map_err(ConfigError::Threads)?;
        let (indicator, source) = match (&config.mode, &config.graph_file) {
            (Mode::Parity, Some(path)) => (IndicatorService::parity(), GraphSource::File(path.clone())),
            (Mode::Parity, None) => {
                let sample = Analysis::new(sample::INSTRUMENT, sample::bars()?, MacdParams::default(), Convention::Cn);
                let fallback = Fallback::new(Arc::new(sample), config.chart_size);
                let path = PathBuf::from(DEFAULT_GRAPH_FILE);
                (IndicatorService::parity(), GraphSource::FileOrChart { path, fallback })
            }
            (Mode::Data(analysis), Some(path)) => {
                (IndicatorService::data(Arc::clone(analysis)), GraphSource::File(path.clone()))
            }
            (Mode::Data(analysis), None) => (
                IndicatorService::data(Arc::clone(analysis)),
                GraphSource::Chart { analysis: Arc::clone(analysis), size: config.chart_size },
            ),
        };
        Ok(Services { indicator, graph: GraphService::new(source, config.chunk_size, pool) })
    }

    /// The grpcio services, for [`crate::server::start`].
    pub fn into_grpc(self) -> Vec<grpcio::Service> {
        use crate::protocol::{indicator_graph_grpc, indicator_grpc};
        vec![indicator_grpc::create_indicator(self.indicator), indicator_graph_grpc::create_indicator_graph(self.graph)]
    }
}

fn status(code: RpcStatusCode, message: impl Into<String>) -> RpcStatus {
    RpcStatus::with_message(code, message.into())
}
