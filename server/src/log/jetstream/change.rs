//! Changes of a room's messages in a cluster. A reply is a record of its own naming a
//! message the room holds. A removal is a record of its own in the room's order, and the
//! record that held the message, which NATS cannot change, is copied with the message as a
//! tombstone and erased (see `payload.rs`).
//!
//! ```text
//!  remove #den 12 ──► find the record holding 12 (the room's, or the copy of one erased)
//!                 ──► publish the removal on chat.log.<hex den>: seq 31, delivered to all
//!                 ──► publish the record's copy, 12 a tombstone, on chat.kept.<hex den>.<S>
//!                 ──► erase the record at stream seq S (or the copy it replaces)
//! ```
//!
//! The removal goes first: should a step after it fail, the message still reads as it was
//! and the removal may be asked for again (members then see it removed twice, harmlessly).
//! A copy only counts once the record it copies is erased, since readers look for copies
//! only where the room's seqs have a gap. Copies are published on the condition that the
//! one they replace is still the latest, so two removals in one record at once both hold.

use std::sync::Arc;

use async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::{self, RawMessageErrorKind};
use chat_proto::PastKind;

use super::payload::{headers, kept_subject, stored_payload};
use super::publish::publish_entry;
use super::read::{bounds, kept_copy, record_holding, Record};
use super::{RoomStreams, Unavailable};
use crate::log::{Change, ChangeRefusal, Stored};
use crate::room::JoinedRoom;

/// How many times a copy is published again when another removal's copy of the same record
/// came first.
const COPY_TRIES: usize = 8;

/// What [`remove`] removes: the message `target` of `change`'s room, `change.by`'s own or
/// (`any`) anyone's.
pub struct Removal<'a> {
    /// Who, where and when.
    pub change: &'a Change,
    /// The removed message's `seq`.
    pub target: u64,
    /// `by` may remove anyone's message.
    pub any: bool,
}

/// The record holding a message a change names, as it stands.
struct Found {
    /// The rooms' stream.
    stream: stream::Stream,
    /// The record, or its latest copy.
    base: Record,
    /// The stream sequence of the record in the room's subject, while it is there.
    in_log: Option<u64>,
}

/// Why a change of message `target` of `room` failed: logged, and told as `Failed`.
fn failed(room: &JoinedRoom, target: u64) -> impl Fn(Unavailable) -> ChangeRefusal + '_ {
    move |err: Unavailable| {
        tracing::warn!("Cannot change message {target} of #{}: {err}", room.name);
        ChangeRefusal::Failed(err.0)
    }
}

/// The record of `room` holding message `target` as it stands, and the message; refused
/// when the room holds no message `target` (never sent, trimmed, or not a message). A
/// message removed by a removal that stopped before it erased the record has it erased.
async fn find(
    streams: &RoomStreams,
    room: &JoinedRoom,
    target: u64,
) -> Result<(Found, Stored), ChangeRefusal> {
    let no_such = || ChangeRefusal::NoSuchMessage {
        room: room.name.to_string(),
        seq: target,
    };
    let failed = failed(room, target);
    let stream = streams
        .existing()
        .await
        .map_err(&failed)?
        .ok_or_else(no_such)?;
    let keep = streams.retention.keep_per_room;
    let bounds = bounds(&stream, &room.key, keep)
        .await
        .map_err(&failed)?
        .ok_or_else(no_such)?;
    let record = record_holding(&stream, &room.key, &bounds, target)
        .await
        .map_err(&failed)?
        .ok_or_else(no_such)?;
    let in_log = record.copy.is_none().then_some(record.at);
    let base = latest(&stream, &room.key, record).await.map_err(&failed)?;
    let message = base
        .messages
        .iter()
        .find(|message| message.seq == target)
        .cloned()
        .ok_or_else(no_such)?;
    match &message.kind {
        PastKind::Message => {}
        PastKind::Removed { .. } => {
            // Removed by a removal that stopped before it erased the record: finish it.
            if let Some(at) = in_log {
                erase(&stream, at).await.map_err(&failed)?;
            }
            return Err(no_such());
        }
        PastKind::Removal { .. }
        | PastKind::Edit { .. }
        | PastKind::React { .. }
        | PastKind::Unreact { .. } => return Err(no_such()),
    }
    let found = Found {
        stream,
        base,
        in_log,
    };
    Ok((found, message))
}

