//! Flood control: a token bucket per client, and a count of refusals that ends a flood.
//!
//! Each client may send `burst` metered frames at once, then `messages_per_second` on
//! average (the bucket refills continuously). A metered frame over the limit is refused with
//! `Error{RateLimited}` and not handled. A client refused `flood_disconnect_after` times
//! within `flood_window` is not typing too fast but flooding: it gets `Error{Flooding}` and
//! is disconnected. `messages_per_second = 0` turns all of this off (load tests, benchmarks).
//!
//! Metered: every frame that makes the server work for others or answer at length (`Hello`,
//! the account frames (`SignIn`, `Register`, ...), which may cost a password hash,
//! `Msg`, `Whisper`, `Join` and `Part`, whose notices reach a whole room, and the lists
//! `ListUsers`, `ListRooms`, `ListMembers`) and every malformed frame. Not metered: `Ping`, `Pong` and
//! `Bye`, so keepalive and goodbye always get through. A client that sends metered frames
//! without reading the answers is stopped by its bounded send queue instead (slow consumer).

use std::time::Duration;

use chat_proto::ClientFrame;
use tokio::time::Instant;

use crate::config::Config;

/// Whether `frame` costs a token; see the module documentation for why.
pub fn is_metered(frame: &ClientFrame) -> bool {
    match frame {
        ClientFrame::Hello { .. }
        | ClientFrame::Msg { .. }
        | ClientFrame::Whisper { .. }
        | ClientFrame::ListUsers
        | ClientFrame::Join { .. }
        | ClientFrame::Part { .. }
        | ClientFrame::ListRooms
        | ClientFrame::ListMembers { .. }
        | ClientFrame::SignIn { .. }
        | ClientFrame::Register { .. }
        | ClientFrame::ChangePassword { .. }
        | ClientFrame::ListSessions
        | ClientFrame::Revoke { .. }
        | ClientFrame::DeleteAccount { .. }
        | ClientFrame::Disconnect { .. }
        | ClientFrame::Claim { .. }
        | ClientFrame::Moderate { .. }
        | ClientFrame::RemoveMessage { .. }
        | ClientFrame::Operate { .. }
        | ClientFrame::ModLog { .. }
        | ClientFrame::Reply { .. }
        | ClientFrame::Edit { .. }
        | ClientFrame::React { .. }
        | ClientFrame::Search { .. } => true,
        // A history page is answered before the client's next frame is read, so a client
        // has one read in flight at most, and `history --limit 100000` pages at full speed.
        // A room's roles and settings are read from memory and answered at once: the page
        // asks on every join and every change, and a rejoin after a reconnect must not
        // spend the flood budget on them.
        ClientFrame::Ping
        | ClientFrame::Pong
        | ClientFrame::Bye
        | ClientFrame::History { .. }
        | ClientFrame::RoomInfo { .. } => false,
        // Sent as often as keys are pressed, and passed on at most every few seconds per
        // room (`commands/typing.rs`): dropping the rest costs less than refusing them.
        ClientFrame::Typing { .. } => false,
    }
}

/// What to do with one metered frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: handle it.
    Allowed,
    /// Over the limit: refuse it. `first` for the first refusal of a window, which is worth
    /// a WARN line; the rest of the window only DEBUG, so a flood cannot flood the log.
    Refused {
        /// The first refusal since the window started.
        first: bool,
    },
    /// The refusal that reaches `flood_disconnect_after`: close the connection.
    Disconnect {
        /// Refusals counted in the window.
        refused: u32,
        /// The window they fell in.
        window: Duration,
    },
}

/// One client's bucket and refusal count.
#[derive(Debug, Clone)]
pub struct FloodControl {
    /// Tokens added per second.
    rate: f64,
    /// Most tokens the bucket holds.
    burst: f64,
    /// Tokens now (fractional: the bucket refills continuously).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
    /// Refusals in a window that end the connection; 0: never.
    disconnect_after: u32,
    /// How long a window of refusals lasts.
    window: Duration,
    /// Refusals in the current window.
    refused: u32,
    /// When the current window began (at its first refusal).
    window_start: Instant,
}

impl FloodControl {
    /// A full bucket per `config`, or `None` when flood control is off.
    pub fn new(config: &Config, now: Instant) -> Option<FloodControl> {
        (config.messages_per_second > 0.0).then(|| FloodControl {
            rate: config.messages_per_second,
            burst: f64::from(config.burst),
            tokens: f64::from(config.burst),
            updated: now,
            disconnect_after: config.flood_disconnect_after,
            window: config.flood_window,
            refused: 0,
            window_start: now,
        })
    }

