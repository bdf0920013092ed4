//! What a run measured, as one line of JSON or a few lines for people; and the readings
//! taken from `/proc` (the server's memory and CPU time, given its process id).

use std::fmt;
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency samples are nanoseconds, from 1 ns to an hour, to 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("the bounds are valid")
}

/// A receiver's latency samples, added to the run's histogram a few thousand at a time:
/// one histogram per receiver would cost a thousand receivers hundreds of megabytes, and
/// one lock per sample would make receivers wait for each other.
#[derive(Debug, Default)]
pub struct Samples {
    /// Nanoseconds from send to receive, not yet in the histogram.
    pending: Vec<u64>,
}

impl Samples {
    /// Samples held before they go into the shared histogram.
    const CHUNK: usize = 4096;

    /// Adds one sample, flushing into `into` when enough are pending.
    pub fn record(&mut self, ns: u64, into: &Mutex<Histogram<u64>>) {
        self.pending.push(ns.max(1));
        if self.pending.len() >= Self::CHUNK {
            self.flush(into);
        }
    }

    /// Moves every pending sample into `into`.
    pub fn flush(&mut self, into: &Mutex<Histogram<u64>>) {
        if self.pending.is_empty() {
            return;
        }
        let mut histogram = into.lock().unwrap_or_else(|e| e.into_inner());
        for &ns in &self.pending {
            histogram.saturating_record(ns);
        }
        self.pending.clear();
    }
}

/// Latency from send to receive, in microseconds.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Latency {
    /// Messages measured.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Slowest.
    pub max_us: f64,
}

impl Latency {
    /// Percentiles of `histogram` (nanoseconds).
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Latency {
            count: histogram.len(),
            p50_us: us(histogram.value_at_quantile(0.50)),
            p90_us: us(histogram.value_at_quantile(0.90)),
            p99_us: us(histogram.value_at_quantile(0.99)),
            p999_us: us(histogram.value_at_quantile(0.999)),
            max_us: us(histogram.max()),
        }
    }
}

/// The outcome of a load run. Field names follow the peer load generator's where they mean
/// the same, so results can sit in one table.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Always `"load"`.
    pub mode: &'static str,
    /// Receivers (N).
    pub clients: usize,
    /// Publishers (P).
    pub publishers: usize,
    /// Rooms the receivers are spread over (R); each publisher is in all of them.
    pub rooms: usize,
    /// Messages per publisher and room (M).
    pub messages: u64,
    /// Message text bytes (B).
    pub size: usize,
    /// Offered messages/s over all publishers; `None` for saturation.
    pub rate: Option<f64>,
    /// Most messages in flight ahead of the slowest receiver.
    pub window: u64,
    /// The servers the receivers were spread over (`--host` first, then each `--also`),
    /// and how many went to each.
    pub servers: Vec<ServerShare>,
    /// Seconds to connect and register everyone.
    pub setup_s: f64,
    /// Messages the publishers sent, to all rooms together (`P × M × R` in a full run).
    pub sent: u64,
    /// What the receivers should have received together: each message times the
    /// receivers in its room (`P × M × N` in a full run, whatever `R`).
    pub expected: u64,
    /// Measured messages the receivers received together: the deliveries.
    pub received: u64,
    /// `expected − received`.
    pub lost: u64,
    /// Messages that did not come next in their publisher's sequence to that room.
    pub out_of_order: u64,
    /// Messages that reached a receiver outside their room (not counted as received).
    pub wrong_room: u64,
    /// Measured messages the publishers' own connections read back (every room's);
    /// deliveries the server made too, not counted in `received`.
    pub publisher_received: u64,
    /// Receivers whose connection ended before the run did.
    pub receivers_disconnected: usize,
    /// The first few errors the server sent or connections hit.
    pub errors: Vec<String>,
    /// Seconds from the first send to the last receive.
    pub elapsed_s: f64,
    /// `received ÷ elapsed_s`.
    pub deliveries_per_s: f64,
    /// Message text delivered, in megabytes (10^6) per second.
    pub mb_per_s: f64,
    /// `elapsed_s ÷ received`, in nanoseconds: wall time per delivery.
    pub ns_per_delivery: Option<f64>,
    /// `server_cpu_s ÷ received`, in nanoseconds: the server's CPU time per delivery.
    pub server_cpu_ns_per_delivery: Option<f64>,
    /// Send-to-receive latency over every delivery.
    pub latency: Latency,
    /// How far (ms) a rate-limited publisher fell behind its schedule at worst.
    pub max_behind_schedule_ms: f64,
    /// The server's CPU seconds during the measured phase (`--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// This process's CPU seconds during the measured phase.
    pub bench_cpu_s: Option<f64>,
    /// The server's resident memory at the end, in kB (`--server-pid`).
    pub server_rss_kb: Option<u64>,
}

