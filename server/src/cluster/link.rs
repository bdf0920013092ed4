//! The link to NATS: one connection, JetStream on it, the names bucket, and the
//! subscriptions a node makes before it serves anyone.

use std::sync::{Mutex, PoisonError};

use std::time::Duration;

use async_nats::{jetstream, Subscriber};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::accounts::KvAccounts;
use super::failover::{self, JetStreamHealth};
use super::names::{self, Names};
use super::presence;
use super::replicas;
use super::rules::KvRules;
use super::settings::ClusterConfig;
use super::whispers::{self, Whisper};

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
    /// NATS cannot keep the replicas `[cluster] replicas` asks for: retrying cannot help,
    /// so the node stops at start instead.
    #[error(
        "NATS cannot keep {replicas} replicas of the chat's streams ([cluster] replicas; a \
         lone NATS server keeps 1, a cluster as many as it has servers with JetStream): \
         {source}"
    )]
    Replicas {
        /// `[cluster] replicas`.
        replicas: usize,
        /// What JetStream said.
        #[source]
        source: async_nats::jetstream::context::CreateStreamError,
    },
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

/// How long JetStream requests (a publish's acknowledgement, a stream's creation) may
/// take before the node says the cluster is unavailable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the link pings its NATS server. A server that stops answering (paused, or cut
/// off without a reset) is left for another after two unanswered pings: about three
/// intervals. The client's default, a minute, left a node silent for minutes behind a
/// paused server.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// The pause before the `n`th attempt to reach NATS again after the link broke: 100 ms
/// doubling to 1 s, so a node is back within a second of NATS.
fn reconnect_delay(attempts: usize) -> Duration {
    let shift = u32::try_from(attempts.min(4)).unwrap_or(4);
    (FIRST_RETRY * 2u32.pow(shift)).min(MAX_RETRY)
}

/// A change of the link to NATS, for the presence task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// NATS answers (again).
    Up,
    /// NATS is out of reach; async-nats keeps trying.
    Down,
}

/// What a cluster node subscribes to before it serves anyone, handed to the tasks that
/// serve them as the server starts ([`Cluster::take_inboxes`]).
#[derive(Debug)]
pub struct Inboxes {
    /// Whispers for this node's people.
    pub whispers: Subscriber,
    /// Every node's presence.
    pub presence: Subscriber,
    /// The link's ups and downs.
    pub links: mpsc::UnboundedReceiver<Link>,
}

/// This node's link to the cluster: who it is and the names it holds.
#[derive(Debug)]
pub struct Cluster {
    /// The node's name, in every claim it makes.
    node: String,
    /// A number this start of the node picked: tells a restarted node from its earlier self.
    incarnation: u64,
    /// `[cluster] replicas`: how many NATS servers keep each stream the node makes.
    replicas: usize,
    /// The NATS URLs as they may be logged (no credentials).
    shown_url: String,
    /// The connection to NATS.
    client: async_nats::Client,
    /// JetStream on it: the rooms' streams.
    js: jetstream::Context,
    /// Until [`Cluster::take_inboxes`].
    inboxes: Mutex<Option<Inboxes>>,
    /// How many times the link came up: a change means NATS is back, and consumers of
    /// the rooms' streams must be made again (ephemeral ones do not outlive a NATS restart).
    ups: watch::Receiver<u64>,
    /// Cluster-wide names.
    pub names: Names,
    /// Accounts and their device sessions.
    pub accounts: KvAccounts,
    /// Room roles, settings, bans and the audit log.
    pub rules: KvRules,
    /// What JetStream's requests through the current server got lately.
    health: JetStreamHealth,
}

/// What one attempt to join brings: the connection, its inboxes, its reconnections, and the
/// three buckets.
type Connected = (
    async_nats::Client,
    Inboxes,
    watch::Receiver<u64>,
    Names,
    KvAccounts,
    KvRules,
);

