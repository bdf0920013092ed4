//! `chat-client bench --workload`: chat traffic as people make it, rather than one
//! publisher flooding one room, against chat-server or, with the identical topology and
//! schedule, nats-server (`--proto nats`; `--jetstream` keeps the messages in a stream as
//! chat-server's history does).
//!
//! 1. `--people N` in `--rooms R` rooms whose sizes follow a Zipf law of exponent `--zipf S`
//!    (a few big rooms, many small ones), each person in `--rooms-per-person K` of them
//!    ([`topology`]); the same `--seed` gives the same rooms.
//! 2. Everyone connects and joins its rooms (chat: `NAME-0` .. `NAME-(R-1)`, `lobby` when R
//!    is 1; NATS: subjects `NAME.0` .. `NAME.(R-1)`), then for `--duration` seconds each
//!    person sends to one of its rooms at random gaps, a Poisson process of `--rate ÷ N`
//!    messages a second ([`schedule`]), so everyone together offers `--rate`.
//! 3. Every member of a room, the sender too, must get every message of the room exactly
//!    once and in each sender's order ([`person`]); the run ends once every delivery has
//!    arrived, or when they stop for `--timeout` seconds (what is missing then is lost).
//!
//! Reported: messages sent, deliveries (and per second), lost, p50/p99/max latency from send
//! to receive, how far sends fell behind their schedule (this process's own limit), and with
//! `--server-pid` the server's CPU time per message and per delivery. Exit status 1 when a
//! message was lost or out of order.

mod chat;
mod jetstream;
mod link;
mod nats;
mod person;
mod report;
mod schedule;
mod shared;
mod topology;
mod wire;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use chat_proto::validate;
use tokio::sync::{mpsc, Semaphore};

use self::link::Proto;
use self::person::{Person, Tally};
use self::report::WorkloadReport;
use self::schedule::Schedule;
use self::shared::Shared;
use self::topology::Topology;
use self::wire::connect;
use super::connect::{raise_fd_limit, wait_connected};
use super::layout::{receiver_name, room_name};
use super::progress::Progress;
use super::report::CpuSince;
use super::stamp::{Stamp, HEADER_LEN};
use super::{Bench, POLL};
use crate::cmd::UsageError;
use crate::settings::Settings;

/// The workload's own flags; `--rooms`, `--rate`, `--size`, `--server-pid`, `--threads`,
/// `--connect-concurrency` and `--json` are the load run's.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkloadArgs {
    /// Run chat traffic instead: --people in --rooms of Zipf sizes, each sending at random
    /// gaps, --rate messages/s in all, for --duration seconds
    #[arg(long)]
    workload: bool,
    /// People in a --workload run (one connection each)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    people: usize,
    /// Rooms each person is in (K)
    #[arg(long, value_name = "K", default_value_t = 3)]
    rooms_per_person: usize,
    /// Zipf exponent of the room sizes: room r's share of members is ∝ 1/(r+1)^S; 0 makes
    /// every room the same size
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    zipf: f64,
    /// Seconds of sending
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    duration: f64,
    /// Seed of who is in which room and who sends when: the same seed, the same run
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    seed: u64,
    /// The server's protocol: chat (chat-server) or nats (nats-server; a subject per room)
    #[arg(long, value_enum, value_name = "PROTO", default_value = "chat")]
    proto: Proto,
    /// With --proto nats: create a file-backed JetStream stream NAME on the room subjects
    /// (NAME.*) first, and report how many messages it holds after
    #[arg(long)]
    jetstream: bool,
}

impl WorkloadArgs {
    /// Whether `--workload` was given.
    pub fn wanted(&self) -> bool {
        self.workload
    }
}

