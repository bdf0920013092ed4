//! `Disconnect`: a server operator removes a person from the server.
//!
//! Only an account `[accounts] operators` names may (checked at each request, so that a
//! reload that takes the role away takes it at once); the person gets `Error{Removed}` with
//! the reason and is closed, their rooms hear `UserLeft{reason: Removed}`, and the action is
//! logged at INFO with the operator, the person and the reason. In a cluster, a person on
//! another node is removed by that node ([`crate::peers::Removals`]): the handler leaves
//! the look-up and the request in [`Context::waiting`], and [`answered`] finishes.

use std::sync::Arc;

use chat_proto::validate::name_key;
use chat_proto::ServerFrame;
use tokio::task::{JoinError, JoinHandle};

use super::{moderation_task, CommandError, Context, Flow, Waiting};
use crate::peers::Unreachable;

/// The longest reason kept, in characters: a sentence, not a message.
pub const MAX_REASON_CHARS: usize = 200;

/// A removal asked of another node, which the operator's connection waits for.
#[derive(Debug)]
pub struct Pending {
    /// The operator, as registered.
    operator: Arc<str>,
    /// The person as the operator typed them.
    user: String,
    /// The reason, as kept.
    reason: String,
    /// The look-up of the person's node and the request to it: the name removed, if any.
    pub removal: JoinHandle<Result<Option<String>, Unreachable>>,
}

/// Disconnects `user` for the operator, with `reason`.
pub fn handle(ctx: &mut Context<'_>, user: &str, reason: &str) -> Result<Flow, CommandError> {
    let operator = match ctx.signed_in() {
        Ok((name, _, accounts)) if accounts.is_operator(&name) => name,
        Err(CommandError::NotRegistered) => return Err(CommandError::NotRegistered),
        _ => {
            return Err(CommandError::NotPermitted(
                "only a server operator may disconnect people",
            ))
        }
    };
    // A name nobody can have is nobody's: and it never reaches NATS.
    if chat_proto::validate::username(user).is_err() {
        return Err(CommandError::NoSuchUser(user.to_owned()));
    }
    if name_key(user) == name_key(&operator) {
        return Err(CommandError::NotPermitted(
            "an operator cannot disconnect itself",
        ));
    }
    // Control characters would forge lines in the person's terminal and in the log.
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    let detail = if reason.is_empty() {
        format!("disconnected by the operator {operator}")
    } else {
        format!("disconnected by the operator {operator}: {reason}")
    };
    if let Some(removed) = ctx.hub.remove(user, &detail) {
        return done(ctx, &operator, &removed, &reason);
    }
    let Some(peers) = ctx.peers.cloned() else {
        return Err(CommandError::NoSuchUser(user.to_owned()));
    };
    // Perhaps on another node: the node that holds the name removes them.
    let (asked, here) = (user.to_owned(), peers.whispers.node().to_owned());
    let removal = tokio::spawn(async move {
        match peers.names.holder(asked.clone()).await? {
            Some(holder) if holder.node != here => {
                peers.removals.remove(holder.node, asked, detail).await
            }
            _ => Ok(None),
        }
    });
    ctx.waiting = Some(Waiting::Disconnect(Box::new(Pending {
        operator,
        user: user.to_owned(),
        reason,
        removal,
    })));
    Ok(Flow::Continue)
}

/// Finishes a removal asked of another node: `Disconnected`, or `NoSuchUser` when nobody
/// of that name was online anywhere, or `ClusterUnavailable` when NATS did not answer.
pub fn answered(
    ctx: &mut Context<'_>,
    pending: Pending,
    removal: Result<Result<Option<String>, Unreachable>, JoinError>,
) -> Result<Flow, CommandError> {
    match removal {
        Ok(Ok(Some(removed))) => done(ctx, &pending.operator, &removed, &pending.reason),
        Ok(Ok(None)) => Err(CommandError::NoSuchUser(pending.user)),
        Ok(Err(err)) => {
            tracing::error!(peer = %ctx.peer, "Cannot disconnect {} on another node: {err}", pending.user);
            Err(CommandError::ClusterUnavailable)
        }
        Err(err) => {
            tracing::error!(peer = %ctx.peer, "The removal of {} failed: {err}", pending.user);
            Err(CommandError::ClusterUnavailable)
        }
    }
}

/// Logs the operator's action, keeps it in the audit log, and tells the operator.
fn done(
    ctx: &mut Context<'_>,
    operator: &str,
    removed: &str,
    reason: &str,
) -> Result<Flow, CommandError> {
    tracing::info!(
        peer = %ctx.peer,
        actor = %operator,
        target = %removed,
        reason = %reason,
        "Operator {operator} disconnected {removed}"
    );
    let answer = ServerFrame::Disconnected {
        user: removed.to_owned(),
    };
    let Some(moderation) = ctx.moderation.cloned() else {
        ctx.reply(&answer);
        return Ok(Flow::Continue);
    };
    let (operator, removed, reason) = (operator.to_owned(), removed.to_owned(), reason.to_owned());
    moderation_task(ctx, async move {
        moderation.disconnected(&operator, &removed, &reason).await;
        Ok(Some(answer))
    })
}
