//! What every person of a workload run shares: the clock messages are stamped with, the
//! moment sending starts, the counters the end of the run waits on, and the histograms.
//! What a person does with them is [`super::person`]'s.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use super::super::report::new_histogram;

/// The state of one workload run.
#[derive(Debug)]
pub struct Shared {
    /// The clock sends are stamped with and receipts compared against.
    epoch: Instant,
    /// When sending began, in nanoseconds since `epoch`; set before `go` fires.
    start_ns: AtomicU64,
    /// Fires once every person is connected: sending starts.
    pub go: CancellationToken,
    /// Fires at the end: every person stops reading.
    pub stop: CancellationToken,
    /// Messages sent by everyone.
    pub sent: AtomicU64,
    /// Deliveries the messages sent so far should make: each message times its room's
    /// members.
    pub expected: AtomicU64,
    /// Deliveries made so far: stamped messages received by the members of their rooms.
    pub delivered: AtomicU64,
    /// People done sending (their time is over, or their connection ended).
    pub done_sending: AtomicUsize,
    /// Send-to-receive latency of every delivery, in nanoseconds.
    pub latency: Mutex<Histogram<u64>>,
    /// How late each send left against its schedule, in nanoseconds.
    pub lag: Mutex<Histogram<u64>>,
}

impl Shared {
    /// The state of a run about to connect its people.
    pub fn new() -> Shared {
        Shared {
            epoch: Instant::now(),
            start_ns: AtomicU64::new(0),
            go: CancellationToken::new(),
            stop: CancellationToken::new(),
            sent: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            done_sending: AtomicUsize::new(0),
            latency: Mutex::new(new_histogram()),
            lag: Mutex::new(new_histogram()),
        }
    }

    /// Nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Starts the sending, now.
    pub fn begin(&self) {
        self.start_ns.store(self.now_ns(), Ordering::SeqCst);
        self.go.cancel();
    }

    /// When sending began, in nanoseconds since the run began (once `go` has fired).
    pub fn start_ns(&self) -> u64 {
        self.start_ns.load(Ordering::SeqCst)
    }

    /// The instant `ns` nanoseconds after the run began.
    pub fn instant(&self, ns: u64) -> tokio::time::Instant {
        (self.epoch + Duration::from_nanos(ns)).into()
    }
}
