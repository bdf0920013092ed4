//! `Edit`: changes the text of one's own message, within `[messages] edit_window`. The edit
//! is an entry of the room's log; history gives the message with its new text.

use chat_proto::validate;

use super::msg::{may_say, Said};
use super::{change, CommandError, Context, Flow};
use crate::log::ChangeKind;

/// Checks that the sender is in the room, not banned or muted there, and the new text is
/// valid, then asks the room log for the edit.
pub fn handle(
    ctx: &mut Context<'_>,
    room: String,
    seq: u64,
    text: String,
) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    let room = ctx.joined(&room)?;
    validate::message(&text)?;
    may_say(ctx, &from, &room, Said::Change)?;
    let window = ctx
        .settings
        .get()
        .messages
        .edit_window
        .map(|window| i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
    let kind = ChangeKind::Edit {
        target: seq,
        text,
        window,
    };
    change::request(ctx, room, from, kind)
}
