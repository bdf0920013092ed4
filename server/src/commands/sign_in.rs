//! `SignIn`: an account's handshake, with its password or a device session's token.
//!
//! A password is checked by argon2id on a blocking thread, after its address's and its
//! account's turns ([`crate::login_backoff`]): the attempt is charged as a failure first and
//! given back if the password is right, so that many connections guessing one account at
//! once get one check at a time. A token costs one SHA-256 and a query, and is never slowed.
//! The connection waits for the check ([`Context::waiting`]), then goes on as a `Hello`
//! does ([`handshake::admit`]), under the account's name as registered, with `SignedIn` before
//! `Welcome`.

use std::sync::Arc;

use chat_proto::{ClientFrame, Credential, SessionToken};
use tokio::task::{JoinError, JoinHandle};

use super::{account, handshake, CommandError, Context, Flow, Session, Waiting};
use crate::accounts::service::Welcome;
use crate::accounts::{Accounts, AccountsError};
use crate::clock::now_millis;
use crate::login_backoff::Charged;

/// A handshake's check against the accounts, which the connection waits for.
#[derive(Debug)]
pub struct Pending {
    /// The name as typed.
    pub name: Arc<str>,
    /// The password attempt charged to its address and account, to give back if right.
    pub charged: Option<Charged>,
    /// The check: `None` for a guest's name that is no account's, or the account signed in.
    pub check: JoinHandle<Result<Option<Welcome>, AccountsError>>,
    /// Go online under the name (`false`: only manage the account).
    pub online: bool,
}

/// Checks the opening, then starts the check of the credential.
pub fn handle(
    ctx: &mut Context<'_>,
    version: u32,
    username: String,
    server_password: Option<String>,
    credential: Credential,
    online: bool,
) -> Result<Flow, CommandError> {
    let again = || ClientFrame::SignIn {
        version,
        username: username.clone(),
        server_password: server_password.clone(),
        credential: credential.clone(),
        online,
    };
    if let Some(later) = handshake::opening(ctx, version, server_password.as_deref(), again)? {
        return Ok(later);
    }
    let accounts = Arc::clone(ctx.accounts.ok_or(CommandError::AccountsOff)?);
    let name = handshake::valid_name(username)?;
    let at = now_millis();
    let (charged, check) = match credential {
        Credential::Password { password, device } => {
            let again = || ClientFrame::SignIn {
                version,
                username: name.to_string(),
                server_password: server_password.clone(),
                credential: Credential::Password {
                    password: password.clone(),
                    device: device.clone(),
                },
                online,
            };
            let charged = match account::charge(ctx, &name, again)? {
                Ok(charged) => charged,
                Err(later) => return Ok(later),
            };
            let name = name.clone();
            let check = tokio::spawn(async move {
                accounts
                    .sign_in(&name, &password, &device, at)
                    .await
                    .map(Some)
            });
            (Some(charged), check)
        }
        Credential::Token(token) => (None, resumed(accounts, name.clone(), token, at)),
        Credential::Cookie => {
            let Some(token) = ctx.cookie.cloned() else {
                return Err(AccountsError::SessionEnded(
                    "no session cookie came with this connection",
                )
                .into());
            };
            (None, resumed(accounts, name.clone(), token, at))
        }
    };
    ctx.waiting = Some(Waiting::SignIn(Box::new(Pending {
        name,
        charged,
        check,
        online,
    })));
    Ok(Flow::Continue)
}

/// Signs in to the account `name` with `token` at `at`, in its own task.
fn resumed(
    accounts: Arc<Accounts>,
    name: Arc<str>,
    token: SessionToken,
    at: chat_proto::Millis,
) -> JoinHandle<Result<Option<Welcome>, AccountsError>> {
    tokio::spawn(async move { accounts.resume(&name, &token, at).await.map(Some) })
}

/// Finishes a handshake once its check against the accounts has ended: lets the guest or
/// the account in, or refuses. A wrong password is logged with the account and the
/// address, never with the guess.
pub async fn checked(ctx: &mut Context<'_>, pending: Pending) -> Result<Flow, CommandError> {
    let Pending {
        name,
        charged,
        check,
        online,
    } = pending;
    let checked = check.await.map_err(|err: JoinError| {
        tracing::error!(peer = %ctx.peer, "The account check of {name:?} failed: {err}");
        CommandError::StoreFailed
    })?;
    if let Some(charged) = charged {
        let wrong = matches!(checked, Err(AccountsError::WrongPassword));
        ctx.login_backoff.settle(charged, wrong, ctx.peer, &name);
    }
    match checked {
        Ok(welcome) => match welcome {
            None => handshake::admit(ctx, name, None),
            Some(welcome) if !online => {
                // A banned or suspended account manages nothing either.
                handshake::sanctioned(ctx, &welcome.name, Some(&welcome))?;
                manage(ctx, &welcome)
            }
            Some(welcome) => {
                let registered: Arc<str> = welcome.name.as_str().into();
                handshake::admit(ctx, registered, Some(Box::new(welcome)))
            }
        },
        Err(err) => {
            if let AccountsError::Store(_) | AccountsError::Hash(_) | AccountsError::Random(_) =
                &err
            {
                tracing::error!(peer = %ctx.peer, account = %name, "Cannot sign in: {err}");
            }
            Err(err.into())
        }
    }
}

/// Signs the connection in to manage the account of `welcome` only: `SignedIn` and no
/// `Welcome`, no name taken.
fn manage(ctx: &mut Context<'_>, welcome: &Welcome) -> Result<Flow, CommandError> {
    let me = welcome.signed_in;
    if let Some(accounts) = ctx.accounts {
        if !accounts.track(&welcome.name, me, ctx.outbox.clone()) {
            return Err(AccountsError::SessionEnded("this device's session ended").into());
        }
    }
    ctx.reply(&welcome.frame());
    tracing::info!(peer = %ctx.peer, session = me.session, "{} signed in to manage the account", welcome.name);
    *ctx.session = Session::Managing {
        name: welcome.name.as_str().into(),
        account: me,
    };
    Ok(Flow::Continue)
}
