//! What travels on the presence subject: one event per change, heartbeat, snapshot chunk,
//! request or goodbye, in bincode, and how a snapshot is cut into chunks.

use serde::{Deserialize, Serialize};

use super::CHUNK_BYTES;
use crate::roster::{Change, Person};

/// What goes on [`SUBJECT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Event {
    /// The node is alive; `version` is its last change.
    Beat {
        node: String,
        incarnation: u64,
        version: u64,
    },
    /// One change of the node's people.
    Change {
        node: String,
        incarnation: u64,
        version: u64,
        change: Change,
    },
    /// A part of the node's snapshot at `version`; `last` ends it.
    State {
        node: String,
        incarnation: u64,
        version: u64,
        chunk: u32,
        last: bool,
        people: Vec<Person>,
    },
    /// `from` asks `of` (every node when `None`) for its snapshot; `lost`: `from` had taken
    /// `of` for lost and freed its names, which `of` should claim again.
    Sync {
        from: String,
        of: Option<String>,
        lost: bool,
    },
    /// The node is stopping.
    Gone { node: String, incarnation: u64 },
}

impl Event {
    /// As sent.
    pub(super) fn to_payload(&self) -> bytes::Bytes {
        bincode::serialize(self)
            .map(bytes::Bytes::from)
            .unwrap_or_default()
    }
}

/// `people` cut into runs of at most [`CHUNK_BYTES`] of names (each string counted with its
/// 8-byte length); at least one run, maybe empty, so that a node with nobody says so too.
pub(super) fn chunks(people: &[Person]) -> Vec<&[Person]> {
    let size = |p: &Person| 16 + p.name.len() + p.rooms.iter().map(|r| 8 + r.len()).sum::<usize>();
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, person) in people.iter().enumerate() {
        if bytes + size(person) > CHUNK_BYTES && i > start {
            runs.push(&people[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size(person);
    }
    runs.push(&people[start..]);
    runs
}
