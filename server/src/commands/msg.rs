//! `Msg`: a message for the whole room, the sender included (its copy is its confirmation).

use chat_proto::{validate, ServerFrame};

use super::{CommandError, Context, Flow};

/// Validates the text and broadcasts it with the sender's registered name and the server's
/// clock.
pub fn handle(ctx: &mut Context<'_>, text: String) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    validate::message(&text)?;
    tracing::debug!(peer = %ctx.peer, "{from}: {text}");
    ctx.broadcast(&ServerFrame::Msg {
        from: from.to_string(),
        text,
        at: crate::now_millis(),
    })
    .map_err(CommandError::TooLarge)?;
    Ok(Flow::Continue)
}
