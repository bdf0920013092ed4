//! What this node does with what it hears on the presence subject: another node's
//! heartbeat, change, snapshot chunk, request or goodbye, applied to the hub's roster.

use chat_proto::LeftReason;
use tokio::time::Instant;

use super::{reclaim, Event, Peer, Presence, ASK_EVERY};
use crate::cluster::names;

impl Presence {
    /// Applies what another node said.
    pub(super) async fn heard(&mut self, payload: &[u8]) {
        let event: Event = match bincode::deserialize(payload) {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!("Dropped a presence message that is not one: {err}");
                return;
            }
        };
        let me = self.cluster.node();
        match event {
            Event::Sync { from, of, lost }
                if from != me && of.as_deref().is_none_or(|of| of == me) =>
            {
                self.publish_state().await;
                if lost {
                    // That node took this one for lost and freed its names (its heartbeats
                    // did not come through, say): claim them again.
                    self.reclaim_soon();
                }
            }
            Event::Beat {
                node,
                incarnation,
                version,
            } if node != me => {
                let peer = self.meet(&node, incarnation);
                if peer
                    .partial_since
                    .is_some_and(|at| at.elapsed() > ASK_EVERY)
                {
                    peer.partial = None;
                    peer.partial_since = None;
                }
                let behind = version > peer.version && peer.partial.is_none();
                if behind {
                    self.ask(&node).await;
                }
            }
            Event::Change {
                node,
                incarnation,
                version,
                change,
            } if node != me => {
                let peer = self.meet(&node, incarnation);
                if version == peer.version + 1 {
                    peer.version = version;
                    self.hub
                        .remote_change(&node, change, crate::clock::now_millis());
                } else if version > peer.version + 1 {
                    self.ask(&node).await;
                }
            }
            Event::State {
                node,
                incarnation,
                version,
                chunk,
                last,
                people,
            } if node != me => {
                let peer = self.meet(&node, incarnation);
                let partial = match peer.partial.take() {
                    Some((v, next, mut held)) if v == version && next == chunk => {
                        held.extend(people);
                        Some((v, next + 1, held))
                    }
                    _ if chunk == 0 => {
                        peer.partial_since = Some(Instant::now());
                        Some((version, 1, people))
                    }
                    // A chunk of a snapshot whose start was missed: wait for another.
                    _ => None,
                };
                match partial {
                    Some((version, _, people)) if last => {
                        if version >= peer.version {
                            peer.version = version;
                            self.hub
                                .remote_state(&node, people, crate::clock::now_millis());
                        }
                    }
                    other => peer.partial = other,
                }
            }
            Event::Gone { node, incarnation }
                if node != me
                    && self
                        .peers
                        .get(&node)
                        .is_some_and(|p| p.incarnation == incarnation) =>
            {
                self.peers.remove(&node);
                let people =
                    self.hub
                        .remote_drop(&node, LeftReason::NodeLost, crate::clock::now_millis());
                tracing::info!("Node {node} stopped; {people} of its people left");
                // It gave its names back itself; whatever it could not is swept.
                self.gone.insert((node, incarnation));
                self.sweep_at = Some(Instant::now());
            }
            _ => {}
        }
    }

    /// The peer `node` at `incarnation`, heard from now: a new incarnation replaces the
    /// one known (a restart), dropping its people.
    fn meet(&mut self, node: &str, incarnation: u64) -> &mut Peer {
        let now = Instant::now();
        let replaced = self
            .peers
            .get(node)
            .is_some_and(|p| p.incarnation != incarnation);
        if replaced {
            if let Some(old) = self.peers.remove(node) {
                self.gone.insert((node.to_owned(), old.incarnation));
            }
            let people =
                self.hub
                    .remote_drop(node, LeftReason::NodeLost, crate::clock::now_millis());
            tracing::info!("Node {node} restarted; {people} of its earlier people left");
            self.sweep_at = Some(now + names::SWEEP_GRACE);
        }
        let gone = &mut self.gone;
        let peer = self.peers.entry(node.to_owned()).or_insert_with(|| {
            // Taken for lost, but alive after all (NATS was away): its names are its own.
            let was_lost = gone.remove(&(node.to_owned(), incarnation));
            tracing::info!("Node {node} joined the cluster");
            Peer {
                was_lost,
                incarnation,
                version: 0,
                seen: now,
                asked: None,
                partial: None,
                partial_since: None,
            }
        });
        peer.seen = now;
        peer
    }

    /// Claims this node's names again in a task of its own, at most every [`ASK_EVERY`]
    /// (one claim at a time: [`super::names::Names::reclaim`] waits for the one before).
    pub(super) fn reclaim_soon(&mut self) {
        let now = Instant::now();
        if self.reclaimed.is_some_and(|at| now - at < ASK_EVERY) {
            return;
        }
        self.reclaimed = Some(now);
        let cluster = self.cluster.clone();
        let hub = self.hub.clone();
        tokio::spawn(async move { reclaim(&cluster, &hub).await });
    }
}
