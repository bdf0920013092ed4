//! `Hello`: the handshake. Registers the client under a free, valid name.
//!
//! A wrong protocol version ends the connection (nothing else it sends can be trusted to
//! mean what we think), and so does a wrong or missing password (a client that does not know
//! it has no business here, and a closed connection makes guessing slow); a bad or taken name
//! does not, so the client can ask again.
//!
//! The password check waits its address's turn ([`crate::login_backoff`]): after three
//! failures from one address, the `Hello` is held (the connection reads nothing more) until
//! the turn comes, then handled again; a turn that would come after the handshake deadline
//! is refused at once, saying when to try again.
//!
//! In a cluster the name must first be claimed across every node ([`crate::peers::Names`]):
//! the handler leaves the claim in [`Context::waiting`], the connection waits for it (nobody
//! else does), and [`claimed`] registers the name once it is this node's.

use std::sync::Arc;

use chat_proto::{validate, ClientFrame, PROTOCOL_VERSION};
use tokio::time::Instant;

use tokio::task::JoinError as TaskError;

use super::{CommandError, Context, Deferred, Flow, Session, Waiting};
use crate::hub::JoinError;
use crate::login_backoff::{Attempt, FREE_FAILURES};
use crate::peers::ClaimError;
use crate::registry::ClientHandle;

/// Checks the version, the password and the name, then registers the client: `Welcome`,
/// and no room yet (the client joins the rooms it wants).
pub fn handle(
    ctx: &mut Context<'_>,
    version: u32,
    username: String,
    password: Option<String>,
) -> Result<Flow, CommandError> {
    if let Session::Registered { name, .. } = &ctx.session {
        return Err(CommandError::AlreadyRegistered(name.clone()));
    }
    if version != PROTOCOL_VERSION {
        return Err(CommandError::VersionMismatch {
            client: version,
            server: PROTOCOL_VERSION,
        });
    }
    if let Some(expected) = ctx.password {
        let now = Instant::now();
        let given = password.as_deref();
        let checked = ctx.login_backoff.attempt(ctx.peer.ip(), now, || {
            given.is_some_and(|given| expected.matches(given))
        });
        match checked {
            Attempt::Accepted => {}
            Attempt::Refused { failures, wait } => {
                if failures == FREE_FAILURES {
                    tracing::warn!(
                        peer = %ctx.peer,
                        "Slowing password attempts from this address after {failures} failures"
                    );
                }
                if !wait.is_zero() {
                    tracing::debug!(
                        peer = %ctx.peer,
                        failures,
                        "Next password check from this address in {wait:?}"
                    );
                }
                return Err(CommandError::AuthFailed);
            }
            Attempt::NotYet { at } => {
                if ctx
                    .handshake_deadline
                    .is_some_and(|deadline| at >= deadline)
                {
                    return Err(CommandError::LoginsSlowed { retry_in: at - now });
                }
                tracing::debug!(peer = %ctx.peer, "Password check held for {:?}", at - now);
                let frame = ClientFrame::Hello {
                    version,
                    username,
                    password,
                };
                return Ok(Flow::Later(Box::new(Deferred { at, frame })));
            }
        }
    }
    validate::username(&username).map_err(|source| CommandError::InvalidName {
        name: username.clone(),
        source,
    })?;
    let name: Arc<str> = username.into();
    if let Some(peers) = ctx.peers {
        let claim = tokio::spawn(peers.names.claim(name.clone()));
        ctx.waiting = Some(Waiting::Claim { name, claim });
        return Ok(Flow::Continue);
    }
    register(ctx, name)
}

/// Finishes a `Hello` whose name's claim across the cluster has ended: registers the name,
/// or refuses it (taken elsewhere, or NATS did not answer). A claimed name the hub then
/// refuses (the server began shutting down meanwhile) is given back.
pub async fn claimed(
    ctx: &mut Context<'_>,
    name: Arc<str>,
    claim: Result<Result<(), ClaimError>, TaskError>,
) -> Result<Flow, CommandError> {
    match claim {
        Ok(Ok(())) => {}
        Ok(Err(ClaimError::Taken)) => return Err(CommandError::NameTaken(name)),
        Ok(Err(err @ ClaimError::Unavailable(_))) => {
            tracing::error!(peer = %ctx.peer, "Cannot claim the name {name:?}: {err}");
            return Err(CommandError::ClusterUnavailable);
        }
        Err(err) => {
            tracing::error!(peer = %ctx.peer, "The claim of the name {name:?} failed: {err}");
            return Err(CommandError::ClusterUnavailable);
        }
    }
    let registered = register(ctx, name.clone());
    if registered.is_err() {
        if let Some(peers) = ctx.peers {
            peers.names.release(name).await;
        }
    }
    registered
}

/// Registers `name` (valid, and claimed in the cluster if there is one) in the hub:
/// `Welcome`, and no room yet.
fn register(ctx: &mut Context<'_>, name: Arc<str>) -> Result<Flow, CommandError> {
    let handle = ClientHandle::new(name.clone(), ctx.outbox.clone());
    let online = ctx
        .hub
        .register(handle, ctx.peer)
        .map_err(|err| match err {
            JoinError::NameTaken(taken) => CommandError::NameTaken(taken.taken),
            JoinError::ShuttingDown => CommandError::ShuttingDown,
        })?;
    tracing::info!(peer = %ctx.peer, online, "{name} joined");
    *ctx.session = Session::Registered {
        name,
        rooms: Vec::new(),
    };
    Ok(Flow::Continue)
}
