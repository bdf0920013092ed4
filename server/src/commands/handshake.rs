//! What every handshake shares (`Hello`, `SignIn`, `Register`): the opening checks (not
//! registered yet, the protocol version, the server's password, waiting its address's turn),
//! the naming rules, the claim of the name across a cluster, and the registering in the hub.

use std::sync::Arc;

use chat_proto::{validate, ClientFrame, PROTOCOL_VERSION};
use tokio::task::JoinError as TaskError;
use tokio::time::Instant;

use super::{CommandError, Context, Deferred, Flow, Session, Waiting};
use crate::accounts::service::Welcome;
use crate::accounts::AccountsError;
use crate::hub::JoinError;
use crate::login_backoff::Attempt;
use crate::moderation::rules::Who;
use crate::peers::ClaimError;
use crate::registry::ClientHandle;

/// The checks every handshake starts with: not registered yet, the protocol version, and
/// the server's password. `Some` flow to return at once (the frame `again` put off until
/// its address's turn), `None` to go on.
pub fn opening(
    ctx: &mut Context<'_>,
    version: u32,
    password: Option<&str>,
    again: impl FnOnce() -> ClientFrame,
) -> Result<Option<Flow>, CommandError> {
    if let Session::Registered { name, .. } | Session::Managing { name, .. } = &ctx.session {
        return Err(CommandError::AlreadyRegistered(name.clone()));
    }
    if version != PROTOCOL_VERSION {
        return Err(CommandError::VersionMismatch {
            client: version,
            server: PROTOCOL_VERSION,
        });
    }
    let settings = ctx.settings.get();
    let Some(expected) = settings.password.as_ref() else {
        return Ok(None);
    };
    match ctx
        .login_backoff
        .check_server_password(expected, password, ctx.peer)
    {
        Attempt::Accepted => Ok(None),
        Attempt::Refused { .. } => Err(CommandError::AuthFailed),
        Attempt::NotYet { at } => later(ctx, at, again(), false).map(Some),
    }
}

/// Puts `frame` off until `at`, its turn to have a password checked; refused at once when
/// the turn comes after the handshake's deadline.
pub fn later(
    ctx: &Context<'_>,
    at: Instant,
    frame: ClientFrame,
    account: bool,
) -> Result<Flow, CommandError> {
    let now = Instant::now();
    let registered = !matches!(ctx.session, Session::Handshake);
    if !registered
        && ctx
            .handshake_deadline
            .is_some_and(|deadline| at >= deadline)
    {
        return Err(CommandError::LoginsSlowed {
            retry_in: at - now,
            account,
        });
    }
    tracing::debug!(peer = %ctx.peer, "Password check held for {:?}", at - now);
    Ok(Flow::Later(Box::new(Deferred { at, frame })))
}

/// `username`, if it follows the naming rules.
pub fn valid_name(username: String) -> Result<Arc<str>, CommandError> {
    validate::username(&username).map_err(|source| CommandError::InvalidName {
        name: username.clone(),
        source,
    })?;
    Ok(username.into())
}

/// Lets in `name`, a guest's (`welcome` `None`) or an account's: claims it across the
/// cluster first, if there is one, then registers it.
pub fn admit(
    ctx: &mut Context<'_>,
    name: Arc<str>,
    welcome: Option<Box<Welcome>>,
) -> Result<Flow, CommandError> {
    sanctioned(ctx, &name, welcome.as_deref())?;
    if let Some(peers) = ctx.peers {
        let claim = tokio::spawn(peers.names.claim(name.clone()));
        ctx.waiting = Some(Waiting::Claim {
            name,
            claim,
            welcome,
        });
        return Ok(Flow::Continue);
    }
    register(ctx, name, welcome)
}

/// Refuses `name` (an account's when `welcome` is its sign-in) when a server ban matches
/// it or its address, or its account is suspended; a sign-in is undone.
pub fn sanctioned(
    ctx: &Context<'_>,
    name: &str,
    welcome: Option<&Welcome>,
) -> Result<(), CommandError> {
    let Some(moderation) = ctx.moderation else {
        return Ok(());
    };
    let who = Who {
        name,
        account: welcome.map(|welcome| welcome.signed_in.account),
        ip: ctx.peer.ip(),
    };
    moderation.check_handshake(&who).map_err(|err| {
        if let (Some(welcome), Some(accounts)) = (welcome, ctx.accounts) {
            accounts.undo(welcome);
        }
        err.into()
    })
}

/// Refuses a registration of `name` that a server ban would refuse once it is made: of its
/// address, of the name, or of an account of the name.
pub fn about_to_register(ctx: &Context<'_>, name: &str) -> Result<(), CommandError> {
    match ctx.moderation {
        Some(moderation) => Ok(moderation.check_registration(name, ctx.peer.ip())?),
        None => Ok(()),
    }
}

/// Finishes a handshake whose name's claim across the cluster has ended: registers the name,
/// or refuses it (taken elsewhere, or NATS did not answer). A claimed name the hub then
/// refuses (the server began shutting down meanwhile) is given back.
pub async fn claimed(
    ctx: &mut Context<'_>,
    name: Arc<str>,
    claim: Result<Result<(), ClaimError>, TaskError>,
    welcome: Option<Box<Welcome>>,
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
    let registered = register(ctx, name.clone(), welcome);
    if registered.is_err() {
        if let Some(peers) = ctx.peers {
            peers.names.release(name).await;
        }
    }
    registered
}

/// Registers `name` (valid, and claimed in the cluster if there is one) in the hub:
/// `SignedIn` for an account, `Welcome`, and no room yet.
fn register(
    ctx: &mut Context<'_>,
    name: Arc<str>,
    welcome: Option<Box<Welcome>>,
) -> Result<Flow, CommandError> {
    // Again, now: a ban may have come while the name was claimed across the cluster.
    sanctioned(ctx, &name, welcome.as_deref())?;
    let handle = ClientHandle::new(name.clone(), ctx.outbox.clone());
    let signed_in = welcome.as_ref().map(|welcome| welcome.frame());
    let registered = ctx.hub.register(
        handle,
        ctx.peer,
        signed_in
            .as_ref()
            .zip(welcome.as_ref().map(|welcome| welcome.signed_in.account)),
    );
    let online = match registered {
        Ok(online) => online,
        Err(err) => {
            if let (Some(welcome), Some(accounts)) = (&welcome, ctx.accounts) {
                accounts.undo(welcome);
            }
            return Err(match err {
                JoinError::NameTaken(taken) => CommandError::NameTaken(taken.taken),
                JoinError::ShuttingDown => CommandError::ShuttingDown,
            });
        }
    };
    let account = welcome.map(|welcome| welcome.signed_in);
    if let (Some(me), Some(accounts)) = (account, ctx.accounts) {
        if !accounts.track(&name, me, ctx.outbox.clone()) {
            // Ended while it was signing in: it leaves at once, as if ended a moment later.
            ctx.hub.leave(
                &name,
                &crate::registry::LeaveReason::Refused("its session ended".to_owned()),
                crate::clock::now_millis(),
            );
            return Err(AccountsError::SessionEnded("this device's session ended").into());
        }
        tracing::info!(peer = %ctx.peer, online, session = me.session, "{name} signed in");
    } else {
        tracing::info!(peer = %ctx.peer, online, "{name} joined");
    }
    *ctx.session = Session::Registered {
        name,
        rooms: Vec::new(),
        account,
    };
    Ok(Flow::Continue)
}
