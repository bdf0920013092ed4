//! `Claim`: a signed-in person becomes the owner of a room nobody owns. The room keeps its
//! owner, moderators, settings and bans from then on, empty or not.

use chat_proto::validate::room_key;
use chat_proto::ServerFrame;

use super::{moderation_task, room_name, CommandError, Context, Flow};
use crate::moderation::ModError;

/// Claims the room `room` (as typed; one need not be in it) for the sender.
pub fn handle(ctx: &mut Context<'_>, room: String) -> Result<Flow, CommandError> {
    let (actor, moderation) = ctx.actor()?;
    let shown = ctx.shown(room_name(&room)?);
    let key = room_key(&shown);
    let moderation = moderation.clone();
    let accounts = ctx.accounts.cloned();
    moderation_task(ctx, async move {
        // An owner whose account was deleted owns nothing: the room may be claimed again.
        let owner = moderation.room(&key).and_then(|rules| rules.owner.clone());
        let gone = match (owner, accounts) {
            (Some(owner), Some(accounts)) => {
                let now = accounts.find(&owner.name).await.map_err(ModError::from)?;
                (now.map(|account| account.id) != Some(owner.id)).then_some(owner.id)
            }
            _ => None,
        };
        let info = moderation.claim(&key, &shown, actor, gone).await?;
        Ok(Some(ServerFrame::RoomInfo { info }))
    })
}
