//! One room's delivery to this node's members, and its joins, in one order: the task a
//! room has on each node where it has members, fed the room's records by the node's reader
//! (`reader.rs`).

use std::sync::Arc;

use async_nats::jetstream::{self, stream};
use bytes::BytesMut;
use chat_proto::Backlog;
use tokio::sync::{mpsc, watch};

use super::payload::{first_seq, from_record, Counted};
use super::read::{
    backlog_of, copies_before, counted_end, counted_through, fed_record, last_record, leader_holds,
    next_record, Record,
};
use super::{Feed, JoinRequest, RoomStreams, Unavailable, BATCH_MAX, IDLE_CHECK};
use crate::log::wire::push_message;
use crate::log::{page, Deliveries, Join, Stored};
use crate::room::{JoinedRoom, RoomError};

/// How long a room's task waits to learn where its feed starts (the node's reader opening
/// the stream) before it refuses its joins: NATS is out of reach.
const FEED_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// One room's delivery to this node's members, and its joins, in one order; ends once the
/// room has nobody here.
pub async fn run(
    streams: Arc<RoomStreams>,
    key: Arc<str>,
    mut joins: mpsc::UnboundedReceiver<JoinRequest>,
    mut fed: mpsc::UnboundedReceiver<Feed>,
    delivered: watch::Sender<u64>,
) {
    let anchored = match tokio::time::timeout(FEED_WAIT, fed.recv()).await {
        Ok(Some(Feed::From(read))) => anchor(&streams, &key, read).await,
        _ => Err(Unavailable(
            "the rooms' stream was not read in time".to_owned(),
        )),
    };
    let (mut stream, mut at) = match anchored {
        Ok((stream, last, last_at)) => {
            delivered.send_replace(last);
            (stream, last_at)
        }
        Err(err) => {
            tracing::error!("Cannot open #{key} in the cluster: {err}");
            let mut tasks = streams.tasks();
            tasks.rooms.remove(&key);
            joins.close();
            while let Ok((_, reply)) = joins.try_recv() {
                let _ = reply.send(Err(RoomError::ClusterUnavailable));
            }
            return;
        }
    };
    let mut idle = tokio::time::interval(IDLE_CHECK);
    idle.reset();
    loop {
        let so_far = *delivered.borrow();
        tokio::select! {
            biased;
            join = joins.recv() => {
                if let Some((join, reply)) = join {
                    let joined = serve_join(&streams, &stream, &key, so_far, join).await;
                    let _ = reply.send(joined);
                }
            }
            item = fed.recv() => match item {
                Some(Feed::Record(first)) => {
                    let mut batch = vec![*first];
                    let mut again = None;
                    while batch.len() < BATCH_MAX {
                        match fed.try_recv() {
                            Ok(Feed::Record(more)) => batch.push(*more),
                            Ok(Feed::From(read)) => {
                                again = Some(read);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    deliver_checked(&streams, &stream, &key, batch, &delivered, &mut at).await;
                    if let Some(read) = again {
                        stream = reanchor(&streams, &key, read, &delivered, &mut at)
                            .await
                            .unwrap_or(stream);
                    }
                }
                Some(Feed::From(read)) => {
                    stream = reanchor(&streams, &key, read, &delivered, &mut at)
                        .await
                        .unwrap_or(stream);
                }
                None => return,
            },
            _ = idle.tick() => {
                let mut tasks = streams.tasks();
                if streams.hub.local_members(&key) == 0 && joins.is_empty() {
                    tasks.rooms.remove(&key);
                    return;
                }
            }
        }
    }
}

/// The rooms' stream, the last `seq` of the room `key` among the records up to stream
/// sequence `read`, and a stream sequence at or after that record's and before the next
/// one's: where the room's feed, which holds the records after `read`, begins.
async fn anchor(
    streams: &RoomStreams,
    key: &str,
    read: u64,
) -> Result<(stream::Stream<()>, u64, u64), Unavailable> {
    let stream = streams.handle().await?;
    let (last, at) = match last_record(&stream, key).await? {
        None => (0, read),
        Some(last) if last.at <= read => (counted_end(&stream, key, &last).await?, last.at),
        // Records came after `read`: the room was delivered up to just before the first.
        Some(_) => match next_record(&stream, key, Some(read + 1)).await? {
            // Counted through `read` from the record it was numbered after, when that is
            // up to there (one before it may be its twin, which readers count instead).
            Some(next) => match next.after.filter(|&after| after <= read) {
                Some(after) => (counted_through(&stream, key, after, read).await?, read),
                None => (next.first() - 1, read),
            },
            None => (0, read),
        },
    };
    Ok((stream, last, at))
}

/// Starts the room's delivery again after the node's reader started over at `read` (the
/// stream was wiped): the room is delivered on from its records up to there.
async fn reanchor(
    streams: &RoomStreams,
    key: &str,
    read: u64,
    delivered: &watch::Sender<u64>,
    at: &mut u64,
) -> Option<stream::Stream<()>> {
    match anchor(streams, key, read).await {
        Ok((stream, last, last_at)) => {
            delivered.send_replace(last);
            *at = last_at;
            Some(stream)
        }
        Err(err) => {
            tracing::warn!("Cannot read where #{key} stands after NATS started over: {err}");
            None
        }
    }
}

/// Delivers `batch` (see [`deliver`]) once the stream's leader holds each of its records
/// (with replicas; see [`held_by_leader`]), checking each gap in `seq` with the leader: a
/// gap the stream has (the room's messages aged out, and it started again past them) is
/// delivered across. A record the leader does not hold, or a gap it does not have, means
/// the node's reader was fed by a copy of the stream that is not the cluster's (a NATS
/// server just back from a pause, or from being cut off from the others), and the reader
/// reads again after the last record delivered here (`at`), from where NATS places its
/// consumer anew.
async fn deliver_checked(
    streams: &RoomStreams,
    stream: &stream::Stream<()>,
    key: &str,
    batch: Vec<jetstream::Message>,
    delivered: &watch::Sender<u64>,
    at: &mut u64,
) {
    let mut batch = batch;
    let mut unheld = None;
    if streams.cluster.replicas() > 1 {
        let so_far = *delivered.borrow();
        let (held, unknown) = held_by_leader(stream, &batch, so_far).await;
        if held < batch.len() {
            let first = batch[held]
                .info()
                .map_or(*at + 1, |info| info.stream_sequence);
            unheld = Some((first, unknown));
            batch.truncate(held);
        }
    }
    let mut across = None;
    loop {
        let rest = deliver(&*streams.hub, key, batch, delivered, at, across);
        let Some(first) = rest.first() else {
            break;
        };
        let Ok(gap) = first.info() else {
            tracing::warn!("#{key} was fed a record without its stream sequence: reading again");
            streams.read_again_after(*at);
            return;
        };
        let gap = gap.stream_sequence;
        let last = *delivered.borrow();
        // Records a removal erased before this node read them: their copies fill the gap.
        if let Some(record) = fed_record(first) {
            match copies_before(stream, key, &record, last).await {
                Ok(copies) if copies.first().is_some_and(|copy| copy.first() <= last + 1) => {
                    deliver_copies(&*streams.hub, key, copies, delivered);
                    across = None;
                    batch = rest;
                    continue;
                }
                Ok(_) => {}
                Err(err) => tracing::debug!("Cannot read the copies before a gap in #{key}: {err}"),
            }
        }
        match first_counted_after(stream, key, *at, last).await {
            Ok(Some(next)) if next == gap => {
                across = Some(gap);
                batch = rest;
            }
            found => {
                tracing::warn!(
                    "#{key} was fed a record (stream seq {gap}) after a gap in its seqs that the \
                     stream's leader does not have ({found:?}): reading again after {at}"
                );
                streams.read_again_after(*at);
                return;
            }
        }
    }
    // Every record of the room before the one not held was delivered (or skipped), so the
    // reader need not go back further than just before it.
    let Some((unheld, unknown)) = unheld else {
        return;
    };
    let from = unheld.saturating_sub(1);
    match unknown {
        None => tracing::warn!(
            "#{key} was fed a record (stream seq {unheld}) that the stream's leader does not \
             hold as fed: reading again after {from}"
        ),
        Some(err) => tracing::debug!(
            "Cannot check #{key}'s record at stream seq {unheld} with the stream's leader \
             ({err}): reading again after {from}"
        ),
    }
    streams.read_again_after(from);
}

/// How many of a batch's records are checked with the stream's leader at once.
const CHECKS_AT_ONCE: usize = 16;

/// How many of `batch`'s first records the stream's leader holds as fed (see
/// [`leader_holds`]), which may be delivered, and the error that stopped the count, if
/// one did: the reader reads the rest again. Every record that would be delivered is
/// checked, at the cost of one get of the leader per record per node, since a copy that
/// diverged feeds records under stream sequences and `seq`s that look right; one whose
/// messages were all delivered here (`delivered`, the last `seq`), which delivery skips,
/// is not (after a reader reads again, most of what it is fed is such).
async fn held_by_leader(
    stream: &stream::Stream<()>,
    batch: &[jetstream::Message],
    delivered: u64,
) -> (usize, Option<Unavailable>) {
    let mut held = 0;
    for some in batch.chunks(CHECKS_AT_ONCE) {
        let checks: Vec<_> = some
            .iter()
            .map(|message| {
                let check =
                    (!was_delivered(message, delivered)).then(|| leader_holds(stream, message));
                futures::future::OptionFuture::from(check)
            })
            .collect();
        for check in futures::future::join_all(checks).await {
            match check.unwrap_or(Ok(true)) {
                Ok(true) => held += 1,
                Ok(false) => return (held, None),
                Err(err) => return (held, Some(err)),
            }
        }
    }
    (held, None)
}

/// Whether every message of the record `message` was delivered here, `delivered` being the
/// last `seq` delivered: delivery skips it whole. Read from its headers alone; delivery
/// reads its payload.
fn was_delivered(message: &jetstream::Message, delivered: u64) -> bool {
    first_seq(message.headers.as_ref())
        .is_some_and(|first| !Counted::after(delivered).counts(first))
}

/// The stream sequence of the room `key`'s first record after stream sequence `at` that
/// counts after `last` (its first `seq` is past `last`; records numbered like earlier ones
/// are skipped), read from the stream's leader; `None` when there is none.
async fn first_counted_after(
    stream: &stream::Stream<()>,
    key: &str,
    at: u64,
    last: u64,
) -> Result<Option<u64>, Unavailable> {
    let mut from = at + 1;
    while let Some(record) = next_record(stream, key, Some(from)).await? {
        if Counted::after(last).counts(record.first()) {
            return Ok(Some(record.at));
        }
        from = record.at + 1;
    }
    Ok(None)
}

/// Encodes the messages of `batch` not yet delivered once, as one queue entry for every
/// member here, and records how far the room was delivered (`seq` in `delivered`, stream
/// sequence in `at`). Stops before a record whose first `seq` leaves a gap after the last
/// delivered (unless it is the one at stream sequence `across`, a gap the stream has) and
/// returns it with the records after it, undelivered.
fn deliver(
    hub: &dyn Deliveries,
    key: &str,
    batch: Vec<jetstream::Message>,
    delivered: &watch::Sender<u64>,
    at: &mut u64,
    across: Option<u64>,
) -> Vec<jetstream::Message> {
    // With nobody here any more the messages go to no one, but still count as delivered:
    // a join that comes next is cut after them.
    let shown = hub.room_name(key).unwrap_or_else(|| key.into());
    let mut wire = BytesMut::new();
    let mut messages = 0;
    let mut last = *delivered.borrow();
    let mut rest = Vec::new();
    let mut batch = batch.into_iter();
    while let Some(message) = batch.next() {
        let Some(record) = from_record(message.headers.as_ref(), &message.payload) else {
            tracing::warn!("Dropped a record in #{shown} that is not one");
            continue;
        };
        let Some(first) = record.first().map(|stored| stored.seq) else {
            continue;
        };
        // A record numbered like an earlier one is skipped whole: its sender had it
        // numbered again, after the one that came first.
        if !Counted::after(last).counts(first) {
            continue;
        }
        let stream_seq = message.info().map_or(*at, |info| info.stream_sequence);
        if last > 0 && first > last + 1 && across != Some(stream_seq) {
            rest.push(message);
            rest.extend(batch);
            break;
        }
        push_new(&mut wire, &shown, record, &mut last, &mut messages);
        *at = stream_seq;
    }
    if !wire.is_empty() {
        hub.deliver(key, Arc::new(wire.freeze()), messages);
    }
    delivered.send_replace(last);
    rest
}

/// Delivers what `copies` (of records a removal erased before this node read them, oldest
/// first) hold past the last `seq` delivered here.
fn deliver_copies(
    hub: &dyn Deliveries,
    key: &str,
    copies: Vec<Record>,
    delivered: &watch::Sender<u64>,
) {
    let shown = hub.room_name(key).unwrap_or_else(|| key.into());
    let mut wire = BytesMut::new();
    let mut messages = 0;
    let mut last = *delivered.borrow();
    for copy in copies {
        let new: Vec<Stored> = copy
            .messages
            .into_iter()
            .filter(|stored| stored.seq > last)
            .collect();
        push_new(&mut wire, &shown, new, &mut last, &mut messages);
    }
    if !wire.is_empty() {
        hub.deliver(key, Arc::new(wire.freeze()), messages);
    }
    delivered.send_replace(last);
}

/// Appends `stored` (messages after `last`, in order) to `wire` as members get them,
/// counting the frames in `messages` and moving `last` past them.
fn push_new(
    wire: &mut BytesMut,
    shown: &str,
    stored: Vec<Stored>,
    last: &mut u64,
    messages: &mut usize,
) {
    for stored in stored {
        *last = stored.seq;
        match push_message(wire, shown, stored) {
            Ok(true) => *messages += 1,
            Ok(false) => {}
            Err(err) => tracing::error!("Cannot encode a message to #{shown}: {err}"),
        }
    }
}

/// Serves a join in the room task's order: everything up to `cut` was delivered here and
/// nothing after it, so the backlog ends at `cut`.
async fn serve_join(
    streams: &RoomStreams,
    stream: &stream::Stream<()>,
    key: &str,
    cut: u64,
    join: Join,
) -> Result<JoinedRoom, RoomError> {
    // Read before the join, which queues it right after `Joined`: this task delivers
    // nothing meanwhile, so the backlog still ends where the live messages begin.
    let backlog = match join.backlog {
        Backlog::None => None,
        backlog => Some(
            backlog_of(
                stream,
                key,
                &join.room,
                backlog,
                cut,
                streams.retention.keep_per_room,
            )
            .await
            .unwrap_or_else(|err| {
                tracing::error!("Cannot read the backlog of #{key}: {err}");
                page::unreadable_backlog(&join.room)
            }),
        ),
    };
    streams.hub.join(&join.name, &join.room, join.at, backlog)
}
