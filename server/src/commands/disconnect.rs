//! `Disconnect`: a server operator removes a person from the server.
//!
//! Only an account `[accounts] operators` names may (checked at each request, so that a
//! reload that takes the role away takes it at once); the person gets `Error{Removed}` with
//! the reason and is closed, their rooms hear `UserLeft{reason: Removed}`, and the action is
//! logged at INFO with the operator, the person and the reason.

use chat_proto::validate::name_key;
use chat_proto::ServerFrame;

use super::{CommandError, Context, Flow};

/// The longest reason kept, in characters: a sentence, not a message.
pub const MAX_REASON_CHARS: usize = 200;

/// Disconnects `user` for the operator, with `reason`.
pub fn handle(ctx: &mut Context<'_>, user: &str, reason: &str) -> Result<Flow, CommandError> {
    let operator = match ctx.signed_in() {
        Ok((name, _, accounts)) if accounts.is_operator(&name) => name,
        Err(CommandError::NotRegistered) => return Err(CommandError::NotRegistered),
        _ => {
            return Err(CommandError::NotPermitted(
                "only a server operator may disconnect people",
            ))
        }
    };
    if name_key(user) == name_key(&operator) {
        return Err(CommandError::NotPermitted(
            "an operator cannot disconnect itself",
        ));
    }
    // Control characters would forge lines in the person's terminal and in the log.
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    let detail = if reason.is_empty() {
        format!("disconnected by the operator {operator}")
    } else {
        format!("disconnected by the operator {operator}: {reason}")
    };
    let Some(removed) = ctx.hub.remove(user, &detail) else {
        let key = name_key(user);
        if ctx.hub.users().iter().any(|online| name_key(online) == key) {
            // Online on another node of the cluster, which alone holds the connection.
            return Err(CommandError::NotPermitted(
                "that person is on another node of the cluster: disconnect them through it",
            ));
        }
        return Err(CommandError::NoSuchUser(user.to_owned()));
    };
    tracing::info!(
        peer = %ctx.peer,
        actor = %operator,
        target = %removed,
        reason = %reason,
        "Operator {operator} disconnected {removed}"
    );
    ctx.reply(&ServerFrame::Disconnected {
        user: removed.to_string(),
    });
    Ok(Flow::Continue)
}
