//! The server's ceiling on outbound memory: the bytes every client's queue holds together,
//! kept under `[limits] max_queued_bytes`.
//!
//! Each queue is bounded on its own (`send_queue`, `send_queue_bytes`), but many clients
//! that each stay just under their bound can still add up to more memory than the machine
//! has. Every queue adds what it holds to one [`QueuedBytes`]; the queue that takes the
//! total over the ceiling only wakes [`watch`] (it must not wait, and runs under the hub's
//! lock), which drops the clients holding the most, as slow consumers, until the total is
//! under the ceiling again. The largest first: they are the ones not reading, and dropping
//! them frees the most while disturbing the fewest people.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often [`watch`] logs the total at DEBUG when it changed.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The bytes all queues hold, and the most they may hold together.
#[derive(Debug)]
pub struct QueuedBytes {
    /// Bytes held now, summed over every queue.
    total: AtomicUsize,
    /// The ceiling; `usize::MAX` when `max_queued_bytes` is off. A reload may change it.
    max: AtomicUsize,
    /// Wakes [`watch`] when the total went over the ceiling.
    over: Notify,
}

impl QueuedBytes {
    /// A total of nothing under a ceiling of `max` bytes (`0`: no ceiling).
    pub fn new(max: usize) -> QueuedBytes {
        QueuedBytes {
            total: AtomicUsize::new(0),
            max: AtomicUsize::new(ceiling(max)),
            over: Notify::new(),
        }
    }

    /// The bytes all queues hold now.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// The ceiling.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    /// Changes the ceiling to `max` bytes (`0`: none), a reload; a total over the new one
    /// wakes [`watch`].
    pub fn set_max(&self, max: usize) {
        self.max.store(ceiling(max), Ordering::Relaxed);
        if self.is_over() {
            self.over.notify_one();
        }
    }

    /// Whether the total is over the ceiling.
    pub fn is_over(&self) -> bool {
        self.total() > self.max()
    }

    /// Counts `len` more bytes held; wakes [`watch`] if that takes the total over the
    /// ceiling. Never waits.
    pub fn add(&self, len: usize) {
        let before = self.total.fetch_add(len, Ordering::Relaxed);
        let max = self.max();
        if before <= max && before + len > max {
            self.over.notify_one();
        }
    }

    /// Counts `len` bytes let go of.
    pub fn sub(&self, len: usize) {
        self.total.fetch_sub(len, Ordering::Relaxed);
    }
}

/// Keeps `total` under its ceiling until `stop`: each time it goes over, `shed` drops the
/// clients holding the most (the hub's `shed`: how many, and the bytes they held) and this
/// says so at WARN. Logs the total at DEBUG every
/// `REPORT_EVERY` while it changes.
pub async fn watch(
    total: Arc<QueuedBytes>,
    stop: CancellationToken,
    shed: impl Fn(&QueuedBytes) -> (usize, usize),
) {
    let mut reported = 0;
    let mut report = tokio::time::interval(REPORT_EVERY);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = total.over.notified() => {}
            _ = report.tick() => {
                let now = total.total();
                if now != reported {
                    tracing::debug!("queued bytes: {now} (max_queued_bytes {})", total.max());
                    reported = now;
                }
                continue;
            }
        }
        if !total.is_over() {
            continue;
        }
        let before = total.total();
        let (dropped, freed) = shed(&total);
        if dropped == 0 {
            // Writers caught up between the wake-up and the count: under the ceiling again.
            tracing::debug!("queued bytes: {before}, back under max_queued_bytes");
            continue;
        }
        tracing::warn!(
            "outbound queues hold {before} bytes, over max_queued_bytes {}: dropped {dropped} of \
             the clients holding the most ({freed} bytes) as slow consumers",
            total.max()
        );
    }
}

/// The ceiling `max_queued_bytes` = `max` sets: `usize::MAX` for 0 (none).
fn ceiling(max: usize) -> usize {
    if max == 0 {
        usize::MAX
    } else {
        max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Crossing the ceiling wakes the watcher once; staying over does not wake it again
    /// until the total has come back under.
    #[tokio::test]
    async fn crossing_the_ceiling_wakes_the_watcher_once() {
        let total = QueuedBytes::new(100);
        total.add(60);
        assert!(!total.is_over());
        total.add(60);
        assert!(total.is_over());
        total.over.notified().await;
        total.add(10);
        let again = total.over.notified();
        tokio::pin!(again);
        assert!(futures::poll!(again.as_mut()).is_pending());
        total.sub(100);
        total.add(80);
        again.await;
        assert_eq!(total.total(), 110);
    }

    /// `0` turns the ceiling off.
    #[test]
    fn zero_is_no_ceiling() {
        let total = QueuedBytes::new(0);
        total.add(usize::MAX / 2);
        assert!(!total.is_over());
    }
}
