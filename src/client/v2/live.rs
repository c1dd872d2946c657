//! The live-bar calls of `idc.v2.Indicators`, over the same target, channel and TLS as the
//! others ([`super::super::Target`]):
//!
//! * [`Pusher`]: `PushBars`, one channel for every push of a run, so that a feed read from stdin
//!   a row at a time pays for one connection, not one per row. Pushes carry their own token
//!   (`--push-token-file`) when given, since the server may hold a push token apart from the read
//!   token.
//! * [`subscribe`]: `Subscribe`, handing each `Update` over as it arrives, until the caller has
//!   had enough, the server ends the stream, or the optional deadline passes.

use std::ops::ControlFlow;
use std::time::Duration;

use futures::executor::block_on;
use futures::TryStreamExt;
use grpcio::CallOption;

use super::super::{channel, rpc_error, with_token, ClientError, Target};
use super::V2Error;
use crate::auth::Token;
use crate::protocol::indicators as pb;
use crate::protocol::indicators_grpc::IndicatorsClient;

/// `idc.v2.Indicators/PushBars`, on one channel.
pub struct Pusher {
    client: IndicatorsClient,
    target: Target,
}

impl Pusher {
    /// A pusher to `target`; `token` (when given) replaces the target's own token on each push.
    pub fn new(target: &Target, token: Option<Token>) -> Result<Pusher, ClientError> {
        let mut target = target.clone();
        if token.is_some() {
            target.token = token;
        }
        Ok(Pusher { client: IndicatorsClient::new(channel(&target)?), target })
    }

    /// One `PushBars` call, with the target's timeout for its reply.
    pub fn push(&self, request: &pb::PushBarsRequest) -> Result<pb::PushBarsReply, ClientError> {
        let option = with_token(CallOption::default().timeout(self.target.timeout), self.target.token.as_ref());
        self.client.push_bars_opt(request, option).map_err(rpc_error("PushBars", &self.target))
    }
}

/// How a subscription ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `each` said it had enough (the call is cancelled).
    Stopped,
    /// The server ended the stream with OK.
    ByServer,
}

/// `idc.v2.Indicators/Subscribe`: calls `each` with every `Update` as it arrives. `deadline`
/// bounds the whole stream; without one it runs until `each` breaks or the server ends it. An
/// error from `each` ends the call too, cancelling it on the server.
pub fn subscribe(
    target: &Target,
    request: &pb::SubscribeRequest,
    deadline: Option<Duration>,
    mut each: impl FnMut(pb::Update) -> Result<ControlFlow<()>, V2Error>,
) -> Result<Ended, V2Error> {
    let rpc_error = rpc_error("Subscribe", target);
    // Held until the stream ends: the client owns the channel and its completion queue.
    let client = IndicatorsClient::new(channel(target)?);
    let option = deadline.map_or_else(CallOption::default, |d| CallOption::default().timeout(d));
    let mut updates = client.subscribe_opt(request, with_token(option, target.token.as_ref())).map_err(&rpc_error)?;
    block_on(async {
        while let Some(update) = updates.try_next().await.map_err(&rpc_error)? {
            let flow = each(update);
            if !matches!(flow, Ok(ControlFlow::Continue(()))) {
                // grpcio cancels a server stream only when asked; tell the server now, so that it
                // frees the subscription at once rather than when the process exits.
                updates.cancel();
                return flow.map(|_| Ended::Stopped);
            }
        }
        Ok(Ended::ByServer)
    })
}
