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
use std::time::Duration;

use bytes::Bytes;
use chat_proto::validate::name_key;
use chat_proto::{EncodedFrame, LeftReason};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What a client's queue holds: whole frames, one or a burst encoded back to back, shared by
/// every recipient.
///
/// Behind an `Arc` so a queue slot is one pointer: tokio's queue allocates its slots 32 at a
/// time and keeps what it grew to, so with `Bytes` (four words) a client that once had a
/// burst of notices queued would keep a kilobyte per 32 of them for good.
pub type Wire = Arc<Bytes>;

/// The sending end of one client's bounded outbound queue, plus the switch that marks the
/// client as too slow.
///
/// Every frame for a client, its own replies included, goes through [`Outbox::offer`], which
/// never waits: a full queue means the client stopped reading, and waiting for it would
/// let one reader stall everyone who talks.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The queue the client's writer task drains: wire bytes of one frame, or of a burst of
    /// broadcasts encoded back to back ([`crate::hub::Burst`]).
    queue: mpsc::Sender<Wire>,
    /// Cancelled once the queue overflowed: the connection then leaves as a slow consumer,
    /// and nothing more is queued, so the client never sees a gap followed by more messages.
    overflowed: CancellationToken,
    /// Woken by the writer each time it takes frames out of the queue, for
    /// [`Outbox::wait_for_room`].
    drained: Arc<Notify>,
}

/// What became of a frame offered to an [`Outbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the queue; the writer will send it.
    Queued,
    /// The queue was full: the client is now marked as a slow consumer.
    Overflowed,
    /// Not queued: the client had already overflowed or its writer is gone (it is leaving).
    Dropped,
}

impl Outbox {
    /// Wraps a queue's sender and the token that marks the queue as overflowed.
    pub fn new(queue: mpsc::Sender<Wire>, overflowed: CancellationToken) -> Self {
        Outbox {
            queue,
            overflowed,
            drained: Arc::default(),
        }
    }

    /// What the writer wakes after each batch it takes out of the queue
    /// (`Notify::notify_waiters`), so that [`Outbox::wait_for_room`] needs no polling.
    pub fn drained(&self) -> Arc<Notify> {
        self.drained.clone()
    }

    /// Queues `frame` without waiting.
    pub fn offer(&self, frame: EncodedFrame) -> Delivery {
        self.offer_wire(Arc::new(frame.into_bytes()))
    }

    /// Whether less than half of the queue is free. The client's own requests then wait
    /// ([`Outbox::wait_for_room`]): a client that sends a burst of requests must not have
    /// their answers overflow its own queue while it is reading them.
    pub fn is_congested(&self) -> bool {
        self.queue.capacity() < self.queue.max_capacity().div_ceil(2)
    }

    /// Waits until half of the queue is free again. After `limit` the client is not reading:
    /// it is marked as overflowed (a slow consumer) and `false` is returned.
    ///
    /// Woken by the writer ([`Outbox::drained`]) rather than reserving slots, which would take
    /// freed slots away from broadcasts to this client. The wake-up is registered before the
    /// queue is looked at, so a batch taken in between cannot be missed.
    pub async fn wait_for_room(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if !self.is_congested() || self.queue.is_closed() {
                return true;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                self.overflowed.cancel();
                return false;
            }
        }
    }

    /// Queues whole frames, already encoded back to back, without waiting; one queue entry.
    pub fn offer_wire(&self, wire: Wire) -> Delivery {
        if self.overflowed.is_cancelled() {
            return Delivery::Dropped;
        }
        match self.queue.try_send(wire) {
            Ok(()) => Delivery::Queued,
            Err(TrySendError::Full(_)) => {
                self.overflowed.cancel();
                Delivery::Overflowed
            }
            Err(TrySendError::Closed(_)) => Delivery::Dropped,
        }
    }
}

/// A registered client, as everyone else's commands see it.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    /// The name as its owner typed it: what others see in `from` and in the user list.
    name: Arc<str>,
    /// Where the client connected from, for log lines about it.
    peer: SocketAddr,
    /// The way to the client's socket.
    outbox: Outbox,
}

