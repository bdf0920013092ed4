//! The people of other nodes, in a cluster: what this node tells of its own people (the
//! feed of numbered changes and the snapshot), and what it is told of theirs.
//!
//! Another node's people are members of the rooms here like anyone, announced, listed and
//! counted, but have no queue here: their own node delivers to them. Their changes are
//! applied under the hub's lock like local ones, so they take their place in each room's
//! one order.

use std::collections::HashMap;
use std::sync::Arc;

use chat_proto::codec::encode;
use chat_proto::validate::{name_key, room_key};
use chat_proto::{LeftReason, Millis, ServerFrame};

use super::fanout::{fan_out, presence};
use super::state::Who;
use super::{Hub, Limits, State};
use crate::outbox::Eviction;
use crate::room::Room;
use crate::roster::{Change, Feed, Person, Remote};

impl Hub {
    /// Starts numbering this node's changes and sending them to `feed` (in a cluster).
    pub fn set_feed(&self, feed: Feed) {
        self.state().feed = Some(feed);
    }

    /// Everyone registered here with their rooms, and the number of the last change they
    /// include: the snapshot a node that missed changes starts again from.
    pub fn local_people(&self) -> (u64, Vec<Person>) {
        let state = self.state();
        let people = state
            .registry
            .members()
            .map(|member| Person {
                name: member.handle.name().to_string(),
                rooms: member
                    .rooms
                    .iter()
                    .filter_map(|key| state.rooms.get(key).map(|r| r.name().to_string()))
                    .collect(),
            })
            .collect();
        (state.version, people)
    }

    /// Applies a change another node made to its people: joins and leaves are announced
    /// here as if they were local.
    pub fn remote_change(&self, node: &str, change: Change, at: Millis) {
        self.state().remote_change(node, change, at, &self.limits());
    }

    /// Replaces everything known of `node`'s people with `people` (a snapshot): whoever
    /// the snapshot lacks went offline (`Disconnected`), whatever room it lacks was parted.
    pub fn remote_state(&self, node: &str, people: Vec<Person>, at: Millis) {
        self.state().remote_state(node, people, at, &self.limits());
    }

    /// Takes every person of `node` out of every list and room, telling the rooms
    /// `reason`; returns how many there were.
    pub fn remote_drop(&self, node: &str, reason: LeftReason, at: Millis) -> usize {
        self.state().remote_drop(node, reason, at, &self.limits())
    }

    /// Removes `name` (registered here, any case) for an operator: `Error{Removed}` with
    /// `detail`, then the close, after which its rooms hear `UserLeft{reason: Removed}`.
    /// Returns the name as registered, or `None` when nobody of that name is here.
    pub fn remove(&self, name: &str, detail: &str) -> Option<Arc<str>> {
        let state = self.state();
        let handle = state.registry.get(name)?;
        if let Ok(frame) = encode(&ServerFrame::Error {
            kind: chat_proto::ErrorKind::Removed,
            detail: detail.to_owned(),
        }) {
            handle.offer(frame);
        }
        handle.evict(Eviction::Removed);
        Some(handle.name().clone())
    }

    /// Tells `name` (registered here) why with `Error{NameTaken}` and ends its connection
    /// once that is written: its name now belongs to someone on another node.
    pub fn evict(&self, name: &str, detail: &str) {
        let state = self.state();
        let Some(handle) = state.registry.get(name) else {
            return;
        };
        if let Ok(frame) = encode(&ServerFrame::Error {
            kind: chat_proto::ErrorKind::NameTaken,
            detail: detail.to_owned(),
        }) {
            handle.offer(frame);
        }
        handle.evict(Eviction::NameLost);
    }
}

impl State {
    /// Applies `change`, made by `node` to its people, announcing it within `limits`.
    fn remote_change(&mut self, node: &str, change: Change, at: Millis, limits: &Limits) {
        let (name, rooms, reason) = match change {
            Change::Online { name } => {
                let rooms = self.remote_rooms(node, &name);
                (name, Some(rooms), LeftReason::Disconnected)
            }
            Change::Offline { name, reason } => (name, None, reason),
            Change::Joined { name, room } => {
                let mut rooms = self.remote_rooms(node, &name);
                rooms.push((room_key(&room).into(), room.into()));
                (name, Some(rooms), LeftReason::Parted)
            }
            Change::Parted { name, room } => {
                let key = room_key(&room);
                let mut rooms = self.remote_rooms(node, &name);
                rooms.retain(|(k, _)| **k != *key);
                (name, Some(rooms), LeftReason::Parted)
            }
        };
        self.set_remote(node, &name, rooms, reason, at, limits);
    }

    /// Replaces what is known of `node`'s people with the snapshot `people`.
    fn remote_state(&mut self, node: &str, people: Vec<Person>, at: Millis, limits: &Limits) {
        let mut gone: HashMap<Arc<str>, ()> = self
            .roster
            .keys_of(node)
            .into_iter()
            .map(|key| (key, ()))
            .collect();
        for person in people {
            gone.remove(&*name_key(&person.name));
            let rooms = person
                .rooms
                .into_iter()
                .map(|room| (room_key(&room).into(), room.into()))
                .collect();
            self.set_remote(
                node,
                &person.name,
                Some(rooms),
                LeftReason::Parted,
                at,
                limits,
            );
        }
        for (key, ()) in gone {
            if let Some(name) = self.roster.get(node, &key).map(|p| p.name.clone()) {
                self.set_remote(node, &name, None, LeftReason::Disconnected, at, limits);
            }
        }
    }