    /// Charges one metered frame arriving at `now`.
    pub fn charge(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allowed;
        }
        if self.refused == 0 || now.saturating_duration_since(self.window_start) > self.window {
            self.refused = 0;
            self.window_start = now;
        }
        self.refused += 1;
        if self.disconnect_after > 0 && self.refused >= self.disconnect_after {
            Verdict::Disconnect {
                refused: self.refused,
                window: self.window,
            }
        } else {
            Verdict::Refused {
                first: self.refused == 1,
            }
        }
    }

    /// The limit in words, for the refusal's detail.
    pub fn describe(&self) -> String {
        format!(
            "at most {} messages per second, in bursts of up to {}",
            self.rate, self.burst
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(rate: f64, burst: u32, disconnect_after: u32, window_secs: u64) -> FloodControl {
        let config = Config {
            messages_per_second: rate,
            burst,
            flood_disconnect_after: disconnect_after,
            flood_window: Duration::from_secs(window_secs),
            ..Config::default()
        };
        FloodControl::new(&config, Instant::now()).expect("rate > 0")
    }

    /// A burst goes through at once, the next frame is refused, and the bucket refills at the
    /// configured rate: after 1/rate seconds exactly one more frame is allowed.
    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let mut flood = control(5.0, 10, 0, 10);
        let start = flood.updated;
        for i in 0..10 {
            assert_eq!(flood.charge(start), Verdict::Allowed, "frame {i}");
        }
        assert_eq!(flood.charge(start), Verdict::Refused { first: true });
        assert_eq!(flood.charge(start), Verdict::Refused { first: false });
        let later = start + Duration::from_millis(200);
        assert_eq!(flood.charge(later), Verdict::Allowed);
        assert!(matches!(flood.charge(later), Verdict::Refused { .. }));
        // A long pause refills the bucket, but never beyond the burst.
        let much_later = later + Duration::from_secs(3600);
        for _ in 0..10 {
            assert_eq!(flood.charge(much_later), Verdict::Allowed);
        }
        assert!(matches!(flood.charge(much_later), Verdict::Refused { .. }));
    }

    /// Ten times the limit for five seconds (50 frames a second against 5) is a flood: the
    /// 50th refusal within the 10 s window disconnects, about a second in.
    #[test]
    fn ten_times_the_limit_is_disconnected_within_the_window() {
        let mut flood = control(5.0, 10, 50, 10);
        let start = flood.updated;
        let mut outcome = None;
        for i in 0..250u64 {
            let now = start + Duration::from_millis(20 * i);
            if let Verdict::Disconnect { refused, .. } = flood.charge(now) {
                outcome = Some((i, refused));
                break;
            }
        }
        let (frame, refused) = outcome.expect("disconnected within 5 s");
        assert_eq!(refused, 50);
        assert!((55..=75).contains(&frame), "disconnected at frame {frame}");
    }

    /// Refusals spread thinner than `disconnect_after` per window never disconnect: a person
    /// who hits the limit now and then stays.
    #[test]
    fn occasional_refusals_in_separate_windows_do_not_disconnect() {
        let mut flood = control(1.0, 1, 3, 10);
        let mut now = flood.updated;
        for _ in 0..20 {
            assert_eq!(flood.charge(now), Verdict::Allowed);
            assert!(matches!(flood.charge(now), Verdict::Refused { .. }));
            assert!(matches!(flood.charge(now), Verdict::Refused { .. }));
            now += Duration::from_secs(11);
        }
    }

    #[test]
    fn a_zero_rate_turns_flood_control_off() {
        let config = Config {
            messages_per_second: 0.0,
            ..Config::default()
        };
        assert!(FloodControl::new(&config, Instant::now()).is_none());
    }

    #[test]
    fn keepalive_and_goodbye_are_never_metered() {
        assert!(!is_metered(&ClientFrame::Ping));
        assert!(!is_metered(&ClientFrame::Pong));
        assert!(!is_metered(&ClientFrame::Bye));
        assert!(is_metered(&ClientFrame::ListUsers));
        assert!(is_metered(&ClientFrame::Msg {
            room: "lobby".into(),
            text: "x".into()
        }));
        assert!(is_metered(&ClientFrame::Join {
            room: "a".into(),
            backlog: chat_proto::Backlog::None
        }));
        assert!(!is_metered(&ClientFrame::History {
            room: "a".into(),
            from: chat_proto::Cursor::Latest,
            limit: 10
        }));
        assert!(is_metered(&ClientFrame::ListRooms));
    }
}
