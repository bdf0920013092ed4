//! `ListRooms`: every room on the server with its member count, sorted case-insensitively.

use chat_proto::ServerFrame;

use super::{CommandError, Context, Flow};

/// Replies with `RoomList` to the sender only.
pub fn handle(ctx: &mut Context<'_>) -> Result<Flow, CommandError> {
    ctx.name()?;
    ctx.reply(&ServerFrame::RoomList {
        rooms: ctx.hub.rooms(),
    });
    Ok(Flow::Continue)
}
