//! The `jetstream` room log, for a cluster: every room's log is a subject of one JetStream
//! stream, and every node delivers to its own members what it reads back from it.
//!
//! ```text
//!  node A: ann says hi ──► publish chat.log.<hex room>, Chat-Seq: 41, ──► stream CHAT_ROOMS
//!                          if the room's last record is still stream seq 907  │ seq 912
//!  node A: its one reader of chat.log.* ◄───────────────────────────────────┤
//!          └► the room's task ► deliver : ann, and A's other members         │
//!  node B: its one reader of chat.log.* ◄───────────────────────────────────┘
//!          └► the room's task ► deliver : B's members
//! ```
//!
//! **What a room costs NATS.** One stream holds every room, and each node reads it with
//! one consumer, so a room costs NATS only the records it keeps (`[store] keep_per_room` as
//! the stream's limit per subject, `max_age`); a room whose records all aged out, or that
//! never had any, costs it nothing. (A stream per room, the earlier design, cost
//! nats-server about 150 kB per room ever made, and a consumer per room with members about
//! 47 kB more while it lived.) The price: every node reads every room's records.
//!
//! **One order, one seq.** A record is a sender's burst, or the bursts of a room that
//! waited together for the one before (up to 64 messages); its header carries the room's
//! `seq` of its first message, the rest follow densely. A node publishes a room's record
//! only on the condition that the room's last record in the stream is the one it numbered
//! after (`Nats-Expected-Last-Subject-Sequence`): when another node's record came first,
//! NATS refuses it and it is numbered again, so seqs are dense and never given twice, on
//! every node. (JetStream 2.9 with replicas does not always hold a record to that
//! condition; `publish.rs` says what the node does about it, and every reader skips whole a
//! record whose first `seq` was already delivered.) A room's records are published one at
//! a time per node (the next waits for the acknowledgement that fixes its seqs, gathering
//! what came meanwhile); rooms go side by side. A node reads the stream with one consumer,
//! asked for on the stream's leader when it has replicas (`reader.rs`; it starts again where it
//! stopped after a NATS outage, a missed heartbeat, or a record stored here and not read
//! back in time) and hands each record to the task of its room, for
//! each room with members here (`RoomTask`), so a room is delivered in stream order; a
//! message is carried to a node once, however many members it has there, and encoded once
//! for all of them. Records the consumer has ready together go out as one
//! queue entry. A room whose records all aged out starts again past every `seq` it had
//! (see `payload::first_seq_of_empty_room`), so a returning client is told it missed them.
//!
//! **Joins** go through the room's task, in its order: when the task takes a join, the
//! messages delivered so far are exactly those up to its cut, so the backlog it reads
//! (up to the cut) and the live messages after meet exactly, as with the `sqlite` log.
//!
//! **Senders.** The publisher takes every burst in the order connections submit them, so
//! one client's messages to a room keep their order. Its echo comes back through the
//! consumer like everyone's; the burst is confirmed once the room's task has delivered its
//! last `seq` here. While NATS is away a message is refused at once with
//! `ClusterUnavailable`: no node keeps a history of its own that would diverge. A message
//! handed to NATS just as the link broke is refused too, saying that it was not confirmed:
//! the client library may still send it once NATS is back, and then everyone gets it.
//!
//! **History** is the stream: any node reads any room's messages, whoever was there. A
//! page finds its first record by a binary search over the stream's sequence by subject
//! (`read.rs`), and at most `keep_per_room` of the latest messages are ever shown, whatever
//! the records hold.
//!
//! The files: `payload.rs` (the stream, the subjects and the stored form of a record),
//! `read.rs` (pages and backlogs from a room's records), `publish.rs` (senders' bursts to
//! NATS and their acknowledgements), `reader.rs` (the node's one consumer, feeding the room
//! tasks), `room_task.rs` (one room's delivery and joins on this node), `change.rs` (a
//! message removal: a record in the room's order, and the removed text erased).