impl ClientHandle {
    /// A handle for `name`, reaching the client through `outbox`.
    pub fn new(name: Arc<str>, peer: SocketAddr, outbox: Outbox) -> Self {
        ClientHandle { name, peer, outbox }
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
    /// The connection broke: a read error or a frame cut off mid-way.
    Broken(String),
    /// A deadline passed: no `Hello` in time, or no answer to a `Ping`.
    TimedOut(String),
}

impl LeaveReason {
    /// What the people in the client's rooms are told ([`chat_proto::ServerFrame::UserLeft`]).
    pub fn told_as(&self) -> LeftReason {
        match self {
            LeaveReason::Bye => LeftReason::Quit,
            LeaveReason::Closed | LeaveReason::Broken(_) | LeaveReason::ShuttingDown => {
                LeftReason::Disconnected
            }
            LeaveReason::SlowConsumer => LeftReason::SlowConsumer,
            LeaveReason::Refused(_) => LeftReason::Refused,
            LeaveReason::TimedOut(_) => LeftReason::TimedOut,
        }
    }

    /// Whether the leave points at a misbehaving or failing peer, logged as a warning.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            LeaveReason::SlowConsumer
                | LeaveReason::Refused(_)
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
            LeaveReason::Refused(why) => write!(f, "refused: {why}"),
            LeaveReason::Broken(why) => write!(f, "connection broken: {why}"),
            LeaveReason::TimedOut(why) => write!(f, "timed out: {why}"),
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

/// A registered client and the rooms it is in.
#[derive(Debug)]
pub struct Member {
    /// The way to reach it.
    pub handle: ClientHandle,
    /// Its name key, shared with the member maps of its rooms.
    pub key: Arc<str>,
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

    /// Registers `handle`, in no room yet, unless its name, in any case, is taken.
    pub fn add(&mut self, handle: ClientHandle) -> Result<(), NameTaken> {
        use std::collections::hash_map::Entry;
        let key: Arc<str> = name_key(&handle.name).into();
        match self.clients.entry(key.clone()) {
            Entry::Occupied(taken) => Err(NameTaken {
                taken: taken.get().handle.name.clone(),
            }),
            Entry::Vacant(slot) => {
                slot.insert(Member {
                    handle,
                    key,
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
        let (name, peer) = (&member.handle.name, member.handle.peer);
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

    /// Every registered name as typed, sorted case-insensitively.
    pub fn names(&self) -> Vec<String> {
        let mut keyed: Vec<_> = self.clients.iter().collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        keyed
            .into_iter()
            .map(|(_, m)| m.handle.name.to_string())
            .collect()
    }

    /// How many clients are registered.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Every registered client, in no particular order.
    pub fn handles(&self) -> impl Iterator<Item = &ClientHandle> {
        self.clients.values().map(|m| &m.handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(name: &str) -> (ClientHandle, mpsc::Receiver<Wire>) {
        let (tx, rx) = mpsc::channel(2);
        let outbox = Outbox::new(tx, CancellationToken::new());
        let peer = "127.0.0.1:1".parse().unwrap();
        (ClientHandle::new(name.into(), peer, outbox), rx)
    }

    #[test]
    fn names_are_unique_in_any_case_and_listed_as_typed_in_order() {
        let mut registry = Registry::new();
        for name in ["bob", "Ann", "carol"] {
            registry.add(handle(name).0).unwrap();
        }
        let err = registry.add(handle("ANN").0).unwrap_err();
        assert_eq!(&*err.taken, "Ann");
        assert_eq!(registry.names(), ["Ann", "bob", "carol"]);
        assert_eq!(registry.get("BOB").map(|h| &**h.name()), Some("bob"));
        assert!(registry.remove("aNN", &LeaveReason::Bye).is_some());
        assert!(registry.remove("ann", &LeaveReason::Bye).is_none());
        registry.add(handle("ann").0).unwrap();
        assert_eq!(registry.len(), 3);
    }

    #[test]
    fn a_full_queue_marks_the_client_and_queues_nothing_more() {
        let (client, mut rx) = handle("ann");
        let frame = chat_proto::codec::encode(&chat_proto::ServerFrame::Pong).unwrap();
        assert_eq!(client.offer(frame.clone()), Delivery::Queued);
        assert_eq!(client.offer(frame.clone()), Delivery::Queued);
        assert_eq!(client.offer(frame.clone()), Delivery::Overflowed);
        rx.try_recv().unwrap();
        // Room again, but the client already missed a frame: it gets nothing more.
        assert_eq!(client.offer(frame), Delivery::Dropped);
    }
}
