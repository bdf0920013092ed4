//! `ListUsers`: who is online, sorted case-insensitively, names as their owners typed them.
//!
//! In a cluster, everyone online on any node: the names bucket is read in its own task
//! ([`Context::waiting`]) and [`listed`] replies once it is.

use std::sync::Arc;

use chat_proto::ServerFrame;
use tokio::task::JoinError as TaskError;

use super::{CommandError, Context, Flow, Waiting};
use crate::cluster::LookupError;

/// Replies with `UserList` to the sender only.
pub fn handle(ctx: &mut Context<'_>) -> Result<Flow, CommandError> {
    ctx.name()?;
    if let Some(cluster) = ctx.cluster {
        let cluster = Arc::clone(cluster);
        ctx.waiting = Some(Waiting::Users(tokio::spawn(async move {
            cluster.names.everyone().await
        })));
        return Ok(Flow::Continue);
    }
    ctx.reply(&ServerFrame::UserList {
        users: ctx.hub.users(),
    });
    Ok(Flow::Continue)
}

/// Replies with everyone online in the cluster, or refuses when NATS did not answer.
pub fn listed(
    ctx: &mut Context<'_>,
    read: Result<Result<Vec<String>, LookupError>, TaskError>,
) -> Result<Flow, CommandError> {
    match read {
        Ok(Ok(users)) => {
            ctx.reply(&ServerFrame::UserList { users });
            Ok(Flow::Continue)
        }
        Ok(Err(err)) => {
            tracing::error!(peer = %ctx.peer, "Cannot list the cluster's users: {err}");
            Err(CommandError::ClusterUnavailable)
        }
        Err(err) => {
            tracing::error!(peer = %ctx.peer, "The list of the cluster's users failed: {err}");
            Err(CommandError::ClusterUnavailable)
        }
    }
}