    /// Takes every person of `node` out, telling the rooms `reason`; returns how many.
    fn remote_drop(
        &mut self,
        node: &str,
        reason: LeftReason,
        at: Millis,
        limits: &Limits,
    ) -> usize {
        let keys = self.roster.keys_of(node);
        for key in &keys {
            if let Some(name) = self.roster.get(node, key).map(|p| p.name.clone()) {
                self.set_remote(node, &name, None, reason, at, limits);
            }
        }
        keys.len()
    }

    /// Sets the rooms of `name` on `node` (`None`: offline), announcing each join, and
    /// each leave with `reason`.
    fn set_remote(
        &mut self,
        node: &str,
        name: &str,
        rooms: Option<Vec<(Arc<str>, Arc<str>)>>,
        reason: LeftReason,
        at: Millis,
        limits: &Limits,
    ) {
        let key: Arc<str> = name_key(name).into();
        let was: Vec<Arc<str>> = self
            .roster
            .get(node, &key)
            .map(|person| person.rooms.clone())
            .unwrap_or_default();
        let now: Vec<(Arc<str>, Arc<str>)> = rooms.clone().unwrap_or_default();
        let name: Arc<str> = self
            .roster
            .get(node, &key)
            .map_or_else(|| name.into(), |person| person.name.clone());
        let told = (!self.closing).then_some(reason);
        for left in was.iter().filter(|k| !now.iter().any(|(n, _)| n == *k)) {
            self.remove_from_room(left, Who::Elsewhere(&key), &name, told, at, limits);
        }
        for (room, shown) in now.iter().filter(|(k, _)| !was.contains(k)) {
            let place = self
                .rooms
                .entry(room.clone())
                .or_insert_with(|| Room::new(shown.clone()));
            if place.add_remote(key.clone(), name.clone())
                && !self.closing
                && limits.announces(place.len())
            {
                let notice = presence(ServerFrame::UserJoined {
                    room: place.name().to_string(),
                    user: name.to_string(),
                    at,
                });
                fan_out(place.handles(), &notice, None);
            }
        }
        match rooms {
            None => {
                self.roster.remove(node, &key);
            }
            Some(_) => self.roster.insert(
                node,
                key,
                Remote {
                    name,
                    rooms: now.into_iter().map(|(k, _)| k).collect(),
                },
            ),
        }
    }

    /// The rooms `name` on `node` is in now, by key and as shown.
    fn remote_rooms(&self, node: &str, name: &str) -> Vec<(Arc<str>, Arc<str>)> {
        self.roster
            .get(node, &name_key(name))
            .map(|person| {
                person
                    .rooms
                    .iter()
                    .map(|key| {
                        let shown = self
                            .rooms
                            .get(key)
                            .map_or_else(|| key.clone(), |r| r.name().clone());
                        (key.clone(), shown)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{frames, member};
    use super::*;
    use crate::room::JoinedRoom;

    /// People of another node are members like anyone: announced, listed, counted, and
    /// dropped all at once with `NodeLost` when their node goes; a room only they were in
    /// goes with them. The local changes are numbered in the order they happened.
    #[test]
    fn other_nodes_people_are_members_until_their_node_goes() {
        let hub = Hub::new();
        let (feed, mut changes) = tokio::sync::mpsc::unbounded_channel();
        hub.set_feed(feed);
        let (mut ann, _) = member(&hub, "ann", "a");
        frames(&mut ann);
        hub.remote_change(
            "n2",
            Change::Joined {
                name: "Bob".into(),
                room: "a".into(),
            },
            1,
        );
        hub.remote_state(
            "n3",
            vec![Person {
                name: "cy".into(),
                rooms: vec!["a".into(), "b".into()],
            }],
            2,
        );
        let joined: Vec<ServerFrame> = frames(&mut ann);
        assert_eq!(joined.len(), 2, "{joined:?}");
        assert!(matches!(&joined[0], ServerFrame::UserJoined { user, .. } if user == "Bob"));
        assert_eq!(hub.members("a").unwrap().1, ["ann", "Bob", "cy"]);
        assert_eq!(hub.users(), ["ann", "Bob", "cy"]);
        assert_eq!(
            hub.rooms().len(),
            2,
            "a room only another node's people are in is listed"
        );
        assert_eq!(hub.local_members("a"), 1);
        assert_eq!(hub.local_members("b"), 0);

        assert_eq!(hub.remote_drop("n3", LeftReason::NodeLost, 3), 1);
        match frames(&mut ann).as_slice() {
            [ServerFrame::UserLeft { user, reason, .. }] => {
                assert_eq!((user.as_str(), *reason), ("cy", LeftReason::NodeLost));
            }
            other => panic!("{other:?}"),
        }
        assert!(hub.members("b").is_err(), "#b went with its last member");
        // A snapshot without Bob: he went offline.
        hub.remote_state("n2", Vec::new(), 4);
        assert_eq!(hub.users(), ["ann"]);

        hub.part("ann", &hub_room(&hub, "a"), 5).unwrap();
        let mut told = Vec::new();
        while let Ok(change) = changes.try_recv() {
            told.push(change);
        }
        assert_eq!(
            told,
            [
                (1, Change::Online { name: "ann".into() }),
                (
                    2,
                    Change::Joined {
                        name: "ann".into(),
                        room: "a".into()
                    }
                ),
                (
                    3,
                    Change::Parted {
                        name: "ann".into(),
                        room: "a".into()
                    }
                ),
            ]
        );
        let (version, people) = hub.local_people();
        assert_eq!(version, 3);
        assert_eq!(
            people,
            [Person {
                name: "ann".into(),
                rooms: vec![]
            }]
        );
    }

    /// The room `name` as a member knows it.
    fn hub_room(hub: &Hub, name: &str) -> JoinedRoom {
        JoinedRoom {
            key: room_key(name).into(),
            name: hub.room_name(&room_key(name)).expect("the room exists"),
        }
    }
}
