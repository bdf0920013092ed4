//! Accounts: names that belong to someone, kept by a password and resumed by device
//! sessions.
//!
//! The pieces, each on its own so that the stores and the handshake can be built on them:
//! - [`store`]: where accounts and sessions are kept, behind one trait: alone, the SQLite
//!   file's accounts and sessions tables ([`crate::log::sqlite::SqliteAccountStore`]); in a
//!   cluster, a JetStream key-value bucket (`crate::cluster::accounts`);
//! - [`password`]: argon2id hashing at OWASP's parameters, off the async runtime and bounded
//!   in how many run at once, with a dummy hash for names that have no account so that a
//!   login takes as long either way;
//! - [`policy`]: what a new password must be (long enough, not one of the most common);
//! - [`token`]: device session tokens, 256 random bits of which the server keeps only the
//!   SHA-256, so that a stolen store signs nobody in.
//!
//! - [`admin`]: the operator's `chat-server account add|delete|list`;
//! - [`service`]: what the commands ask of accounts, and closing the connections of a
//!   session that ends;
//! - [`settings`]: the `[accounts]` section of `config.ini`.
//!
//! No secret is ever printed: [`password::Secret`] and [`chat_proto::SessionToken`] redact
//! themselves in `Debug` and have no `Display`.

pub mod admin;
pub mod password;
pub mod policy;
pub mod service;
pub mod settings;
pub mod store;
pub mod token;

pub use service::{Accounts, AccountsError, SignedIn};
