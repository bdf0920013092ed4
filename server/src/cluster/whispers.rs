//! Whispers between nodes: a node whose user whispers someone on another node publishes it
//! on that node's subject ([`subject`]); each node delivers what comes on its own.
//!
//! ```text
//!  node A: ann whispers bob ──► names: bob is on B ──► publish chat.node.<B>.whisper
//!  node B: subscribed since it joined ──► hub: bob gets Whisper { from: ann, to: bob }
//!  node A: ann gets her copy once it is published
//! ```
//!
//! The subscription is drained by one task that only queues frames (never waits), so NATS
//! never has to drop what it holds for a slow node.

use std::sync::Arc;

use async_nats::Subscriber;
use futures::StreamExt;

use crate::hub::{Hub, WhisperError};

/// The subject a node's whispers come on.
pub fn subject(node: &str) -> String {
    node_subject(node, "whisper")
}

/// The subject of `node` for `what` (`whisper`, `remove`). A node's name may hold
/// characters a subject may not (`.`, spaces, `*`), so it goes in hex.
pub fn node_subject(node: &str, what: &str) -> String {
    let hex: String = node.bytes().map(|b| format!("{b:02x}")).collect();
    format!("chat.node.{hex}.{what}")
}

pub use crate::peers::Whisper;

/// Why a message on a node's whisper subject was not a whisper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a whisper: {0}")]
pub struct NotAWhisper(&'static str);

impl Whisper {
    /// As sent: sender, target, time, text, one line each. Names and valid text hold no
    /// newline, and the text comes last, so nothing needs escaping.
    pub fn to_payload(&self) -> bytes::Bytes {
        bytes::Bytes::from(format!(
            "{}\n{}\n{}\n{}",
            self.from, self.to, self.at, self.text
        ))
    }

    /// Reads [`Whisper::to_payload`]'s form.
    pub fn from_payload(payload: &[u8]) -> Result<Whisper, NotAWhisper> {
        let payload = std::str::from_utf8(payload).map_err(|_| NotAWhisper("not UTF-8"))?;
        let mut lines = payload.splitn(4, '\n');
        let mut next = |what| lines.next().ok_or(NotAWhisper(what));
        let from = next("no sender")?.to_owned();
        let to = next("no target")?.to_owned();
        let at = next("no time")?
            .parse()
            .map_err(|_| NotAWhisper("a bad time"))?;
        let text = next("no text")?.to_owned();
        Ok(Whisper { from, to, text, at })
    }
}

/// Delivers every whisper that comes on this node's subject to its local target, until the
/// subscription ends. A target that left meanwhile is logged and skipped: its sender already
/// has its copy, as when a local target leaves before reading.
pub async fn deliver(mut inbox: Subscriber, hub: Arc<Hub>) {
    while let Some(message) = inbox.next().await {
        let whisper = match Whisper::from_payload(&message.payload) {
            Ok(whisper) => whisper,
            Err(err) => {
                tracing::warn!("Dropped a message on {}: {err}", message.subject);
                continue;
            }
        };
        match hub.deliver_whisper(&whisper.from, &whisper.to, whisper.text, whisper.at) {
            Ok(()) => {}
            Err(WhisperError::NoSuchUser(to)) => {
                tracing::info!(
                    "A whisper from {} to {to} came after {to} left",
                    whisper.from
                );
            }
            Err(WhisperError::Encode(err)) => {
                tracing::warn!("Cannot deliver a whisper from {}: {err}", whisper.from);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whisper reads back as sent, its text's spaces and punctuation included.
    #[test]
    fn a_whisper_reads_back_as_sent() {
        let sent = Whisper {
            from: "Ann".to_owned(),
            to: "bob".to_owned(),
            text: "hi: 1 2\t3".to_owned(),
            at: 1_700_000_000_123,
        };
        assert_eq!(Whisper::from_payload(&sent.to_payload()), Ok(sent));
        assert!(Whisper::from_payload(b"ann\nbob").is_err());
    }

    /// Any node name makes a subject of one token.
    #[test]
    fn a_node_name_with_dots_makes_one_subject_token() {
        assert_eq!(subject("a.b c"), "chat.node.612e622063.whisper");
    }
}
