//! What a churn run did, as one line of JSON or a few lines for people.

use std::fmt;

use serde::Serialize;

/// What every churn run reports beside its own counts: refusals, failures, time, the
/// server's memory and the first errors.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Requests the server refused.
    pub refused: u64,
    /// Connections that broke or stopped answering.
    pub failed_connections: u64,
    /// Seconds from the first connection to the last one done.
    pub elapsed_s: f64,
    /// The server's resident memory before, in kB (with `--server-pid`).
    pub server_rss_kb_before: Option<u64>,
    /// The same after.
    pub server_rss_kb_after: Option<u64>,
    /// The first few errors.
    pub errors: Vec<String>,
}

impl Outcome {
    /// Items done per second.
    pub fn per_s(&self, done: u64) -> f64 {
        done as f64 / self.elapsed_s.max(1e-9)
    }

    /// The end of a report for people: refusals, failures, whether the run was `complete`,
    /// the server's memory and the errors.
    fn write_tail(&self, f: &mut fmt::Formatter<'_>, complete: bool) -> fmt::Result {
        writeln!(
            f,
            "{} refused, {} connections failed — {}",
            self.refused,
            self.failed_connections,
            if complete { "complete" } else { "INCOMPLETE" }
        )?;
        match self.server_rss_kb_before.zip(self.server_rss_kb_after) {
            Some((b, a)) => write!(f, "server resident memory: {b} kB -> {a} kB")?,
            None => write!(f, "server memory not read (pass --server-pid)")?,
        }
        for error in &self.errors {
            write!(f, "\nerror: {error}")?;
        }
        Ok(())
    }
}

/// The outcome of a rooms run (`--churn-rooms`).
#[derive(Debug, Clone, Serialize)]
pub struct RoomsReport {
    /// Always `"churn_rooms"`.
    pub mode: &'static str,
    /// Rooms asked for (N).
    pub rooms: u64,
    /// Connections that made them (C).
    pub concurrency: usize,
    /// Rooms joined.
    pub joined: u64,
    /// Rooms whose line came back to its sender: stored and delivered.
    pub echoed: u64,
    /// Rooms left again.
    pub parted: u64,
    /// Rooms parted per second.
    pub rooms_per_s: f64,
    /// Refusals, failures, time, memory, errors.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl RoomsReport {
    /// Every room joined, its line echoed, and left.
    pub fn complete(&self) -> bool {
        self.joined == self.rooms && self.echoed == self.rooms && self.parted == self.rooms
    }
}

/// The outcome of a names run (`--churn-names`).
#[derive(Debug, Clone, Serialize)]
pub struct NamesReport {
    /// Always `"churn_names"`.
    pub mode: &'static str,
    /// Guests asked for (N).
    pub names: u64,
    /// Guests at once (C).
    pub concurrency: usize,
    /// Local addresses they connected from (127.0.0.1 to 127.0.0.K); 0: the system's choice.
    pub source_addrs: usize,
    /// Guests the server welcomed under their name.
    pub registered: u64,
    /// Guests whose connection the server closed after their `Bye`.
    pub quit: u64,
    /// Guests gone per second.
    pub names_per_s: f64,
    /// Refusals, failures, time, memory, errors.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl NamesReport {
    /// Every guest registered and let go.
    pub fn complete(&self) -> bool {
        self.registered == self.names && self.quit == self.names
    }
}

impl fmt::Display for RoomsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rooms over {} connection(s) in {:.1} s ({:.0} rooms/s): {} joined, {} echoed, \
             {} parted; ",
            self.rooms,
            self.concurrency,
            self.outcome.elapsed_s,
            self.rooms_per_s,
            self.joined,
            self.echoed,
            self.parted,
        )?;
        self.outcome.write_tail(f, self.complete())
    }
}

impl fmt::Display for NamesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} guests, {} at a time, in {:.1} s ({:.0} guests/s): {} registered, {} let go; ",
            self.names,
            self.concurrency,
            self.outcome.elapsed_s,
            self.names_per_s,
            self.registered,
            self.quit,
        )?;
        self.outcome.write_tail(f, self.complete())
    }
}
