//! `Part`: leave one room and stay online.
//!
//! Everything the room said before the part reaches the client first; `Parted` comes after
//! the last of it, and nothing from the room follows. The others hear `UserLeft` with the
//! reason `Parted`; the room ends with its last member.

use super::{CommandError, Context, Flow};

/// Leaves the room, which the sender must be in.
pub fn handle(ctx: &mut Context<'_>, room: String) -> Result<Flow, CommandError> {
    let name = ctx.name()?;
    let room = ctx.joined(&room)?;
    ctx.hub.part(&name, &room, crate::clock::now_millis())?;
    tracing::debug!(peer = %ctx.peer, "{name} parted #{}", room.name);
    ctx.rooms_mut()?.retain(|r| r.key != room.key);
    Ok(Flow::Continue)
}