impl Bench {
    /// Runs the workload and prints its report; an error when a message was lost.
    pub(super) fn workload(&self, settings: &Settings) -> anyhow::Result<()> {
        let w = &self.workload;
        let rate = self.check_workload(settings)?;
        let topology = Topology::new(w.people, self.rooms, w.rooms_per_person, w.zipf, w.seed)
            .map_err(|e| UsageError(e.to_string()))?;
        raise_fd_limit(w.people + 1)?;
        let runtime = self.runtime()?;
        let outcome = runtime.block_on(async {
            let report = self.live(settings, &topology, rate).await?;
            self.print(&report)?;
            if report.lost > 0 || report.out_of_order > 0 || report.wrong_room > 0 {
                bail!(
                    "{} of {} deliveries lost, {} out of order, {} in the wrong room",
                    report.lost,
                    report.expected,
                    report.out_of_order,
                    report.wrong_room
                );
            }
            Ok(())
        });
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        outcome
    }

    /// Refuses what could not work before connecting; the rate.
    fn check_workload(&self, settings: &Settings) -> anyhow::Result<f64> {
        let w = &self.workload;
        let usage = |text: String| anyhow::Error::new(UsageError(text));
        let rate = self
            .rate
            .filter(|r| *r > 0.0 && r.is_finite())
            .ok_or_else(|| usage("--workload needs --rate MSGS_PER_S, a positive number".into()))?;
        if !(w.duration > 0.0 && w.duration.is_finite()) {
            return Err(usage("--duration must be a positive number".into()));
        }
        if w.people > usize::from(u16::MAX) + 1 {
            return Err(usage("--people must be at most 65536".into()));
        }
        if self.size < HEADER_LEN {
            return Err(usage(format!("--size must be at least {HEADER_LEN}")));
        }
        if w.jetstream && w.proto != Proto::Nats {
            return Err(usage("--jetstream goes with --proto nats".into()));
        }
        let last_room = self.workload_rooms(&settings.name, w.proto).pop();
        let last_person = receiver_name(&settings.name, w.people.max(1) - 1);
        match w.proto {
            Proto::Chat => {
                let room = last_room.unwrap_or_default();
                validate::room(&room).map_err(|e| usage(format!("room {room:?}: {e}")))?;
                validate::username(&last_person)
                    .map_err(|e| usage(format!("name {last_person:?}: {e}")))?;
                let widest = Stamp {
                    publisher: u16::MAX,
                    seq: u64::MAX >> 16,
                    sent_ns: u64::MAX,
                };
                settings
                    .client()
                    .check_fits(&widest.frame(&room, self.size))?;
            }
            Proto::Nats => {
                if settings.name.is_empty()
                    || settings.name.contains(|c: char| {
                        c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>')
                    })
                {
                    return Err(usage(format!(
                        "--name {:?} cannot start a NATS subject (no spaces, '.', '*', '>')",
                        settings.name
                    )));
                }
            }
        }
        Ok(rate)
    }

    /// The rooms of a workload run: chat rooms as the load run names them, NATS subjects
    /// `NAME.0` .. `NAME.(R-1)`, all under one stream's `NAME.*`.
    fn workload_rooms(&self, prefix: &str, proto: Proto) -> Vec<String> {
        (0..self.rooms)
            .map(|r| match proto {
                Proto::Chat => room_name(prefix, r, self.rooms),
                Proto::Nats => format!("{prefix}.{r}"),
            })
            .collect()
    }

