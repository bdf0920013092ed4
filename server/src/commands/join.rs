//! `Join`: enter a room, creating it when nobody is in it.
//!
//! The hub answers `Joined` with the member list, so the client can show the room at once,
//! and tells the others `UserJoined`. A join is refused when the client is in
//! `rooms_per_user` rooms already, or when it would make the server hold more than
//! `max_rooms`. Joining a room one is in repeats the answer: a client that lost track can
//! always ask again.

use super::{find_room, room_name, CommandError, Context, Flow};

/// Validates the room name and joins it.
pub fn handle(ctx: &mut Context<'_>, room: String) -> Result<Flow, CommandError> {
    let name = ctx.name()?;
    let room = room_name(&room)?;
    let joined = ctx.hub.join(&name, room, crate::now_millis())?;
    tracing::debug!(peer = %ctx.peer, "{name} joined #{}", joined.name);
    let rooms = ctx.rooms_mut()?;
    if let Err(at) = find_room(rooms, &joined.key) {
        // One slot at a time: most people are in one or two rooms, and a doubling Vec
        // would hold four.
        rooms.reserve_exact(1);
        rooms.insert(at, joined);
    }
    Ok(Flow::Continue)
}
