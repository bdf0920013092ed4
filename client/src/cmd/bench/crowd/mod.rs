//! `chat-client bench --crowd`: a hundred thousand people on one node.
//!
//! 1. `--clients` members connect (`--connect-concurrency` handshakes at a time), spread
//!    over the local addresses 127.0.0.1 to 127.0.0.K (`--source-addrs`; by default enough
//!    that each uses at most half its ephemeral ports), register and join `lobby` (or
//!    `--rooms`); with `--server-pid`, the server's resident memory before and once quiet
//!    gives the bytes per client.
//! 2. One publisher, in every room, sends one message to each: the time from the write
//!    until every member has it, and the median and 99th percentile of the members'.
//! 3. The storm (`--storm`, unless `none`): with `restart`, the run prints `storm: ready`
//!    on stderr and waits for the server to go (whoever runs it restarts it on the same
//!    `chat.db`); with `drop`, every member closes its own connection. Each member
//!    reconnects and rejoins with `Backlog::After(its last seq)`, while the publisher sends
//!    a round every `1 / --storm-rate` seconds; the storm is over when every member is back
//!    and has caught up, or after `--storm-timeout`.
//! 4. A last round; once every member has it, each member's numbering is checked: every
//!    `seq` of its room from the timed message to the last, each once, in order.
//!
//! The members are [`member`]s, checking with [`seqs`]; [`dial`] spreads and brings back
//! connections; [`state`] is what they share, [`waits`] how the run watches it;
//! [`publisher`] sends; [`report`] the figures.

mod dial;
mod member;
mod publisher;
mod report;
mod seqs;
mod state;
mod waits;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use chat_proto::Backlog;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use self::dial::CHUNK;
pub(super) use self::dial::{loopback_sources, sources_needed};
use self::member::{member, Tally};
use self::publisher::Publisher;
pub use self::report::CrowdReport;
use self::report::{Arrivals, Check, StormReport};
use self::state::Crowd;
use self::waits::{first_drop, nonzero, wait_for, wait_for_seqs, wait_quiet};
use super::connect::join_failed;
use super::join::join_from;
use super::layout::receiver_name;
use super::progress::Progress;
use super::report::status_kb;
use crate::settings::Settings;

/// The line on stderr after which a `--storm restart` run waits for the server to go.
pub const STORM_READY: &str = "storm: ready";

/// How the storm drops every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Storm {
    /// Whoever runs the benchmark restarts the server after `storm: ready` on stderr.
    Restart,
    /// Every member closes its own connection.
    Drop,
    /// No storm.
    None,
}

/// The crowd run's own flags (with `--clients`, `--rooms`, `--server-pid`,
/// `--connect-concurrency`, `--json` from the benchmark's).
#[derive(Debug, Clone, clap::Args)]
pub struct CrowdArgs {
    /// Many clients on one node instead: connect --clients from several local addresses,
    /// time one message to all of them, then a reconnect storm with catch-up
    #[arg(long)]
    pub crowd: bool,
    /// With --crowd: connect from 127.0.0.1 to 127.0.0.K [default: enough addresses for
    /// the ephemeral ports]
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u8).range(1..))]
    pub source_addrs: Option<u8>,
    /// With --crowd: how every connection is dropped
    #[arg(long, value_enum, value_name = "HOW", default_value = "drop")]
    pub storm: Storm,
    /// With --crowd: rounds a second the publisher sends (one message to each room) while
    /// the storm lasts
    #[arg(long, value_name = "R", default_value_t = 5.0)]
    pub storm_rate: f64,
    /// With --crowd: seconds the storm may take, from the first drop until everyone is back
    /// and caught up
    #[arg(long, value_name = "S", default_value_t = 300.0)]
    pub storm_timeout: f64,
}

/// What the crowd run takes from the benchmark's own flags.
#[derive(Debug, Clone)]
pub struct Shape {
    /// `--clients`.
    pub clients: usize,
    /// `--rooms`, already named.
    pub rooms: Arc<[String]>,
    /// `--server-pid`.
    pub server_pid: Option<u32>,
    /// `--connect-concurrency`.
    pub concurrency: usize,
    /// What was done to the open-file limit.
    pub open_files: String,
}

