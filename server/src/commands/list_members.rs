//! `ListMembers`: who is in one room. One need not be in it, as with IRC's `NAMES`: the
//! member list helps decide whether to join.

use chat_proto::ServerFrame;

use super::{room_name, CommandError, Context, Flow};

/// Replies with `Members` to the sender only, or `NoSuchRoom` when nobody is in the room.
pub fn handle(ctx: &mut Context<'_>, room: String) -> Result<Flow, CommandError> {
    ctx.name()?;
    let (room, users) = ctx.hub.members(room_name(&room)?)?;
    ctx.reply(&ServerFrame::Members { room, users });
    Ok(Flow::Continue)
}
