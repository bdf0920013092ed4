//! Moderation records across the cluster: one JetStream key-value bucket ([`BUCKET`]), one
//! key per record ([`crate::moderation::store`]). Every change is a compare-and-set, and
//! every node watches the bucket, so a ban or a role given on one node holds on all of
//! them within the watch's delay (milliseconds).

use std::fmt;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::ClusterError;
use crate::moderation::store::{Changed, Edit, EditError, RulesStore, StoreFailed};

/// The bucket of the moderation records.
pub const BUCKET: &str = "chat_moderation";

/// How many times an edit is read and written again when others keep writing the same key.
const CAS_TRIES: usize = 64;

/// The moderation bucket.
#[derive(Clone)]
pub struct KvRules {
    /// The bucket.
    kv: kv::Store,
}

impl fmt::Debug for KvRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvRules")
            .field("bucket", &BUCKET)
            .finish_non_exhaustive()
    }
}

/// What NATS said, as the service reports it.
fn failed(err: impl fmt::Display) -> StoreFailed {
    StoreFailed(format!("the bucket {BUCKET}: {err}"))
}

impl KvRules {
    /// Opens [`BUCKET`] (`super::bucket::open`).
    pub async fn open(js: &jetstream::Context, replicas: usize) -> Result<KvRules, ClusterError> {
        let kv = super::bucket::open(
            js,
            BUCKET,
            "chat-server: room roles, settings, bans and the audit log",
            replicas,
        )
        .await?;
        Ok(KvRules { kv })
    }

    /// Reads, edits and writes `key` until nobody wrote in between.
    async fn change(&self, key: &str, mut edit: Edit) -> Result<Vec<u8>, EditError> {
        for _ in 0..CAS_TRIES {
            let entry = self
                .kv
                .entry(key)
                .await
                .map_err(failed)?
                .filter(|entry| entry.operation == kv::Operation::Put);
            let value = edit(entry.as_ref().map(|entry| entry.value.as_ref()))?;
            let written = match &entry {
                Some(entry) => self
                    .kv
                    .update(key, Bytes::from(value.clone()), entry.revision)
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        (
                            err.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            err.to_string(),
                        )
                    }),
                None => self
                    .kv
                    .create(key, Bytes::from(value.clone()))
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        (
                            err.kind() == kv::CreateErrorKind::AlreadyExists,
                            err.to_string(),
                        )
                    }),
            };
            match written {
                Ok(()) => return Ok(value),
                Err((true, _)) => continue,
                Err((false, err)) => return Err(failed(err).into()),
            }
        }
        Err(failed(format!(
            "{key} kept changing: gave up after {CAS_TRIES} tries"
        ))
        .into())
    }
}

impl RulesStore for KvRules {
    fn load(&self) -> BoxFuture<'static, Result<Vec<Changed>, StoreFailed>> {
        let this = self.clone();
        Box::pin(async move {
            let keys: Vec<String> = this
                .kv
                .keys()
                .await
                .map_err(failed)?
                .try_collect()
                .await
                .map_err(failed)?;
            let mut records = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some(value) = this.kv.get(&key).await.map_err(failed)? {
                    records.push((key, value.to_vec()));
                }
            }
            Ok(records)
        })
    }

    fn edit(&self, key: String, edit: Edit) -> BoxFuture<'static, Result<Vec<u8>, EditError>> {
        let this = self.clone();
        Box::pin(async move { this.change(&key, edit).await })
    }

    fn changes(
        &self,
    ) -> Option<BoxFuture<'static, Result<BoxStream<'static, Changed>, StoreFailed>>> {
        let this = self.clone();
        Some(Box::pin(async move {
            // The last value of every key first, then every change: a watch started late, or
            // again after NATS was away, misses nothing (what was applied is skipped by
            // version).
            let watch = this.kv.watch_with_history(">").await.map_err(failed)?;
            let changes = watch
                .take_while(|entry| {
                    if let Err(err) = entry {
                        tracing::warn!("The watch of the bucket {BUCKET} failed: {err}");
                    }
                    futures::future::ready(entry.is_ok())
                })
                .filter_map(|entry| {
                    futures::future::ready(
                        entry
                            .ok()
                            .filter(|entry| entry.operation == kv::Operation::Put)
                            .map(|entry| (entry.key, entry.value.to_vec())),
                    )
                });
            Ok(changes.boxed())
        }))
    }
}
