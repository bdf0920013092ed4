//! chat-server: rooms, typed frames, encode-once broadcast.
//!
//! A map of the crate, in the order a frame meets it:
//!
//! - [`cli`] and [`config`]: flags, then `config.ini`, then built-in defaults, into one [`Config`].
//! - [`server`]: the wiring and the graceful shutdown ([`run`] is its entry point);
//!   [`listener`]: where connections come in, chat port and web port alike (accept,
//!   TLS, limits); [`admission`]: the connection limits it checks first.
//! - [`connection`]: one client; a reader loop (handshake, then commands) and a writer task
//!   that owns the socket's write half and the client's bounded queue ([`outbox`]). Beside it,
//!   [`watchdog`] (handshake timeout, keepalive) and [`flood`] (rate limits).
//! - [`auth`]: the optional server password, compared in constant time;
//!   [`login_backoff`]: failed passwords per address, which slow the next attempts;
//!   [`accounts`]: the pieces accounts are built from (argon2id passwords, their policy,
//!   device session tokens), not yet reached from the handshake.
//! - [`tls`]: the optional `[tls]` certificate; the handshake each connection makes first.
//! - [`commands`]: one file per client frame, reached through one exhaustive `match`.
//! - [`hub`]: who is where, and the fan-out; encodes once and queues the same bytes to every
//!   member of a room, in one order per room for everyone.
//! - [`room`]: one room's members; [`registry`]: who is online, by case-insensitive name,
//!   and in which rooms; [`roster`]: in a cluster, the people of the other nodes.
//! - `cluster` (the `cluster` feature, on by default): with `[cluster]` set, one chat
//!   across nodes through NATS, started by one call (`cluster::start`): presence with
//!   heartbeats, names unique across nodes and whispers to other nodes' people, reached by
//!   the commands only through [`peers`]; without `[cluster]`, never touched.
//! - [`web`]: with `[http]`, the browser's page and its WebSocket (served by the same
//!   [`connection`] code as TCP), `/healthz` and `/metrics`; [`metrics`]: the counters it
//!   shows, kept by the hub; [`counted`]: the socket wrapper that counts bytes.
//! - [`log`]: the room log, every message with its per-room `seq`, behind one trait
//!   ([`log::RoomLog`]) with three implementations: history off, [`log::SqliteLog`] (one
//!   SQLite file, group commit) and [`log::jetstream`] (a cluster's streams in NATS). The
//!   hub is its one handler ([`log::Deliveries`]).
//!
//! - [`moderation`]: room roles and settings, bans, mutes, suspensions and the audit log,
//!   kept in the same store as the accounts; the hub applies what they change.
//!
//! - [`clock`]: the server's clock, the only source of every `at`.
//!
//! The binary (`main.rs`) only wires these together; tests call [`run`] in-process with a
//! shutdown future they control.

pub mod accounts;
pub mod admission;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod connection;
pub mod counted;
pub mod current;
pub mod flood;
pub mod hub;
pub mod listener;
pub mod log;
pub mod login_backoff;
pub mod metrics;
pub mod moderation;
pub mod outbox;
pub mod peers;
pub mod queued_bytes;
pub mod registry;
pub mod reload;
pub mod room;
pub mod roster;
pub mod server;
pub mod tls;
pub mod wakes;
pub mod watchdog;
pub mod web;

pub use config::Config;
pub use server::{accounts_in, bind, open_accounts, open_store, run, Reloads};
