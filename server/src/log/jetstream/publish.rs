//! Senders' bursts on their way to NATS: published in the order submitted, acknowledged in
//! the same order, confirmed once delivered here; refused, through the log's one failure
//! path, when NATS does not take them.

use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream;
use chat_proto::ErrorKind;
use tokio::sync::{mpsc, oneshot};

use super::payload::{subject, to_payload};
use super::RoomStreams;
use crate::log::failures::{self, Failures};
use crate::log::Spoken;
use crate::outbox::Expected;

/// What became of a burst that did not all get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
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

/// Publishes every burst in the order submitted; a second task waits for the
/// acknowledgements, in the same order, so publishing never waits for one.
pub async fn publisher(streams: Arc<RoomStreams>, mut queue: mpsc::UnboundedReceiver<Publish>) {
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
    let mut failures = Failures::default();
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
                crate::cluster::REQUEST_TIMEOUT,
                delivered.wait_for(|delivered| *delivered >= seq),
            )
            .await;
        }
        match failed {
            Some(refused) => {
                failures.failed(&refused, request.spoken.said.len());
                failures::refuse(
                    request.sender.outbox(),
                    streams.hub.metrics(),
                    ErrorKind::ClusterUnavailable,
                    refused.detail(),
                );
            }
            None => failures.recovered(),
        }
        streams.in_flight.sub(request.spoken.said.len());
        let _ = request.done.send(());
    }
}
