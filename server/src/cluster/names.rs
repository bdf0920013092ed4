//! Names unique across the cluster: each registered name is a key in one JetStream
//! key-value bucket ([`BUCKET`]), claimed with an atomic create.
//!
//! ```text
//!  node A: Hello ann ──► create("ann", "A\nann") ──► revision 7 ──► hub.register ──► Welcome
//!  node B: Hello Ann ──► create("ann", "B\nAnn") ──► key exists  ──────────────────► NameTaken
//!  node A: ann leaves ──► delete("ann", expecting revision 7) ──► free on every node
//! ```
//!
//! Exactly one of two creates of one key succeeds, however close together, so two people
//! asking for a name on two nodes at once never both get it (no check-then-set). The key is
//! the name as compared ([`chat_proto::validate::name_key`]); every valid name is a valid
//! key (`[-/_=.a-zA-Z0-9]+`). The value is the node that holds it and the name as typed,
//! one line each ([`Holder`]): a whisper from another node finds where to go, and a list of
//! everyone shows names as their owners typed them. A node deletes only a key at the
//! revision its own create gave, so it never frees a name someone else holds now.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use chat_proto::validate::name_key;
use futures::{StreamExt, TryStreamExt};

use super::ClusterError;

/// The key-value bucket of names. One revision per key is kept (`history` 1): only who
/// holds a name now matters.
pub const BUCKET: &str = "chat_names";