mod change;
mod payload;
mod publish;
mod read;
mod reader;
mod room_task;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use chat_proto::Cursor;
use tokio::sync::{mpsc, oneshot, watch};

use crate::cluster::Cluster;
use crate::config::StoreConfig;
use crate::log::page::{self, PAGE_MAX};
use crate::log::{
    Deliveries, InFlight, Join, Joining, Page, PageRead, RoomLog, Spoken, StoreError,
};
use crate::outbox::Outbox;
use crate::room::{JoinedRoom, RoomError};
use payload::{KEPT_SUBJECTS, STREAM, SUBJECTS};
use publish::Publish;

/// Messages delivered at most as one queue entry: those the consumer has ready together.
const BATCH_MAX: usize = 64;

/// How often a room's task checks whether it still has members here.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The pause before the node's reader makes its consumer again after it failed.
const CONSUMER_RETRY: Duration = Duration::from_millis(250);

/// Why the room's stream could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

impl From<Unavailable> for StoreError {
    fn from(err: Unavailable) -> StoreError {
        StoreError::Cluster(err.0)
    }
}

/// The history of a cluster: the rooms' streams in NATS; cheap to share.
#[derive(Debug, Clone)]
pub struct JetStreamLog {
    /// What the publisher and the room tasks share.
    streams: Arc<RoomStreams>,
}

/// A join with where its answer goes, as a room's task takes it.
type JoinRequest = (Join, oneshot::Sender<Result<JoinedRoom, RoomError>>);

/// The rooms' streams, and the tasks that deliver them to this node's members.
#[derive(Debug)]
struct RoomStreams {
    /// The link to NATS.
    cluster: Arc<Cluster>,
    /// Where messages are delivered.
    hub: Arc<dyn Deliveries>,
    /// `[store] keep_per_room` and `max_age`, as the stream's limits.
    retention: StoreConfig,
    /// The room tasks and how far the node's reader has fed them.
    tasks: Mutex<Tasks>,
    /// The publisher task's queue.
    publish: mpsc::UnboundedSender<Publish>,
    /// Messages submitted and not yet acknowledged.
    in_flight: InFlight,
    /// Wakes the node's reader to read anew: a record this node stored was not read back
    /// in time (its consumer may be alive on a server that no longer gets the stream's
    /// records), or a room's task asked it to read again ([`Tasks::rewind`]).
    unread: tokio::sync::Notify,
    /// The stream sequence of the latest record this node stored and did not read back in
    /// time: the reader reads anew only while it has not read that far.
    unread_at: std::sync::atomic::AtomicU64,
}

/// The handle of a room's task.
#[derive(Debug)]
struct RoomTask {
    /// Joins, served in the task's order.
    joins: mpsc::UnboundedSender<JoinRequest>,
    /// The last `seq` delivered here.
    delivered: watch::Receiver<u64>,
    /// Where the node's reader sends the room's records.
    feed: mpsc::UnboundedSender<Feed>,
}

/// What the node's reader sends a room's task.
#[derive(Debug)]
enum Feed {
    /// Every record of the room up to this stream sequence was read before the task was fed;
    /// every later one comes in its feed. The task's first item, and again if the reader
    /// starts over (the stream was wiped).
    From(u64),
    /// A record of the room, in stream order.
    Record(Box<jetstream::Message>),
}

/// The room tasks, and how far the node's reader has read the stream: kept under one lock,
/// so that a task that starts is fed exactly the records read after it was added.
#[derive(Debug, Default)]
struct Tasks {
    /// Room key → its task, for each room with members here.
    rooms: HashMap<Arc<str>, RoomTask>,
    /// The stream sequence the reader has read up to; `None` until it first reads.
    read: Option<u64>,
    /// When the rooms' stream the reader reads was made: a stream made anew (wiped) is
    /// read from its start; the same stream said to end before what was read was answered
    /// for by a server not caught up yet.
    created: Option<async_nats::datetime::DateTime>,
    /// Where a room's task asked the reader to read again after (see
    /// [`RoomStreams::read_again_after`]); taken by the reader.
    rewind: Option<u64>,
}

