//! `Hello`: the handshake. Registers the client under a free, valid name.
//!
//! A wrong protocol version ends the connection (nothing else it sends can be trusted to
//! mean what we think), and so does a wrong or missing password (a client that does not know
//! it has no business here, and a closed connection makes guessing slow); a bad or taken name
//! does not, so the client can ask again.

use std::sync::Arc;

use chat_proto::{validate, PROTOCOL_VERSION};

use super::{CommandError, Context, Flow, Session};
use crate::hub::JoinError;
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
        if !password.is_some_and(|given| expected.matches(&given)) {
            return Err(CommandError::AuthFailed);
        }
    }
    validate::username(&username).map_err(|source| CommandError::InvalidName {
        name: username.clone(),
        source,
    })?;
    let name: Arc<str> = username.into();
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
