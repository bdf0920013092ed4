//! Rooms: joining and parting (within `rooms_per_user` and `max_rooms`), and what is told
//! of them (the room list, a room's members, a room's name as shown).
//!
//! A join or a part is one [`State`] method under the hub's lock, so the joiner's `Joined`
//! (and its backlog) and the others' `UserJoined` take their place among the room's
//! messages in one order for everyone.

use std::sync::Arc;

use chat_proto::codec::encode;
use chat_proto::validate::room_key;
use chat_proto::{CodecError, EncodedFrame, LeftReason, Millis, RoomSummary, ServerFrame};

use super::fanout::{fan_out, presence};
use super::state::Who;
use super::{clamp_u32, Hub, Limits, State};
use crate::room::{JoinedRoom, Room, RoomError};
use crate::roster::Change;

impl Hub {
    /// Puts `name` in the room `room` (a valid name without `#`), creating it, queues
    /// `Joined` to it and `UserJoined` to the room's other members.
    ///
    /// Joining a room one is in already repeats `Joined` and tells nobody.
    pub fn join(&self, name: &str, room: &str, at: Millis) -> Result<JoinedRoom, RoomError> {
        self.join_then(name, room, at, None)
    }

    /// [`Hub::join`], with `backlog` (a `History{backlog: true}` of the room, read before the
    /// join) queued right after `Joined` under the same lock when there is one, so that no
    /// presence frame or message comes between them; the frame is named for the room as the
    /// hub shows it. The room log's way in ([`crate::log::Deliveries::join`]).
    pub(super) fn join_then(
        &self,
        name: &str,
        room: &str,
        at: Millis,
        backlog: Option<ServerFrame>,
    ) -> Result<JoinedRoom, RoomError> {
        // Encoded before the lock: only a room shown under another spelling re-encodes.
        let backlog = backlog.map(|frame| {
            let wire = encode(&frame);
            (frame, wire)
        });
        let key: Arc<str> = room_key(room).into();
        self.state()
            .join(name, key, room, at, backlog, &self.limits())
    }

    /// Takes `name` out of the room with key `room`, queues `Parted` to it and, unless the
    /// server is stopping, `UserLeft` to the others; the room ends with its last member.
    pub fn part(&self, name: &str, room: &JoinedRoom, at: Millis) -> Result<(), RoomError> {
        self.state().part(name, room, at, &self.limits())
    }

    /// The name as shown of the room with key `key`, while it exists.
    pub fn room_name(&self, key: &str) -> Option<Arc<str>> {
        self.state().rooms.get(key).map(|room| room.name().clone())
    }

    /// How many members of the room with key `key` are connected to this node.
    pub fn local_members(&self, key: &str) -> usize {
        self.state().rooms.get(key).map_or(0, Room::local_len)
    }

    /// Every room with its member count, sorted case-insensitively.
    ///
    /// Only the names' pointers and the counts are taken under the lock; the sorting and
    /// the copies are made after it, so ten thousand rooms hold up no fan-out for long.
    pub fn rooms(&self) -> Vec<RoomSummary> {
        let mut keyed: Vec<(Arc<str>, Arc<str>, usize)> = {
            let state = self.state();
            state
                .rooms
                .iter()
                .map(|(key, room)| (key.clone(), room.name().clone(), room.len()))
                .collect()
        };
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        keyed
            .into_iter()
            .map(|(_, name, members)| RoomSummary {
                name: name.to_string(),
                members: clamp_u32(members),
            })
            .collect()
    }

    /// The room `room` (a valid name without `#`) as shown, and its members sorted
    /// case-insensitively.
    pub fn members(&self, room: &str) -> Result<(String, Vec<String>), RoomError> {
        let state = self.state();
        let place = state
            .rooms
            .get(&*room_key(room))
            .ok_or_else(|| RoomError::NoSuchRoom(room.to_owned()))?;
        Ok((place.name().to_string(), place.names()))
    }
}

