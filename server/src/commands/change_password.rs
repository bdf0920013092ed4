//! `ChangePassword`: a new password for the signed-in account, given the current one (so a
//! device left signed in cannot take the account). Every other session of the account ends
//! and its connections close; this one stays signed in.
//!
//! The current password is checked like a sign-in's: after its address's and account's
//! turns ([`crate::login_backoff`]).

use chat_proto::{ClientFrame, Secret, ServerFrame};

use super::account::{self, Answer};
use super::{CommandError, Context, Flow};

/// Starts the change in its own task.
pub fn handle(ctx: &mut Context<'_>, old: Secret, new: Secret) -> Result<Flow, CommandError> {
    let (name, me, accounts) = ctx.signed_in()?;
    let accounts = accounts.clone();
    let charged = match account::charge(ctx, &name, || ClientFrame::ChangePassword {
        old: old.clone(),
        new: new.clone(),
    })? {
        Ok(charged) => charged,
        Err(later) => return Ok(later),
    };
    account::start(ctx, Some(charged), async move {
        let ended = accounts.change_password(&name, me, &old, &new).await?;
        Ok(Answer::Frame(ServerFrame::PasswordChanged {
            ended: u32::try_from(ended).unwrap_or(u32::MAX),
        }))
    })
}
