//! What every connection of one benchmark run shares: the clock messages are stamped with,
//! each connection's progress, and the window that holds publishers back to the slowest
//! reader. Connecting is [`super::join`](mod@super::join)'s; reading and sending are
//! [`super::receive`]'s and [`super::publish`]'s.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Notify;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::report::new_histogram;

/// What every connection of one run shares.
#[derive(Debug)]
pub struct Run {
    /// The clock publishers stamp messages with and receivers compare against.
    epoch: Instant,
    /// Measured messages received so far, per receiver; `u64::MAX` once it stopped, so a
    /// finished or lost receiver never holds publishers back.
    pub(super) progress: Vec<AtomicU64>,
    /// The same for each publisher's own connection, which reads every room's messages.
    pub(super) publisher_progress: Vec<AtomicU64>,
    /// Measured messages received by all receivers together.
    pub delivered: AtomicU64,
    /// Bytes read by every connection: an idle run waits for this to stop moving.
    pub bytes_in: AtomicU64,
    /// Receivers that have stopped.
    pub finished: AtomicUsize,
    /// Send-to-receive latency of every delivery, in nanoseconds.
    pub histogram: Mutex<Histogram<u64>>,
    /// Messages sent by all publishers together, to every room.
    pub(super) sent: AtomicU64,
    /// The most messages any one room can have been sent: each publisher's messages so far
    /// divided by the rooms, rounded up, summed over the publishers. What the slowest
    /// receiver is compared with.
    pub(super) rounds: AtomicU64,
    /// Most messages sent ahead of the slowest receiver, and of the slowest publisher's own
    /// connection; 0 for no limit.
    pub(super) window: u64,
    /// How long the window may stay shut before a publisher gives up.
    stall: Duration,
    /// Set by a publisher about to wait for the window: receivers then wake it.
    publisher_waiting: AtomicBool,
    /// Where a waiting publisher sleeps.
    progressed: Notify,
    /// Ends every connection's loop.
    pub stop: CancellationToken,
}

impl Run {
    /// State for `receivers` receivers and `publishers` publishers, the publishers kept
    /// within `window` messages of the slowest reader and giving up after `stall` without
    /// progress.
    pub fn new(receivers: usize, publishers: usize, window: u64, stall: Duration) -> Run {
        let counters = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Run {
            epoch: Instant::now(),
            progress: counters(receivers),
            publisher_progress: counters(publishers),
            delivered: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            histogram: Mutex::new(new_histogram()),
            sent: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            window,
            stall,
            publisher_waiting: AtomicBool::new(false),
            progressed: Notify::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Messages received by the slowest of `readers`.
    fn slowest(readers: &[AtomicU64]) -> u64 {
        readers
            .iter()
            .map(|p| p.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Waits until `messages` more messages, of which `rounds` start a new round of the
    /// rooms ([`Run::rounds`]), fit in the window; an error after [`Run::stall`] without
    /// room, which means a connection stopped reading without disconnecting.
    ///
    /// Two bounds: the messages sent to a receiver's room and not yet received by it, at
    /// most `rounds − received`, and the messages a publisher's own connection has still to
    /// read back, `sent − received` (it is in every room). With one room they are the same
    /// bound; with many the second keeps the publishers' queues on the server short, where
    /// each message to a different room is an entry of its own. Receivers are scanned only
    /// when a round starts: until then no room can be sent more than before.
    pub(super) async fn wait_window(&self, messages: u64, rounds: u64) -> Result<(), String> {
        if self.window == 0 {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            let progressed = self.progressed.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            self.publisher_waiting.store(true, Ordering::SeqCst);
            let sent = self.sent.load(Ordering::SeqCst);
            let sent_rounds = self.rounds.load(Ordering::SeqCst);
            let publishers = Run::slowest(&self.publisher_progress);
            let fits = sent + messages <= publishers.saturating_add(self.window)
                && (rounds == 0
                    || sent_rounds + rounds
                        <= Run::slowest(&self.progress).saturating_add(self.window));
            if fits {
                return Ok(());
            }
            let left = self.stall.saturating_sub(started.elapsed());
            if left.is_zero() || timeout(left, progressed).await.is_err() {
                let receivers = Run::slowest(&self.progress);
                return Err(format!(
                    "no progress for {:?}: the slowest receiver has {} messages to read, \
                     the slowest publisher {}",
                    self.stall,
                    sent_rounds - receivers.min(sent_rounds),
                    sent - publishers.min(sent)
                ));
            }
        }
    }

    /// Records that the reader counted by `slot` has `count` messages, waking a waiting
    /// publisher.
    pub(super) fn advance(&self, slot: &AtomicU64, count: u64) {
        slot.store(count, Ordering::Release);
        // A plain load first: a thousand receivers writing one shared flag on every read
        // would fight over its cache line.
        if self.publisher_waiting.load(Ordering::SeqCst)
            && self.publisher_waiting.swap(false, Ordering::SeqCst)
        {
            self.progressed.notify_waiters();
        }
    }
}
