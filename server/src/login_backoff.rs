//! Slows password guessing: from one address, and against one account.
//!
//! Every password check goes through [`LoginBackoff`]: `[server] password` by
//! [`LoginBackoff::attempt`], keyed by the peer's address (an IPv6 address by its /64, the
//! block one host or site is given); an account's password by [`LoginBackoff::charge`],
//! keyed by the address *and* the account, so that a guess spread over many addresses
//! against one account gets nowhere either.
//!
//! A key's failures are counted, and the count goes down by one every [`DRAIN`] (20 s: three
//! a minute). While the count stays under [`FREE_FAILURES`] a failure costs nothing; from the
//! third on, the key's next check waits [`FIRST_WAIT`], doubling with each further failure up
//! to [`MAX_WAIT`]:
//!
//! ```text
//!  failures counted:           1   2   3   4   5   6   7    8 ...
//!  wait before the next check: 0   0   1s  2s  4s  8s  16s  30s ...
//! ```
//!
//! So a person who mistypes three times waits a second, and in the long run no address, and
//! no account, gets more than three guesses a minute: guessing faster only grows the count,
//! and with it the wait.
//!
//! An attempt is charged as a failure *before* it is checked, and a right password gives the
//! charge back ([`LoginBackoff::refund`]): so a check that takes time (argon2, tens of
//! milliseconds) cannot be run by a thousand connections at once before the first failure is
//! counted, and attempts for one key take their turns one by one. The wait comes before the
//! next check, right or wrong password alike: if only wrong guesses were slowed, a quick
//! answer would say "right" and a slow one "wrong" before the wait was over. A right password
//! takes back only its own charge: the failures counted may be someone else's behind the
//! same NAT, or a guesser's against the account, and must not be wiped by a success they did
//! not earn.
//!
//! Counting by account lets anybody slow an account's password sign-ins, to at worst one
//! check every [`MAX_WAIT`] while they keep guessing; a device already signed in resumes with
//! its token, which is never slowed, so the owner is not locked out.
//!
//! Each table is bounded: a key is forgotten once its count has drained to zero (at most a
//! few minutes after its last failure), and at [`MAX_ADDRESSES`] the key that would be
//! forgotten soonest goes first. An attacker with many addresses gets three free guesses per
//! address (the cost of having addresses) but no more per account, and cannot grow a table
//! past its cap.
//!
//! The clock is tokio's, so the tests below run on a paused one.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::auth::Password;

/// Failures a key may have counted before it has to wait: enough for a person who
/// mistypes twice and gets it right the third time, too few to guess with.
pub const FREE_FAILURES: u32 = 3;

/// How often a key's count of failures goes down by one: three a minute, the rate at which
/// an address (or a guesser against an account) may go on guessing for ever.
pub const DRAIN: Duration = Duration::from_secs(20);

/// The wait after the third failure counted; each further failure doubles it.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);

/// The longest wait between two checks for one key. The count's drain is what bounds the
/// rate in the long run; the cap keeps a fast guesser's count from turning into minutes of
/// waiting for a person who shares the address (behind one NAT), or the account, once the
/// guessing stops.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The most keys each table remembers at once: about 100 bytes each, so about a megabyte.
pub const MAX_ADDRESSES: usize = 10_000;

/// What became of one password attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The password is right.
    Accepted,
    /// The password is wrong or missing.
    Refused {
        /// Failures counted for the address now, this one included.
        failures: u32,
        /// How long until the address's next check (zero while its failures are free).
        wait: Duration,
    },
    /// Not checked: it is not the address's turn until `at`.
    NotYet {
        /// When the address's next check may run.
        at: Instant,
    },
}

/// An attempt charged as a failure, to give back with [`LoginBackoff::refund`] if its
/// password turns out right.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a right password gives its charge back"]
pub struct Charged {
    /// The address's key.
    address: IpAddr,
    /// The account's key (its name key), if one was charged.
    account: Option<Box<str>>,
    /// When it was charged.
    at: Instant,
    /// The most failures now counted for either key, this one included.
    pub failures: u32,
}

/// What is remembered about one key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures counted, as of `since`.
    failures: u32,
    /// When the count last went down, or its first failure: it goes down by one for each
    /// [`DRAIN`] after this.
    since: Instant,
    /// The key's next check may run no sooner than this.
    next_check: Instant,
}