    /// Connects everyone, lets them send for the run's time, and waits for every delivery.
    async fn live(
        &self,
        settings: &Settings,
        topology: &Topology,
        rate: f64,
    ) -> anyhow::Result<WorkloadReport> {
        let w = &self.workload;
        let addr = super::connect::resolve(settings).await?;
        if w.jetstream {
            let subjects = format!("{}.*", settings.name);
            jetstream::create_stream(addr, &settings.name, &subjects, settings.timeout).await?;
        }
        let shared = Arc::new(Shared::new());
        let started = Instant::now();
        let people = self
            .connect_people(settings, addr, topology, rate, &shared)
            .await?;
        let setup_s = started.elapsed().as_secs_f64();

        let cpu = CpuSince::now(self.server_pid);
        shared.begin();
        let mut progress = Progress::new("sending", (w.duration * 10.0) as u64);
        let (mut last, mut last_change) = (0, Instant::now());
        loop {
            tokio::time::sleep(POLL).await;
            progress.set(((started.elapsed().as_secs_f64() - setup_s) * 10.0) as u64);
            let delivered = shared.delivered.load(Ordering::SeqCst);
            let expected = shared.expected.load(Ordering::SeqCst);
            let all_sent = shared.done_sending.load(Ordering::SeqCst) >= w.people;
            if all_sent && delivered >= expected {
                break;
            }
            if delivered != last {
                (last, last_change) = (delivered, Instant::now());
            } else if delivered < expected && last_change.elapsed() > settings.timeout {
                break;
            }
        }
        progress.finish();
        let (server_cpu_s, bench_cpu_s) = cpu.elapsed();
        shared.stop.cancel();
        let mut tallies = Vec::with_capacity(people.len());
        for person in people {
            tallies.push(person.await.context("a person's task failed")?);
        }
        let stream_messages = match w.jetstream {
            true => Some(jetstream::stream_messages(addr, &settings.name, settings.timeout).await?),
            false => None,
        };
        let mut report = self.workload_report(topology, rate, setup_s, &shared, &tallies);
        report.server_cpu_s = server_cpu_s;
        report.server_cpu_us_per_message =
            server_cpu_s.map(|s| s * 1e6 / report.sent.max(1) as f64);
        report.server_cpu_ns_per_delivery =
            server_cpu_s.map(|s| s * 1e9 / report.received.max(1) as f64);
        report.bench_cpu_s = bench_cpu_s;
        report.stream_messages = stream_messages;
        if stream_messages.is_some_and(|n| n < report.sent) {
            report.errors.push(format!(
                "the JetStream stream holds {} of {} messages",
                stream_messages.unwrap_or(0),
                report.sent
            ));
        }
        Ok(report)
    }

    /// Connects the people, at most `--connect-concurrency` at a time, each reading from
    /// the moment it is in its rooms (the join notices of those after it must not fill its
    /// queue on the server); returns once all are in.
    async fn connect_people(
        &self,
        settings: &Settings,
        addr: SocketAddr,
        topology: &Topology,
        rate: f64,
        shared: &Arc<Shared>,
    ) -> anyhow::Result<Vec<tokio::task::JoinHandle<Tally>>> {
        let w = &self.workload;
        let names = self.workload_rooms(&settings.name, w.proto);
        let gate = Arc::new(Semaphore::new(self.connect_concurrency.max(1)));
        let (ready_tx, mut ready) = mpsc::unbounded_channel::<anyhow::Result<()>>();
        let mut people = Vec::with_capacity(w.people);
        for (id, rooms) in topology.rooms_of.iter().enumerate() {
            let (gate, ready_tx, shared) = (gate.clone(), ready_tx.clone(), shared.clone());
            let name = receiver_name(&settings.name, id);
            let room_names: Vec<String> = rooms.iter().map(|&r| names[r].clone()).collect();
            let members = rooms.iter().map(|&r| topology.sizes[r] as u64).collect();
            let schedule =
                Schedule::new(w.seed, id, rate / w.people as f64, rooms.len(), w.duration);
            let (proto, size, wait) = (w.proto, self.size, settings.timeout);
            people.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await;
                let link = connect(proto, addr, &name, &room_names, size, wait).await;
                drop(permit);
                match link {
                    Ok(link) => {
                        let _ = ready_tx.send(Ok(()));
                        let id = u16::try_from(id).expect("checked: at most 65536 people");
                        let person = Person {
                            id,
                            link,
                            members,
                            schedule,
                        };
                        person.live(shared).await
                    }
                    Err(err) => {
                        let why = format!("{err:#}");
                        let _ = ready_tx.send(Err(err));
                        Tally {
                            disconnected: Some(why),
                            ..Tally::default()
                        }
                    }
                }
            }));
        }
        drop(ready_tx);
        wait_connected(&mut ready, 0, w.people, &shared.stop).await?;
        Ok(people)
    }
}
