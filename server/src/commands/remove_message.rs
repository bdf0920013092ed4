//! `RemoveMessage`: one's own message, or anyone's for the room's owner, moderators and
//! server operators. The room log removes it in the room's order: its text leaves the
//! store, and the removal, with its own `seq`, reaches every member as `MessageRemoved`.

use std::sync::Arc;

use chat_proto::validate::room_key;

use super::{change, room_name, CommandError, Context, Flow};
use crate::log::ChangeKind;
use crate::room::JoinedRoom;

/// Asks the room log to remove message `seq` of `room` (as typed) for the sender, who need
/// not be in the room.
pub fn handle(ctx: &mut Context<'_>, room: String, seq: u64) -> Result<Flow, CommandError> {
    let by = ctx.name()?;
    let shown = ctx.shown(room_name(&room)?);
    let key: Arc<str> = room_key(&shown).into();
    let any = match ctx.moderation {
        Some(moderation) => {
            let (actor, _) = ctx.actor()?;
            moderation.may_moderate(&key, &actor.who(), actor.operator)
        }
        None => false,
    };
    let room = JoinedRoom {
        key,
        name: shown.into(),
    };
    change::request(ctx, room, by, ChangeKind::Remove { target: seq, any })
}
