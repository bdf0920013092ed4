//! What the requests that change a room's log share (`RemoveMessage`, `Reply`, `Edit`,
//! `React`): the change is asked of the room log, which makes it in the room's order and
//! delivers it to the members (the sender among them, as its answer); the connection reads
//! nothing more until it is made or refused.

use std::sync::Arc;

use tokio::sync::oneshot::error::RecvError;

use super::{CommandError, Context, Flow, Session, Waiting};
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
            super::remove_message::audit(ctx, &change.room, &change.by, target, answer)
        }
        _ => {
            if let Some(answer) = answer {
                ctx.reply(&answer);
            }
            Ok(Flow::Continue)
        }
    }
}
