//! `idc.v2.Indicators`: many instruments, many indicators, in both conventions, over one catalog.
//!
//! * [`compute`]: `Compute`, one `Series` message per instrument.
//! * [`chart`]: `Chart`, one instrument's chart with overlays and panels, a PNG in chunks.
//! * `ListInstruments` is answered here: it is one read of the catalog.
//! * [`push`]: `PushBars`, made durable and applied by the live store.
//! * [`subscribe`]: `Subscribe`, the latest values and then one update per new or revised bar.
//!
//! Every request is checked by [`idc_core::query`] before any work, so a refusal costs nothing and
//! reads the same whether it comes from the service or a fuzz target. CPU work (indicators over a
//! whole history) runs on the blocking pool, never on a completion-queue thread.

mod chart;
mod compute;
mod push;
pub mod subscribe;

use std::sync::Arc;

use grpcio::{RpcContext, RpcStatus, RpcStatusCode, ServerStreamingSink, UnarySink};
use idc_core::query::{Kind, QueryError};

use crate::blocking::BlockingPool;
use crate::catalog::{SharedCatalog, Source};
use crate::domain::chart::ChartSize;
use crate::domain::indicators::Convention;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::protocol::indicators as pb;
use crate::protocol::indicators_grpc::Indicators;

/// The v2 service; cheap to clone (grpcio clones it per completion queue).
#[derive(Clone)]
pub struct V2Service {
    catalog: Arc<SharedCatalog>,
    convention: Convention,
    pool: BlockingPool,
    metrics: Arc<Metrics>,
    /// `Chart`'s defaults (`--chart-size`, `--chunk-size`) and its recent charts.
    chart_size: ChartSize,
    chunk_size: usize,
    charts: Arc<chart::Charts>,
    /// Pushes and subscriptions, and what the catalog was loaded from (named when pushes cannot
    /// be taken).
    live: Arc<Live>,
    source: Source,
}

impl V2Service {
    pub fn new(
        catalog: Arc<SharedCatalog>,
        convention: Convention,
        pool: BlockingPool,
        metrics: Arc<Metrics>,
        live: Arc<Live>,
        source: Source,
    ) -> Self {
        let charts = chart::Charts::new(crate::config::CHART_CACHE_CHARTS, crate::config::CHART_CACHE_BYTES);
        let (chart_size, chunk_size) = (ChartSize::default(), crate::config::DEFAULT_CHUNK_SIZE);
        let charts = Arc::new(charts);
        V2Service { catalog, convention, pool, metrics, chart_size, chunk_size, charts, live, source }
    }

    /// `Chart`'s size and chunk size when a request leaves them 0: the server's `--chart-size`
    /// and `--chunk-size`.
    pub fn with_chart(self, chart_size: ChartSize, chunk_size: usize) -> Self {
        V2Service { chart_size, chunk_size, ..self }
    }

    pub fn into_grpc(self) -> grpcio::Service {
        crate::protocol::indicators_grpc::create_indicators(self)
    }
}

/// The gRPC status of a refused request.
pub(crate) fn refusal(error: QueryError) -> RpcStatus {
    let code = match error.kind {
        Kind::InvalidArgument => RpcStatusCode::INVALID_ARGUMENT,
        Kind::NotFound => RpcStatusCode::NOT_FOUND,
        Kind::FailedPrecondition => RpcStatusCode::FAILED_PRECONDITION,
        Kind::OutOfRange => RpcStatusCode::OUT_OF_RANGE,
        Kind::ResourceExhausted => RpcStatusCode::RESOURCE_EXHAUSTED,
    };
    RpcStatus::with_message(code, error.message)
}

/// `Instrument` as ListInstruments describes it.
fn describe(instrument: &crate::domain::catalog::Instrument) -> pb::Instrument {
    let date = |d: Option<crate::domain::date::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    pb::Instrument {
        symbol: instrument.symbol.clone(),
        name: instrument.name.clone(),
        first_date: date(instrument.first_date()),
        last_date: date(instrument.last_date()),
        bars: instrument.bars.len() as u32,
        has_adj_factor: instrument.has_adj_factor(),
        ..Default::default()
    }
}

impl Indicators for V2Service {
    fn list_instruments(
        &mut self,
        ctx: RpcContext,
        _request: pb::ListInstrumentsRequest,
        sink: UnarySink<pb::ListInstrumentsReply>,
    ) {
        let record = self.metrics.call("ListInstruments", || ctx.peer());
        let catalog = self.catalog.current();
        let reply = pb::ListInstrumentsReply {
            instruments: catalog.iter().map(|i| describe(i)).collect(),
            ..Default::default()
        };
        ctx.spawn(async move {
            let code = match sink.success(reply).await {
                Ok(()) => RpcStatusCode::OK,
                Err(_) => RpcStatusCode::CANCELLED,
            };
            record.finish(code);
        });
    }

    fn compute(&mut self, ctx: RpcContext, request: pb::ComputeRequest, sink: ServerStreamingSink<pb::Series>) {
        compute::compute(self, ctx, request, sink);
    }

    fn chart(&mut self, ctx: RpcContext, request: pb::ChartRequest, sink: ServerStreamingSink<pb::ChartChunk>) {
        chart::chart(self, ctx, request, sink);
    }

    fn push_bars(&mut self, ctx: RpcContext, request: pb::PushBarsRequest, sink: UnarySink<pb::PushBarsReply>) {
        push::push_bars(self, ctx, request, sink);
    }

    fn subscribe(&mut self, ctx: RpcContext, request: pb::SubscribeRequest, sink: ServerStreamingSink<pb::Update>) {
        subscribe::subscribe(self, ctx, request, sink);
    }
}
