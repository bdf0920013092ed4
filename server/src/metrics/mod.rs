//! What `/metrics` shows: counters the connections, the hub and the room log keep as they
//! work, and gauges read from the hub when Prometheus asks.
//!
//! One [`Metrics`] per server, held by its [`crate::hub::Hub`] (everything that counts has
//! the hub at hand), never a process-wide registry: two servers in one process, as in the
//! tests, count apart. Every count is an atomic add where the work is already done (per
//! read or write call, per burst, per commit), so counting costs nothing measurable beside
//! the system calls it sits next to.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::ErrorKind;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::registry::LeaveReason;

pub mod exposition;

pub use exposition::Format;

/// How a client reached the server: the one label of the connection counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The chat port, plain or TLS.
    Tcp,
    /// `/ws` on the web port.
    WebSocket,
}

impl Transport {
    /// The label value.
    fn label(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::WebSocket => "websocket",
        }
    }
}

/// One label: `[(name, value)]`.
type Label = [(&'static str, &'static str); 1];

/// The server's counters; cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

/// The metrics themselves, each also registered in `registry` for the text format.
#[derive(Debug)]
struct Inner {
    /// Every metric, for [`encode`].
    registry: Registry,
    /// Connections being served now, by transport.
    connections: Family<Label, Gauge>,
    /// Connections accepted since start, by transport.
    accepted: Family<Label, Counter>,
    /// Registered people, read from the hub at each scrape.
    users: Gauge,
    /// Rooms with at least one member, read from the hub at each scrape.
    rooms: Gauge,
    /// Room messages and whispers the server took from clients.
    messages_in: Counter,
    /// Room messages and whispers queued to their recipients: one per recipient.
    messages_out: Counter,
    /// Bytes read from clients' sockets (frames with their prefixes).
    bytes_in: Counter<u64, AtomicU64>,
    /// Bytes written to clients' sockets.
    bytes_out: Counter<u64, AtomicU64>,
    /// Connections ended, by reason.
    disconnects: Family<Label, Counter>,
    /// Typed errors sent to clients, by kind.
    refusals: Family<Label, Counter>,
    /// WebSocket handshakes refused for their page's origin.
    refused_origins: Counter,
    /// Seconds each commit of the room log took (SQLite, or NATS's acknowledgement).
    store_commit: Histogram,
    /// Seconds each fan-out of a burst of messages to a room's members took.
    fan_out: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered under the `chat_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("chat");
        let connections = Family::<Label, Gauge>::default();
        let accepted = Family::<Label, Counter>::default();
        let users = Gauge::default();
        let rooms = Gauge::default();
        let messages_in = Counter::default();
        let messages_out = Counter::default();
        let bytes_in = Counter::<u64, AtomicU64>::default();
        let bytes_out = Counter::<u64, AtomicU64>::default();
        let disconnects = Family::<Label, Counter>::default();
        let refusals = Family::<Label, Counter>::default();
        let refused_origins = Counter::default();
        // 50 µs to about 1.6 s: an SQLite group commit, a JetStream acknowledgement.
        let store_commit = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        // 1 µs to about 0.5 s: one member, to a room of ten thousand.
        let fan_out = Histogram::new(exponential_buckets(0.000_001, 2.0, 20));
        registry.register(
            "connections",
            "Connections being served, by transport",
            connections.clone(),
        );
        registry.register(
            "connections_accepted",
            "Connections accepted since start, by transport",
            accepted.clone(),
        );
        registry.register("users", "People registered on this node", users.clone());
        registry.register("rooms", "Rooms with members on this node", rooms.clone());
        registry.register(
            "messages_in",
            "Room messages and whispers taken from clients",
            messages_in.clone(),
        );
        registry.register(
            "messages_out",
            "Room messages and whispers queued to recipients, one per recipient",
            messages_out.clone(),
        );
        registry.register_with_unit(
            "received",
            "Bytes read from clients",
            Unit::Bytes,
            bytes_in.clone(),
        );
        registry.register_with_unit(
            "sent",
            "Bytes written to clients",
            Unit::Bytes,
            bytes_out.clone(),
        );
        registry.register(
            "disconnects",
            "Connections ended, by reason",
            disconnects.clone(),
        );
        registry.register(
            "refusals",
            "Typed errors sent to clients, by kind",
            refusals.clone(),
        );
        registry.register(
            "websocket_origin_refusals",
            "WebSocket handshakes refused for their page's origin",
            refused_origins.clone(),
        );
        registry.register_with_unit(
            "store_commit",
            "Time each commit of the room log took: a SQLite transaction, or in a cluster a burst's JetStream acknowledgements",
            Unit::Seconds,
            store_commit.clone(),
        );
        registry.register_with_unit(
            "fan_out",
            "Time each fan-out of messages to a room's members took",
            Unit::Seconds,
            fan_out.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                connections,
                accepted,
                users,
                rooms,
                messages_in,
                messages_out,
                bytes_in,
                bytes_out,
                disconnects,
                refusals,
                refused_origins,
                store_commit,
                fan_out,
            }),
        }
    }

    /// Every metric in `format`, with `users` and `rooms` as the hub has them now.
    pub fn render(
        &self,
        users: usize,
        rooms: usize,
        format: Format,
    ) -> Result<String, std::fmt::Error> {
        let inner = &self.inner;
        inner.users.set(i64::try_from(users).unwrap_or(i64::MAX));
        inner.rooms.set(i64::try_from(rooms).unwrap_or(i64::MAX));
        let mut text = String::new();
        encode(&mut text, &inner.registry)?;
        Ok(match format {
            Format::OpenMetrics => text,
            Format::Classic => exposition::classic(&text),
        })
    }

    /// A connection was accepted over `transport`; it counts as served until the returned
    /// guard is dropped.
    pub fn connected(&self, transport: Transport) -> Connected {
        let label = [("transport", transport.label())];
        self.inner.accepted.get_or_create(&label).inc();
        self.inner.connections.get_or_create(&label).inc();
        Connected {
            metrics: self.clone(),
            label,
        }
    }

    /// A connection ended for `reason`.
    pub fn disconnected(&self, reason: &LeaveReason) {
        self.inner
            .disconnects
            .get_or_create(&[("reason", reason.label())])
            .inc();
    }

    /// A typed error of `kind` was sent to a client.
    pub fn refused(&self, kind: ErrorKind) {
        self.inner
            .refusals
            .get_or_create(&[("kind", kind.as_str())])
            .inc();
    }

    /// A WebSocket handshake came from a page of an origin not allowed.
    pub fn refused_origin(&self) {
        self.inner.refused_origins.inc();
    }

    /// `n` room messages or whispers were taken from a client.
    pub fn messages_in(&self, n: u64) {
        self.inner.messages_in.inc_by(n);
    }

    /// `n` room messages or whispers were queued to recipients (counted per recipient).
    pub fn messages_out(&self, n: u64) {
        self.inner.messages_out.inc_by(n);
    }

    /// `n` bytes were read from a client.
    pub fn bytes_in(&self, n: usize) {
        self.inner.bytes_in.inc_by(n as u64);
    }

    /// `n` bytes were written to a client.
    pub fn bytes_out(&self, n: usize) {
        self.inner.bytes_out.inc_by(n as u64);
    }

    /// A commit of the room log took `took`.
    pub fn store_committed(&self, took: Duration) {
        self.inner.store_commit.observe(took.as_secs_f64());
    }

    /// A fan-out to a room's members took `took`.
    pub fn fanned_out(&self, took: Duration) {
        self.inner.fan_out.observe(took.as_secs_f64());
    }
}

/// A connection being served: counted in `chat_connections` until dropped.
#[derive(Debug)]
pub struct Connected {
    metrics: Metrics,
    label: Label,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.metrics
            .inner
            .connections
            .get_or_create(&self.label)
            .dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_name_every_metric_with_its_labels() {
        let metrics = Metrics::new();
        let ws = metrics.connected(Transport::WebSocket);
        let _tcp = metrics.connected(Transport::Tcp);
        drop(ws);
        metrics.disconnected(&LeaveReason::SlowConsumer);
        metrics.refused(ErrorKind::RateLimited);
        metrics.messages_in(2);
        metrics.messages_out(6);
        metrics.bytes_out(100);
        metrics.store_committed(Duration::from_millis(1));
        let open_metrics = metrics.render(3, 1, Format::OpenMetrics).unwrap();
        let classic = metrics.render(3, 1, Format::Classic).unwrap();
        assert!(open_metrics.ends_with("# EOF\n"), "{open_metrics}");
        assert!(
            open_metrics.contains("# TYPE chat_build info\n"),
            "{open_metrics}"
        );
        assert!(
            classic.contains("# TYPE chat_build_info gauge\n"),
            "{classic}"
        );
        assert!(
            classic.contains("# TYPE chat_sent_bytes_total counter\n"),
            "{classic}"
        );
        for line in [
            "chat_connections{transport=\"websocket\"} 0",
            "chat_connections{transport=\"tcp\"} 1",
            "chat_connections_accepted_total{transport=\"websocket\"} 1",
            "chat_users 3",
            "chat_rooms 1",
            "chat_messages_in_total 2",
            "chat_messages_out_total 6",
            "chat_sent_bytes_total 100",
            "chat_received_bytes_total 0",
            "chat_disconnects_total{reason=\"slow_consumer\"} 1",
            "chat_refusals_total{kind=\"rate_limited\"} 1",
            "chat_store_commit_seconds_count 1",
            "chat_fan_out_seconds_count 0",
            &format!(
                "chat_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            for text in [&open_metrics, &classic] {
                assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
            }
        }
    }
}
