//! `PushBars`: checked, journaled and applied by the live store ([`crate::live::Store`]) on the
//! blocking pool (the journal's write must not hold a completion-queue thread), and answered
//! only once the bars are on disk: the call waits for the journal's shared fsync
//! ([`crate::live::Ack`]) holding no thread. The token it needs (`--push-token-file`) is checked before
//! this handler runs ([`crate::auth`]).

use std::sync::Arc;

use grpcio::{RpcContext, RpcStatus, RpcStatusCode, UnarySink};

use super::{refusal, V2Service};
use crate::live::LiveError;
use crate::protocol::indicators as pb;

pub(super) fn push_bars(
    service: &V2Service,
    ctx: RpcContext,
    request: pb::PushBarsRequest,
    sink: UnarySink<pb::PushBarsReply>,
) {
    let record = service.metrics.call("PushBars", || ctx.peer());
    let (live, source) = (Arc::clone(&service.live), service.source.clone());
    let job = service.pool.run(move || live.push(&request, &source));
    ctx.spawn(async move {
        let outcome = match job {
            Err(busy) => Err(RpcStatus::with_message(RpcStatusCode::RESOURCE_EXHAUSTED, busy.to_string())),
            Ok(job) => match job.await {
                // Applied; answered once the journal's fsync has it (on no thread meanwhile).
                Ok(Ok(ack)) => ack.durable().await.map_err(status),
                Ok(Err(e)) => Err(status(e)),
                Err(_) => Err(RpcStatus::with_message(
                    RpcStatusCode::INTERNAL,
                    "the push failed inside the server (it logged why); it may or may not have been applied: \
                     push it again (a revision of the same bar is harmless)"
                        .to_string(),
                )),
            },
        };
        let code = match outcome {
            Ok(reply) => match sink.success(reply).await {
                Ok(()) => RpcStatusCode::OK,
                Err(_) => RpcStatusCode::CANCELLED,
            },
            Err(status) => {
                let code = status.code();
                let _ = sink.fail(status).await;
                code
            }
        };
        record.finish(code);
    });
}

/// The status of a push that was not made.
fn status(error: LiveError) -> RpcStatus {
    let code = match &error {
        LiveError::Refused(refused) => return refusal(refused.clone()),
        LiveError::Disabled => RpcStatusCode::PERMISSION_DENIED,
        LiveError::NoDirectory(_) | LiveError::NotCsv { .. } => RpcStatusCode::FAILED_PRECONDITION,
        e if e.is_disk_full() => RpcStatusCode::RESOURCE_EXHAUSTED,
        LiveError::Disk { .. } | LiveError::Journal { .. } | LiveError::Fold { .. } => RpcStatusCode::UNAVAILABLE,
        LiveError::Unreachable(_) => RpcStatusCode::UNAVAILABLE,
        LiveError::Database(_) => RpcStatusCode::FAILED_PRECONDITION,
    };
    if matches!(error, LiveError::Disk { .. }) {
        log::warn!("PushBars: {error}");
    }
    RpcStatus::with_message(code, error.to_string())
}