impl JetStreamLog {
    /// Starts the publisher over `cluster`'s link, delivering through `hub`, with
    /// `retention` as each new stream's limits; room tasks start with their rooms' first
    /// joins here.
    pub fn start(
        cluster: Arc<Cluster>,
        hub: Arc<dyn Deliveries>,
        retention: StoreConfig,
    ) -> JetStreamLog {
        let (publish, queue) = mpsc::unbounded_channel();
        let streams = Arc::new(RoomStreams {
            cluster,
            hub,
            retention,
            tasks: Mutex::default(),
            publish,
            in_flight: InFlight::default(),
            unread: tokio::sync::Notify::new(),
            unread_at: std::sync::atomic::AtomicU64::new(0),
        });
        tokio::spawn(publish::publisher(Arc::clone(&streams), queue));
        tokio::spawn(reader::run(Arc::clone(&streams)));
        tokio::spawn(report_streams_per_room(Arc::clone(&streams.cluster)));
        JetStreamLog { streams }
    }
}

impl RoomLog for JetStreamLog {
    fn append(&self, spoken: Spoken, sender: &Outbox) -> Option<oneshot::Receiver<()>> {
        let streams = &self.streams;
        let (done, confirmed) = oneshot::channel();
        streams.in_flight.add(spoken.said.len());
        let request = Publish {
            sender: sender.expect(spoken.echo_bytes()),
            spoken,
            done,
        };
        if let Err(mpsc::error::SendError(request)) = streams.publish.send(request) {
            streams.in_flight.sub(request.spoken.said.len());
        }
        Some(confirmed)
    }

    /// Every join goes to its room's task, a join without backlog included: a room's first
    /// member here starts the room's delivery.
    fn join(&self, join: Join) -> Joining {
        let (reply, answer) = oneshot::channel();
        let key: Arc<str> = chat_proto::validate::room_key(&join.room).into();
        let mut tasks = self.streams.tasks();
        let request = match tasks.rooms.get(&key) {
            Some(task) => match task.joins.send((join, reply)) {
                Ok(()) => return Joining::Waiting(answer),
                Err(mpsc::error::SendError(request)) => request,
            },
            None => (join, reply),
        };
        let (joins, queue) = mpsc::unbounded_channel();
        let (delivered_tx, delivered) = watch::channel(0);
        let (feed, fed) = mpsc::unbounded_channel();
        let _ = joins.send(request);
        if let Some(read) = tasks.read {
            let _ = feed.send(Feed::From(read));
        }
        tasks.rooms.insert(
            key.clone(),
            RoomTask {
                joins,
                delivered,
                feed,
            },
        );
        drop(tasks);
        tokio::spawn(room_task::run(
            Arc::clone(&self.streams),
            key,
            queue,
            fed,
            delivered_tx,
        ));
        Joining::Waiting(answer)
    }

    fn page(&self, key: String, shown: String, from: Cursor, limit: u32) -> Option<PageRead> {
        let streams = Arc::clone(&self.streams);
        let limit = (limit as usize).min(PAGE_MAX);
        Some(tokio::spawn(async move {
            let empty = || page::shape(Page::default(), &shown, from, false);
            let Some(stream) = streams.existing().await? else {
                return Ok(empty());
            };
            let Some(bounds) = read::bounds(&stream, &key, streams.retention.keep_per_room).await?
            else {
                return Ok(empty());
            };
            let page = read::read(&stream, &key, &bounds, from, limit, None).await?;
            Ok(page::shape(page, &shown, from, false))
        }))
    }

    fn in_flight(&self) -> &InFlight {
        &self.streams.in_flight
    }

    /// A node of a cluster keeps no index of the rooms' streams yet: the answer says so.
    fn search(&self, _search: crate::log::search::SearchRequest) -> Option<PageRead> {
        Some(tokio::spawn(async {
            Ok(chat_proto::ServerFrame::Error {
                kind: chat_proto::ErrorKind::StoreFailed,
                detail: "search is not available in a cluster yet".to_owned(),
            })
        }))
    }

