//! Server frames and answers as people and scripts read them, and the printing of them:
//! one line per event ([`text`]), or one JSON object per line ([`json`](mod@json)).
//!
//! Every line about a room names it, unless it is the room the reader is looking at
//! (the REPL's current room, [`Style::line_in`]):
//!
//! ```text
//! #rust alice: hi
//! [whisper] alice -> bob: psst
//! #rust * bob joined
//! #rust * bob left (timed out)
//! #rust * you joined; here (2): alice, bob
//! * server shutting down
//! ```
//!
//! A message from a room's log (a backlog, a page of history) is drawn with its time, in
//! local time and with the date when it is not today: dimmed in the REPL
//! ([`Style::past_line`]), `[SEQ] HH:MM alice: hi` from `history` ([`history_line`]).
//!
//! Text from the network is printed only after control characters are replaced
//! ([`safe`]), so a hostile or buggy server cannot move the cursor or recolour the terminal.
//! Lines reach stdout through [`print`](mod@print), one flushed line at a time. What to ask the
//! server, and when, is the commands' ([`crate::cmd`]); nothing here talks to it.

pub mod events;
pub mod json;
pub mod moderation;
pub mod print;
pub mod safe;
pub mod text;
pub mod utc;

pub use json::{json, json_missed, json_past, room_json};
pub use print::{print_line, print_page, print_rooms, print_users};
pub use safe::clean;
pub use text::{clock, history_line, room_line, Style, MISSED};
pub use utc::rfc3339;

/// Frames and log entries the tests of [`text`] and [`json`] both draw.
#[cfg(test)]
mod samples {
    use chat_proto::{LeftReason, Millis, Past, ServerFrame};

    /// A message in `room`, with a time and a seq.
    pub fn msg(room: &str, from: &str, text: &str) -> ServerFrame {
        ServerFrame::Msg {
            room: room.into(),
            from: from.into(),
            text: text.into(),
            at: 1_634_308_200_123,
            seq: 7,
        }
    }

    /// bob leaving #rust for `reason`.
    pub fn left(reason: LeftReason) -> ServerFrame {
        ServerFrame::UserLeft {
            room: "rust".into(),
            user: "bob".into(),
            at: 0,
            reason,
        }
    }

    /// A message of a room's log from alice, with an escape character in it.
    pub fn past(seq: u64, at: Millis) -> Past {
        Past {
            seq,
            from: "alice".into(),
            text: "old\x1b news".into(),
            at,
            kind: chat_proto::PastKind::Message,
            reply_to: None,
            edited: None,
            reactions: vec![],
        }
    }
}
