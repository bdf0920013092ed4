//! What moderation asks of the hub: tell a room of a change, put out of a room the people
//! a kick or a ban names, close the connections a server ban or a suspension names. The
//! hub does not know what a ban is: the caller says whom it matches by their name, whether
//! they signed in to the account of that name, and their address.

use std::net::IpAddr;
use std::sync::Arc;

use chat_proto::codec::encode;
use chat_proto::validate::name_key;
use chat_proto::{ErrorKind, LeftReason, Millis, ServerFrame};

use super::fanout::fan_out;
use super::state::Who;
use super::{wire, Hub};
use crate::outbox::Eviction;
use crate::roster::Change;

/// Whom a sanction matches: `(name, the id of the account of that name they signed in to,
/// address)`.
pub trait Matches: Fn(&str, Option<i64>, IpAddr) -> bool {}

impl<F: Fn(&str, Option<i64>, IpAddr) -> bool> Matches for F {}

impl Hub {
    /// Queues `frame` to every member here of the room with key `key`.
    pub fn tell_room(&self, key: &str, frame: &ServerFrame) {
        self.tell_room_except(key, frame, None);
    }

    /// Queues `frame` to every member here of the room with key `key` but `except` (the
    /// name as registered, the very `Arc` the hub holds: someone typing is not told so).
    pub fn tell_room_except(&self, key: &str, frame: &ServerFrame, except: Option<&Arc<str>>) {
        let Ok(encoded) = encode(frame) else {
            return;
        };
        let bytes = wire(encoded);
        let state = self.state();
        if let Some(room) = state.rooms.get(key) {
            fan_out(room.handles(), &bytes, except);
        }
    }

    /// Whether `name` (any case) is in the room with key `key`, here or on another node.
    pub fn in_room(&self, key: &str, name: &str) -> bool {
        let state = self.state();
        state
            .rooms
            .get(key)
            .is_some_and(|room| room.contains(&name_key(name)))
    }

    /// Forgets that `name` (registered here) signed in to an account: it deleted the
    /// account and goes on as a guest, whom no ban of the account matches any more.
    pub fn signed_out(&self, name: &str) {
        if let Some(member) = self.state().registry.member_mut(name) {
            member.account = None;
        }
    }

    /// Takes every member here of the room with key `key` that `matches` out of it: each
    /// gets `Parted`, the rest of the room `UserLeft{reason}`. Returns how many.
    pub fn put_out(
        &self,
        key: &str,
        matches: impl Matches,
        reason: LeftReason,
        at: Millis,
    ) -> usize {
        let limits = self.limits();
        let mut state = self.state();
        let Some(room) = state.rooms.get(key) else {
            return 0;
        };
        let shown = room.name().clone();
        let out: Vec<(Arc<str>, Arc<str>)> = state
            .registry
            .members()
            .filter(|member| member.rooms.iter().any(|room| &**room == key))
            .filter(|member| matches(member.handle.name(), member.account, member.peer.ip()))
            .map(|member| (member.key.clone(), member.handle.name().clone()))
            .collect();
        for (who, name) in &out {
            let Some(member) = state.registry.member_mut(name) else {
                continue;
            };
            member.rooms.retain(|room| &**room != key);
            let handle = member.handle.clone();
            handle.put_out(key);
            if let Ok(parted) = encode(&ServerFrame::Parted {
                room: shown.to_string(),
            }) {
                handle.offer(parted);
            }
            state.remove_from_room(
                key,
                Who::Here(who),
                &name.clone(),
                Some(reason),
                at,
                &limits,
            );
            state.tell(|| Change::Parted {
                name: name.to_string(),
                room: shown.to_string(),
            });
        }
        out.len()
    }

    /// Closes every connection here that `matches`, with `Error{kind}` saying `detail`;
    /// returns how many.
    pub fn evict_matching(&self, matches: impl Matches, kind: ErrorKind, detail: &str) -> usize {
        let state = self.state();
        let mut closed = 0;
        for member in state.registry.members() {
            if member.handle.is_evicted()
                || !matches(member.handle.name(), member.account, member.peer.ip())
            {
                continue;
            }
            if let Ok(frame) = encode(&ServerFrame::Error {
                kind,
                detail: detail.to_owned(),
            }) {
                member.handle.offer(frame);
            }
            member.handle.evict(Eviction::Sanctioned);
            closed += 1;
        }
        closed
    }
}
