//! `Reply`: a message to a room answering one of its messages. It is a message like any
//! (the room's rules and the sender's membership hold as for `Msg`), kept in the room's log
//! with the `seq` it answers, which must be a message the log holds.

use chat_proto::validate;

use super::msg::{may_say, Said};
use super::{change, CommandError, Context, Flow};
use crate::log::ChangeKind;

/// Checks that the sender is in the room, may speak there and the text is valid, then asks
/// the room log for the reply.
pub fn handle(
    ctx: &mut Context<'_>,
    room: String,
    to: u64,
    text: String,
) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    let room = ctx.joined(&room)?;
    validate::message(&text)?;
    may_say(ctx, &from, &room, Said::Message)?;
    ctx.hub.metrics().messages_in(1);
    change::request(ctx, room, from, ChangeKind::Reply { to, text })
}
