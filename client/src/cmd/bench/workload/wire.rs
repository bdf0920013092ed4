//! The one place where chat-server and nats-server differ for the workload: connecting a
//! person ([`connect`]) and cutting what arrives into messages ([`Wire::decode`]) are
//! [`super::chat`]'s or [`super::nats`]'s, chosen here; what a connection is, `link.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;

use super::link::{Incoming, Link, Proto, Wire};
use super::{chat, nats};

/// Connects `name` to the server at `addr` and puts it in `rooms` (chat rooms, or NATS
/// subjects), within `wait`; each message it will send is `size` bytes of text.
pub async fn connect(
    proto: Proto,
    addr: SocketAddr,
    name: &str,
    rooms: &[String],
    size: usize,
    wait: Duration,
) -> anyhow::Result<Link> {
    match proto {
        Proto::Chat => chat::connect(addr, name, rooms, size, wait).await,
        Proto::Nats => nats::connect(addr, name, rooms, size, wait).await,
    }
}

impl Wire {
    /// Calls `on` for each whole frame at the start of `buf` and removes it; an error when
    /// the stream cannot be read any further.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        on: impl FnMut(Incoming<'_>),
    ) -> Result<(), String> {
        match self {
            Wire::Chat(codec) => chat::decode(codec, buf, on),
            Wire::Nats => nats::decode(buf, on),
        }
    }

    /// Appends the answer to a ping to `out`.
    pub fn pong(&self, out: &mut Vec<u8>) {
        match self {
            Wire::Chat(_) => chat::pong(out),
            Wire::Nats => out.extend_from_slice(b"PONG\r\n"),
        }
    }
}
