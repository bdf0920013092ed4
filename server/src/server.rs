//! The listener: binding, the accept loop, and the graceful shutdown.
//!
//! Shutdown follows tokio's graceful-shutdown pattern: when the `shutdown` future given to
//! [`run`] completes, the server stops accepting, queues `System "server shutting down"` to
//! everyone (and refuses new joins from then on), cancels every connection's reader, and
//! waits, bounded in time, for the writers to flush what is queued.
//!
//! With `[cluster]` set, the server joins the cluster after binding and before accepting:
//! until NATS answers, connections wait in the listen backlog (and a shutdown still stops
//! it). At shutdown, once every connection is closed, the names it still holds are given
//! back.
//!
//! With `[tls]` set, each accepted socket makes its TLS handshake in its own task before it
//! is served ([`crate::tls`]); the accept loop itself never waits on a peer.

use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::ServerFrame;
use futures::future::BoxFuture;
use tokio::net::{lookup_host, TcpListener};

use crate::accounts::password::Hasher;
use crate::accounts::service::HASHES_AT_ONCE;
use crate::accounts::store::SharedStore;
use crate::accounts::Accounts;
#[cfg(feature = "cluster")]
use crate::cluster;
use crate::config::{AccountsConfig, Config, StoreConfig};
use crate::connection::{Shared, FLUSH_TIMEOUT};
use crate::log::sqlite::{SqliteAccountStore, SqliteAccounts, SqliteRules};
use crate::log::{SqliteStore, Store, StoreError};
use crate::moderation::Moderation;

/// The text of the notice every client gets when the server stops.
pub const SHUTDOWN_NOTICE: &str = "server shutting down";

/// Binds `host:port`, trying each address the host resolves to (`localhost` may give both
/// `::1` and `127.0.0.1`) and keeping the first that works.
pub async fn bind(host: &str, port: u16) -> io::Result<TcpListener> {
    let mut last_err = None;
    for addr in lookup_host((host, port)).await? {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(err) => last_err = Some(err),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    }))
}

/// How often old messages are trimmed from the room log, after once at start.
pub const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Settings read again while the server runs, for [`run`] to put in force.
pub type Reloads = tokio::sync::mpsc::UnboundedReceiver<Config>;

/// Puts in force each settings `reloads` brings, until its sender is gone.
async fn follow_reloads(shared: Shared, mut reloads: Reloads) {
    while let Some(config) = reloads.recv().await {
        crate::reload::apply(&shared, config);
    }
}

/// Opens the room log `[store]` names, or `None` when the server keeps no history. Its
/// error names the file, for the one line the binary exits with.
///
/// A node of a cluster opens none: its history is the rooms' streams in NATS, shared by
/// every node ([`crate::log::jetstream`]), so that no node keeps one of its own that would diverge.
pub fn open_store(config: &Config) -> Result<Option<Arc<dyn Store>>, StoreError> {
    if config.cluster.is_some() {
        return Ok(None);
    }
    match &config.store {
        None => Ok(None),
        Some(settings) => {
            let store = SqliteStore::open(&settings.path)?;
            store.set_synchronous(settings.synchronous)?;
            Ok(Some(Arc::new(store)))
        }
    }
}