    /// A removal goes into the room's order like a record of messages; the record that
    /// held the message is copied with a tombstone in its place and erased (`change.rs`).
    /// A reply is a record of its own. Edits and reactions are not kept in a cluster yet.
    fn change(&self, change: crate::log::Change) -> crate::log::Changing {
        let (answer, changing) = oneshot::channel();
        let streams = Arc::clone(&self.streams);
        tokio::spawn(async move {
            let made = match change.kind {
                crate::log::ChangeKind::Remove { target, any } => {
                    let removal = change::Removal {
                        change: &change,
                        target,
                        any,
                    };
                    change::remove(streams, removal).await
                }
                crate::log::ChangeKind::Reply { to, ref text } => {
                    change::reply(streams, &change, to, text.clone()).await
                }
                _ => Err(crate::log::ChangeRefusal::NotInCluster(
                    "edits and reactions are not available in a cluster yet",
                )),
            };
            let _ = answer.send(made);
        });
        changing
    }
}

/// Says, once at start, when NATS still holds the streams of an earlier version, a stream
/// per room (`CHAT_ROOM_<hex room>`): nothing reads them any more, and each keeps costing
/// NATS until an operator removes it (`nats stream rm`).
async fn report_streams_per_room(cluster: Arc<Cluster>) {
    use futures::StreamExt;
    let mut names = cluster.jetstream().stream_names();
    let mut old = 0usize;
    while let Some(name) = names.next().await {
        match name {
            Ok(name) if name.starts_with("CHAT_ROOM_") => old += 1,
            Ok(_) => {}
            Err(err) => {
                tracing::debug!("Cannot list the streams of NATS: {err}");
                return;
            }
        }
    }
    if old > 0 {
        tracing::warn!(
            "NATS holds {old} streams CHAT_ROOM_* of an earlier version (a stream per room): \
             rooms are kept in {STREAM} now and nothing reads those; remove them to free NATS"
        );
    }
}

/// Gives a rooms' stream made by an earlier version, which kept no copies of records a
/// removal changed, their subjects; says so, or why NATS refused (removals then fail).
async fn add_kept_subjects(js: &jetstream::Context, stream: &mut stream::Stream) {
    let config = &stream.cached_info().config;
    if config
        .subjects
        .iter()
        .any(|subject| subject == KEPT_SUBJECTS)
    {
        return;
    }
    let mut changed = config.clone();
    changed.subjects.push(KEPT_SUBJECTS.to_owned());
    match crate::cluster::replicas::update(js, stream, &changed).await {
        Ok(()) => {
            tracing::info!("The stream {STREAM} now keeps removals' copies ({KEPT_SUBJECTS})")
        }
        Err(err) => tracing::warn!(
            "The stream {STREAM} has no subjects {KEPT_SUBJECTS} for removals' copies, and NATS \
             refused to add them: removing a message will fail: {err}"
        ),
    }
}

impl RoomStreams {
    fn tasks(&self) -> MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rooms' stream if it was ever made: reading a room nobody spoke in makes none.
    async fn existing(&self) -> Result<Option<stream::Stream>, Unavailable> {
        match self.cluster.jetstream().get_stream(STREAM).await {
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
            Err(err) => Err(Unavailable(format!("cannot read the rooms' stream: {err}"))),
        }
    }

    /// A handle on the rooms' stream that costs no request, for reading and writing records
    /// once the node's reader has opened (and made) the stream: a room's task starts only
    /// after, and a sender must be in the room.
    async fn handle(&self) -> Result<stream::Stream<()>, Unavailable> {
        self.cluster
            .jetstream()
            .get_stream_no_info(STREAM)
            .await
            .map_err(|err| Unavailable(format!("cannot use the rooms' stream: {err}")))
    }

