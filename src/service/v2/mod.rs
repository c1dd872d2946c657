//! `idc.v2.Indicators`: many instruments, many indicators, in both conventions, over one catalog.
//!
//! * [`compute`]: `Compute`, one `Series` message per instrument.
//! * [`chart`]: `Chart`, one instrument's chart with overlays and panels, a PNG in chunks.
//! * `ListInstruments` is answered here: it is one read of the catalog.
//! * [`push`]: `PushBars`, made durable and applied by the live store.
//! * [`subscribe`]: `Subscribe`, the latest values and then one update per new or revised bar.
//!
//! The service is registered by hand ([`V2Service::into_grpc`]) rather than with the generated
//! `create_indicators`, because `Subscribe`'s updates are written as the hub encoded them, once
//! for all their subscribers ([`crate::service::wire::SUBSCRIBE`]).
//!
//! Every request is checked by [`idc_core::query`] before any work, so a refusal costs nothing and
//! reads the same whether it comes from the service or a fuzz target. CPU work (indicators over a
//! whole history) runs on the blocking pool, not on a completion-queue thread; only a `Compute`
//! of built-ins small enough that the hand-over would cost more runs where it arrived
//! ([`compute`]).

mod chart;
mod compute;
mod push;
pub mod subscribe;

use std::sync::Arc;

use grpcio::{RpcContext, RpcStatus, RpcStatusCode, ServiceBuilder, UnarySink};
use idc_core::query::{Kind, QueryError};

use crate::blocking::BlockingPool;
use crate::catalog::{SharedCatalog, Source};
use crate::domain::chart::ChartSize;
use crate::domain::indicators::Convention;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::protocol::indicators as pb;
use crate::protocol::indicators_grpc as glue;
use crate::service::wire;

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
    /// `--no-write-batching` unset: a chart's chunks may leave in fewer writes (as GetMACDGraph's).
    write_batching: bool,
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
        let write_batching = true;
        V2Service { catalog, convention, pool, metrics, chart_size, chunk_size, write_batching, charts, live, source }
    }

    /// `Chart`'s size and chunk size when a request leaves them 0: the server's `--chart-size`
    /// and `--chunk-size`; and whether its chunks may be batched into fewer writes (the
    /// server's `--no-write-batching` unset).
    pub fn with_chart(self, chart_size: ChartSize, chunk_size: usize, write_batching: bool) -> Self {
        V2Service { chart_size, chunk_size, write_batching, ..self }
    }

    pub fn into_grpc(self) -> grpcio::Service {
        let (list, compute, chart, push) = (self.clone(), self.clone(), self.clone(), self.clone());
        let subscribe = self;
        ServiceBuilder::new()
            .add_unary_handler(&glue::METHOD_INDICATORS_LIST_INSTRUMENTS, move |ctx, _, sink| {
                list_instruments(&list, ctx, sink)
            })
            .add_server_streaming_handler(&glue::METHOD_INDICATORS_COMPUTE, move |ctx, request, sink| {
                compute::compute(&compute, ctx, request, sink)
            })
            .add_server_streaming_handler(&glue::METHOD_INDICATORS_CHART, move |ctx, request, sink| {
                chart::chart(&chart, ctx, request, sink)
            })
            .add_unary_handler(&glue::METHOD_INDICATORS_PUSH_BARS, move |ctx, request, sink| {
                push::push_bars(&push, ctx, request, sink)
            })
            .add_server_streaming_handler(&wire::SUBSCRIBE, move |ctx, request, sink| {
                subscribe::subscribe(&subscribe, ctx, request, sink)
            })
            .build()
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

/// `ListInstruments`: one read of the catalog.
fn list_instruments(service: &V2Service, ctx: RpcContext, sink: UnarySink<pb::ListInstrumentsReply>) {
    let record = service.metrics.call("ListInstruments", || ctx.peer());
    let catalog = service.catalog.current();
    let reply =
        pb::ListInstrumentsReply { instruments: catalog.iter().map(|i| describe(i)).collect(), ..Default::default() };
    ctx.spawn(async move {
        let code = match sink.success(reply).await {
            Ok(()) => RpcStatusCode::OK,
            Err(_) => RpcStatusCode::CANCELLED,
        };
        record.finish(code);
    });
}
