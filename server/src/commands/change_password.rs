//! `ChangePassword`: a new password for the signed-in account, given the current one (so a
//! device left signed in cannot take the account). Every other session of the account ends
//! and its connections close; this one stays signed in.
//!
//! The current password is checked like a sign-in's: after its address's and account's
//! turns ([`crate::login_backoff`]).

use chat_proto::validate::name_key;
use chat_proto::{ClientFrame, Secret, ServerFrame};
use tokio::time::Instant;

use super::account::{self, Answer};
use super::{hello, CommandError, Context, Flow};

/// Starts the change in its own task.
pub fn handle(ctx: &mut Context<'_>, old: Secret, new: Secret) -> Result<Flow, CommandError> {
    let (name, me, accounts) = ctx.signed_in()?;
    let accounts = accounts.clone();
    let charged =
        match ctx
            .login_backoff
            .charge(ctx.peer.ip(), Some(&name_key(&name)), Instant::now())
        {
            Ok(charged) => charged,
            Err(turn) => {
                return hello::later(ctx, turn, ClientFrame::ChangePassword { old, new }, true)
            }
        };
    account::start(ctx, Some(charged), async move {
        let ended = accounts.change_password(&name, me, &old, &new).await?;
        Ok(Answer::Frame(ServerFrame::PasswordChanged {
            ended: u32::try_from(ended).unwrap_or(u32::MAX),
        }))
    })
}
