//! `Operate`: a server operator's server-wide action: ban an account, a name, an address
//! or a network (refused at the handshake from then on, closed now on every node), or
//! suspend an account (its sessions end at once, and it cannot sign in until unsuspended).

use chat_proto::moderation::ServerAction;
use chat_proto::ServerFrame;

use super::{moderation_task, CommandError, Context, Flow};
use crate::moderation::ModError;

/// Carries out `action` for the sender, an operator.
pub fn handle(ctx: &mut Context<'_>, action: ServerAction) -> Result<Flow, CommandError> {
    let (actor, moderation) = ctx.actor()?;
    let moderation = moderation.clone();
    let accounts = ctx.accounts.cloned();
    moderation_task(ctx, async move {
        let suspended = match &action {
            ServerAction::Suspend { account, .. } => Some(account.clone()),
            _ => None,
        };
        let closed = moderation.operate(actor, action).await?;
        if let (Some(account), Some(accounts)) = (suspended, accounts) {
            // Its sessions end too: a suspended account signs in from scratch once let back.
            accounts.end_all(&account).await.map_err(ModError::from)?;
        }
        Ok(Some(ServerFrame::Enforced {
            closed: u32::try_from(closed).unwrap_or(u32::MAX),
        }))
    })
}
