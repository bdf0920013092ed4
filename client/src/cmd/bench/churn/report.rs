//! What a churn run did, as one line of JSON or a few lines for people.

use std::fmt;

use serde::Serialize;

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
    /// Requests the server refused.
    pub refused: u64,
    /// Connections that broke or stopped answering.
    pub failed_connections: u64,
    /// Seconds from the first connection to the last room parted.
    pub elapsed_s: f64,
    /// Rooms parted per second.
    pub rooms_per_s: f64,
    /// The server's resident memory before, in kB (with `--server-pid`).
    pub server_rss_kb_before: Option<u64>,
    /// The same after.
    pub server_rss_kb_after: Option<u64>,
    /// The first few errors.
    pub errors: Vec<String>,
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
    /// Registrations the server refused.
    pub refused: u64,
    /// Connections that failed or stopped answering.
    pub failed_connections: u64,
    /// Seconds from the first guest to the last gone.
    pub elapsed_s: f64,
    /// Guests gone per second.
    pub names_per_s: f64,
    /// The server's resident memory before, in kB (with `--server-pid`).
    pub server_rss_kb_before: Option<u64>,
    /// The same after.
    pub server_rss_kb_after: Option<u64>,
    /// The first few errors.
    pub errors: Vec<String>,
}

impl NamesReport {
    /// Every guest registered and let go.
    pub fn complete(&self) -> bool {
        self.registered == self.names && self.quit == self.names
    }
}

/// `before -> after kB`, or why there is nothing to show.
fn memory(before: Option<u64>, after: Option<u64>) -> String {
    match before.zip(after) {
        Some((b, a)) => format!("server resident memory: {b} kB -> {a} kB"),
        None => "server memory not read (pass --server-pid)".to_owned(),
    }
}

impl fmt::Display for RoomsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} rooms over {} connection(s) in {:.1} s ({:.0} rooms/s): {} joined, {} echoed, \
             {} parted; {} refused, {} connections failed — {}",
            self.rooms,
            self.concurrency,
            self.elapsed_s,
            self.rooms_per_s,
            self.joined,
            self.echoed,
            self.parted,
            self.refused,
            self.failed_connections,
            if self.complete() {
                "complete"
            } else {
                "INCOMPLETE"
            }
        )?;
        write!(
            f,
            "{}",
            memory(self.server_rss_kb_before, self.server_rss_kb_after)
        )?;
        for error in &self.errors {
            write!(f, "\nerror: {error}")?;
        }
        Ok(())
    }
}

impl fmt::Display for NamesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} guests, {} at a time, in {:.1} s ({:.0} guests/s): {} registered, {} let go; \
             {} refused, {} connections failed — {}",
            self.names,
            self.concurrency,
            self.elapsed_s,
            self.names_per_s,
            self.registered,
            self.quit,
            self.refused,
            self.failed_connections,
            if self.complete() {
                "complete"
            } else {
                "INCOMPLETE"
            }
        )?;
        write!(
            f,
            "{}",
            memory(self.server_rss_kb_before, self.server_rss_kb_after)
        )?;
        for error in &self.errors {
            write!(f, "\nerror: {error}")?;
        }
        Ok(())
    }
}
