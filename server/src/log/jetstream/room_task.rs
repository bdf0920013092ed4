//! One room's delivery to this node's members, and its joins, in one order: the task a
//! room has on each node where it has members.

use std::sync::Arc;

use async_nats::jetstream::{self, consumer::pull, stream};
use bytes::BytesMut;
use chat_proto::Backlog;
use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};

use super::payload::{from_record, subject};
use super::read::{backlog_of, last_record};
use super::{JoinRequest, RoomStreams, Unavailable, BATCH_MAX, CONSUMER_RETRY, IDLE_CHECK};
use crate::log::wire::push_message;
use crate::log::{page, Deliveries, Join};
use crate::room::{JoinedRoom, RoomError};

/// How long one pull for a room's messages waits: the idle heartbeat is half of it, and a
/// consumer lost with its NATS server is noticed after two missed ones. One pull request
/// per room with members here every 4 s is what it costs NATS while the room is quiet.
const PULL_EXPIRES: std::time::Duration = std::time::Duration::from_secs(4);

/// One room's delivery to this node's members, and its joins, in one order; ends once the
/// room has nobody here.
pub async fn run(
    streams: Arc<RoomStreams>,
    key: Arc<str>,
    mut joins: mpsc::UnboundedReceiver<JoinRequest>,
    delivered: watch::Sender<u64>,
) {
    let (mut stream, mut read) = match open(&streams, &key).await {
        Ok(opened) => opened,
        Err(err) => {
            tracing::error!("Cannot open #{key} in the cluster: {err}");
            let mut tasks = streams.tasks();
            tasks.remove(&key);
            joins.close();
            while let Ok((_, reply)) = joins.try_recv() {
                let _ = reply.send(Err(RoomError::ClusterUnavailable));
            }
            return;
        }
    };
    delivered.send_replace(read.delivered);
    let mut messages = None;
    let mut again = false;
    let mut ups = streams.cluster.ups();
    let mut idle = tokio::time::interval(IDLE_CHECK);
    idle.reset();
    loop {
        if messages.is_none() && again {
            // After NATS came back or the consumer failed: the stream is made anew if NATS
            // lost it, and when it ends before what was read (it was wiped) the room is
            // read from its start.
            if let Ok((anew, _)) = open(&streams, &key).await {
                stream = anew;
                if stream.cached_info().state.last_sequence < read.consumed {
                    tracing::warn!(
                        "The log of #{key} in NATS is behind what was delivered (it was \
                         wiped?): reading it from its start"
                    );
                    read = Reading::default();
                    delivered.send_replace(0);
                }
            }
        }
        if messages.is_none() {
            again = true;
            messages = consume(&stream, &key, read.consumed + 1).await;
        }
        let so_far = *delivered.borrow();
        tokio::select! {
            biased;
            join = joins.recv() => {
                if let Some((join, reply)) = join {
                    let joined = serve_join(&streams, &stream, &key, so_far, join).await;
                    let _ = reply.send(joined);
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
                    read.consumed = deliver(&*streams.hub, &key, batch, &delivered, read.consumed);
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

/// How far a room's task has read its subject.
#[derive(Debug, Default, Clone, Copy)]
struct Reading {
    /// The stream sequence of the last record read (or of the stream's end, for a room
    /// that had none): the consumer starts after it.
    consumed: u64,
    /// The last `seq` delivered (0: none yet).
    delivered: u64,
}

/// The rooms' stream and where the room `key`'s log ends in it now: its last record, or for
/// a room with none, the stream's end.
async fn open(streams: &RoomStreams, key: &str) -> Result<(stream::Stream, Reading), Unavailable> {
    let stream = streams.stream().await?;
    // The stream's end, read before the room's last record: a record of the room published
    // after this read is after it.
    let end = stream.cached_info().state.last_sequence;
    let reading = match last_record(&stream, key).await? {
        Some(record) => Reading {
            consumed: record.at,
            delivered: record.last(),
        },
        None => Reading {
            consumed: end,
            delivered: 0,
        },
    };
    Ok((stream, reading))
}

/// The room `key`'s records from stream sequence `start` on, in order, or `None` when NATS does not answer.
///
/// Each pull waits at most [`PULL_EXPIRES`], so NATS sends an idle heartbeat every half of
/// it and a consumer that went with a NATS server of a cluster (an ordered consumer lives
/// on one server) is made again on another after two missed heartbeats, about
/// [`PULL_EXPIRES`]; with the client's default of 30 s, a room stayed silent on this node
/// for half a minute after losing that server.
async fn consume(stream: &stream::Stream, key: &str, start: u64) -> Option<pull::Ordered> {
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: subject(key),
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            max_expires: PULL_EXPIRES,
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

/// Encodes the messages of `batch` (records read after stream sequence `consumed`) not yet
/// delivered once, as one queue entry for every member here, and records how far the room
/// was delivered; returns the stream sequence of the last record read.
fn deliver(
    hub: &dyn Deliveries,
    key: &str,
    batch: Vec<jetstream::Message>,
    delivered: &watch::Sender<u64>,
    consumed: u64,
) -> u64 {
    // With nobody here any more the messages go to no one, but still count as delivered:
    // a join that comes next is cut after them.
    let shown = hub.room_name(key).unwrap_or_else(|| key.into());
    let mut wire = BytesMut::new();
    let mut messages = 0;
    let mut last = *delivered.borrow();
    let mut consumed = consumed;
    for message in batch {
        let Ok(info) = message.info() else {
            continue;
        };
        consumed = consumed.max(info.stream_sequence);
        let Some(record) = from_record(message.headers.as_ref(), &message.payload) else {
            tracing::warn!(
                "Dropped a record in #{shown} that is not one (stream seq {})",
                info.stream_sequence
            );
            continue;
        };
        for stored in record {
            if stored.seq <= last {
                continue;
            }
            last = stored.seq;
            match push_message(&mut wire, &shown, stored) {
                Ok(()) => messages += 1,
                Err(err) => tracing::error!("Cannot encode a message to #{shown}: {err}"),
            }
        }
    }
    if !wire.is_empty() {
        hub.deliver(key, Arc::new(wire.freeze()), messages);
    }
    delivered.send_replace(last);
    consumed
}

/// Serves a join in the room task's order: everything up to `cut` was delivered here and
/// nothing after it, so the backlog ends at `cut`.
async fn serve_join(
    streams: &RoomStreams,
    stream: &stream::Stream,
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
