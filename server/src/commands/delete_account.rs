//! `DeleteAccount`: the signed-in account goes, given its password; its name is free again,
//! every other connection of it closes, and this one goes on as a guest's.
//!
//! The password is checked like a sign-in's: after its address's and account's turns
//! ([`crate::login_backoff`]).

use chat_proto::{ClientFrame, Secret};

use super::account::{self, Answer};
use super::{CommandError, Context, Flow};

/// Starts the deletion in its own task.
pub fn handle(ctx: &mut Context<'_>, password: Secret) -> Result<Flow, CommandError> {
    let (name, me, accounts) = ctx.signed_in()?;
    let (accounts, mine) = (accounts.clone(), ctx.outbox.clone());
    let charged = match account::charge(ctx, &name, || ClientFrame::DeleteAccount {
        password: password.clone(),
    })? {
        Ok(charged) => charged,
        Err(later) => return Ok(later),
    };
    account::start(ctx, Some(charged), async move {
        accounts.delete(&name, me, &mine, &password).await?;
        Ok(Answer::Deleted)
    })
}