/// One server of a run and the receivers that connected to it.
#[derive(Debug, Clone, Serialize)]
pub struct ServerShare {
    /// Its address, as connected to.
    pub addr: String,
    /// Receivers sent there (receiver `i` to server `i mod S`).
    pub receivers: usize,
}

/// `, over 127.0.0.1:1 (50) and 127.0.0.1:2 (50)` for receivers spread over several
/// servers; nothing for one.
fn spread(servers: &[ServerShare]) -> String {
    if servers.len() < 2 {
        return String::new();
    }
    let each: Vec<String> = servers
        .iter()
        .map(|s| format!("{} ({})", s.addr, s.receivers))
        .collect();
    format!(", over {}", each.join(" and "))
}

/// The outcome of an idle run (`--idle`).
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// Always `"idle"`.
    pub mode: &'static str,
    /// Registered idle clients.
    pub clients: usize,
    /// Rooms they are spread over.
    pub rooms: usize,
    /// The servers they were spread over, and how many went to each.
    pub servers: Vec<ServerShare>,
    /// Seconds to connect and register them all.
    pub setup_s: f64,
    /// Seconds until no more bytes arrived (the join notices all delivered).
    pub quiet_s: f64,
    /// The server's resident memory before the first connection, in kB.
    pub server_rss_kb_before: Option<u64>,
    /// The server's resident memory with every client connected and quiet, in kB.
    pub server_rss_kb_idle: Option<u64>,
    /// `(idle − before) ÷ clients`, in bytes.
    pub bytes_per_client: Option<f64>,
    /// Clients whose connection ended while idle.
    pub disconnected: usize,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let load = match self.rate {
            Some(rate) => format!("{rate} msg/s offered"),
            None => format!("saturation, window {}", self.window),
        };
        let rooms = match self.rooms {
            1 => String::new(),
            r => format!(" in {r} rooms"),
        };
        let per_room = match self.rooms {
            1 => "",
            _ => " to each room",
        };
        writeln!(
            f,
            "{} receivers{rooms}{}, {} publisher(s) x {} messages of {} B{per_room} ({load}); \
             connected in {:.2} s",
            self.clients,
            spread(&self.servers),
            self.publishers,
            self.messages,
            self.size,
            self.setup_s
        )?;
        writeln!(
            f,
            "deliveries: {} in {:.3} s = {}/s, {:.1} MB/s of text",
            self.received,
            self.elapsed_s,
            thousands(self.deliveries_per_s),
            self.mb_per_s
        )?;
        let wrong_room = match self.wrong_room {
            0 => String::new(),
            n => format!(", in the wrong room {n}"),
        };
        writeln!(
            f,
            "lost: {} of {} (out of order {}, receivers disconnected {}{wrong_room})",
            self.lost, self.expected, self.out_of_order, self.receivers_disconnected
        )?;
        let l = &self.latency;
        write!(
            f,
            "latency: p50 {} p90 {} p99 {} max {}",
            millis(l.p50_us),
            millis(l.p90_us),
            millis(l.p99_us),
            millis(l.max_us)
        )?;
        if self.rate.is_some() {
            write!(
                f,
                " (publisher at worst {:.1} ms behind schedule)",
                self.max_behind_schedule_ms
            )?;
        }
        if let Some(wall) = self.ns_per_delivery {
            write!(f, "\nper delivery: {wall:.1} ns")?;
            if let Some(cpu) = self.server_cpu_ns_per_delivery {
                write!(f, ", server CPU {cpu:.1} ns")?;
            }
        }
        if let (Some(cpu), Some(rss)) = (self.server_cpu_s, self.server_rss_kb) {
            write!(f, "\nserver: {cpu:.2} CPU s, {rss} kB resident at the end")?;
        }
        for error in &self.errors {
            write!(f, "\nerror: {error}")?;
        }
        Ok(())
    }
}

