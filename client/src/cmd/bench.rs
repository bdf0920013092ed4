//! `chat-client bench`: how fast the server fans messages out, and how much an idle client
//! costs it.
//!
//! A load run, with the same method as the load generator used for other servers so the
//! figures sit side by side:
//!
//! 1. `--clients` receivers connect, register and join a room (at most
//!    `--connect-concurrency` handshakes at once), each reading from the moment it is in
//!    the room; then the `--publishers` connect and join every room. With `--rooms 1` (the
//!    default) the room is `lobby`; with `--rooms R` receiver `i` joins `NAME-(i mod R)`
//!    (`NAME` from `--name`), so the rooms differ in size by one receiver at most.
//! 2. Each publisher sends `--messages` messages of `--size` bytes to each room, the rooms
//!    in turn (`M × R` in all), whose text carries the publisher, its sequence number in
//!    that room and the send time (`stamp`). At saturation it writes batches of 64 but
//!    never more than `--window` messages ahead of the slowest receiver, nor of its own
//!    connection (which reads every room back), so the server is measured, not its
//!    queues; with `--rate` the publishers together offer that many messages a second, for
//!    latency at a fixed load.
//! 3. It ends when every receiver has every message of its room, or when deliveries stop
//!    for `--timeout` seconds; what is missing then is lost. A receiver checks each
//!    publisher's sequence and the room of every message it gets.
//!
//! Deliveries are the messages the receivers received (`P × M × N` when nothing is lost,
//! whatever `R`): deliveries/s is their number ÷ the time from the first send to the last
//! receive, and their cost is that time, and the server's CPU time, per delivery. Latency
//! is send to receive, on one clock, in an HDR histogram.
//!
//! With `--also HOST:PORT` (repeatable) the receivers are spread over several nodes of one
//! cluster, round-robin: receiver `i` connects to server `i mod S`, the first (`--host`,
//! `--port`) and then the `--also`s in order; the publishers stay on the first. The window
//! needs nothing more: it already waits for the slowest receiver wherever it is, so the
//! receivers of a node that sees messages later simply hold the publishers back sooner.
//!
//! An idle run (`--idle`) puts `--clients` clients in their rooms that only listen, waits
//! until the join notices have all arrived, and reads the server's resident memory
//! (`--server-pid`) before and after: bytes per idle client.

mod clients;
mod report;
mod stamp;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use chat_proto::validate::{self, DEFAULT_ROOM};
use chat_proto::ErrorKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use self::clients::{
    join, spawn_receiver, JoinError, Joined, Plan, Publisher, Received, Run, Sent,
};
use self::report::{cpu_seconds, status_kb, IdleReport, Latency, LoadReport, ServerShare};
use self::stamp::Stamp;
use crate::cmd::UsageError;
use crate::error::ClientError;
use crate::settings::Settings;

/// Read-buffer growth for a receiver under load: one read takes what the server wrote
/// since the last one.
const LOAD_CHUNK: usize = 64 * 1024;

/// Read-buffer growth for an idle client: enough for a join notice, so ten thousand of
/// them cost this process little.
const IDLE_CHUNK: usize = 256;

/// How often the progress bar and the end-of-run checks look at the counters. The figures
/// come from the receivers' own clocks, so this does not affect them.
const POLL: Duration = Duration::from_millis(50);

