//! Who is online: registered names, the queue that reaches each client, and the rooms each
//! one is in.
//!
//! Names are keyed case-insensitively ([`chat_proto::validate::name_key`]) and shown as their
//! owners typed them. The registry itself does no locking and no sending: the [`crate::hub`]
//! keeps it behind one `std::sync::Mutex` so that joining, leaving and every fan-out happen in
//! one order for everyone, and [`Registry::remove`] is the one place a client leaves, always
//! with a logged reason.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use chat_proto::validate::name_key;
use chat_proto::{EncodedFrame, LeftReason};

use crate::outbox::{Delivery, Eviction, Outbox, Wire};

/// A registered client, as everyone else's commands see it: two pointers, since every
/// room the client is in holds one.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    /// The name as its owner typed it: what others see in `from` and in the user list.
    name: Arc<str>,
    /// The way to the client's socket.
    outbox: Outbox,
}

impl ClientHandle {
    /// A handle for `name`, reaching the client through `outbox`.
    pub fn new(name: Arc<str>, outbox: Outbox) -> Self {
        ClientHandle { name, outbox }
    }

    /// The display name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Queues a frame for this client without waiting; see [`Outbox::offer`].
    pub fn offer(&self, frame: EncodedFrame) -> Delivery {
        self.outbox.offer(frame)
    }

    /// Queues whole frames encoded back to back; see [`Outbox::offer_wire`].
    pub fn offer_wire(&self, wire: Wire) -> Delivery {
        self.outbox.offer_wire(wire)
    }

    /// The bytes the client's queue holds; see [`Outbox::held_bytes`].
    pub fn held_bytes(&self) -> usize {
        self.outbox.held_bytes()
    }

    /// Tells the client's connection it is no longer in the room with key `key`; see
    /// [`Outbox::put_out`].
    pub fn put_out(&self, key: &str) {
        self.outbox.put_out(key);
    }

    /// Whether its connection is ending already ([`Outbox::evict`]).
    pub fn is_evicted(&self) -> bool {
        self.outbox.is_evicted()
    }

    /// Ends the client's connection once its queue is written; see [`Outbox::evict`].
    pub fn evict(&self, why: Eviction) {
        self.outbox.evict(why);
    }

    /// Drops the client as a slow consumer; see [`Outbox::shed`].
    pub fn shed(&self) -> bool {
        self.outbox.shed()
    }
}

/// Why a client left; logged by [`Registry::remove`] and, for registered clients, told to
/// the people in its rooms ([`LeaveReason::told_as`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveReason {
    /// The client said `Bye`.
    Bye,
    /// The client closed the connection between frames.
    Closed,
    /// Its queue filled up: it was not reading.
    SlowConsumer,
    /// The server is stopping.
    ShuttingDown,
    /// A refusal that ends the connection (wrong version, oversize frame, ...).
    Refused(String),
    /// Flood control ended the connection: too many frames refused within the window.
    Flooding(String),
    /// The connection broke: a read error or a frame cut off mid-way.
    Broken(String),
    /// A deadline passed: no `Hello` in time, or no answer to a `Ping`.
    TimedOut(String),
    /// An operator removed it.
    Removed,
}

impl LeaveReason {
    /// The reason as `/metrics` counts disconnects: a label, one per kind of end.
    pub fn label(&self) -> &'static str {
        match self {
            LeaveReason::Bye => "bye",
            LeaveReason::Closed => "closed",
            LeaveReason::SlowConsumer => "slow_consumer",
            LeaveReason::ShuttingDown => "shutting_down",
            LeaveReason::Refused(_) => "refused",
            LeaveReason::Flooding(_) => "flooding",
            LeaveReason::Broken(_) => "broken",
            LeaveReason::TimedOut(_) => "timeout",
            LeaveReason::Removed => "removed",
        }
    }

    /// What the people in the client's rooms are told ([`chat_proto::ServerFrame::UserLeft`]).
    pub fn told_as(&self) -> LeftReason {
        match self {
            LeaveReason::Bye => LeftReason::Quit,
            LeaveReason::Closed | LeaveReason::Broken(_) | LeaveReason::ShuttingDown => {
                LeftReason::Disconnected
            }
            LeaveReason::SlowConsumer => LeftReason::SlowConsumer,
            LeaveReason::Refused(_) | LeaveReason::Flooding(_) => LeftReason::Refused,
            LeaveReason::TimedOut(_) => LeftReason::TimedOut,
            LeaveReason::Removed => LeftReason::Removed,
        }
    }

    /// Whether the leave points at a misbehaving or failing peer, logged as a warning.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            LeaveReason::SlowConsumer
                | LeaveReason::Refused(_)
                | LeaveReason::Flooding(_)
                | LeaveReason::Broken(_)
                | LeaveReason::TimedOut(_)
        )
    }
}

