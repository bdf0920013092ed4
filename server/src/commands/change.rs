//! What the requests that change a room's log share (`RemoveMessage`, `Reply`, `Edit`,
//! `React`): the change is asked of the room log, which makes it in the room's order and
//! delivers it to the members (the sender among them, as its answer); the connection reads
//! nothing more until it is made or refused.

use std::sync::Arc;

use tokio::sync::oneshot::error::RecvError;

use chat_proto::ServerFrame;

use super::{moderation_task, CommandError, Context, Flow, Session, Waiting};
use crate::log::wire::live_frame;
use crate::log::{Change, ChangeKind, ChangeRefusal, Changing, Stored};
use crate::room::JoinedRoom;

/// A change the connection waits for.
#[derive(Debug)]
pub struct Pending {
    /// What was asked.
    pub change: Change,
    /// The room log's answer.
    pub answer: Changing,
}

/// Asks the room log to make `kind` in `room` for `by`, now.
pub fn request(
    ctx: &mut Context<'_>,
    room: JoinedRoom,
    by: Arc<str>,
    kind: ChangeKind,
) -> Result<Flow, CommandError> {
    let change = Change {
        room,
        by,
        at: crate::clock::now_millis(),
        kind,
    };
    let answer = ctx.log.change(change.clone());
    ctx.waiting = Some(Waiting::Change(Box::new(Pending { change, answer })));
    Ok(Flow::Continue)
}

/// Finishes a change: the members got it; a sender not in the room (a moderator's
/// removal) gets it as the answer; a removal goes to the room's audit log.
pub fn answered(
    ctx: &mut Context<'_>,
    change: Change,
    answer: Result<Result<Stored, ChangeRefusal>, RecvError>,
) -> Result<Flow, CommandError> {
    let made = match answer {
        Ok(Ok(made)) => made,
        Ok(Err(refusal)) => return Err(CommandError::Change(refusal)),
        Err(_) => return Err(CommandError::StoreFailed),
    };
    let member = match &*ctx.session {
        Session::Registered { rooms, .. } => super::find_room(rooms, &change.room.key).is_ok(),
        _ => false,
    };
    let answer = if member {
        None
    } else {
        live_frame(&change.room.name, made)
    };
    match change.kind {
        ChangeKind::Remove { target, .. } => {
            audit_removal(ctx, &change.room, &change.by, target, answer)
        }
        _ => {
            if let Some(answer) = answer {
                ctx.reply(&answer);
            }
            Ok(Flow::Continue)
        }
    }
}

/// Logs a removal of message `target` of `room` by `by` and keeps it in the room's audit
/// log, then answers with `answer` (for a remover not in the room), if any.
fn audit_removal(
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
