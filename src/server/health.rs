//! `grpc.health.v1.Health`: whether the server takes calls, for load balancers and probes.
//!
//! `Check`, `List` and `Watch` answer for the whole server (`""`) and for each of our services.
//! All are SERVING until shutdown starts, and NOT_SERVING from then on; `Watch` streams send the
//! change at once, and end when the server stops taking calls, so that they never hold up a drain.
//! Health calls need no token (see [`crate::auth`]), and are logged at debug rather than info:
//! a probe every few seconds would otherwise drown the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::channel::mpsc;
use futures::future::{self, Either};
use futures::{SinkExt, StreamExt};
use grpcio::{RpcContext, RpcStatus, RpcStatusCode, ServerStreamingSink, UnarySink, WriteFlags};

use crate::metrics::Metrics;
use crate::protocol::health::health_check_response::ServingStatus;
use crate::protocol::health::{HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse};
use crate::protocol::health_grpc::Health;
use crate::service::call_ended;

/// The services health answers for: the server as a whole, and each of ours.
pub const SERVICES: &[&str] = &["", "idc.Indicator", "idc.IndicatorGraph"];

/// The serving state, shared by the health service and the server that drains.
#[derive(Clone)]
pub struct HealthState {
    inner: Arc<Inner>,
}

struct Inner {
    serving: AtomicBool,
    /// One sender per open `Watch`; `None` once the server stops taking calls.
    watchers: Mutex<Option<Vec<mpsc::UnboundedSender<ServingStatus>>>>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            inner: Arc::new(Inner { serving: AtomicBool::new(true), watchers: Mutex::new(Some(Vec::new())) }),
        }
    }
}

impl HealthState {
    fn status(&self) -> ServingStatus {
        if self.inner.serving.load(Ordering::SeqCst) {
            ServingStatus::SERVING
        } else {
            ServingStatus::NOT_SERVING
        }
    }

    /// Shutdown has started: every check says NOT_SERVING from now on, and every watch hears it.
    pub fn set_not_serving(&self) {
        if self.inner.serving.swap(false, Ordering::SeqCst) {
            let mut watchers = self.inner.watchers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(watchers) = watchers.as_mut() {
                // A watcher whose call has ended is dropped here.
                watchers.retain(|watcher| watcher.unbounded_send(ServingStatus::NOT_SERVING).is_ok());
            }
        }
    }

    /// The server takes no more calls: end every watch, and refuse new ones.
    pub fn end_watches(&self) {
        self.inner.watchers.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// A channel of the status changes from now on; `None` once watches have ended.
    fn watch(&self) -> Option<mpsc::UnboundedReceiver<ServingStatus>> {
        let (tx, rx) = mpsc::unbounded();
        let mut watchers = self.inner.watchers.lock().unwrap_or_else(|p| p.into_inner());
        watchers.as_mut()?.push(tx);
        Some(rx)
    }
}

/// The `grpc.health.v1.Health` service.
#[derive(Clone)]
pub struct HealthService {
    state: HealthState,
    metrics: Arc<Metrics>,
}

impl HealthService {
    pub fn new(state: HealthState, metrics: Arc<Metrics>) -> HealthService {
        HealthService { state, metrics }
    }

    fn response(status: ServingStatus) -> HealthCheckResponse {
        let mut response = HealthCheckResponse::new();
        response.status = status.into();
        response
    }
}

fn known(service: &str) -> bool {
    SERVICES.contains(&service)
}

impl Health for HealthService {
    fn check(&mut self, ctx: RpcContext, request: HealthCheckRequest, sink: UnarySink<HealthCheckResponse>) {
        let record = self.metrics.quiet_call("Check", || ctx.peer());
        let status = self.state.status();
        ctx.spawn(async move {
            let code = if known(&request.service) {
                let _ = sink.success(Self::response(status)).await;
                RpcStatusCode::OK
            } else {
                let message = format!("unknown service {:?}; this server has {SERVICES:?}", request.service);
                let _ = sink.fail(RpcStatus::with_message(RpcStatusCode::NOT_FOUND, message)).await;
                RpcStatusCode::NOT_FOUND
            };
            record.finish(code);
        });
    }

    fn list(&mut self, ctx: RpcContext, _request: HealthListRequest, sink: UnarySink<HealthListResponse>) {
        let record = self.metrics.quiet_call("List", || ctx.peer());
        let status = self.state.status();
        let mut response = HealthListResponse::new();
        response.statuses =
            SERVICES.iter().map(|name| (name.to_string(), Self::response(status))).collect::<HashMap<_, _>>();
        ctx.spawn(async move {
            let _ = sink.success(response).await;
            record.finish(RpcStatusCode::OK);
        });
    }

    fn watch(
        &mut self,
        ctx: RpcContext,
        request: HealthCheckRequest,
        mut sink: ServerStreamingSink<HealthCheckResponse>,
    ) {
        let record = self.metrics.quiet_call("Watch", || ctx.peer());
        let state = self.state.clone();
        ctx.spawn(async move {
            let Some(mut changes) = state.watch() else {
                let status = RpcStatus::with_message(RpcStatusCode::UNAVAILABLE, "the server is shutting down".into());
                let _ = sink.fail(status).await;
                return record.finish(RpcStatusCode::UNAVAILABLE);
            };
            // The spec: an unknown service is SERVICE_UNKNOWN, and the watch stays open.
            let first = if known(&request.service) { state.status() } else { ServingStatus::SERVICE_UNKNOWN };
            if sink.send((Self::response(first), WriteFlags::default())).await.is_err() {
                return record.finish(RpcStatusCode::CANCELLED);
            }
            loop {
                let next = {
                    let change = changes.next();
                    let ended = call_ended(&mut sink);
                    futures::pin_mut!(ended);
                    match future::select(change, ended).await {
                        Either::Left((change, _)) => change,
                        // The client went away.
                        Either::Right(((), _)) => return record.finish(RpcStatusCode::CANCELLED),
                    }
                };
                match next {
                    Some(status) if known(&request.service) => {
                        if sink.send((Self::response(status), WriteFlags::default())).await.is_err() {
                            return record.finish(RpcStatusCode::CANCELLED);
                        }
                    }
                    Some(_) => {}
                    // The server takes no more calls: end the watch cleanly.
                    None => {
                        let _ = sink.close().await;
                        return record.finish(RpcStatusCode::OK);
                    }
                }
            }
        });
    }
}
