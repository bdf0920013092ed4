//! A message removal in a cluster: the removal is a record of its own in the room's order,
//! and the record that held the message, which NATS cannot change, is copied with the
//! message as a tombstone and erased (see `payload.rs`).
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
use super::publish::publish_removal;
use super::read::{bounds, kept_copy, record_holding, Record};
use super::{RoomStreams, Unavailable};
use crate::log::{Removal, RemoveRefusal};

/// How many times a copy is published again when another removal's copy of the same record
/// came first.
const COPY_TRIES: usize = 8;

/// Removes `removal.target` of its room: the removal's `seq` once the text left the stream
/// and the removal was delivered here (or, for a remover with no member here, stored).
pub async fn remove(streams: Arc<RoomStreams>, removal: Removal) -> Result<u64, RemoveRefusal> {
    let room = &removal.room;
    let no_such = || RemoveRefusal::NoSuchMessage {
        room: room.name.to_string(),
        seq: removal.target,
    };
    let failed = |err: Unavailable| {
        tracing::warn!(
            "Cannot remove message {} of #{}: {err}",
            removal.target,
            room.name
        );
        RemoveRefusal::Failed(err.0)
    };
    let stream = streams
        .existing()
        .await
        .map_err(failed)?
        .ok_or_else(no_such)?;
    let keep = streams.retention.keep_per_room;
    let bounds = bounds(&stream, &room.key, keep)
        .await
        .map_err(failed)?
        .ok_or_else(no_such)?;
    let record = record_holding(&stream, &room.key, &bounds, removal.target)
        .await
        .map_err(failed)?
        .ok_or_else(no_such)?;
    let in_log = record.copy.is_none().then_some(record.at);
    let base = latest(&stream, &room.key, record).await.map_err(failed)?;
    let message = base
        .messages
        .iter()
        .find(|message| message.seq == removal.target)
        .ok_or_else(no_such)?;
    match &message.kind {
        PastKind::Message => {}
        PastKind::Removed { .. } => {
            // Removed by a removal that stopped before it erased the record: finish it.
            if let Some(at) = in_log {
                erase(&stream, at).await.map_err(failed)?;
            }
            return Err(no_such());
        }
        PastKind::Removal { .. } => return Err(no_such()),
    }
    if !removal.any && !message.from.eq_ignore_ascii_case(&removal.by) {
        return Err(RemoveRefusal::NotYours(removal.target));
    }
    let seq = publish_removal(&streams, &removal)
        .await
        .map_err(|refused| failed(Unavailable(refused.to_string())))?;
    keep_copy(&streams, &stream, &room.key, base, &removal)
        .await
        .map_err(failed)?;
    if let Some(at) = in_log {
        erase(&stream, at).await.map_err(failed)?;
    }
    streams.delivered_here(&room.key, seq).await;
    Ok(seq)
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
    removal: &Removal,
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
            by: removal.by.to_string(),
        };
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
