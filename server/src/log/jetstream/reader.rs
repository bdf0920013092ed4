//! The node's one reader of the rooms' stream: a consumer of every room's subject, read in
//! order, handing each record to its room's task when the room has members here and
//! dropping it otherwise.
//!
//! One consumer per node, not one per room: a consumer costs nats-server tens of kilobytes
//! while it lives (measured: about 47 kB, and lingering after its room emptied), so a
//! consumer per room made rooms, even ones made and left at once, cost NATS memory. The
//! price is that every node reads every room's records, members here or not.
//!
//! **On the stream's leader.** A consumer reads the copy of the stream its server keeps.
//! With replicas, JetStream (2.9) placed consumers on any server of the stream's group,
//! including one just resumed after a pause, whose copy still held a record the cluster
//! did not keep: its node delivered that record under a `seq` every other node delivered
//! another message under. So the reader makes its consumer itself (not the client
//! library's ordered consumer, which makes its own again wherever NATS puts it) and asks
//! for it again, a few times, until it is on the stream's leader. It reads on anew when a
//! heartbeat is missed, the consumer's own sequence skips, a record this node stored is not
//! read back in time (a consumer can live on, heartbeats and all, on a server that stopped
//! getting the stream's records as leaders changed), or a room's task was fed a record
//! the stream's leader does not hold as fed, or after a gap the leader does not have
//! (`room_task.rs`): then from before that record.

use std::sync::Arc;

use async_nats::jetstream::{self, consumer, consumer::pull, stream};
use futures::StreamExt;

use super::payload::{key_of, SUBJECTS};
use super::{Feed, RoomStreams, CONSUMER_RETRY};

/// How long one pull waits: the idle heartbeat is half of it, and a consumer lost with its
/// NATS server is noticed after two missed ones and made again on another. The client's
/// default of 30 s left the rooms silent on this node for half a minute after losing that
/// server.
const PULL_EXPIRES: std::time::Duration = std::time::Duration::from_secs(4);

/// How often the reader checks that it is not stuck: when the stream holds records past
/// what was read and nothing was read for a whole check, the reader makes its consumer
/// again. (The client library's ordered consumer, which this reader used, made itself again
/// with a backoff of up to 10 s per attempt, so after NATS regained its quorum the rooms
/// could stay silent on this node for half a minute.)
const STALL_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// How long NATS keeps a consumer nobody reads (its node gone): it is ephemeral.
const CONSUMER_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// How many consumers the reader makes, one after the other, for one placed on the
/// stream's leader (NATS picks a server of the stream's group for each); the last is kept
/// wherever it is.
const PLACEMENT_TRIES: usize = 4;

/// A consumer being read: the stream, its messages, its own sequence of the last one, and
/// its name.
type Reading = (stream::Stream, pull::Stream, u64, String);

/// Stops reading `messages`' consumer, if any, and removes it from NATS rather than leave
/// it to linger for [`CONSUMER_IDLE`].
fn close(messages: &mut Option<Reading>) {
    if let Some((stream, _, _, name)) = messages.take() {
        tokio::spawn(async move { remove(&stream, &name).await });
    }
}

/// Removes the consumer `name` from NATS, or says why it could not (it then lingers for
/// [`CONSUMER_IDLE`]).
async fn remove(stream: &stream::Stream, name: &str) {
    if let Err(err) = stream.delete_consumer(name).await {
        tracing::debug!("Cannot remove the rooms' reader {name}: {err}");
    }
}

/// Reads the rooms' stream from where it ends when first opened, for the life of the node,
/// starting again after its consumer failed or stalled, or NATS came back.
pub async fn run(streams: Arc<RoomStreams>) {
    let mut ups = streams.cluster.ups();
    let mut messages = None;
    let mut stalls = tokio::time::interval(STALL_CHECK);
    stalls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut read_at_check = None;
    loop {
        if messages.is_none() {
            messages = open(&streams).await;
            // A whole check from now: opening may have taken longer than one, and the
            // consumer just made has had no time to read.
            stalls.reset();
            read_at_check = streams.tasks().read;
        }
        let Some((stream, reading, consumed, _)) = messages.as_mut() else {
            tokio::select! {
                _ = tokio::time::sleep(CONSUMER_RETRY) => {}
                Ok(()) = ups.changed() => {}
            }
            continue;
        };
        tokio::select! {
            next = reading.next() => match next {
                Some(Ok(message)) => {
                    let order = message.info().map(|info| info.consumer_sequence);
                    if order.is_ok_and(|order| order == *consumed + 1) {
                        *consumed += 1;
                        feed(&streams, message);
                    } else {
                        // One went missing on the way: read on from the last one fed.
                        tracing::debug!("The rooms' reader skipped a record: reading on anew");
                        close(&mut messages);
                        tokio::time::sleep(CONSUMER_RETRY).await;
                    }
                }
                Some(Err(err)) => {
                    tracing::debug!("Reading the rooms from NATS: {err}; reading on anew");
                    close(&mut messages);
                    tokio::time::sleep(CONSUMER_RETRY).await;
                }
                None => {
                    close(&mut messages);
                    tokio::time::sleep(CONSUMER_RETRY).await;
                }
            },
            Ok(()) = ups.changed() => {
                // NATS is back: its consumer may be gone; read on from where it stopped.
                close(&mut messages);
            }
            () = streams.unread.notified() => {
                let rewound = {
                    let mut tasks = streams.tasks();
                    let unread = streams.unread_at.load(std::sync::atomic::Ordering::Relaxed);
                    if let Some(rewind) = tasks.rewind.take() {
                        tracing::debug!(
                            "A room was fed a record its stream does not have: reading again \
                             after {rewind}"
                        );
                        tasks.read = tasks.read.map(|read| read.min(rewind));
                        Some(true)
                    } else if tasks.read.is_some_and(|read| read < unread) {
                        tracing::debug!(
                            "A record stored here ({unread}) was not read back in time: \
                             reading on anew"
                        );
                        Some(false)
                    } else {
                        None
                    }
                };
                if rewound.is_some() {
                    close(&mut messages);
                }
                if rewound == Some(true) {
                    // As after a failure: a consumer made at once may land on the same copy
                    // again, and be made and removed in a tight loop.
                    tokio::time::sleep(CONSUMER_RETRY).await;
                }
            }
            _ = stalls.tick() => {
                let read = streams.tasks().read;
                if read == read_at_check && is_behind(stream, read).await {
                    tracing::debug!("The rooms' reader is stuck at {read:?}: reading on anew");
                    close(&mut messages);
                }
                read_at_check = read;
            }
        }
    }
}

