//! Server frames as people and scripts read them: one line per event, or one JSON object
//! per line.
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
//! Text from the network is printed only after control characters are replaced, so a
//! hostile or buggy server cannot move the cursor or recolour the terminal.

use std::borrow::Cow;

use chat_proto::validate::{name_key, room_key};
use chat_proto::{Millis, Past, RoomSummary, ServerFrame};
use chrono::{DateTime, TimeZone};
use serde::Serialize;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const MAGENTA: &str = "\x1b[35m";
/// A room's `#name` in front of its lines: blue, apart from the names and the text.
const ROOM: &str = "\x1b[34m";
/// Other people's names: bold cyan, so lines scan by sender.
const SENDER: &str = "\x1b[1;36m";
/// Our own name inside someone else's message: bold on yellow, hard to miss.
const MENTION: &str = "\x1b[1;30;43m";

/// What is said where a catch-up could not get every message it asked for: the server no
/// longer keeps them (or its log started over), and what follows are the latest it has.
pub const MISSED: &str = "some messages are no longer available";

/// How lines are drawn: colour or not, and whose name to highlight.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// ANSI colour; only on a terminal, and never with `NO_COLOR`.
    color: bool,
    /// Our name, highlighted where others mention it.
    me: Option<String>,
}

impl Style {
    /// Plain text, as pipes and files want it.
    pub fn plain() -> Style {
        Style::default()
    }