impl Entry {
    /// When the count will have drained to zero and the key can be forgotten. Always
    /// after `next_check`: a count of three or more lasts 40 s or more, the wait at most 30.
    fn forget_at(&self) -> Instant {
        self.since + DRAIN * self.failures
    }

    /// Lowers the count by what has drained by `now`.
    fn drain(&mut self, now: Instant) {
        let drained = (now.saturating_duration_since(self.since).as_nanos() / DRAIN.as_nanos())
            .min(u128::from(self.failures)) as u32;
        self.failures -= drained;
        self.since = if self.failures == 0 {
            now
        } else {
            self.since + DRAIN * drained
        };
    }
}

/// The keys with failures, and the same keys ordered by when they will be forgotten, to
/// forget and evict the soonest first.
#[derive(Debug)]
struct Table<K> {
    /// By key.
    entries: HashMap<K, Entry>,
    /// `(forget_at, key)` of every entry.
    by_forget_at: BTreeSet<(Instant, K)>,
    /// [`MAX_ADDRESSES`], smaller in tests.
    capacity: usize,
}

/// The per-address and per-account records of failed passwords, shared by every
/// connection.
#[derive(Debug)]
pub struct LoginBackoff {
    /// By address (an IPv6 address by its /64).
    addresses: Mutex<Table<IpAddr>>,
    /// By account, under its name key.
    accounts: Mutex<Table<Box<str>>>,
}

impl Default for LoginBackoff {
    fn default() -> Self {
        LoginBackoff::with_capacity(MAX_ADDRESSES)
    }
}