/// Whether the stream holds records past `read`.
async fn is_behind(stream: &mut stream::Stream, read: Option<u64>) -> bool {
    match stream.info().await {
        Ok(info) => read.is_some_and(|read| info.state.last_sequence > read),
        Err(_) => false,
    }
}

/// A consumer of every room's records after what was read so far: from the stream's end
/// the first time, and from the stream's start when it now ends before what was read (it
/// was wiped), each room's task told where its feed starts again.
async fn open(streams: &RoomStreams) -> Option<Reading> {
    let stream = match streams.stream().await {
        Ok(stream) => stream,
        Err(err) => {
            tracing::debug!("Cannot open the rooms' stream: {err}");
            streams.cluster.jetstream_failed();
            return None;
        }
    };
    let end = stream.cached_info().state.last_sequence;
    let created = stream.cached_info().created;
    let from = {
        let mut tasks = streams.tasks();
        let same_stream = tasks.created.is_none_or(|seen| seen == created);
        tasks.created = Some(created);
        let read = match tasks.read {
            Some(read) if read <= end => read,
            Some(read) if same_stream => {
                tracing::debug!(
                    "NATS says the rooms' log ends at {end}, before what was read ({read}): \
                     a server not caught up yet; asking again"
                );
                return None;
            }
            Some(read) => {
                tracing::warn!(
                    "The rooms' log in NATS was made anew and ends at {end}, before what was \
                     read ({read}): reading it again from its start"
                );
                0
            }
            None => end,
        };
        if tasks.read != Some(read) {
            tasks.read = Some(read);
            for task in tasks.rooms.values() {
                let _ = task.feed.send(Feed::From(read));
            }
        }
        read + 1
    };
    let Some((reading, name)) = consume(&stream, from, streams.cluster.replicas()).await else {
        streams.cluster.jetstream_failed();
        return None;
    };
    streams.cluster.jetstream_answered();
    Some((stream, reading, 0, name))
}

/// Every room's records from stream sequence `start` on, in order, read from the stream's
/// leader when the stream has `replicas` > 1 and NATS places a consumer there within
/// [`PLACEMENT_TRIES`] (it need not: NATS may keep picking another server, and a node must
/// read anyway), with the consumer's name; `None` when NATS does not answer.
async fn consume(
    stream: &stream::Stream,
    start: u64,
    replicas: usize,
) -> Option<(pull::Stream, String)> {
    let leader = leader_of(stream.cached_info().cluster.as_ref());
    for attempt in 1..=PLACEMENT_TRIES {
        let made = stream
            .create_consumer(pull::Config {
                filter_subject: SUBJECTS.to_owned(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: CONSUMER_IDLE,
                num_replicas: 1,
                memory_storage: true,
                ..Default::default()
            })
            .await;
        let made = match made {
            Ok(made) => made,
            Err(err) => {
                tracing::debug!("Cannot read the rooms' stream: {err}");
                return None;
            }
        };
        let placed = leader_of(made.cached_info().cluster.as_ref());
        let elsewhere = replicas > 1 && leader.is_some() && placed != leader;
        if elsewhere && attempt < PLACEMENT_TRIES {
            tracing::debug!(
                "The rooms' reader was placed on {placed:?}, not the stream's leader \
                 {leader:?}: again"
            );
            remove(stream, &made.cached_info().name).await;
            continue;
        }
        if elsewhere {
            tracing::debug!("The rooms' reader reads on {placed:?}, not the stream's leader");
        }
        let name = made.cached_info().name.clone();
        match made
            .stream()
            .expires(PULL_EXPIRES)
            .heartbeat(PULL_EXPIRES / 2)
            .messages()
            .await
        {
            Ok(reading) => return Some((reading, name)),
            Err(err) => {
                tracing::debug!("Cannot read the rooms' reader {name}: {err}");
                remove(stream, &name).await;
                return None;
            }
        }
    }
    None
}

/// The server that leads a stream's or a consumer's group, as NATS said.
fn leader_of(cluster: Option<&stream::ClusterInfo>) -> Option<&str> {
    cluster.and_then(|cluster| cluster.leader.as_deref())
}

/// Hands `message` to its room's task, if the room has members here, and records that it
/// was read.
fn feed(streams: &RoomStreams, message: jetstream::Message) {
    let Ok(info) = message.info() else {
        return;
    };
    let at = info.stream_sequence;
    let key = key_of(&message.subject);
    let mut tasks = streams.tasks();
    if tasks.read.is_some_and(|read| at <= read) {
        return;
    }
    tasks.read = Some(at);
    if let Some(task) = key.and_then(|key| tasks.rooms.get(key.as_str())) {
        let _ = task.feed.send(Feed::Record(Box::new(message)));
    }
}
