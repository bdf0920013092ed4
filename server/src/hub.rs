//! The broadcast seam: everything that reaches more than the client who asked.
//!
//! A frame for several clients is encoded once ([`chat_proto::codec::encode`]) and the same
//! bytes are offered to each client's queue. Commands and connections talk only to the
//! [`Hub`], so a hub that also reaches other nodes (through a broker) can replace this one
//! without touching them.
//!
//! **One order for everyone.** Every fan-out, join and leave runs under one `std` mutex, and a
//! fan-out only `try_send`s (it never waits), so the lock is held for a loop of queue pushes.
//! Two broadcasts from two connection tasks are therefore queued to every client in the same
//! order, and a newcomer's `Welcome` is queued before any broadcast it can see.
//!
//! A client whose queue is full is marked as a slow consumer by its [`crate::registry::Outbox`]
//! and receives nothing more; its connection then leaves with that reason. The others never
//! wait for it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chat_proto::codec::encode;
use chat_proto::{CodecError, EncodedFrame, Millis, ServerFrame, PROTOCOL_VERSION};

use crate::registry::{ClientHandle, Delivery, LeaveReason, NameTaken, Registry};

/// Why a client could not join.
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

/// The in-process hub: one room on one server.
#[derive(Debug, Default)]
pub struct Hub {
    /// The registry and the closing flag, changed together under one lock.
    state: Mutex<State>,
}

/// What the hub's lock guards.
#[derive(Debug, Default)]
struct State {
    /// Who is online.
    registry: Registry,
    /// Set once the shutdown notice went out: later joins are refused so that nobody
    /// registers without having been told.
    closing: bool,
}

impl Hub {
    /// An empty room.
    pub fn new() -> Self {
        Hub::default()
    }

    /// The state, even if a thread panicked while holding the lock: every change under it is
    /// a single map operation or a loop of non-blocking sends, so it is never half-done.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `handle`, queues its `Welcome` and tells everyone else `<name> joined`.
    ///
    /// Returns how many are online, the newcomer included.
    pub fn join(&self, handle: ClientHandle, at: Millis) -> Result<usize, JoinError> {
        let name = handle.name().clone();
        let mut state = self.state();
        if state.closing {
            return Err(JoinError::ShuttingDown);
        }
        state.registry.add(handle)?;
        let online = state.registry.len();
        let welcome = ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            username: name.to_string(),
            online: u32::try_from(online).unwrap_or(u32::MAX),
        };
        if let (Ok(welcome), Some(me)) = (encode(&welcome), state.registry.get(&name)) {
            me.offer(welcome);
        }
        let joined = system(format!("{name} joined"), at);
        fan_out(&state.registry, &joined, Some(&name));
        Ok(online)
    }

    /// Removes `name` with `reason` (logged) and, unless the server is stopping, tells
    /// everyone else `<name> left`.
    pub fn leave(&self, name: &str, reason: &LeaveReason, at: Millis) {
        let mut state = self.state();
        if state.registry.remove(name, reason).is_some() && !state.closing {
            fan_out(&state.registry, &system(format!("{name} left"), at), None);
        }
    }

    /// Queues `frame` to every registered client, encoded once.
    pub fn broadcast(&self, frame: &ServerFrame) -> Result<(), CodecError> {
        let frame = encode(frame)?;
        fan_out(&self.state().registry, &frame, None);
        Ok(())
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
        if let Some(sender) = state.registry.get(from) {
            if !Arc::ptr_eq(sender.name(), target.name()) {
                sender.offer(frame);
            }
        }
        Ok(())
    }

    /// Every registered name, sorted case-insensitively.
    pub fn users(&self) -> Vec<String> {
        self.state().registry.names()
    }

    /// Refuses further joins and queues `notice` to everyone; returns how many were told.
    pub fn close(&self, notice: &ServerFrame) -> Result<usize, CodecError> {
        let notice = encode(notice)?;
        let mut state = self.state();
        state.closing = true;
        fan_out(&state.registry, &notice, None);
        Ok(state.registry.len())
    }
}

/// A `System` notice, encoded. Encoding a short notice cannot exceed any frame limit.
fn system(text: String, at: Millis) -> EncodedFrame {
    encode(&ServerFrame::System { text, at }).expect("a system notice is far below the frame limit")
}

/// Offers the same bytes to every client, `except` one (by registered name).
fn fan_out(registry: &Registry, frame: &EncodedFrame, except: Option<&Arc<str>>) {
    for handle in registry.handles() {
        if except.is_some_and(|name| Arc::ptr_eq(name, handle.name())) {
            continue;
        }
        if handle.offer(frame.clone()) == Delivery::Overflowed {
            tracing::debug!("Queue of {} is full; dropping it", handle.name());
        }
    }
}