impl State {
    /// Puts `name` in the room with key `key` (typed as `room`), within `limits`, and queues
    /// `Joined`, then `backlog` (the frame and its encoding) when there is one, then
    /// `UserJoined` to the others when the room is small enough to announce it.
    fn join(
        &mut self,
        name: &str,
        key: Arc<str>,
        room: &str,
        at: Millis,
        backlog: Option<(ServerFrame, Result<EncodedFrame, CodecError>)>,
        limits: &Limits,
    ) -> Result<JoinedRoom, RoomError> {
        if self.closing {
            // Everyone was told the server is stopping; nothing is announced after that.
            return Err(RoomError::ShuttingDown);
        }
        let Some(member) = self.registry.member_mut(name) else {
            return Err(RoomError::NotInRoom(room.to_owned()));
        };
        let already = member.rooms.contains(&key);
        if !already {
            let limit = limits.rooms_per_user;
            if limit != 0 && member.rooms.len() >= limit {
                return Err(RoomError::TooManyRooms(limit));
            }
            let limit = limits.max_rooms;
            if limit != 0 && self.rooms.len() >= limit && !self.rooms.contains_key(&key) {
                return Err(RoomError::RoomsFull(limit));
            }
        }
        let handle = member.handle.clone();
        let who = member.key.clone();
        let place = self
            .rooms
            .entry(key.clone())
            .or_insert_with(|| Room::new(room.into()));
        if !already {
            // One slot at a time: most people are in one or two rooms.
            member.rooms.reserve_exact(1);
            member.rooms.push(key.clone());
            place.add(who.clone(), handle.clone());
        }
        let shown = place.name().clone();
        let joined = ServerFrame::Joined {
            room: shown.to_string(),
            members: place.names(),
        };
        match encode(&joined) {
            Ok(joined) => {
                handle.offer(joined);
            }
            Err(err) => tracing::error!("Cannot encode the member list of #{shown}: {err}"),
        }
        if let Some((mut frame, wire)) = backlog {
            let wire = match &mut frame {
                ServerFrame::History { room, .. } if **room != *shown => {
                    *room = shown.to_string();
                    encode(&frame)
                }
                _ => wire,
            };
            match wire {
                Ok(wire) => {
                    handle.offer(wire);
                }
                Err(err) => tracing::error!("Cannot encode a backlog of #{shown}: {err}"),
            }
        }
        if !already && limits.announces(place.len()) {
            let notice = presence(ServerFrame::UserJoined {
                room: shown.to_string(),
                user: handle.name().to_string(),
                at,
            });
            fan_out(place.handles(), &notice, Some(handle.name()));
        }
        if !already {
            self.tell(|| Change::Joined {
                name: handle.name().to_string(),
                room: shown.to_string(),
            });
        }
        Ok(JoinedRoom { key, name: shown })
    }

