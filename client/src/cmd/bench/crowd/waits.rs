//! How a crowd run waits on its members: for the join notices to stop, for a count to
//! reach everyone (with a progress bar), for every member to reach a room's last `seq`;
//! and the readings it takes from their slots.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::state::Crowd;
use crate::cmd::bench::progress::Progress;

/// How often the run looks at the members' counters.
const POLL: Duration = Duration::from_millis(50);

/// Waits until `bytes` grows by less than `members` in a second (join notices delivered:
/// what still arrives is the server's pings, a few bytes for each member every
/// `ping_interval`), or `limit`.
pub async fn wait_quiet(bytes: &AtomicU64, members: usize, limit: Duration) {
    let started = Instant::now();
    let mut last = bytes.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = bytes.load(Ordering::Relaxed);
        if now - last < members as u64 || started.elapsed() > limit {
            return;
        }
        last = now;
    }
}

/// Waits until `count` reaches `total`, or it has not moved for `stall`, or `deadline`.
pub async fn wait_for(
    label: &'static str,
    count: &AtomicUsize,
    total: usize,
    stall: Duration,
    deadline: Option<Instant>,
) {
    let mut progress = Progress::new(label, total as u64);
    let mut last = count.load(Ordering::SeqCst);
    let mut moved = Instant::now();
    loop {
        let now = count.load(Ordering::SeqCst);
        progress.set(now as u64);
        if now >= total || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if now != last {
            last = now;
            moved = Instant::now();
        } else if deadline.is_none() && moved.elapsed() > stall {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    progress.finish();
}

/// When the first connection dropped, as an instant (now, if none has).
pub fn first_drop(crowd: &Crowd) -> Instant {
    let at = crowd.first_drop_ns.load(Ordering::SeqCst);
    let ago = crowd.now_ns().saturating_sub(at);
    Instant::now() - Duration::from_nanos(ago)
}

/// Waits until every member's last `seq` reaches its room's `last`, or nobody has moved
/// for `stall`.
pub async fn wait_for_seqs(crowd: &Crowd, last: &[u64], stall: Duration) {
    let there = AtomicUsize::new(0);
    let count = || {
        (0..crowd.last_seq.len())
            .filter(|&slot| crowd.last_seq[slot].load(Ordering::Acquire) >= last[slot % last.len()])
            .count()
    };
    let total = crowd.last_seq.len();
    let mut progress = Progress::new("last", total as u64);
    let mut moved = Instant::now();
    loop {
        let now = count();
        progress.set(now as u64);
        if now >= total {
            break;
        }
        if now != there.swap(now, Ordering::Relaxed) {
            moved = Instant::now();
        } else if moved.elapsed() > stall {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    progress.finish();
}

/// The readings that were taken (non-zero), in no order.
pub fn nonzero(slots: &[AtomicU64]) -> Vec<u64> {
    slots
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .filter(|&t| t != 0)
        .collect()
}
