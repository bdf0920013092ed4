//! What every connection shares with the server: the hub, the room log, the settings, the
//! limits and the shutdown; made once per server, in one of three ways, by the kind of
//! history it keeps.

use std::io;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::Admission;
use crate::cluster::Cluster;
use crate::config::{Config, StoreConfig};
use crate::hub::{Hub, Limits};
use crate::log::jetstream::JetStreamLog;
use crate::log::page::PAGE_MAX;
use crate::log::{NoHistory, SharedLog, SqliteLog, Store};
use crate::login_backoff::LoginBackoff;
use crate::queued_bytes::QueuedBytes;

/// What every connection shares with the server.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The rooms and who is online.
    pub hub: Arc<Hub>,
    /// The settings: frame limit, queue bound, deadlines, flood control, password.
    pub config: Arc<Config>,
    /// The connection limits, checked before a connection is served.
    pub admission: Admission,
    /// Failed passwords per address, which slow the next attempts from there.
    pub login_backoff: Arc<LoginBackoff>,
    /// Cancelled when the server stops; every reader loop then ends.
    pub shutdown: CancellationToken,
    /// Tracks every connection task and writer task, so shutdown can wait for them to flush.
    pub tracker: TaskTracker,
    /// The bytes every client's queue holds, under `max_queued_bytes`
    /// ([`crate::queued_bytes::watch`] keeps it there).
    pub queued: Arc<QueuedBytes>,
    /// The room log every message goes through: history off, on disk or in a cluster.
    pub log: SharedLog,
    /// With `[cluster]`, the link to the other nodes: names are claimed there.
    pub cluster: Option<Arc<Cluster>>,
}

impl Shared {
    /// What connections share under `config` when the server keeps no history: an empty
    /// room, no connection yet.
    ///
    /// [`crate::run`] makes one for its listener; a harness that drives connections
    /// in-process over other streams (the `session` fuzz target) makes its own and calls
    /// [`super::serve`].
    pub fn new(config: Config) -> Shared {
        Shared::assemble(config, 0, |hub| Arc::new(NoHistory::new(hub)))
    }

    /// What connections share under `config` when the server keeps history in `store`:
    /// every message goes through the `sqlite` log's writer thread, started here.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> io::Result<Shared> {
        let mut started = Ok(());
        let shared = Shared::assemble(config, PAGE_MAX, |hub| {
            match SqliteLog::start(store, hub.clone()) {
                Ok(log) => Arc::new(log),
                Err(err) => {
                    started = Err(err);
                    Arc::new(NoHistory::new(hub))
                }
            }
        });
        started.map(|()| shared)
    }

    /// What connections share on a node of `cluster`: history is the rooms' streams in
    /// NATS, kept as `retention` says.
    pub fn for_cluster(config: Config, cluster: Arc<Cluster>, retention: StoreConfig) -> Shared {
        let link = cluster.clone();
        Shared {
            cluster: Some(cluster),
            ..Shared::assemble(config, PAGE_MAX, |hub| {
                Arc::new(JetStreamLog::start(link, hub, retention))
            })
        }
    }

    /// What connections share around a new hub (stating `history` in `Welcome`) and the
    /// room log `log` makes around it.
    fn assemble(config: Config, history: usize, log: impl FnOnce(Arc<Hub>) -> SharedLog) -> Shared {
        let hub = Arc::new(Hub::with_limits(Limits {
            history,
            ..Limits::from_config(&config)
        }));
        Shared {
            log: log(hub.clone()),
            hub,
            queued: Arc::new(QueuedBytes::new(config.max_queued_bytes)),
            admission: Admission::new(config.max_clients, config.max_per_ip),
            login_backoff: Arc::default(),
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            cluster: None,
        }
    }
}
