//! `Revoke`: ends sessions of the signed-in account (this one, one by id, every other, or
//! all) and closes their connections at once; when this connection's own session is among
//! them, it gets `Revoked` then `SessionEnded` and closes.

use chat_proto::Revocation;

use super::account::{self, Answer};
use super::{CommandError, Context, Flow};

/// Ends the sessions in their own task.
pub fn handle(ctx: &mut Context<'_>, which: Revocation) -> Result<Flow, CommandError> {
    let (name, me, accounts) = ctx.signed_in()?;
    let (accounts, mine) = (accounts.clone(), ctx.outbox.clone());
    account::start(ctx, None, async move {
        let (count, own) = accounts.revoke(&name, me, &mine, which).await?;
        Ok(Answer::Revoked { count, own })
    })
}
