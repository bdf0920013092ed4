//! `Pong`: the client's answer to the server's liveness `Ping`.

use super::{CommandError, Context, Flow};

/// Nothing to do: any frame read already shows the client is alive, and the reader loop
/// notes that. Kept as its own command so the match in `dispatch` stays exhaustive.
pub fn handle(ctx: &mut Context<'_>) -> Result<Flow, CommandError> {
    ctx.past_handshake()?;
    Ok(Flow::Continue)
}
