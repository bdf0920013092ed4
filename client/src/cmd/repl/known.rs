//! What the REPL knows, shared by its two threads: who is online, which rooms exist, which
//! of them we are in and which is current; and Tab completion from it.
//!
//! The network thread keeps it current from the server's frames ([`Known::track`]); the
//! editor thread reads it for the prompt, for the room of a plain line and for Tab.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chat_proto::input::Command;
use chat_proto::validate::{name_key, room_key};
use chat_proto::{LeftReason, ServerFrame};
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::Helper;

use crate::session::room_position;

/// The shared state, behind one lock held only for a lookup or an update.
#[derive(Debug, Clone, Default)]
pub struct Known(Arc<Mutex<State>>);

/// What [`Known`] holds.
#[derive(Debug, Default)]
struct State {
    /// Who is online, by [`name_key`], spelled as registered: from `UserList`, members of
    /// rooms, senders and presence.
    users: BTreeMap<String, String>,
    /// Rooms that exist or did lately, by [`room_key`], as the server names them: for Tab.
    rooms: BTreeMap<String, String>,
    /// The rooms we are in, as the server names them, in the order joined.
    joined: Vec<String>,
    /// Where plain lines go; `None` when we are in no room.
    current: Option<String>,
}

impl State {
    /// Where `room` is among the rooms we are in, compared as the server compares them.
    fn position(&self, room: &str) -> Option<usize> {
        room_position(&self.joined, room)
    }

    /// Out of `room`: plain lines go to the room joined last, if any is left.
    fn forget(&mut self, room: &str) {
        if let Some(at) = self.position(room) {
            self.joined.remove(at);
        }
        if self
            .current
            .as_deref()
            .is_some_and(|c| room_key(c) == room_key(room))
        {
            self.current = self.joined.last().cloned();
        }
    }
}

impl Known {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state whole, so a panic elsewhere cannot spoil it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Learns from one server frame: people from lists, messages and presence; rooms from
    /// answers and presence; our own rooms from `Joined` and `Parted`. The first room
    /// joined while in none becomes current; parting the current room makes the room
    /// joined last current.
    pub fn track(&self, frame: &ServerFrame) {
        let mut state = self.state();
        let add_user = |state: &mut State, user: &str| {
            state.users.insert(name_key(user), user.to_owned());
        };
        match frame {
            ServerFrame::UserList { users } => {
                state.users.clear();
                for user in users {
                    add_user(&mut state, user);
                }
            }
            ServerFrame::Msg { from, .. } | ServerFrame::Whisper { from, .. } => {
                add_user(&mut state, from);
            }
            ServerFrame::Event { entry, .. } => add_user(&mut state, &entry.from),
            ServerFrame::SearchResults { hits, .. } => {
                for hit in hits {
                    add_user(&mut state, &hit.entry.from);
                }
            }
            ServerFrame::Typing { user, .. } => add_user(&mut state, user),
            ServerFrame::UserJoined { room, user, .. } => {
                add_user(&mut state, user);
                state.rooms.insert(room_key(room), room.clone());
            }
            ServerFrame::UserLeft { user, reason, .. } => {
                // Parting one room leaves them online; any other reason means they are gone.
                if *reason != LeftReason::Parted {
                    state.users.remove(&name_key(user));
                }
            }
            ServerFrame::Joined { room, members } => {
                for user in members {
                    add_user(&mut state, user);
                }
                state.rooms.insert(room_key(room), room.clone());
                if state.position(room).is_none() {
                    state.joined.push(room.clone());
                }
                if state.current.is_none() {
                    state.current = Some(room.clone());
                }
            }
            ServerFrame::Parted { room } => state.forget(room),
            ServerFrame::Members { room, users } => {
                for user in users {
                    add_user(&mut state, user);
                }
                state.rooms.insert(room_key(room), room.clone());
            }
            ServerFrame::RoomList { rooms } => {
                let joined: Vec<String> = state.joined.clone();
                state.rooms = rooms
                    .iter()
                    .map(|r| &r.name)
                    .chain(&joined)
                    .map(|name| (room_key(name), name.clone()))
                    .collect();
            }
            // Past senders may be long gone: only live frames say who is online.
            ServerFrame::History { .. }
            | ServerFrame::SignedIn { .. }
            | ServerFrame::Sessions { .. }
            | ServerFrame::Revoked { .. }
            | ServerFrame::PasswordChanged { .. }
            | ServerFrame::AccountDeleted
            | ServerFrame::Disconnected { .. }
            | ServerFrame::RoomInfo { .. }
            | ServerFrame::RoomChanged { .. }
            | ServerFrame::MessageRemoved { .. }
            | ServerFrame::ModLog { .. }
            | ServerFrame::Enforced { .. }
            | ServerFrame::Welcome { .. }
            | ServerFrame::System { .. }
            | ServerFrame::Error { .. }
            | ServerFrame::Pong
            | ServerFrame::Ping => {}
        }
    }