    /// Colour when `terminal` is true and `NO_COLOR` is unset or empty
    /// (<https://no-color.org>).
    pub fn detect(terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: terminal && !no_color,
            me: None,
        }
    }

    /// Highlights `name` where other people's messages mention it (needs colour).
    pub fn with_me(mut self, name: &str) -> Style {
        self.me = Some(name.to_owned());
        self
    }

    /// Whether this style writes ANSI colour.
    pub fn color(&self) -> bool {
        self.color
    }

    /// The line for `frame`, every room named: `#rust alice: hi`. `None` for frames
    /// people need not see (`Pong`, `Welcome`).
    pub fn line(&self, frame: &ServerFrame) -> Option<String> {
        self.line_in(frame, None)
    }

    /// The line for `frame` as seen from the room `here`: messages and presence in `here`
    /// go untagged (`alice: hi`), those of every other room start with `#room`. Answers
    /// about a room (joined, left, members) always name it.
    pub fn line_in(&self, frame: &ServerFrame, here: Option<&str>) -> Option<String> {
        let tag = |room: &str| {
            if here.is_some_and(|here| room_key(here) == room_key(room)) {
                String::new()
            } else {
                self.room_tag(room)
            }
        };
        Some(match frame {
            ServerFrame::Msg {
                room, from, text, ..
            } => {
                let (from, text) = (clean(from), clean(text));
                let tag = tag(room);
                if self.is_me(&from) {
                    format!("{tag}{}: {text}", self.paint(BOLD, &from))
                } else {
                    format!("{tag}{}: {}", self.paint(SENDER, &from), self.mention(text))
                }
            }
            ServerFrame::Whisper { from, to, text, .. } => self.paint(
                MAGENTA,
                &format!(
                    "[whisper] {} -> {}: {}",
                    clean(from),
                    clean(to),
                    clean(text)
                ),
            ),
            ServerFrame::System { text, .. } => self.notice(&clean(text)),
            ServerFrame::UserList { users } => self.notice(&format!(
                "online ({}): {}",
                users.len(),
                clean(&users.join(", "))
            )),
            ServerFrame::Error { detail, .. } => self.error(&clean(detail)),
            ServerFrame::UserJoined { room, user, .. } => {
                format!(
                    "{}{}",
                    tag(room),
                    self.notice(&format!("{} joined", clean(user)))
                )
            }
            ServerFrame::UserLeft {
                room, user, reason, ..
            } => format!(
                "{}{}",
                tag(room),
                self.notice(&format!("{} left ({reason})", clean(user)))
            ),
            ServerFrame::Joined { room, members } => format!(
                "{}{}",
                self.room_tag(room),
                self.notice(&format!(
                    "you joined; here ({}): {}",
                    members.len(),
                    clean(&members.join(", "))
                ))
            ),
            ServerFrame::Parted { room } => {
                format!("{}{}", self.room_tag(room), self.notice("you left"))
            }
            ServerFrame::Members { room, users } => format!(
                "{}{}",
                self.room_tag(room),
                self.notice(&format!(
                    "members ({}): {}",
                    users.len(),
                    clean(&users.join(", "))
                ))
            ),
            ServerFrame::RoomList { rooms } => {
                let list: Vec<String> = rooms
                    .iter()
                    .map(|r| format!("#{} ({})", clean(&r.name), r.members))
                    .collect();
                self.notice(&format!("rooms ({}): {}", rooms.len(), list.join(", ")))
            }
            // A page of history is shown message by message (`past_line`, `history_line`),
            // in the order the catch-up puts them.
            ServerFrame::History { .. }
            | ServerFrame::Welcome { .. }
            | ServerFrame::Pong
            | ServerFrame::Ping => return None,
        })
    }

    /// A message of `room`'s log as the REPL shows it, seen from the room `here`: dimmed,
    /// with its time (and date, when not the day of `now`): `#rust 14:05 alice: hi`.
    pub fn past_line<Tz: TimeZone>(
        &self,
        room: &str,
        past: &Past,
        here: Option<&str>,
        now: &DateTime<Tz>,
    ) -> String {
        let tag = if here.is_some_and(|here| room_key(here) == room_key(room)) {
            String::new()
        } else {
            format!("#{} ", clean(room))
        };
        self.paint(
            DIM,
            &format!(
                "{tag}{} {}: {}",
                clock(past.at, now),
                clean(&past.from),
                clean(&past.text)
            ),
        )
    }

    /// The notice that a catch-up of `room` reached past what the server keeps, seen from
    /// the room `here`: `#rust * some messages are no longer available`.
    pub fn missed_line(&self, room: &str, here: Option<&str>) -> String {
        let tag = if here.is_some_and(|here| room_key(here) == room_key(room)) {
            String::new()
        } else {
            self.room_tag(room)
        };
        format!("{tag}{}", self.notice(MISSED))
    }

    /// `#room ` in front of a line about that room.
    pub fn room_tag(&self, room: &str) -> String {
        format!("{} ", self.paint(ROOM, &format!("#{}", clean(room))))
    }

    /// A notice from this program or the server: `* text`.
    pub fn notice(&self, text: &str) -> String {
        self.paint(DIM, &format!("* {text}"))
    }

    /// Something that went wrong but does not end the program: `! text`.
    pub fn error(&self, text: &str) -> String {
        self.paint(RED, &format!("! {text}"))
    }

    fn is_me(&self, name: &str) -> bool {
        self.me
            .as_deref()
            .is_some_and(|me| name_key(me) == name_key(name))
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// Highlights each whole-word, any-case occurrence of our name in `text`.
    fn mention<'a>(&self, text: Cow<'a, str>) -> Cow<'a, str> {
        let Some(me) = self.me.as_deref().filter(|_| self.color) else {
            return text;
        };
        // Names are ASCII, so lowercasing keeps byte offsets.
        let lower = text.to_ascii_lowercase();
        let key = name_key(me);
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        let mut out = String::with_capacity(text.len() + 16);
        let mut last = 0;
        for (at, _) in lower.match_indices(&key) {
            let end = at + key.len();
            let before = text[..at].chars().next_back();
            let rest = &text[end..];
            // A '.' ends a sentence unless more of a name follows it.
            let continues = match rest.chars().next() {
                Some('.') => rest[1..].chars().next().is_some_and(is_name_char),
                Some(c) => is_name_char(c),
                None => false,
            };
            if before.is_some_and(is_name_char) || continues {
                continue;
            }
            out.push_str(&text[last..at]);
            out.push_str(&format!("{MENTION}{}{RESET}", &text[at..end]));
            last = end;
        }
        if last == 0 {
            return text;
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }
}

