//! [`ClientError`]: every way talking to a server can fail, each with what a person needs
//! to act on it. The command line adds what to try ([`crate::cmd::hint`]).

use std::time::Duration;

use chat_proto::{validate, CodecError, ErrorKind};

/// Why talking to the server failed. Each variant says what a person needs to act on it;
/// the command line adds what to try.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection: nothing listens there, or the name does not resolve.
    #[error("cannot connect to {addr}")]
    Connect {
        /// `host:port` as configured.
        addr: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed: the server's certificate is not trusted or does not name
    /// the host, or the server does not speak TLS.
    #[error("TLS handshake with {addr} failed")]
    Tls {
        /// `host:port` as configured.
        addr: String,
        /// What rustls said (inside an `io::Error`).
        #[source]
        source: std::io::Error,
    },
    /// The server did not answer in time.
    #[error("no answer from {addr} within {} s", waited.as_secs_f64())]
    Timeout {
        /// `host:port` as configured.
        addr: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The server refused a request with an `Error` frame (name taken, no such user, ...).
    #[error("{detail}")]
    Refused {
        /// What went wrong, for programs (and for the hint the command line adds).
        kind: ErrorKind,
        /// What the server said, for people.
        detail: String,
    },
    /// The server closed the connection while an answer was still due.
    #[error("{addr} closed the connection")]
    Closed {
        /// `host:port` as configured.
        addr: String,
    },
    /// A message too big for the server's `buffsize`; refused here, since the server would
    /// disconnect us for it.
    #[error("the message is {len} bytes, over the server's limit of {max} bytes")]
    TooLarge {
        /// Encoded body length of the refused frame.
        len: u64,
        /// The server's `buffsize`.
        max: usize,
    },
    /// A name the server would refuse anyway; checked before connecting.
    #[error("cannot chat as {name:?}")]
    BadName {
        /// The name asked for.
        name: String,
        /// Which rule it breaks.
        #[source]
        source: validate::NameError,
    },
    /// A room name the server would refuse anyway; checked before anything is sent.
    #[error("cannot use room {room:?}")]
    BadRoom {
        /// The room as given.
        room: String,
        /// Which rule it breaks.
        #[source]
        source: validate::RoomError,
    },
    /// The server sent a frame that makes no sense at this point of the conversation.
    #[error("{addr} does not speak the chat protocol as expected (got {frame})")]
    Unexpected {
        /// `host:port` as configured.
        addr: String,
        /// The frame, debug-printed.
        frame: String,
    },
    /// Bytes on the wire that are not frames, or a transport failure.
    #[error("connection to {addr} failed")]
    Transport {
        /// `host:port` as configured.
        addr: String,
        /// The codec's or the socket's error.
        #[source]
        source: CodecError,
    },
}