/// Measure deliveries/s, loss and latency with many receivers (or idle memory with --idle).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Clients are named <NAME>-r0.. (receivers) and <NAME>-p0.. (publishers), \
                        NAME from --name; with --rooms R > 1 the rooms are <NAME>-0.. and \
                        receiver i is in <NAME>-(i mod R). Exit status 1 when a message was \
                        lost, not sent, or reached a receiver outside its room.\n\
                        Against a server with a message rate limit, switch it off first \
                        ([limits] messages_per_second = 0 in its config.ini). Each publisher \
                        joins all R rooms: over 50 needs [limits] rooms_per_user = 0 (or at \
                        least R), and over 10000 [limits] max_rooms = 0."
)]
pub struct Bench {
    /// Receiving clients (N)
    #[arg(long, value_name = "N", default_value_t = 100)]
    clients: usize,
    /// Publishing clients (P); they are in every room and read everything
    #[arg(long, value_name = "P", default_value_t = 1)]
    publishers: usize,
    /// Rooms (R) the receivers are spread over, round-robin; publishers send to all of
    /// them in turn. 1: everyone in lobby
    #[arg(long, value_name = "R", default_value_t = 1)]
    rooms: usize,
    /// Messages each publisher sends to each room (M; M × R in all)
    #[arg(long, value_name = "M", default_value_t = 10_000)]
    messages: u64,
    /// Text bytes per message (B), at least 33 (the stamp)
    #[arg(long, value_name = "B", default_value_t = 64)]
    size: usize,
    /// Messages per second offered by all publishers together, to all rooms, for latency
    /// at a fixed load [default: as fast as the window allows]
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Most messages in flight ahead of the slowest receiver (in its room, on whichever
    /// server) and of each publisher's own connection (all rooms); 0 for no limit
    #[arg(long, value_name = "W", default_value_t = 1000)]
    window: u64,
    /// Register the clients and stay idle instead; with --server-pid, report the server's
    /// resident memory per client
    #[arg(long)]
    idle: bool,
    /// The server's process id, to read its memory and CPU time from /proc
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Handshakes in progress at once while connecting
    #[arg(long, value_name = "C", default_value_t = 64)]
    connect_concurrency: usize,
    /// Worker threads of this process [default: one per core]
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Print the results as one JSON object
    #[arg(long)]
    json: bool,
    /// Another node of the same cluster: receivers are spread over the first server and
    /// these, round-robin; publishers stay on the first
    #[arg(long, value_name = "HOST:PORT")]
    also: Vec<String>,
}

/// Where the clients connect and what they are called.
#[derive(Debug, Clone)]
struct Target {
    /// The first server's address, as the first client reached it: the publishers'.
    addr: SocketAddr,
    /// Where the receivers connect, receiver `i` to `servers[i mod len]`: `addr`, then each
    /// `--also` (one list shared by every connecting task).
    servers: Arc<[SocketAddr]>,
    /// `--name`: the start of every client's name.
    prefix: String,
    /// Limit for each handshake.
    wait: Duration,
}

impl Bench {
    /// Runs the benchmark on its own multi-threaded runtime and prints the results.
    pub fn run(self, settings: &Settings) -> anyhow::Result<()> {
        self.check(settings)?;
        raise_fd_limit(self.clients + self.publishers)?;
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        if let Some(threads) = self.threads {
            runtime.worker_threads(threads.max(1));
        }
        let runtime = runtime
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let outcome = runtime.block_on(async {
            if self.idle {
                let report = self.idle(settings).await?;
                self.print(&report)?;
                Ok(())
            } else {
                let report = self.load(settings).await?;
                self.print(&report)?;
                if report.lost > 0 {
                    bail!("{} of {} messages lost", report.lost, report.expected);
                }
                let planned = self.publishers as u64 * self.messages * self.rooms as u64;
                if report.sent < planned {
                    bail!("the publishers sent {} of {planned} messages", report.sent);
                }
                if report.wrong_room > 0 {
                    bail!(
                        "{} messages reached receivers that are not in their room",
                        report.wrong_room
                    );
                }
                Ok(())
            }
        });
        // Connections still closing need no waiting for.
        runtime.shutdown_timeout(Duration::from_secs(1));
        outcome
    }

    /// Refuses, before connecting, what could not work: no receivers, a size under the
    /// stamp or over the server's limit, names the server would refuse.
    fn check(&self, settings: &Settings) -> anyhow::Result<()> {
        if self.clients == 0 || (!self.idle && self.publishers == 0) {
            return Err(UsageError("--clients and --publishers must be at least 1".into()).into());
        }
        if self.size < stamp::HEADER_LEN {
            return Err(UsageError(format!(
                "--size must be at least {} (the stamp every message carries)",
                stamp::HEADER_LEN
            ))
            .into());
        }
        if self.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err(UsageError("--rate must be a positive number".into()).into());
        }
        if self.rooms == 0 || self.rooms > self.clients {
            return Err(UsageError(
                "--rooms must be at least 1 and at most --clients (every room needs a receiver)"
                    .into(),
            )
            .into());
        }
        let longest_room = room_name(&settings.name, self.rooms - 1, self.rooms);
        validate::room(&longest_room).map_err(|e| {
            UsageError(format!(
                "--name {:?} makes room names like {longest_room:?}: {e}",
                settings.name
            ))
        })?;
        let widest = Stamp {
            publisher: u16::MAX,
            seq: self.messages,
            sent_ns: u64::MAX,
        };
        settings
            .client()
            .check_fits(&widest.frame(&longest_room, self.size))?;
        if self.publishers > usize::from(u16::MAX) {
            return Err(UsageError("--publishers must be at most 65535".into()).into());
        }
        for name in [
            receiver_name(&settings.name, self.clients - 1),
            publisher_name(&settings.name, self.publishers.max(1) - 1),
        ] {
            validate::username(&name).map_err(|e| {
                UsageError(format!(
                    "--name {:?} makes client names like {name:?}: {e}",
                    settings.name
                ))
            })?;
        }
        Ok(())
    }

