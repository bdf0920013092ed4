//! `ListUsers`: who is online, sorted case-insensitively, names as their owners typed them.

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
