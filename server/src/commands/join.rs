//! `Join`: enter a room, creating it when nobody is in it, with the backlog asked for.
//!
//! The hub answers `Joined` with the member list, so the client can show the room at once,
//! and tells the others `UserJoined`. A join is refused when the client is in
//! `rooms_per_user` rooms already, or when it would make the server hold more than
//! `max_rooms`. Joining a room one is in repeats the answer: a client that lost track can
//! always ask again.
//!
//! A join that asks for a backlog goes through the room log when the server keeps history
//! ([`crate::room_log`]), which sends the backlog right after `Joined` and before any later
//! message, so the two meet exactly; without history the backlog is empty.

use chat_proto::Backlog;

use super::{find_room, room_name, CommandError, Context, Flow, Waiting};
use crate::hub::JoinedRoom;

/// Validates the room name and joins it, or leaves the join to the room log.
pub fn handle(ctx: &mut Context<'_>, room: String, backlog: Backlog) -> Result<Flow, CommandError> {
    let name = ctx.name()?;
    let room = room_name(&room)?;
    let at = crate::now_millis();
    let wants_backlog = !matches!(backlog, Backlog::None);
    let joined = match ctx.log {
        // In a cluster every join goes through the log: it starts the room's delivery.
        Some(log) if wants_backlog || log.joins_itself() => {
            let answer = log.join(name, room.to_owned(), at, backlog);
            ctx.waiting = Some(Waiting::Join(answer));
            return Ok(Flow::Continue);
        }
        _ if !wants_backlog => ctx.hub.join(&name, room, at)?,
        _ => ctx
            .hub
            .join_with_backlog(&name, room, at, crate::room_log::empty_backlog(room))?,
    };
    record(ctx, joined)
}

/// Records a join the hub confirmed in the session.
pub fn record(ctx: &mut Context<'_>, joined: JoinedRoom) -> Result<Flow, CommandError> {
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
