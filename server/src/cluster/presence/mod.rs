//! Presence across nodes: who is on which node and in which rooms, and which nodes are
//! alive.
//!
//! ```text
//!  every 500 ms   Beat { node, incarnation, version }            ──► chat.presence
//!  on a change    Change { node, incarnation, version, change }  ──►
//!  when asked     State { node, incarnation, version, people }   ──►  (in chunks)
//!  at start, after an outage, on a gap:  Sync { from, of }       ──►
//!  at a graceful stop:                   Gone { node, incarnation }
//! ```
//!
//! The hub numbers its node's changes ([`crate::roster`]); one task publishes them in that
//! order, beside the heartbeats, so every other node applies them in order. A node that
//! sees a number skipped (NATS dropped something, or it was away) asks for a snapshot,
//! which carries the number it was taken at, and the changes after it apply on top.
//!
//! **A node that is gone.** A node not heard from for [`LOST_AFTER`] is lost: its people
//! leave every list and room here, with `UserLeft{reason: NodeLost}`, and its names are
//! freed ([`super::names::Names::sweep`]). A node that stops says `Gone` and is dropped at
//! once. A node heard with a new incarnation restarted: its earlier self is dropped at its
//! first heartbeat, and its snapshot asked for.
//!
//! **NATS outages.** While NATS is away no heartbeat comes, so after [`LOST_AFTER`] every
//! other node is lost here too: this node's people see the others leave (`NodeLost`), and
//! room messages are refused ([`crate::log::jetstream`]). When NATS is back the node says so at
//! INFO, asks everyone for a snapshot and sends its own, claims its names again, and the
//! lists converge within a heartbeat or two.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::Subscriber;
use chat_proto::LeftReason;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod event;
mod heard;

use super::{Cluster, Link};
use crate::hub::Hub;
use crate::roster::{Change, Person};
use event::{chunks, Event};

/// The subject every node's presence goes on.
pub const SUBJECT: &str = "chat.presence";

/// How often a node says it is alive.
pub const BEAT_EVERY: Duration = Duration::from_millis(500);

/// How long a node may go unheard before it is taken for gone: four heartbeats, so one
/// or two lost or late ones do not drop anybody, and a killed node's people are gone from
/// every list within [`LOST_AFTER`] + [`BEAT_EVERY`] (2.5 s; the issue's bound is 5 s).
pub const LOST_AFTER: Duration = Duration::from_secs(2);

/// How many bytes of names one snapshot message carries at most, well under NATS' default
/// 1 MB payload limit whatever rooms its people are in.
const CHUNK_BYTES: usize = 256 * 1024;

/// How often at most a node asks one other node for its snapshot.
const ASK_EVERY: Duration = Duration::from_millis(500);

/// What this node knows of another.
#[derive(Debug)]
struct Peer {
    /// Its incarnation.
    incarnation: u64,
    /// The last of its changes applied here.
    version: u64,
    /// When it was last heard from.
    seen: Instant,
    /// When its snapshot was last asked for.
    asked: Option<Instant>,
    /// A snapshot being received: its version and the people of its chunks so far.
    partial: Option<(u64, u32, Vec<Person>)>,
    /// Whether it had been taken for lost (its names may have been freed): the next ask
    /// for its snapshot tells it to claim them again.
    was_lost: bool,
    /// When its first chunk came: one whose end never comes is given up after
    /// [`ASK_EVERY`], and asked for again.
    partial_since: Option<Instant>,
}

/// The presence task's own state.
struct Presence {
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    peers: HashMap<String, Peer>,
    /// The last version this node published (a change or a snapshot).
    told: u64,
    /// Whether NATS is reachable, as the link's events last said.
    up: bool,
    /// When to sweep the names of gone nodes, if one is due.
    sweep_at: Option<Instant>,
    /// Incarnations known to be gone since the last sweep: their names go whatever their
    /// age (the grace is for nodes not heard from yet, not for these).
    gone: HashSet<(String, u64)>,
    /// When this node last claimed its names again.
    reclaimed: Option<Instant>,
}

