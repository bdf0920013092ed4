//! Server frames as scripts read them: one JSON object per line, every key on every line
//! (`null` where it does not apply), times in UTC. The keys are `listen --json`'s
//! documented format; `history --json` and `rooms --json` use the same.
//!
//! Writing lines to stdout is [`super::print`](mod@super::print)'s.

use chat_proto::{Past, RoomSummary, ServerFrame};
use serde::Serialize;

use super::text::MISSED;
use super::utc::rfc3339;

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
    /// The `seq` of the message a `message_removed`, `edit`, `react` or `unreact` is
    /// about; `null` for everything else.
    target: Option<u64>,
    /// The `seq` a `msg` answers (a reply); `null` otherwise.
    reply_to: Option<u64>,
    /// When a `msg` read from the log was last edited (RFC 3339); `null` if never.
    edited: Option<String>,
    /// The emoji of a `react` or `unreact`; `null` otherwise.
    emoji: Option<&'a str>,
    /// A `msg`'s reactions read from the log, `[{"emoji": "👍", "by": ["ann"]}]`; `null`
    /// for everything else.
    reactions: Option<&'a [chat_proto::Reaction]>,
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
            target: None,
            reply_to: None,
            edited: None,
            emoji: None,
            reactions: None,
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
        ServerFrame::Disconnected { user } => JsonEvent {
            user: Some(user),
            ..JsonEvent::new("disconnected")
        },
        ServerFrame::RoomChanged {
            room,
            by,
            change,
            at,
        } => {
            return Some(
                JsonEvent {
                    room: Some(room),
                    from: Some(by),
                    text: Some(&super::moderation::change_text(by, change)),
                    time: Some(rfc3339(*at)),
                    ..JsonEvent::new("room_changed")
                }
                .line(),
            )
        }
        ServerFrame::MessageRemoved {
            room,
            seq,
            target,
            by,
            at,
        } => JsonEvent {
            room: Some(room),
            from: Some(by),
            time: Some(rfc3339(*at)),
            seq: Some(*seq),
            target: Some(*target),
            backlog: Some(false),
            ..JsonEvent::new("message_removed")
        },
        ServerFrame::Event { room, entry } => return Some(json_entry(room, entry, false)),
        ServerFrame::Typing { room, user } => JsonEvent {
            room: Some(room),
            user: Some(user),
            ..JsonEvent::new("typing")
        },
        ServerFrame::RoomList { .. }
        | ServerFrame::SearchResults { .. }
        | ServerFrame::RoomInfo { .. }
        | ServerFrame::ModLog { .. }
        | ServerFrame::Enforced { .. }
        | ServerFrame::History { .. }
        | ServerFrame::Error { .. }
        | ServerFrame::SignedIn { .. }
        | ServerFrame::Sessions { .. }
        | ServerFrame::Revoked { .. }
        | ServerFrame::PasswordChanged { .. }
        | ServerFrame::AccountDeleted
        | ServerFrame::Welcome { .. }
        | ServerFrame::Pong
        | ServerFrame::Ping => return None,
    };
    Some(event.line())
}

/// The JSON line for a message of `room`'s log: a `msg` like a live one, with `backlog`
/// true.
///
/// A message removed since is a `removed` line (its `from` the sender, no text); a removal
/// is a `message_removed` line like a live one, its `target` the message it removed; an
/// edit, a reaction and one taken back are `edit`, `react` and `unreact` lines.
pub fn json_past(room: &str, past: &Past) -> String {
    json_entry(room, past, true)
}

/// The JSON line for an entry of `room`'s log, read from it (`backlog`) or heard live.
fn json_entry(room: &str, past: &Past, backlog: bool) -> String {
    entry_event(room, past, backlog).line()
}

/// The event of an entry of `room`'s log, read from it (`backlog`) or heard live.
fn entry_event<'a>(room: &'a str, past: &'a Past, backlog: bool) -> JsonEvent<'a> {
    use chat_proto::PastKind;
    let (kind, text, target, emoji) = match &past.kind {
        PastKind::Message => ("msg", Some(past.text.as_str()), None, None),
        PastKind::Removed { .. } => ("removed", None, None, None),
        PastKind::Removal { target } => ("message_removed", None, Some(*target), None),
        PastKind::Edit { target } => ("edit", Some(past.text.as_str()), Some(*target), None),
        PastKind::React { target, emoji } => ("react", None, Some(*target), Some(emoji.as_str())),
        PastKind::Unreact { target, emoji } => {
            ("unreact", None, Some(*target), Some(emoji.as_str()))
        }
    };
    let message = matches!(past.kind, PastKind::Message);
    JsonEvent {
        room: Some(room),
        from: Some(&past.from),
        text,
        time: Some(rfc3339(past.at)),
        seq: Some(past.seq),
        backlog: Some(backlog),
        target,
        emoji,
        reply_to: past.reply_to,
        edited: past.edited.map(rfc3339),
        reactions: message.then_some(past.reactions.as_slice()),
        ..JsonEvent::new(kind)
    }
}

