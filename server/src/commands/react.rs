//! `React`: gives or takes back one's reaction, one emoji, to a message of a room one is
//! in, within `[messages]`'s limits on reactions per message.

use chat_proto::validate;

use super::msg::{may_say, Said};
use super::{change, CommandError, Context, Flow};
use crate::log::{ChangeKind, ReactionLimits};

/// Checks that the sender is in the room, not banned or muted there, and `emoji` is one
/// emoji, then asks the room log for the reaction.
pub fn handle(
    ctx: &mut Context<'_>,
    room: String,
    seq: u64,
    emoji: String,
    on: bool,
) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    let room = ctx.joined(&room)?;
    if !validate::emoji(&emoji) {
        return Err(CommandError::InvalidEmoji(emoji));
    }
    may_say(ctx, &from, &room, Said::Change)?;
    let rules = &ctx.settings.get().messages;
    let limits = ReactionLimits {
        emoji: rules.emoji_per_message,
        reactions: rules.reactions_per_message,
    };
    let kind = ChangeKind::React {
        target: seq,
        emoji,
        on,
        limits,
    };
    change::request(ctx, room, from, kind)
}
