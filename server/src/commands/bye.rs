//! `Bye`: a clean goodbye.
//!
//! The connection stops reading, frees the name at once (others get `<name> left`), writes
//! out what is still queued for the client and closes. A one-shot client waits for that
//! close, so its name is free again the moment it exits.

use super::{CommandError, Context, Flow};
use crate::registry::LeaveReason;

/// Closes the connection. Also allowed before `Hello`, for a client that gives up after
/// its name was refused: there is nothing to leave then, only a connection to close.
pub fn handle(_ctx: &mut Context<'_>) -> Result<Flow, CommandError> {
    Ok(Flow::Close(LeaveReason::Bye))
}
