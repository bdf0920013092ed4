//! The changes every part of the hub shares, as methods of its [`State`]: registering,
//! leaving and closing, taking a member out of a room, and numbering each change to this
//! node's people for the cluster's feed.
//!
//! Each runs under the hub's one lock, taken by the [`Hub`](super::Hub) method that calls
//! it, which is what keeps one order per room.

use std::net::SocketAddr;
use std::sync::Arc;

use chat_proto::codec::encode;
use chat_proto::{LeftReason, Millis, ServerFrame, PROTOCOL_VERSION};

use super::fanout::{fan_out, presence};
use super::{clamp_u32, JoinError, Limits, State};
use crate::outbox::Wire;
use crate::registry::{ClientHandle, LeaveReason};
use crate::roster::Change;

/// A member by name key: connected here, or to another node. Told apart because after an
/// outage the two may briefly share a name, until the one here is evicted.
#[derive(Debug, Clone, Copy)]
pub(super) enum Who<'a> {
    /// Connected to this node.
    Here(&'a str),
    /// Connected to another node.
    Elsewhere(&'a str),
}

impl State {
    /// Numbers `change` and hands it to the feed, in a cluster: called under the lock
    /// that made it, so the numbers are the order the changes happened in.
    pub(super) fn tell(&mut self, change: impl FnOnce() -> Change) {
        if let Some(feed) = &self.feed {
            self.version += 1;
            let _ = feed.send((self.version, change()));
        }
    }

    /// Registers `handle` (in no room yet) and queues `signed_in` (an account's `SignedIn`)
    /// then its `Welcome`, which states `limits`; returns how many are online, the newcomer
    /// included.
    pub(super) fn register(
        &mut self,
        handle: ClientHandle,
        peer: SocketAddr,
        signed_in: Option<(&ServerFrame, i64)>,
        limits: &Limits,
    ) -> Result<usize, JoinError> {
        if self.closing {
            return Err(JoinError::ShuttingDown);
        }
        let welcome = ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            username: handle.name().to_string(),
            online: u32::try_from(self.registry.len() + 1).unwrap_or(u32::MAX),
            buffsize: clamp_u32(limits.buffsize),
            rooms_per_user: clamp_u32(limits.rooms_per_user),
            history: clamp_u32(limits.history),
        };
        let me = handle.clone();
        self.registry
            .add(handle, peer, signed_in.map(|(_, account)| account))?;
        if let Some(Ok(signed_in)) = signed_in.map(|(frame, _)| encode(frame)) {
            me.offer(signed_in);
        }
        if let Ok(welcome) = encode(&welcome) {
            me.offer(welcome);
        }
        self.tell(|| Change::Online {
            name: me.name().to_string(),
        });
        Ok(self.registry.len())
    }

    /// Removes `name` with `reason` (logged) and, unless the server is stopping, tells each
    /// of its rooms that it left and why.
    pub(super) fn leave(&mut self, name: &str, reason: &LeaveReason, at: Millis, limits: &Limits) {
        let Some(member) = self.registry.remove(name, reason) else {
            return;
        };
        // Nothing is announced once everyone was told the server is stopping.
        let told = (!self.closing).then(|| reason.told_as());
        for key in &member.rooms {
            self.remove_from_room(
                key,
                Who::Here(&member.key),
                member.handle.name(),
                told,
                at,
                limits,
            );
        }
        self.tell(|| Change::Offline {
            name: member.handle.name().to_string(),
            reason: reason.told_as(),
        });
    }

    /// Refuses further joins and queues `notice` to everyone; returns how many were told.
    pub(super) fn close(&mut self, notice: &Wire) -> usize {
        self.closing = true;
        fan_out(self.registry.handles(), notice, None);
        self.registry.len()
    }

    /// Takes the member `who` out of the room `key`, tells the rest why (`told`; `None`:
    /// tell nobody) within the announcement limit, and drops the room once empty.
    pub(super) fn remove_from_room(
        &mut self,
        key: &str,
        who: Who<'_>,
        name: &Arc<str>,
        told: Option<LeftReason>,
        at: Millis,
        limits: &Limits,
    ) {
        let Some(place) = self.rooms.get_mut(key) else {
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
            self.rooms.remove(key);
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
}