/// Serves clients on `listener` until `shutdown` completes, then shuts down gracefully;
/// with `store` (opened by [`open_store`]), every room message is kept there first; with
/// `web` (bound where `[http]` says), the web client, `/healthz` and `/metrics` there.
///
/// Each settings that come through `reloads` (the binary reads `config.ini` again on
/// SIGHUP) are put in force as [`crate::reload`] says, with nobody disconnected.
///
/// Logs `Listening on <ip>:<port>` first, with the bound address, so a script or a test that
/// started the server on port 0 can find it.
pub async fn run(
    listener: TcpListener,
    web: Option<TcpListener>,
    config: Config,
    store: Option<Arc<dyn Store>>,
    shutdown: impl Future,
    reloads: Reloads,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!("Listening on {addr}");
    if let Some(tls) = &config.tls {
        tracing::info!("TLS with the certificate {}", tls.cert().display());
    }
    tokio::pin!(shutdown);
    let settings = config.store.clone();
    // On a node of a cluster, `leave` is what leaves it once every connection is closed.
    let (shared, leave) = match (store, &settings, config.cluster.clone()) {
        (_, _, Some(cluster_config)) => {
            tracing::info!("History in NATS JetStream, every room a subject of one stream");
            match join_cluster(config, &cluster_config, addr.port(), &mut shutdown).await? {
                Some((shared, leave)) => (shared, Some(leave)),
                None => return Ok(()),
            }
        }
        (Some(store), Some(settings), None) => {
            tracing::info!("History in {}", settings.path.display());
            tokio::spawn(trim(store.clone(), settings.clone()));
            let kept = SqliteAccounts::open(&settings.path).map_err(io::Error::other)?;
            let accounts = start_accounts(Arc::new(SqliteAccountStore::new(kept)), &config)?;
            tracing::info!(
                registration = ?config.accounts.registration,
                guests = config.accounts.guests,
                "Accounts in {}",
                settings.path.display()
            );
            let mut shared = Shared::with_store(config, store)?;
            shared.accounts = Some(accounts);
            let rules = SqliteRules::open(&settings.path).map_err(io::Error::other)?;
            shared.moderation = Some(start_moderation(Arc::new(rules), &shared).await?);
            (shared, None)
        }
        (Some(store), None, None) => {
            tracing::info!("History in a store of the caller's");
            (Shared::with_store(config, store)?, None)
        }
        (None, _, None) => {
            tracing::info!("History off: messages are not kept ([store] path = off)");
            (Shared::new(config), None)
        }
    };
    // Cancelled when shutdown begins (`/healthz` answers 503 from then on); the web
    // listener itself is stopped last, when this guard is dropped as `run` returns.
    let stopping = tokio_util::sync::CancellationToken::new();
    let _web = start_web(web, &shared, &stopping);
    tokio::spawn(follow_reloads(shared.clone(), reloads));
    let hub = shared.hub.clone();
    tokio::spawn(crate::queued_bytes::watch(
        shared.queued.clone(),
        shared.shutdown.clone(),
        move |total| hub.shed(total),
    ));

    tokio::select! {
        () = crate::listener::accept_loop(&listener, &shared) => {}
        _ = &mut shutdown => tracing::info!("Shutting down: no longer accepting connections"),
    }
    stopping.cancel();
    drop(listener);

    let notice = ServerFrame::System {
        text: SHUTDOWN_NOTICE.to_owned(),
        at: crate::clock::now_millis(),
    };
    match shared.hub.close(&notice) {
        Ok(told) => tracing::info!(clients = told, "Sent the shutdown notice"),
        Err(err) => tracing::error!("Cannot encode the shutdown notice: {err}"),
    }
    shared.shutdown.cancel();
    shared.tracker.close();
    // Each connection gives its writer FLUSH_TIMEOUT and then aborts it; the margin covers
    // the step from one to the other.
    let limit = FLUSH_TIMEOUT + Duration::from_millis(500);
    match tokio::time::timeout(limit, shared.tracker.wait()).await {
        Ok(()) => tracing::info!("All connections closed"),
        Err(_) => tracing::warn!(
            "{} connection tasks still running after {limit:?}; leaving them",
            shared.tracker.len()
        ),
    }
    if let Some(leave) = leave {
        leave.await;
    }
    Ok(())
}

/// A node of the cluster `settings` names: joins it (until NATS answers, or `None` if
/// `shutdown` comes first) and wires the connections' [`Shared`] around it; with what
/// leaves the cluster at shutdown.
#[cfg(feature = "cluster")]
async fn join_cluster(
    config: Config,
    settings: &crate::config::ClusterConfig,
    port: u16,
    shutdown: &mut std::pin::Pin<&mut impl Future>,
) -> io::Result<Option<(Shared, BoxFuture<'static, ()>)>> {
    let name = settings
        .node
        .clone()
        .unwrap_or_else(|| cluster::default_node(port));
    let hub = Shared::hub_for(&config, crate::log::page::PAGE_MAX);
    let retention = config.store.clone().unwrap_or_default();
    tokio::select! {
        node = cluster::start(settings, name, hub.clone(), retention) => {
            let node = node.map_err(|err| io::Error::other(err.to_string()))?;
            let accounts = start_accounts(node.accounts(), &config)?;
            tracing::info!(
                registration = ?config.accounts.registration,
                guests = config.accounts.guests,
                "Accounts in the bucket {}",
                cluster::accounts::BUCKET
            );
            let mut shared = Shared::around(config, hub, node.log(), Some(node.peers()));
            shared.accounts = Some(accounts);
            shared.moderation = Some(start_moderation(node.rules(), &shared).await?);
            Ok(Some((shared, Box::pin(node.stop()))))
        }
        _ = shutdown.as_mut() => {
            tracing::info!("Shutting down before the cluster was reached");
            Ok(None)
        }
    }
}

