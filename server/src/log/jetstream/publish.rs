//! Senders' bursts on their way to NATS, in records of one or more: numbered by the room's last record
//! and published on the condition that it is still the last (so two nodes never give one
//! `seq` twice), one record of a room at a time and the rooms side by side; confirmed once
//! delivered here; refused, through the log's one failure path, when NATS does not take them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE;
use async_nats::jetstream::context::PublishErrorKind;
use bytes::Bytes;
use chat_proto::ErrorKind;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::payload::{
    first_seq_of_empty_room, headers, stored_payload, subject, to_payload, Counted, RECORD_MAX,
};
use super::read::{count_between, counted_end, last_record};
use super::{RoomStreams, Unavailable};
use crate::log::failures::{self, Failures};
use crate::log::{Spoken, Stored};
use crate::outbox::Expected;
use crate::room::JoinedRoom;

/// What became of a record that did not get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not handed to NATS at all (it was away): nobody gets it.
    NotSent,
    /// Handed to NATS, which did not acknowledge it in time: the link broke meanwhile, and
    /// the client library may still deliver it once NATS is back.
    Unconfirmed,
}

impl Refused {
    /// What the sender is told.
    fn detail(self) -> &'static str {
        match self {
            Refused::NotSent => {
                "the server cannot reach the rest of its cluster, so your message was sent to \
                 nobody: try again later"
            }
            Refused::Unconfirmed => {
                "the server lost the rest of its cluster as your message went out: it did not \
                 confirm it, so it may reach the room once the cluster is back, or not at all"
            }
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::NotSent => "NATS is out of reach",
            Refused::Unconfirmed => "NATS did not acknowledge them",
        })
    }
}

/// A burst for the publisher.
#[derive(Debug)]
pub struct Publish {
    /// The messages, their room and their sender.
    pub spoken: Spoken,
    /// The sender's queue, for `ClusterUnavailable`, expecting the burst's echo.
    pub sender: Expected,
    /// Told once the burst was delivered here (or refused).
    pub done: oneshot::Sender<()>,
}

/// Where a room's log ends: what the next record is numbered from and must follow.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// The stream sequence of the room's last record (0: it has none).
    at: u64,
    /// The `seq` of the room's next message.
    next: u64,
}

/// The bursts of one room on this node: one on its way at a time, the others waiting.
#[derive(Debug, Default)]
struct RoomQueue {
    /// Where the room's log ends, as last seen; `None` until read (again).
    head: Option<Head>,
    /// Whether a record of the room is on its way.
    busy: bool,
    /// The bursts behind it, in the order submitted.
    waiting: VecDeque<Publish>,
}

/// What became of a record: its bursts, the `seq` of its first message (or why it was
/// refused), where the room's log ends after it, and when it was started.
type Published = (Vec<Publish>, Result<u64, Refused>, Option<Head>, Instant);

/// How many records between two sweeps of the rooms nobody here is in any more.
const SWEEP_EVERY: usize = 1024;

/// How long a record is numbered again while other nodes' records keep taking its place:
/// a room another node floods gets this node's records in between its own as soon as it
/// pauses (its records carry everything that waited), so only a flood this long refuses.
const RENUMBER_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Publishes every burst: a room's in the order submitted, one record at a time (the next
/// waits for the acknowledgement that fixes its seqs), the rooms side by side. The bursts
/// that waited meanwhile go together as the next record, up to [`RECORD_MAX`] messages, so
/// a busy room needs fewer round trips, not a longer queue.
pub async fn publisher(streams: Arc<RoomStreams>, mut queue: mpsc::UnboundedReceiver<Publish>) {
    let mut rooms: HashMap<Arc<str>, RoomQueue> = HashMap::new();
    let mut running = FuturesUnordered::new();
    let mut confirming = FuturesUnordered::new();
    let mut failures = Failures::default();
    let mut done: usize = 0;
    loop {
        tokio::select! {
            request = queue.recv() => {
                let Some(request) = request else { break };
                let key = request.spoken.room.key.clone();
                let room = rooms.entry(key).or_default();
                if room.busy {
                    room.waiting.push_back(request);
                } else {
                    room.busy = true;
                    running.push(publish(Arc::clone(&streams), vec![request], room.head));
                }
            }
            Some((bursts, outcome, head, started)) = running.next() => {
                let key = bursts[0].spoken.room.key.clone();
                let messages: usize = bursts.iter().map(|burst| burst.spoken.said.len()).sum();
                match outcome {
                    Ok(first) => {
                        failures.recovered();
                        // Stored by JetStream: the cluster's commit of the bursts, as a
                        // SQLite transaction is a single node's.
                        streams.hub.metrics().store_committed(started.elapsed());
                        let mut next = first;
                        let at = head.map_or(0, |head| head.at);
                        for burst in bursts {
                            next += burst.spoken.said.len() as u64;
                            confirming.push(confirm(Arc::clone(&streams), burst, next - 1, at));
                        }
                    }
                    Err(refused) => {
                        failures.failed(&refused, messages);
                        for burst in bursts {
                            failures::refuse(
                                burst.sender.outbox(),
                                streams.hub.metrics(),
                                ErrorKind::ClusterUnavailable,
                                refused.detail(),
                            );
                            streams.in_flight.sub(burst.spoken.said.len());
                            let _ = burst.done.send(());
                        }
                    }
                }
                done += 1;
                if done.is_multiple_of(SWEEP_EVERY) {
                    // Rooms left since their last record: forget where they end.
                    rooms.retain(|key, room| room.busy || streams.delivered(key).is_some());
                }
                if let Some(room) = rooms.get_mut(&key) {
                    room.head = head;
                    let next = take_record(&mut room.waiting);
                    if next.is_empty() {
                        room.busy = false;
                    } else {
                        running.push(publish(Arc::clone(&streams), next, head));
                    }
                }
            }
            Some(()) = confirming.next() => {}
        }
    }
}

