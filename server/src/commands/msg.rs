//! `Msg`: a message for one room, to every member, the sender included (its copy is its
//! confirmation).

use chat_proto::{validate, ServerFrame};

use super::{CommandError, Context, Flow};

/// Checks that the sender is in the room and the text is valid, then broadcasts it to the
/// room with the sender's registered name, the room's name as shown and the server's clock.
pub fn handle(ctx: &mut Context<'_>, room: String, text: String) -> Result<Flow, CommandError> {
    let from = ctx.name()?;
    let room = ctx.joined(&room)?;
    validate::message(&text)?;
    tracing::debug!(peer = %ctx.peer, "#{} {from}: {text}", room.name);
    ctx.broadcast(
        &room.key,
        &ServerFrame::Msg {
            room: room.name.to_string(),
            from: from.to_string(),
            text,
            at: crate::now_millis(),
        },
    )
    .map_err(CommandError::TooLarge)?;
    Ok(Flow::Continue)
}