/// A build without the `cluster` feature cannot be a node of a cluster: it says so and
/// does not start.
#[cfg(not(feature = "cluster"))]
async fn join_cluster(
    _config: Config,
    _settings: &crate::config::ClusterConfig,
    _port: u16,
    _shutdown: &mut std::pin::Pin<&mut impl Future>,
) -> io::Result<Option<(Shared, BoxFuture<'static, ()>)>> {
    Err(io::Error::other(
        "[cluster] is set, but this chat-server was built without the cluster feature",
    ))
}

/// The accounts kept in the SQLite file at `path`, with a hasher at OWASP's parameters.
pub fn open_accounts(path: &Path, config: AccountsConfig) -> io::Result<Arc<Accounts>> {
    let store = SqliteAccounts::open(path).map_err(io::Error::other)?;
    accounts_in(Arc::new(SqliteAccountStore::new(store)), config)
}

/// The accounts kept in `store`, with a hasher at OWASP's parameters.
pub fn accounts_in(store: SharedStore, config: AccountsConfig) -> io::Result<Arc<Accounts>> {
    let hasher = Hasher::new(HASHES_AT_ONCE).map_err(io::Error::other)?;
    Ok(Arc::new(Accounts::new(store, hasher, config)))
}

/// The accounts of a running server kept in `store`: their expired sessions swept, and the
/// changes other servers make to a shared store followed.
fn start_accounts(store: SharedStore, config: &Config) -> io::Result<Arc<Accounts>> {
    let accounts = accounts_in(store, config.accounts)?;
    accounts.set_operators(config.operators.clone());
    tokio::spawn(sweep(accounts.clone()));
    tokio::spawn(accounts.clone().follow());
    Ok(accounts)
}

/// The moderation kept in `store`, its records read, and following the changes other
/// nodes make where the store is shared.
async fn start_moderation(
    store: crate::moderation::store::SharedRules,
    shared: &Shared,
) -> io::Result<Arc<Moderation>> {
    let accounts = shared.accounts.clone();
    let operator =
        Box::new(move |name: &str| accounts.as_ref().is_some_and(|a| a.is_operator(name)));
    let moderation = Moderation::start(store, shared.hub.clone(), operator)
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(moderation.clone().follow());
    Ok(moderation)
}

/// Ends the device sessions unused for longer than `[accounts] session_max_age`, at start
/// and every [`TRIM_EVERY`]: a session never presented again would otherwise stay for ever.
async fn sweep(accounts: Arc<Accounts>) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    loop {
        every.tick().await;
        match accounts.sweep(crate::clock::now_millis()).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "Ended device sessions unused for too long"),
            Err(err) => tracing::warn!("Cannot end expired device sessions: {err}"),
        }
    }
}

/// Trims the room log to `[store] keep_per_room` and `max_age` at start, then every
/// [`TRIM_EVERY`], on the blocking pool. Runs until the runtime stops.
async fn trim(store: Arc<dyn Store>, settings: StoreConfig) {
    if settings.keep_per_room.is_none() && settings.max_age.is_none() {
        return;
    }
    let mut every = tokio::time::interval(TRIM_EVERY);
    loop {
        every.tick().await;
        let store = store.clone();
        let keep = settings.keep_per_room.unwrap_or(u64::MAX);
        let older_than = settings.max_age.map(|age| {
            crate::clock::now_millis() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX)
        });
        match tokio::task::spawn_blocking(move || store.trim(keep, older_than)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!("Trimmed {removed} old messages from the room log"),
            Ok(Err(err)) => tracing::error!("Cannot trim the room log: {err}"),
            Err(err) => tracing::error!("Trimming the room log failed: {err}"),
        }
    }
}

/// Serves the web listener on `web` until the returned guard is dropped.
#[cfg(feature = "web")]
fn start_web(
    web: Option<TcpListener>,
    shared: &Shared,
    stopping: &tokio_util::sync::CancellationToken,
) -> Option<AbortOnDrop> {
    web.map(|listener| {
        AbortOnDrop(tokio::spawn(crate::web::serve(
            listener,
            shared.clone(),
            stopping.clone(),
        )))
    })
}

/// A build without the `web` feature serves no web listener, and says so if given one.
#[cfg(not(feature = "web"))]
fn start_web(
    web: Option<TcpListener>,
    _shared: &Shared,
    _stopping: &tokio_util::sync::CancellationToken,
) -> Option<AbortOnDrop> {
    if web.is_some() {
        tracing::warn!("This chat-server was built without the web feature: [http] is not served");
    }
    None
}

/// A task aborted when this is dropped: the web listener lives exactly as long as [`run`].
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
