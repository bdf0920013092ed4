//! The `jetstream` room log, for a cluster: each room's log is a JetStream stream, and every
//! node delivers to its own members what it reads back from it.
//!
//! ```text
//!  node A: ann says hi ──► publish chat.room.<hex room> ──► stream CHAT_ROOM_<hex room>
//!                                                               │ seq 41 (the room's seq)
//!  node A: consumer of the room ◄──────────────────────────────┤
//!          └► deliver  : ann, and A's other members           │
//!  node B: consumer of the room ◄──────────────────────────────┘
//!          └► deliver  : B's members
//! ```
//!
//! **One order, one seq.** A room's stream orders its messages, and its sequence numbers
//! them: the `seq` every member sees, on every node. A node runs one task per room with
//! members here (`RoomTask`), reading the stream with an ordered consumer (which starts
//! again where it stopped after a NATS outage), so it delivers in stream order; a
//! message is carried to a node once, however many members it has there, and encoded once
//! for all of them. Messages the consumer has ready together go out as one queue entry.
//!
//! **Joins** go through the room's task, in its order: when the task takes a join, the
//! messages delivered so far are exactly those up to its cut, so the backlog it reads
//! (up to the cut) and the live messages after meet exactly, as with the `sqlite` log.
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

//!
//! The files: `payload.rs` (stream names and the stored form of a message), `read.rs`
//! (pages and backlogs from a stream), `publish.rs` (senders' bursts to NATS and their
//! acknowledgements), `room_task.rs` (one room's delivery and joins on this node).

mod payload;
mod publish;
mod read;
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
use payload::{stream_name, subject};
use publish::Publish;

/// Messages delivered at most as one queue entry: those the consumer has ready together.
const BATCH_MAX: usize = 64;

/// How often a room's task checks whether it still has members here.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The pause before a room's task reads its stream again after the consumer failed.
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
    /// `[store] keep_per_room` and `max_age`, as each stream's limits.
    retention: StoreConfig,
    /// Room key → its task, for each room with members here.
    tasks: Mutex<HashMap<Arc<str>, RoomTask>>,
    /// The publisher task's queue.
    publish: mpsc::UnboundedSender<Publish>,
    /// Messages submitted and not yet acknowledged.
    in_flight: InFlight,
}

/// The handle of a room's task.
#[derive(Debug)]
struct RoomTask {
    /// Joins, served in the task's order.
    joins: mpsc::UnboundedSender<JoinRequest>,
    /// The last `seq` delivered here.
    delivered: watch::Receiver<u64>,
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
        });
        tokio::spawn(publish::publisher(Arc::clone(&streams), queue));
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
        let request = match tasks.get(&key) {
            Some(task) => match task.joins.send((join, reply)) {
                Ok(()) => return Joining::Waiting(answer),
                Err(mpsc::error::SendError(request)) => request,
            },
            None => (join, reply),
        };
        let (joins, queue) = mpsc::unbounded_channel();
        let (delivered_tx, delivered) = watch::channel(0);
        let _ = joins.send(request);
        tasks.insert(key.clone(), RoomTask { joins, delivered });
        drop(tasks);
        tokio::spawn(room_task::run(
            Arc::clone(&self.streams),
            key,
            queue,
            delivered_tx,
        ));
        Joining::Waiting(answer)
    }

    fn page(&self, key: String, shown: String, from: Cursor, limit: u32) -> Option<PageRead> {
        let streams = Arc::clone(&self.streams);
        let limit = (limit as usize).min(PAGE_MAX);
        Some(tokio::spawn(async move {
            let Some(stream) = streams.existing(&key).await? else {
                return Ok(page::shape(Page::default(), &shown, from, false));
            };
            // Its bounds came with it.
            let state = stream.cached_info().state.clone();
            let page = read::read(&stream, &state, from, limit, None).await?;
            Ok(page::shape(page, &shown, from, false))
        }))
    }

    fn in_flight(&self) -> &InFlight {
        &self.streams.in_flight
    }
}

impl RoomStreams {
    fn tasks(&self) -> MutexGuard<'_, HashMap<Arc<str>, RoomTask>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// limits are those of the node that made it), and with `[cluster] replicas`; one made
    /// with another replica count is brought to it (or reported).
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
            num_replicas: self.cluster.replicas(),
            ..Default::default()
        };
        let js = self.cluster.jetstream();
        let mut stream = js
            .get_or_create_stream(config)
            .await
            .map_err(|err| Unavailable(format!("cannot open the room's stream: {err}")))?;
        let what = format!("The stream of #{key}");
        crate::cluster::replicas::align(js, &mut stream, self.cluster.replicas(), &what).await;
        Ok(stream)
    }

    /// The last `seq` delivered here in the room with key `key`, while it has a task.
    fn delivered(&self, key: &str) -> Option<watch::Receiver<u64>> {
        self.tasks().get(key).map(|task| task.delivered.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::payload::{from_payload, stream_name, to_payload};
    use crate::log::Stored;

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
