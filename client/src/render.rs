//! Server frames as people and scripts read them: one line per event, or one JSON object
//! per line.
//!
//! ```text
//! alice: hi
//! [whisper] alice -> bob: psst
//! * bob joined
//! ```
//!
//! Text from the network is printed only after control characters are replaced, so a
//! hostile or buggy server cannot move the cursor or recolour the terminal.

use std::borrow::Cow;

use chat_proto::validate::name_key;
use chat_proto::{Millis, ServerFrame};
use serde::Serialize;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const MAGENTA: &str = "\x1b[35m";
/// Other people's names: bold cyan, so lines scan by sender.
const SENDER: &str = "\x1b[1;36m";
/// Our own name inside someone else's message: bold on yellow, hard to miss.
const MENTION: &str = "\x1b[1;30;43m";

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

    /// The line for `frame`, or `None` for frames people need not see (`Pong`, `Welcome`).
    pub fn line(&self, frame: &ServerFrame) -> Option<String> {
        Some(match frame {
            ServerFrame::Msg { from, text, .. } => {
                let (from, text) = (clean(from), clean(text));
                if self.is_me(&from) {
                    format!("{}: {text}", self.paint(BOLD, &from))
                } else {
                    format!("{}: {}", self.paint(SENDER, &from), self.mention(text))
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
            ServerFrame::Welcome { .. } | ServerFrame::Pong | ServerFrame::Ping => return None,
        })
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
    /// `msg`, `whisper` or `system`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Sender; `null` for system notices.
    from: Option<&'a str>,
    /// Recipient of a whisper; `null` otherwise.
    to: Option<&'a str>,
    /// The text, exactly as sent (JSON escapes what needs escaping).
    text: &'a str,
    /// When the server saw it: RFC 3339, UTC, milliseconds.
    time: String,
}

/// The JSON line for a chat message, whisper or notice; `None` for other frames.
pub fn json(frame: &ServerFrame) -> Option<String> {
    let event = match frame {
        ServerFrame::Msg { from, text, at } => JsonEvent {
            kind: "msg",
            from: Some(from),
            to: None,
            text,
            time: rfc3339(*at),
        },
        ServerFrame::Whisper { from, to, text, at } => JsonEvent {
            kind: "whisper",
            from: Some(from),
            to: Some(to),
            text,
            time: rfc3339(*at),
        },
        ServerFrame::System { text, at } => JsonEvent {
            kind: "system",
            from: None,
            to: None,
            text,
            time: rfc3339(*at),
        },
        _ => return None,
    };
    // A struct of strings always serialises.
    Some(serde_json::to_string(&event).expect("strings always serialise to JSON"))
}

/// Server milliseconds as `2021-10-15T14:30:00.123Z`.
pub fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from: &str, text: &str) -> ServerFrame {
        ServerFrame::Msg {
            from: from.into(),
            text: text.into(),
            at: 1_634_308_200_123,
        }
    }

    #[test]
    fn plain_lines_have_the_documented_shapes() {
        let style = Style::plain().with_me("bob");
        assert_eq!(
            style.line(&msg("alice", "hi bob")).unwrap(),
            "alice: hi bob"
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
        let joined = ServerFrame::System {
            text: "bob joined".into(),
            at: 0,
        };
        assert_eq!(style.line(&joined).unwrap(), "* bob joined");
        let users = ServerFrame::UserList {
            users: vec!["alice".into(), "bob".into()],
        };
        assert_eq!(style.line(&users).unwrap(), "* online (2): alice, bob");
        assert_eq!(style.line(&ServerFrame::Pong), None);
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let line = Style::plain()
            .line(&msg("mallory", "\x1b[2Jgotcha\r\n\ttab"))
            .unwrap();
        assert_eq!(line, "mallory: \u{fffd}[2Jgotcha\u{fffd}\u{fffd}\ttab");
    }

    #[test]
    fn own_name_is_highlighted_in_others_messages_only_as_a_word() {
        let style = Style {
            color: true,
            me: Some("Bob".into()),
        };
        let line = style
            .line(&msg("alice", "hey bob, bobby and BOB."))
            .unwrap();
        assert_eq!(
            line,
            format!(
                "{SENDER}alice{RESET}: hey {MENTION}bob{RESET}, bobby and {MENTION}BOB{RESET}."
            )
        );
        let own = style.line(&msg("bob", "I am bob")).unwrap();
        assert!(!own.contains(MENTION), "{own:?}");
    }

    #[test]
    fn plain_style_writes_no_escape_codes() {
        let style = Style::plain().with_me("bob");
        let line = style.line(&msg("alice", "bob!")).unwrap();
        assert!(!line.contains('\x1b'), "{line:?}");
    }

    #[test]
    fn json_lines_carry_every_key_and_utc_time() {
        let line = json(&msg("alice", "say \"hi\"")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "msg", "from": "alice", "to": null,
                "text": "say \"hi\"", "time": "2021-10-15T14:30:00.123Z"
            })
        );
        let system = json(&ServerFrame::System {
            text: "bob left".into(),
            at: 0,
        })
        .unwrap();
        assert_eq!(
            system,
            r#"{"type":"system","from":null,"to":null,"text":"bob left","time":"1970-01-01T00:00:00.000Z"}"#
        );
        assert_eq!(json(&ServerFrame::Pong), None);
    }
}
