//! The node's one reader of the rooms' stream: an ordered consumer of every room's subject,
//! handing each record to its room's task when the room has members here and dropping it
//! otherwise.
//!
//! One consumer per node, not one per room: a consumer costs nats-server tens of kilobytes
//! while it lives (measured: about 47 kB, and lingering after its room emptied), so a
//! consumer per room made rooms, even ones made and left at once, cost NATS memory. The
//! price is that every node reads every room's records, members here or not.

use std::sync::Arc;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;

use super::payload::{key_of, SUBJECTS};
use super::{Feed, RoomStreams, CONSUMER_RETRY};

/// How long one pull waits: the idle heartbeat is half of it, and a consumer lost with its
/// NATS server is noticed after two missed ones and made again on another. The client's
/// default of 30 s left the rooms silent on this node for half a minute after losing that
/// server.
const PULL_EXPIRES: std::time::Duration = std::time::Duration::from_secs(4);

/// How often the reader checks that it is not stuck: a consumer the client library is
/// making again (after missed heartbeats) retries with a backoff of up to 10 s per attempt,
/// so after NATS regained its quorum the rooms could stay silent on this node for half a
/// minute. When the stream holds records past what was read and nothing was read for a
/// whole check, the reader makes its consumer again itself.
const STALL_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

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
        let Some((stream, reading)) = messages.as_mut() else {
            tokio::select! {
                _ = tokio::time::sleep(CONSUMER_RETRY) => {}
                Ok(()) = ups.changed() => {}
            }
            continue;
        };
        tokio::select! {
            next = reading.next() => match next {
                Some(Ok(message)) => feed(&streams, message),
                Some(Err(err)) => tracing::debug!("Reading the rooms from NATS: {err}"),
                None => {
                    messages = None;
                    tokio::time::sleep(CONSUMER_RETRY).await;
                }
            },
            Ok(()) = ups.changed() => {
                // NATS is back: its consumer may be gone; read on from where it stopped.
                messages = None;
            }
            _ = stalls.tick() => {
                let read = streams.tasks().read;
                if read == read_at_check && is_behind(stream, read).await {
                    tracing::debug!("The rooms' reader is stuck at {read:?}: reading on anew");
                    messages = None;
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
async fn open(streams: &RoomStreams) -> Option<(stream::Stream, pull::Ordered)> {
    let stream = match streams.stream().await {
        Ok(stream) => stream,
        Err(err) => {
            tracing::debug!("Cannot open the rooms' stream: {err}");
            return None;
        }
    };
    let end = stream.cached_info().state.last_sequence;
    let from = {
        let mut tasks = streams.tasks();
        let read = match tasks.read {
            Some(read) if read <= end => read,
            Some(read) => {
                tracing::warn!(
                    "The rooms' log in NATS ends at {end}, before what was read ({read}): it \
                     was wiped; reading it again from its start"
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
    let reading = consume(&stream, from).await?;
    Some((stream, reading))
}

/// Every room's records from stream sequence `start` on, in order; `None` when NATS does
/// not answer.
async fn consume(stream: &stream::Stream, start: u64) -> Option<pull::Ordered> {
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: SUBJECTS.to_owned(),
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
            tracing::debug!("Cannot read the rooms' stream: {err}");
            None
        }
    }
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
