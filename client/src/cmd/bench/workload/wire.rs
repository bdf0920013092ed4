//! A person's connection, whichever server it speaks to: the socket's halves, the messages
//! it can send (one template per room) and how what arrives is cut into messages. The one
//! place where chat-server and nats-server differ for the workload; connecting and decoding
//! for each are [`super::chat`] and [`super::nats`].

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use chat_proto::codec::FrameCodec;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::super::stamp::MsgTemplate;
use super::{chat, nats};

/// Read-buffer growth for a person: one read takes what the server wrote since the last.
pub const CHUNK: usize = 16 * 1024;

/// Which server the run speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// chat-server, our own protocol: a room per room.
    Chat,
    /// nats-server, its text protocol: a subject per room.
    Nats,
}

/// A connected person in its rooms.
#[derive(Debug)]
pub struct Link {
    /// The socket's read half.
    pub read: OwnedReadHalf,
    /// The socket's write half.
    pub write: OwnedWriteHalf,
    /// Bytes read and not yet decoded.
    pub buf: BytesMut,
    /// How to cut them into messages.
    pub wire: Wire,
    /// The person's rooms as the server names them in the messages it delivers, in the
    /// order asked for.
    pub rooms: Vec<Vec<u8>>,
    /// A message to each room, encoded once, the stamp written in per send.
    pub templates: Vec<MsgTemplate>,
}

/// The decoding side of a protocol.
#[derive(Debug)]
pub enum Wire {
    /// Length-prefixed chat frames.
    Chat(FrameCodec),
    /// NATS protocol lines.
    Nats,
}

/// What arrived, as far as the workload cares.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A message to one of the person's rooms: the room's name and the text.
    Msg {
        /// The room (chat) or subject (NATS).
        room: &'a [u8],
        /// The text, a stamp if it is the workload's.
        text: &'a [u8],
    },
    /// The server asks whether we are alive.
    Ping,
    /// The server reports an error.
    Error(String),
}

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
