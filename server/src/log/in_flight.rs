//! Back-pressure from the room log to the connections: how many messages wait to be
//! stored, and the wake-up for connections that stopped reading until they drain.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Messages submitted and not yet stored past which the connections stop reading until the
/// writer catches up: a disk that stalls must not turn into unbounded memory.
pub const PENDING_MAX: usize = 16 * 1024;

/// Messages submitted and not yet stored, and the wake-up for connections that wait for
/// them to drain.
#[derive(Debug, Default)]
pub struct InFlight {
    /// Messages submitted and not yet stored (or refused).
    pending: AtomicUsize,
    /// Woken when `pending` falls back under [`PENDING_MAX`].
    drained: Notify,
}

impl InFlight {
    /// `n` more messages submitted.
    pub fn add(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` messages stored or refused; wakes the waiting connections when that brings the
    /// count back under [`PENDING_MAX`].
    pub fn sub(&self, n: usize) {
        let before = self.pending.fetch_sub(n, Ordering::Relaxed);
        if before > PENDING_MAX && before - n <= PENDING_MAX {
            self.drained.notify_waiters();
        }
    }

    /// Whether so many messages wait that connections should stop reading.
    pub fn is_backlogged(&self) -> bool {
        self.pending.load(Ordering::Relaxed) > PENDING_MAX
    }

    /// Completes once the messages waiting are under [`PENDING_MAX`].
    pub async fn drained(&self) {
        loop {
            let woken = self.drained.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if !self.is_backlogged() {
                return;
            }
            woken.await;
        }
    }
}
