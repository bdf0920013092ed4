//! How rooms live in NATS: one stream for every room, a subject per room, and a record (one
//! sender's burst) as stored there.
//!
//! A record is one NATS message holding one or more bursts of one room: its first `seq` in
//! the header [`SEQ_HEADER`], and each message as its sender, time, length and text. A record holds at
//! most [`RECORD_MAX`] messages, so a room's seqs never outrun [`RECORD_MAX`] times the
//! stream's sequence ([`first_seq_of_empty_room`] relies on it).
//!
//! **Removals.** A removal is a record of its own on the room's subject (its one entry
//! names the removed `seq` instead of carrying text). A NATS message cannot be changed, so
//! the record that held the removed message is copied, with the message as a tombstone, to
//! its own subject beside the room's ([`kept_subject`], named by the stream sequence the
//! record had), and then erased from the stream (NATS overwrites an erased message's bytes).
//! A reader that finds a gap in a room's seqs where records were erased finds their copies
//! there: each record names the stream sequence of the record it was numbered after.

use async_nats::HeaderMap;
use bytes::Bytes;
use chat_proto::{Millis, PastKind};

use crate::log::{Said, Stored};

/// The one stream that holds every room's messages.
pub const STREAM: &str = "CHAT_ROOMS";

/// The subjects of [`STREAM`]'s rooms: [`subject`] of every room.
pub const SUBJECTS: &str = "chat.log.*";

/// The subjects of [`STREAM`]'s copies of records a removal changed: [`kept_subject`].
pub const KEPT_SUBJECTS: &str = "chat.kept.*.*";

/// The header that carries a record's first `seq`.
pub const SEQ_HEADER: &str = "Chat-Seq";

/// The header that carries the stream sequence of the room's record this one was numbered
/// after (0: none), the condition it was published on: tells a record that counts from
/// one numbered like an earlier one (see `read::counted_end`).
pub const AFTER_HEADER: &str = "Chat-After";

/// Where a walk over a room's records, in stream order, stands: the last `seq` of the records
/// that counted so far. A record counts when its first `seq` is past that; one numbered like
/// an earlier one (a twin, see `publish.rs`) does not, and every reader (delivery, pages, the
/// publisher's own check) skips it whole, so that all agree on what each `seq` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted(u64);

impl Counted {
    /// A walk that counted up to `seq` `last` (0: nothing yet; seqs start at 1).
    pub fn after(last: u64) -> Counted {
        Counted(last)
    }

    /// Whether a record whose first `seq` is `first` counts after what was counted.
    pub fn counts(self, first: u64) -> bool {
        first > self.0
    }

    /// Whether a record whose seqs run from `first` to `last` counts after what was counted;
    /// when it does, the walk goes on past it.
    pub fn take(&mut self, first: u64, last: u64) -> bool {
        let counts = self.counts(first);
        if counts {
            self.0 = last;
        }
        counts
    }

    /// The last `seq` counted.
    pub fn last(self) -> u64 {
        self.0
    }
}

/// The most messages one record holds: a burst's most, and what bursts that waited
/// together are gathered up to.
pub const RECORD_MAX: u64 = crate::log::burst::Burst::MAX_FRAMES as u64;

/// The subject a room's records are published on. A room's key may hold characters a
/// subject may not, so it goes in hex.
pub fn subject(key: &str) -> String {
    format!("chat.log.{}", hex(key))
}

/// The subject of the copy of the room `key`'s record that was at stream sequence `at`,
/// before a removal erased it there.
pub fn kept_subject(key: &str, at: u64) -> String {
    format!("chat.kept.{}.{at}", hex(key))
}

