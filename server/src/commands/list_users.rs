//! `ListUsers`: who is online, sorted case-insensitively, names as their owners typed them.
//!
//! In a cluster, everyone online on any node, as this node's hub knows them from the
//! others' presence ([`crate::cluster::presence`]): answered at once, from memory, on
//! every node alike.

use chat_proto::ServerFrame;

use super::{CommandError, Context, Flow};

/// Replies with `UserList` to the sender only.
pub fn handle(ctx: &mut Context<'_>) -> Result<Flow, CommandError> {
    ctx.name()?;
    ctx.reply(&ServerFrame::UserList {
        users: ctx.hub.users(),
    });
    Ok(Flow::Continue)
}
