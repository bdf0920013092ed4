//! An operator's `Disconnect` of a person on another node: a NATS request to that node's
//! removal subject ([`subject`]), answered once the node has removed them (or found nobody).
//!
//! ```text
//!  node A: boss disconnects troll ──► names: troll is on B ──► request chat.node.<B>.remove
//!  node B: hub removes troll (Error{Removed}, close, UserLeft{Removed}) ──► reply "troll"
//!  node A: boss gets Disconnected { user: troll }
//! ```
//!
//! A request rather than a publish, so that the operator is told what happened: the name as
//! registered, or that nobody of that name was there any more.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;

use crate::hub::Hub;

/// The subject a node's removals come on (the node's name in hex, as for whispers).
pub fn subject(node: &str) -> String {
    super::whispers::node_subject(node, "remove")
}

/// The request: the person's name, then the detail they are told, one line each (a valid
/// name holds no newline; the detail comes last).
pub fn request(user: &str, detail: &str) -> Bytes {
    Bytes::from(format!("{user}\n{detail}"))
}

/// The answer: the name as registered, or nothing when nobody of that name is here.
pub fn answer(removed: Option<&str>) -> Bytes {
    Bytes::from(removed.unwrap_or_default().to_owned())
}

/// Reads an answer: the name removed, if any.
pub fn removed(payload: &[u8]) -> Option<String> {
    let name = String::from_utf8_lossy(payload);
    (!name.is_empty()).then(|| name.into_owned())
}

/// Serves removals asked of this node `node` until the connection ends: each one is
/// carried out by `hub` and answered.
pub async fn serve(client: async_nats::Client, node: String, hub: Arc<Hub>) {
    let mut inbox = match client.subscribe(subject(&node)).await {
        Ok(inbox) => inbox,
        Err(err) => {
            tracing::error!("Cannot take removals from other nodes: {err}");
            return;
        }
    };
    while let Some(message) = inbox.next().await {
        let text = String::from_utf8_lossy(&message.payload);
        let Some((user, detail)) = text.split_once('\n') else {
            tracing::warn!("Dropped a malformed removal on {}", message.subject);
            continue;
        };
        let removed = hub.remove(user, detail);
        if let Some(name) = &removed {
            tracing::info!(target = %name, "Removed {name} for an operator on another node: {detail}");
        }
        if let Some(reply) = message.reply {
            if let Err(err) = client.publish(reply, answer(removed.as_deref())).await {
                tracing::warn!("Cannot answer a removal: {err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_and_its_answers_read_back() {
        assert_eq!(
            &request("troll", "by boss: spam")[..],
            b"troll\nby boss: spam"
        );
        assert_eq!(removed(&answer(Some("Troll"))), Some("Troll".to_owned()));
        assert_eq!(removed(&answer(None)), None);
        assert_eq!(subject("a.b"), "chat.node.612e62.remove");
    }
}