impl fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaveReason::Bye => f.write_str("bye"),
            LeaveReason::Closed => f.write_str("connection closed"),
            LeaveReason::SlowConsumer => f.write_str("slow consumer"),
            LeaveReason::ShuttingDown => f.write_str("server shutting down"),
            LeaveReason::Refused(why) | LeaveReason::Flooding(why) => write!(f, "refused: {why}"),
            LeaveReason::Broken(why) => write!(f, "connection broken: {why}"),
            LeaveReason::TimedOut(why) => write!(f, "timed out: {why}"),
            LeaveReason::Removed => f.write_str("removed by an operator"),
        }
    }
}

/// The name is already registered (compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the name {taken:?} is taken")]
pub struct NameTaken {
    /// The spelling registered first.
    pub taken: Arc<str>,
}

/// The names of `people` (name key, name as typed) as typed, sorted by their keys, each key
/// once: the order of every list of people a client is sent (everyone online, a room's
/// members), whether they are on this node or, in a cluster, another.
pub fn sorted_names<'a>(people: impl Iterator<Item = (&'a Arc<str>, &'a Arc<str>)>) -> Vec<String> {
    let mut keyed: Vec<_> = people.collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    keyed
        .into_iter()
        .map(|(_, name)| name.to_string())
        .collect()
}

/// A registered client and the rooms it is in.
#[derive(Debug)]
pub struct Member {
    /// The way to reach it.
    pub handle: ClientHandle,
    /// Where it connected from, for log lines about it.
    pub peer: SocketAddr,
    /// Its name key, shared with the member maps of its rooms.
    pub key: Arc<str>,
    /// The id of the account of its name it signed in to (`None`: a guest): what a ban of
    /// the account matches, and what a room's roles belong to.
    pub account: Option<i64>,
    /// [`chat_proto::validate::room_key`] of every room it is in, in the order it joined
    /// them; short ([`crate::config::Config::rooms_per_user`]), so a list beats a set.
    pub rooms: Vec<Arc<str>>,
}

/// Registered clients by case-insensitive name.
#[derive(Debug, Default)]
pub struct Registry {
    /// [`name_key`] → the client.
    clients: HashMap<Arc<str>, Member>,
}

impl Registry {
    /// Nobody online.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers `handle`, connected from `peer` (signed in to its account when `account`)
    /// and in no room yet, unless its name, in any case, is taken.
    pub fn add(
        &mut self,
        handle: ClientHandle,
        peer: SocketAddr,
        account: Option<i64>,
    ) -> Result<(), NameTaken> {
        use std::collections::hash_map::Entry;
        let key: Arc<str> = name_key(&handle.name).into();
        match self.clients.entry(key.clone()) {
            Entry::Occupied(taken) => Err(NameTaken {
                taken: taken.get().handle.name.clone(),
            }),
            Entry::Vacant(slot) => {
                slot.insert(Member {
                    handle,
                    peer,
                    key,
                    account,
                    rooms: Vec::new(),
                });
                Ok(())
            }
        }
    }

    /// Removes `name` (any case) and logs why; the only way a client leaves the registry.
    /// The caller takes it out of the rooms it returns with.
    pub fn remove(&mut self, name: &str, reason: &LeaveReason) -> Option<Member> {
        let member = self.clients.remove(&*name_key(name))?;
        let (name, peer) = (&member.handle.name, member.peer);
        if reason.is_fault() {
            tracing::warn!(%peer, %reason, online = self.clients.len(), "{name} left");
        } else {
            tracing::info!(%peer, %reason, online = self.clients.len(), "{name} left");
        }
        Some(member)
    }

    /// The client registered as `name`, in any case.
    pub fn get(&self, name: &str) -> Option<&ClientHandle> {
        self.member(name).map(|m| &m.handle)
    }

    /// The client registered as `name`, in any case, with its rooms.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.clients.get(&*name_key(name))
    }

    /// The client registered as `name`, in any case, to change its rooms.
    pub fn member_mut(&mut self, name: &str) -> Option<&mut Member> {
        self.clients.get_mut(&*name_key(name))
    }

    /// How many clients are registered.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Every registered client with its rooms, in no particular order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.clients.values()
    }

    /// Every registered client, in no particular order.
    pub fn handles(&self) -> impl Iterator<Item = &ClientHandle> {
        self.clients.values().map(|m| &m.handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(name: &str) -> ClientHandle {
        ClientHandle::new(name.into(), crate::outbox::channel(2).0)
    }

    #[test]
    fn names_are_unique_in_any_case_and_listed_as_typed_in_order() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let mut registry = Registry::new();
        for name in ["bob", "Ann", "carol"] {
            registry.add(handle(name), peer, None).unwrap();
        }
        let err = registry.add(handle("ANN"), peer, None).unwrap_err();
        assert_eq!(&*err.taken, "Ann");
        let names = sorted_names(registry.members().map(|m| (&m.key, m.handle.name())));
        assert_eq!(names, ["Ann", "bob", "carol"]);
        assert_eq!(registry.get("BOB").map(|h| &**h.name()), Some("bob"));
        assert!(registry.remove("aNN", &LeaveReason::Bye).is_some());
        assert!(registry.remove("ann", &LeaveReason::Bye).is_none());
        registry.add(handle("ann"), peer, None).unwrap();
        assert_eq!(registry.len(), 3);
    }
}