/// Publishes `change`, a reply to message `to` saying `text`, once the room holds `to`: the
/// reply with its `seq`, once delivered here.
pub async fn reply(
    streams: Arc<RoomStreams>,
    change: &Change,
    to: u64,
    text: String,
) -> Result<Stored, ChangeRefusal> {
    let room = &change.room;
    find(&streams, room, to).await?;
    let mut entry = Stored::new(0, change.by.to_string(), text, change.at, PastKind::Message);
    entry.reply_to = Some(to);
    let seq = publish_entry(&streams, room, &entry)
        .await
        .map_err(|refused| failed(room, to)(Unavailable(refused.to_string())))?;
    streams.delivered_here(&room.key, seq).await;
    Ok(Stored { seq, ..entry })
}

/// Removes `removal.target` of its room: the removal as stored, once the text left the
/// stream and the removal was delivered here (or, for a remover with no member here,
/// stored).
pub async fn remove(
    streams: Arc<RoomStreams>,
    removal: Removal<'_>,
) -> Result<Stored, ChangeRefusal> {
    let room = &removal.change.room;
    let failed = failed(room, removal.target);
    let (found, message) = find(&streams, room, removal.target).await?;
    let Found {
        stream,
        base,
        in_log,
    } = found;
    let by = &removal.change.by;
    if !removal.any && !message.from.eq_ignore_ascii_case(by) {
        return Err(ChangeRefusal::NotYours(removal.target));
    }
    let entry = Stored::new(
        0,
        by.to_string(),
        String::new(),
        removal.change.at,
        PastKind::Removal {
            target: removal.target,
        },
    );
    let seq = publish_entry(&streams, room, &entry)
        .await
        .map_err(|refused| failed(Unavailable(refused.to_string())))?;
    keep_copy(&streams, &stream, &room.key, base, &removal)
        .await
        .map_err(&failed)?;
    if let Some(at) = in_log {
        erase(&stream, at).await.map_err(&failed)?;
    }
    // Delivered here last: the text is gone before its remover hears of the removal.
    streams.delivered_here(&room.key, seq).await;
    Ok(Stored { seq, ..entry })
}

/// `record` as it stands now: the room's own may have a copy already, made by a removal
/// that stopped before it erased the record.
async fn latest(stream: &stream::Stream, key: &str, record: Record) -> Result<Record, Unavailable> {
    if record.copy.is_some() {
        return Ok(record);
    }
    Ok(kept_copy(stream, key, record.at).await?.unwrap_or(record))
}

/// Publishes the copy of `base` (the record holding the removed message, as it stands) with
/// the message as a tombstone, on the condition that `base` is still the latest copy, and
/// erases the copy it replaces; when another removal's copy came first, does the same over
/// that one.
async fn keep_copy(
    streams: &RoomStreams,
    stream: &stream::Stream,
    key: &str,
    base: Record,
    removal: &Removal<'_>,
) -> Result<(), Unavailable> {
    let js = streams.cluster.jetstream();
    let mut base = base;
    for _ in 0..COPY_TRIES {
        let mut messages = base.messages.clone();
        let Some(removed) = messages
            .iter_mut()
            .find(|message| message.seq == removal.target)
        else {
            return Err(Unavailable("the removed message left its record".into()));
        };
        if removed.kind != PastKind::Message {
            // Another removal of the same message came first.
            return Ok(());
        }
        removed.text.clear();
        removed.kind = PastKind::Removed {
            by: removal.change.by.to_string(),
        };
        removed.reactions.clear();
        let mut headers = headers(base.first(), base.after.unwrap_or(0));
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            base.copy.unwrap_or(0).to_string().as_str(),
        );
        let subject = kept_subject(key, base.at);
        let sent = js
            .publish_with_headers(subject, headers, stored_payload(&messages))
            .await
            .map_err(|err| Unavailable(format!("cannot keep the record's copy: {err}")))?;
        match sent.await {
            Ok(_) => {
                if let Some(replaced) = base.copy {
                    erase(stream, replaced).await?;
                }
                return Ok(());
            }
            Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {
                base = kept_copy(stream, key, base.at)
                    .await?
                    .ok_or_else(|| Unavailable("the record's copy went away".into()))?;
            }
            Err(err) => {
                return Err(Unavailable(format!(
                    "NATS did not keep the record's copy: {err}"
                )))
            }
        }
    }
    Err(Unavailable(
        "other removals in the same record kept coming first".into(),
    ))
}

/// Erases the stream's message at `at`: NATS overwrites its bytes where it kept them. A
/// message already gone (trimmed by the stream's limits meanwhile) is erased as well.
async fn erase(stream: &stream::Stream, at: u64) -> Result<(), Unavailable> {
    let refused = match stream.delete_message(at).await {
        Ok(true) => return Ok(()),
        Ok(false) => format!("NATS did not erase stream message {at}"),
        Err(err) => format!("cannot erase stream message {at}: {err}"),
    };
    match stream.raw_message_builder().sequence(at).send().await {
        Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => Ok(()),
        _ => Err(Unavailable(refused)),
    }
}
