//! One room the witness watches, as the witness saw it: who was in it after each of its
//! events, and where a client's stay fits among them.

use std::collections::BTreeMap;

use chat_proto::validate::{name_key, room_key};
use chat_proto::{LeftReason, ServerFrame};

use super::model::Stay;
use super::WITNESS;

/// One watched room as the witness saw it.
pub(crate) struct WatchedRoom {
    pub(crate) key: String,
    /// Its `Msg`, `UserJoined` and `UserLeft` frames.
    pub(crate) events: Vec<ServerFrame>,
    /// Who was in it after each prefix of `events`: `members[k]` after `k` events.
    members: Vec<Vec<String>>,
}

impl WatchedRoom {
    /// The room `shown` in `frames`; checks that its presence frames are consistent.
    pub(crate) fn new(shown: &str, frames: &[ServerFrame]) -> WatchedRoom {
        let key = room_key(shown);
        let mut events = Vec::new();
        let mut inside: BTreeMap<String, String> = BTreeMap::new();
        inside.insert(name_key(WITNESS), WITNESS.to_owned());
        let mut members = vec![inside.values().cloned().collect()];
        for frame in frames {
            let (room, who) = match frame {
                ServerFrame::Msg { room, from, .. } => (room, from),
                ServerFrame::UserJoined { room, user, .. } => (room, user),
                ServerFrame::UserLeft { room, user, .. } => (room, user),
                _ => continue,
            };
            if room_key(room) != key {
                continue;
            }
            assert_eq!(room, shown, "the witness's room is shown as it typed it");
            match frame {
                ServerFrame::Msg { .. } => assert!(
                    inside.contains_key(&name_key(who)),
                    "{who} spoke in #{shown} while the witness saw it out: {frame:?}"
                ),
                ServerFrame::UserJoined { .. } => assert!(
                    inside.insert(name_key(who), who.clone()).is_none(),
                    "{who} joined #{shown} while the witness saw it in"
                ),
                _ => assert!(
                    inside.remove(&name_key(who)).is_some_and(|n| n == *who),
                    "{who} left #{shown} while the witness saw it out"
                ),
            }
            events.push(frame.clone());
            members.push(inside.values().cloned().collect());
        }
        assert_eq!(
            inside.into_values().collect::<Vec<_>>(),
            [WITNESS],
            "in the end only the witness is in #{shown}"
        );
        WatchedRoom {
            key,
            events,
            members,
        }
    }

    /// Where `stay` of `name` fits in the log, from event `from` on: its join, exactly its
    /// events (a prefix if `cut`), its member lists, then its leave (with the reason
    /// `leave` when known). Returns the index after the leave.
    pub(crate) fn fit(
        &self,
        from: usize,
        name: &str,
        stay: &Stay,
        cut: bool,
        leave: Option<LeftReason>,
    ) -> Option<usize> {
        let n = stay.events.len();
        (from..self.events.len()).find_map(|i| {
            if !matches!(&self.events[i], ServerFrame::UserJoined { user, .. } if user == name) {
                return None;
            }
            let body = self.events.get(i + 1..i + 1 + n)?;
            if body != stay.events.as_slice() || self.members[i + 1] != stay.joined {
                return None;
            }
            if stay
                .rejoins
                .iter()
                .any(|(at, members)| self.members[i + 1 + at] != *members)
            {
                return None;
            }
            if cut {
                return Some(i + 1 + n);
            }
            match self.events.get(i + 1 + n)? {
                ServerFrame::UserLeft { user, reason, .. } if user == name => {
                    let fits = if stay.parted {
                        *reason == LeftReason::Parted
                    } else {
                        *reason != LeftReason::Parted && leave.is_none_or(|l| l == *reason)
                    };
                    fits.then_some(i + 2 + n)
                }
                _ => None,
            }
        })
    }
}
