//! Names unique across the cluster: each registered name is a key in one JetStream
//! key-value bucket ([`BUCKET`]), claimed with an atomic create.
//!
//! ```text
//!  node A: Hello ann ──► create("ann", "A\n<incarnation>\nann") ──► revision 7 ──► Welcome
//!  node B: Hello Ann ──► create("ann", "B\n<incarnation>\nAnn") ──► key exists ──► NameTaken
//!  node A: ann leaves ──► purge("ann" up to revision 7) ──► free on every node
//! ```
//!
//! Exactly one of two creates of one key succeeds, however close together, so two people
//! asking for a name on two nodes at once never both get it (no check-then-set). The key is
//! the name as compared ([`chat_proto::validate::name_key`]); every valid name is a valid
//! key (`[-/_=.a-zA-Z0-9]+`). The value is the node that holds it, the node's incarnation
//! (a number each start of a node picks anew) and the name as typed, one line each
//! ([`Holder`]): a whisper from another node finds where to go. A node removes only a key
//! at the revision its own create gave, so it never frees a name someone else holds now.
//!
//! **A name given back leaves nothing in NATS.** A key-value delete would leave a marker per
//! name ever used, forever (49,867 of them, 6.5 MB, after 49,567 guests came and went). A
//! name is removed instead by purging its subject up to the revision this node holds: the
//! value goes and nothing takes its place, so the bucket holds only the names held now, and
//! a value someone else created since (a later revision) is never touched.
//!
//! **Names of nodes that are gone.** A node killed with SIGKILL gives nothing back. Its
//! names are deleted by the nodes that see it go ([`Names::sweep`], run by
//! [`super::presence`] when a node is lost or restarts, and once after this node joins):
//! every key held by an incarnation seen to go, and every key whose holder is not a live
//! incarnation and that is older than [`SWEEP_GRACE`] (a node that has just claimed a name
//! may not have been heard from yet).
//! A node that starts again frees its earlier start's names itself before it serves
//! ([`Names::free_earlier_starts`]).
//!
//! **After an outage** each node claims its people's names again ([`Names::reclaim`]): a
//! key still at its value is kept, a key that is gone is created again, and a key another
//! node holds now (it was freed as a lost node's and claimed there meanwhile) stays with
//! that node: this node's person with that name is told `NameTaken` and disconnected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use chat_proto::validate::name_key;
use futures::{StreamExt, TryStreamExt};

use super::ClusterError;

/// The key-value bucket of names. One revision per key is kept (`history` 1): only who
/// holds a name now matters.
pub const BUCKET: &str = "chat_names";

/// Why a name could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Someone on some node holds it.
    #[error("the name is held in the cluster")]
    Taken,
    /// NATS is out of reach: nobody can say whether the name is free.
    #[error("NATS is out of reach")]
    Away,
    /// NATS did not answer the claim, so nobody can say whether the name is free.
    #[error("cannot claim the name in NATS: {0}")]
    Unavailable(#[source] kv::CreateError),
}

/// How many names a sweep reads from NATS at once.
const LIST_READS_AT_ONCE: usize = 16;

/// How old a name must be before a sweep may delete it: longer than a node takes to be
/// heard from after it claimed it.
pub const SWEEP_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

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
    /// That node's incarnation when it claimed the name.
    pub incarnation: u64,
    /// The name as its owner typed it.
    pub name: String,
}

impl Holder {
    /// The value stored for it: the node, its incarnation and the name, a newline between
    /// each. A valid name has no newline and an incarnation is digits, so the last two
    /// newlines split them whatever the node is called.
    fn value(node: &str, incarnation: u64, name: &str) -> Bytes {
        Bytes::from(format!("{node}\n{incarnation}\n{name}"))
    }

    /// Reads the value of `key`. A value of another form names no live node: the key then
    /// stands for the name, and a sweep frees it.
    fn parse(key: &str, value: &[u8]) -> Holder {
        let value = String::from_utf8_lossy(value);
        let parsed = value.rsplit_once('\n').and_then(|(rest, name)| {
            let (node, incarnation) = rest.rsplit_once('\n')?;
            Some(Holder {
                node: node.to_owned(),
                incarnation: incarnation.parse().ok()?,
                name: name.to_owned(),
            })
        });
        parsed.unwrap_or_else(|| Holder {
            node: value.into_owned(),
            incarnation: 0,
            name: key.to_owned(),
        })
    }
}

