//! What a person's connection is, whichever server it speaks to: the socket's halves, the
//! messages it can send (one template per room), how what arrives is cut into messages, and
//! what arrives. Connecting and decoding for each server are `chat.rs` and `nats.rs`,
//! chosen in `wire.rs`.

use bytes::BytesMut;
use chat_proto::codec::FrameCodec;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::super::stamp::MsgTemplate;

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
