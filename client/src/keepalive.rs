//! A session's clock: a server that falls silent is pinged, then given up on if it stays
//! silent.
//!
//! ```text
//!  last frame ── keepalive ──► Ping ── timeout ──► ClientError::Timeout
//!                                └─ any frame ─► back to the start
//! ```
//!
//! The session's reader asks [`Keepalive::next`] for the next deadline, sleeps on it beside
//! the socket read, and reports every frame with [`Keepalive::heard`] and every `Ping` it
//! wrote with [`Keepalive::pinged`]. Any frame counts, not only `Pong`: a server that talks
//! is alive. Writing the `Ping` and ending the session are the session's; nothing here does
//! I/O or reads the clock.

use std::time::Duration;

use tokio::time::Instant;

/// How long a session waits without hearing from the server before it sends `Ping`; then
/// the server has the session's timeout to answer, or the session ends with
/// [`crate::ClientError::Timeout`]. Longer than the server's own `ping_interval` (30 s by
/// default), so that with a live server its pings arrive first and this one is never
/// needed; a dead server or a broken path is noticed within about a minute.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(45);

/// What is due at a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// Silent for the keepalive interval: send `Ping`.
    PingDue,
    /// No frame within this long of our `Ping`: give up with a timeout.
    PingUnanswered(Duration),
}

/// The keepalive deadlines of one session.
#[derive(Debug, Clone)]
pub struct Keepalive {
    /// Silence before a ping.
    interval: Duration,
    /// Time the server has to answer a ping.
    timeout: Duration,
    /// When the last frame arrived (or the session began).
    last_heard: Instant,
    /// When our unanswered `Ping` went out, if one is out.
    pinged_at: Option<Instant>,
}

impl Keepalive {
    /// The clock of a session that last heard from the server at `now`: ping after
    /// `interval` of silence, give up `timeout` after an unanswered ping.
    pub fn new(interval: Duration, timeout: Duration, now: Instant) -> Keepalive {
        Keepalive {
            interval,
            timeout,
            last_heard: now,
            pinged_at: None,
        }
    }

    /// A frame arrived at `now`: the server is alive.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.pinged_at = None;
    }

    /// Our `Ping` went out at `now`.
    pub fn pinged(&mut self, now: Instant) {
        self.pinged_at = Some(now);
    }

    /// The next deadline and what is due then.
    pub fn next(&self) -> (Instant, Alarm) {
        match self.pinged_at {
            None => (self.last_heard + self.interval, Alarm::PingDue),
            Some(at) => (at + self.timeout, Alarm::PingUnanswered(self.timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(45);
    const TIMEOUT: Duration = Duration::from_secs(10);

    #[test]
    fn silence_brings_a_ping_then_a_timeout_and_any_frame_resets_both() {
        let start = Instant::now();
        let mut clock = Keepalive::new(INTERVAL, TIMEOUT, start);
        assert_eq!(clock.next(), (start + INTERVAL, Alarm::PingDue));
        let heard = start + Duration::from_secs(3);
        clock.heard(heard);
        let ping_at = heard + INTERVAL;
        assert_eq!(clock.next(), (ping_at, Alarm::PingDue));
        clock.pinged(ping_at);
        assert_eq!(
            clock.next(),
            (ping_at + TIMEOUT, Alarm::PingUnanswered(TIMEOUT))
        );
        let answered = ping_at + Duration::from_secs(2);
        clock.heard(answered);
        assert_eq!(clock.next(), (answered + INTERVAL, Alarm::PingDue));
    }

    /// An unanswered ping is timed from when it went out, not from the last frame: a ping
    /// written late (the socket was busy) still gets the whole timeout.
    #[test]
    fn the_timeout_counts_from_the_ping() {
        let start = Instant::now();
        let mut clock = Keepalive::new(INTERVAL, TIMEOUT, start);
        let late = start + INTERVAL + Duration::from_secs(7);
        clock.pinged(late);
        assert_eq!(
            clock.next(),
            (late + TIMEOUT, Alarm::PingUnanswered(TIMEOUT))
        );
    }
}
