//! What the account requests of a signed-in client share: the request runs in its own task
//! (a query, perhaps a password hash), the connection waits for it, and [`answered`] replies.

use std::future::Future;

use chat_proto::{ClientFrame, ServerFrame};
use tokio::task::{JoinError, JoinHandle};

use super::{CommandError, Context, Flow, Session, Waiting};
use crate::accounts::AccountsError;
use crate::login_backoff::Charged;
use crate::registry::LeaveReason;

/// What an account request came to.
#[derive(Debug)]
pub enum Answer {
    /// Reply with this frame.
    Frame(ServerFrame),
    /// `Revoke`: reply `Revoked{count}`; `own`: this connection's session was among them,
    /// so it closes.
    Revoked {
        /// Sessions ended.
        count: usize,
        /// This connection's own was one.
        own: bool,
    },
    /// `DeleteAccount`: the account is gone; the connection goes on as a guest's.
    Deleted,
}

/// An account request the connection waits for.
#[derive(Debug)]
pub struct Pending {
    /// The request, in its own task.
    pub answer: JoinHandle<Result<Answer, AccountsError>>,
    /// A password check charged to the address and the account, to give back if right.
    pub charged: Option<Charged>,
}

/// Charges a check of the account `name`'s password to the sender's address and to the
/// account ([`crate::login_backoff`]); when it is not their turn, `Err` with the flow that
/// puts `again` (the frame, once more) off until it is.
pub fn charge(
    ctx: &Context<'_>,
    name: &str,
    again: impl FnOnce() -> ClientFrame,
) -> Result<Result<Charged, Flow>, CommandError> {
    let key = chat_proto::validate::name_key(name);
    match ctx
        .login_backoff
        .charge(ctx.peer.ip(), Some(&key), tokio::time::Instant::now())
    {
        Ok(charged) => Ok(Ok(charged)),
        Err(turn) => super::handshake::later(ctx, turn, again(), true).map(Err),
    }
}

/// Runs `request` in its own task and has the connection wait for it.
pub fn start(
    ctx: &mut Context<'_>,
    charged: Option<Charged>,
    request: impl Future<Output = Result<Answer, AccountsError>> + Send + 'static,
) -> Result<Flow, CommandError> {
    ctx.waiting = Some(Waiting::Account(Box::new(Pending {
        answer: tokio::spawn(request),
        charged,
    })));
    Ok(Flow::Continue)
}

/// Replies to an account request once it has ended.
pub async fn answered(ctx: &mut Context<'_>, pending: Pending) -> Result<Flow, CommandError> {
    let Pending { answer, charged } = pending;
    let answer = answer.await.map_err(|err: JoinError| {
        tracing::error!(peer = %ctx.peer, "An account request failed: {err}");
        CommandError::StoreFailed
    })?;
    let (name, _, _) = ctx.signed_in()?;
    // Only a wrong password keeps its charge: a weak new password or a failure of the
    // server came after the current one was found right.
    if let Some(charged) = charged {
        let wrong = matches!(answer, Err(AccountsError::WrongPassword));
        ctx.login_backoff.settle(charged, wrong, ctx.peer, &name);
    }
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            match &err {
                AccountsError::Store(_) | AccountsError::Hash(_) | AccountsError::Random(_) => {
                    tracing::error!(peer = %ctx.peer, account = %name, "Account request failed: {err}")
                }
                _ => {}
            }
            return Err(err.into());
        }
    };
    match answer {
        Answer::Frame(frame) => ctx.reply(&frame),
        Answer::Revoked { count, own } => {
            ctx.reply(&ServerFrame::Revoked {
                count: u32::try_from(count).unwrap_or(u32::MAX),
            });
            if own {
                return Err(AccountsError::SessionEnded("signed out").into());
            }
        }
        Answer::Deleted => {
            ctx.reply(&ServerFrame::AccountDeleted);
            match &mut *ctx.session {
                Session::Registered { account, name, .. } => {
                    tracing::info!(peer = %ctx.peer, "{name} deleted the account");
                    *account = None;
                    // A guest from now on: no ban of the account matches it any more.
                    ctx.hub.signed_out(name);
                }
                Session::Managing { name, .. } => {
                    tracing::info!(peer = %ctx.peer, "{name} deleted the account");
                    // Nothing is left to manage.
                    return Ok(Flow::Close(LeaveReason::Bye));
                }
                Session::Handshake => {}
            }
        }
    }
    Ok(Flow::Continue)
}