/// Replaces control characters (escape sequences, bells, line breaks) with `�`, tabs excepted.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_unsafe) {
        Cow::Owned(
            text.chars()
                .map(|c| if is_unsafe(c) { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// One event as `listen --json` prints it. Every key is always present (`null` when it does
/// not apply), so `jq` filters need no guards.
#[derive(Debug, Serialize)]
struct JsonEvent<'a> {
    /// `msg`, `whisper`, `system`, `user_joined`, `user_left` (someone else in a room we
    /// are in); `joined`, `parted`, `members`, `users` (answers to us).
    #[serde(rename = "type")]
    kind: &'static str,
    /// The room it happened in, as the server names it; `null` for whispers, system
    /// notices and the list of everyone online.
    room: Option<&'a str>,
    /// Sender of a message or whisper; `null` otherwise.
    from: Option<&'a str>,
    /// Recipient of a whisper; `null` otherwise.
    to: Option<&'a str>,
    /// Who joined or left, for `user_joined` and `user_left`; `null` otherwise.
    user: Option<&'a str>,
    /// Why they left, for `user_left`: `parted`, `quit`, `disconnected`, `timed_out`,
    /// `slow_consumer` or `refused`; `null` otherwise.
    reason: Option<&'static str>,
    /// Who is in the room (`joined`, `members`) or online (`users`); `null` otherwise.
    users: Option<&'a [String]>,
    /// The text, exactly as sent (JSON escapes what needs escaping); `null` for presence
    /// and answers.
    text: Option<&'a str>,
    /// When the server saw it: RFC 3339, UTC, milliseconds; `null` for answers, which
    /// carry no time.
    time: Option<String>,
    /// A room message's place in its room's log (1, 2, 3, ...), so a script can resume
    /// with `listen --after SEQ`; `null` for everything else.
    seq: Option<u64>,
    /// Whether a room message was read from the room's log (a backlog, `history`) rather
    /// than heard live; `null` for everything else.
    backlog: Option<bool>,
}

impl<'a> JsonEvent<'a> {
    /// An event of `kind` with every other key `null`.
    fn new(kind: &'static str) -> JsonEvent<'a> {
        JsonEvent {
            kind,
            room: None,
            from: None,
            to: None,
            user: None,
            reason: None,
            users: None,
            text: None,
            time: None,
            seq: None,
            backlog: None,
        }
    }

    /// The line, serialised.
    fn line(&self) -> String {
        // A struct of strings and numbers always serialises.
        serde_json::to_string(self).expect("strings and numbers always serialise to JSON")
    }
}

/// The JSON line for an event or an answer about a room; `None` for frames scripts need
/// not see (`Pong`, `Welcome`, errors, which go to stderr) and for the room list, which
/// [`room_json`] prints a line per room.
pub fn json(frame: &ServerFrame) -> Option<String> {
    let event = match frame {
        ServerFrame::Msg {
            room,
            from,
            text,
            at,
            seq,
        } => JsonEvent {
            room: Some(room),
            from: Some(from),
            text: Some(text),
            time: Some(rfc3339(*at)),
            seq: Some(*seq),
            backlog: Some(false),
            ..JsonEvent::new("msg")
        },
        ServerFrame::Whisper { from, to, text, at } => JsonEvent {
            from: Some(from),
            to: Some(to),
            text: Some(text),
            time: Some(rfc3339(*at)),
            ..JsonEvent::new("whisper")
        },
        ServerFrame::System { text, at } => JsonEvent {
            text: Some(text),
            time: Some(rfc3339(*at)),
            ..JsonEvent::new("system")
        },
        ServerFrame::UserJoined { room, user, at } => JsonEvent {
            room: Some(room),
            user: Some(user),
            time: Some(rfc3339(*at)),
            ..JsonEvent::new("user_joined")
        },
        ServerFrame::UserLeft {
            room,
            user,
            at,
            reason,
        } => JsonEvent {
            room: Some(room),
            user: Some(user),
            reason: Some(reason.as_str()),
            time: Some(rfc3339(*at)),
            ..JsonEvent::new("user_left")
        },
        ServerFrame::Joined { room, members } => JsonEvent {
            room: Some(room),
            users: Some(members),
            ..JsonEvent::new("joined")
        },
        ServerFrame::Parted { room } => JsonEvent {
            room: Some(room),
            ..JsonEvent::new("parted")
        },
        ServerFrame::Members { room, users } => JsonEvent {
            room: Some(room),
            users: Some(users),
            ..JsonEvent::new("members")
        },
        ServerFrame::UserList { users } => JsonEvent {
            users: Some(users),
            ..JsonEvent::new("users")
        },
        ServerFrame::RoomList { .. }
        | ServerFrame::History { .. }
        | ServerFrame::Error { .. }
        | ServerFrame::Welcome { .. }
        | ServerFrame::Pong
        | ServerFrame::Ping => return None,
    };
    Some(event.line())
}

/// The JSON line for a message of `room`'s log: a `msg` like a live one, with `backlog`
/// true.
pub fn json_past(room: &str, past: &Past) -> String {
    JsonEvent {
        room: Some(room),
        from: Some(&past.from),
        text: Some(&past.text),
        time: Some(rfc3339(past.at)),
        seq: Some(past.seq),
        backlog: Some(true),
        ..JsonEvent::new("msg")
    }
    .line()
}

/// The JSON line saying that a catch-up of `room` reached past what the server keeps:
/// `{"type":"missed","room":"rust",...,"text":"some messages are no longer available"}`.
pub fn json_missed(room: &str) -> String {
    JsonEvent {
        room: Some(room),
        text: Some(MISSED),
        ..JsonEvent::new("missed")
    }
    .line()
}

/// A message of a room's log as `history` prints it: `[SEQ] HH:MM alice: hi`, the time
/// local and preceded by the date when it is not the day of `now`.
pub fn history_line<Tz: TimeZone>(past: &Past, now: &DateTime<Tz>) -> String {
    format!(
        "[{}] {} {}: {}",
        past.seq,
        clock(past.at, now),
        clean(&past.from),
        clean(&past.text)
    )
}

/// Server milliseconds as a person reads them beside `now` (in `now`'s time zone, local
/// time for the command line): `14:05` the same day, `2026-11-30 14:05` another day.
pub fn clock<Tz: TimeZone>(at: Millis, now: &DateTime<Tz>) -> String {
    let at = chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .with_timezone(&now.timezone());
    let local = at.naive_local();
    if local.date() == now.naive_local().date() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// One room of a room list as `rooms` prints it: `NAME MEMBERS` (`rust 3`). Room names
/// have no spaces, so `cut -d' '` and `read name count` split it.
pub fn room_line(room: &RoomSummary) -> String {
    format!("{} {}", clean(&room.name), room.members)
}

/// One room of a room list as `rooms --json` prints it: `{"room": "rust", "members": 3}`.
pub fn room_json(room: &RoomSummary) -> String {
    /// The line's keys, in this order.
    #[derive(Serialize)]
    struct RoomJson<'a> {
        /// The room's name as shown.
        room: &'a str,
        /// How many people are in it.
        members: u32,
    }
    let line = RoomJson {
        room: &room.name,
        members: room.members,
    };
    serde_json::to_string(&line).expect("a name and a number always serialise to JSON")
}

/// Server milliseconds as `2021-10-15T14:30:00.123Z`.
pub fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use chat_proto::LeftReason;

    use super::*;

    fn msg(room: &str, from: &str, text: &str) -> ServerFrame {
        ServerFrame::Msg {
            room: room.into(),
            from: from.into(),
            text: text.into(),
            at: 1_634_308_200_123,
            seq: 7,
        }
    }

    fn left(reason: LeftReason) -> ServerFrame {
        ServerFrame::UserLeft {
            room: "rust".into(),
            user: "bob".into(),
            at: 0,
            reason,
        }
    }

    #[test]
    fn plain_lines_have_the_documented_shapes() {
        let style = Style::plain().with_me("bob");
        assert_eq!(
            style.line(&msg("rust", "alice", "hi bob")).unwrap(),
            "#rust alice: hi bob"
        );
        let whisper = ServerFrame::Whisper {
            from: "alice".into(),
            to: "bob".into(),
            text: "psst".into(),
            at: 0,
        };
        assert_eq!(
            style.line(&whisper).unwrap(),
            "[whisper] alice -> bob: psst"
        );
        let shutdown = ServerFrame::System {
            text: "server shutting down".into(),
            at: 0,
        };
        assert_eq!(style.line(&shutdown).unwrap(), "* server shutting down");
        let users = ServerFrame::UserList {
            users: vec!["alice".into(), "bob".into()],
        };
        assert_eq!(style.line(&users).unwrap(), "* online (2): alice, bob");
        assert_eq!(style.line(&ServerFrame::Pong), None);
    }

    #[test]
    fn presence_and_room_answers_name_their_room() {
        let style = Style::plain();
        let joined = ServerFrame::UserJoined {
            room: "rust".into(),
            user: "bob".into(),
            at: 0,
        };
        assert_eq!(style.line(&joined).unwrap(), "#rust * bob joined");
        assert_eq!(
            style.line(&left(LeftReason::TimedOut)).unwrap(),
            "#rust * bob left (timed out)"
        );
        assert_eq!(
            style.line(&left(LeftReason::Parted)).unwrap(),
            "#rust * bob left (parted)"
        );
        let welcome = ServerFrame::Joined {
            room: "Rust".into(),
            members: vec!["alice".into(), "bob".into()],
        };
        assert_eq!(
            style.line(&welcome).unwrap(),
            "#Rust * you joined; here (2): alice, bob"
        );
        let parted = ServerFrame::Parted {
            room: "Rust".into(),
        };
        assert_eq!(style.line(&parted).unwrap(), "#Rust * you left");
        let members = ServerFrame::Members {
            room: "ops".into(),
            users: vec!["carol".into()],
        };
        assert_eq!(style.line(&members).unwrap(), "#ops * members (1): carol");
        let rooms = ServerFrame::RoomList {
            rooms: vec![
                RoomSummary {
                    name: "lobby".into(),
                    members: 3,
                },
                RoomSummary {
                    name: "Rust".into(),
                    members: 1,
                },
            ],
        };
        assert_eq!(
            style.line(&rooms).unwrap(),
            "* rooms (2): #lobby (3), #Rust (1)"
        );
    }

    /// The REPL's current room goes untagged (in any case); other rooms, and answers about
    /// a room, keep their tag.
    #[test]
    fn lines_of_the_current_room_go_untagged() {
        let style = Style::plain();
        let here = Some("Lobby");
        assert_eq!(
            style.line_in(&msg("lobby", "alice", "hi"), here).unwrap(),
            "alice: hi"
        );
        assert_eq!(
            style.line_in(&msg("rust", "alice", "hi"), here).unwrap(),
            "#rust alice: hi"
        );
        let joined = ServerFrame::UserJoined {
            room: "lobby".into(),
            user: "bob".into(),
            at: 0,
        };
        assert_eq!(style.line_in(&joined, here).unwrap(), "* bob joined");
        let parted = ServerFrame::Parted {
            room: "lobby".into(),
        };
        assert_eq!(style.line_in(&parted, here).unwrap(), "#lobby * you left");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let line = Style::plain()
            .line(&msg("x", "mallory", "\x1b[2Jgotcha\r\n\ttab"))
            .unwrap();
        assert_eq!(line, "#x mallory: \u{fffd}[2Jgotcha\u{fffd}\u{fffd}\ttab");
    }

    #[test]
    fn own_name_is_highlighted_in_others_messages_only_as_a_word() {
        let style = Style {
            color: true,
            me: Some("Bob".into()),
        };
        let line = style
            .line_in(
                &msg("lobby", "alice", "hey bob, bobby and BOB."),
                Some("lobby"),
            )
            .unwrap();
        assert_eq!(
            line,
            format!(
                "{SENDER}alice{RESET}: hey {MENTION}bob{RESET}, bobby and {MENTION}BOB{RESET}."
            )
        );
        let own = style.line(&msg("lobby", "bob", "I am bob")).unwrap();
        assert!(!own.contains(MENTION), "{own:?}");
        assert!(own.starts_with(&format!("{ROOM}#lobby{RESET} ")), "{own:?}");
    }

    #[test]
    fn plain_style_writes_no_escape_codes() {
        let style = Style::plain().with_me("bob");
        let line = style.line(&msg("lobby", "alice", "bob!")).unwrap();
        assert!(!line.contains('\x1b'), "{line:?}");
    }

    #[test]
    fn json_lines_carry_every_key_and_utc_time() {
        let line = json(&msg("rust", "alice", "say \"hi\"")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "msg", "room": "rust", "from": "alice", "to": null, "user": null,
                "reason": null, "users": null, "text": "say \"hi\"",
                "time": "2021-10-15T14:30:00.123Z", "seq": 7, "backlog": false
            })
        );
        let whisper = json(&ServerFrame::Whisper {
            from: "alice".into(),
            to: "bob".into(),
            text: "psst".into(),
            at: 0,
        })
        .unwrap();
        assert_eq!(
            whisper,
            r#"{"type":"whisper","room":null,"from":"alice","to":"bob","user":null,"reason":null,"users":null,"text":"psst","time":"1970-01-01T00:00:00.000Z","seq":null,"backlog":null}"#
        );
        assert_eq!(json(&ServerFrame::Pong), None);
    }

    #[test]
    fn json_presence_names_the_user_and_the_reason() {
        assert_eq!(
            json(&left(LeftReason::TimedOut)).unwrap(),
            r#"{"type":"user_left","room":"rust","from":null,"to":null,"user":"bob","reason":"timed_out","users":null,"text":null,"time":"1970-01-01T00:00:00.000Z","seq":null,"backlog":null}"#
        );
        let joined: serde_json::Value = serde_json::from_str(
            &json(&ServerFrame::UserJoined {
                room: "rust".into(),
                user: "bob".into(),
                at: 0,
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (&joined["type"], &joined["user"], &joined["reason"]),
            (
                &"user_joined".into(),
                &"bob".into(),
                &serde_json::Value::Null
            )
        );
        assert_eq!(
            json(&ServerFrame::Joined {
                room: "rust".into(),
                members: vec!["alice".into(), "bob".into()],
            })
            .unwrap(),
            r#"{"type":"joined","room":"rust","from":null,"to":null,"user":null,"reason":null,"users":["alice","bob"],"text":null,"time":null,"seq":null,"backlog":null}"#
        );
    }

    fn past(seq: u64, at: Millis) -> Past {
        Past {
            seq,
            from: "alice".into(),
            text: "old\x1b news".into(),
            at,
        }
    }

    /// Past messages carry their time, with the date only when it is not today, and their
    /// control characters are replaced like live ones.
    #[test]
    fn past_messages_show_their_time_and_the_date_when_not_today() {
        let now = chrono::Utc
            .with_ymd_and_hms(2021, 10, 15, 23, 59, 0)
            .unwrap();
        let today = 1_634_308_200_123; // 2021-10-15 14:30:00.123 UTC
        let yesterday = today - 24 * 3600 * 1000;
        assert_eq!(clock(today, &now), "14:30");
        assert_eq!(clock(yesterday, &now), "2021-10-14 14:30");
        assert_eq!(
            history_line(&past(301, today), &now),
            "[301] 14:30 alice: old\u{fffd} news"
        );
        let style = Style::plain();
        assert_eq!(
            style.past_line("rust", &past(1, yesterday), Some("lobby"), &now),
            "#rust 2021-10-14 14:30 alice: old\u{fffd} news"
        );
        assert_eq!(
            style.past_line("Rust", &past(1, today), Some("rust"), &now),
            "14:30 alice: old\u{fffd} news"
        );
        let dim = Style {
            color: true,
            me: None,
        };
        let line = dim.past_line("rust", &past(1, today), Some("rust"), &now);
        assert!(line.starts_with(DIM) && line.ends_with(RESET), "{line:?}");
        assert_eq!(
            style.missed_line("rust", None),
            "#rust * some messages are no longer available"
        );
    }

    #[test]
    fn json_past_messages_are_msgs_from_the_backlog_with_their_seq() {
        let value: serde_json::Value =
            serde_json::from_str(&json_past("rust", &past(42, 0))).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "msg", "room": "rust", "from": "alice", "to": null, "user": null,
                "reason": null, "users": null, "text": "old\u{1b} news",
                "time": "1970-01-01T00:00:00.000Z", "seq": 42, "backlog": true
            })
        );
        assert_eq!(
            json_missed("rust"),
            r#"{"type":"missed","room":"rust","from":null,"to":null,"user":null,"reason":null,"users":null,"text":"some messages are no longer available","time":null,"seq":null,"backlog":null}"#
        );
    }

    #[test]
    fn room_list_lines_are_name_then_count() {
        let room = RoomSummary {
            name: "Rust".into(),
            members: 3,
        };
        assert_eq!(room_line(&room), "Rust 3");
        assert_eq!(room_json(&room), r#"{"room":"Rust","members":3}"#);
    }
}
