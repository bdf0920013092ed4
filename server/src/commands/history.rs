//! `History`: one page of a room's log, backwards or forwards from a `seq`.
//!
//! One need not be in the room (rooms are open to anyone who joins). The page is read on
//! the side of the room log's writer ([`crate::log::RoomLog::page`]); the
//! connection waits for it before reading the client's next frame, so answers keep the
//! order of the requests and a client has one read in flight at most.

use chat_proto::validate::room_key;
use chat_proto::Cursor;

use super::{room_name, CommandError, Context, Flow, Waiting};

/// The room `typed` names, by key and as shown, when the sender may read its log from
/// outside (as `History` and `Search` do): whom a ban keeps out of a room, or a guest out
/// of an accounts-only one, does not read it from outside either.
pub fn readable(ctx: &Context<'_>, typed: &str) -> Result<(String, String), CommandError> {
    let room = room_name(typed)?;
    let key = room_key(room);
    super::join::kept_out(ctx, &key, room)?;
    // Named as shown while the room exists, else as asked.
    let shown = ctx
        .hub
        .room_name(&key)
        .map_or_else(|| room.to_owned(), |name| name.to_string());
    Ok((key, shown))
}

/// Validates the room and starts reading the page; `HistoryOff` without a room log.
pub fn handle(
    ctx: &mut Context<'_>,
    room: String,
    from: Cursor,
    limit: u32,
) -> Result<Flow, CommandError> {
    ctx.name()?;
    let (key, shown) = readable(ctx, &room)?;
    let read = ctx
        .log
        .page(key, shown, from, limit)
        .ok_or(CommandError::HistoryOff)?;
    ctx.waiting = Some(Waiting::Page(read));
    Ok(Flow::Continue)
}
