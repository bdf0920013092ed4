//! A connection's clock: the handshake must finish in time, and a registered client that
//! falls silent is pinged, then closed if it stays silent.
//!
//! ```text
//!  accept ──── handshake_timeout ────► Error{Timeout}, close      (no Welcome yet)
//!  last frame ── ping_interval ──► Ping ── ping_timeout ──► Error{Timeout}, close
//!                                     └─ any frame ─► back to the start
//! ```
//!
//! The reader loop asks [`Watchdog::next`] for the next deadline, sleeps on it beside the
//! socket read, and reports every frame with [`Watchdog::heard`]. Any frame counts, not only
//! `Pong`: a client that talks is alive.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;

/// What is due at a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// No `Welcome` within `handshake_timeout`: refuse with `Timeout` and close.
    HandshakeExpired(Duration),
    /// Silent for `ping_interval`: send `Ping`.
    PingDue,
    /// No frame within `ping_timeout` of the `Ping`: refuse with `Timeout` and close.
    PingUnanswered(Duration),
}

/// The deadlines of one connection.
#[derive(Debug, Clone)]
pub struct Watchdog {
    /// When the handshake must be over, if it is limited.
    handshake_deadline: Option<Instant>,
    /// `handshake_timeout`, for the message.
    handshake_timeout: Duration,
    /// Silence before a ping; `None`: no keepalive.
    ping_interval: Option<Duration>,
    /// Time to answer a ping.
    ping_timeout: Duration,
    /// When the last frame arrived (or the client registered).
    last_heard: Instant,
    /// When the unanswered ping was sent, if one is out.
    pinged_at: Option<Instant>,
}

impl Watchdog {
    /// The clock of a connection accepted at `now`.
    pub fn new(config: &Config, now: Instant) -> Watchdog {
        Watchdog {
            handshake_deadline: config.handshake_timeout.map(|t| now + t),
            handshake_timeout: config.handshake_timeout.unwrap_or_default(),
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            last_heard: now,
            pinged_at: None,
        }
    }

    /// When the handshake must be over, if it is limited: a command that would wait past
    /// it refuses at once instead.
    pub fn handshake_deadline(&self) -> Option<Instant> {
        self.handshake_deadline
    }

    /// A frame arrived at `now`: the client is alive.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.pinged_at = None;
    }

    /// A `Ping` went out at `now`.
    pub fn pinged(&mut self, now: Instant) {
        self.pinged_at = Some(now);
    }

    /// The next deadline and what is due then; `None` when nothing is.
    ///
    /// Before registration only the handshake deadline counts; after it, only keepalive.
    pub fn next(&self, registered: bool) -> Option<(Instant, Alarm)> {
        if !registered {
            return self
                .handshake_deadline
                .map(|at| (at, Alarm::HandshakeExpired(self.handshake_timeout)));
        }
        let interval = self.ping_interval?;
        Some(match self.pinged_at {
            None => (self.last_heard + interval, Alarm::PingDue),
            Some(at) => (
                at + self.ping_timeout,
                Alarm::PingUnanswered(self.ping_timeout),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(handshake: Option<u64>, ping: Option<u64>, timeout: u64) -> Config {
        Config {
            handshake_timeout: handshake.map(Duration::from_secs),
            ping_interval: ping.map(Duration::from_secs),
            ping_timeout: Duration::from_secs(timeout),
            ..Config::default()
        }
    }

    #[test]
    fn the_handshake_deadline_counts_from_the_accept_and_only_before_registration() {
        let start = Instant::now();
        let mut dog = Watchdog::new(&config(Some(10), Some(30), 20), start);
        let limit = Duration::from_secs(10);
        assert_eq!(
            dog.next(false),
            Some((start + limit, Alarm::HandshakeExpired(limit)))
        );
        // Frames during the handshake do not move it: a client retrying names must still
        // finish in time.
        dog.heard(start + Duration::from_secs(5));
        assert_eq!(dog.next(false).unwrap().0, start + limit);
        assert_eq!(
            Watchdog::new(&config(None, Some(30), 20), start).next(false),
            None
        );
    }

    #[test]
    fn silence_brings_a_ping_then_a_timeout_and_any_frame_resets_both() {
        let start = Instant::now();
        let mut dog = Watchdog::new(&config(Some(10), Some(30), 20), start);
        dog.heard(start + Duration::from_secs(1));
        let ping_at = start + Duration::from_secs(31);
        assert_eq!(dog.next(true), Some((ping_at, Alarm::PingDue)));
        dog.pinged(ping_at);
        let limit = Duration::from_secs(20);
        assert_eq!(
            dog.next(true),
            Some((ping_at + limit, Alarm::PingUnanswered(limit)))
        );
        let answered = ping_at + Duration::from_secs(2);
        dog.heard(answered);
        assert_eq!(
            dog.next(true),
            Some((answered + Duration::from_secs(30), Alarm::PingDue))
        );
    }

    #[test]
    fn no_ping_interval_means_no_keepalive() {
        let dog = Watchdog::new(&config(Some(10), None, 20), Instant::now());
        assert_eq!(dog.next(true), None);
    }
}
