//! Names unique across the cluster: each registered name is a key in one JetStream
//! key-value bucket ([`BUCKET`]), claimed with an atomic create.
//!
//! ```text
//!  node A: Hello ann ──► create("ann", "A") ──► revision 7 ──► hub.register ──► Welcome
//!  node B: Hello Ann ──► create("ann", "B") ──► key exists  ──────────────────► NameTaken
//!  node A: ann leaves ──► delete("ann", expecting revision 7) ──► free on every node
//! ```
//!
//! Exactly one of two creates of one key succeeds, however close together, so two people
//! asking for a name on two nodes at once never both get it (no check-then-set). The key is
//! the name as compared ([`chat_proto::validate::name_key`]); every valid name is a valid
//! key (`[-/_=.a-zA-Z0-9]+`). The value is the node that holds it. A node deletes only a
//! key at the revision its own create gave, so it never frees a name someone else holds now.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use chat_proto::validate::name_key;

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

/// The names bucket and the names this node holds in it.
#[derive(Debug)]
pub struct Names {
    /// The bucket.
    kv: kv::Store,
    /// This node's name: the value of every key it creates.
    node: Bytes,
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
            node: Bytes::copy_from_slice(node.as_bytes()),
            held: Mutex::default(),
        })
    }

    /// Claims `name` (valid, any case) for this node: `Taken` when it is held anywhere.
    pub async fn claim(&self, name: &str) -> Result<(), ClaimError> {
        let key = name_key(name);
        match self.kv.create(&key, self.node.clone()).await {
            Ok(revision) => {
                self.held().insert(key, revision);
                Ok(())
            }
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => Err(ClaimError::Taken),
            Err(err) => Err(ClaimError::Unavailable(err)),
        }
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
