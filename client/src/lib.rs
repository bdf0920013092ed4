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
//! - [`render`]: server frames and answers as the lines ([`render::text`]) and JSON lines
//!   ([`render::json`](mod@render::json)) people and scripts read, and every printer that
//!   writes them to stdout ([`render::print`](mod@render::print)).
//! - [`transport`]: plain TCP or TLS under a session, and which CAs a TLS client trusts.
//! - [`cli`], [`settings`], [`cmd`], [`dispatch`]: the `chat-client` command line: [`cli`]
//!   composes the shared flags ([`settings::Args`]) and each subcommand's own (one file per
//!   subcommand in [`cmd`]); [`dispatch`] runs what was parsed.
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
pub mod dispatch;
pub mod render;
pub mod settings;
pub mod tokens;
pub mod transport;

mod client;
mod error;
mod keepalive;
mod reply;
mod session;

pub use client::{Client, Password, DEFAULT_TIMEOUT};
pub use error::ClientError;
pub use keepalive::DEFAULT_KEEPALIVE;
pub use reply::{Page, Reply, Room};
pub use session::{checked_room, room_position, Session};
