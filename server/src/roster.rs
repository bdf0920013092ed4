//! People on the cluster's other nodes, as this node's hub knows them, and the changes to
//! this node's own people that the other nodes hear.
//!
//! ```text
//!  this node:  hub.register / join / part / leave ──(version, Change)──► feed ──► NATS
//!  other node: NATS ──► cluster::presence ──► hub.remote_change / remote_state / remote_drop
//! ```
//!
//! The hub numbers its own changes (`version`, 1, 2, ...) under the same lock that makes
//! them, and a snapshot ([`crate::hub::Hub::local_people`]) carries the version it was
//! taken at: a node that hears a snapshot and then the changes after it ends with exactly
//! this node's state, whatever it missed before. A person on another node is a member of
//! this node's rooms without a queue: listed, announced, never sent to.

use std::collections::HashMap;
use std::sync::Arc;

use chat_proto::LeftReason;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A change to who is online on a node, or in which rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// `name` registered.
    Online {
        /// As typed.
        name: String,
    },
    /// `name` left every room and went offline.
    Offline {
        /// As typed.
        name: String,
        /// Why, as its rooms are told.
        reason: LeftReason,
    },
    /// `name` joined `room`.
    Joined {
        /// As typed.
        name: String,
        /// The room as shown.
        room: String,
    },
    /// `name` parted `room`.
    Parted {
        /// As typed.
        name: String,
        /// The room as shown.
        room: String,
    },
}

/// One person of a node and its rooms: a snapshot's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// As typed.
    pub name: String,
    /// Every room it is in, as shown.
    pub rooms: Vec<String>,
}

/// Where the hub sends its numbered changes: the presence task, which publishes them in
/// order.
pub type Feed = mpsc::UnboundedSender<(u64, Change)>;

/// A person on another node, as the hub holds it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// As typed.
    pub name: Arc<str>,
    /// [`chat_proto::validate::room_key`] of each room it is in.
    pub rooms: Vec<Arc<str>>,
}

/// Everyone on the other nodes: node → name key → person.
#[derive(Debug, Default)]
pub struct Roster {
    /// By node name.
    nodes: HashMap<String, HashMap<Arc<str>, Remote>>,
}

impl Roster {
    /// The person with name key `key` on `node`.
    pub fn get(&self, node: &str, key: &str) -> Option<&Remote> {
        self.nodes.get(node)?.get(key)
    }

    /// Puts (or replaces) a person on `node`.
    pub fn insert(&mut self, node: &str, key: Arc<str>, person: Remote) {
        self.nodes
            .entry(node.to_owned())
            .or_default()
            .insert(key, person);
    }

    /// Takes the person with name key `key` off `node`.
    pub fn remove(&mut self, node: &str, key: &str) -> Option<Remote> {
        let people = self.nodes.get_mut(node)?;
        let person = people.remove(key);
        if people.is_empty() {
            self.nodes.remove(node);
        }
        person
    }

    /// The name keys of everyone on `node`.
    pub fn keys_of(&self, node: &str) -> Vec<Arc<str>> {
        self.nodes
            .get(node)
            .map(|people| people.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every person on every other node, by name key.
    pub fn everyone(&self) -> impl Iterator<Item = (&Arc<str>, &Remote)> {
        self.nodes.values().flat_map(|people| people.iter())
    }

    /// Whether nobody is on any other node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
