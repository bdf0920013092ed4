//! The broadcast seam: everything that reaches more than the client who asked.
//!
//! A frame for several clients is encoded once ([`chat_proto::codec::encode`]) and the same
//! bytes are offered to each client's queue. A room message does not come here from the
//! commands: they hand a [`Burst`] to the room log ([`crate::log::RoomLog`]), which gives it
//! its seqs (and stores it, where history is kept) and hands it back through
//! [`Deliveries`], which the hub implements. The hub never knows which log is behind it.
//!
//! **One order per room.** Every fan-out, join, part and leave runs under one `std` mutex,
//! and a fan-out only offers (it never waits: [`crate::outbox::Outbox::offer_wire`]), so the lock is held for a loop of queue
//! pushes. Two messages to one room from two connection tasks are therefore queued to every
//! member in the same order; a newcomer's `Joined` is queued before any message it can see,
//! and a `Parted` after the last one it hears.
//!
//! **Bursts.** Messages a client sent together to one room arrive as one buffer, queued
//! to the room's members as one entry each, under one lock.
//!
//! A client whose queue is full is marked as a slow consumer by its [`crate::outbox::Outbox`]
//! and receives nothing more; its connection then leaves every room with that reason. The
//! others never wait for it. Each client has one queue whatever its rooms, so a slow reader
//! is dropped once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chat_proto::codec::encode;
use chat_proto::validate::{name_key, room_key};
use chat_proto::{
    CodecError, EncodedFrame, LeftReason, Millis, RoomSummary, ServerFrame, PROTOCOL_VERSION,
};

use crate::config::Config;
use crate::log::{Burst, Deliveries, Spoken};
use crate::metrics::Metrics;
use crate::outbox::{Delivery, Wire};
use crate::queued_bytes::QueuedBytes;
use crate::registry::{sorted_names, ClientHandle, LeaveReason, NameTaken, Registry};
use crate::room::{JoinedRoom, Room, RoomError};
use crate::roster::{Change, Feed, Person, Remote, Roster};

/// Why a client could not register.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// Someone online has the name in another case or the same.
    #[error(transparent)]
    NameTaken(#[from] NameTaken),
    /// The server has told everyone it is stopping; nobody new may join.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// Why a whisper was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum WhisperError {
    /// Nobody online has that name.
    #[error("no user named {0:?} is online")]
    NoSuchUser(String),
    /// The frame could not be encoded (larger than any frame may be).
    #[error(transparent)]
    Encode(#[from] CodecError),
}

/// The limits the hub enforces and states in `Welcome`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Largest room in which joins and leaves are announced; 0: any size.
    pub announce_up_to: usize,
    /// Rooms one client may be in; 0: no limit.
    pub rooms_per_user: usize,
    /// Rooms the server holds; 0: no limit.
    pub max_rooms: usize,
    /// `[server] buffsize`, told to clients in `Welcome`.
    pub buffsize: usize,
    /// The most messages a `History` frame holds, told in `Welcome`; 0: no history.
    pub history: usize,
}

impl Limits {
    /// The hub's share of the server's settings.
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            announce_up_to: config.announce_up_to,
            rooms_per_user: config.rooms_per_user,
            max_rooms: config.max_rooms,
            buffsize: config.buffsize,
            history: 0,
        }
    }

    /// Whether a join or leave in a room of `people` (counting the one joining or leaving)
    /// is announced.
    ///
    /// Every announcement goes to everyone in the room, so filling a room of N costs N²/2
    /// notices: ten thousand people joining would send fifty million, and hear of nothing
    /// else.
    fn announces(&self, people: usize) -> bool {
        self.announce_up_to == 0 || people <= self.announce_up_to
    }
}

/// The in-process hub: every room on one server.
#[derive(Debug, Default)]
pub struct Hub {
    /// The registry, the rooms and the closing flag, changed together under one lock.
    state: Mutex<State>,
    /// What the hub enforces.
    limits: Limits,
    /// The server's counters, for `/metrics`: kept here, where every part that counts
    /// already holds the hub.
    metrics: Metrics,
}

