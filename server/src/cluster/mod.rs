//! The cluster: several chat-server nodes joined through one NATS server.
//!
//! Built so far: the link to NATS ([`Cluster::connect`], which retries until NATS answers),
//! cluster-wide names ([`names`]), which also say who is online anywhere, and whispers to
//! people on other nodes ([`whispers`]). Reached only from the handshake, a whisper, a list
//! of users and a leaving connection, and only when `[cluster]` is set: a server without it
//! never runs any of this. Room messages and presence across nodes are not here yet.

pub mod names;
pub mod whispers;

use std::sync::{Mutex, PoisonError};

use std::time::Duration;

use async_nats::{jetstream, Subscriber};
use tokio::time::Instant;

use crate::config::ClusterConfig;
pub use names::{ClaimError, Holder, LookupError, Names};
pub use whispers::Whisper;

/// The first pause after a failed attempt to reach NATS; each next one doubles, up to
/// [`MAX_RETRY`]. Short, because a node and its NATS often start together.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest pause between two attempts to reach NATS: a node serves within a second of
/// NATS coming up, and an absent NATS costs one connection attempt a second.
pub const MAX_RETRY: Duration = Duration::from_secs(1);

/// How often at most the node says it cannot reach NATS: once a second tells the operator
/// what is wrong without filling the log.
pub const RETRY_LOG_EVERY: Duration = Duration::from_secs(1);

/// How long one attempt to open the TCP (or TLS) connection to NATS may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why one attempt to join the cluster failed; the node retries after any of them.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No connection to NATS: nobody listening, a wrong address, TLS or credentials refused.
    #[error("{0}")]
    Connect(#[source] async_nats::ConnectError),
    /// Connected, but the stream under the names bucket cannot be made (JetStream off, say).
    #[error("cannot create the key-value bucket {bucket}: {source}")]
    BucketCreate {
        /// The bucket's name.
        bucket: &'static str,
        /// What JetStream said.
        #[source]
        source: async_nats::jetstream::context::CreateStreamError,
    },
    /// The names bucket exists but cannot be opened as one.
    #[error("cannot open the key-value bucket {bucket}: {source}")]
    BucketOpen {
        /// The bucket's name.
        bucket: &'static str,
        /// What JetStream said.
        #[source]
        source: async_nats::jetstream::context::KeyValueError,
    },
    /// Connected, but this node's whisper subject cannot be subscribed to.
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        /// The node's whisper subject.
        subject: String,
        /// What NATS said.
        #[source]
        source: async_nats::SubscribeError,
    },
}

/// A whisper could not be handed to NATS for another node.
#[derive(Debug, thiserror::Error)]
#[error("cannot send a whisper through NATS: {0}")]
pub struct SendError(#[source] async_nats::PublishError);

/// This node's link to the cluster: who it is and the names it holds.
#[derive(Debug)]
pub struct Cluster {
    /// The node's name, in every claim it makes.
    node: String,
    /// The NATS URL as it may be logged (no credentials).
    shown_url: String,
    /// The connection to NATS, for whispers to other nodes.
    client: async_nats::Client,
    /// Whispers for this node's people, subscribed to before the node serves anyone, until
    /// [`Cluster::take_inbox`] hands them to the task that delivers them.
    inbox: Mutex<Option<Subscriber>>,
    /// Cluster-wide names.
    pub names: Names,
}

impl Cluster {
    /// Joins the cluster `config` names as `node`, trying again (after [`FIRST_RETRY`],
    /// doubling up to [`MAX_RETRY`]) until NATS answers and the names bucket is open, and
    /// saying so at WARN at most every [`RETRY_LOG_EVERY`]. Never gives up: the caller
    /// races it against its shutdown.
    pub async fn connect(config: &ClusterConfig, node: String) -> Cluster {
        let shown_url = config.shown_url();
        let mut pause = FIRST_RETRY;
        let mut last_said: Option<Instant> = None;
        loop {
            match Cluster::try_connect(&config.nats, &node).await {
                Ok((client, inbox, names)) => {
                    tracing::info!(
                        node = %node,
                        "Joined the cluster through NATS at {shown_url}; names in the bucket {}",
                        names::BUCKET
                    );
                    return Cluster {
                        node,
                        shown_url,
                        client,
                        inbox: Mutex::new(Some(inbox)),
                        names,
                    };
                }
                Err(err) => {
                    if last_said.is_none_or(|at| at.elapsed() >= RETRY_LOG_EVERY) {
                        tracing::warn!("Cannot reach NATS at {shown_url}: {err}; retrying");
                        last_said = Some(Instant::now());
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY);
                }
            }
        }
    }

    /// One attempt: connects, subscribes to this node's whispers and opens the names bucket.
    async fn try_connect(
        url: &str,
        node: &str,
    ) -> Result<(async_nats::Client, Subscriber, Names), ClusterError> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("chat-server {node}"))
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(url)
            .await
            .map_err(ClusterError::Connect)?;
        let subject = whispers::subject(node);
        let inbox = client
            .subscribe(subject.clone())
            .await
            .map_err(|source| ClusterError::Subscribe { subject, source })?;
        let js = jetstream::new(client.clone());
        let names = Names::open(&js, node).await?;
        Ok((client, inbox, names))
    }

    /// The whispers for this node's people, once: the server hands them to
    /// [`whispers::deliver`] as it starts serving.
    pub fn take_inbox(&self) -> Option<Subscriber> {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Sends `whisper` to the node `node`, which delivers it to its target there.
    pub async fn send_whisper(&self, node: &str, whisper: &Whisper) -> Result<(), SendError> {
        self.client
            .publish(whispers::subject(node), whisper.to_payload())
            .await
            .map_err(SendError)
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Gives back every name this node still holds (at shutdown), and says so.
    pub async fn leave(&self) {
        let released = self.names.release_all().await;
        tracing::info!(
            node = %self.node,
            "Left the cluster at {}; released {released} names",
            self.shown_url
        );
    }
}

/// The node name when `[cluster] node` is not set: this machine's host name and the port
/// the server listens on, which tells nodes on one machine apart.
pub fn default_node(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{port}")
}