    /// The rooms' stream, made with this node's limits if no node made it yet (a stream's
    /// limits are those of the node that made it), and with `[cluster] replicas`; one made
    /// with another replica count is brought to it (or reported).
    async fn stream(&self) -> Result<stream::Stream, Unavailable> {
        if !self.cluster.is_up() {
            return Err(Unavailable("NATS is out of reach".to_owned()));
        }
        let config = stream::Config {
            name: STREAM.to_owned(),
            description: Some("chat-server: the messages of every room, a subject each".into()),
            subjects: vec![SUBJECTS.to_owned(), KEPT_SUBJECTS.to_owned()],
            // A record holds at least one message, so this keeps at least as many messages
            // as `keep_per_room`; reads show no more than that.
            max_messages_per_subject: self
                .retention
                .keep_per_room
                .and_then(|keep| i64::try_from(keep).ok())
                .unwrap_or(-1),
            max_age: self.retention.max_age.unwrap_or_default(),
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            allow_direct: true,
            num_replicas: self.cluster.replicas(),
            ..Default::default()
        };
        let js = self.cluster.jetstream();
        let mut stream = js
            .get_or_create_stream(config)
            .await
            .map_err(|err| Unavailable(format!("cannot open the rooms' stream: {err}")))?;
        let what = format!("The stream {STREAM}");
        crate::cluster::replicas::align(js, &mut stream, self.cluster.replicas(), &what).await;
        add_kept_subjects(js, &mut stream).await;
        Ok(stream)
    }

    /// Tells the node's reader that the record this node stored at stream sequence `at` was
    /// not read back in time.
    fn not_read_back(&self, at: u64) {
        self.unread_at
            .fetch_max(at, std::sync::atomic::Ordering::Relaxed);
        self.unread.notify_one();
    }

    /// Makes the node's reader read the stream again after stream sequence `at`: a room's
    /// task was fed a record the stream's leader does not hold as fed, or one after a gap
    /// the leader does not have, so the reader's consumer reads a copy of the stream that is
    /// not the cluster's (or the leader could not be asked). Records fed again are skipped
    /// whole where they were delivered.
    fn read_again_after(&self, at: u64) {
        let mut tasks = self.tasks();
        tasks.rewind = Some(tasks.rewind.map_or(at, |rewind| rewind.min(at)));
        drop(tasks);
        self.unread.notify_one();
    }

    /// Waits until `seq` of the room with key `key` was delivered here, while the room has a
    /// task, for at most [`crate::cluster::REQUEST_TIMEOUT`]; false when it was not read back
    /// in time.
    async fn delivered_here(&self, key: &str, seq: u64) -> bool {
        let Some(mut delivered) = self.delivered(key) else {
            return true;
        };
        let waited = tokio::time::timeout(
            crate::cluster::REQUEST_TIMEOUT,
            delivered.wait_for(|delivered| *delivered >= seq),
        )
        .await;
        waited.is_ok()
    }

