//! What every connection of a crowd run shares: where and from where to connect, the gate
//! on handshakes, each member's readings (its first message, its last `seq`, when it was
//! back after the storm) in one slot per member, and the tokens that drop and stop them.
//! The members write their own slots; the run's course ([`super`]) reads them.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::Storm;

/// What every connection of one crowd run shares.
#[derive(Debug)]
pub struct Crowd {
    /// The clock every reading is taken on.
    epoch: Instant,
    /// The server.
    pub addr: SocketAddr,
    /// The local addresses members connect from, member `i` from `sources[i mod K]`; empty:
    /// the system's choice.
    pub sources: Vec<IpAddr>,
    /// `--name`: the start of every client's name.
    pub prefix: String,
    /// The rooms, member `i` in `rooms[i mod R]`.
    pub rooms: Arc<[String]>,
    /// Limit for each handshake.
    pub wait: Duration,
    /// Handshakes in progress at once (`--connect-concurrency`), at the start and in the
    /// storm alike.
    pub gate: Semaphore,
    /// How the storm drops the connections.
    pub storm: Storm,
    /// When each member got its first message (ns since the epoch; 0: not yet).
    pub first_ns: Vec<AtomicU64>,
    /// Members that have their first message.
    pub got_first: AtomicUsize,
    /// Each member's last `seq` in order (0: none yet).
    pub last_seq: Vec<AtomicU64>,
    /// Connections of members that ended (a member dropped twice counts twice).
    pub dropped: AtomicUsize,
    /// When the first of them ended (ns since the epoch; `u64::MAX`: none yet).
    pub first_drop_ns: AtomicU64,
    /// When each member was last back in its room and caught up (ns since the epoch; 0:
    /// not since it was dropped).
    pub back_ns: Vec<AtomicU64>,
    /// Members back and caught up after a drop.
    pub back: AtomicUsize,
    /// Connection attempts that failed while reconnecting (refused, timed out, turned away).
    pub failed_attempts: AtomicU64,
    /// Bytes read by every member: the run waits for this to stop moving after connecting.
    pub bytes_in: AtomicU64,
    /// With `--storm drop`: every member closes its connection.
    pub drop_now: CancellationToken,
    /// Ends every member's loop.
    pub stop: CancellationToken,
}

impl Crowd {
    /// State for `members` members.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        addr: SocketAddr,
        sources: Vec<IpAddr>,
        prefix: String,
        rooms: Arc<[String]>,
        wait: Duration,
        concurrency: usize,
        storm: Storm,
        members: usize,
    ) -> Crowd {
        let slots = || (0..members).map(|_| AtomicU64::new(0)).collect();
        Crowd {
            epoch: Instant::now(),
            addr,
            sources,
            prefix,
            rooms,
            wait,
            gate: Semaphore::new(concurrency.max(1)),
            storm,
            first_ns: slots(),
            got_first: AtomicUsize::new(0),
            last_seq: slots(),
            dropped: AtomicUsize::new(0),
            first_drop_ns: AtomicU64::new(u64::MAX),
            back_ns: slots(),
            back: AtomicUsize::new(0),
            failed_attempts: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            drop_now: CancellationToken::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Nanoseconds since the run began (at least 1, so 0 can mean "not yet").
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Member `slot`'s room, as the one room it joins.
    pub fn room(&self, slot: usize) -> &[String] {
        let k = slot % self.rooms.len();
        &self.rooms[k..=k]
    }

    /// Member `slot`'s local address, if the members are spread over several.
    pub fn source(&self, slot: usize) -> Option<IpAddr> {
        (!self.sources.is_empty()).then(|| self.sources[slot % self.sources.len()])
    }

    /// Member `slot` got its first message.
    pub fn first_message(&self, slot: usize) {
        if self.first_ns[slot].load(Ordering::Relaxed) == 0 {
            self.first_ns[slot].store(self.now_ns(), Ordering::Relaxed);
            self.got_first.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Member `slot`'s connection ended.
    pub fn lost(&self, slot: usize) {
        self.back_ns[slot].store(0, Ordering::Relaxed);
        self.first_drop_ns
            .fetch_min(self.now_ns(), Ordering::SeqCst);
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }

    /// Member `slot` is back in its room with everything it missed.
    pub fn caught_up(&self, slot: usize) {
        self.back_ns[slot].store(self.now_ns(), Ordering::Relaxed);
        self.back.fetch_add(1, Ordering::SeqCst);
    }
}
