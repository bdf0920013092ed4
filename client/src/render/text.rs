//! Server frames as people read them: one line per event, coloured on a terminal, with the
//! room named unless it is the one the reader is looking at ([`Style::line_in`]). A message
//! from a room's log carries its local time: dimmed in the REPL ([`Style::past_line`]),
//! `[SEQ] HH:MM alice: hi` from `history` ([`history_line`]).
//!
//! Making network text safe to print is [`super::safe`]'s; writing lines to stdout is
//! [`super::print`](mod@super::print)'s.

use std::borrow::Cow;

use chat_proto::validate::{name_key, room_key};
use chat_proto::{Millis, Past, RoomSummary, ServerFrame};
use chrono::{DateTime, TimeZone};

use super::events::{entry_text, hit_text};
use super::moderation::{audit_text, change_text, info_text};
use super::safe::clean;

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
            ServerFrame::Disconnected { user } => {
                self.notice(&format!("{} was disconnected", clean(user)))
            }
            ServerFrame::RoomList { rooms } => {
                let list: Vec<String> = rooms
                    .iter()
                    .map(|r| format!("#{} ({})", clean(&r.name), r.members))
                    .collect();
                self.notice(&format!("rooms ({}): {}", rooms.len(), list.join(", ")))
            }
            ServerFrame::RoomChanged {
                room, by, change, ..
            } => format!("{}{}", tag(room), self.notice(&change_text(by, change))),
            ServerFrame::MessageRemoved {
                room, by, target, ..
            } => format!(
                "{}{}",
                tag(room),
                self.notice(&format!("{} removed message {target}", clean(by)))
            ),
            ServerFrame::Event { room, entry } => {
                let from = clean(&entry.from);
                let name = if self.is_me(&from) {
                    self.paint(BOLD, &from)
                } else {
                    self.paint(SENDER, &from)
                };
                format!("{}{name}: {}", tag(room), entry_text(entry))
            }
            ServerFrame::Typing { room, user } => format!(
                "{}{}",
                tag(room),
                self.notice(&format!("{} is typing", clean(user)))
            ),
            ServerFrame::SearchResults { hits, .. } if hits.is_empty() => {
                self.notice("nothing found")
            }
            ServerFrame::SearchResults { hits, .. } => hits
                .iter()
                .map(|hit| hit_text(hit, |marked| self.paint(BOLD, marked)))
                .collect::<Vec<_>>()
                .join("\n"),
            ServerFrame::RoomInfo { info } => self.notice(&info_text(info)),
            ServerFrame::ModLog { entries } if entries.is_empty() => {
                self.notice("the log is empty")
            }
            ServerFrame::ModLog { entries } => entries
                .iter()
                .map(|entry| self.notice(&audit_text(entry)))
                .collect::<Vec<_>>()
                .join("\n"),
            ServerFrame::Enforced { closed } => {
                self.notice(&format!("done; {closed} connections closed"))
            }
            // A page of history is shown message by message (`past_line`, `history_line`),
            // in the order the catch-up puts them.
            ServerFrame::History { .. }
            | ServerFrame::SignedIn { .. }
            | ServerFrame::Sessions { .. }
            | ServerFrame::Revoked { .. }
            | ServerFrame::PasswordChanged { .. }
            | ServerFrame::AccountDeleted
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
                entry_text(past)
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

/// A message of a room's log as `history` prints it: `[SEQ] HH:MM alice: hi`, the time
/// local and preceded by the date when it is not the day of `now`.
pub fn history_line<Tz: TimeZone>(past: &Past, now: &DateTime<Tz>) -> String {
    format!(
        "[{}] {} {}: {}",
        past.seq,
        clock(past.at, now),
        clean(&past.from),
        entry_text(past)
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

#[cfg(test)]
mod tests {
    use chat_proto::LeftReason;

    use super::*;
    use crate::render::samples::{left, msg, past};

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
    fn room_list_lines_are_name_then_count() {
        let room = RoomSummary {
            name: "Rust".into(),
            members: 3,
        };
        assert_eq!(room_line(&room), "Rust 3");
    }
}
