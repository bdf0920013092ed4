//! What a workload run measured, as one line of JSON or a few lines for people. Field names
//! follow the load run's ([`super::super::report::LoadReport`]) where they mean the same, so
//! the scripts read both alike.

use std::fmt;

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::super::report::{millis, status_kb, thousands, Latency};
use super::super::Bench;
use super::link::Proto;
use super::person::Tally;
use super::shared::Shared;
use super::topology::Topology;

/// The outcome of a workload run.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadReport {
    /// Always `"workload"`.
    pub mode: &'static str,
    /// `chat` or `nats`.
    pub proto: &'static str,
    /// Whether a JetStream stream kept the messages (NATS only).
    pub jetstream: bool,
    /// People: one connection each.
    pub people: usize,
    /// Rooms.
    pub rooms: usize,
    /// Rooms each person is in (k).
    pub rooms_per_person: usize,
    /// The Zipf exponent of the room sizes.
    pub zipf: f64,
    /// The seed of who is where and who sends when.
    pub seed: u64,
    /// Members of the biggest room, the median room and the smallest.
    pub room_sizes: RoomSizes,
    /// Messages/s offered by everyone together.
    pub rate: f64,
    /// Seconds of sending.
    pub duration_s: f64,
    /// Text bytes per message.
    pub size: usize,
    /// Seconds to connect everyone and put them in their rooms.
    pub setup_s: f64,
    /// Messages sent.
    pub sent: u64,
    /// `sent ÷ duration_s`: the load actually offered.
    pub sent_per_s: f64,
    /// Deliveries the messages sent should make: each times its room's members.
    pub expected: u64,
    /// Stamped messages the members received: the deliveries.
    pub received: u64,
    /// `expected − received`.
    pub lost: u64,
    /// Messages not next in their sender's sequence to their room.
    pub out_of_order: u64,
    /// Messages that reached someone outside their room (not counted).
    pub wrong_room: u64,
    /// People whose connection ended before the run did.
    pub disconnected: usize,
    /// The first few errors the server sent or connections hit.
    pub errors: Vec<String>,
    /// Seconds from the first send to the last receive.
    pub elapsed_s: f64,
    /// `received ÷ elapsed_s`.
    pub deliveries_per_s: f64,
    /// `expected ÷ sent`: deliveries per message.
    pub deliveries_per_message: f64,
    /// Send-to-receive latency over every delivery.
    pub latency: Latency,
    /// How late sends left against their schedule (this process's own lag).
    pub schedule_lag: Latency,
    /// The server's CPU seconds from the first send until the last delivery
    /// (`--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// `server_cpu_s ÷ sent`, in microseconds.
    pub server_cpu_us_per_message: Option<f64>,
    /// `server_cpu_s ÷ received`, in nanoseconds.
    pub server_cpu_ns_per_delivery: Option<f64>,
    /// This process's CPU seconds over the same time.
    pub bench_cpu_s: Option<f64>,
    /// The server's resident memory at the end, in kB (`--server-pid`).
    pub server_rss_kb: Option<u64>,
    /// Messages the JetStream stream holds after the run (`--jetstream`).
    pub stream_messages: Option<u64>,
}

/// A few room sizes, to say what the law made.
#[derive(Debug, Clone, Serialize)]
pub struct RoomSizes {
    /// Members of room 0.
    pub largest: usize,
    /// Members of the middle room.
    pub median: usize,
    /// Members of the last room.
    pub smallest: usize,
}

impl RoomSizes {
    /// Of `sizes`, biggest first.
    pub fn of(sizes: &[usize]) -> RoomSizes {
        RoomSizes {
            largest: sizes.first().copied().unwrap_or(0),
            median: sizes.get(sizes.len() / 2).copied().unwrap_or(0),
            smallest: sizes.last().copied().unwrap_or(0),
        }
    }
}

