//! `Claim`: a signed-in person becomes the owner of a room nobody owns. The room keeps its
//! owner, moderators, settings and bans from then on, empty or not.

use chat_proto::validate::room_key;
use chat_proto::ServerFrame;

use super::{moderation_task, room_name, CommandError, Context, Flow};

/// Claims the room `room` (as typed; one need not be in it) for the sender.
pub fn handle(ctx: &mut Context<'_>, room: String) -> Result<Flow, CommandError> {
    let (actor, moderation) = ctx.actor()?;
    let shown = ctx.shown(room_name(&room)?);
    let key = room_key(&shown);
    let moderation = moderation.clone();
    moderation_task(ctx, async move {
        let info = moderation.claim(&key, &shown, actor).await?;
        Ok(Some(ServerFrame::RoomInfo { info }))
    })
}