/// The names bucket and the names this node holds in it.
#[derive(Debug)]
pub struct Names {
    /// The bucket.
    kv: kv::Store,
    /// This node's name, the first line of every value it creates.
    node: String,
    /// This start of the node, the second line.
    incarnation: u64,
    /// Key → the name as typed and the revision this node's create gave it: what a
    /// release must match.
    held: Mutex<HashMap<String, (Arc<str>, u64)>>,
    /// Names given back while NATS was out of reach (key → revision): deleted when it is
    /// back ([`Names::reclaim`]), so that a leaving person's name is not held for good.
    unreleased: Mutex<HashMap<String, u64>>,
    /// The connection, to tell whether NATS answers before waiting for it.
    client: async_nats::Client,
    /// Held by the one [`Names::reclaim`] running.
    reclaiming: tokio::sync::Mutex<()>,
}

/// How many names are given back at once at shutdown.
const RELEASES_AT_ONCE: usize = 64;

impl Names {
    /// Opens [`BUCKET`] ([`super::bucket::open`]).
    pub(super) async fn open(
        client: &async_nats::Client,
        js: &jetstream::Context,
        node: &str,
        incarnation: u64,
        replicas: usize,
    ) -> Result<Names, ClusterError> {
        let kv = super::bucket::open(
            js,
            BUCKET,
            "chat-server: who holds each name, by node",
            replicas,
        )
        .await?;
        Ok(Names {
            kv,
            node: node.to_owned(),
            incarnation,
            held: Mutex::default(),
            unreleased: Mutex::default(),
            client: client.clone(),
            reclaiming: tokio::sync::Mutex::new(()),
        })
    }

    /// Frees the names an earlier start of this node held (it was killed, or lost NATS as
    /// it stopped), before this one serves: its people may sign in again at once.
    pub async fn free_earlier_starts(&self) -> Result<usize, LookupError> {
        self.sweep(|holder, _| holder.node == self.node && holder.incarnation != self.incarnation)
            .await
    }

    /// Claims `name` (valid, any case) for this node: `Taken` when it is held anywhere.
    pub async fn claim(&self, name: &str) -> Result<(), ClaimError> {
        if !self.is_up() {
            return Err(ClaimError::Away);
        }
        let key = name_key(name);
        let revision = match self.create(&key, name).await {
            Ok(revision) => revision,
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {
                // This incarnation's own, if an earlier claim's answer was lost on the way.
                match self.kv.entry(&key).await {
                    Ok(Some(entry)) if self.is_mine(&key, &entry) => entry.revision,
                    _ => return Err(ClaimError::Taken),
                }
            }
            Err(err) => return Err(ClaimError::Unavailable(err)),
        };
        self.held().insert(key, (name.into(), revision));
        Ok(())
    }

    /// Whether `entry` (of `key`) is a live claim by this incarnation.
    fn is_mine(&self, key: &str, entry: &kv::Entry) -> bool {
        let holder = Holder::parse(key, &entry.value);
        entry.operation == kv::Operation::Put
            && holder.node == self.node
            && holder.incarnation == self.incarnation
    }

    /// Creates `key` for `name`, held by this incarnation.
    async fn create(&self, key: &str, name: &str) -> Result<u64, kv::CreateError> {
        self.kv
            .create(key, Holder::value(&self.node, self.incarnation, name))
            .await
    }

    /// Who holds `name` (any case) on any node, or `None` when nobody does.
    pub async fn holder(&self, name: &str) -> Result<Option<Holder>, LookupError> {
        let key = name_key(name);
        let value = self.kv.get(&key).await.map_err(LookupError::Read)?;
        Ok(value.map(|value| Holder::parse(&key, &value)))
    }

    /// Claims again every name this node holds, after NATS was out of reach: a key still
    /// this node's is kept, a key that is gone is created again; names given back
    /// meanwhile are deleted first. Returns the names another
    /// node holds now, which this node gives up (their people must go), and the names that
    /// could not be checked (NATS went away again; the next reconnection retries them).
    pub async fn reclaim(&self) -> (Vec<Arc<str>>, usize) {
        // One at a time: two would race each other's creates.
        let _one = self.reclaiming.lock().await;
        self.release_unreleased().await;
        let held: Vec<(String, Arc<str>)> = self
            .held()
            .iter()
            .map(|(key, (name, _))| (key.clone(), name.clone()))
            .collect();
        let (mut lost, mut unchecked) = (Vec::new(), 0);
        for (key, name) in held {
            let entry = match self.kv.entry(&key).await {
                Ok(entry) => entry,
                Err(err) => {
                    tracing::debug!("Cannot read the name {key:?} in NATS: {err}");
                    unchecked += 1;
                    continue;
                }
            };
            let live = entry.filter(|e| e.operation == kv::Operation::Put);
            let revision = match live {
                Some(entry) => self.is_mine(&key, &entry).then_some(entry.revision),
                None => match self.create(&key, &name).await {
                    Ok(revision) => Some(revision),
                    Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => None,
                    Err(err) => {
                        tracing::debug!("Cannot claim the name {key:?} again: {err}");
                        unchecked += 1;
                        continue;
                    }
                },
            };
            match revision {
                Some(revision) => {
                    if let Some(slot) = self.held().get_mut(&key) {
                        slot.1 = revision;
                    }
                }
                None => {
                    self.held().remove(&key);
                    lost.push(name);
                }
            }
        }
        (lost, unchecked)
    }

