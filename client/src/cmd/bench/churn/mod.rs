//! `chat-client bench --churn-rooms N` and `--churn-names N`: what comes and goes, for
//! measuring what the server (and, in a cluster, its NATS server) keeps of what is gone.
//!
//! Rooms (`--churn-rooms N`): `--churn-concurrency C` connections (1 by default), each
//! registered once, take rooms `NAME-0` to `NAME-(N-1)` in turn from a shared counter;
//! for each, the connection joins it (a new room: nobody was ever in it), says one line,
//! waits for that line's echo (the server has stored and delivered it), and parts (the room
//! ends with its last member). What the run leaves behind is only what the server keeps of
//! rooms nobody is in: their history, and whatever holds it.
//!
//! Names (`--churn-names N`): `N` guests `NAME-g0` to `NAME-g(N-1)`, `C` at a time, each on
//! a connection of its own, register (`Hello`, answered by `Welcome`) and say `Bye`, and the
//! run waits for the server to close each connection, which it does once the name is given
//! back. On loopback the connections come from 127.0.0.1 to 127.0.0.K, as a crowd's do, so
//! a hundred thousand in a row do not wait for one address's ports. Afterwards nobody is
//! online: whatever the server still holds of a name is a leak.
//!
//! Both print what they did (and, with `--server-pid`, the server's resident memory before
//! and after) as lines or one JSON object (`--json`); the exit status is 1 unless every
//! room was joined, echoed and parted, or every guest registered and was let go. The
//! connection is [`conn`]'s, each mode's course [`rooms`]'s and [`names`]', the figures
//! [`report`]'s.

mod conn;
mod names;
mod report;
mod rooms;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chat_proto::validate;
use tokio::task::JoinHandle;

use self::report::{NamesReport, Outcome, RoomsReport};
use super::connect::{raise_fd_limit, resolve};
use super::crowd::{loopback_sources, sources_needed};
use super::layout::receiver_name;
use super::progress::Progress;
use super::report::status_kb;
use super::{Bench, POLL};
use crate::cmd::UsageError;
use crate::settings::Settings;

/// Distinct errors a run keeps for its report: enough to say what went wrong.
const KEEP_ERRORS: usize = 4;

/// The churn runs' own flags; `--server-pid`, `--threads` and `--json` are the benchmark's.
#[derive(Debug, Clone, clap::Args)]
pub struct ChurnArgs {
    /// Make N rooms and leave them instead: for each, join a new room NAME-i, say one line,
    /// wait for its echo, part
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..),
        conflicts_with_all = ["churn_names", "crowd", "idle", "workload"]
    )]
    churn_rooms: Option<u64>,
    /// N guests come and go instead: each connects as NAME-gi, registers and says Bye
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..),
        conflicts_with_all = ["crowd", "idle", "workload"]
    )]
    churn_names: Option<u64>,
    /// With --churn-rooms: connections making rooms at once; with --churn-names: guests
    /// coming and going at once
    #[arg(
        long,
        value_name = "C",
        default_value_t = 1,
        value_parser = clap::value_parser!(u64).range(1..=10_000)
    )]
    churn_concurrency: u64,
}

impl ChurnArgs {
    /// Whether a churn run was asked for.
    pub fn wanted(&self) -> bool {
        self.churn_rooms.is_some() || self.churn_names.is_some()
    }
}

/// What every connection of a churn run shares: the next room or guest to take, the
/// counts the progress bar and the report read, and the first errors.
#[derive(Debug)]
pub struct Shared {
    /// The next room or guest number to take.
    next: AtomicU64,
    /// How many there are in all.
    total: u64,
    /// `NAME`: the start of every room and client name.
    prefix: String,
    /// The longest any one answer may take (`--timeout`).
    wait: Duration,
    /// Rooms joined, or guests registered.
    pub started: AtomicU64,
    /// Rooms whose line came back: stored and delivered.
    pub echoed: AtomicU64,
    /// Rooms parted, or guests whose connection the server closed after their `Bye`.
    pub finished: AtomicU64,
    /// Requests the server refused with an `Error` frame.
    pub refused: AtomicU64,
    /// Connections that failed (could not connect, broke, or an answer did not come).
    pub failed: AtomicU64,
    /// The first few distinct errors.
    errors: Mutex<Vec<String>>,
}

impl Shared {
    /// State for `total` rooms or guests named from `prefix`, each answer awaited `wait`.
    fn new(total: u64, prefix: &str, wait: Duration) -> Shared {
        Shared {
            next: AtomicU64::new(0),
            total,
            prefix: prefix.to_owned(),
            wait,
            started: AtomicU64::new(0),
            echoed: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// The next room or guest number to take, `None` once all are taken.
    fn take(&self) -> Option<u64> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.total).then_some(i)
    }

    /// Keeps `error` for the report, unless the run already has enough of them.
    fn note(&self, error: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < KEEP_ERRORS && !errors.contains(&error) {
            errors.push(error);
        }
    }

