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
//!
//! A crowd run (`--crowd`) is a hundred thousand people on one node: connecting, one
//! message to all of them, and a reconnect storm with catch-up; its course is in `crowd/`.
//!
//! This file holds the flags, their checks and the two runs' course; the parts live beside
//! it in `bench/`: `connect` gets the clients in (`join` for one connection), `receive` and
//! `publish` are what a connection does then, `run` is what they share, `layout` names the
//! clients and rooms, `stamp` is what a message carries, `tally` and `report` turn the
//! counts into figures, `progress` draws the bar.
//!
//! A workload run (`--workload`) is chat traffic as people make it, many rooms of Zipf
//! sizes, against chat-server or nats-server: `workload/`, on the same connections and
//! stamps.
//!
//! A churn run (`--churn-rooms N`, `--churn-names N`) is what comes and goes: rooms made,
//! spoken in once and left, or guests registering and quitting, so that what the server
//! (or its NATS server) keeps of them afterwards can be measured: `churn/`.

mod churn;
mod connect;
mod crowd;
mod join;
mod layout;
mod progress;
mod publish;
mod receive;
mod report;
mod run;
mod stamp;
mod tally;
mod workload;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chat_proto::validate;
use tokio::task::JoinHandle;

use self::connect::{connect_receivers, join_failed, raise_fd_limit};
use self::crowd::{CrowdArgs, Shape};
use self::join::join;
use self::layout::{publisher_name, receiver_name, receivers_per_server, room_name};
use self::progress::Progress;
use self::publish::{Plan, Publisher, Sent};
use self::report::{status_kb, CpuSince, IdleReport, LoadReport};
use self::run::Run;
use self::stamp::Stamp;
use crate::cmd::UsageError;
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
    /// `--crowd` and its flags.
    #[command(flatten)]
    crowd: CrowdArgs,
    /// `--workload` and its flags.
    #[command(flatten)]
    workload: workload::WorkloadArgs,
    /// `--churn-rooms`, `--churn-names` and their flag.
    #[command(flatten)]
    churn: churn::ChurnArgs,
}

impl Bench {
    /// Runs the benchmark on its own multi-threaded runtime and prints the results.
    pub fn run(self, settings: &Settings) -> anyhow::Result<()> {
        if self.workload.wanted() {
            return self.workload(settings);
        }
        if self.churn.wanted() {
            return self.churn(settings);
        }
        self.check(settings)?;
        let open_files = raise_fd_limit(self.clients + self.publishers)?;
        let runtime = self.runtime()?;
        let outcome = runtime.block_on(async {
            if self.crowd.crowd {
                let shape = Shape {
                    clients: self.clients,
                    rooms: self.room_names(&settings.name),
                    server_pid: self.server_pid,
                    concurrency: self.connect_concurrency,
                    open_files,
                };
                let report = self.crowd.run(shape, settings).await?;
                self.print(&report)?;
                if !report.check.passed() {
                    bail!("a client missed a message, got one twice, or was not back");
                }
                Ok(())
            } else if self.idle {
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

    /// The multi-threaded runtime a run goes on, `--threads` workers.
    fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        if let Some(threads) = self.threads {
            runtime.worker_threads(threads.max(1));
        }
        runtime
            .enable_all()
            .build()
            .context("cannot start the async runtime")
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
        self.crowd.check().map_err(UsageError)?;
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
        let (target, receivers) = connect_receivers(
            settings,
            &self.also,
            self.clients,
            self.connect_concurrency,
            &run,
            &rooms,
            per_receiver,
            LOAD_CHUNK,
        )
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

        let cpu = CpuSince::now(self.server_pid);
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
        let (server_cpu, own_cpu) = cpu.elapsed();
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

    /// Registers the clients, waits for the room to go quiet, reads the server's memory.
    async fn idle(&self, settings: &Settings) -> anyhow::Result<IdleReport> {
        let rss = || self.server_pid.and_then(|pid| status_kb(pid, "VmRSS"));
        let before = rss();
        let run = Arc::new(Run::new(self.clients, 0, 0, settings.timeout));
        let started = Instant::now();
        let rooms = self.room_names(&settings.name);
        let (target, clients) = connect_receivers(
            settings,
            &self.also,
            self.clients,
            self.connect_concurrency,
            &run,
            &rooms,
            u64::MAX,
            IDLE_CHUNK,
        )
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
