//! The broadcast seam: everything that reaches more than the client who asked.
//!
//! A frame for several clients is encoded once ([`chat_proto::codec::encode`]) and the same
//! bytes are offered to each client's queue. A room message does not come here from the
//! commands: they hand a [`Burst`](crate::log::Burst) to the room log
//! ([`crate::log::RoomLog`]), which gives it its seqs (and stores it, where history is kept)
//! and hands it back through [`Deliveries`], which the hub implements. The hub never knows
//! which log is behind it.
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
//!
//! **Where things are.** This file holds the [`Hub`], the `State` its one lock guards,
//! its [`Limits`], and registering, leaving and closing. Every change to the state beyond
//! setting one field is a method of `State`, so that a [`Hub`] method takes the lock and
//! calls one of them: `state` holds what every change shares (registering, leaving,
//! closing, taking a member out of a room, numbering a change for the cluster), `rooms`
//! joining, parting and the listings, `fanout` every delivery to a room or a person, and
//! `remote` the people of other nodes. They use what is here; nothing here uses them but
//! through `State`'s methods.

mod fanout;
mod remote;
mod rooms;
mod sanctions;
mod state;
#[cfg(test)]
mod testing;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use chat_proto::codec::encode;
use chat_proto::{CodecError, EncodedFrame, Millis, ServerFrame};

use crate::config::Config;
use crate::log::{Deliveries, Spoken};
use crate::metrics::Metrics;
use crate::outbox::Wire;
use crate::registry::{sorted_names, ClientHandle, LeaveReason, NameTaken, Registry};
use crate::room::{JoinedRoom, Room, RoomError};
use crate::roster::{Feed, Roster};

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
    /// What the hub enforces; a reload may change it ([`Hub::set_limits`]).
    limits: RwLock<Limits>,
    /// The server's counters, for `/metrics`: kept here, where every part that counts
    /// already holds the hub.
    metrics: Metrics,
}

/// What the hub's lock guards. Its changes are its own methods, one per change, in the
/// files beside this one.
#[derive(Debug, Default)]
struct State {
    /// Who is online, and in which rooms.
    registry: Registry,
    /// [`room_key`](chat_proto::validate::room_key) → room; a room exists while it has
    /// members.
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

impl Hub {
    /// No rooms, no limits but the built-in `announce_up_to` of 0 (always announce).
    pub fn new() -> Self {
        Hub::default()
    }

    /// A hub enforcing `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        Hub {
            state: Mutex::default(),
            limits: RwLock::new(limits),
            metrics: Metrics::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the limits (a reload): the next join and the next `Welcome` go by them;
    /// whoever is past a lower limit already stays where they are.
    pub fn set_limits(&self, limits: Limits) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = limits;
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

    /// Registers `handle` (in no room yet) and queues its `Welcome`, after `signed_in`: an
    /// account's `SignedIn` and the account's id.
    ///
    /// Returns how many are online, the newcomer included.
    pub fn register(
        &self,
        handle: ClientHandle,
        peer: SocketAddr,
        signed_in: Option<(&ServerFrame, i64)>,
    ) -> Result<usize, JoinError> {
        self.state()
            .register(handle, peer, signed_in, &self.limits())
    }

    /// Whether someone is registered on this node as `name`, in any case.
    pub fn is_online(&self, name: &str) -> bool {
        self.state().registry.get(name).is_some()
    }

    /// Removes `name` with `reason` (logged) and, unless the server is stopping, tells each
    /// of its rooms that it left and why.
    pub fn leave(&self, name: &str, reason: &LeaveReason, at: Millis) {
        self.state().leave(name, reason, at, &self.limits());
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

    /// Refuses further joins and queues `notice` to everyone; returns how many were told.
    pub fn close(&self, notice: &ServerFrame) -> Result<usize, CodecError> {
        let notice = wire(encode(notice)?);
        Ok(self.state().close(&notice))
    }
}

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

/// A count on the wire, where it is a `u32`.
fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A frame as a queue entry.
fn wire(frame: EncodedFrame) -> Wire {
    Arc::new(frame.into_bytes())
}

#[cfg(test)]
mod tests {
    use chat_proto::{LeftReason, RoomSummary};

    use super::testing::{frames, member};
    use super::*;

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
}