/// The bursts at the front of `waiting` that fit one record together (at least one).
fn take_record(waiting: &mut VecDeque<Publish>) -> Vec<Publish> {
    let mut record = Vec::new();
    let mut messages = 0;
    while let Some(next) = waiting.front() {
        let more = next.spoken.said.len();
        if !record.is_empty() && messages + more > RECORD_MAX as usize {
            break;
        }
        messages += more;
        record.extend(waiting.pop_front());
    }
    record
}

/// Publishes `bursts` (one room's, at most [`RECORD_MAX`] messages) as one record after the
/// room's last one (`head`, read first when unknown), numbering it again when another
/// node's record came first.
async fn publish(streams: Arc<RoomStreams>, bursts: Vec<Publish>, head: Option<Head>) -> Published {
    let started = Instant::now();
    let room = &bursts[0].spoken.room;
    let count: u64 = bursts
        .iter()
        .map(|burst| burst.spoken.said.len() as u64)
        .sum();
    let payload = to_payload(bursts.iter().flat_map(|burst| {
        burst
            .spoken
            .said
            .iter()
            .map(|said| (&*burst.spoken.from, said))
    }));
    let (outcome, head) =
        publish_record(&streams, &room.key, &room.name, payload, count, head).await;
    (bursts, outcome, head, started)
}

/// Publishes `entry` (its `seq` not known yet: a removal, a reply) as a record of its own
/// in the room `room`'s order: its `seq`.
pub async fn publish_entry(
    streams: &RoomStreams,
    room: &JoinedRoom,
    entry: &Stored,
) -> Result<u64, Refused> {
    let payload = stored_payload(std::slice::from_ref(entry));
    publish_record(streams, &room.key, &room.name, payload, 1, None)
        .await
        .0
}

