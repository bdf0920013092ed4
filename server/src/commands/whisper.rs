//! `Whisper`: a private message to one user, with a copy to its sender.

use chat_proto::validate;

use super::{CommandError, Context, Flow};
use crate::hub::WhisperError;

/// Validates the text and delivers it to `to` (any case) and back to the sender.
pub fn handle(ctx: &mut Context<'_>, to: String, text: String) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    validate::message(&text)?;
    tracing::debug!(peer = %ctx.peer, "{from} -> {to}: {text}");
    ctx.hub
        .whisper(&from, &to, text, crate::now_millis())
        .map_err(|err| match err {
            WhisperError::NoSuchUser(name) => CommandError::NoSuchUser(name),
            WhisperError::Encode(err) => CommandError::TooLarge(err),
        })?;
    Ok(Flow::Continue)
}