    /// The errors kept.
    fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Room `i` of a rooms run: `NAME-i`, a room nobody was in before the run.
pub fn churn_room(prefix: &str, i: u64) -> String {
    format!("{prefix}-{i}")
}

/// Guest `i` of a names run: `NAME-gi`.
pub fn guest_name(prefix: &str, i: u64) -> String {
    format!("{prefix}-g{i}")
}

impl Bench {
    /// Runs the churn asked for and prints its report; an error when a room or a guest did
    /// not get through.
    pub(super) fn churn(&self, settings: &Settings) -> anyhow::Result<()> {
        let c = &self.churn;
        self.check_churn(settings)?;
        let concurrency = usize::try_from(c.churn_concurrency).unwrap_or(usize::MAX);
        raise_fd_limit(concurrency)?;
        let runtime = self.runtime()?;
        let outcome = runtime.block_on(async {
            if let Some(n) = c.churn_rooms {
                let report = self.churn_rooms(settings, n, concurrency).await?;
                self.print(&report)?;
                if !report.complete() {
                    bail!(
                        "of {n} rooms {} were joined, {} echoed and {} parted",
                        report.joined,
                        report.echoed,
                        report.parted
                    );
                }
            } else if let Some(n) = c.churn_names {
                let report = self.churn_names(settings, n, concurrency).await?;
                self.print(&report)?;
                if !report.complete() {
                    bail!(
                        "of {n} guests {} registered and {} were let go",
                        report.registered,
                        report.quit
                    );
                }
            }
            Ok(())
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
        outcome
    }

    /// Refuses, before connecting, names the server would refuse.
    fn check_churn(&self, settings: &Settings) -> anyhow::Result<()> {
        let c = &self.churn;
        let prefix = &settings.name;
        let usage = |what: &str, name: String, e: &dyn std::fmt::Display| {
            anyhow::Error::new(UsageError(format!(
                "--name {prefix:?} makes {what} like {name:?}: {e}"
            )))
        };
        if let Some(n) = c.churn_rooms {
            let room = churn_room(prefix, n - 1);
            validate::room(&room).map_err(|e| usage("room names", room.clone(), &e))?;
            let name = receiver_name(prefix, c.churn_concurrency as usize - 1);
            validate::username(&name).map_err(|e| usage("client names", name.clone(), &e))?;
        }
        if let Some(n) = c.churn_names {
            let name = guest_name(prefix, n - 1);
            validate::username(&name).map_err(|e| usage("guest names", name.clone(), &e))?;
        }
        Ok(())
    }

    /// Makes, speaks in and leaves `n` rooms over `concurrency` connections.
    async fn churn_rooms(
        &self,
        settings: &Settings,
        n: u64,
        concurrency: usize,
    ) -> anyhow::Result<RoomsReport> {
        let addr = resolve(settings).await?;
        let shared = Arc::new(Shared::new(n, &settings.name, settings.timeout));
        let rss_before = self.server_rss();
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|k| tokio::spawn(rooms::churn(addr, k, shared.clone())))
            .collect();
        watch("rooms", &shared, &shared.finished, workers).await?;
        let outcome = self.outcome(&shared, started, rss_before);
        let done = |count: &AtomicU64| count.load(Ordering::SeqCst);
        Ok(RoomsReport {
            mode: "churn_rooms",
            rooms: n,
            concurrency,
            joined: done(&shared.started),
            echoed: done(&shared.echoed),
            parted: done(&shared.finished),
            rooms_per_s: outcome.per_s(done(&shared.finished)),
            outcome,
        })
    }

    /// Lets `n` guests register and go, `concurrency` at a time.
    async fn churn_names(
        &self,
        settings: &Settings,
        n: u64,
        concurrency: usize,
    ) -> anyhow::Result<NamesReport> {
        let addr = resolve(settings).await?;
        let sources = if addr.ip().is_loopback() && addr.is_ipv4() {
            loopback_sources(sources_needed(usize::try_from(n).unwrap_or(usize::MAX)))
        } else {
            Vec::new()
        };
        let sources: Arc<[_]> = sources.into();
        let shared = Arc::new(Shared::new(n, &settings.name, settings.timeout));
        let rss_before = self.server_rss();
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| tokio::spawn(names::churn(addr, sources.clone(), shared.clone())))
            .collect();
        watch("guests", &shared, &shared.finished, workers).await?;
        let outcome = self.outcome(&shared, started, rss_before);
        let done = |count: &AtomicU64| count.load(Ordering::SeqCst);
        Ok(NamesReport {
            mode: "churn_names",
            names: n,
            concurrency,
            source_addrs: sources.len(),
            registered: done(&shared.started),
            quit: done(&shared.finished),
            names_per_s: outcome.per_s(done(&shared.finished)),
            outcome,
        })
    }

    /// What a run that began at `started` (the server at `rss_before` kB) came to, beside
    /// its own counts in `shared`.
    fn outcome(&self, shared: &Shared, started: Instant, rss_before: Option<u64>) -> Outcome {
        Outcome {
            refused: shared.refused.load(Ordering::SeqCst),
            failed_connections: shared.failed.load(Ordering::SeqCst),
            elapsed_s: started.elapsed().as_secs_f64(),
            server_rss_kb_before: rss_before,
            server_rss_kb_after: self.server_rss(),
            errors: shared.errors(),
        }
    }

    /// The server's resident memory, in kB, with `--server-pid`.
    fn server_rss(&self) -> Option<u64> {
        self.server_pid.and_then(|pid| status_kb(pid, "VmRSS"))
    }
}

/// Shows `done` of the run's total on the progress bar until every worker has stopped.
async fn watch(
    label: &'static str,
    shared: &Shared,
    done: &AtomicU64,
    workers: Vec<JoinHandle<()>>,
) -> anyhow::Result<()> {
    let mut progress = Progress::new(label, shared.total);
    while !workers.iter().all(JoinHandle::is_finished) {
        tokio::time::sleep(POLL).await;
        progress.set(done.load(Ordering::Relaxed));
    }
    progress.finish();
    for worker in workers {
        worker.await.context("a churn task failed")?;
    }
    Ok(())
}