    /// Connects everyone, runs the publishers, and measures until every receiver has
    /// every message or deliveries stop.
    async fn load(&self, settings: &Settings) -> anyhow::Result<LoadReport> {
        let run = Arc::new(Run::new(
            self.clients,
            self.publishers,
            self.window,
            settings.timeout,
        ));
        let per_receiver = self.publishers as u64 * self.messages;
        let per_publisher = per_receiver * self.rooms as u64;
        let started = Instant::now();
        let rooms = self.room_names(&settings.name);
        let (target, receivers) = self
            .connect_receivers(settings, &run, &rooms, per_receiver, LOAD_CHUNK)
            .await?;
        let mut publishers = Vec::with_capacity(self.publishers);
        for id in 0..self.publishers {
            let name = publisher_name(&target.prefix, id);
            let joined = join(target.addr, &name, &rooms, LOAD_CHUNK, target.wait)
                .await
                .map_err(|e| join_failed(&format!("publisher {name}"), e))?;
            let id = u16::try_from(id).expect("checked: at most 65535 publishers");
            publishers.push(Publisher::new(id, joined, per_publisher, run.clone()));
        }
        let setup_s = started.elapsed().as_secs_f64();

        let server_cpu = self.server_pid.and_then(|pid| cpu_seconds(Some(pid)));
        let own_cpu = cpu_seconds(None);
        let plan = Plan {
            messages: self.messages,
            size: self.size,
            rate: self.rate.map(|r| r / self.publishers as f64),
        };
        let senders: Vec<JoinHandle<Sent>> = publishers
            .into_iter()
            .map(|p| tokio::spawn(p.send(plan, run.clone())))
            .collect();
        let expected_total = per_receiver * self.clients as u64;
        let mut progress = Progress::new("delivering", expected_total);
        let mut last = 0;
        let mut last_change = Instant::now();
        while run.finished.load(Ordering::SeqCst) < self.clients {
            tokio::time::sleep(POLL).await;
            let delivered = run.delivered.load(Ordering::Relaxed);
            progress.set(delivered);
            if delivered != last {
                last = delivered;
                last_change = Instant::now();
            } else if last_change.elapsed() > settings.timeout {
                break;
            }
        }
        progress.finish();
        let server_cpu = self
            .server_pid
            .and_then(|pid| Some(cpu_seconds(Some(pid))? - server_cpu?));
        let own_cpu = cpu_seconds(None).zip(own_cpu).map(|(b, a)| b - a);
        run.stop.cancel();

        let mut seen = Vec::with_capacity(receivers.len());
        for receiver in receivers {
            seen.push(receiver.await.context("a receiver task failed")?);
        }
        let mut sent = Vec::with_capacity(senders.len());
        for sender in senders {
            sent.push(sender.await.context("a publisher task failed")?);
        }
        let servers = receivers_per_server(&target.servers, self.clients);
        Ok(self.load_report(&run, setup_s, servers, &seen, &sent, server_cpu, own_cpu))
    }

