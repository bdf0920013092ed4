//! The cluster: several chat-server nodes joined through one NATS server (with JetStream).
//!
//! ```text
//!            ┌──────── NATS ─────────────────────────────────────────────┐
//!  node A ◄──┤ chat.log.<room>      one JetStream stream, a subject per   ├──► node B
//!            │                      room: the order, seq and history      │
//!            │ KV chat_names        who holds each name (atomic create)   │
//!            │ KV chat_accounts     accounts and device sessions (CAS)    │
//!            │ KV chat_moderation   room roles, settings, bans, audit     │
//!            │ chat.presence        heartbeats, joins, parts, snapshots   │
//!            │ chat.node.<n>.whisper whispers to one node's people        │
//!            └────────────────────────────────────────────────────────────┘
//! ```
//!
//! - [`start`]: the plug. Joins the cluster and starts what a node runs; the [`Node`] it
//!   returns gives the server its room log and the commands their narrow handles
//!   ([`crate::peers`]), and is stopped once at shutdown.
//! - [`Cluster::connect`]: the link to NATS, retried with backoff until NATS answers.
//! - Room messages are the room log's `jetstream` implementation
//!   ([`crate::log::jetstream`]), which uses this link: a node publishes each burst to its
//!   room's subject of the one stream and delivers to its own members what its one reader
//!   of the stream reads back, in stream order: one order and one `seq` on every node,
//!   history any node reads.
//! - [`presence`]: who is on which node and in which rooms; heartbeats find a node that is
//!   gone within [`presence::LOST_AFTER`].
//! - [`names`]: names unique across the cluster; [`whispers`]: to people on other nodes.
//! - [`accounts`]: accounts and their device sessions, which any node signs in and whose
//!   ends every node sees; [`rules`]: moderation records, whose changes every node applies.
//! - `failover`: the link leaves a NATS server through which JetStream stopped answering.
//!
//! Only a server with `[cluster]` set runs any of this, and only a build with the `cluster`
//! feature (on by default) has it.

pub mod settings;

#[cfg(feature = "cluster")]
pub mod accounts;
#[cfg(feature = "cluster")]
mod bucket;
#[cfg(feature = "cluster")]
mod failover;
#[cfg(feature = "cluster")]
mod link;
#[cfg(feature = "cluster")]
pub mod names;
#[cfg(feature = "cluster")]
mod node;
#[cfg(feature = "cluster")]
pub mod presence;
#[cfg(feature = "cluster")]
pub mod removals;
#[cfg(feature = "cluster")]
pub mod replicas;
#[cfg(feature = "cluster")]
pub mod rules;
#[cfg(feature = "cluster")]
pub mod whispers;

#[cfg(feature = "cluster")]
pub use link::*;
#[cfg(feature = "cluster")]
pub use names::{ClaimError, Holder, LookupError, Names};
#[cfg(feature = "cluster")]
pub use node::{start, Node};
#[cfg(feature = "cluster")]
pub use whispers::Whisper;
