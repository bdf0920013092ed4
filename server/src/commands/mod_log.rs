//! `ModLog`: the newest moderation actions of a room (for its owner, moderators and
//! operators) or server-wide (for operators).

use chat_proto::validate::room_key;
use chat_proto::ServerFrame;

use super::{room_name, CommandError, Context, Flow};
use crate::moderation::ModError;

/// The most entries one answer holds: the audit log a record keeps.
pub const MOD_LOG_MAX: usize = crate::moderation::rules::AUDIT_KEPT;

/// Answers with the newest `limit` entries of `room`'s log (`None`: server-wide).
pub fn handle(
    ctx: &mut Context<'_>,
    room: Option<String>,
    limit: u32,
) -> Result<Flow, CommandError> {
    let (actor, moderation) = ctx.actor()?;
    let limit = (limit as usize).min(MOD_LOG_MAX);
    let entries = match room {
        Some(room) => {
            let key = room_key(room_name(&room)?);
            if !moderation.may_moderate(&key, &actor.who(), actor.operator) {
                return Err(ModError::NotPermitted(
                    "only the room's owner, its moderators and server operators read its log"
                        .into(),
                )
                .into());
            }
            moderation.audit(Some(&key), limit)
        }
        None if actor.operator => moderation.audit(None, limit),
        None => {
            return Err(ModError::NotPermitted(
                "only server operators read the server-wide log".into(),
            )
            .into())
        }
    };
    ctx.reply(&ServerFrame::ModLog { entries });
    Ok(Flow::Continue)
}
