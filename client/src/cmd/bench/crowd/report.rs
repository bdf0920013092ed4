//! What a crowd run measured, as one line of JSON or a few lines for people.

use std::fmt;

use serde::Serialize;

/// The outcome of a crowd run (`--crowd`).
#[derive(Debug, Clone, Serialize)]
pub struct CrowdReport {
    /// Always `"crowd"`.
    pub mode: &'static str,
    /// Members (N).
    pub clients: usize,
    /// Rooms they are spread over.
    pub rooms: usize,
    /// Local addresses they connect from (127.0.0.1 to 127.0.0.K); 0: the system's choice.
    pub source_addrs: usize,
    /// What was done to this process's open-file limit.
    pub open_files: String,
    /// Seconds to connect, register and join them all.
    pub setup_s: f64,
    /// Seconds until no more bytes arrived after that (join notices delivered).
    pub quiet_s: f64,
    /// The server's resident memory before the first connection, in kB.
    pub server_rss_kb_before: Option<u64>,
    /// The same with every member in its room and quiet.
    pub server_rss_kb_connected: Option<u64>,
    /// `(connected − before) ÷ clients`, in bytes.
    pub bytes_per_client: Option<f64>,
    /// One message to each room, from the write to each member's read.
    pub delivery: Arrivals,
    /// The reconnect storm, unless `--storm none`.
    pub storm: Option<StormReport>,
    /// Every member's numbering from the first message to the last round's.
    pub check: Check,
    /// The first few errors the server sent.
    pub errors: Vec<String>,
}

/// When something reached the members, from a common start, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Arrivals {
    /// Members it reached.
    pub reached: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The last member: the time until everyone had it.
    pub all_ms: f64,
}

impl Arrivals {
    /// Percentiles of `times` (nanoseconds after `start`; members without one left out).
    pub fn of(mut times: Vec<u64>, start: u64) -> Arrivals {
        if times.is_empty() {
            return Arrivals::default();
        }
        times.sort_unstable();
        let ms = |q: f64| {
            let i = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1;
            times
                .get(i)
                .map_or(0.0, |&t| t.saturating_sub(start) as f64 / 1e6)
        };
        Arrivals {
            reached: times.len(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            all_ms: ms(1.0),
        }
    }
}

/// The reconnect storm.
#[derive(Debug, Clone, Serialize)]
pub struct StormReport {
    /// `restart` or `drop`.
    pub how: &'static str,
    /// Member connections that ended.
    pub dropped: usize,
    /// Members back in their room and caught up, and when, from the first drop.
    pub back: Arrivals,
    /// Connection attempts that failed while reconnecting.
    pub failed_attempts: u64,
    /// Rounds the publisher had confirmed while the storm lasted.
    pub rounds: u64,
    /// Rounds that failed (the server gone, the publisher reconnecting).
    pub failed_rounds: u64,
    /// Seconds the storm could take before the run gave up on it.
    pub limit_s: f64,
}

/// The check of every member's numbering.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Check {
    /// The `seq` of the first message in each room (the timed one).
    pub first_seqs: Vec<u64>,
    /// The `seq` of the last round's message in each room.
    pub last_seqs: Vec<u64>,
    /// Messages all members received together.
    pub received: u64,
    /// What they should have: each room's `last − first + 1` times its members.
    pub expected: u64,
    /// `seq`s skipped over, all members together.
    pub missed: u64,
    /// Messages received twice or out of order.
    pub twice: u64,
    /// Catch-ups the server answered with `missed: true`.
    pub trimmed: u64,
    /// Members whose first message was not the timed one.
    pub wrong_start: usize,
    /// Members that did not reach the last round.
    pub behind: usize,
    /// Members that were gone at the end.
    pub gone: usize,
}

impl Check {
    /// Nothing missed, nothing twice, everyone there.
    pub fn passed(&self) -> bool {
        self.received == self.expected
            && self.missed == 0
            && self.twice == 0
            && self.trimmed == 0
            && self.wrong_start == 0
            && self.behind == 0
            && self.gone == 0
    }
}

impl fmt::Display for CrowdReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rooms = match self.rooms {
            1 => "lobby".to_owned(),
            r => format!("{r} rooms"),
        };
        let from = match self.source_addrs {
            0 => String::new(),
            1 => " from 127.0.0.1".to_owned(),
            k => format!(" from 127.0.0.1-127.0.0.{k}"),
        };
        writeln!(
            f,
            "{} clients in {rooms}{from}, connected in {:.1} s, quiet after {:.1} s ({})",
            self.clients, self.setup_s, self.quiet_s, self.open_files
        )?;
        match (
            self.server_rss_kb_before,
            self.server_rss_kb_connected,
            self.bytes_per_client,
        ) {
            (Some(before), Some(after), Some(per)) => writeln!(
                f,
                "server resident memory: {before} kB -> {after} kB, {per:.0} bytes per client"
            )?,
            _ => writeln!(f, "server memory not read (pass --server-pid)")?,
        }
        let d = &self.delivery;
        writeln!(
            f,
            "one message to each room: all {} clients had it after {:.1} ms (p50 {:.1} ms, \
             p99 {:.1} ms)",
            d.reached, d.all_ms, d.p50_ms, d.p99_ms
        )?;
        if let Some(s) = &self.storm {
            let b = &s.back;
            writeln!(
                f,
                "storm ({}): {} connections dropped; {} clients back and caught up, all after \
                 {:.1} s (p50 {:.1} s, p99 {:.1} s; limit {:.0} s); {} failed connection \
                 attempts; publisher sent {} rounds meanwhile ({} failed)",
                s.how,
                s.dropped,
                b.reached,
                b.all_ms / 1e3,
                b.p50_ms / 1e3,
                b.p99_ms / 1e3,
                s.limit_s,
                s.failed_attempts,
                s.rounds,
                s.failed_rounds
            )?;
        }
        let c = &self.check;
        write!(
            f,
            "check: seq {:?}..={:?}, received {} of {}: missed {}, twice {} (trimmed {}, \
             wrong start {}, behind {}, gone {}) — {}",
            c.first_seqs,
            c.last_seqs,
            c.received,
            c.expected,
            c.missed,
            c.twice,
            c.trimmed,
            c.wrong_start,
            c.behind,
            c.gone,
            if c.passed() {
                "nothing missed, nothing twice"
            } else {
                "FAILED"
            }
        )?;
        for error in &self.errors {
            write!(f, "\nerror: {error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_measured_from_the_start() {
        let a = Arrivals::of(
            (1..=100).map(|ms| 5_000_000 + ms * 1_000_000).collect(),
            5_000_000,
        );
        assert_eq!(a.reached, 100);
        assert!((a.p50_ms - 50.0).abs() < 1e-9, "{a:?}");
        assert!((a.p99_ms - 99.0).abs() < 1e-9, "{a:?}");
        assert!((a.all_ms - 100.0).abs() < 1e-9, "{a:?}");
        assert_eq!(Arrivals::of(Vec::new(), 0).reached, 0);
    }
}
