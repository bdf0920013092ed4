//! A finished load run's raw counts (what each receiver saw, what each publisher sent, the
//! latency histogram) turned into its [`LoadReport`]. How the report reads is
//! [`super::report`]'s; running the benchmark is [`Bench`]'s.

use super::layout::expected_deliveries;
use super::publish::Sent;
use super::receive::Received;
use super::report::{status_kb, Latency, LoadReport, ServerShare};
use super::run::Run;
use super::Bench;

impl Bench {
    /// The figures of a finished load run.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn load_report(
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
}
