//! One room's delivery to this node's members, and its joins, in one order: the task a
//! room has on each node where it has members, fed the room's records by the node's reader
//! (`reader.rs`).

use std::sync::Arc;

use async_nats::jetstream::{self, stream};
use bytes::BytesMut;
use chat_proto::Backlog;
use tokio::sync::{mpsc, watch};

use super::payload::from_record;
use super::read::{backlog_of, last_record, next_record};
use super::{Feed, JoinRequest, RoomStreams, Unavailable, BATCH_MAX, IDLE_CHECK};
use crate::log::wire::push_message;
use crate::log::{page, Deliveries, Join};
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
    let mut stream = match anchored {
        Ok((stream, last)) => {
            delivered.send_replace(last);
            stream
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
                    deliver(&*streams.hub, &key, batch, &delivered);
                    if let Some(read) = again {
                        stream = reanchor(&streams, &key, read, &delivered).await.unwrap_or(stream);
                    }
                }
                Some(Feed::From(read)) => {
                    stream = reanchor(&streams, &key, read, &delivered).await.unwrap_or(stream);
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

/// The rooms' stream and the last `seq` of the room `key` among the records up to stream
/// sequence `read`: where the room's feed, which holds the records after `read`, begins.
async fn anchor(
    streams: &RoomStreams,
    key: &str,
    read: u64,
) -> Result<(stream::Stream<()>, u64), Unavailable> {
    let stream = streams.handle().await?;
    let last = match last_record(&stream, key).await? {
        None => 0,
        Some(last) if last.at <= read => last.last(),
        // Records came after `read`: the room was delivered up to just before the first.
        Some(_) => match next_record(&stream, key, Some(read + 1)).await? {
            Some(next) => next.first() - 1,
            None => 0,
        },
    };
    Ok((stream, last))
}

/// Starts the room's delivery again after the node's reader started over at `read` (the
/// stream was wiped): the room is delivered on from its records up to there.
async fn reanchor(
    streams: &RoomStreams,
    key: &str,
    read: u64,
    delivered: &watch::Sender<u64>,
) -> Option<stream::Stream<()>> {
    match anchor(streams, key, read).await {
        Ok((stream, last)) => {
            delivered.send_replace(last);
            Some(stream)
        }
        Err(err) => {
            tracing::warn!("Cannot read where #{key} stands after NATS started over: {err}");
            None
        }
    }
}

/// Encodes the messages of `batch` not yet delivered once, as one queue entry for every
/// member here, and records how far the room was delivered.
fn deliver(
    hub: &dyn Deliveries,
    key: &str,
    batch: Vec<jetstream::Message>,
    delivered: &watch::Sender<u64>,
) {
    // With nobody here any more the messages go to no one, but still count as delivered:
    // a join that comes next is cut after them.
    let shown = hub.room_name(key).unwrap_or_else(|| key.into());
    let mut wire = BytesMut::new();
    let mut messages = 0;
    let mut last = *delivered.borrow();
    for message in batch {
        let Some(record) = from_record(message.headers.as_ref(), &message.payload) else {
            tracing::warn!("Dropped a record in #{shown} that is not one");
            continue;
        };
        // A record numbered like an earlier one (see `publish.rs`) is skipped whole: its
        // sender had it numbered again, after the one that came first.
        if record.first().is_none_or(|stored| stored.seq <= last) {
            continue;
        }
        for stored in record {
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
