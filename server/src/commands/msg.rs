//! `Msg`: a message for one room, to every member, the sender included (its copy is its
//! confirmation).

use chat_proto::validate;

use super::{CommandError, Context, Flow};
use crate::log::Said;
use crate::moderation::rules::Who;

/// Checks that the sender is in the room and the text is valid, then holds it for the room
/// with the sender's registered name and the server's clock; its `seq` is given when it is
/// sent (see [`Context::say`]).
pub fn handle(ctx: &mut Context<'_>, room: String, text: String) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    let room = ctx.joined(&room)?;
    validate::message(&text)?;
    if let Some(moderation) = ctx.moderation.filter(|m| !m.is_idle()) {
        let who = Who {
            name: &from,
            account: ctx.signed_in().ok().map(|(_, me, _)| me.account),
            ip: ctx.peer.ip(),
        };
        let now = crate::clock::now_millis();
        moderation.check_speak(&room.key, &room.name, &who, now)?;
    }
    tracing::debug!(peer = %ctx.peer, "#{} {from}: {text}", room.name);
    ctx.hub.metrics().messages_in(1);
    ctx.say(
        &room,
        &from,
        Said {
            text,
            at: crate::clock::now_millis(),
        },
    );
    Ok(Flow::Continue)
}