    /// Makes `room` (which we just joined) the current room.
    pub fn set_current(&self, room: &str) {
        self.state().current = Some(room.to_owned());
    }

    /// Makes the joined room `room` (any case) current; `Err` with what to say otherwise.
    pub fn switch(&self, room: &str) -> Result<(), String> {
        let mut state = self.state();
        match state.position(room) {
            Some(at) => {
                state.current = Some(state.joined[at].clone());
                Ok(())
            }
            None if state.joined.is_empty() => Err(format!(
                "not in #{room}, nor in any room; /join {room} first"
            )),
            None => Err(format!(
                "not in #{room}; /join {room} first, or switch to one of {}",
                rooms_list(&state.joined)
            )),
        }
    }

    /// We are out of `room` (a refused rejoin): as if we had parted it.
    pub fn forget(&self, room: &str) {
        self.state().forget(room);
    }

    /// The current room.
    pub fn current(&self) -> Option<String> {
        self.state().current.clone()
    }

    /// The rooms we are in, in the order joined; emptied, for rejoining them after a
    /// reconnection (the current room stays current if the rejoin succeeds).
    pub fn take_joined(&self) -> Vec<String> {
        std::mem::take(&mut self.state().joined)
    }

    /// The prompt: `#lobby> `, or `> ` in no room.
    pub fn prompt(&self) -> String {
        match &self.state().current {
            Some(room) => format!("#{room}> "),
            None => "> ".to_owned(),
        }
    }

    /// Names online starting with `prefix`, any case.
    fn users_starting_with(&self, prefix: &str) -> Vec<String> {
        starting_with(&self.state().users, &name_key(prefix))
    }

    /// Known rooms (or only joined ones) starting with `prefix`, any case.
    fn rooms_starting_with(&self, prefix: &str, joined_only: bool) -> Vec<String> {
        let state = self.state();
        let prefix = room_key(prefix);
        if joined_only {
            let mut rooms: Vec<String> = state
                .joined
                .iter()
                .filter(|r| room_key(r).starts_with(&prefix))
                .cloned()
                .collect();
            rooms.sort_by_cached_key(|r| room_key(r));
            rooms
        } else {
            starting_with(&state.rooms, &prefix)
        }
    }
}

fn starting_with(map: &BTreeMap<String, String>, key_prefix: &str) -> Vec<String> {
    map.range(key_prefix.to_owned()..)
        .take_while(|(key, _)| key.starts_with(key_prefix))
        .map(|(_, name)| name.clone())
        .collect()
}