    /// The figures of a finished load run.
    #[allow(clippy::too_many_arguments)]
    fn load_report(
        &self,
        run: &Run,
        setup_s: f64,
        servers: Vec<ServerShare>,
        seen: &[Received],
        sent: &[Sent],
        server_cpu_s: Option<f64>,
        bench_cpu_s: Option<f64>,
    ) -> LoadReport {
        let total_sent: u64 = sent.iter().map(|s| s.sent).sum();
        let expected = sent
            .iter()
            .map(|s| expected_deliveries(s.sent, self.rooms, self.clients))
            .sum();
        let received: u64 = seen.iter().map(|r| r.count).sum();
        let first_send = sent.iter().filter_map(|s| s.first_ns).min().unwrap_or(0);
        let last_receive = seen.iter().map(|r| r.last_ns).max().unwrap_or(0);
        let elapsed_s = last_receive.saturating_sub(first_send) as f64 / 1e9;
        let per_s = |n: f64| if elapsed_s > 0.0 { n / elapsed_s } else { 0.0 };
        let per_delivery_ns = |s: f64| (received > 0).then(|| s * 1e9 / received as f64);
        let mut errors: Vec<String> = sent
            .iter()
            .filter_map(|s| s.error.clone())
            .chain(seen.iter().flat_map(|r| r.errors.iter().cloned()))
            .chain(sent.iter().flat_map(|s| s.received.errors.iter().cloned()))
            .chain(seen.iter().filter_map(|r| {
                r.disconnected
                    .as_ref()
                    .map(|why| format!("receiver disconnected: {why}"))
            }))
            .collect();
        errors.dedup();
        errors.truncate(5);
        let histogram = run.histogram.lock().unwrap_or_else(|e| e.into_inner());
        LoadReport {
            mode: "load",
            clients: self.clients,
            publishers: self.publishers,
            rooms: self.rooms,
            messages: self.messages,
            size: self.size,
            rate: self.rate,
            window: self.window,
            servers,
            setup_s,
            sent: total_sent,
            expected,
            received,
            lost: expected.saturating_sub(received),
            out_of_order: seen.iter().map(|r| r.out_of_order).sum(),
            wrong_room: seen.iter().map(|r| r.wrong_room).sum(),
            publisher_received: sent.iter().map(|s| s.received.count).sum(),
            receivers_disconnected: seen.iter().filter(|r| r.disconnected.is_some()).count(),
            errors,
            elapsed_s,
            deliveries_per_s: per_s(received as f64),
            mb_per_s: per_s(received as f64 * self.size as f64) / 1e6,
            ns_per_delivery: per_delivery_ns(elapsed_s),
            server_cpu_ns_per_delivery: server_cpu_s.and_then(per_delivery_ns),
            latency: Latency::of(&histogram),
            max_behind_schedule_ms: sent.iter().map(|s| s.max_behind_ms).fold(0.0, f64::max),
            server_cpu_s,
            bench_cpu_s,
            server_rss_kb: self.server_pid.and_then(|pid| status_kb(pid, "VmRSS")),
        }
    }

    /// Registers the clients, waits for the room to go quiet, reads the server's memory.
    async fn idle(&self, settings: &Settings) -> anyhow::Result<IdleReport> {
        let rss = || self.server_pid.and_then(|pid| status_kb(pid, "VmRSS"));
        let before = rss();
        let run = Arc::new(Run::new(self.clients, 0, 0, settings.timeout));
        let started = Instant::now();
        let rooms = self.room_names(&settings.name);
        let (target, clients) = self
            .connect_receivers(settings, &run, &rooms, u64::MAX, IDLE_CHUNK)
            .await?;
        let setup_s = started.elapsed().as_secs_f64();
        // Each join is announced to everyone already there; measure once all of that has
        // been delivered, so queued notices do not count as the clients' memory.
        let quiet_started = Instant::now();
        let mut last = run.bytes_in.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = run.bytes_in.load(Ordering::Relaxed);
            if now == last || quiet_started.elapsed() > settings.timeout * 10 {
                break;
            }
            last = now;
        }
        let quiet_s = quiet_started.elapsed().as_secs_f64();
        let idle = rss();
        let gone_early = run.finished.load(Ordering::SeqCst);
        run.stop.cancel();
        for client in clients {
            client.await.context("a client task failed")?;
        }
        Ok(IdleReport {
            mode: "idle",
            clients: self.clients,
            rooms: self.rooms,
            servers: receivers_per_server(&target.servers, self.clients),
            setup_s,
            quiet_s,
            server_rss_kb_before: before,
            server_rss_kb_idle: idle,
            bytes_per_client: before
                .zip(idle)
                .map(|(b, i)| (i as f64 - b as f64) * 1024.0 / self.clients as f64),
            disconnected: gone_early,
        })
    }

    /// The rooms of the run: `lobby` alone, or `NAME-0` to `NAME-(R-1)`.
    fn room_names(&self, prefix: &str) -> Arc<[String]> {
        (0..self.rooms)
            .map(|k| room_name(prefix, k, self.rooms))
            .collect()
    }

    /// Connects and registers `--clients` receivers, at most `--connect-concurrency` at a
    /// time, receiver `i` joining `rooms[i mod R]`; each starts reading as soon as it is in
    /// its room (the join notices of those after it must not fill its queue on the server).
    async fn connect_receivers(
        &self,
        settings: &Settings,
        run: &Arc<Run>,
        rooms: &Arc<[String]>,
        expected: u64,
        chunk: usize,
    ) -> anyhow::Result<(Target, Vec<JoinHandle<Received>>)> {
        let (target, first) = first_join(settings, &self.also, &rooms[0], chunk).await?;
        let mut handles = Vec::with_capacity(self.clients);
        handles.push(spawn_receiver(first, 0, expected, run.clone()));
        let gate = Arc::new(Semaphore::new(self.connect_concurrency.max(1)));
        let (ready_tx, mut ready) = mpsc::unbounded_channel::<Result<(), anyhow::Error>>();
        for slot in 1..self.clients {
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
        let mut progress = Progress::new("connecting", self.clients as u64);
        progress.set(1);
        for joined in 2..=self.clients as u64 {
            match ready.recv().await {
                Some(Ok(())) => progress.set(joined),
                Some(Err(err)) => {
                    run.stop.cancel();
                    return Err(err);
                }
                None => bail!("the connecting tasks stopped early"),
            }
        }
        progress.finish();
        Ok((target, handles))
    }

    /// The report as JSON or as lines for people, on stdout.
    fn print(&self, report: &(impl serde::Serialize + std::fmt::Display)) -> anyhow::Result<()> {
        let text = if self.json {
            serde_json::to_string(report)?
        } else {
            report.to_string()
        };
        crate::render::print_line(&mut std::io::stdout().lock(), &text)?;
        Ok(())
    }
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

/// How many of `clients` receivers go to each of `servers` (receiver `i` to
/// `servers[i mod len]`), for the report: which node carried what.
fn receivers_per_server(servers: &[SocketAddr], clients: usize) -> Vec<ServerShare> {
    servers
        .iter()
        .enumerate()
        .map(|(k, addr)| ServerShare {
            addr: addr.to_string(),
            receivers: (clients + servers.len() - 1 - k) / servers.len(),
        })
        .collect()
}

/// Receiver `i`'s name.
fn receiver_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-r{i}")
}

