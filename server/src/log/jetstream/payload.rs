//! How a room lives in NATS: its stream's name, its subject, and a message as stored there.

use bytes::Bytes;
use chat_proto::Millis;

use crate::log::Stored;

/// A room's stream. A room's key may hold characters a stream name or a subject may not,
/// so it goes in hex.
pub fn stream_name(key: &str) -> String {
    format!("CHAT_ROOM_{}", hex(key))
}

/// The subject a room's messages are published on.
pub fn subject(key: &str) -> String {
    format!("chat.room.{}", hex(key))
}

/// `key`'s bytes in hex.
fn hex(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A message as stored in a room's stream: sender, time, text, one line each. Names hold no
/// newline and the text comes last, so nothing needs escaping.
pub fn to_payload(from: &str, at: Millis, text: &str) -> Bytes {
    Bytes::from(format!("{from}\n{at}\n{text}"))
}

/// Reads [`to_payload`]'s form; `None` for anything else on the subject.
pub fn from_payload(seq: u64, payload: &[u8]) -> Option<Stored> {
    let payload = std::str::from_utf8(payload).ok()?;
    let mut lines = payload.splitn(3, '\n');
    let from = lines.next()?.to_owned();
    let at = lines.next()?.parse().ok()?;
    let text = lines.next()?.to_owned();
    Some(Stored {
        seq,
        from,
        text,
        at,
    })
}