    /// Deletes every name `stale` picks, given its holder and whether the name is older
    /// than [`SWEEP_GRACE`]; returns how many.
    pub async fn sweep(&self, stale: impl Fn(&Holder, bool) -> bool) -> Result<usize, LookupError> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(LookupError::List)?
            .try_collect()
            .await
            .map_err(LookupError::Listing)?;
        let entries: Vec<kv::Entry> = futures::stream::iter(keys)
            .map(|key| async move { self.kv.entry(&key).await.map_err(LookupError::Read) })
            .buffer_unordered(LIST_READS_AT_ONCE)
            .try_filter_map(|entry| async move { Ok(entry) })
            .try_collect()
            .await?;
        let now = std::time::SystemTime::now();
        let mut freed = 0;
        for entry in entries {
            if entry.operation != kv::Operation::Put {
                continue;
            }
            let holder = Holder::parse(&entry.key, &entry.value);
            let created: std::time::SystemTime = entry.created.into();
            let old = now.duration_since(created).unwrap_or_default() >= SWEEP_GRACE;
            if stale(&holder, old) {
                match self.remove(&entry.key, entry.revision).await {
                    Ok(true) => freed += 1,
                    Ok(false) => tracing::debug!("Did not free the name {:?}: taken", entry.key),
                    Err(err) => tracing::debug!("Did not free the name {:?}: {err}", entry.key),
                }
            }
        }
        Ok(freed)
    }

    /// Gives `name` back, if this node holds it: deleted only at the revision this node's
    /// claim gave it. While NATS is out of reach it is kept aside and deleted once NATS is
    /// back, rather than waited for.
    pub async fn release(&self, name: &str) {
        let key = name_key(name);
        let Some((_, revision)) = self.held().remove(&key) else {
            return;
        };
        self.delete(key, revision).await;
    }

    /// Gives back every name this node holds, a few at once; returns how many. Quick when
    /// NATS is away: the other nodes free them once they find this node gone.
    pub async fn release_all(&self) -> usize {
        let held: Vec<(String, u64)> = self
            .held()
            .drain()
            .map(|(key, (_, revision))| (key, revision))
            .collect();
        let count = held.len();
        if !self.is_up() {
            tracing::warn!(
                "NATS is out of reach: {count} names are left for the other nodes to free"
            );
            return count;
        }
        futures::stream::iter(held)
            .for_each_concurrent(RELEASES_AT_ONCE, |(key, revision)| {
                self.delete(key, revision)
            })
            .await;
        count
    }

    /// Deletes the names given back while NATS was away.
    async fn release_unreleased(&self) {
        let unreleased: Vec<(String, u64)> = self
            .unreleased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        futures::stream::iter(unreleased)
            .for_each_concurrent(RELEASES_AT_ONCE, |(key, revision)| {
                self.delete(key, revision)
            })
            .await;
    }

    /// Removes `key` if it is still at `revision`, or keeps it aside while NATS is away.
    async fn delete(&self, key: String, revision: u64) {
        if self.is_up() {
            match self.remove(&key, revision).await {
                Ok(true) => return,
                // The key is at another revision, someone else's now: nothing to give back.
                Ok(false) => {
                    tracing::debug!("Did not release the name {key:?}: held by someone else");
                    return;
                }
                Err(err) if self.is_up() => {
                    tracing::debug!("Did not release the name {key:?}: {err}");
                    return;
                }
                Err(err) => tracing::warn!("Cannot release the name {key:?} in NATS: {err}"),
            }
        }
        self.unreleased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, revision);
    }

    /// Removes `key`'s value if it is still at `revision` ([`super::bucket::remove`]).
    async fn remove(&self, key: &str, revision: u64) -> Result<bool, stream::PurgeError> {
        super::bucket::remove(&self.kv, key, revision).await
    }

    /// Whether NATS answers now.
    fn is_up(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The names held, under a lock never held across an await.
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<str>, u64)>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value names the node, its incarnation and the name as typed, whatever
    /// characters the node's name has; a value of another form falls back to the key.
    #[test]
    fn a_value_carries_the_node_its_incarnation_and_the_name_as_typed() {
        let value = Holder::value("host:7000\nodd", 42, "Ann");
        assert_eq!(
            Holder::parse("ann", &value),
            Holder {
                node: "host:7000\nodd".to_owned(),
                incarnation: 42,
                name: "Ann".to_owned()
            }
        );
        assert_eq!(
            Holder::parse("bob", b"b"),
            Holder {
                node: "b".to_owned(),
                incarnation: 0,
                name: "bob".to_owned()
            }
        );
    }
}
