//! `Whisper`: a private message to one user, with a copy to its sender.
//!
//! In a cluster a target nobody holds here may be on another node: the handler leaves the
//! look-up of who holds the name in [`Context::waiting`], and [`looked_up`] sends the whisper
//! to that node (the sender's copy comes from here once it is sent), or refuses it when
//! nobody holds the name anywhere.

use std::sync::Arc;

use chat_proto::codec::encode;
use chat_proto::{validate, Millis, ServerFrame};
use tokio::task::{JoinError as TaskError, JoinHandle};

use super::{CommandError, Context, Flow, Waiting};
use crate::hub::WhisperError;
use crate::peers::{Holder, Unreachable, Whisper};

/// A whisper waiting to learn which node holds its target.
#[derive(Debug)]
pub struct Pending {
    /// The sender, as registered.
    from: Arc<str>,
    /// The target as the sender typed it.
    to: String,
    /// What was said, already valid.
    text: String,
    /// When it was sent.
    at: Millis,
    /// The look-up, in its own task.
    pub lookup: JoinHandle<Result<Option<Holder>, Unreachable>>,
}

/// Validates the text and delivers it to `to` (any case) and back to the sender.
pub fn handle(ctx: &mut Context<'_>, to: String, text: String) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    validate::message(&text)?;
    tracing::debug!(peer = %ctx.peer, "{from} -> {to}: {text}");
    ctx.hub.metrics().messages_in(1);
    let at = crate::clock::now_millis();
    let Some(peers) = ctx.peers else {
        ctx.hub.whisper(&from, &to, text, at).map_err(refusal)?;
        return Ok(Flow::Continue);
    };
    match ctx.hub.whisper(&from, &to, text.clone(), at) {
        Err(WhisperError::NoSuchUser(_)) => {}
        done => return done.map(|()| Flow::Continue).map_err(refusal),
    }
    let lookup = tokio::spawn(peers.names.holder(to.clone()));
    ctx.waiting = Some(Waiting::Whisper(Box::new(Pending {
        from,
        to,
        text,
        at,
        lookup,
    })));
    Ok(Flow::Continue)
}

/// Finishes a whisper whose target was looked up in the cluster: sends it to the node that
/// holds the name and gives the sender its copy, or refuses it (nobody holds the name, or
/// NATS did not answer).
pub async fn looked_up(
    ctx: &mut Context<'_>,
    pending: Pending,
    lookup: Result<Result<Option<Holder>, Unreachable>, TaskError>,
) -> Result<Flow, CommandError> {
    let Pending {
        from, to, text, at, ..
    } = pending;
    let holder = match lookup {
        Ok(Ok(Some(holder))) => holder,
        Ok(Ok(None)) => return Err(CommandError::NoSuchUser(to)),
        Ok(Err(err)) => {
            tracing::error!(peer = %ctx.peer, "Cannot find who holds {to:?}: {err}");
            return Err(CommandError::ClusterUnavailable);
        }
        Err(err) => {
            tracing::error!(peer = %ctx.peer, "The look-up of {to:?} failed: {err}");
            return Err(CommandError::ClusterUnavailable);
        }
    };
    let Some(peers) = ctx.peers else {
        return Err(CommandError::ClusterUnavailable);
    };
    if holder.node == peers.whispers.node() {
        // Registered here since the first try, or a name this node still holds for
        // someone leaving: the hub knows which.
        ctx.hub.whisper(&from, &to, text, at).map_err(refusal)?;
        return Ok(Flow::Continue);
    }
    let copy = encode(&ServerFrame::Whisper {
        from: from.to_string(),
        to: holder.name.clone(),
        text: text.clone(),
        at,
    })
    .map_err(CommandError::TooLarge)?;
    let whisper = Whisper {
        from: from.to_string(),
        to: holder.name,
        text,
        at,
    };
    if let Err(err) = peers.whispers.send(holder.node.clone(), whisper).await {
        tracing::error!(peer = %ctx.peer, "Cannot whisper {to:?} on {}: {err}", holder.node);
        return Err(CommandError::ClusterUnavailable);
    }
    ctx.flush();
    ctx.outbox.offer(copy);
    Ok(Flow::Continue)
}

/// The refusal for a whisper the hub could not deliver.
fn refusal(err: WhisperError) -> CommandError {
    match err {
        WhisperError::NoSuchUser(name) => CommandError::NoSuchUser(name),
        WhisperError::Encode(err) => CommandError::TooLarge(err),
    }
}
