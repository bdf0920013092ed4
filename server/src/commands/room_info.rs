//! `RoomInfo`: a room's owner, moderators and settings; its bans and mutes too, for those
//! who may moderate it. A server without accounts answers every room as unclaimed.

use chat_proto::validate::room_key;
use chat_proto::ServerFrame;

use super::{room_name, CommandError, Context, Flow};
use crate::moderation::rules::RoomRules;

/// Answers with the room `room` (as typed) as the sender may see it.
pub fn handle(ctx: &mut Context<'_>, room: String) -> Result<Flow, CommandError> {
    ctx.name()?;
    let shown = ctx.shown(room_name(&room)?);
    let info = match ctx.moderation {
        Some(moderation) => {
            let (actor, _) = ctx.actor()?;
            moderation.info(&room_key(&shown), &shown, &actor.who(), actor.operator)
        }
        None => RoomRules::default().info(&shown, false, crate::clock::now_millis()),
    };
    ctx.reply(&ServerFrame::RoomInfo { info });
    Ok(Flow::Continue)
}
