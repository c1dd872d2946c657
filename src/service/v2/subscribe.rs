//! `Subscribe`: the request checked as `Compute`'s is ([`idc_core::query::subscribe`]), a
//! subscription opened on the hub ([`crate::live::Hub`]), and its queue forwarded to the stream
//! as flow control lets it, until the client goes away or the hub ends it: too slow
//! (`RESOURCE_EXHAUSTED`) or the drain (`UNAVAILABLE`). Dropping the subscription, however the
//! call ends, takes its member off every shared indicator state.

use futures::future::{self, Either};
use futures::{SinkExt, StreamExt};
use grpcio::{RpcContext, RpcStatus, RpcStatusCode, ServerStreamingSink, WriteFlags};

use super::{refusal, V2Service};
use crate::live::{Encoded, Ended, SubscribeError};
use crate::protocol::indicators as pb;
use crate::service::call_ended;

/// The status of a subscriber that fell behind.
pub const TOO_SLOW: &str = "subscriber too slow; subscribe again for a fresh snapshot";
/// The status of the subscriptions a draining server ends.
pub const SHUTTING_DOWN: &str = "server shutting down; subscribe to another replica";

pub(super) fn subscribe(
    service: &V2Service,
    ctx: RpcContext,
    request: pb::SubscribeRequest,
    mut sink: ServerStreamingSink<Encoded>,
) {
    let record = service.metrics.call("Subscribe", || ctx.peer());
    let catalog = service.catalog.current();
    let opened = idc_core::query::subscribe(&request, &catalog, service.convention)
        .map_err(refusal)
        .and_then(|query| service.live.hub().subscribe(&query, &service.catalog).map_err(refused));
    ctx.spawn(async move {
        let mut subscription = match opened {
            Ok(subscription) => subscription,
            Err(status) => {
                let code = status.code();
                let _ = sink.fail(status).await;
                return record.finish(code);
            }
        };
        let code = loop {
            // The next update, unless the call ends first: with nothing to send, only the sink's
            // close notification tells that the client went away.
            let next = {
                let ended = call_ended(&mut sink);
                let next = subscription.updates.next();
                futures::pin_mut!(ended, next);
                match future::select(next, ended).await {
                    Either::Left((next, _)) => next,
                    Either::Right(_) => break RpcStatusCode::CANCELLED,
                }
            };
            match next {
                Some(update) => {
                    if sink.send((update, WriteFlags::default())).await.is_err() {
                        break RpcStatusCode::CANCELLED;
                    }
                }
                None => {
                    let status = ended_status(subscription.ended().unwrap_or(Ended::ShuttingDown));
                    let code = status.code();
                    let _ = sink.fail(status).await;
                    break code;
                }
            }
        };
        drop(subscription);
        record.finish(code);
    });
}

fn refused(error: SubscribeError) -> RpcStatus {
    let code = match error {
        SubscribeError::TooMany(_) => RpcStatusCode::RESOURCE_EXHAUSTED,
        SubscribeError::ShuttingDown => RpcStatusCode::UNAVAILABLE,
    };
    RpcStatus::with_message(code, error.to_string())
}

fn ended_status(why: Ended) -> RpcStatus {
    match why {
        Ended::TooSlow => RpcStatus::with_message(RpcStatusCode::RESOURCE_EXHAUSTED, TOO_SLOW.to_string()),
        Ended::ShuttingDown => RpcStatus::with_message(RpcStatusCode::UNAVAILABLE, SHUTTING_DOWN.to_string()),
    }
}