/// Publishes `payload` (a record of `count` messages of the room with key `key`, shown as
/// `shown`) after the room's last record (`head`, read first when unknown), numbering it
/// again when another node's record came first: the `seq` of its first message, and where
/// the room's log ends after it.
async fn publish_record(
    streams: &RoomStreams,
    key: &str,
    shown: &str,
    payload: Bytes,
    count: u64,
    head: Option<Head>,
) -> (Result<u64, Refused>, Option<Head>) {
    let started = Instant::now();
    let js = streams.cluster.jetstream();
    let mut head = head;
    while started.elapsed() < RENUMBER_FOR {
        if !streams.cluster.is_up() {
            return (Err(Refused::NotSent), None);
        }
        let known = match head {
            Some(known) => known,
            None => match read_head(streams, key).await {
                Ok(known) => known,
                Err(err) => {
                    tracing::debug!("Cannot read where #{shown} ends: {err}");
                    streams.cluster.jetstream_failed();
                    return (Err(Refused::NotSent), None);
                }
            },
        };
        let mut headers = headers(known.next, known.at);
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            known.at.to_string().as_str(),
        );
        let ack = match js
            .publish_with_headers(subject(key), headers, payload.clone())
            .await
        {
            Ok(ack) => ack,
            Err(err) => {
                tracing::debug!("Cannot publish to #{shown}: {err}");
                return (Err(Refused::NotSent), None);
            }
        };
        let ack = ack.await;
        match &ack {
            Ok(_) => streams.cluster.jetstream_answered(),
            Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {
                streams.cluster.jetstream_answered();
            }
            // No answer: what a move to another server may mend (a refusal would not).
            Err(err) if err.kind() == PublishErrorKind::TimedOut => {
                streams.cluster.jetstream_failed();
            }
            Err(_) => {}
        }
        match ack {
            Ok(ack) => {
                if streams.cluster.replicas() > 1 {
                    match after_twin(streams, key, known, ack.sequence).await {
                        Ok(None) => {}
                        Ok(Some(after)) => {
                            // Another record took these seqs in the same moment and came
                            // first: ours stays where it is, skipped whole by every reader
                            // (removing a subject's last message leaves JetStream 2.9
                            // unable to find the subject's last one), and the bursts are
                            // numbered again right after it.
                            tracing::debug!("A record to #{shown} was numbered twice; again");
                            head = Some(after);
                            continue;
                        }
                        Err(err) => {
                            tracing::debug!("Cannot check a record to #{shown}: {err}");
                            return (Err(Refused::Unconfirmed), None);
                        }
                    }
                }
                let head = Head {
                    at: ack.sequence,
                    next: known.next + count,
                };
                return (Ok(known.next), Some(head));
            }
            Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {
                // Another node's record is the last now; this one was not stored.
                head = None;
            }
            Err(err) => {
                tracing::debug!("NATS did not acknowledge a record: {err}");
                return (Err(Refused::Unconfirmed), None);
            }
        }
    }
    tracing::warn!(
        "Gave up numbering a record to #{shown} after {RENUMBER_FOR:?}: other nodes' records \
         kept coming first"
    );
    (Err(Refused::NotSent), None)
}

/// `None` when our record, at stream sequence `at`, numbered after `known`, counts: no
/// record of the room `key` between took its seqs; otherwise where the room's log ends
/// after ours, which every reader skips (it is numbered like one before it). Read from the
/// stream's leader. With replicas, JetStream (2.9) does not always hold a record to its
/// condition on the subject's last sequence
/// when two come in the same moment, as a NATS cluster regains its quorum (a record the
/// client library sent again after reconnecting, say): both are stored, numbered alike.
/// The first in the stream's order is the one every node delivers.
async fn after_twin(
    streams: &RoomStreams,
    key: &str,
    known: Head,
    at: u64,
) -> Result<Option<Head>, Unavailable> {
    let stream = streams.handle().await?;
    // Where readers stand after the record ours was numbered after, and after the records
    // between: the one that came first, and any numbered after it since.
    let start = Counted::after(known.next - 1);
    let (counted, ours) = count_between(&stream, key, start, known.at + 1, at - 1).await?;
    match ours {
        Some(ours) if ours.at == at => Ok((known.next <= counted.last()).then_some(Head {
            at,
            next: counted.last() + 1,
        })),
        _ => Err(Unavailable(format!(
            "the record at {at} is not in the stream any more"
        ))),
    }
}

/// Where the room `key`'s log ends now: after its last record, or, when the stream holds
/// none, at [`first_seq_of_empty_room`] of the stream's first sequence, read after the
/// room was seen empty.
async fn read_head(streams: &RoomStreams, key: &str) -> Result<Head, Unavailable> {
    let stream = streams.handle().await?;
    if let Some(record) = last_record(&stream, key).await? {
        return Ok(Head {
            at: record.at,
            next: counted_end(&stream, key, &record).await? + 1,
        });
    }
    let info = stream
        .get_info()
        .await
        .map_err(|err| Unavailable(format!("cannot read the rooms' stream: {err}")))?;
    Ok(Head {
        at: 0,
        next: first_seq_of_empty_room(info.state.first_sequence),
    })
}

/// Confirms a stored burst (its last `seq` `last`, its record at stream sequence `at`) once
/// it was delivered here (its echo is in the sender's queue), or after
/// [`crate::cluster::REQUEST_TIMEOUT`], telling the node's reader then that it did not read
/// the record back.
async fn confirm(streams: Arc<RoomStreams>, request: Publish, last: u64, at: u64) {
    if !streams.delivered_here(&request.spoken.room.key, last).await {
        streams.not_read_back(at);
    }
    streams.in_flight.sub(request.spoken.said.len());
    let _ = request.done.send(());
}
