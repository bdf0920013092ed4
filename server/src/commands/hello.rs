//! `Hello`: a guest's handshake. Registers the client under a free, valid name that is no
//! account's. ([`super::sign_in`] and [`super::register`] are an account's handshakes; all
//! three share the opening checks and the registering of [`super::handshake`].)
//!
//! A wrong protocol version ends the connection (nothing else it sends can be trusted to
//! mean what we think), and so does a wrong or missing server password (a client that does
//! not know it has no business here, and a closed connection makes guessing slow); a bad,
//! taken or registered name does not, so the client can ask again.
//!
//! The server password check waits its address's turn ([`crate::login_backoff`]): after
//! three failures from one address, the `Hello` is held (the connection reads nothing more)
//! until the turn comes, then handled again; a turn that would come after the handshake
//! deadline is refused at once, saying when to try again.
//!
//! Where the server keeps accounts, the name is first looked up among them (a query on a
//! blocking thread, which the connection waits for). In a cluster the name must then be
//! claimed across every node ([`crate::peers::Names`]): the handler leaves the claim in
//! [`Context::waiting`], the connection waits for it (nobody else does), and
//! [`super::handshake::claimed`] registers the name once it is this node's.

use std::sync::Arc;

use chat_proto::ClientFrame;

use super::handshake::{admit, opening, valid_name};
use super::{sign_in, CommandError, Context, Flow, Waiting};

/// Checks the version, the password and the name, then registers the client: `Welcome`,
/// and no room yet (the client joins the rooms it wants).
pub fn handle(
    ctx: &mut Context<'_>,
    version: u32,
    username: String,
    password: Option<String>,
) -> Result<Flow, CommandError> {
    let frame = |username, password| ClientFrame::Hello {
        version,
        username,
        password,
    };
    if let Some(later) = opening(ctx, version, password.as_deref(), || {
        frame(username.clone(), password.clone())
    })? {
        return Ok(later);
    }
    let name = valid_name(username)?;
    if let Some(accounts) = ctx.accounts {
        if !accounts.config().guests {
            return Err(CommandError::GuestsOff);
        }
        let check = {
            let (accounts, name) = (Arc::clone(accounts), name.clone());
            tokio::spawn(async move { accounts.check_guest(&name).await.map(|()| None) })
        };
        ctx.waiting = Some(Waiting::SignIn(Box::new(sign_in::Pending {
            name,
            charged: None,
            check,
            online: true,
        })));
        return Ok(Flow::Continue);
    }
    admit(ctx, name, None)
}