/// What the hub's lock guards.
#[derive(Debug, Default)]
struct State {
    /// Who is online, and in which rooms.
    registry: Registry,
    /// [`room_key`] → room; a room exists while it has members.
    rooms: HashMap<Arc<str>, Room>,
    /// Set once the shutdown notice went out: later joins are refused so that nobody
    /// registers without having been told.
    closing: bool,
    /// In a cluster, the people of the other nodes.
    roster: Roster,
    /// How many changes to this node's people were made: the last one's number.
    version: u64,
    /// In a cluster, where each change goes, numbered, to be published.
    feed: Option<Feed>,
}

impl State {
    /// Numbers `change` and hands it to the feed, in a cluster: called under the lock
    /// that made it, so the numbers are the order the changes happened in.
    fn tell(&mut self, change: impl FnOnce() -> Change) {
        if let Some(feed) = &self.feed {
            self.version += 1;
            let _ = feed.send((self.version, change()));
        }
    }
}

impl Hub {
    /// No rooms, no limits but the built-in `announce_up_to` of 0 (always announce).
    pub fn new() -> Self {
        Hub::default()
    }

    /// A hub enforcing `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        Hub {
            state: Mutex::default(),
            limits,
            metrics: Metrics::new(),
        }
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// How many people are registered here and how many rooms have members here: the
    /// gauges of `/metrics`, counted under the lock without building any list.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (state.registry.len(), state.rooms.len())
    }

    /// The state, even if a thread panicked while holding the lock: every change under it is
    /// a few map operations or a loop of non-blocking sends, never left half-done by a
    /// panic in between (there is no code that can panic between them).
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `handle` (in no room yet) and queues its `Welcome`.
    ///
    /// Returns how many are online, the newcomer included.
    pub fn register(&self, handle: ClientHandle, peer: SocketAddr) -> Result<usize, JoinError> {
        let mut state = self.state();
        if state.closing {
            return Err(JoinError::ShuttingDown);
        }
        let welcome = ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            username: handle.name().to_string(),
            online: u32::try_from(state.registry.len() + 1).unwrap_or(u32::MAX),
            buffsize: clamp_u32(self.limits.buffsize),
            rooms_per_user: clamp_u32(self.limits.rooms_per_user),
            history: clamp_u32(self.limits.history),
        };
        let me = handle.clone();
        state.registry.add(handle, peer)?;
        if let Ok(welcome) = encode(&welcome) {
            me.offer(welcome);
        }
        state.tell(|| Change::Online {
            name: me.name().to_string(),
        });
        Ok(state.registry.len())
    }

    /// Puts `name` in the room `room` (a valid name without `#`), creating it, queues
    /// `Joined` to it and `UserJoined` to the room's other members.
    ///
    /// Joining a room one is in already repeats `Joined` and tells nobody.
    pub fn join(&self, name: &str, room: &str, at: Millis) -> Result<JoinedRoom, RoomError> {
        self.join_then(name, room, at, None)
    }

    /// [`Hub::join`], with `backlog` (a `History{backlog: true}` of the room, read before the
    /// join) queued right after `Joined` under the same lock, so that no presence frame or
    /// message comes between them. The frame is named for the room as the hub shows it.
    pub fn join_with_backlog(
        &self,
        name: &str,
        room: &str,
        at: Millis,
        backlog: ServerFrame,
    ) -> Result<JoinedRoom, RoomError> {
        self.join_then(name, room, at, Some(backlog))
    }

    /// [`Hub::join`], with `backlog` after `Joined` when there is one.
    fn join_then(
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
        let mut state = self.state();
        let State {
            registry,
            rooms,
            closing,
            ..
        } = &mut *state;
        if *closing {
            // Everyone was told the server is stopping; nothing is announced after that.
            return Err(RoomError::ShuttingDown);
        }
        let Some(member) = registry.member_mut(name) else {
            return Err(RoomError::NotInRoom(room.to_owned()));
        };
        let already = member.rooms.contains(&key);
        if !already {
            let limit = self.limits.rooms_per_user;
            if limit != 0 && member.rooms.len() >= limit {
                return Err(RoomError::TooManyRooms(limit));
            }
            let limit = self.limits.max_rooms;
            if limit != 0 && rooms.len() >= limit && !rooms.contains_key(&key) {
                return Err(RoomError::RoomsFull(limit));
            }
        }
        let handle = member.handle.clone();
        let who = member.key.clone();
        let place = rooms
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
        if !already && self.limits.announces(place.len()) {
            let notice = presence(ServerFrame::UserJoined {
                room: shown.to_string(),
                user: handle.name().to_string(),
                at,
            });
            fan_out(place.handles(), &notice, Some(handle.name()));
        }
        if !already {
            state.tell(|| Change::Joined {
                name: handle.name().to_string(),
                room: shown.to_string(),
            });
        }
        Ok(JoinedRoom { key, name: shown })
    }

    /// Takes `name` out of the room with key `room`, queues `Parted` to it and, unless the
    /// server is stopping, `UserLeft` to the others; the room ends with its last member.
    pub fn part(&self, name: &str, room: &JoinedRoom, at: Millis) -> Result<(), RoomError> {
        let mut state = self.state();
        let State {
            registry,
            rooms,
            closing,
            ..
        } = &mut *state;
        let Some(member) = registry.member_mut(name) else {
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
        let told = (!*closing).then_some(LeftReason::Parted);
        remove_from_room(
            rooms,
            &room.key,
            Who::Here(&who),
            handle.name(),
            told,
            at,
            &self.limits,
        );
        state.tell(|| Change::Parted {
            name: handle.name().to_string(),
            room: room.name.to_string(),
        });
        Ok(())
    }

    /// Removes `name` with `reason` (logged) and, unless the server is stopping, tells each
    /// of its rooms that it left and why.
    pub fn leave(&self, name: &str, reason: &LeaveReason, at: Millis) {
        let mut state = self.state();
        let State {
            registry,
            rooms,
            closing,
            ..
        } = &mut *state;
        let Some(member) = registry.remove(name, reason) else {
            return;
        };
        // Nothing is announced once everyone was told the server is stopping.
        let told = (!*closing).then(|| reason.told_as());
        for key in &member.rooms {
            remove_from_room(
                rooms,
                key,
                Who::Here(&member.key),
                member.handle.name(),
                told,
                at,
                &self.limits,
            );
        }
        state.tell(|| Change::Offline {
            name: member.handle.name().to_string(),
            reason: reason.told_as(),
        });
    }

    /// Queues `frame` to every member of the room with key `room`, encoded once. For tests
    /// and benchmarks; connections send through [`Hub::flush`].
    pub fn broadcast(&self, room: &str, frame: &ServerFrame) -> Result<(), CodecError> {
        let frame = wire(encode(frame)?);
        if let Some(place) = self.state().rooms.get(room) {
            fan_out(place.handles(), &frame, None);
        }
        Ok(())
    }

    /// Sends everything in `burst` to every member of its room as one buffer (one queue
    /// entry each), numbered by the room's own count, and empties it: what the history-off
    /// log does with a burst ([`Deliveries::deliver_unstored`]), for tests and benchmarks.
    pub fn flush(&self, burst: &mut Burst) {
        if let Some(spoken) = burst.take() {
            self.deliver_unstored(spoken);
        }
    }

    /// Numbers `spoken` by its room's own count and queues it to every member as one buffer.
    ///
    /// The `seq`s are given and the frames encoded under the lock, so that the numbering is
    /// the order everyone receives.
    fn number_and_deliver(&self, spoken: Spoken) {
        let mut state = self.state();
        let Some(place) = state.rooms.get_mut(&spoken.room.key) else {
            return;
        };
        let first = place.take_seqs(spoken.said.len());
        match spoken.encode(first) {
            Ok(wire) => self.fan_out_messages(place, &Arc::new(wire), spoken.said.len()),
            Err(err) => tracing::error!("Cannot encode a message to #{}: {err}", place.name()),
        }
    }

    /// Queues `wire`, which holds `messages` room messages, to every member of `place`,
    /// timed and counted for `/metrics`.
    fn fan_out_messages(&self, place: &Room, wire: &Wire, messages: usize) {
        let started = std::time::Instant::now();
        let reached = fan_out(place.handles(), wire, None);
        self.metrics.fanned_out(started.elapsed());
        self.metrics.messages_out((reached * messages) as u64);
    }

    /// Queues `wire` (`messages` whole frames, already numbered) to every member of the
    /// room with key `room`: the room log's way out, once it has stored them.
    pub fn deliver(&self, room: &str, wire: Wire, messages: usize) {
        if let Some(place) = self.state().rooms.get(room) {
            self.fan_out_messages(place, &wire, messages);
        }
    }

    /// Queues a whisper to the client named `to` (any case) and a copy to its sender `from`.
    ///
    /// The frame names both as registered. Sent under the same lock as broadcasts, so a
    /// whisper keeps its place among the messages around it.
    pub fn whisper(
        &self,
        from: &str,
        to: &str,
        text: String,
        at: Millis,
    ) -> Result<(), WhisperError> {
        self.offer_whisper(from, to, text, at, true)
    }

    /// Queues a whisper another node sent to the client named `to` (any case) here: to its
    /// target only, since its sender, on that node, has its copy from there.
    pub fn deliver_whisper(
        &self,
        from: &str,
        to: &str,
        text: String,
        at: Millis,
    ) -> Result<(), WhisperError> {
        self.offer_whisper(from, to, text, at, false)
    }

    /// Queues a whisper to `to` and, with `copy`, to its sender `from` when it is here and
    /// another person.
    fn offer_whisper(
        &self,
        from: &str,
        to: &str,
        text: String,
        at: Millis,
        copy: bool,
    ) -> Result<(), WhisperError> {
        let state = self.state();
        let target = state
            .registry
            .get(to)
            .ok_or_else(|| WhisperError::NoSuchUser(to.to_owned()))?;
        let frame = encode(&ServerFrame::Whisper {
            from: from.to_owned(),
            to: target.name().to_string(),
            text,
            at,
        })?;
        target.offer(frame.clone());
        self.metrics.messages_out(1);
        if let Some(sender) = state.registry.get(from).filter(|_| copy) {
            if !Arc::ptr_eq(sender.name(), target.name()) {
                sender.offer(frame);
                self.metrics.messages_out(1);
            }
        }
        Ok(())
    }

    /// Drops, as slow consumers, the registered clients holding the most queued bytes, the
    /// largest first, until what the rest hold is under `total`'s ceiling; returns how many
    /// were dropped and the bytes they held.
    ///
    /// Only the handles and their sizes are taken under the lock. A dropped client's queue
    /// lets go of what it holds at once, but a batch its writer is in the middle of writing
    /// is freed only when the writer gives up, so the count goes by what each held rather
    /// than by the total, which would drop more people than needed.
    pub fn shed(&self, total: &QueuedBytes) -> (usize, usize) {
        let mut holders: Vec<(usize, ClientHandle)> = self
            .state()
            .registry
            .handles()
            .map(|handle| (handle.held_bytes(), handle.clone()))
            .collect();
        holders.sort_unstable_by_key(|h| std::cmp::Reverse(h.0));
        let mut left = total.total();
        let (mut dropped, mut freed) = (0, 0);
        for (held, handle) in holders {
            if left <= total.max() || held == 0 {
                break;
            }
            if handle.shed() {
                dropped += 1;
                freed += held;
                left = left.saturating_sub(held);
            }
        }
        (dropped, freed)
    }

    /// The name as shown of the room with key `key`, while it exists.
    pub fn room_name(&self, key: &str) -> Option<Arc<str>> {
        self.state().rooms.get(key).map(|room| room.name().clone())
    }

    /// Every registered name, of this node and (in a cluster) every other, sorted
    /// case-insensitively.
    pub fn users(&self) -> Vec<String> {
        let state = self.state();
        sorted_names(
            state
                .registry
                .members()
                .map(|member| (&member.key, member.handle.name()))
                .chain(
                    state
                        .roster
                        .everyone()
                        .map(|(key, person)| (key, &person.name)),
                ),
        )
    }

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
        let mut state = self.state();
        let (name, rooms, reason) = match change {
            Change::Online { name } => {
                let rooms = remote_rooms(&state, node, &name);
                (name, Some(rooms), LeftReason::Disconnected)
            }
            Change::Offline { name, reason } => (name, None, reason),
            Change::Joined { name, room } => {
                let mut rooms = remote_rooms(&state, node, &name);
                rooms.push((room_key(&room).into(), room.into()));
                (name, Some(rooms), LeftReason::Parted)
            }
            Change::Parted { name, room } => {
                let key = room_key(&room);
                let mut rooms = remote_rooms(&state, node, &name);
                rooms.retain(|(k, _)| **k != *key);
                (name, Some(rooms), LeftReason::Parted)
            }
        };
        self.set_remote(&mut state, node, &name, rooms, reason, at);
    }

    /// Replaces everything known of `node`'s people with `people` (a snapshot): whoever
    /// the snapshot lacks went offline (`Disconnected`), whatever room it lacks was parted.
    pub fn remote_state(&self, node: &str, people: Vec<Person>, at: Millis) {
        let mut state = self.state();
        let mut gone: HashMap<Arc<str>, ()> = state
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
                &mut state,
                node,
                &person.name,
                Some(rooms),
                LeftReason::Parted,
                at,
            );
        }
        for (key, ()) in gone {
            if let Some(name) = state.roster.get(node, &key).map(|p| p.name.clone()) {
                self.set_remote(&mut state, node, &name, None, LeftReason::Disconnected, at);
            }
        }
    }

    /// Takes every person of `node` out of every list and room, telling the rooms
    /// `reason`; returns how many there were.
    pub fn remote_drop(&self, node: &str, reason: LeftReason, at: Millis) -> usize {
        let mut state = self.state();
        let keys = state.roster.keys_of(node);
        for key in &keys {
            if let Some(name) = state.roster.get(node, key).map(|p| p.name.clone()) {
                self.set_remote(&mut state, node, &name, None, reason, at);
            }
        }
        keys.len()
    }

    /// Sets the rooms of `name` on `node` (`None`: offline), announcing each join, and
    /// each leave with `reason`.
    fn set_remote(
        &self,
        state: &mut State,
        node: &str,
        name: &str,
        rooms: Option<Vec<(Arc<str>, Arc<str>)>>,
        reason: LeftReason,
        at: Millis,
    ) {
        let key: Arc<str> = name_key(name).into();
        let was: Vec<Arc<str>> = state
            .roster
            .get(node, &key)
            .map(|person| person.rooms.clone())
            .unwrap_or_default();
        let now: Vec<(Arc<str>, Arc<str>)> = rooms.clone().unwrap_or_default();
        let name: Arc<str> = state
            .roster
            .get(node, &key)
            .map_or_else(|| name.into(), |person| person.name.clone());
        let told = (!state.closing).then_some(reason);
        for left in was.iter().filter(|k| !now.iter().any(|(n, _)| n == *k)) {
            remove_from_room(
                &mut state.rooms,
                left,
                Who::Elsewhere(&key),
                &name,
                told,
                at,
                &self.limits,
            );
        }
        for (room, shown) in now.iter().filter(|(k, _)| !was.contains(k)) {
            let place = state
                .rooms
                .entry(room.clone())
                .or_insert_with(|| Room::new(shown.clone()));
            if place.add_remote(key.clone(), name.clone())
                && !state.closing
                && self.limits.announces(place.len())
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
                state.roster.remove(node, &key);
            }
            Some(_) => state.roster.insert(
                node,
                key,
                Remote {
                    name,
                    rooms: now.into_iter().map(|(k, _)| k).collect(),
                },
            ),
        }
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
        handle.evict();
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

    /// Refuses further joins and queues `notice` to everyone; returns how many were told.
    pub fn close(&self, notice: &ServerFrame) -> Result<usize, CodecError> {
        let notice = wire(encode(notice)?);
        let mut state = self.state();
        state.closing = true;
        fan_out(state.registry.handles(), &notice, None);
        Ok(state.registry.len())
    }
}