/// The room key a record's subject names; `None` for a subject that is not a room's.
pub fn key_of(subject: &str) -> Option<String> {
    let hex = subject.strip_prefix("chat.log.")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// `key`'s bytes in hex.
fn hex(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The first `seq` of a room that has nothing in the stream, whose first sequence is
/// `stream_first` (one past its last when it is empty): 1 while nothing was ever trimmed
/// from the stream's front; after that, past every `seq` the room may have had before its
/// messages aged out. Those messages lay before `stream_first`, and a room's seqs never
/// outrun [`RECORD_MAX`] times the stream's sequence, so a client that saw them is told it
/// missed messages rather than handed numbers it already had.
pub fn first_seq_of_empty_room(stream_first: u64) -> u64 {
    RECORD_MAX * stream_first.saturating_sub(1) + 1
}

/// A record's headers, naming its first `seq` and the stream sequence of the record it was
/// numbered after.
pub fn headers(first_seq: u64, after: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(SEQ_HEADER, first_seq.to_string().as_str());
    headers.insert(AFTER_HEADER, after.to_string().as_str());
    headers
}

/// The stream sequence a record was numbered after, from its headers; `None` for a record
/// stored before records said it.
pub fn after_of(headers: &HeaderMap) -> Option<u64> {
    headers.get(AFTER_HEADER)?.as_str().parse().ok()
}

/// A record's payload: for each message, its sender, time and text's length, a line each,
/// then its text. Names hold no newline; the length delimits the text, whatever it holds.
pub fn to_payload<'a>(messages: impl IntoIterator<Item = (&'a str, &'a Said)>) -> Bytes {
    let mut payload = String::new();
    for (from, said) in messages {
        push_entry(
            &mut payload,
            from,
            said.at,
            &said.text,
            &PastKind::Message,
            None,
        );
    }
    Bytes::from(payload)
}

/// The payload of a record holding `entries` as they stand: a removal's or a reply's
/// record, or the copy of a record a removal changed. The third line of an entry says what
/// it is: the text's length (a message, the text follows), `q` and the `seq` answered, a
/// comma and the length (a reply), `x` and the remover (a removed message, no text), `r` and
/// the `seq` removed (a removal), `e` and the `seq` edited, a comma and the length (an
/// edit, the new text follows), `a` or `u`, the `seq`, a comma and the emoji (a reaction
/// given or taken back). The cluster keeps no edit times or reactions on messages yet.
pub fn stored_payload(entries: &[Stored]) -> Bytes {
    let mut payload = String::new();
    for entry in entries {
        push_entry(
            &mut payload,
            &entry.from,
            entry.at,
            &entry.text,
            &entry.kind,
            entry.reply_to,
        );
    }
    Bytes::from(payload)
}

/// One entry of a record's payload.
fn push_entry(
    payload: &mut String,
    from: &str,
    at: Millis,
    text: &str,
    kind: &PastKind,
    reply_to: Option<u64>,
) {
    let len = text.len();
    let (third, text) = match (kind, reply_to) {
        (PastKind::Message, None) => (len.to_string(), text),
        (PastKind::Message, Some(to)) => (format!("q{to},{len}"), text),
        (PastKind::Removed { by }, _) => (format!("x{by}"), ""),
        (PastKind::Removal { target }, _) => (format!("r{target}"), ""),
        (PastKind::Edit { target }, _) => (format!("e{target},{len}"), text),
        (PastKind::React { target, emoji }, _) => (format!("a{target},{emoji}"), ""),
        (PastKind::Unreact { target, emoji }, _) => (format!("u{target},{emoji}"), ""),
    };
    payload.push_str(&format!("{from}\n{at}\n{third}\n{text}"));
}

/// What an entry's third line says it is (see [`stored_payload`]): its kind, the `seq` a
/// reply answers, and the length of the text that follows.
fn entry_kind(third: &str) -> Option<(PastKind, Option<u64>, usize)> {
    let (tag, rest) = match third.chars().next()? {
        tag @ ('q' | 'x' | 'r' | 'e' | 'a' | 'u') => (tag, &third[1..]),
        _ => return Some((PastKind::Message, None, third.parse().ok()?)),
    };
    let split = || {
        let (seq, after) = rest.split_once(',')?;
        Some((seq.parse::<u64>().ok()?, after))
    };
    Some(match tag {
        'q' => {
            let (to, len) = split()?;
            (PastKind::Message, Some(to), len.parse().ok()?)
        }
        'x' => (
            PastKind::Removed {
                by: rest.to_owned(),
            },
            None,
            0,
        ),
        'r' => (
            PastKind::Removal {
                target: rest.parse().ok()?,
            },
            None,
            0,
        ),
        'e' => {
            let (target, len) = split()?;
            (PastKind::Edit { target }, None, len.parse().ok()?)
        }
        'a' => {
            let (target, emoji) = split()?;
            let emoji = emoji.to_owned();
            (PastKind::React { target, emoji }, None, 0)
        }
        _ => {
            let (target, emoji) = split()?;
            let emoji = emoji.to_owned();
            (PastKind::Unreact { target, emoji }, None, 0)
        }
    })
}

/// A record's first `seq`, from its headers alone (its payload unread); `None` when they
/// name none a record may have.
pub fn first_seq(headers: Option<&HeaderMap>) -> Option<u64> {
    let first: u64 = headers?.get(SEQ_HEADER)?.as_str().parse().ok()?;
    // Seqs start at 1, and a room's never come near the end of the numbers.
    (first != 0 && first <= u64::MAX / 2).then_some(first)
}

/// A record read back: its messages, numbered from its header's `seq`; `None` for anything
/// else on the subject.
pub fn from_record(headers: Option<&HeaderMap>, payload: &[u8]) -> Option<Vec<Stored>> {
    let first = first_seq(headers)?;
    let mut rest = std::str::from_utf8(payload).ok()?;
    let mut messages = Vec::new();
    while !rest.is_empty() {
        let mut lines = rest.splitn(4, '\n');
        let from = lines.next()?.to_owned();
        let at: Millis = lines.next()?.parse().ok()?;
        let third = lines.next()?;
        // Every entry's third line ends with a newline, so something (maybe nothing) follows.
        let tail = lines.next()?;
        let (kind, reply_to, len) = entry_kind(third)?;
        let text = tail.get(..len)?.to_owned();
        rest = &tail[len..];
        let mut entry = Stored::new(first + messages.len() as u64, from, text, at, kind);
        entry.reply_to = reply_to;
        messages.push(entry);
    }
    (!messages.is_empty() && messages.len() as u64 <= RECORD_MAX).then_some(messages)
}
