//! `ListSessions`: the signed-in account's device sessions, this one marked current.

use chat_proto::ServerFrame;

use super::account::{self, Answer};
use super::{CommandError, Context, Flow};

/// Reads the sessions in their own task.
pub fn handle(ctx: &mut Context<'_>) -> Result<Flow, CommandError> {
    let (name, me, accounts) = ctx.signed_in()?;
    let accounts = accounts.clone();
    account::start(ctx, None, async move {
        let sessions = accounts.sessions(&name, me).await?;
        Ok(Answer::Frame(ServerFrame::Sessions { sessions }))
    })
}
