//! The cluster as a plug: [`start`] joins it and starts everything a node runs (the room
//! log over JetStream, whispers to this node's people, presence), and hands back a
//! [`Node`] whose narrow handles ([`crate::peers`]) are all the connections see of it.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{presence, removals, whispers, ClaimError, Cluster, ClusterError};
use crate::config::{ClusterConfig, StoreConfig};
use crate::hub::Hub;
use crate::log::jetstream::JetStreamLog;
use crate::log::SharedLog;
use crate::peers::{self, Holder, Peers, Unreachable, Whisper};

/// How long the presence task may take to publish the last leaves at shutdown, should NATS
/// stall.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// A running node of the cluster.
#[derive(Debug)]
pub struct Node {
    /// The link to NATS.
    cluster: Arc<Cluster>,
    /// The rooms' streams: this node's room log.
    log: Arc<JetStreamLog>,
    /// The presence task, which publishes the last leaves before it ends.
    presence: Option<JoinHandle<()>>,
    /// Stops the presence task.
    presence_stop: CancellationToken,
}

/// Joins the cluster `settings` names as `node` (trying until NATS answers: race it
/// against the server's shutdown), with `hub` as this node's hub and `retention` as the
/// limits of the rooms' streams it makes; starts the room log, the whispers' delivery and
/// presence.
pub async fn start(
    settings: &ClusterConfig,
    node: String,
    hub: Arc<Hub>,
    retention: StoreConfig,
) -> Result<Node, ClusterError> {
    let cluster = Arc::new(Cluster::connect(settings, node).await?);
    let (feed, changes) = tokio::sync::mpsc::unbounded_channel();
    hub.set_feed(feed);
    let log = Arc::new(JetStreamLog::start(cluster.clone(), hub.clone(), retention));
    let presence_stop = CancellationToken::new();
    tokio::spawn(removals::serve(
        cluster.client().clone(),
        cluster.node().to_owned(),
        hub.clone(),
    ));
    let presence = cluster.take_inboxes().map(|inboxes| {
        tokio::spawn(whispers::deliver(inboxes.whispers, hub.clone()));
        tokio::spawn(presence::run(
            cluster.clone(),
            hub,
            changes,
            inboxes.presence,
            inboxes.links,
            presence_stop.clone(),
        ))
    });
    Ok(Node {
        cluster,
        log,
        presence,
        presence_stop,
    })
}

impl Node {
    /// The room log every connection of this node goes through.
    pub fn log(&self) -> SharedLog {
        self.log.clone()
    }

    /// The accounts bucket, which every node signs in from.
    pub fn accounts(&self) -> crate::accounts::store::SharedStore {
        Arc::new(self.cluster.accounts.clone())
    }

    /// The moderation bucket, whose changes every node applies.
    pub fn rules(&self) -> crate::moderation::store::SharedRules {
        Arc::new(self.cluster.rules.clone())
    }

    /// The handles the commands use: names across the nodes, whispers to other nodes.
    pub fn peers(&self) -> Peers {
        let handle = Arc::new(Handle(self.cluster.clone()));
        Peers {
            names: handle.clone(),
            whispers: handle.clone(),
            removals: handle,
        }
    }

    /// Leaves the cluster, once every connection is closed: the last presence changes
    /// (bounded in time), then the goodbye, and the names this node still holds given back.
    pub async fn stop(mut self) {
        self.presence_stop.cancel();
        if let Some(presence) = self.presence.take() {
            if tokio::time::timeout(LAST_WORDS, presence).await.is_err() {
                tracing::warn!("The last presence changes were not all published");
            }
        }
        self.cluster.leave().await;
    }
}

/// The cluster's side of [`crate::peers`].
#[derive(Debug)]
struct Handle(Arc<Cluster>);

impl peers::Names for Handle {
    fn claim(&self, name: Arc<str>) -> BoxFuture<'static, Result<(), peers::ClaimError>> {
        let cluster = self.0.clone();
        Box::pin(async move {
            cluster.names.claim(&name).await.map_err(|err| match err {
                ClaimError::Taken => peers::ClaimError::Taken,
                other => peers::ClaimError::Unavailable(other.to_string()),
            })
        })
    }

    fn release(&self, name: Arc<str>) -> BoxFuture<'static, ()> {
        let cluster = self.0.clone();
        Box::pin(async move { cluster.names.release(&name).await })
    }

    fn holder(&self, name: String) -> BoxFuture<'static, Result<Option<Holder>, Unreachable>> {
        let cluster = self.0.clone();
        Box::pin(async move {
            match cluster.names.holder(&name).await {
                Ok(holder) => Ok(holder.map(|holder| Holder {
                    node: holder.node,
                    name: holder.name,
                })),
                Err(err) => Err(Unreachable(err.to_string())),
            }
        })
    }
}

impl peers::Removals for Handle {
    fn remove(
        &self,
        node: String,
        user: String,
        detail: String,
    ) -> BoxFuture<'static, Result<Option<String>, Unreachable>> {
        let cluster = self.0.clone();
        Box::pin(async move {
            let asked = cluster
                .client()
                .request(removals::subject(&node), removals::request(&user, &detail))
                .await;
            match asked {
                Ok(answer) => Ok(removals::removed(&answer.payload)),
                // The node that held the name is gone: so is the person.
                Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => Ok(None),
                Err(err) => Err(Unreachable(err.to_string())),
            }
        })
    }
}

impl peers::Whispers for Handle {
    fn node(&self) -> &str {
        self.0.node()
    }

    fn send(&self, node: String, whisper: Whisper) -> BoxFuture<'static, Result<(), Unreachable>> {
        let cluster = self.0.clone();
        Box::pin(async move {
            cluster
                .send_whisper(&node, &whisper)
                .await
                .map_err(|err| Unreachable(err.to_string()))
        })
    }
}