/// `#a, #b`.
fn rooms_list(rooms: &[String]) -> String {
    rooms
        .iter()
        .map(|r| format!("#{r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tab completion: `/commands` at the start of a line; rooms for a word starting with `#`
/// and for the argument of the room commands; names everywhere else.
#[derive(Debug)]
pub struct ChatHelper {
    /// What the network thread has learnt.
    pub known: Known,
}

impl ChatHelper {
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        let word = &before[start..];
        if start == 0 {
            if let Some(partial) = word.strip_prefix('/') {
                let partial = partial.to_ascii_lowercase();
                let commands = Command::ALL
                    .iter()
                    .filter(|c| c.name().starts_with(&partial))
                    .map(|c| format!("/{} ", c.name()))
                    .collect();
                return (start, commands);
            }
        }
        // The first argument of a room command is a room: joined ones for /part and
        // /switch, any known one for /join and /members.
        let mut words = before[..start].split_whitespace();
        let room_command = match (words.next(), words.next()) {
            (Some(first), None) => first
                .strip_prefix('/')
                .and_then(Command::lookup)
                .filter(|c| {
                    matches!(
                        c,
                        Command::Join | Command::Part | Command::Switch | Command::Members
                    )
                }),
            _ => None,
        };
        if let Some(partial) = word.strip_prefix('#') {
            let joined_only = matches!(room_command, Some(Command::Part | Command::Switch));
            let rooms = self.known.rooms_starting_with(partial, joined_only);
            return (start, rooms.into_iter().map(|r| format!("#{r} ")).collect());
        }
        if let Some(command) = room_command {
            let joined_only = matches!(command, Command::Part | Command::Switch);
            let rooms = self.known.rooms_starting_with(word, joined_only);
            return (start, rooms.into_iter().map(|r| format!("{r} ")).collect());
        }
        // At the start of a line a name addresses someone: `bob: `.
        let suffix = if start == 0 { ": " } else { " " };
        let names = self
            .known
            .users_starting_with(word)
            .into_iter()
            .map(|name| format!("{name}{suffix}"))
            .collect();
        (start, names)
    }
}

impl Completer for ChatHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}

impl Hinter for ChatHelper {
    type Hint = String;
}

impl Highlighter for ChatHelper {}

impl Validator for ChatHelper {}

impl Helper for ChatHelper {}

#[cfg(test)]
mod tests {
    use chat_proto::RoomSummary;

    use super::*;

    fn helper(names: &[&str]) -> ChatHelper {
        let helper = ChatHelper {
            known: Known::default(),
        };
        helper.known.track(&ServerFrame::UserList {
            users: names.iter().map(|n| n.to_string()).collect(),
        });
        helper
    }

    fn joined(room: &str, members: &[&str]) -> ServerFrame {
        ServerFrame::Joined {
            room: room.into(),
            members: members.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tab_completes_commands_at_the_start_of_a_line() {
        let h = helper(&[]);
        assert_eq!(h.candidates("/wh", 3), (0, strings(&["/whisper "])));
        assert_eq!(h.candidates("/L", 2), (0, strings(&["/list_users "])));
        assert_eq!(h.candidates("/sw", 3), (0, strings(&["/switch "])));
        let (_, all) = h.candidates("/", 1);
        assert_eq!(all.len(), Command::ALL.len());
    }

    #[test]
    fn tab_completes_online_names_in_any_case() {
        let h = helper(&["Alice", "albert", "bob"]);
        assert_eq!(
            h.candidates("/whisper al", 11),
            (9, strings(&["albert ", "Alice "]))
        );
        assert_eq!(h.candidates("B", 1), (0, strings(&["bob: "])));
        assert_eq!(h.candidates("hi bo", 5), (3, strings(&["bob "])));
    }

    #[test]
    fn tab_completes_rooms_after_a_hash_and_after_room_commands() {
        let h = helper(&["rusty"]);
        h.known.track(&joined("lobby", &["me"]));
        h.known.track(&ServerFrame::RoomList {
            rooms: ["Rust", "ruby", "ops"]
                .map(|name| RoomSummary {
                    name: name.into(),
                    members: 1,
                })
                .to_vec(),
        });
        // Any known room after /join and /members, or after a # in a message.
        assert_eq!(
            h.candidates("/join ru", 8),
            (6, strings(&["ruby ", "Rust "]))
        );
        assert_eq!(
            h.candidates("/j #RU", 6),
            (3, strings(&["#ruby ", "#Rust "]))
        );
        assert_eq!(h.candidates("/members o", 10), (9, strings(&["ops "])));
        assert_eq!(h.candidates("see #o", 6), (4, strings(&["#ops "])));
        // Only joined rooms after /part and /switch.
        assert_eq!(h.candidates("/switch ", 8), (8, strings(&["lobby "])));
        assert_eq!(h.candidates("/part #", 7), (6, strings(&["#lobby "])));
        // Names elsewhere, also after the room argument.
        assert_eq!(h.candidates("hi ru", 5), (3, strings(&["rusty "])));
        assert_eq!(h.candidates("/join ops ru", 12), (10, strings(&["rusty "])));
    }

    #[test]
    fn presence_frames_keep_names_and_rooms_current() {
        let h = helper(&["alice"]);
        h.known.track(&ServerFrame::UserJoined {
            room: "ops".into(),
            user: "Carol".into(),
            at: 0,
        });
        assert_eq!(h.known.users_starting_with("c"), strings(&["Carol"]));
        assert_eq!(h.known.rooms_starting_with("o", false), strings(&["ops"]));
        let left = |reason| ServerFrame::UserLeft {
            room: "ops".into(),
            user: "carol".into(),
            at: 0,
            reason,
        };
        // Parting a room leaves her online ...
        h.known.track(&left(LeftReason::Parted));
        assert_eq!(h.known.users_starting_with("c"), strings(&["Carol"]));
        // ... timing out does not.
        h.known.track(&left(LeftReason::TimedOut));
        assert!(h.known.users_starting_with("c").is_empty());
        assert_eq!(h.known.users_starting_with(""), strings(&["alice"]));
    }

    #[test]
    fn joins_parts_and_switches_move_the_current_room() {
        let known = Known::default();
        assert_eq!(known.prompt(), "> ");
        known.track(&joined("lobby", &["me"]));
        assert_eq!(
            known.prompt(),
            "#lobby> ",
            "the first room joined is current"
        );
        known.track(&joined("Rust", &["me"]));
        assert_eq!(known.current().as_deref(), Some("lobby"));
        known.set_current("Rust");
        assert_eq!(known.prompt(), "#Rust> ");
        assert_eq!(known.switch("LOBBY"), Ok(()));
        assert_eq!(known.prompt(), "#lobby> ");
        let err = known.switch("ops").unwrap_err();
        assert!(err.contains("/join ops"), "{err}");
        assert!(err.contains("#lobby, #Rust"), "{err}");
        assert_eq!(
            known.prompt(),
            "#lobby> ",
            "a refused switch changes nothing"
        );
        // Parting the current room makes the one joined last current.
        known.track(&ServerFrame::Parted {
            room: "lobby".into(),
        });
        assert_eq!(known.prompt(), "#Rust> ");
        known.track(&ServerFrame::Parted {
            room: "rust".into(),
        });
        assert_eq!(known.prompt(), "> ");
    }

    #[test]
    fn rejoining_after_a_reconnection_keeps_the_current_room() {
        let known = Known::default();
        known.track(&joined("lobby", &["me"]));
        known.track(&joined("ops", &["me"]));
        known.set_current("ops");
        assert_eq!(known.take_joined(), strings(&["lobby", "ops"]));
        known.track(&joined("lobby", &["me"]));
        known.track(&joined("ops", &["me"]));
        assert_eq!(known.prompt(), "#ops> ");
        // A rejoin refused: the room is forgotten and another becomes current.
        known.take_joined();
        known.track(&joined("lobby", &["me"]));
        known.forget("ops");
        assert_eq!(known.prompt(), "#lobby> ");
    }
}