impl Cluster {
    /// Joins the cluster `config` names as `node`, trying again (after [`FIRST_RETRY`],
    /// doubling up to [`MAX_RETRY`]) until NATS answers and the names bucket is open, and
    /// saying so at WARN at most every [`RETRY_LOG_EVERY`]. Gives up only when NATS cannot
    /// keep the replicas asked for ([`ClusterError::Replicas`]), which no retry mends;
    /// otherwise the caller races it against its shutdown.
    pub async fn connect(config: &ClusterConfig, node: String) -> Result<Cluster, ClusterError> {
        let shown_url = config.shown_url();
        let incarnation = new_incarnation();
        let mut pause = FIRST_RETRY;
        let mut last_said: Option<Instant> = None;
        loop {
            match Cluster::try_connect(config, &node, incarnation).await {
                Ok((client, inboxes, ups, names, accounts, rules)) => {
                    match names.free_earlier_starts().await {
                        Ok(0) => {}
                        Ok(freed) => {
                            tracing::info!("Freed {freed} names this node held before it restarted")
                        }
                        Err(err) => tracing::warn!(
                            "Cannot free the names of this node's earlier start: {err}"
                        ),
                    }
                    tracing::info!(
                        node = %node,
                        incarnation,
                        "Joined the cluster through NATS at {shown_url}; names in the bucket {}",
                        names::BUCKET
                    );
                    let mut js = jetstream::new(client.clone());
                    js.set_timeout(REQUEST_TIMEOUT);
                    return Ok(Cluster {
                        node,
                        incarnation,
                        replicas: config.replicas,
                        shown_url,
                        client,
                        js,
                        inboxes: Mutex::new(Some(inboxes)),
                        ups,
                        names,
                        accounts,
                        rules,
                        health: JetStreamHealth::default(),
                    });
                }
                Err(ClusterError::BucketCreate { source, .. })
                    if replicas::is_beyond_nats(&source) =>
                {
                    return Err(ClusterError::Replicas {
                        replicas: config.replicas,
                        source,
                    });
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

    /// One attempt: connects, subscribes to this node's whispers and to presence, and
    /// opens the names, accounts and moderation buckets.
    async fn try_connect(
        config: &ClusterConfig,
        node: &str,
        incarnation: u64,
    ) -> Result<Connected, ClusterError> {
        let (links_tx, links) = mpsc::unbounded_channel();
        let (ups_tx, ups) = watch::channel(0u64);
        let client = async_nats::ConnectOptions::new()
            .name(format!("chat-server {node}"))
            .connection_timeout(CONNECT_TIMEOUT)
            .ping_interval(PING_INTERVAL)
            .max_reconnects(None)
            .reconnect_delay_callback(reconnect_delay)
            .reconnect_to_server_callback(|servers, last| async move {
                failover::next_server(&servers, &last)
            })
            .event_callback(move |event| {
                let link = match event {
                    async_nats::Event::Connected => Some(Link::Up),
                    async_nats::Event::Disconnected => Some(Link::Down),
                    _ => None,
                };
                if let Some(link) = link {
                    if link == Link::Up {
                        ups_tx.send_modify(|ups| *ups += 1);
                    }
                    let _ = links_tx.send(link);
                }
                async {}
            })
            .connect(config.urls())
            .await
            .map_err(ClusterError::Connect)?;
        let subscribe = |subject: String| {
            let client = client.clone();
            async move {
                client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|source| ClusterError::Subscribe { subject, source })
            }
        };
        let whispers = subscribe(whispers::subject(node)).await?;
        let presence = subscribe(presence::SUBJECT.to_owned()).await?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        let names = Names::open(&client, &js, node, incarnation, config.replicas).await?;
        let accounts = KvAccounts::open(&js, config.replicas).await?;
        let rules = KvRules::open(&js, config.replicas).await?;
        let inboxes = Inboxes {
            whispers,
            presence,
            links,
        };
        Ok((client, inboxes, ups, names, accounts, rules))
    }

    /// Changes each time the link to NATS comes up again.
    pub fn ups(&self) -> watch::Receiver<u64> {
        self.ups.clone()
    }

    /// What this node subscribed to, once: the server hands it to the tasks that serve it
    /// as it starts serving.
    pub fn take_inboxes(&self) -> Option<Inboxes> {
        self.inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Whether NATS answers now. While it does not, room messages are refused at once
    /// (`ClusterUnavailable`) rather than waiting for a timeout.
    pub fn is_up(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// A JetStream request through the current NATS server was answered (a refusal that
    /// JetStream decided, such as a wrong last sequence, counts).
    pub fn jetstream_answered(&self) {
        self.health.answered();
    }

    /// A JetStream request through the current NATS server failed (timed out, or JetStream
    /// unavailable there) while the server answers pings: once nothing but failures came
    /// for a while, the link moves to another server (see `failover.rs`).
    pub fn jetstream_failed(&self) {
        if !self.is_up() || !self.health.failed_at(std::time::Instant::now()) {
            return;
        }
        let server = self.client.server_info();
        tracing::warn!(
            "JetStream has not answered through the NATS server {} ({}:{}) for a while: \
             moving to another server",
            server.server_name,
            server.host,
            server.port
        );
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(err) = client.force_reconnect().await {
                tracing::warn!("Cannot move to another NATS server: {err}");
            }
        });
    }

    /// This start of the node.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The connection to NATS.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// JetStream on the connection.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// How many NATS servers keep each stream the node makes (`[cluster] replicas`).
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// Sends `whisper` to the node `node`, which delivers it to its target there.
    pub async fn send_whisper(&self, node: &str, whisper: &Whisper) -> Result<(), SendError> {
        if !self.is_up() {
            return Err(SendError(async_nats::PublishError::new(
                async_nats::client::PublishErrorKind::Send,
            )));
        }
        self.client
            .publish(whispers::subject(node), whisper.to_payload())
            .await
            .map_err(SendError)
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Tells the other nodes this one is stopping, gives back every name it still holds
    /// (at shutdown), and says so.
    pub async fn leave(&self) {
        presence::say_gone(self).await;
        let released = self.names.release_all().await;
        tracing::info!(
            node = %self.node,
            "Left the cluster at {}; released {released} names",
            self.shown_url
        );
    }
}

/// A number no earlier start of this node picked, in practice: the clock's nanoseconds
/// mixed with the process id.
fn new_incarnation() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 48)
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
