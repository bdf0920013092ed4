//! `Msg`: a message for one room, to every member, the sender included (its copy is its
//! confirmation).

use chat_proto::validate;

use super::{CommandError, Context, Flow};
use crate::moderation::rules::Who;
use crate::room::JoinedRoom;

/// What a sender does in a room, as the room's rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// A message (a reply too): slow mode counts it.
    Message,
    /// An edit or a reaction: the room's bans and mutes hold, slow mode does not.
    Change,
}

/// Refuses `what` from `from` in `room` when the room's rules do: banned from it, muted
/// there, or (for a message) in slow mode too soon.
pub fn may_say(
    ctx: &Context<'_>,
    from: &str,
    room: &JoinedRoom,
    what: Said,
) -> Result<(), CommandError> {
    let Some(moderation) = ctx.moderation.filter(|m| !m.is_idle()) else {
        return Ok(());
    };
    let who = Who {
        name: from,
        account: ctx.signed_in().ok().map(|(_, me, _)| me.account),
        ip: ctx.peer.ip(),
    };
    let now = crate::clock::now_millis();
    match what {
        Said::Message => moderation.check_speak(&room.key, &room.name, &who, now)?,
        Said::Change => moderation.check_change(&room.key, &room.name, &who, now)?,
    }
    Ok(())
}

/// Checks that the sender is in the room and the text is valid, then holds it for the room
/// with the sender's registered name and the server's clock; its `seq` is given when it is
/// sent (see [`Context::say`]).
pub fn handle(ctx: &mut Context<'_>, room: String, text: String) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    let room = ctx.joined(&room)?;
    validate::message(&text)?;
    may_say(ctx, &from, &room, Said::Message)?;
    tracing::debug!(peer = %ctx.peer, "#{} {from}: {text}", room.name);
    ctx.hub.metrics().messages_in(1);
    ctx.say(
        &room,
        &from,
        crate::log::Said {
            text,
            at: crate::clock::now_millis(),
        },
    );
    Ok(Flow::Continue)
}
