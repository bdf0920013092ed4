//! Getting a benchmark's clients connected: the server's address found once and kept, the
//! receivers registered and in their rooms a bounded number at a time, the open-file limit
//! raised to fit them, and what to change on the server when one of its limits refuses a
//! join. What a connection does once joined is [`super::receive`]'s and
//! [`super::publish`]'s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use chat_proto::ErrorKind;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::join::{join, JoinError, Joined};
use super::layout::receiver_name;
use super::progress::Progress;
use super::receive::{spawn_receiver, Received};
use super::run::Run;
use crate::error::ClientError;
use crate::settings::Settings;

/// Where the clients connect and what they are called.
#[derive(Debug, Clone)]
pub struct Target {
    /// The first server's address, as the first client reached it: the publishers'.
    pub addr: SocketAddr,
    /// Where the receivers connect, receiver `i` to `servers[i mod len]`: `addr`, then each
    /// `--also` (one list shared by every connecting task).
    pub servers: Arc<[SocketAddr]>,
    /// `--name`: the start of every client's name.
    pub prefix: String,
    /// Limit for each handshake.
    pub wait: Duration,
}

/// Connects and registers `clients` receivers, at most `concurrency` (`--connect-concurrency`)
/// at a time, receiver `i` joining `rooms[i mod R]`; each starts reading as soon as it is in
/// its room (the join notices of those after it must not fill its queue on the server).
#[allow(clippy::too_many_arguments)]
pub async fn connect_receivers(
    settings: &Settings,
    also: &[String],
    clients: usize,
    concurrency: usize,
    run: &Arc<Run>,
    rooms: &Arc<[String]>,
    expected: u64,
    chunk: usize,
) -> anyhow::Result<(Target, Vec<JoinHandle<Received>>)> {
    let (target, first) = first_join(settings, also, &rooms[0], chunk).await?;
    let mut handles = Vec::with_capacity(clients);
    handles.push(spawn_receiver(first, 0, expected, run.clone()));
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let (ready_tx, mut ready) = mpsc::unbounded_channel::<Result<(), anyhow::Error>>();
    for slot in 1..clients {
        let (gate, ready_tx, run, target, rooms) = (
            gate.clone(),
            ready_tx.clone(),
            run.clone(),
            target.clone(),
            rooms.clone(),
        );
        handles.push(tokio::spawn(async move {
            let name = receiver_name(&target.prefix, slot);
            let room = &rooms[slot % rooms.len()];
            let permit = gate.acquire_owned().await;
            let joined = join(
                target.servers[slot % target.servers.len()],
                &name,
                std::slice::from_ref(room),
                chunk,
                target.wait,
            )
            .await;
            drop(permit);
            match joined {
                Ok(joined) => {
                    let _ = ready_tx.send(Ok(()));
                    spawn_receiver(joined, slot, expected, run)
                        .await
                        .unwrap_or_default()
                }
                Err(err) => {
                    let why = err.to_string();
                    let _ = ready_tx.send(Err(join_failed(&format!("receiver {name}"), err)));
                    Received {
                        disconnected: Some(why),
                        ..Received::default()
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    wait_connected(&mut ready, 1, clients, &run.stop).await?;
    Ok((target, handles))
}

/// Waits until `clients` connections are in, `already` of them before the first word on
/// `ready`, showing the progress; at the first that could not join, stops the run (`stop`)
/// and returns its error.
pub async fn wait_connected(
    ready: &mut mpsc::UnboundedReceiver<anyhow::Result<()>>,
    already: usize,
    clients: usize,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let mut progress = Progress::new("connecting", clients as u64);
    progress.set(already as u64);
    for joined in already + 1..=clients {
        match ready.recv().await {
            Some(Ok(())) => progress.set(joined as u64),
            Some(Err(err)) => {
                stop.cancel();
                return Err(err);
            }
            None => bail!("the connecting tasks stopped early"),
        }
    }
    progress.finish();
    Ok(())
}

/// Registers receiver 0 and puts it in `room`, trying each address the host resolves to,
/// and keeps the address that worked for everyone else; resolves the `also` servers too.
async fn first_join(
    settings: &Settings,
    also: &[String],
    room: &str,
    chunk: usize,
) -> anyhow::Result<(Target, Joined)> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((settings.host.as_str(), settings.port))
        .await
        .with_context(|| format!("cannot resolve {}", settings.host))?
        .collect();
    let name = receiver_name(&settings.name, 0);
    let mut last_err = None;
    let rooms = [room.to_owned()];
    for addr in addrs {
        match join(addr, &name, &rooms, chunk, settings.timeout).await {
            Ok(joined) => {
                let mut servers = vec![addr];
                for other in also {
                    servers.push(resolve_like(other, addr).await?);
                }
                let target = Target {
                    addr,
                    servers: servers.into(),
                    prefix: settings.name.clone(),
                    wait: settings.timeout,
                };
                return Ok((target, joined));
            }
            Err(JoinError::Client(err @ ClientError::Connect { .. })) => last_err = Some(err),
            Err(err) => return Err(join_failed(&format!("receiver {name}"), err)),
        }
    }
    Err(last_err.map_or_else(
        || anyhow::anyhow!("{} resolves to no address", settings.host),
        anyhow::Error::new,
    ))
}

/// `host_port`'s address, of the same family as `first` when it has one: `localhost` may
/// resolve to `::1` first while the servers listen on `127.0.0.1`, as the first did.
async fn resolve_like(host_port: &str, first: SocketAddr) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(host_port)
        .await
        .with_context(|| format!("cannot resolve --also {host_port} (HOST:PORT)"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4() == first.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| anyhow!("--also {host_port} resolves to no address"))
}

/// The error for a connection (`who`) that could not join, with what to change on the
/// server when it is one of its limits.
pub fn join_failed(who: &str, err: JoinError) -> anyhow::Error {
    let config = "in the server's config.ini";
    let advice = match &err {
        JoinError::Client(_) => None,
        JoinError::TooManyRooms { wanted, .. } => Some(format!(
            "set [limits] rooms_per_user = 0 (no limit) or at least {wanted} {config}, or pass \
             fewer --rooms"
        )),
        JoinError::Room { kind, .. } => match kind {
            ErrorKind::TooManyRooms => Some(format!(
                "set [limits] rooms_per_user = 0 (no limit) {config}, or pass fewer --rooms"
            )),
            ErrorKind::RoomsFull => Some(format!(
                "set [limits] max_rooms = 0 (no limit) {config}, or pass fewer --rooms"
            )),
            ErrorKind::RateLimited | ErrorKind::Flooding => Some(format!(
                "chat-client bench needs flood control off: [limits] messages_per_second = 0 \
                 {config}"
            )),
            _ => None,
        },
    };
    match (err, advice) {
        (JoinError::Client(err), _) => {
            anyhow::Error::new(err).context(format!("{who} could not join"))
        }
        (err, Some(advice)) => anyhow!("{who} could not join: {err} — {advice}"),
        (err, None) => anyhow!("{who} could not join: {err}"),
    }
}

/// Raises this process's open-file limit to fit `connections` sockets, and says what it
/// did: the soft limit up to the hard one, and the hard one too when the process may (as
/// root, up to the kernel's `fs.nr_open`); a clear error when neither is allowed.
pub fn raise_fd_limit(connections: usize) -> anyhow::Result<String> {
    use rlimit::Resource;
    // Standard streams, the runtime's own descriptors, the resolver: a margin.
    let needed = connections as u64 + 64;
    let (soft, hard) =
        rlimit::getrlimit(Resource::NOFILE).context("cannot read the open-file limit")?;
    if soft >= needed {
        return Ok(format!("open-file limit {soft}, enough"));
    }
    if hard >= needed {
        rlimit::setrlimit(Resource::NOFILE, needed, hard)
            .context("cannot raise the open-file limit")?;
        return Ok(format!(
            "open-file limit raised from {soft} to {needed} (hard limit {hard})"
        ));
    }
    match rlimit::setrlimit(Resource::NOFILE, needed, needed) {
        Ok(()) => Ok(format!(
            "open-file limit raised from {soft} to {needed}, hard limit too (was {hard})"
        )),
        Err(err) => bail!(
            "{connections} connections need {needed} open files but the limit is {soft} and \
             the hard limit {hard} cannot be raised ({err}); raise it (ulimit -Hn {needed}, \
             as root) and try again"
        ),
    }
}

/// The server's address: the first the host resolves to, IPv4 first (servers here listen
/// on 127.0.0.1 while `localhost` may resolve to `::1` first, and source addresses bound
/// before connecting are IPv4).
pub(super) async fn resolve(settings: &Settings) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((settings.host.as_str(), settings.port))
        .await
        .with_context(|| format!("cannot resolve {}", settings.host))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| anyhow!("{} resolves to no address", settings.host))
}