impl fmt::Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rooms = match self.rooms {
            1 => String::new(),
            r => format!(" in {r} rooms"),
        };
        write!(
            f,
            "{} idle clients{rooms}{} connected in {:.2} s, quiet after {:.1} s",
            self.clients,
            spread(&self.servers),
            self.setup_s,
            self.quiet_s
        )?;
        match (
            self.server_rss_kb_before,
            self.server_rss_kb_idle,
            self.bytes_per_client,
        ) {
            (Some(before), Some(idle), Some(per)) => write!(
                f,
                "\nserver resident memory: {before} kB -> {idle} kB, {per:.0} bytes per client"
            )?,
            _ => write!(f, "\nserver memory not read (pass --server-pid)")?,
        }
        if self.disconnected > 0 {
            write!(f, "\n{} clients were disconnected", self.disconnected)?;
        }
        Ok(())
    }
}

/// `1234567.8` as `1,234,568`.
pub(super) fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds as milliseconds with three decimals.
pub(super) fn millis(us: f64) -> String {
    format!("{:.3} ms", us / 1000.0)
}

/// A `kB` line (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`.
pub fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The CPU seconds the server (given its pid) and this process have used since a moment:
/// a run's measured phase.
#[derive(Debug, Clone, Copy)]
pub struct CpuSince {
    /// The server's process id, if given.
    server_pid: Option<u32>,
    /// The server's CPU seconds at the start.
    server: Option<f64>,
    /// This process's CPU seconds at the start.
    own: Option<f64>,
}

impl CpuSince {
    /// Starts counting now.
    pub fn now(server_pid: Option<u32>) -> CpuSince {
        CpuSince {
            server_pid,
            server: server_pid.and_then(|pid| cpu_seconds(Some(pid))),
            own: cpu_seconds(None),
        }
    }

    /// The server's CPU seconds since the start (`None` without its pid), and this
    /// process's.
    pub fn elapsed(&self) -> (Option<f64>, Option<f64>) {
        let server = self
            .server_pid
            .and_then(|pid| Some(cpu_seconds(Some(pid))? - self.server?));
        let own = cpu_seconds(None).zip(self.own).map(|(b, a)| b - a);
        (server, own)
    }
}

/// User plus system CPU seconds of a process (all its threads); `None` for this process.
///
/// Reads `/proc/<pid>/stat`, whose times are in clock ticks of 1/100 s on Linux.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name in parentheses may contain spaces; the fields after it do not.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // After the name: state is field 3 of the whole line, utime 14, stime 15.
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_counts_are_grouped_in_thousands() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(5_464_123.0), "5,464,123");
    }

    /// Samples still pending when a receiver stops reach the histogram on flush.
    #[test]
    fn pending_samples_reach_the_histogram() {
        let histogram = Mutex::new(new_histogram());
        let mut samples = Samples::default();
        for ns in [1_000, 2_000, 3_000] {
            samples.record(ns, &histogram);
        }
        assert!(histogram.lock().unwrap().is_empty());
        samples.flush(&histogram);
        let latency = Latency::of(&histogram.lock().unwrap());
        assert_eq!(latency.count, 3);
        assert!((latency.p50_us - 2.0).abs() < 0.01, "{latency:?}");
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        assert!(status_kb(std::process::id(), "VmRSS").is_some_and(|kb| kb > 0));
        assert!(cpu_seconds(None).is_some());
    }
}
