//! Room messages across nodes: each room's log is a JetStream stream, and every node
//! delivers to its own members what it reads back from it.
//!
//! ```text
//!  node A: ann says hi ──► publish chat.room.<hex room> ──► stream CHAT_ROOM_<hex room>
//!                                                               │ seq 41 (the room's seq)
//!  node A: consumer of the room ◄──────────────────────────────┤
//!          └► hub.deliver: ann, and A's other members           │
//!  node B: consumer of the room ◄──────────────────────────────┘
//!          └► hub.deliver: B's members
//! ```
//!
//! **One order, one seq.** A room's stream orders its messages, and its sequence numbers
//! them: the `seq` every member sees, on every node. A node runs one task per room with
//! members here ([`RoomTask`]), reading the stream with an ordered consumer (which starts
//! again where it stopped after a NATS outage), so it delivers in stream order; a
//! message is carried to a node once, however many members it has there, and encoded once
//! for all of them. Messages the consumer has ready together go out as one queue entry.
//!
//! **Joins** go through the room's task, in its order: when the task takes a join, the
//! messages delivered so far are exactly those up to its cut, so the backlog it reads
//! (up to the cut) and the live messages after meet exactly, as with the disk log.
//!
//! **Senders.** One publisher task takes every burst in the order connections submit them
//! and publishes each message, so one client's messages keep their order. Its echo comes
//! back through the consumer like everyone's; the burst is confirmed once the room's task
//! has delivered its last `seq` here. While NATS is away a message is refused at once with
//! `ClusterUnavailable`: no node keeps a history of its own that would diverge. A message
//! handed to NATS just as the link broke is refused too, saying that it was not confirmed:
//! the client library may still send it once NATS is back, and then everyone gets it.
//!
//! **History** is the stream: any node reads any room's messages, whoever was there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, stream};
use bytes::{Bytes, BytesMut};
use chat_proto::codec::encode;
use chat_proto::{Backlog, Cursor, ErrorKind, Millis, ServerFrame};
use futures::{FutureExt, StreamExt, TryStreamExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::Cluster;
use crate::config::StoreConfig;
use crate::hub::{Hub, RoomError, Spoken};
use crate::log::{Page, StoreError, Stored};
use crate::outbox::Outbox;
use crate::room_log::{catch_up, shape, with_missed, InFlight, Join, PAGE_MAX};

/// How many stream messages a page reads from NATS at once.
const READS_AT_ONCE: usize = 32;

/// Messages delivered at most as one queue entry: those the consumer has ready together.
const BATCH_MAX: usize = 64;

/// How often a room's task checks whether it still has members here.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The pause before a room's task reads its stream again after the consumer failed.
const CONSUMER_RETRY: Duration = Duration::from_millis(250);

/// A room's stream. A room's key may hold characters a stream name or a subject may not,
/// so it goes in hex.
fn stream_name(key: &str) -> String {
    format!("CHAT_ROOM_{}", hex(key))
}

/// The subject a room's messages are published on.
fn subject(key: &str) -> String {
    format!("chat.room.{}", hex(key))
}

fn hex(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A message as stored in a room's stream: sender, time, text, one line each. Names hold no
/// newline and the text comes last, so nothing needs escaping.
fn to_payload(from: &str, at: Millis, text: &str) -> Bytes {
    Bytes::from(format!("{from}\n{at}\n{text}"))
}

/// Reads [`to_payload`]'s form; `None` for anything else on the subject.
fn from_payload(seq: u64, payload: &[u8]) -> Option<Stored> {
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

/// Why the room's stream could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

impl From<Unavailable> for StoreError {
    fn from(err: Unavailable) -> StoreError {
        StoreError::Cluster(err.0)
    }
}

/// The rooms' streams, and the tasks that deliver them to this node's members.
#[derive(Debug)]
pub struct RoomStreams {
    /// The link to NATS.
    cluster: Arc<Cluster>,
    /// Where messages are delivered.
    hub: Arc<Hub>,
    /// `[store] keep_per_room` and `max_age`, as each stream's limits.
    retention: StoreConfig,
    /// Room key → its task, for each room with members here.
    tasks: Mutex<HashMap<Arc<str>, RoomTask>>,
    /// The publisher task's queue.
    publish: mpsc::UnboundedSender<Publish>,
    /// Messages submitted and not yet acknowledged.
    in_flight: Arc<InFlight>,
}

/// The handle of a room's task.
#[derive(Debug)]
struct RoomTask {
    /// Joins, served in the task's order.
    joins: mpsc::UnboundedSender<Join>,
    /// The last `seq` delivered here.
    delivered: watch::Receiver<u64>,
}

/// A burst for the publisher.
#[derive(Debug)]
struct Publish {
    spoken: Spoken,
    sender: Outbox,
    done: oneshot::Sender<()>,
}

impl RoomStreams {
    /// Starts the publisher; room tasks start with their rooms' first joins here.
    pub fn start(
        cluster: Arc<Cluster>,
        hub: Arc<Hub>,
        retention: StoreConfig,
        in_flight: Arc<InFlight>,
    ) -> Arc<RoomStreams> {
        let (publish, queue) = mpsc::unbounded_channel();
        let streams = Arc::new(RoomStreams {
            cluster,
            hub,
            retention,
            tasks: Mutex::default(),
            publish,
            in_flight,
        });
        tokio::spawn(publisher(Arc::clone(&streams), queue));
        streams
    }

    fn tasks(&self) -> MutexGuard<'_, HashMap<Arc<str>, RoomTask>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Submits a burst; the receiver completes once it was delivered here (or refused).
    pub fn append(&self, spoken: Spoken, sender: &Outbox) -> oneshot::Receiver<()> {
        let (done, confirmed) = oneshot::channel();
        self.in_flight.add(spoken.said.len());
        let request = Publish {
            spoken,
            sender: sender.clone(),
            done,
        };
        if let Err(mpsc::error::SendError(request)) = self.publish.send(request) {
            self.in_flight.sub(request.spoken.said.len());
        }
        confirmed
    }

    /// Submits `join` to its room's task, starting it if the room has nobody here yet.
    pub fn join(self: &Arc<Self>, join: Join) {
        let key: Arc<str> = chat_proto::validate::room_key(&join.room).into();
        let mut tasks = self.tasks();
        let request = match tasks.get(&key) {
            Some(task) => match task.joins.send(join) {
                Ok(()) => return,
                Err(mpsc::error::SendError(join)) => join,
            },
            None => join,
        };
        let (joins, queue) = mpsc::unbounded_channel();
        let (delivered_tx, delivered) = watch::channel(0);
        let _ = joins.send(request);
        tasks.insert(key.clone(), RoomTask { joins, delivered });
        drop(tasks);
        tokio::spawn(room_task(Arc::clone(self), key, queue, delivered_tx));
    }

    /// One page of the room with key `key`, named `shown` in the answer.
    pub fn page(
        self: &Arc<Self>,
        key: String,
        shown: String,
        from: Cursor,
        limit: u32,
    ) -> tokio::task::JoinHandle<Result<ServerFrame, StoreError>> {
        let streams = Arc::clone(self);
        let limit = (limit as usize).min(PAGE_MAX);
        tokio::spawn(async move {
            let Some(stream) = streams.existing(&key).await? else {
                return Ok(shape(Page::default(), &shown, from, false));
            };
            // Its bounds came with it.
            let state = stream.cached_info().state.clone();
            let page = read(&stream, &state, from, limit, None).await?;
            Ok(shape(page, &shown, from, false))
        })
    }

    /// The room's stream if it was ever made: reading a room nobody spoke in makes none.
    async fn existing(&self, key: &str) -> Result<Option<stream::Stream>, Unavailable> {
        match self.cluster.jetstream().get_stream(stream_name(key)).await {
            Ok(stream) => Ok(Some(stream)),
            Err(err)
                if matches!(
                    err.kind(),
                    jetstream::context::GetStreamErrorKind::JetStream(e)
                        if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(Unavailable(format!("cannot read the room's stream: {err}"))),
        }
    }

    /// The room's stream, made with this node's limits if no node made it yet (a stream's
    /// limits are those of the node that made it).
    async fn stream(&self, key: &str) -> Result<stream::Stream, Unavailable> {
        if !self.cluster.is_up() {
            return Err(Unavailable("NATS is out of reach".to_owned()));
        }
        let config = stream::Config {
            name: stream_name(key),
            description: Some(format!("chat-server: the messages of #{key}")),
            subjects: vec![subject(key)],
            max_messages: self
                .retention
                .keep_per_room
                .and_then(|keep| i64::try_from(keep).ok())
                .unwrap_or(-1),
            max_age: self.retention.max_age.unwrap_or_default(),
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            allow_direct: true,
            num_replicas: 1,
            ..Default::default()
        };
        self.cluster
            .jetstream()
            .get_or_create_stream(config)
            .await
            .map_err(|err| Unavailable(format!("cannot open the room's stream: {err}")))
    }

    /// The last `seq` delivered here in the room with key `key`, while it has a task.
    fn delivered(&self, key: &str) -> Option<watch::Receiver<u64>> {
        self.tasks().get(key).map(|task| task.delivered.clone())
    }

    /// Whether so many messages wait for NATS that connections should stop reading.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }
}

/// Reads one page from `stream`, whose bounds `state` was read just now, at most `limit`
/// messages (0: none, only whether there are any), no later than `cut` when given: the
/// semantics of [`crate::log::Store::read`].
async fn read(
    stream: &stream::Stream,
    state: &stream::State,
    from: Cursor,
    limit: usize,
    cut: Option<u64>,
) -> Result<Page, Unavailable> {
    if state.messages == 0 {
        return Ok(Page::default());
    }
    let first = state.first_sequence;
    let last = cut.map_or(state.last_sequence, |cut| cut.min(state.last_sequence));
    let want = limit.max(1) as u64;
    let (lo, hi, older) = match from {
        Cursor::Latest => {
            let lo = (last + 1).saturating_sub(want).max(first);
            (lo, last, true)
        }
        Cursor::Before(seq) => {
            let hi = seq.saturating_sub(1).min(last);
            let lo = (hi + 1).saturating_sub(want).max(first);
            (lo, hi, true)
        }
        Cursor::After(seq) => {
            let lo = seq.saturating_add(1).max(first);
            let hi = lo.saturating_add(want - 1).min(last);
            (lo, hi, false)
        }
    };
    if lo > hi {
        return Ok(Page::default());
    }
    let more = if older { lo > first } else { hi < last };
    if limit == 0 {
        return Ok(Page {
            messages: Vec::new(),
            more: true,
        });
    }
    let messages: Vec<Option<Stored>> = futures::stream::iter(lo..=hi)
        .map(|seq| async move {
            match stream.direct_get(seq).await {
                Ok(message) => Ok(from_payload(message.sequence, &message.payload)),
                Err(err) if err.kind() == jetstream::stream::DirectGetErrorKind::NotFound => {
                    // Trimmed since the bounds were read.
                    Ok(None)
                }
                Err(err) => Err(Unavailable(format!("cannot read a message: {err}"))),
            }
        })
        .buffered(READS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(Page {
        messages: messages.into_iter().flatten().collect(),
        more,
    })
}

/// What became of a burst that did not all get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Not handed to NATS at all (it was away): nobody gets it.
    NotSent,
    /// Handed to NATS, which did not acknowledge it in time: the link broke meanwhile, and
    /// the client library may still deliver it once NATS is back.
    Unconfirmed,
}

/// What the sender of a burst that did not all get through is told.
fn unavailable_frame(refused: Refused) -> Option<chat_proto::EncodedFrame> {
    let detail = match refused {
        Refused::NotSent => {
            "the server cannot reach the rest of its cluster, so your message was sent to \
             nobody: try again later"
        }
        Refused::Unconfirmed => {
            "the server lost the rest of its cluster as your message went out: it did not \
             confirm it, so it may reach the room once the cluster is back, or not at all"
        }
    };
    encode(&ServerFrame::Error {
        kind: ErrorKind::ClusterUnavailable,
        detail: detail.to_owned(),
    })
    .ok()
}

/// Publishes every burst in the order submitted; a second task waits for the
/// acknowledgements, in the same order, so publishing never waits for one.
async fn publisher(streams: Arc<RoomStreams>, mut queue: mpsc::UnboundedReceiver<Publish>) {
    let (acks_tx, acks) = mpsc::unbounded_channel();
    tokio::spawn(acknowledger(Arc::clone(&streams), acks));
    let js = streams.cluster.jetstream().clone();
    while let Some(request) = queue.recv().await {
        let started = Instant::now();
        let mut acks = Vec::with_capacity(request.spoken.said.len());
        let mut failed = (!streams.cluster.is_up()).then_some(Refused::NotSent);
        if failed.is_none() {
            let subject = subject(&request.spoken.room.key);
            for said in &request.spoken.said {
                let payload = to_payload(&request.spoken.from, said.at, &said.text);
                match js.publish(subject.clone(), payload).await {
                    Ok(ack) => acks.push(ack),
                    Err(err) => {
                        tracing::debug!("Cannot publish to #{}: {err}", request.spoken.room.name);
                        // Those before it were handed over; this one and the rest were not.
                        failed = Some(if acks.is_empty() {
                            Refused::NotSent
                        } else {
                            Refused::Unconfirmed
                        });
                        break;
                    }
                }
            }
        }
        let _ = acks_tx.send((request, acks, failed, started));
    }
}

/// Waits for each burst's acknowledgements, then for its delivery here, then confirms it;
/// a sender whose message NATS did not take is told `ClusterUnavailable`.
async fn acknowledger(
    streams: Arc<RoomStreams>,
    mut acks: mpsc::UnboundedReceiver<(
        Publish,
        Vec<jetstream::context::PublishAckFuture>,
        Option<Refused>,
        Instant,
    )>,
) {
    let mut failing = false;
    while let Some((request, futures, mut failed, started)) = acks.recv().await {
        let mut last = None;
        for ack in futures {
            match ack.await {
                Ok(ack) => last = Some(ack.sequence),
                Err(err) => {
                    tracing::debug!("NATS did not acknowledge a message: {err}");
                    failed = Some(Refused::Unconfirmed);
                }
            }
        }
        if failed.is_none() && last.is_some() {
            // Stored by JetStream: the cluster's commit of the burst, as a SQLite
            // transaction is a single node's.
            streams.hub.metrics().store_committed(started.elapsed());
        }
        let key = &request.spoken.room.key;
        if let (Some(seq), Some(mut delivered)) = (last, streams.delivered(key)) {
            let _ = tokio::time::timeout(
                super::REQUEST_TIMEOUT,
                delivered.wait_for(|delivered| *delivered >= seq),
            )
            .await;
        }
        if let Some(refused) = failed {
            if !failing {
                tracing::error!(
                    "Cannot publish room messages to NATS: their senders are told the \
                     cluster is unavailable"
                );
            }
            if let Some(refusal) = unavailable_frame(refused) {
                request.sender.offer(refusal);
            }
        } else if failing {
            tracing::info!("Room messages reach NATS again");
        }
        failing = failed.is_some();
        streams.in_flight.sub(request.spoken.said.len());
        let _ = request.done.send(());
    }
}

/// One room's delivery to this node's members, and its joins, in one order; ends once the
/// room has nobody here.
async fn room_task(
    streams: Arc<RoomStreams>,
    key: Arc<str>,
    mut joins: mpsc::UnboundedReceiver<Join>,
    delivered: watch::Sender<u64>,
) {
    // Where it stands came with it.
    let opened = streams.stream(&key).await.map(|stream| {
        let last = stream.cached_info().state.last_sequence;
        (stream, last)
    });
    let (mut stream, last) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            tracing::error!("Cannot open #{key} in the cluster: {err}");
            let mut tasks = streams.tasks();
            tasks.remove(&key);
            joins.close();
            while let Ok(join) = joins.try_recv() {
                let _ = join.reply.send(Err(RoomError::ClusterUnavailable));
            }
            return;
        }
    };
    delivered.send_replace(last);
    let mut messages = None;
    let mut again = false;
    let mut ups = streams.cluster.ups();
    let mut idle = tokio::time::interval(IDLE_CHECK);
    idle.reset();
    loop {
        if messages.is_none() && again {
            // After NATS came back or the consumer failed: the stream is made anew if NATS
            // lost it; one that ends below what was delivered was wiped, and is read from
            // its start.
            if let Ok(anew) = streams.stream(&key).await {
                stream = anew;
                let info = stream.cached_info();
                if info.state.last_sequence < *delivered.borrow() {
                    tracing::warn!(
                        "The log of #{key} in NATS is behind what was delivered (it was \
                         wiped?): reading it from seq {}",
                        info.state.first_sequence
                    );
                    delivered.send_replace(info.state.first_sequence.saturating_sub(1));
                }
            }
        }
        if messages.is_none() {
            again = true;
            let from = *delivered.borrow() + 1;
            messages = consume(&stream, from).await;
        }
        let so_far = *delivered.borrow();
        tokio::select! {
            biased;
            join = joins.recv() => {
                if let Some(join) = join {
                    serve_join(&streams, &stream, &key, so_far, join).await;
                }
            }
            next = next_message(&mut messages) => match next {
                Some(Ok(first)) => {
                    let mut batch = vec![first];
                    while batch.len() < BATCH_MAX {
                        match messages.as_mut().and_then(|m| m.next().now_or_never()) {
                            Some(Some(Ok(more))) => batch.push(more),
                            _ => break,
                        }
                    }
                    deliver(&streams.hub, &key, batch, &delivered);
                }
                Some(Err(err)) => {
                    tracing::debug!("Reading #{key} from NATS: {err}");
                }
                None => {
                    messages = None;
                    tokio::time::sleep(CONSUMER_RETRY).await;
                }
            },
            Ok(()) = ups.changed() => {
                // NATS is back: its consumer may be gone; read on from what was delivered.
                messages = None;
            }
            _ = idle.tick() => {
                let mut tasks = streams.tasks();
                if streams.hub.local_members(&key) == 0 && joins.is_empty() {
                    tasks.remove(&key);
                    return;
                }
            }
        }
    }
}

/// The stream's messages from `start` on, in order, or `None` when NATS does not answer.
async fn consume(stream: &stream::Stream, start: u64) -> Option<pull::Ordered> {
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await;
    match consumer {
        Ok(consumer) => consumer.messages().await.ok(),
        Err(err) => {
            tracing::debug!("Cannot read a room's stream: {err}");
            None
        }
    }
}

/// The next message of `messages`; `None` when there is no consumer or it ended.
async fn next_message(
    messages: &mut Option<pull::Ordered>,
) -> Option<Result<jetstream::Message, async_nats::Error>> {
    match messages {
        Some(messages) => messages
            .next()
            .await
            .map(|next| next.map_err(async_nats::Error::from)),
        None => {
            tokio::time::sleep(CONSUMER_RETRY).await;
            None
        }
    }
}

/// Encodes `batch` once, as one queue entry for every member here, and records how far
/// the room was delivered.
fn deliver(hub: &Hub, key: &str, batch: Vec<jetstream::Message>, delivered: &watch::Sender<u64>) {
    // With nobody here any more the messages go to no one, but still count as delivered:
    // a join that comes next is cut after them.
    let shown = hub.room_name(key).unwrap_or_else(|| key.into());
    let mut wire = BytesMut::new();
    let mut messages = 0;
    let mut last = *delivered.borrow();
    for message in batch {
        let Ok(info) = message.info() else {
            continue;
        };
        let seq = info.stream_sequence;
        if seq <= last {
            continue;
        }
        last = seq;
        let Some(stored) = from_payload(seq, &message.payload) else {
            tracing::warn!("Dropped a message in #{shown} that is not one (seq {seq})");
            continue;
        };
        match encode(&ServerFrame::Msg {
            room: shown.to_string(),
            from: stored.from,
            text: stored.text,
            at: stored.at,
            seq,
        }) {
            Ok(frame) => {
                wire.extend_from_slice(frame.as_bytes());
                messages += 1;
            }
            Err(err) => tracing::error!("Cannot encode a message to #{shown}: {err}"),
        }
    }
    if !wire.is_empty() {
        hub.deliver(key, Arc::new(wire.freeze()), messages);
    }
    delivered.send_replace(last);
}

/// Serves a join in the room task's order: everything up to `cut` was delivered here and
/// nothing after it, so the backlog ends at `cut`.
async fn serve_join(
    streams: &RoomStreams,
    stream: &stream::Stream,
    key: &str,
    cut: u64,
    join: Join,
) {
    // Read before the join, which queues it right after `Joined`: this task delivers
    // nothing meanwhile, so the backlog still ends where the live messages begin.
    let joined = match join.backlog {
        Backlog::None => streams.hub.join(&join.name, &join.room, join.at),
        backlog => {
            let frame = backlog_of(stream, &join.room, backlog, cut)
                .await
                .unwrap_or_else(|err| {
                    tracing::error!("Cannot read the backlog of #{key}: {err}");
                    crate::room_log::unreadable_backlog(&join.room)
                });
            streams
                .hub
                .join_with_backlog(&join.name, &join.room, join.at, frame)
        }
    };
    let _ = join.reply.send(joined);
}

/// The backlog `backlog` (not `None`) of the room `shown`, up to `cut`: the latest N, or
/// what came after a seq (the latest when that is past what is kept). One read of the
/// stream's bounds serves both.
async fn backlog_of(
    stream: &stream::Stream,
    shown: &str,
    backlog: Backlog,
    cut: u64,
) -> Result<ServerFrame, Unavailable> {
    let state = stream
        .get_info()
        .await
        .map_err(|err| Unavailable(format!("cannot read the room's stream: {err}")))?
        .state;
    let (from, limit, missed) = match backlog {
        Backlog::After(seq) => {
            let (from, missed) = catch_up(seq, state.first_sequence, cut);
            (from, PAGE_MAX, missed)
        }
        Backlog::Latest(n) => (Cursor::Latest, (n as usize).min(PAGE_MAX), false),
        Backlog::None => (Cursor::Latest, 0, false),
    };
    let page = read(stream, &state, from, limit, Some(cut)).await?;
    Ok(with_missed(shape(page, shown, from, true), missed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message reads back as stored, with newlines kept in its text's place.
    #[test]
    fn a_message_reads_back_as_stored() {
        let payload = to_payload("Ann", 1_700_000_000_123, "hi: 1 2\t3");
        assert_eq!(
            from_payload(9, &payload),
            Some(Stored {
                seq: 9,
                from: "Ann".into(),
                text: "hi: 1 2\t3".into(),
                at: 1_700_000_000_123,
            })
        );
        assert_eq!(from_payload(1, b"ann\nnot a time\nhi"), None);
        assert_eq!(stream_name("go.dev"), "CHAT_ROOM_676f2e646576");
    }
}