impl CrowdArgs {
    /// Refuses what could not work, before connecting.
    pub fn check(&self) -> Result<(), String> {
        if !(self.storm_rate > 0.0 && self.storm_rate.is_finite()) {
            return Err("--storm-rate must be a positive number".into());
        }
        if !(self.storm_timeout > 0.0 && self.storm_timeout.is_finite()) {
            return Err("--storm-timeout must be a positive number of seconds".into());
        }
        Ok(())
    }

    /// Runs the four phases and measures them.
    pub async fn run(&self, shape: Shape, settings: &Settings) -> anyhow::Result<CrowdReport> {
        let n = shape.clients;
        let addr = super::connect::resolve(settings).await?;
        let k = self.source_addrs.unwrap_or_else(|| sources_needed(n));
        let sources = if addr.ip().is_loopback() {
            loopback_sources(k)
        } else if k > 1 {
            bail!("--source-addrs needs a server on 127.0.0.1 (the addresses are 127.0.0.1 to 127.0.0.{k})");
        } else {
            Vec::new()
        };
        let crowd = Arc::new(Crowd::new(
            addr,
            sources,
            settings.name.clone(),
            shape.rooms.clone(),
            settings.timeout,
            shape.concurrency,
            self.storm,
            n,
        ));
        let rss = || shape.server_pid.and_then(|pid| status_kb(pid, "VmRSS"));
        let before = rss();

        let started = Instant::now();
        let members = connect(&crowd, n).await?;
        let setup_s = started.elapsed().as_secs_f64();
        let quiet_started = Instant::now();
        wait_quiet(&crowd.bytes_in, n, settings.timeout * 10).await;
        let quiet_s = quiet_started.elapsed().as_secs_f64();
        let connected = rss();

        let mut publisher = Publisher::connect(&crowd)
            .await
            .ok_or_else(|| anyhow!("the publisher could not join"))?;
        let first = publisher
            .round("crowd: one message to everyone", &crowd)
            .await
            .map_err(|e| anyhow!("the timed message was not confirmed: {e}"))?;
        wait_for("delivering", &crowd.got_first, n, settings.timeout, None).await;
        let delivery = Arrivals::of(nonzero(&crowd.first_ns), first.sent_ns);

        let storm = if self.storm == Storm::None {
            None
        } else {
            let (report, back) = self.storm(&crowd, publisher, n).await?;
            publisher = back;
            Some(report)
        };

        let last = publisher
            .sure_round("crowd: the last message", &crowd)
            .await
            .map_err(|e| anyhow!("the last message was not confirmed: {e}"))?;
        wait_for_seqs(&crowd, &last.seqs, settings.timeout).await;
        crowd.stop.cancel();
        let mut tallies = Vec::with_capacity(n);
        for handle in members {
            tallies.push(handle.await.context("a member's task failed")?);
        }
        let (check, errors) = check(&crowd, &tallies, &first.seqs, &last.seqs);
        Ok(CrowdReport {
            mode: "crowd",
            clients: n,
            rooms: crowd.rooms.len(),
            source_addrs: crowd.sources.len(),
            open_files: shape.open_files,
            setup_s,
            quiet_s,
            server_rss_kb_before: before,
            server_rss_kb_connected: connected,
            bytes_per_client: before
                .zip(connected)
                .map(|(b, c)| (c as f64 - b as f64) * 1024.0 / n as f64),
            delivery,
            storm,
            check,
            errors,
        })
    }