/// Publisher `i`'s name.
fn publisher_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-p{i}")
}

/// Room `k` of a run with `rooms` rooms: `lobby` when there is one, else `PREFIX-k`.
fn room_name(prefix: &str, k: usize, rooms: usize) -> String {
    if rooms == 1 {
        DEFAULT_ROOM.to_owned()
    } else {
        format!("{prefix}-{k}")
    }
}

/// What the receivers should receive of a publisher that sent `sent` messages to `rooms`
/// rooms in turn, `clients` receivers spread over them in turn: room `r` was sent the
/// messages `k < sent` with `k mod rooms = r`, and holds the receivers `i < clients` with
/// `i mod rooms = r`.
fn expected_deliveries(sent: u64, rooms: usize, clients: usize) -> u64 {
    let in_turn = |n: u64, r: u64| (n + rooms as u64 - 1 - r) / rooms as u64;
    (0..rooms as u64)
        .map(|r| in_turn(sent, r) * in_turn(clients as u64, r))
        .sum()
}

/// The error for a connection (`who`) that could not join, with what to change on the
/// server when it is one of its limits.
fn join_failed(who: &str, err: JoinError) -> anyhow::Error {
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

/// Raises this process's open-file limit to fit `connections` sockets, as far as the hard
/// limit allows; a clear error when even that is too low.
fn raise_fd_limit(connections: usize) -> anyhow::Result<()> {
    // Standard streams, the runtime's own descriptors, the resolver: a margin.
    let needed = connections as u64 + 64;
    let limit = rlimit::increase_nofile_limit(needed).context("cannot read the open-file limit")?;
    if limit < needed {
        bail!(
            "{connections} connections need {needed} open files but the limit is {limit}; \
             raise it (ulimit -n {needed}) and try again"
        );
    }
    Ok(())
}

/// A progress bar on stderr, drawn only on a terminal and only once a phase has taken over
/// a second, so short runs and pipes see nothing.
struct Progress {
    /// The bar, hidden until it is worth showing.
    bar: ProgressBar,
    /// When the phase began.
    started: Instant,
    /// Whether it may be shown at all (stderr is a terminal).
    allowed: bool,
    /// Whether it is being drawn.
    shown: bool,
}

impl Progress {
    /// A hidden bar for a phase of `total` steps.
    fn new(label: &'static str, total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {human_pos}/{human_len} {per_sec}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label);
        Progress {
            bar,
            started: Instant::now(),
            allowed: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Moves the bar to `done`, showing it once the phase has lasted a second.
    fn set(&mut self, done: u64) {
        self.bar.set_position(done);
        if self.allowed && !self.shown && self.started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
    }

    /// Removes the bar.
    fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("shown", &self.shown)
            .finish()
    }
}