/// A table's lock; it holds no state a panic could break.
fn lock<K>(table: &Mutex<Table<K>>) -> MutexGuard<'_, Table<K>> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LoginBackoff {
    /// Empty records remembering at most `capacity` addresses and as many accounts (at
    /// least one).
    pub fn with_capacity(capacity: usize) -> LoginBackoff {
        LoginBackoff {
            addresses: Mutex::new(Table::new(capacity)),
            accounts: Mutex::new(Table::new(capacity)),
        }
    }

    /// Runs the password check `check` for an attempt from `ip` at `now`, if it is that
    /// address's turn, and counts a failure; or says when its turn comes.
    pub fn attempt(&self, ip: IpAddr, now: Instant, check: impl FnOnce() -> bool) -> Attempt {
        match self.charge(ip, None, now) {
            Err(at) => Attempt::NotYet { at },
            Ok(charged) if check() => {
                self.refund(charged);
                Attempt::Accepted
            }
            Ok(charged) => Attempt::Refused {
                failures: charged.failures,
                wait: wait_after(charged.failures),
            },
        }
    }

    /// Charges an attempt from `ip` at `now`, for the account under the name key `account`
    /// if there is one, as a failure of both, if it is both keys' turn; or says when the
    /// later of their turns comes.
    pub fn charge(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        now: Instant,
    ) -> Result<Charged, Instant> {
        let source = source(ip);
        // One lock after the other, always in this order.
        let mut addresses = lock(&self.addresses);
        let mut accounts = lock(&self.accounts);
        let account: Option<Box<str>> = account.map(Into::into);
        let turn = addresses.turn(&source, now).max(match &account {
            Some(key) => accounts.turn(key, now),
            None => now,
        });
        if turn > now {
            return Err(turn);
        }
        let address_failures = addresses.fail(source, now);
        let account_failures = account
            .as_ref()
            .map_or(0, |key| accounts.fail(key.clone(), now));
        Ok(Charged {
            address: source,
            account,
            at: now,
            failures: address_failures.max(account_failures),
        })
    }

    /// Checks the server's password `given` against `expected` for `peer`, at its address's
    /// turn ([`LoginBackoff::attempt`]), and logs the slowing of its address: the one check
    /// of `[server] password`, over a socket and over HTTP alike. Never logs the guess.
    pub fn check_server_password(
        &self,
        expected: &Password,
        given: Option<&str>,
        peer: SocketAddr,
    ) -> Attempt {
        let checked = self.attempt(peer.ip(), Instant::now(), || {
            given.is_some_and(|given| expected.matches(given))
        });
        if let Attempt::Refused { failures, wait } = checked {
            if failures == FREE_FAILURES {
                tracing::warn!(
                    %peer,
                    "Slowing password attempts from this address after {failures} failures"
                );
            }
            if !wait.is_zero() {
                tracing::debug!(
                    %peer,
                    failures,
                    "Next password check from this address in {wait:?}"
                );
            }
        }
        checked
    }

    /// Settles an account's password check from `peer`, charged as `charged`: a wrong
    /// password keeps its charge and is logged with the account and the address (never the
    /// guess); anything else (a right password, or no verdict at all) gives it back. The
    /// one rule for a sign-in, a password change and a deletion, over a socket or HTTP.
    pub fn settle(&self, charged: Charged, wrong_password: bool, peer: SocketAddr, account: &str) {
        if wrong_password {
            tracing::warn!(%peer, account = %account, failures = charged.failures, "Wrong password");
        } else {
            self.refund(charged);
        }
    }

    /// Gives back the charge of an attempt whose password was right.
    pub fn refund(&self, charged: Charged) {
        let Charged {
            address,
            account,
            at,
            ..
        } = charged;
        lock(&self.addresses).refund(&address, at);
        if let Some(key) = account {
            lock(&self.accounts).refund(&key, at);
        }
    }

    /// How many addresses are remembered now.
    pub fn len(&self) -> usize {
        lock(&self.addresses).entries.len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Ord + Clone> Table<K> {
    /// An empty table of at most `capacity` keys (at least one).
    fn new(capacity: usize) -> Table<K> {
        Table {
            entries: HashMap::new(),
            by_forget_at: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// When `key`'s next check may run, as of `now` (`now` itself: at once).
    fn turn(&mut self, key: &K, now: Instant) -> Instant {
        self.forget_by(now);
        self.entries
            .get(key)
            .map_or(now, |entry| entry.next_check.max(now))
    }

    /// Forgets every key whose count has drained to zero by `now`.
    fn forget_by(&mut self, now: Instant) {
        while let Some((at, _)) = self.by_forget_at.first() {
            if now < *at {
                break;
            }
            if let Some((_, key)) = self.by_forget_at.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    /// Counts a failure for `key` at `now` and sets its next check; returns its count. A new
    /// key beyond the capacity first evicts the one that would be forgotten soonest.
    fn fail(&mut self, key: K, now: Instant) -> u32 {
        let mut entry = match self.entries.get(&key) {
            Some(&entry) => {
                self.by_forget_at.remove(&(entry.forget_at(), key.clone()));
                entry
            }
            None => {
                if self.entries.len() >= self.capacity {
                    if let Some((_, soonest)) = self.by_forget_at.pop_first() {
                        self.entries.remove(&soonest);
                    }
                }
                Entry {
                    failures: 0,
                    since: now,
                    next_check: now,
                }
            }
        };
        entry.drain(now);
        entry.failures = entry.failures.saturating_add(1);
        entry.next_check = now + wait_after(entry.failures);
        self.by_forget_at.insert((entry.forget_at(), key.clone()));
        self.entries.insert(key, entry);
        entry.failures
    }

    /// Takes back one failure of `key` charged at `at`. Its next check goes back to the
    /// charge's time unless another attempt was charged since (which set its own).
    fn refund(&mut self, key: &K, at: Instant) {
        let Some(mut entry) = self.entries.get(key).copied() else {
            return;
        };
        self.by_forget_at.remove(&(entry.forget_at(), key.clone()));
        // What drained while the check ran is gone already: a charge that drained away is
        // not taken back again from failures counted since.
        entry.drain(Instant::now());
        entry.failures = entry.failures.saturating_sub(1);
        if entry.next_check == at + wait_after(entry.failures + 1) {
            // The gate let the charge through at `at`: the next check may run from then.
            entry.next_check = at;
        }
        if entry.failures == 0 {
            self.entries.remove(key);
        } else {
            self.by_forget_at.insert((entry.forget_at(), key.clone()));
            self.entries.insert(key.clone(), entry);
        }
    }
}

/// How long an address with `failures` counted waits before its next check: nothing for
/// the first two, then [`FIRST_WAIT`], doubling with each failure up to [`MAX_WAIT`].
pub fn wait_after(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(31);
    FIRST_WAIT
        .checked_mul(1 << doublings)
        .map_or(MAX_WAIT, |wait| wait.min(MAX_WAIT))
}

/// The key an address is counted under: an IPv4 address as it is (an IPv4-mapped IPv6
/// address as the IPv4 one), an IPv6 address by its first 64 bits, the block one
/// subscriber is given (so one host cannot pose as millions of addresses).
pub fn source(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    /// One wrong attempt from `ip` now, which must be checked and refused; the wait after it.
    fn fail(backoff: &LoginBackoff, ip: IpAddr) -> Duration {
        match backoff.attempt(ip, Instant::now(), || false) {
            Attempt::Refused { wait, .. } => wait,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// When `ip`'s next check may run, if it must wait. Asks with the right password, which
    /// changes nothing when it is checked.
    fn turn(backoff: &LoginBackoff, ip: IpAddr) -> Option<Instant> {
        match backoff.attempt(ip, Instant::now(), || true) {
            Attempt::NotYet { at } => Some(at),
            _ => None,
        }
    }

    #[test]
    fn the_wait_is_free_then_doubles_from_one_second_to_the_cap() {
        let waits: Vec<u64> = (1..=10).map(|n| wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(wait_after(u32::MAX), MAX_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn after_three_failures_each_check_waits_twice_as_long_as_the_last() {
        let backoff = LoginBackoff::default();
        assert_eq!(fail(&backoff, A), Duration::ZERO);
        assert_eq!(fail(&backoff, A), Duration::ZERO);
        let mut wait = fail(&backoff, A);
        assert_eq!(wait, FIRST_WAIT);
        // 1 + 2 + 4 + 8 s: all within the first 20 s, before the count drains.
        for expected in [2, 4, 8, 16] {
            let started = Instant::now();
            assert_eq!(turn(&backoff, A), Some(started + wait));
            // Not a moment early: just before the turn, still not checked.
            tokio::time::advance(wait - Duration::from_millis(1)).await;
            assert_eq!(turn(&backoff, A), Some(started + wait));
            tokio::time::advance(Duration::from_millis(1)).await;
            wait = fail(&backoff, A);
            assert_eq!(wait, Duration::from_secs(expected));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_right_password_waits_its_turn_too_and_resets_nothing() {
        let backoff = LoginBackoff::default();
        for _ in 0..3 {
            fail(&backoff, A);
        }
        let at = turn(&backoff, A).expect("A waits");
        tokio::time::advance(FIRST_WAIT).await;
        assert_eq!(Instant::now(), at);
        assert_eq!(
            backoff.attempt(A, Instant::now(), || true),
            Attempt::Accepted
        );
        // The success did not wipe the failures: the next one is the fourth.
        assert_eq!(
            backoff.attempt(A, Instant::now(), || false),
            Attempt::Refused {
                failures: 4,
                wait: Duration::from_secs(2)
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn other_addresses_are_not_slowed() {
        let backoff = LoginBackoff::default();
        for _ in 0..3 {
            fail(&backoff, A);
        }
        assert!(turn(&backoff, A).is_some());
        assert_eq!(turn(&backoff, B), None);
        assert_eq!(
            backoff.attempt(B, Instant::now(), || true),
            Attempt::Accepted
        );
        assert_eq!(fail(&backoff, B), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_waiting_at_once_are_checked_one_turn_at_a_time() {
        let backoff = LoginBackoff::default();
        for _ in 0..3 {
            fail(&backoff, A);
        }
        // Two connections from A both wait for the same turn; at the turn the first to ask
        // is checked, and the second finds the next turn two seconds on.
        let at = turn(&backoff, A).unwrap();
        assert_eq!(turn(&backoff, A), Some(at));
        tokio::time::advance(FIRST_WAIT).await;
        assert_eq!(fail(&backoff, A), Duration::from_secs(2));
        assert_eq!(turn(&backoff, A), Some(at + Duration::from_secs(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_count_goes_down_by_one_every_twenty_seconds_and_then_is_forgotten() {
        let backoff = LoginBackoff::default();
        for _ in 0..3 {
            fail(&backoff, A);
        }
        tokio::time::advance(DRAIN).await;
        // Three counted, one drained, one more: three again, so the wait is the first one.
        assert_eq!(
            backoff.attempt(A, Instant::now(), || false),
            Attempt::Refused {
                failures: 3,
                wait: FIRST_WAIT
            }
        );
        tokio::time::advance(DRAIN * 3).await;
        assert_eq!(
            backoff.attempt(A, Instant::now(), || false),
            Attempt::Refused {
                failures: 1,
                wait: Duration::ZERO
            }
        );
        // Forgotten addresses leave the table once anyone makes an attempt.
        tokio::time::advance(DRAIN).await;
        assert_eq!(
            backoff.attempt(B, Instant::now(), || true),
            Attempt::Accepted
        );
        assert!(backoff.is_empty());
    }

    /// A guesser who tries at every turn it is given, for an hour, gets the three free
    /// guesses, a few more while the wait grows, then three a minute at most.
    #[tokio::test(start_paused = true)]
    async fn in_the_long_run_an_address_gets_three_guesses_a_minute() {
        let backoff = LoginBackoff::default();
        let start = Instant::now();
        let hour = Duration::from_secs(3600);
        let mut guesses = 0u32;
        while Instant::now() - start < hour {
            match backoff.attempt(A, Instant::now(), || false) {
                Attempt::Refused { wait, .. } => {
                    guesses += 1;
                    tokio::time::advance(wait.max(Duration::from_millis(1))).await;
                }
                Attempt::NotYet { at } => tokio::time::advance(at - Instant::now()).await,
                Attempt::Accepted => unreachable!("the check always fails"),
            }
        }
        assert!(guesses <= 3 * 60 + 10, "{guesses} guesses in an hour");
        assert!(guesses >= 3 * 60 - 10, "{guesses} guesses in an hour");
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_is_capped_and_the_oldest_address_goes_first() {
        let backoff = LoginBackoff::with_capacity(100);
        let address = |i: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        for i in 0..1000 {
            tokio::time::advance(Duration::from_millis(1)).await;
            fail(&backoff, address(i));
            fail(&backoff, address(i));
            fail(&backoff, address(i));
            assert!(backoff.len() <= 100);
        }
        assert_eq!(backoff.len(), 100);
        // The newest hundred are remembered and waiting; the first was evicted and starts
        // with free failures again.
        assert!(turn(&backoff, address(999)).is_some());
        assert!(turn(&backoff, address(900)).is_some());
        assert_eq!(turn(&backoff, address(0)), None);
        assert_eq!(fail(&backoff, address(0)), Duration::ZERO);
    }

    /// Guesses against one account from a thousand addresses at once: each address is
    /// new, but the account's count is shared, so after the third each waits its turn.
    #[tokio::test(start_paused = true)]
    async fn a_guess_spread_over_many_addresses_is_slowed_by_its_account() {
        let backoff = LoginBackoff::default();
        let address = |i: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        let charged: Vec<_> = (0..1000)
            .filter_map(|i| backoff.charge(address(i), Some("ann"), Instant::now()).ok())
            .collect();
        assert_eq!(charged.len(), 3, "three checks run at once, the rest wait");
        // An hour of guessing at every turn, each from a new address: three a minute.
        let start = Instant::now();
        let mut guesses = 0u32;
        let mut i = 1000;
        while Instant::now() - start < Duration::from_secs(3600) {
            i += 1;
            match backoff.charge(address(i), Some("ann"), Instant::now()) {
                Ok(_) => guesses += 1,
                Err(at) => tokio::time::advance(at - Instant::now()).await,
            }
        }
        assert!(guesses <= 3 * 60 + 10, "{guesses} guesses in an hour");
        // Another account is not slowed.
        assert!(backoff
            .charge(address(0), Some("bob"), Instant::now())
            .is_ok());
    }

    /// A right password gives its charge back: an account's owner who types it right
    /// between two guessers' turns leaves the count where it was.
    #[tokio::test(start_paused = true)]
    async fn a_right_password_gives_its_charge_back() {
        let backoff = LoginBackoff::default();
        let wrong = backoff.charge(A, Some("ann"), Instant::now()).unwrap();
        assert_eq!(wrong.failures, 1);
        let right = backoff.charge(B, Some("ann"), Instant::now()).unwrap();
        assert_eq!(right.failures, 2);
        backoff.refund(right);
        let next = backoff.charge(B, Some("ann"), Instant::now()).unwrap();
        assert_eq!(next.failures, 2, "the refunded attempt no longer counts");
        // A refund of the only failure of an address forgets it.
        backoff.refund(next);
        let c = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
        let alone = backoff.charge(c, None, Instant::now()).unwrap();
        backoff.refund(alone);
        assert_eq!(backoff.len(), 1, "only A's failure is remembered");
    }

    #[test]
    fn an_ipv6_address_counts_by_its_slash_64_and_a_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_block: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other_block: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source(one), source(same_block));
        assert_ne!(source(one), source(other_block));
        assert_eq!(source(one), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(source(mapped), A);
        assert_eq!(source(A), A);
    }
}
