//! chat-client: talk to a `chat-server` from scripts and from the terminal.
//!
//! - [`Client`] knows where the server is and its limits; [`Client::connect`] registers a
//!   name and gives a [`Session`], the only type that can talk once `Welcome` has arrived.
//! - [`Session`] has typed requests ([`Session::request`] and its wrappers
//!   [`Session::join`], [`Session::part`], [`Session::say`], [`Session::whisper`],
//!   [`Session::users`], [`Session::rooms`], [`Session::members`], [`Session::page`]) that
//!   wait for the server's answer, the raw [`Session::next_frame`] for programs that follow
//!   their rooms, and [`Session::bye`]. A new session is in no room until it joins one.
//! - [`catchup`]: the backlog of a join and the paging past the server's cap, so a follower
//!   of rooms shows each message once, in order (`listen --history/--after`, the REPL).
//! - [`render`]: server frames as the lines and JSON lines people and scripts read.
//! - [`transport`]: plain TCP or TLS under a session, and which CAs a TLS client trusts.
//! - [`cli`], [`settings`], [`cmd`]: the `chat-client` command line, one file per subcommand.
//!
//! ```no_run
//! # async fn demo() -> Result<(), chat_client::ClientError> {
//! let client = chat_client::Client::new("localhost", 6969);
//! let mut session = client.connect("alice").await?;
//! let lobby = session.join("lobby").await?; // lobby.members: who is there, alice included
//! session.say("lobby", "hello").await?; // returns once the server has broadcast it back
//! session.bye().await?;        // returns once the server has freed the name
//! # Ok(()) }
//! ```

pub mod catchup;
pub mod cli;
pub mod cmd;
pub mod render;
pub mod settings;
pub mod transport;

mod client;
mod error;
mod session;

use std::time::Duration;

pub use client::{Client, Password};
pub use error::ClientError;
pub use session::{checked_room, room_position, Page, Reply, Room, Session};

/// How long a request waits for its answer unless told otherwise: long enough for a busy
/// server, short enough that a script does not hang on a dead one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a session waits without hearing from the server before it sends `Ping`; then
/// the server has the session's timeout to answer, or the session ends with
/// [`ClientError::Timeout`]. Longer than the server's own `ping_interval` (30 s by default),
/// so that with a live server its pings arrive first and this one is never needed; a dead
/// server or a broken path is noticed within about a minute.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(45);
