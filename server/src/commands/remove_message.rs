//! `RemoveMessage`: one's own message, or anyone's for the room's owner, moderators and
//! server operators. The room log removes it in the room's order: its text leaves the
//! store, and the removal, with its own `seq`, reaches every member as `MessageRemoved`.

use std::sync::Arc;

use chat_proto::validate::room_key;
use chat_proto::ServerFrame;

use super::{change, moderation_task, room_name, CommandError, Context, Flow};
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

/// Logs a removal of message `target` of `room` by `by` and keeps it in the room's audit
/// log, then answers with `answer` (for a remover not in the room), if any.
pub fn audit(
    ctx: &mut Context<'_>,
    room: &JoinedRoom,
    by: &str,
    target: u64,
    answer: Option<ServerFrame>,
) -> Result<Flow, CommandError> {
    let Some(moderation) = ctx.moderation.cloned() else {
        tracing::info!(
            actor = %by,
            room = %room.name,
            target,
            "{by} removed message {target} of #{}",
            room.name
        );
        if let Some(answer) = answer {
            ctx.reply(&answer);
        }
        return Ok(Flow::Continue);
    };
    let (key, name, by) = (room.key.clone(), room.name.clone(), by.to_owned());
    // The audit log has it before the remover's next request is read.
    moderation_task(ctx, async move {
        moderation.removed(&key, &name, &by, target).await;
        Ok(answer)
    })
}
