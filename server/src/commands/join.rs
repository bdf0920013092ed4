//! `Join`: enter a room, creating it when nobody is in it, with the backlog asked for.
//!
//! The hub answers `Joined` with the member list, so the client can show the room at once,
//! and tells the others `UserJoined`. A join is refused when the client is in
//! `rooms_per_user` rooms already, or when it would make the server hold more than
//! `max_rooms`. Joining a room one is in repeats the answer: a client that lost track can
//! always ask again.
//!
//! Every join goes through the room log ([`crate::log::RoomLog::join`]), which sends the
//! backlog asked for right after `Joined` and before any later message, so the two meet
//! exactly; without history the backlog is empty.

use chat_proto::Backlog;

use super::{find_room, room_name, CommandError, Context, Flow, Waiting};
use crate::log::{Join, Joining};
use crate::room::JoinedRoom;

/// Validates the room name and joins it through the room log, which answers at once or
/// in the room's order.
pub fn handle(ctx: &mut Context<'_>, room: String, backlog: Backlog) -> Result<Flow, CommandError> {
    let name = ctx.name()?;
    let room = room_name(&room)?;
    kept_out(ctx, &chat_proto::validate::room_key(room), room)?;
    let join = Join {
        name,
        room: room.to_owned(),
        at: crate::clock::now_millis(),
        backlog,
    };
    match ctx.log.join(join) {
        Joining::Done(joined) => record(ctx, joined?),
        Joining::Waiting(answer) => {
            ctx.waiting = Some(Waiting::Join(answer));
            Ok(Flow::Continue)
        }
    }
}

/// Refuses a join, or a read of history, that a ban or registered-only keeps the sender
/// out of (never a room's owner, moderators or an operator).
pub fn kept_out(ctx: &Context<'_>, key: &str, room: &str) -> Result<(), CommandError> {
    if let Some(moderation) = ctx.moderation.filter(|m| !m.is_idle()) {
        let (actor, _) = ctx.actor()?;
        moderation.check_join(key, &ctx.shown(room), &actor.who())?;
    }
    Ok(())
}

/// Records a join the hub confirmed in the session; a ban that came into force while the
/// join waited for its turn in the room's order puts the sender out again at once.
pub fn record(ctx: &mut Context<'_>, joined: JoinedRoom) -> Result<Flow, CommandError> {
    if let Err(err) = kept_out(ctx, &joined.key, &joined.name) {
        let name = ctx.name()?;
        let _ = ctx.hub.part(&name, &joined, crate::clock::now_millis());
        // A repeated join of a room it was in: it is in it no more.
        ctx.rooms_mut()?.retain(|room| room.key != joined.key);
        return Err(err);
    }
    tracing::debug!(peer = %ctx.peer, "{} joined #{}", ctx.name()?, joined.name);
    let rooms = ctx.rooms_mut()?;
    if let Err(at) = find_room(rooms, &joined.key) {
        // One slot at a time: most people are in one or two rooms, and a doubling Vec
        // would hold four.
        rooms.reserve_exact(1);
        rooms.insert(at, joined);
    }
    Ok(Flow::Continue)
}
