//! What every connection shares with the server: the hub, the room log, the settings, the
//! limits and the shutdown; made once per server, in one of three ways, by the kind of
//! history it keeps.

use std::io;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::admission::Admission;
use crate::config::Config;
use crate::current::Current;
use crate::hub::{Hub, Limits};
use crate::log::page::PAGE_MAX;
use crate::log::{NoHistory, SharedLog, SqliteLog, Store};
use crate::login_backoff::LoginBackoff;
use crate::moderation::Moderation;
use crate::peers::Peers;
use crate::queued_bytes::QueuedBytes;

/// What every connection shares with the server.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The rooms and who is online.
    pub hub: Arc<Hub>,
    /// The settings in force: frame limit, queue bound, deadlines, flood control,
    /// password; a reload replaces them ([`crate::reload`]).
    pub config: Arc<Current>,
    /// The connection limits, checked before a connection is served.
    pub admission: Admission,
    /// Failed passwords per address and per account, which slow the next attempts.
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
    /// On a node of a cluster, the other nodes: names are claimed there, whispers sent.
    pub peers: Option<Peers>,
    /// The accounts, where the server keeps any; `None`: everyone is a guest.
    pub accounts: Option<Arc<Accounts>>,
    /// Room roles, settings, bans and the audit log, kept beside the accounts (`None`
    /// where there are none: everyone is a guest, and no room can be claimed).
    pub moderation: Option<Arc<Moderation>>,
}

impl Shared {
    /// What connections share under `config` when the server keeps no history: an empty
    /// room, no connection yet.
    ///
    /// [`crate::run`] makes one for its listener; a harness that drives connections
    /// in-process over other streams (the `session` fuzz target) makes its own and calls
    /// [`super::serve`].
    pub fn new(config: Config) -> Shared {
        let hub = Shared::hub_for(&config, 0);
        let log = Arc::new(NoHistory::new(hub.clone()));
        Shared::around(config, hub, log, None)
    }

    /// What connections share under `config` when the server keeps history in `store`:
    /// every message goes through the `sqlite` log's writer thread, started here.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> io::Result<Shared> {
        let hub = Shared::hub_for(&config, PAGE_MAX);
        let log = Arc::new(SqliteLog::start(store, hub.clone())?);
        Ok(Shared::around(config, hub, log, None))
    }

    /// A new hub for `config`, stating `history` (the most messages a page holds, 0 when
    /// none are kept) in `Welcome`: the first part of a [`Shared`], before its room log.
    pub fn hub_for(config: &Config, history: usize) -> Arc<Hub> {
        Arc::new(Hub::with_limits(Limits {
            history,
            ..Limits::from_config(config)
        }))
    }

    /// What connections share around `hub`, with `log` as the room log and, on a node of
    /// a cluster, `peers` as the other nodes.
    pub fn around(config: Config, hub: Arc<Hub>, log: SharedLog, peers: Option<Peers>) -> Shared {
        Shared {
            log,
            hub,
            queued: Arc::new(QueuedBytes::new(config.max_queued_bytes)),
            admission: Admission::new(config.max_clients, config.max_per_ip),
            login_backoff: Arc::default(),
            config: Arc::new(Current::new(config)),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            peers,
            accounts: None,
            moderation: None,
        }
    }
}