    /// Drops everyone (or waits for the server to), and waits until everyone is back and
    /// caught up while the publisher keeps sending.
    async fn storm(
        &self,
        crowd: &Arc<Crowd>,
        publisher: Publisher,
        n: usize,
    ) -> anyhow::Result<(StormReport, Publisher)> {
        let limit = Duration::from_secs_f64(self.storm_timeout);
        let sending = tokio_util::sync::CancellationToken::new();
        let sender = tokio::spawn(publisher.storm(self.storm_rate, sending.clone(), crowd.clone()));
        let how = match self.storm {
            Storm::Restart => {
                eprintln!("{STORM_READY}: restart the server now ({n} clients wait for it)");
                "restart"
            }
            _ => {
                crowd.drop_now.cancel();
                "drop"
            }
        };
        let deadline = Instant::now() + limit;
        wait_for("dropping", &crowd.dropped, n, limit, Some(deadline)).await;
        let deadline = first_drop(crowd) + limit;
        wait_for("back", &crowd.back, n, limit, Some(deadline)).await;
        sending.cancel();
        let publisher = sender.await.context("the publisher's task failed")?;
        let first_drop_ns = crowd.first_drop_ns.load(Ordering::SeqCst);
        let report = StormReport {
            how,
            dropped: crowd.dropped.load(Ordering::SeqCst),
            back: Arrivals::of(nonzero(&crowd.back_ns), first_drop_ns),
            failed_attempts: crowd.failed_attempts.load(Ordering::Relaxed),
            rounds: publisher.storm_rounds,
            failed_rounds: publisher.storm_failures,
            limit_s: self.storm_timeout,
        };
        Ok((report, publisher))
    }
}

/// Connects and joins the `n` members, at most the gate's number at a time; each starts
/// reading as soon as it is in.
async fn connect(crowd: &Arc<Crowd>, n: usize) -> anyhow::Result<Vec<JoinHandle<Tally>>> {
    let (ready_tx, mut ready) = mpsc::unbounded_channel::<anyhow::Result<()>>();
    let mut handles = Vec::with_capacity(n);
    for slot in 0..n {
        let (crowd, ready_tx) = (crowd.clone(), ready_tx.clone());
        handles.push(tokio::spawn(async move {
            let name = receiver_name(&crowd.prefix, slot);
            let joined = {
                let _permit = crowd.gate.acquire().await;
                // Boxed: the handshake's state is not kept in the member's task after it.
                Box::pin(join_from(
                    crowd.addr,
                    crowd.source(slot),
                    &name,
                    crowd.room(slot),
                    Backlog::None,
                    CHUNK,
                    crowd.wait,
                ))
                .await
            };
            match joined {
                Ok(joined) => {
                    let _ = ready_tx.send(Ok(()));
                    member(slot, joined, crowd).await
                }
                Err(err) => {
                    let why = err.to_string();
                    let _ = ready_tx.send(Err(join_failed(&format!("member {name}"), err)));
                    Tally {
                        gone: Some(why),
                        ..Tally::default()
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    let mut progress = Progress::new("connecting", n as u64);
    for joined in 1..=n as u64 {
        match ready.recv().await {
            Some(Ok(())) => progress.set(joined),
            Some(Err(err)) => {
                crowd.stop.cancel();
                return Err(err);
            }
            None => bail!("the connecting tasks stopped early"),
        }
    }
    progress.finish();
    Ok(handles)
}

/// Every member's numbering against the rooms' first and last `seq`s, and the first few
/// errors the server sent.
fn check(crowd: &Crowd, tallies: &[Tally], first: &[u64], last: &[u64]) -> (Check, Vec<String>) {
    let mut check = Check {
        first_seqs: first.to_vec(),
        last_seqs: last.to_vec(),
        ..Check::default()
    };
    let mut errors = Vec::new();
    for (slot, tally) in tallies.iter().enumerate() {
        let room = slot % crowd.rooms.len();
        let s = &tally.seqs;
        check.received += s.received;
        check.expected += last[room] + 1 - first[room];
        check.missed += s.missed;
        check.twice += s.twice;
        check.trimmed += s.trimmed;
        check.wrong_start += usize::from(s.first != Some(first[room]));
        check.behind += usize::from(s.last().is_none_or(|l| l < last[room]));
        check.gone += usize::from(tally.gone.is_some());
        for error in &tally.errors {
            if errors.len() < 4 && !errors.contains(error) {
                errors.push(error.clone());
            }
        }
    }
    (check, errors)
}
