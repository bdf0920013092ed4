//! Where moderation records are kept: a value per key, read whole and changed whole, by
//! one edit at a time per key. Alone, a table of the SQLite file ([`crate::log::sqlite`]);
//! in a cluster, a JetStream key-value bucket (`crate::cluster::rules`), whose watch tells
//! every node of every change within the second.
//!
//! The store knows nothing of what a record says: [`super::Moderation`] reads and writes
//! them as JSON, so that both stores keep exactly the same thing.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// The key of the server-wide record; no room's key can be it (a room name has no `=`).
pub const SERVER_KEY: &str = "=server";

/// The key of the record of the room with key `room_key`.
pub fn room_key(room_key: &str) -> String {
    format!("room.{}", room_key.replace('.', "=2e"))
}

/// The room key of a record's key, or `None` for the server's.
pub fn room_of(key: &str) -> Option<String> {
    key.strip_prefix("room.")
        .map(|room| room.replace("=2e", "."))
}

/// An edit: the value now (`None`: none yet) to the value to write, or why not. Called
/// again, with the value read again, when someone else wrote between the read and the
/// write.
pub type Edit = Box<dyn FnMut(Option<&[u8]>) -> Result<Vec<u8>, EditError> + Send>;

/// A change someone made: the key and its value now.
pub type Changed = (String, Vec<u8>);

/// Why an edit was not written.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The edit refused (not allowed, nothing to change): nothing was written.
    #[error("{0}")]
    Refused(#[from] super::ModError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreFailed),
}

/// The store failed: SQLite, NATS, or a value that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the moderation store failed: {0}")]
pub struct StoreFailed(pub String);

/// The records, wherever they are kept.
pub trait RulesStore: Send + Sync + fmt::Debug {
    /// Every record.
    fn load(&self) -> BoxFuture<'static, Result<Vec<Changed>, StoreFailed>>;

    /// Changes the record `key` with `edit` and returns the value written.
    fn edit(&self, key: String, edit: Edit) -> BoxFuture<'static, Result<Vec<u8>, EditError>>;

    /// The changes anyone makes from now on, where others share the store (`None` alone).
    fn changes(
        &self,
    ) -> Option<BoxFuture<'static, Result<BoxStream<'static, Changed>, StoreFailed>>>;
}

/// A store as the service holds it.
pub type SharedRules = Arc<dyn RulesStore>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keys_round_trip_and_never_meet_the_servers() {
        for room in ["lobby", "rust.lang", "a.b.c"] {
            assert_eq!(room_of(&room_key(room)).as_deref(), Some(room));
        }
        assert_eq!(room_of(SERVER_KEY), None);
    }
}
