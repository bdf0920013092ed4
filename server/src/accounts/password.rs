//! Account passwords: argon2id, stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`),
//! which carry their own salt and parameters, so a hash made under older parameters still
//! verifies and is known to need hashing again.
//!
//! A hash costs tens of milliseconds of CPU and 19 MiB of memory on purpose. So it runs on
//! tokio's blocking threads, never on the runtime's workers, and at most a fixed number run
//! at once: a storm of logins queues for the hasher instead of stalling chat or taking the
//! machine's memory. A login for a name with no account verifies against a dummy hash made
//! with the same parameters, so that it takes as long as one for a name that has an account:
//! the time of a refusal does not say which names are registered.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

/// OWASP's argon2id memory cost (Password Storage Cheat Sheet): 19 MiB, in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;

/// OWASP's argon2id passes over that memory.
pub const PASSES: u32 = 2;

/// OWASP's argon2id lanes.
pub const LANES: u32 = 1;

pub use chat_proto::Secret;

/// Why a password could not be hashed or checked: never a wrong password, which is a
/// [`Verdict::Invalid`].
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused (parameters out of range, a password too long for it).
    #[error("cannot hash a password: {0}")]
    Argon2(String),
    /// A stored hash that is not a PHC string argon2 reads: a damaged account record.
    #[error("an account's stored password hash is not one argon2 can read: {0}")]
    Stored(String),
    /// The blocking thread that hashed ended without an answer (the runtime shutting down).
    #[error("the password hashing task ended early: {0}")]
    Task(String),
    /// [`MAX_WAITING`] hashes wait already: the server is too busy checking passwords.
    #[error("the server is busy checking passwords: try again in a moment")]
    Busy,
}

/// The most hashes that may wait for a free permit: a storm of sign-ins or registrations
/// beyond it is refused at once rather than queued without end (each waiting connection
/// waits for its answer, holding its place), about three seconds of hashing on two cores.
pub const MAX_WAITING: usize = 256;

/// What checking a password against an account found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password is right. `rehash`: the stored hash was made under other parameters
    /// (or another algorithm) than today's, and should be replaced by a new one now that
    /// the password is at hand.
    Valid {
        /// Whether to store a new hash of the password.
        rehash: bool,
    },
    /// The password is wrong, or there is no account.
    Invalid,
}

/// Hashes and verifies passwords on tokio's blocking threads, at most a fixed number at
/// once; cheap to share.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

/// What a [`Hasher`]'s clones share.
struct Inner {
    /// The parameters new hashes are made with.
    params: Params,
    /// One permit per hash that may run at once.
    running: Arc<Semaphore>,
    /// A hash of nothing anyone knows, with `params`: what a login for a name without an
    /// account is verified against.
    dummy: String,
    /// Hashes made or verified so far (the dummy's included).
    done: AtomicU64,
    /// Hashes waiting for a permit now.
    waiting: AtomicUsize,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.inner.params)
            .field("free", &self.inner.running.available_permits())
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher at OWASP's parameters running at most `at_once` hashes together (at least
    /// one). Makes the dummy hash now: tens of milliseconds, once, at start.
    pub fn new(at_once: usize) -> Result<Hasher, HashError> {
        let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
            .map_err(|err| HashError::Argon2(err.to_string()))?;
        Hasher::with_params(params, at_once)
    }

    /// A hasher with `params` (a test's cheaper ones, or an operator's stronger ones).
    pub fn with_params(params: Params, at_once: usize) -> Result<Hasher, HashError> {
        let dummy = hash_now(&params, b"no account has this password")?;
        Ok(Hasher {
            inner: Arc::new(Inner {
                params,
                running: Arc::new(Semaphore::new(at_once.max(1))),
                dummy,
                done: AtomicU64::new(0),
                waiting: AtomicUsize::new(0),
            }),
        })
    }

    /// A new hash of `password`, with a new random salt, as a PHC string to store.
    pub async fn hash(&self, password: &Secret) -> Result<String, HashError> {
        let params = self.inner.params.clone();
        let password = password.clone();
        self.run(move || hash_now(&params, password.expose().as_bytes()))
            .await?
    }

    /// Checks `password` against `stored`, the account's PHC string, or against the dummy
    /// when there is no account (`None`): the same work either way. A password longer than
    /// any account may have ([`super::policy::MAX_BYTES`]) is wrong without being hashed,
    /// whether the account exists or not.
    pub async fn verify(
        &self,
        stored: Option<&str>,
        password: &Secret,
    ) -> Result<Verdict, HashError> {
        if password.expose().len() > super::policy::MAX_BYTES {
            return Ok(Verdict::Invalid);
        }
        let exists = stored.is_some();
        let stored = stored.unwrap_or(&self.inner.dummy).to_owned();
        let params = self.inner.params.clone();
        let password = password.clone();
        let verdict = self
            .run(move || verify_now(&params, &stored, password.expose().as_bytes()))
            .await??;
        Ok(if exists { verdict } else { Verdict::Invalid })
    }

    /// How many hashes were made or verified so far.
    pub fn done(&self) -> u64 {
        self.inner.done.load(Ordering::Relaxed)
    }

    /// Runs `work` on a blocking thread once a permit is free. The permit goes with the
    /// work, not with the caller: a login whose client left while it hashed keeps its permit
    /// until the hash ends (a blocking thread cannot be stopped), so the bound holds.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = {
            // Counted while it waits, however the wait ends (its caller may be dropped).
            let waiting = Waiting::enter(&self.inner.waiting).ok_or(HashError::Busy)?;
            let permit = Arc::clone(&self.inner.running).acquire_owned().await;
            drop(waiting);
            permit.map_err(|err| HashError::Task(err.to_string()))?
        };
        let counted = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let done = work();
            counted.done.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            done
        })
        .await
        .map_err(|err| HashError::Task(err.to_string()))
    }
}

