//! The chat wire protocol, shared by `chat-server` and every client.
//!
//! - [`frame`]: the typed frames, one enum per direction, and [`PROTOCOL_VERSION`].
//! - [`codec`]: length-prefixed bincode; the frame limit; [`codec::encode`] once for many.
//! - [`connection`]: typed reads and writes over any async byte stream.
//! - [`input`]: what a person types (`/whisper bob hi`) into what to send.
//! - [`moderation`]: who an action aims at, the actions, and what the room hears of them.
//! - [`time`]: the one unit of time on the wire.
//! - [`validate`]: the rules for names, rooms and messages.
//! - `config` (feature `config`): finding and reading `config.ini`.
//! - `logging` (feature `logging`): the house log format.
//! - `tls` (feature `tls`): reading the PEM certificates and keys TLS needs.
//!
//! ```
//! use chat_proto::{codec, ClientFrame};
//!
//! let frame = ClientFrame::Msg { room: "lobby".into(), text: "hi".into() };
//! let wire = codec::encode(&frame).unwrap();
//! let back: Vec<Result<ClientFrame, _>> = codec::decode_chunks([wire.as_bytes().as_ref()], 1024);
//! assert_eq!(back.into_iter().next().unwrap().unwrap(), frame);
//! ```
#![deny(missing_docs)]

pub mod codec;
#[cfg(feature = "config")]
pub mod config;
pub mod connection;
pub mod frame;
pub mod input;
#[cfg(feature = "logging")]
pub mod logging;
pub mod moderation;
pub mod search;
pub mod secret;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod validate;

pub use codec::{CodecError, EncodedFrame};
pub use connection::{ClientConnection, Connection, FrameReader, ServerConnection};
pub use frame::{
    Backlog, ClientFrame, Credential, Cursor, DeviceSession, ErrorKind, LeftReason, Millis, Past,
    PastKind, Reaction, Revocation, RoomSummary, ServerFrame, PROTOCOL_VERSION, TYPING_EVERY_SECS,
    TYPING_SHOWN_SECS,
};
pub use secret::{Secret, SessionToken};