    /// Takes `name` out of `room`, queues `Parted` to it and, unless the server is
    /// stopping, `UserLeft` to the others.
    fn part(
        &mut self,
        name: &str,
        room: &JoinedRoom,
        at: Millis,
        limits: &Limits,
    ) -> Result<(), RoomError> {
        let Some(member) = self.registry.member_mut(name) else {
            return Err(RoomError::NotInRoom(room.name.to_string()));
        };
        let Some(at_index) = member.rooms.iter().position(|k| *k == room.key) else {
            return Err(RoomError::NotInRoom(room.name.to_string()));
        };
        member.rooms.remove(at_index);
        let handle = member.handle.clone();
        let who = member.key.clone();
        if let Ok(parted) = encode(&ServerFrame::Parted {
            room: room.name.to_string(),
        }) {
            handle.offer(parted);
        }
        let told = (!self.closing).then_some(LeftReason::Parted);
        self.remove_from_room(&room.key, Who::Here(&who), handle.name(), told, at, limits);
        self.tell(|| Change::Parted {
            name: handle.name().to_string(),
            room: room.name.to_string(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{frames, member, msg, registered};
    use super::*;
    use crate::registry::LeaveReason;

    /// Joining answers `Joined` with every member (the joiner included), tells the others
    /// `UserJoined`, shows the room as its first member typed it, and a second join of the
    /// same room only repeats the answer.
    #[test]
    fn joining_answers_the_member_list_and_tells_the_others() {
        let hub = Hub::new();
        let (mut ann, _) = member(&hub, "ann", "Rust");
        let mut bob = registered(&hub, "bob");
        let joined = hub.join("bob", "rust", 5).unwrap();
        assert_eq!(&*joined.name, "Rust");
        assert_eq!(
            frames(&mut bob),
            [ServerFrame::Joined {
                room: "Rust".into(),
                members: vec!["ann".into(), "bob".into()]
            }]
        );
        assert_eq!(
            frames(&mut ann),
            [ServerFrame::UserJoined {
                room: "Rust".into(),
                user: "bob".into(),
                at: 5
            }]
        );
        hub.join("bob", "RUST", 6).unwrap();
        assert!(matches!(
            &frames(&mut bob)[..],
            [ServerFrame::Joined { .. }]
        ));
        assert_eq!(frames(&mut ann), [], "a repeated join is not news");
    }

    /// A backlog read before the join comes right after `Joined` in the joiner's queue, named
    /// as the room is shown: no presence frame of a join a moment later can come between.
    #[test]
    fn a_joins_backlog_follows_joined_at_once_named_as_shown() {
        let hub = Hub::new();
        let (_ann, _) = member(&hub, "ann", "Rust");
        let mut bob = registered(&hub, "bob");
        registered(&hub, "carol");
        let backlog = crate::log::page::empty_backlog("rust");
        hub.join_then("bob", "rust", 5, Some(backlog)).unwrap();
        hub.join("carol", "rust", 6).unwrap();
        assert_eq!(
            frames(&mut bob),
            [
                ServerFrame::Joined {
                    room: "Rust".into(),
                    members: vec!["ann".into(), "bob".into()]
                },
                crate::log::page::empty_backlog("Rust"),
                ServerFrame::UserJoined {
                    room: "Rust".into(),
                    user: "carol".into(),
                    at: 6
                },
            ]
        );
    }

    /// Parting answers `Parted`, tells the rest `UserLeft{Parted}`, stops delivery at once,
    /// and the room ends with its last member.
    #[test]
    fn parting_stops_delivery_and_the_last_part_ends_the_room() {
        let hub = Hub::new();
        let (mut ann, room) = member(&hub, "ann", "ops");
        let (mut bob, _) = member(&hub, "bob", "ops");
        frames(&mut ann);
        hub.part("bob", &room, 7).unwrap();
        assert_eq!(
            frames(&mut bob),
            [ServerFrame::Parted { room: "ops".into() }]
        );
        assert_eq!(
            frames(&mut ann),
            [ServerFrame::UserLeft {
                room: "ops".into(),
                user: "bob".into(),
                at: 7,
                reason: LeftReason::Parted
            }]
        );
        hub.broadcast(&room.key, &msg("ops", 1)).unwrap();
        assert_eq!(frames(&mut bob), []);
        assert_eq!(
            hub.part("bob", &room, 8),
            Err(RoomError::NotInRoom("ops".into()))
        );
        hub.part("ann", &room, 9).unwrap();
        assert_eq!(hub.rooms(), []);
        assert_eq!(hub.members("ops"), Err(RoomError::NoSuchRoom("ops".into())));
    }

    /// `rooms_per_user` and `max_rooms` refuse the join that would pass them, and nothing
    /// else: a room that exists can still be joined when the server is at `max_rooms`.
    #[test]
    fn room_limits_refuse_only_what_passes_them() {
        let hub = Hub::with_limits(Limits {
            rooms_per_user: 2,
            max_rooms: 3,
            ..Limits::default()
        });
        let _ann = registered(&hub, "ann");
        let _bob = registered(&hub, "bob");
        hub.join("ann", "a", 0).unwrap();
        hub.join("ann", "b", 0).unwrap();
        assert_eq!(hub.join("ann", "c", 0), Err(RoomError::TooManyRooms(2)));
        assert!(hub.join("ann", "A", 0).is_ok(), "a room one is in");
        hub.join("bob", "c", 0).unwrap();
        assert_eq!(hub.join("bob", "d", 0), Err(RoomError::RoomsFull(3)));
        assert!(hub.join("bob", "a", 0).is_ok(), "an existing room");
    }

    /// Above the announcement limit joins and leaves pass silently; at or below it everyone
    /// else in the room hears of them.
    #[test]
    fn joins_and_leaves_are_announced_only_up_to_the_limit() {
        let hub = Hub::with_limits(Limits {
            announce_up_to: 2,
            ..Limits::default()
        });
        let (mut ann, _) = member(&hub, "ann", "lobby");
        let _bob = member(&hub, "bob", "lobby");
        assert!(matches!(
            &frames(&mut ann)[..],
            [ServerFrame::UserJoined { user, .. }] if user == "bob"
        ));
        let _carol = member(&hub, "carol", "lobby");
        hub.leave("carol", &LeaveReason::Bye, 0);
        assert_eq!(frames(&mut ann), [], "a third person is over the limit");
        hub.leave("bob", &LeaveReason::Bye, 0);
        assert!(matches!(
            &frames(&mut ann)[..],
            [ServerFrame::UserLeft { user, reason: LeftReason::Quit, .. }] if user == "bob"
        ));
    }
}