/// A member by name key: connected here, or to another node. Told apart because after an
/// outage the two may briefly share a name, until the one here is evicted.
#[derive(Debug, Clone, Copy)]
enum Who<'a> {
    /// Connected to this node.
    Here(&'a str),
    /// Connected to another node.
    Elsewhere(&'a str),
}

/// Takes the member `who` out of the room `key`, tells the rest why (`told`; `None`: tell
/// What the room log hands back: the hub is its one handler.
impl Deliveries for Hub {
    fn deliver(&self, room: &str, wire: Wire, messages: usize) {
        Hub::deliver(self, room, wire, messages);
    }

    fn deliver_unstored(&self, spoken: Spoken) {
        self.number_and_deliver(spoken);
    }

    fn join(
        &self,
        name: &str,
        room: &str,
        at: Millis,
        backlog: Option<ServerFrame>,
    ) -> Result<JoinedRoom, RoomError> {
        self.join_then(name, room, at, backlog)
    }

    fn room_name(&self, key: &str) -> Option<Arc<str>> {
        Hub::room_name(self, key)
    }

    fn local_members(&self, key: &str) -> usize {
        Hub::local_members(self, key)
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// nobody) within the announcement limit, and drops the room once empty.
fn remove_from_room(
    rooms: &mut HashMap<Arc<str>, Room>,
    key: &str,
    who: Who<'_>,
    name: &Arc<str>,
    told: Option<LeftReason>,
    at: Millis,
    limits: &Limits,
) {
    let Some(place) = rooms.get_mut(key) else {
        return;
    };
    let people = place.len();
    let removed = match who {
        Who::Here(key) => place.remove(key),
        Who::Elsewhere(key) => place.remove_remote(key),
    };
    if !removed {
        return;
    }
    if place.is_empty() {
        rooms.remove(key);
        return;
    }
    let Some(reason) = told else {
        return;
    };
    if limits.announces(people) {
        let notice = presence(ServerFrame::UserLeft {
            room: place.name().to_string(),
            user: name.to_string(),
            at,
            reason,
        });
        fan_out(place.handles(), &notice, None);
    }
}

/// The rooms `name` on `node` is in now, by key and as shown.
fn remote_rooms(state: &State, node: &str, name: &str) -> Vec<(Arc<str>, Arc<str>)> {
    state
        .roster
        .get(node, &name_key(name))
        .map(|person| {
            person
                .rooms
                .iter()
                .map(|key| {
                    let shown = state
                        .rooms
                        .get(key)
                        .map_or_else(|| key.clone(), |r| r.name().clone());
                    (key.clone(), shown)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A count on the wire, where it is a `u32`.
fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A presence frame, encoded. Its strings are a room and a user name, at most 32 ASCII
/// characters each, so it cannot exceed any frame limit.
fn presence(frame: ServerFrame) -> Wire {
    wire(encode(&frame).expect("a presence frame is far below the frame limit"))
}

/// A frame as a queue entry.
fn wire(frame: EncodedFrame) -> Wire {
    Arc::new(frame.into_bytes())
}

/// Offers the same bytes (whole frames) to every client of `to`, `except` one (by
/// registered name).
fn fan_out<'a>(
    to: impl Iterator<Item = &'a ClientHandle>,
    wire: &Wire,
    except: Option<&Arc<str>>,
) -> usize {
    let mut reached = 0;
    for handle in to {
        if except.is_some_and(|name| Arc::ptr_eq(name, handle.name())) {
            continue;
        }
        match handle.offer_wire(wire.clone()) {
            Delivery::Queued => reached += 1,
            Delivery::Overflowed => {
                tracing::debug!("Queue of {} is full; dropping it", handle.name());
            }
            Delivery::Dropped => {}
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use chat_proto::codec::{decode_chunks, CLIENT_MAX_FRAME};

    use super::*;
    use crate::log::Said;
    use crate::outbox::{self, Outgoing};

    fn registered(hub: &Hub, name: &str) -> Outgoing {
        let (outbox, mut rx) = outbox::channel(16);
        let peer = "127.0.0.1:1".parse().unwrap();
        hub.register(ClientHandle::new(name.into(), outbox), peer)
            .unwrap();
        rx.take_queued();
        rx
    }

    /// A client registered and in `room`, its queue emptied.
    fn member(hub: &Hub, name: &str, room: &str) -> (Outgoing, JoinedRoom) {
        let mut rx = registered(hub, name);
        let joined = hub.join(name, room, 0).unwrap();
        rx.take_queued();
        (rx, joined)
    }

    fn frames(q: &mut Outgoing) -> Vec<ServerFrame> {
        let wire = q.take_queued();
        decode_chunks(wire.iter().map(|w| &w[..]), CLIENT_MAX_FRAME)
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    /// Message `i` of ann's in `room`, the `i + 1`th of the room.
    fn msg(room: &str, i: i64) -> ServerFrame {
        ServerFrame::Msg {
            room: room.into(),
            from: "ann".into(),
            text: format!("message {i}"),
            at: i,
            seq: i as u64 + 1,
        }
    }

    fn said(i: i64) -> Said {
        Said {
            text: format!("message {i}"),
            at: i,
        }
    }

    /// A burst reaches nobody until it is flushed, then every member of its room as one
    /// queue entry holding its frames in the order they were added, and nobody outside the
    /// room; a later broadcast comes after it.
    #[test]
    fn a_burst_is_one_queue_entry_per_member_in_order() {
        let hub = Hub::new();
        let (mut ann, lobby) = member(&hub, "ann", "lobby");
        let (mut bob, _) = member(&hub, "bob", "lobby");
        let (mut carol, _) = member(&hub, "carol", "elsewhere");
        frames(&mut ann); // bob's arrival
        let mut burst = Burst::default();
        let ann_name: Arc<str> = "ann".into();
        for i in 0..3 {
            burst.push(&lobby, &ann_name, said(i));
        }
        assert!(ann.take_queued().is_empty() && bob.take_queued().is_empty());
        hub.flush(&mut burst);
        assert!(burst.is_empty());
        hub.broadcast(&lobby.key, &msg("lobby", 3)).unwrap();
        for q in [&mut ann, &mut bob] {
            let entries = q.take_queued();
            assert_eq!(entries.len(), 2, "the burst, then the broadcast");
            let frames: Vec<ServerFrame> =
                decode_chunks(entries.iter().map(|e| &e[..]), CLIENT_MAX_FRAME)
                    .into_iter()
                    .map(Result::unwrap)
                    .collect();
            assert_eq!(frames, (0..4).map(|i| msg("lobby", i)).collect::<Vec<_>>());
        }
        assert_eq!(frames(&mut carol), [], "carol is in another room");
    }

    /// A burst holds one room's messages: a message for another room is not accepted until
    /// the burst was flushed, so the sender's order survives.
    #[test]
    fn a_burst_holds_one_room() {
        let a = JoinedRoom {
            key: "a".into(),
            name: "A".into(),
        };
        let mut burst = Burst::default();
        assert!(burst.accepts("a") && burst.accepts("b"));
        burst.push(&a, &"ann".into(), said(0));
        assert!(burst.accepts("a"));
        assert!(!burst.accepts("b"));
    }

    /// Without history, each room numbers its own messages from 1, in the order they are
    /// sent, and a room made anew counts from 1 again.
    #[test]
    fn each_room_numbers_its_messages() {
        let hub = Hub::new();
        let (mut ann, lobby) = member(&hub, "ann", "lobby");
        let other = hub.join("ann", "other", 0).unwrap();
        let ann_name: Arc<str> = "ann".into();
        let seqs = |q: &mut Outgoing| -> Vec<(String, u64)> {
            frames(q)
                .into_iter()
                .filter_map(|f| match f {
                    ServerFrame::Msg { room, seq, .. } => Some((room, seq)),
                    _ => None,
                })
                .collect()
        };
        for (room, i) in [(&lobby, 0), (&other, 1), (&lobby, 2)] {
            let mut burst = Burst::default();
            burst.push(room, &ann_name, said(i));
            burst.push(room, &ann_name, said(i));
            hub.flush(&mut burst);
        }
        assert_eq!(
            seqs(&mut ann),
            [
                ("lobby".into(), 1),
                ("lobby".into(), 2),
                ("other".into(), 1),
                ("other".into(), 2),
                ("lobby".into(), 3),
                ("lobby".into(), 4)
            ]
        );
        hub.part("ann", &other, 0).unwrap();
        hub.join("ann", "other", 0).unwrap();
        frames(&mut ann);
        let mut burst = Burst::default();
        burst.push(&other, &ann_name, said(9));
        hub.flush(&mut burst);
        assert_eq!(seqs(&mut ann), [("other".into(), 1)]);
    }

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
        hub.join_with_backlog("bob", "rust", 5, backlog).unwrap();
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

    /// A client leaving the server leaves every room it was in, each told why.
    #[test]
    fn leaving_tells_every_room_why() {
        let hub = Hub::new();
        let (mut ann, _) = member(&hub, "ann", "a");
        hub.join("ann", "b", 0).unwrap();
        let (mut bob, _) = member(&hub, "bob", "a");
        hub.join("bob", "b", 0).unwrap();
        frames(&mut ann);
        frames(&mut bob);
        hub.leave("bob", &LeaveReason::TimedOut("no pong".into()), 3);
        let told: Vec<(String, LeftReason)> = frames(&mut ann)
            .into_iter()
            .map(|f| match f {
                ServerFrame::UserLeft { room, reason, .. } => (room, reason),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            told,
            [
                ("a".to_owned(), LeftReason::TimedOut),
                ("b".to_owned(), LeftReason::TimedOut)
            ]
        );
        assert_eq!(
            hub.rooms(),
            [
                RoomSummary {
                    name: "a".into(),
                    members: 1
                },
                RoomSummary {
                    name: "b".into(),
                    members: 1
                }
            ]
        );
    }

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

    /// Once the shutdown notice went out, nobody hears of joins or parts any more, and
    /// rooms can no longer be joined.
    #[test]
    fn nothing_is_announced_after_the_shutdown_notice() {
        let hub = Hub::new();
        let (mut ann, room) = member(&hub, "ann", "ops");
        let (mut bob, _) = member(&hub, "bob", "ops");
        frames(&mut ann);
        hub.close(&ServerFrame::System {
            text: "server shutting down".into(),
            at: 0,
        })
        .unwrap();
        frames(&mut ann);
        frames(&mut bob);
        hub.part("bob", &room, 1).unwrap();
        assert_eq!(
            frames(&mut bob),
            [ServerFrame::Parted { room: "ops".into() }]
        );
        assert_eq!(hub.join("bob", "ops", 2), Err(RoomError::ShuttingDown));
        hub.leave("ann", &LeaveReason::ShuttingDown, 3);
        assert_eq!(frames(&mut ann), [], "ann heard nothing after the notice");
        assert_eq!(hub.rooms(), [], "the room ended with its last member");
    }

    /// A burst says it is full at its frame limit, so a client that never pauses still has
    /// its messages delivered in bounded pieces.
    #[test]
    fn a_burst_is_full_at_its_frame_limit() {
        let mut burst = Burst::default();
        let room = JoinedRoom {
            key: "lobby".into(),
            name: "lobby".into(),
        };
        let ann: Arc<str> = "ann".into();
        for i in 1..Burst::MAX_FRAMES {
            burst.push(&room, &ann, said(i as i64));
        }
        assert!(!burst.is_full());
        burst.push(&room, &ann, said(0));
        assert!(burst.is_full());
        assert_eq!(burst.len(), Burst::MAX_FRAMES);
    }
}
