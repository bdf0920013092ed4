//! One room: who is in it, under the name its first member gave it.
//!
//! In a cluster a room also lists the people of other nodes who are in it (`Room::remote`):
//! they are counted, listed and announced like anyone, but have no queue here, since their
//! own node delivers to them.
//!
//! A room holds handles to its members' queues, keyed like the registry (case-insensitive
//! names), so a fan-out to the room is one loop over its own members and never looks at the
//! rest of the server. It does no locking and no sending of its own: the [`crate::hub`] keeps
//! every room behind its one lock, which is what gives each room one order for everyone.

use std::collections::HashMap;
use std::sync::Arc;

use crate::registry::{sorted_names, ClientHandle};

/// Why a room request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// A part of, or a message to, a room the client is not in.
    #[error("you are not in #{0}")]
    NotInRoom(String),
    /// The client is in `rooms_per_user` rooms already.
    #[error("you are already in {0} rooms, the most one person may be in: part one first")]
    TooManyRooms(usize),
    /// The server holds `max_rooms` rooms already, so no new one can be made.
    #[error("the server already has {0} rooms, its limit: join an existing room")]
    RoomsFull(usize),
    /// Nobody is in a room of that name.
    #[error("there is no room #{0}")]
    NoSuchRoom(String),
    /// The server has told everyone it is stopping: rooms change no more.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// In a cluster, the room's stream could not be opened: NATS is out of reach.
    #[error("the cluster is unavailable: try again later")]
    ClusterUnavailable,
}

/// A room as a client that joined it knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRoom {
    /// [`chat_proto::validate::room_key`] of its name: what the hub finds it by.
    pub key: Arc<str>,
    /// Its name as shown, for the frames the client's messages become.
    pub name: Arc<str>,
}

/// The members of one room.
#[derive(Debug)]
pub struct Room {
    /// The name as shown: as its first member typed it (without `#`).
    name: Arc<str>,
    /// [`chat_proto::validate::name_key`] of each member → its handle.
    members: HashMap<Arc<str>, ClientHandle>,
    /// Name key → name as typed, of each member connected to another node.
    remote: HashMap<Arc<str>, Arc<str>>,
    /// The last `seq` given to a message here, when the server keeps no history (the room
    /// log numbers messages otherwise): a room made anew counts from 1 again.
    last_seq: u64,
}

impl Room {
    /// An empty room called `name`; the hub adds its first member at once.
    pub fn new(name: Arc<str>) -> Room {
        Room {
            name,
            members: HashMap::new(),
            remote: HashMap::new(),
            last_seq: 0,
        }
    }

    /// Gives the next `n` sequence numbers and returns the first (history off).
    pub fn take_seqs(&mut self, n: usize) -> u64 {
        let first = self.last_seq + 1;
        self.last_seq += n as u64;
        first
    }

    /// The name as shown.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Adds a member under its name key; `false` if it was already in.
    pub fn add(&mut self, key: Arc<str>, handle: ClientHandle) -> bool {
        self.members.insert(key, handle).is_none()
    }

    /// Adds a member of another node; `false` if it was already in.
    pub fn add_remote(&mut self, key: Arc<str>, name: Arc<str>) -> bool {
        self.remote.insert(key, name).is_none()
    }

    /// Removes the member with name key `key` connected here; `false` if it was not in.
    pub fn remove(&mut self, key: &str) -> bool {
        self.members.remove(key).is_some()
    }

    /// Removes the member of another node with name key `key`; `false` if it was not in.
    pub fn remove_remote(&mut self, key: &str) -> bool {
        self.remote.remove(key).is_some()
    }

    /// Whether the member with name key `key` is in, of this node or another.
    pub fn contains(&self, key: &str) -> bool {
        self.members.contains_key(key) || self.remote.contains_key(key)
    }

    /// How many are in, on every node.
    pub fn len(&self) -> usize {
        self.members.len() + self.remote.len()
    }

    /// How many members are connected to this node: those it delivers to.
    pub fn local_len(&self) -> usize {
        self.members.len()
    }

    /// Whether nobody is in, on any node: the hub then drops the room.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.remote.is_empty()
    }

    /// Every member's name as typed, of every node, sorted case-insensitively (by key).
    pub fn names(&self) -> Vec<String> {
        sorted_names(
            self.members
                .iter()
                .map(|(key, handle)| (key, handle.name()))
                .chain(self.remote.iter()),
        )
    }

    /// Every member, in no particular order.
    pub fn handles(&self) -> impl Iterator<Item = &ClientHandle> {
        self.members.values()
    }
}
