//! Who may connect at all: at most `max_clients` connections at once, and at most
//! `max_per_ip` from one IP address.
//!
//! Checked in the accept loop, before a connection gets tasks and buffers of its own, so a
//! full server spends on a refused peer only one small write: `Error{ServerFull}` or
//! `Error{TooManyConnections}`, then a close. The count is of connections, registered or not;
//! `handshake_timeout` makes sure idle ones give their place back.
//!
//! A [`Ticket`] stands for one admitted connection and gives its place back when dropped,
//! however the connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chat_proto::ErrorKind;

/// Why a connection was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `max_clients` connections are open.
    #[error("the server is full ({max} connections); try again later")]
    ServerFull {
        /// `max_clients`.
        max: usize,
    },
    /// `max_per_ip` connections are open from this address.
    #[error("too many connections from {ip} (at most {max})")]
    TooManyFromIp {
        /// The peer's address.
        ip: IpAddr,
        /// `max_per_ip`.
        max: usize,
    },
}

impl Refusal {
    /// The kind sent to the peer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Refusal::ServerFull { .. } => ErrorKind::ServerFull,
            Refusal::TooManyFromIp { .. } => ErrorKind::TooManyConnections,
        }
    }
}

/// Open connections per address; an address with none has no entry.
type PerIp = HashMap<IpAddr, usize>;

/// What the two limits count, shared by every [`Ticket`].
#[derive(Debug, Default)]
struct Counts {
    /// Connections open now.
    open: AtomicUsize,
    /// `max_clients`; 0: no limit.
    max_clients: AtomicUsize,
    /// Connections open per address, counted whatever `max_per_ip` (so that a reload that
    /// turns it on counts the connections already open).
    per_ip: Mutex<PerIp>,
    /// `max_per_ip`; 0: no limit.
    max_per_ip: AtomicUsize,
}

/// The two connection limits, which a reload may change ([`Admission::set_limits`]).
#[derive(Debug, Clone, Default)]
pub struct Admission(Arc<Counts>);

/// One admitted connection's place; given back on drop.
#[derive(Debug)]
pub struct Ticket {
    /// The counts to lower.
    counts: Arc<Counts>,
    /// The connection's address.
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.counts.open.fetch_sub(1, Ordering::Relaxed);
        self.counts.release(self.ip);
    }
}

impl Counts {
    /// Lowers `ip`'s count, forgetting an address with no connection left.
    fn release(&self, ip: IpAddr) {
        let mut counts = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&ip);
            }
        }
    }
}

impl Admission {
    /// Limits of `max_clients` and `max_per_ip` connections; 0 turns either off.
    pub fn new(max_clients: usize, max_per_ip: usize) -> Admission {
        let admission = Admission::default();
        admission.set_limits(max_clients, max_per_ip);
        admission
    }

    /// Changes the limits (a reload): the next connection is admitted under them; the
    /// connections open stay, even past a lower limit.
    pub fn set_limits(&self, max_clients: usize, max_per_ip: usize) {
        self.0.max_clients.store(max_clients, Ordering::Relaxed);
        self.0.max_per_ip.store(max_per_ip, Ordering::Relaxed);
    }

    /// Admits a connection from `ip`, or says why not. Never waits: a full server answers at
    /// once instead of leaving the peer hanging.
    pub fn admit(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        let counts = &self.0;
        let max = counts.max_clients.load(Ordering::Relaxed);
        let before = counts.open.fetch_add(1, Ordering::Relaxed);
        if max > 0 && before >= max {
            counts.open.fetch_sub(1, Ordering::Relaxed);
            return Err(Refusal::ServerFull { max });
        }
        let max = counts.max_per_ip.load(Ordering::Relaxed);
        let mut per_ip = counts.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let n = per_ip.entry(ip).or_default();
        if max > 0 && *n >= max {
            if *n == 0 {
                per_ip.remove(&ip);
            }
            counts.open.fetch_sub(1, Ordering::Relaxed);
            return Err(Refusal::TooManyFromIp { ip, max });
        }
        *n += 1;
        Ok(Ticket {
            counts: Arc::clone(counts),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn the_server_fills_up_and_a_closed_connection_frees_its_place() {
        let admission = Admission::new(2, 0);
        let first = admission.admit(A).unwrap();
        let _second = admission.admit(B).unwrap();
        assert_eq!(
            admission.admit(A).unwrap_err(),
            Refusal::ServerFull { max: 2 }
        );
        drop(first);
        assert!(admission.admit(A).is_ok());
    }

    #[test]
    fn one_address_is_capped_and_others_are_not_affected() {
        let admission = Admission::new(0, 2);
        let tickets: Vec<_> = (0..2).map(|_| admission.admit(A).unwrap()).collect();
        assert_eq!(
            admission.admit(A).unwrap_err(),
            Refusal::TooManyFromIp { ip: A, max: 2 }
        );
        assert!(admission.admit(B).is_ok());
        drop(tickets);
        assert!(admission.admit(A).is_ok());
        // Counts of addresses with no connection left are forgotten, not kept forever.
        assert!(admission.0.per_ip.lock().unwrap().is_empty());
    }

    #[test]
    fn a_refusal_per_address_gives_back_the_server_slot() {
        let admission = Admission::new(2, 1);
        let _a = admission.admit(A).unwrap();
        assert!(admission.admit(A).is_err());
        // The refused attempt did not keep a slot: B still fits.
        assert!(admission.admit(B).is_ok());
    }

    /// A reload lowers a limit for the next connection; the ones open stay.
    #[test]
    fn a_lower_limit_holds_for_the_next_connection_only() {
        let admission = Admission::new(3, 0);
        let open: Vec<_> = (0..3).map(|_| admission.admit(A).unwrap()).collect();
        admission.set_limits(1, 0);
        assert_eq!(
            admission.admit(B).unwrap_err(),
            Refusal::ServerFull { max: 1 }
        );
        drop(open);
        assert!(admission.admit(B).is_ok());
        admission.set_limits(0, 1);
        let _a = admission.admit(A).unwrap();
        assert_eq!(
            admission.admit(A).unwrap_err(),
            Refusal::TooManyFromIp { ip: A, max: 1 }
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let admission = Admission::new(0, 0);
        let tickets: Vec<_> = (0..10_000).map(|_| admission.admit(A).unwrap()).collect();
        assert_eq!(tickets.len(), 10_000);
    }
}