/// Runs presence for this node until `stop`: publishes the hub's changes (from `feed`)
/// and heartbeats, applies everyone else's, and notices nodes that are gone.
pub async fn run(
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    mut feed: mpsc::UnboundedReceiver<(u64, Change)>,
    mut inbox: Subscriber,
    mut links: mpsc::UnboundedReceiver<Link>,
    stop: CancellationToken,
) {
    let mut me = Presence {
        cluster,
        hub,
        peers: HashMap::new(),
        told: 0,
        up: true,
        // Once after joining: the names of nodes that died while no node was up.
        sweep_at: Some(Instant::now() + super::names::SWEEP_GRACE),
        gone: HashSet::new(),
        reclaimed: None,
    };
    me.publish(&Event::Sync {
        from: me.node(),
        of: None,
        lost: false,
    })
    .await;
    me.publish_state().await;
    me.beat().await;
    let mut beats = tokio::time::interval(BEAT_EVERY);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                // The last changes (everyone leaving at shutdown) go out before `Gone`.
                while let Ok((version, change)) = feed.try_recv() {
                    me.publish_change(version, change).await;
                }
                return;
            }
            change = feed.recv() => match change {
                Some((version, change)) => me.publish_change(version, change).await,
                None => return,
            },
            message = inbox.next() => match message {
                Some(message) => me.heard(&message.payload).await,
                None => return,
            },
            link = links.recv() => match link {
                Some(link) => me.link(link).await,
                None => return,
            },
            _ = beats.tick() => {
                me.beat().await;
                me.check();
            }
        }
    }
}

/// Tells the other nodes this one is stopping: they drop its people at once.
pub async fn say_gone(cluster: &Cluster) {
    if !cluster.is_up() {
        // They find it lost within LOST_AFTER instead.
        return;
    }
    let event = Event::Gone {
        node: cluster.node().to_owned(),
        incarnation: cluster.incarnation(),
    };
    let client = cluster.client();
    if client.publish(SUBJECT, event.to_payload()).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    }
}

impl Presence {
    /// Publishes `event`; a failure only means NATS is away, which the link reports.
    /// Nothing is published while NATS is away (the client would hold it until its buffer
    /// filled, then wait): the snapshot sent when NATS is back says it all.
    async fn publish(&self, event: &Event) {
        if !self.cluster.is_up() {
            return;
        }
        if let Err(err) = self
            .cluster
            .client()
            .publish(SUBJECT, event.to_payload())
            .await
        {
            tracing::debug!("Cannot publish presence: {err}");
        }
    }

    fn node(&self) -> String {
        self.cluster.node().to_owned()
    }

    async fn beat(&self) {
        self.publish(&Event::Beat {
            node: self.node(),
            incarnation: self.cluster.incarnation(),
            version: self.told,
        })
        .await;
    }

    async fn publish_change(&mut self, version: u64, change: Change) {
        if version <= self.told {
            // A snapshot published meanwhile already holds it.
            return;
        }
        self.told = version;
        self.publish(&Event::Change {
            node: self.node(),
            incarnation: self.cluster.incarnation(),
            version,
            change,
        })
        .await;
    }

