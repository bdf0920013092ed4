//! `Moderate`: an action in one room by its owner, a moderator or a server operator (kick,
//! ban, mute, roles, topic, settings). What it changes is told to the room's members on
//! every node; the actor gets the room as the action left it.

use chat_proto::moderation::{BanTarget, RoomAction};
use chat_proto::validate::room_key;
use chat_proto::ServerFrame;

use super::{moderation_task, room_name, CommandError, Context, Flow};
use crate::moderation::{Aimed, ModError};

/// Carries out `action` in `room` (as typed) for the sender, if allowed.
pub fn handle(
    ctx: &mut Context<'_>,
    room: String,
    action: RoomAction,
) -> Result<Flow, CommandError> {
    let (actor, moderation) = ctx.actor()?;
    let shown = ctx.shown(room_name(&room)?);
    let key = room_key(&shown);
    let aimed_at = match &action {
        RoomAction::Kick { user, .. }
        | RoomAction::Mute { user, .. }
        | RoomAction::Promote { user }
        | RoomAction::Demote { user } => Some(user.as_str()),
        RoomAction::Ban {
            target: BanTarget::Account(user) | BanTarget::Name(user),
            ..
        } => Some(user.as_str()),
        _ => None,
    };
    if let RoomAction::Kick { user, .. } = &action {
        // A kick is of someone in the room, here or on another node.
        if !ctx.hub.in_room(&key, user) {
            return Err(ModError::NoSuchUser(user.clone()).into());
        }
    }
    let mut aimed = Aimed {
        operator: aimed_at.is_some_and(|user| ctx.accounts.is_some_and(|a| a.is_operator(user))),
        account: None,
    };
    let moderation = moderation.clone();
    let accounts = ctx.accounts.cloned();
    let aimed_name = aimed_at.map(str::to_owned);
    moderation_task(ctx, async move {
        if let (Some(user), Some(accounts)) = (aimed_name, accounts) {
            // Roles are held by account ids: the account the name is now, if any (a name
            // that is an account's is no guest's, on any node).
            aimed.account = accounts
                .find(&user)
                .await
                .map_err(ModError::from)?
                .map(|account| account.id);
        }
        let info = moderation.act(&key, &shown, actor, aimed, action).await?;
        Ok(Some(ServerFrame::RoomInfo { info }))
    })
}
