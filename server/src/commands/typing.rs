//! `Typing`: tells the room's other members that the sender is typing. Never stored and
//! never answered (a refusal is); at most one per person and room every
//! [`TYPING_EVERY_SECS`] seconds is passed on, the rest are dropped, so a client may send
//! one per keystroke.

use std::sync::Arc;
use std::time::Duration;

use chat_proto::{ServerFrame, TYPING_EVERY_SECS};
use tokio::time::Instant;

use super::msg::{may_say, Said};
use super::{CommandError, Context, Flow};

/// When this connection last passed on that it was typing, per room: only rooms typed in
/// within [`TYPING_EVERY_SECS`] are kept, so it holds nothing for a client that does not
/// type.
#[derive(Debug, Default)]
pub struct Typed(Vec<(Arc<str>, Instant)>);

impl Typed {
    /// Whether typing in the room with key `key` is passed on at `now`, and if so notes it.
    fn due(&mut self, key: &Arc<str>, now: Instant) -> bool {
        let every = Duration::from_secs(TYPING_EVERY_SECS);
        self.0.retain(|(_, at)| now.duration_since(*at) < every);
        if self.0.iter().any(|(room, _)| room == key) {
            return false;
        }
        self.0.push((Arc::clone(key), now));
        true
    }
}

/// Passes on to the room's other members here that the sender is typing, when due.
pub fn handle(ctx: &mut Context<'_>, room: String) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    let room = ctx.joined(&room)?;
    may_say(ctx, &from, &room, Said::Change)?;
    if ctx.typed.due(&room.key, Instant::now()) {
        let frame = ServerFrame::Typing {
            room: room.name.to_string(),
            user: from.to_string(),
        };
        ctx.hub.tell_room_except(&room.key, &frame, Some(&from));
    }
    Ok(Flow::Continue)
}