/// The stream a key-value bucket named [`BUCKET`] is, as async-nats' own
/// `create_key_value` would make it with `history` 1 and nothing else set.
fn bucket_stream() -> stream::Config {
    stream::Config {
        name: format!("KV_{BUCKET}"),
        description: Some("chat-server: who holds each name, by node".to_owned()),
        subjects: vec![format!("$KV.{BUCKET}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: 1,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// Why a name could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Someone on some node holds it.
    #[error("the name is held in the cluster")]
    Taken,
    /// NATS did not answer the claim, so nobody can say whether the name is free.
    #[error("cannot claim the name in NATS: {0}")]
    Unavailable(#[source] kv::CreateError),
}

/// How many names a list of everyone reads from NATS at once.
const LIST_READS_AT_ONCE: usize = 16;

/// Why NATS could not say who holds a name, or who is online.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Reading one name's value failed.
    #[error("cannot read a name from NATS: {0}")]
    Read(#[source] kv::EntryError),
    /// Listing the names failed to start.
    #[error("cannot list the names in NATS: {0}")]
    List(#[source] kv::HistoryError),
    /// Listing the names failed midway.
    #[error("cannot list the names in NATS: {0}")]
    Listing(#[source] kv::WatcherError),
}

/// Who holds a name: a value in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The node the name's owner is connected to.
    pub node: String,
    /// The name as its owner typed it.
    pub name: String,
}

impl Holder {
    /// The value stored for it: the node, a newline, the name. A valid name has no newline,
    /// so the last one splits them whatever the node is called.
    fn value(node: &str, name: &str) -> Bytes {
        Bytes::from(format!("{node}\n{name}"))
    }

    /// Reads the value of `key`. A value without a newline (written by a node that stored
    /// only itself) names the node; the key then stands for the name.
    fn parse(key: &str, value: &[u8]) -> Holder {
        let value = String::from_utf8_lossy(value);
        match value.rsplit_once('\n') {
            Some((node, name)) => Holder {
                node: node.to_owned(),
                name: name.to_owned(),
            },
            None => Holder {
                node: value.into_owned(),
                name: key.to_owned(),
            },
        }
    }
}

/// The names bucket and the names this node holds in it.
#[derive(Debug)]
pub struct Names {
    /// The bucket.
    kv: kv::Store,
    /// This node's name, the first line of every value it creates.
    node: String,
    /// Key → the revision this node's create gave it: what a release must match.
    held: Mutex<HashMap<String, u64>>,
}

impl Names {
    /// Opens [`BUCKET`], creating it when no node has yet.
    ///
    /// The bucket's stream is made here rather than with async-nats' `create_key_value`,
    /// which first reads the account's JetStream limits in a form nats-server 2.9 (Debian's)
    /// does not send. Two nodes making it at once is fine: the same config is accepted twice.
    pub(super) async fn open(js: &jetstream::Context, node: &str) -> Result<Names, ClusterError> {
        let kv = match js.get_key_value(BUCKET).await {
            Ok(kv) => kv,
            Err(_) => {
                js.get_or_create_stream(bucket_stream())
                    .await
                    .map_err(|source| ClusterError::BucketCreate {
                        bucket: BUCKET,
                        source,
                    })?;
                js.get_key_value(BUCKET)
                    .await
                    .map_err(|source| ClusterError::BucketOpen {
                        bucket: BUCKET,
                        source,
                    })?
            }
        };
        Ok(Names {
            kv,
            node: node.to_owned(),
            held: Mutex::default(),
        })
    }

    /// Claims `name` (valid, any case) for this node: `Taken` when it is held anywhere.
    pub async fn claim(&self, name: &str) -> Result<(), ClaimError> {
        let key = name_key(name);
        match self.kv.create(&key, Holder::value(&self.node, name)).await {
            Ok(revision) => {
                self.held().insert(key, revision);
                Ok(())
            }
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => Err(ClaimError::Taken),
            Err(err) => Err(ClaimError::Unavailable(err)),
        }
    }

    /// Who holds `name` (any case) on any node, or `None` when nobody does.
    pub async fn holder(&self, name: &str) -> Result<Option<Holder>, LookupError> {
        let key = name_key(name);
        let value = self.kv.get(&key).await.map_err(LookupError::Read)?;
        Ok(value.map(|value| Holder::parse(&key, &value)))
    }

    /// Every name held on any node, as typed, sorted by key: the order of every list of
    /// people ([`crate::registry::sorted_names`]). A name given back while the list is read
    /// is left out.
    pub async fn everyone(&self) -> Result<Vec<String>, LookupError> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(LookupError::List)?
            .try_collect()
            .await
            .map_err(LookupError::Listing)?;
        let mut held: Vec<(String, String)> = futures::stream::iter(keys)
            .map(|key| async move {
                let value = self.kv.get(&key).await.map_err(LookupError::Read)?;
                Ok::<_, LookupError>(value.map(|value| {
                    let name = Holder::parse(&key, &value).name;
                    (key, name)
                }))
            })
            .buffer_unordered(LIST_READS_AT_ONCE)
            .try_filter_map(|held| async move { Ok(held) })
            .try_collect()
            .await?;
        held.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(held.into_iter().map(|(_, name)| name).collect())
    }

    /// Gives `name` back, if this node holds it: deleted only at the revision this node's
    /// claim gave it. A failure is logged; the key then stays until NATS is reached again.
    pub async fn release(&self, name: &str) {
        let key = name_key(name);
        let Some(revision) = self.held().remove(&key) else {
            return;
        };
        self.delete(&key, revision).await;
    }

    /// Gives back every name this node holds; returns how many.
    pub async fn release_all(&self) -> usize {
        let held: Vec<(String, u64)> = self.held().drain().collect();
        for (key, revision) in &held {
            self.delete(key, *revision).await;
        }
        held.len()
    }

    /// Deletes `key` if it is still at `revision`.
    async fn delete(&self, key: &str, revision: u64) {
        if let Err(err) = self.kv.delete_expect_revision(key, Some(revision)).await {
            tracing::error!("Cannot release the name {key:?} in NATS: {err}");
        }
    }

    /// The names held, under a lock never held across an await.
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value names the node and the name as typed, whatever characters the node's name
    /// has; an old value naming only the node falls back to the key.
    #[test]
    fn a_value_carries_the_node_and_the_name_as_typed() {
        let value = Holder::value("host:7000\nodd", "Ann");
        assert_eq!(
            Holder::parse("ann", &value),
            Holder {
                node: "host:7000\nodd".to_owned(),
                name: "Ann".to_owned()
            }
        );
        assert_eq!(
            Holder::parse("bob", b"b"),
            Holder {
                node: "b".to_owned(),
                name: "bob".to_owned()
            }
        );
    }
}
