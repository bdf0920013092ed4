//! `Register`: makes an account for a free name and signs in with it, in place of `Hello`.
//!
//! The password must pass the rules ([`crate::accounts::policy`]); the name must follow the
//! naming rules, be no account's, and (checked as the client is let in) be no one else's
//! online. Registration closed (`[accounts] registration = closed`) refuses it: only the
//! operator makes accounts there.

use std::sync::Arc;

use chat_proto::{ClientFrame, Secret};

use super::{handshake, sign_in, CommandError, Context, Flow, Waiting};
use crate::clock::now_millis;

/// Checks the opening, then makes the account on a blocking thread and signs in.
pub fn handle(
    ctx: &mut Context<'_>,
    version: u32,
    username: String,
    server_password: Option<String>,
    password: Secret,
    device: String,
) -> Result<Flow, CommandError> {
    let again = || ClientFrame::Register {
        version,
        username: username.clone(),
        server_password: server_password.clone(),
        password: password.clone(),
        device: device.clone(),
    };
    if let Some(later) = handshake::opening(ctx, version, server_password.as_deref(), again)? {
        return Ok(later);
    }
    let accounts = Arc::clone(ctx.accounts.ok_or(CommandError::AccountsOff)?);
    let name = handshake::valid_name(username)?;
    if ctx.hub.is_online(&name) {
        return Err(CommandError::NameTaken(name));
    }
    // A banned address or name makes no account, nor a name an account ban holds.
    handshake::about_to_register(ctx, &name)?;
    let at = now_millis();
    let check = {
        let name = name.clone();
        tokio::spawn(async move {
            accounts
                .register(&name, &password, &device, at)
                .await
                .map(Some)
        })
    };
    ctx.waiting = Some(Waiting::SignIn(Box::new(sign_in::Pending {
        name,
        charged: None,
        check,
        online: true,
    })));
    Ok(Flow::Continue)
}