impl Bench {
    /// The figures of a finished run, but for the server's CPU time and the stream.
    pub(super) fn workload_report(
        &self,
        topology: &Topology,
        rate: f64,
        setup_s: f64,
        shared: &Shared,
        tallies: &[Tally],
    ) -> WorkloadReport {
        let w = &self.workload;
        let sent: u64 = tallies.iter().map(|t| t.sent).sum();
        let received: u64 = tallies.iter().map(|t| t.received).sum();
        let expected = shared.expected.load(Ordering::SeqCst);
        let first = tallies.iter().filter_map(|t| t.first_send_ns).min();
        let last = tallies.iter().map(|t| t.last_receive_ns).max().unwrap_or(0);
        let elapsed_s = first.map_or(0.0, |f| last.saturating_sub(f) as f64 / 1e9);
        let mut errors: Vec<String> = tallies
            .iter()
            .flat_map(|t| t.errors.iter().cloned().chain(t.disconnected.clone()))
            .collect();
        errors.dedup();
        errors.truncate(5);
        let latency =
            |h: &Mutex<Histogram<u64>>| Latency::of(&h.lock().unwrap_or_else(|e| e.into_inner()));
        WorkloadReport {
            mode: "workload",
            proto: match w.proto {
                Proto::Chat => "chat",
                Proto::Nats => "nats",
            },
            jetstream: w.jetstream,
            people: w.people,
            rooms: self.rooms,
            rooms_per_person: w.rooms_per_person,
            zipf: w.zipf,
            seed: w.seed,
            room_sizes: RoomSizes::of(&topology.sizes),
            rate,
            duration_s: w.duration,
            size: self.size,
            setup_s,
            sent,
            sent_per_s: sent as f64 / w.duration,
            expected,
            received,
            lost: expected.saturating_sub(received),
            out_of_order: tallies.iter().map(|t| t.out_of_order).sum(),
            wrong_room: tallies.iter().map(|t| t.foreign).sum(),
            disconnected: tallies.iter().filter(|t| t.disconnected.is_some()).count(),
            errors,
            elapsed_s,
            deliveries_per_s: if elapsed_s > 0.0 {
                received as f64 / elapsed_s
            } else {
                0.0
            },
            deliveries_per_message: expected as f64 / sent.max(1) as f64,
            latency: latency(&shared.latency),
            schedule_lag: latency(&shared.lag),
            server_cpu_s: None,
            server_cpu_us_per_message: None,
            server_cpu_ns_per_delivery: None,
            bench_cpu_s: None,
            server_rss_kb: self.server_pid.and_then(|pid| status_kb(pid, "VmRSS")),
            stream_messages: None,
        }
    }
}

impl fmt::Display for WorkloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = if self.jetstream { " + JetStream" } else { "" };
        let s = &self.room_sizes;
        writeln!(
            f,
            "{} people in {} rooms ({} each; Zipf {}: {} / {} / {} members, largest / median / \
             smallest), {}{store}; connected in {:.2} s",
            self.people,
            self.rooms,
            self.rooms_per_person,
            self.zipf,
            s.largest,
            s.median,
            s.smallest,
            self.proto,
            self.setup_s
        )?;
        writeln!(
            f,
            "sent: {} in {} s = {}/s (offered {}/s), {:.1} deliveries per message",
            self.sent,
            self.duration_s,
            thousands(self.sent_per_s),
            thousands(self.rate),
            self.deliveries_per_message
        )?;
        writeln!(
            f,
            "deliveries: {} in {:.3} s = {}/s",
            self.received,
            self.elapsed_s,
            thousands(self.deliveries_per_s)
        )?;
        writeln!(
            f,
            "lost: {} of {} (out of order {}, in the wrong room {}, disconnected {})",
            self.lost, self.expected, self.out_of_order, self.wrong_room, self.disconnected
        )?;
        let (l, lag) = (&self.latency, &self.schedule_lag);
        write!(
            f,
            "latency: p50 {} p99 {} max {} (sends behind schedule: p99 {}, max {})",
            millis(l.p50_us),
            millis(l.p99_us),
            millis(l.max_us),
            millis(lag.p99_us),
            millis(lag.max_us)
        )?;
        if let (Some(per_message), Some(per_delivery)) = (
            self.server_cpu_us_per_message,
            self.server_cpu_ns_per_delivery,
        ) {
            write!(
                f,
                "\nserver CPU: {per_message:.2} µs per message, {per_delivery:.0} ns per delivery"
            )?;
        }
        if let Some(stored) = self.stream_messages {
            write!(f, "\nJetStream stream: {stored} messages")?;
        }
        for error in &self.errors {
            write!(f, "\nerror: {error}")?;
        }
        Ok(())
    }
}