    /// Publishes this node's snapshot, in chunks.
    async fn publish_state(&mut self) {
        let (version, people) = self.hub.local_people();
        self.told = self.told.max(version);
        let chunks = chunks(&people);
        let count = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.publish(&Event::State {
                node: self.node(),
                incarnation: self.cluster.incarnation(),
                version,
                chunk: u32::try_from(i).unwrap_or(u32::MAX),
                last: i + 1 == count,
                people: chunk.to_vec(),
            })
            .await;
        }
    }

    /// The link went up or down.
    async fn link(&mut self, link: Link) {
        match link {
            Link::Down => {
                if self.up {
                    tracing::warn!(
                        "Lost NATS: room messages are refused until it is back; the other \
                         nodes' people leave the lists in {LOST_AFTER:?}"
                    );
                }
                self.up = false;
            }
            Link::Up => {
                if self.up {
                    return;
                }
                self.up = true;
                tracing::info!("NATS is back: re-registering this node's people");
                self.publish(&Event::Sync {
                    from: self.node(),
                    of: None,
                    lost: false,
                })
                .await;
                self.publish_state().await;
                self.beat().await;
                self.reclaim_soon();
                self.sweep_at = Some(Instant::now() + super::names::SWEEP_GRACE);
            }
        }
    }

    /// Asks `node` for its snapshot, at most every [`ASK_EVERY`].
    async fn ask(&mut self, node: &str) {
        let Some(peer) = self.peers.get_mut(node) else {
            return;
        };
        let now = Instant::now();
        if peer.asked.is_some_and(|at| now - at < ASK_EVERY) {
            return;
        }
        peer.asked = Some(now);
        let lost = std::mem::take(&mut peer.was_lost);
        self.publish(&Event::Sync {
            from: self.node(),
            of: Some(node.to_owned()),
            lost,
        })
        .await;
    }

    /// Drops the nodes not heard from for [`LOST_AFTER`], and sweeps names when due.
    fn check(&mut self) {
        let now = Instant::now();
        let lost: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| now - p.seen >= LOST_AFTER)
            .map(|(node, _)| node.clone())
            .collect();
        for node in lost {
            let silent = self.peers.remove(&node).map(|p| {
                self.gone.insert((node.clone(), p.incarnation));
                now - p.seen
            });
            let people =
                self.hub
                    .remote_drop(&node, LeftReason::NodeLost, crate::clock::now_millis());
            tracing::warn!(
                "Lost node {node}: not heard from for {:?}; {people} of its people left",
                silent.unwrap_or_default()
            );
            self.sweep_at = Some(now);
        }
        if self.up && self.sweep_at.is_some_and(|at| at <= now) {
            self.sweep_at = None;
            let live: HashMap<String, u64> = self
                .peers
                .iter()
                .map(|(node, p)| (node.clone(), p.incarnation))
                .chain([(self.node(), self.cluster.incarnation())])
                .collect();
            let gone = std::mem::take(&mut self.gone);
            let cluster = self.cluster.clone();
            tokio::spawn(async move {
                // Never a live incarnation's; a gone one's whatever its age; an unknown
                // one's once it is old enough to have been heard from.
                let stale = |holder: &super::Holder, old: bool| {
                    let this = (holder.node.clone(), holder.incarnation);
                    live.get(&holder.node) != Some(&holder.incarnation)
                        && (old || gone.contains(&this))
                };
                match cluster.names.sweep(stale).await {
                    Ok(0) => {}
                    Ok(freed) => tracing::info!("Freed {freed} names of nodes that are gone"),
                    Err(err) => tracing::warn!("Cannot free the names of gone nodes: {err}"),
                }
            });
        }
    }
}

/// Claims this node's names again after an outage; whoever lost theirs to another node
/// meanwhile is told and disconnected.
async fn reclaim(cluster: &Cluster, hub: &Hub) {
    let (lost, unchecked) = cluster.names.reclaim().await;
    for name in &lost {
        tracing::warn!(
            "{name} was registered on another node while this one could not reach NATS: \
             disconnecting this node's {name}"
        );
        hub.evict(
            name,
            "while this server could not reach its cluster, someone on another node took \
             your name: sign in again under another",
        );
    }
    if unchecked > 0 {
        tracing::warn!("Could not re-register {unchecked} names: NATS went away again");
    } else {
        tracing::info!("Re-registered this node's names ({} lost)", lost.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event reads back as sent: what one node publishes another applies.
    #[test]
    fn events_read_back_as_sent() {
        let events = [
            Event::Beat {
                node: "a:1".into(),
                incarnation: 7,
                version: 3,
            },
            Event::Change {
                node: "a:1".into(),
                incarnation: 7,
                version: 4,
                change: Change::Offline {
                    name: "ann".into(),
                    reason: LeftReason::Quit,
                },
            },
            Event::State {
                node: "a:1".into(),
                incarnation: 7,
                version: 4,
                chunk: 0,
                last: true,
                people: vec![Person {
                    name: "bob".into(),
                    rooms: vec!["lobby".into()],
                }],
            },
            Event::Sync {
                from: "b:2".into(),
                of: Some("a:1".into()),
                lost: true,
            },
            Event::Gone {
                node: "a:1".into(),
                incarnation: 7,
            },
        ];
        for event in events {
            let back: Event = bincode::deserialize(&event.to_payload()).unwrap();
            assert_eq!(back, event);
        }
    }
}
