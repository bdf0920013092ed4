//! `RemoveMessage`: one's own message, or anyone's for the room's owner, moderators and
//! server operators. The room log removes it in the room's order: its text leaves the
//! store, and the removal, with its own `seq`, reaches every member as `MessageRemoved`.

use std::sync::Arc;

use chat_proto::validate::room_key;
use tokio::sync::oneshot::error::RecvError;

use super::{find_room, moderation_task, room_name, CommandError, Context, Flow, Session, Waiting};
use crate::log::{removed_frame, Removal, RemoveRefusal};
use crate::room::JoinedRoom;

/// A removal the connection waits for.
#[derive(Debug)]
pub struct Pending {
    /// What was asked.
    pub removal: Removal,
    /// The room log's answer.
    pub answer: crate::log::Removing,
}

/// Asks the room log to remove message `seq` of `room` (as typed) for the sender.
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
    let removal = Removal {
        room: JoinedRoom {
            key,
            name: shown.into(),
        },
        target: seq,
        by,
        any,
        at: crate::clock::now_millis(),
    };
    let answer = ctx.log.remove(removal.clone());
    ctx.waiting = Some(Waiting::Remove(Box::new(Pending { removal, answer })));
    Ok(Flow::Continue)
}

/// Finishes a removal: the members got `MessageRemoved`; a remover not in the room gets it
/// as the answer, and the action goes to the room's audit log.
pub fn answered(
    ctx: &mut Context<'_>,
    removal: Removal,
    answer: Result<Result<u64, RemoveRefusal>, RecvError>,
) -> Result<Flow, CommandError> {
    let seq = match answer {
        Ok(Ok(seq)) => seq,
        Ok(Err(refusal)) => return Err(CommandError::Removal(refusal)),
        Err(_) => return Err(CommandError::StoreFailed),
    };
    let member = match &*ctx.session {
        Session::Registered { rooms, .. } => find_room(rooms, &removal.room.key).is_ok(),
        _ => false,
    };
    let answer = (!member).then(|| removed_frame(&removal, seq));
    let Some(moderation) = ctx.moderation.cloned() else {
        tracing::info!(
            actor = %removal.by,
            room = %removal.room.name,
            target = removal.target,
            "{} removed message {} of #{}",
            removal.by,
            removal.target,
            removal.room.name
        );
        if let Some(answer) = answer {
            ctx.reply(&answer);
        }
        return Ok(Flow::Continue);
    };
    // The audit log has it before the remover's next request is read.
    moderation_task(ctx, async move {
        moderation
            .removed(
                &removal.room.key,
                &removal.room.name,
                &removal.by,
                removal.target,
            )
            .await;
        Ok(answer)
    })
}
