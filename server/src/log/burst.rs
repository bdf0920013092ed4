//! A burst: messages one client sent together to one room, the unit the room log appends.
//!
//! Messages a client sent together to one room (read from its socket in one go) travel as
//! one [`Burst`], stored in one transaction and queued to the room's members as one buffer:
//! a publisher's burst of 64 costs each recipient one queue entry instead of 64. The burst
//! is sent before anything else the client causes (a message to another room, a reply, a
//! whisper, a part, its leaving), so the order everyone sees is the order the client sent in.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chat_proto::{CodecError, Millis};

use super::wire::push_message;
use super::Stored;
use crate::outbox::ENTRY_OVERHEAD;
use crate::room::JoinedRoom;

/// One message a client said, as the server received it: its `from` and room are those
/// of the [`Burst`] that holds it, its `seq` is given when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// The text, checked.
    pub text: String,
    /// When the server read it.
    pub at: Millis,
}

/// Messages from one client to one room, waiting to be sent together. Held by the client's
/// connection; [`super::RoomLog::append`] sends them.
///
/// Held as text, not yet encoded: a message's `seq` is known only when it is sent (under
/// the hub's lock, or once the room log has stored it), and it is part of the frame.
#[derive(Debug, Default)]
pub struct Burst {
    /// The room every message goes to; `None` while empty.
    room: Option<JoinedRoom>,
    /// The sender's registered name.
    from: Option<Arc<str>>,
    /// The messages, in the order the client sent them.
    said: Vec<Said>,
    /// The bytes of their texts.
    bytes: usize,
}

/// A [`Burst`] taken out to be sent: one sender, one room, its messages in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spoken {
    /// The room, by key and as shown.
    pub room: JoinedRoom,
    /// The sender's registered name.
    pub from: Arc<str>,
    /// The messages, in the order sent.
    pub said: Vec<Said>,
}

impl Spoken {
    /// About what this burst's echo costs its sender's queue: each message's text, the
    /// room's and the sender's names and a `Msg` frame's fixed fields, and one entry. Counted
    /// toward the sender's congestion while the burst is on its way ([`crate::outbox::Outbox::expect`]).
    pub fn echo_bytes(&self) -> usize {
        /// A `Msg` frame's length prefix, kind, three string lengths, time and seq.
        const FIXED: usize = 4 + 4 + 3 * 8 + 8 + 8;
        let per_message = self.room.name.len() + self.from.len() + FIXED;
        let texts: usize = self.said.iter().map(|said| said.text.len()).sum();
        texts + per_message * self.said.len() + ENTRY_OVERHEAD
    }

    /// Every message as a `Msg` frame, numbered from `first_seq` on, encoded back to back:
    /// the one buffer every member's queue gets.
    pub fn encode(&self, first_seq: u64) -> Result<Bytes, CodecError> {
        let mut wire = BytesMut::new();
        for (said, seq) in self.said.iter().zip(first_seq..) {
            push_message(
                &mut wire,
                &self.room.name,
                Stored::new(
                    seq,
                    self.from.to_string(),
                    said.text.clone(),
                    said.at,
                    chat_proto::PastKind::Message,
                ),
            )?;
        }
        Ok(wire.freeze())
    }
}

impl Burst {
    /// Messages held at most before the burst is sent anyway: a client that never pauses
    /// still has its messages delivered, and a queue entry stays small.
    pub const MAX_FRAMES: usize = 64;

    /// Bytes of text held at most before the burst is sent anyway.
    pub const MAX_BYTES: usize = 16 * 1024;

    /// Whether a message for the room with key `room` can join this burst: it is empty or
    /// for the same room. Otherwise the burst must be sent first, so that the messages keep
    /// their order.
    pub fn accepts(&self, room: &str) -> bool {
        self.room.as_ref().is_none_or(|held| &*held.key == room)
    }

    /// Adds one message from `from` to `room`; the caller checked [`Burst::accepts`].
    pub fn push(&mut self, room: &JoinedRoom, from: &Arc<str>, said: Said) {
        debug_assert!(
            self.accepts(&room.key),
            "a burst holds messages for one room"
        );
        if self.room.is_none() {
            self.room = Some(room.clone());
            self.from = Some(from.clone());
        }
        self.bytes += said.text.len();
        self.said.push(said);
    }

    /// Whether the burst should be sent before it grows further.
    pub fn is_full(&self) -> bool {
        self.said.len() >= Self::MAX_FRAMES || self.bytes >= Self::MAX_BYTES
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.said.is_empty()
    }

    /// How many messages are waiting.
    pub fn len(&self) -> usize {
        self.said.len()
    }

    /// The messages with their room and sender, leaving the burst empty and holding no
    /// memory.
    pub fn take(&mut self) -> Option<Spoken> {
        let room = self.room.take()?;
        let from = self.from.take()?;
        self.bytes = 0;
        Some(Spoken {
            room,
            from,
            said: std::mem::take(&mut self.said),
        })
    }
}