/// The JSON line for a search hit: its message as `json_past` gives it, with `marks`, the
/// matched parts of `text` as `[start, end]` byte offsets.
pub fn json_hit(hit: &chat_proto::search::Hit) -> String {
    /// A hit's line: the keys of every line, in their order, then `marks`.
    #[derive(Serialize)]
    struct HitLine<'a> {
        #[serde(flatten)]
        event: JsonEvent<'a>,
        marks: Vec<[u32; 2]>,
    }
    let line = HitLine {
        event: JsonEvent {
            kind: "hit",
            ..entry_event(&hit.room, &hit.entry, true)
        },
        marks: hit.marks.iter().map(|m| [m.start, m.end]).collect(),
    };
    serde_json::to_string(&line).expect("strings and numbers always serialise to JSON")
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

#[cfg(test)]
mod tests {
    use chat_proto::LeftReason;

    use super::*;
    use crate::render::samples::{left, msg, past};

    #[test]
    fn json_lines_carry_every_key_and_utc_time() {
        let line = json(&msg("rust", "alice", "say \"hi\"")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "msg", "room": "rust", "from": "alice", "to": null, "user": null,
                "reason": null, "users": null, "text": "say \"hi\"",
                "time": "2021-10-15T14:30:00.123Z", "seq": 7, "backlog": false, "target": null,
                "reply_to": null,
                "edited": null,
                "emoji": null,
                "reactions": null,
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
            r#"{"type":"whisper","room":null,"from":"alice","to":"bob","user":null,"reason":null,"users":null,"text":"psst","time":"1970-01-01T00:00:00.000Z","seq":null,"backlog":null,"target":null,"reply_to":null,"edited":null,"emoji":null,"reactions":null}"#
        );
        assert_eq!(json(&ServerFrame::Pong), None);
    }

    #[test]
    fn json_presence_names_the_user_and_the_reason() {
        assert_eq!(
            json(&left(LeftReason::TimedOut)).unwrap(),
            r#"{"type":"user_left","room":"rust","from":null,"to":null,"user":"bob","reason":"timed_out","users":null,"text":null,"time":"1970-01-01T00:00:00.000Z","seq":null,"backlog":null,"target":null,"reply_to":null,"edited":null,"emoji":null,"reactions":null}"#
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
            r#"{"type":"joined","room":"rust","from":null,"to":null,"user":null,"reason":null,"users":["alice","bob"],"text":null,"time":null,"seq":null,"backlog":null,"target":null,"reply_to":null,"edited":null,"emoji":null,"reactions":null}"#
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
                "time": "1970-01-01T00:00:00.000Z", "seq": 42, "backlog": true, "target": null,
                "reply_to": null,
                "edited": null,
                "emoji": null,
                "reactions": [],
            })
        );
        assert_eq!(
            json_missed("rust"),
            r#"{"type":"missed","room":"rust","from":null,"to":null,"user":null,"reason":null,"users":null,"text":"some messages are no longer available","time":null,"seq":null,"backlog":null,"target":null,"reply_to":null,"edited":null,"emoji":null,"reactions":null}"#
        );
    }

    /// A hit's line is a message's from the log, typed `hit`, its keys in the order of
    /// every line, then the marks.
    #[test]
    fn json_hits_carry_every_key_then_their_marks() {
        let hit = chat_proto::search::Hit {
            room: "rust".into(),
            entry: past(42, 0),
            marks: vec![chat_proto::search::Mark { start: 0, end: 3 }],
        };
        let line = json_hit(&hit);
        assert!(
            line.starts_with(r#"{"type":"hit","room":"rust","from":"alice""#),
            "{line}"
        );
        assert!(
            line.ends_with(r#""reactions":[],"marks":[[0,3]]}"#),
            "{line}"
        );
    }

    #[test]
    fn room_list_json_lines_are_name_then_count() {
        let room = RoomSummary {
            name: "Rust".into(),
            members: 3,
        };
        assert_eq!(room_json(&room), r#"{"room":"Rust","members":3}"#);
    }
}