/// One hash counted among those waiting for a permit, until dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    /// Counts one more waiting in `count`, unless [`MAX_WAITING`] wait already.
    fn enter(count: &'a AtomicUsize) -> Option<Waiting<'a>> {
        if count.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Waiting(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// argon2id with `params` and a salt from the operating system.
fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// Hashes `password` here and now (a blocking call).
fn hash_now(params: &Params, password: &[u8]) -> Result<String, HashError> {
    argon2(params)
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|err| HashError::Argon2(err.to_string()))
}

/// Verifies `password` against the PHC string `stored` here and now (a blocking call), with
/// the parameters `stored` names; says whether it should be made again with `params`.
fn verify_now(params: &Params, stored: &str, password: &[u8]) -> Result<Verdict, HashError> {
    let hash = PasswordHash::new(stored).map_err(|err| HashError::Stored(err.to_string()))?;
    if argon2(params).verify_password(password, &hash).is_err() {
        return Ok(Verdict::Invalid);
    }
    let same_params = Params::try_from(&hash).is_ok_and(|old| {
        old.m_cost() == params.m_cost()
            && old.t_cost() == params.t_cost()
            && old.p_cost() == params.p_cost()
    });
    let argon2id = hash.algorithm.as_str() == Algorithm::Argon2id.ident().as_str();
    Ok(Verdict::Valid {
        rehash: !(same_params && argon2id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters far cheaper than OWASP's, so that tests run fast; the code path is the same.
    fn cheap() -> Params {
        Params::new(64, 1, 1, None).unwrap()
    }

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hasher = Hasher::with_params(cheap(), 2).unwrap();
        let stored = hasher.hash(&Secret::new("correct horse")).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{stored}"
        );
        assert_eq!(
            hasher
                .verify(Some(&stored), &Secret::new("correct horse"))
                .await
                .unwrap(),
            Verdict::Valid { rehash: false }
        );
        for wrong in ["correct horse ", "Correct horse", "", "correct hors"] {
            assert_eq!(
                hasher
                    .verify(Some(&stored), &Secret::new(wrong))
                    .await
                    .unwrap(),
                Verdict::Invalid,
                "{wrong:?}"
            );
        }
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let hasher = Hasher::with_params(cheap(), 1).unwrap();
        let password = Secret::new("the same words");
        let one = hasher.hash(&password).await.unwrap();
        let two = hasher.hash(&password).await.unwrap();
        assert_ne!(one, two);
    }

    #[tokio::test]
    async fn the_default_parameters_are_owasps() {
        let hasher = Hasher::new(1).unwrap();
        let stored = hasher.hash(&Secret::new("long enough")).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
    }

    #[tokio::test]
    async fn a_hash_made_under_other_parameters_verifies_and_asks_to_be_made_again() {
        let old = Hasher::with_params(Params::new(32, 1, 1, None).unwrap(), 1).unwrap();
        let stored = old.hash(&Secret::new("kept for years")).await.unwrap();
        let now = Hasher::with_params(cheap(), 1).unwrap();
        assert_eq!(
            now.verify(Some(&stored), &Secret::new("kept for years"))
                .await
                .unwrap(),
            Verdict::Valid { rehash: true }
        );
        assert_eq!(
            now.verify(Some(&stored), &Secret::new("not it"))
                .await
                .unwrap(),
            Verdict::Invalid
        );
    }

    #[tokio::test]
    async fn a_name_without_an_account_costs_a_hash_and_never_verifies() {
        let hasher = Hasher::with_params(cheap(), 1).unwrap();
        let before = hasher.done();
        // Not even the dummy's own password signs in to no account.
        for guess in ["no account has this password", "anything"] {
            assert_eq!(
                hasher.verify(None, &Secret::new(guess)).await.unwrap(),
                Verdict::Invalid
            );
        }
        assert_eq!(hasher.done() - before, 2, "each refusal ran argon2");
    }

    #[tokio::test]
    async fn a_damaged_stored_hash_is_an_error_not_a_wrong_password() {
        let hasher = Hasher::with_params(cheap(), 1).unwrap();
        let err = hasher
            .verify(Some("$argon2id$not a hash"), &Secret::new("whatever"))
            .await
            .unwrap_err();
        assert!(matches!(err, HashError::Stored(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_hash_holds_one_of_the_permits_while_it_runs() {
        let hasher = Hasher::with_params(cheap(), 1).unwrap();
        let (started, is_started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let running = tokio::spawn({
            let hasher = hasher.clone();
            async move {
                hasher
                    .run(move || {
                        started.send(()).unwrap();
                        released.recv().unwrap();
                    })
                    .await
            }
        });
        tokio::task::spawn_blocking(move || is_started.recv().unwrap())
            .await
            .unwrap();
        assert_eq!(hasher.inner.running.available_permits(), 0);
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        assert_eq!(hasher.inner.running.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_password_longer_than_any_account_may_have_is_wrong_unhashed() {
        let hasher = Hasher::with_params(cheap(), 1).unwrap();
        let long = "x".repeat(crate::accounts::policy::MAX_BYTES + 1);
        let stored = hasher.hash(&Secret::new(long.clone())).await.unwrap();
        let before = hasher.done();
        assert_eq!(
            hasher
                .verify(Some(&stored), &Secret::new(long))
                .await
                .unwrap(),
            Verdict::Invalid
        );
        assert_eq!(hasher.done(), before);
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", Some(&secret)).contains("hunter2"));
    }
}
