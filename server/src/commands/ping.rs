//! `Ping`: the client checks that the server is alive.

use chat_proto::ServerFrame;

use super::{CommandError, Context, Flow};

/// Replies `Pong` to a registered client.
pub fn handle(ctx: &mut Context<'_>) -> Result<Flow, CommandError> {
    ctx.past_handshake()?;
    ctx.reply(&ServerFrame::Pong);
    Ok(Flow::Continue)
}