    /// The last `seq` delivered here in the room with key `key`, while it has a task.
    fn delivered(&self, key: &str) -> Option<watch::Receiver<u64>> {
        self.tasks()
            .rooms
            .get(key)
            .map(|task| task.delivered.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::payload::{
        after_of, first_seq_of_empty_room, from_record, headers, key_of, subject, to_payload,
        Counted,
    };
    use crate::log::{Said, Stored};

    /// A walk over a room's records counts each `seq` once: a record numbered like an
    /// earlier one (a twin) is skipped whole, and the record numbered again after it counts.
    #[test]
    fn a_twin_is_skipped_whole_and_the_walk_goes_on_after_the_first() {
        let mut counted = Counted::after(0);
        // seqs 1-3; a twin of 3-4 that came late; 4 numbered again after the first.
        let records = [(1, 3), (3, 4), (4, 4), (5, 9)];
        let counts: Vec<bool> = records
            .iter()
            .map(|&(first, last)| counted.take(first, last))
            .collect();
        assert_eq!(counts, [true, false, true, true]);
        assert_eq!(counted.last(), 9);
        assert!(!Counted::after(9).counts(9), "already counted");
        assert!(Counted::after(9).counts(12), "a gap still counts");
    }

    /// A record reads back as stored: its messages numbered from its header's seq, each
    /// text whole whatever it holds.
    #[test]
    fn a_record_reads_back_as_stored() {
        let said = [
            Said {
                text: "hi: 1 2\t3".into(),
                at: 1_700_000_000_123,
            },
            Said {
                text: "ann\n5\n".into(),
                at: 1_700_000_000_124,
            },
        ];
        let payload = to_payload(said.iter().map(|said| ("Ann", said)));
        let stored = |seq, text: &str, at| {
            Stored::new(
                seq,
                "Ann".into(),
                text.into(),
                at,
                chat_proto::PastKind::Message,
            )
        };
        assert_eq!(
            from_record(Some(&headers(9, 4)), &payload),
            Some(vec![
                stored(9, "hi: 1 2\t3", 1_700_000_000_123),
                stored(10, "ann\n5\n", 1_700_000_000_124),
            ])
        );
        assert_eq!(after_of(&headers(9, 4)), Some(4));
        assert_eq!(from_record(None, &payload), None, "no seq");
        assert_eq!(
            from_record(Some(&headers(0, 4)), &payload),
            None,
            "seqs start at 1"
        );
        assert_eq!(
            from_record(Some(&headers(1, 0)), b"ann\nnot a time\n2\nhi"),
            None
        );
        assert_eq!(
            from_record(Some(&headers(1, 0)), b"ann\n5\n9\nhi"),
            None,
            "cut short"
        );
        assert_eq!(subject("go.dev"), "chat.log.676f2e646576");
        assert_eq!(key_of(&subject("go.dev")).as_deref(), Some("go.dev"));
        assert_eq!(key_of("chat.log.6"), None);
        assert_eq!(key_of("chat.other.61"), None);
    }

    /// A removal's record and the copy of a record a removal changed read back as stored:
    /// a tombstone keeps its sender, time and remover, a removal names its target.
    #[test]
    fn tombstones_and_removals_read_back_as_stored() {
        use chat_proto::PastKind;
        let entry = |seq, text: &str, kind| {
            let at = 1_700_000_000_000 + seq as i64;
            Stored::new(seq, "ann".into(), text.into(), at, kind)
        };
        let mut reply = entry(7, "q1,2", PastKind::Message);
        reply.reply_to = Some(4);
        let copy = vec![
            entry(4, "kept\nx9\n", PastKind::Message),
            entry(5, "", PastKind::Removed { by: "mod".into() }),
            entry(6, "r7", PastKind::Message),
            reply,
            entry(8, "new, text", PastKind::Edit { target: 4 }),
            entry(
                9,
                "",
                PastKind::React {
                    target: 4,
                    emoji: "👍🏽".into(),
                },
            ),
            entry(
                10,
                "",
                PastKind::Unreact {
                    target: 4,
                    emoji: "👍🏽".into(),
                },
            ),
        ];
        let payload = super::payload::stored_payload(&copy);
        assert_eq!(from_record(Some(&headers(4, 2)), &payload), Some(copy));
        let removal = vec![entry(9, "", PastKind::Removal { target: 5 })];
        let payload = super::payload::stored_payload(&removal);
        assert_eq!(from_record(Some(&headers(9, 8)), &payload), Some(removal));
        assert_eq!(
            from_record(Some(&headers(1, 0)), b"ann\n5\nrnot a seq\n"),
            None
        );
        assert_eq!(
            from_record(Some(&headers(1, 0)), b"ann\n5\nxmod"),
            None,
            "cut short"
        );
    }

    /// A room with nothing in the stream starts at 1 while nothing was trimmed, and past
    /// what it may have had once the stream's front was.
    #[test]
    fn an_empty_room_starts_past_what_aged_out() {
        assert_eq!(first_seq_of_empty_room(1), 1);
        assert_eq!(first_seq_of_empty_room(0), 1);
        // Records before stream seq 10 hold at most 64 messages each: seqs up to 576.
        assert_eq!(first_seq_of_empty_room(10), 577);
    }
}
