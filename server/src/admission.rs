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
use std::sync::{Arc, Mutex, PoisonError};

use chat_proto::ErrorKind;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
type PerIp = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// The two connection limits.
#[derive(Debug, Clone)]
pub struct Admission {
    /// One permit per connection slot; `None`: no `max_clients`.
    slots: Option<Arc<Semaphore>>,
    /// `max_clients`, for the refusal.
    max_clients: usize,
    /// Counts per address; `None`: no `max_per_ip`.
    per_ip: Option<PerIp>,
    /// `max_per_ip`.
    max_per_ip: usize,
}

/// One admitted connection's place; given back on drop.
#[derive(Debug)]
pub struct Ticket {
    /// The `max_clients` slot.
    _slot: Option<OwnedSemaphorePermit>,
    /// The address whose count to lower, and the counts.
    ip: Option<(IpAddr, PerIp)>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some((ip, counts)) = &self.ip {
            let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = counts.get_mut(ip) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(ip);
                }
            }
        }
    }
}

impl Admission {
    /// Limits of `max_clients` and `max_per_ip` connections; 0 turns either off.
    pub fn new(max_clients: usize, max_per_ip: usize) -> Admission {
        Admission {
            slots: (max_clients > 0).then(|| Arc::new(Semaphore::new(max_clients))),
            max_clients,
            per_ip: (max_per_ip > 0).then(PerIp::default),
            max_per_ip,
        }
    }

    /// Admits a connection from `ip`, or says why not. Never waits: a full server answers at
    /// once instead of leaving the peer hanging.
    pub fn admit(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        let slot = match &self.slots {
            Some(slots) => {
                Some(
                    slots
                        .clone()
                        .try_acquire_owned()
                        .map_err(|_| Refusal::ServerFull {
                            max: self.max_clients,
                        })?,
                )
            }
            None => None,
        };
        let ip = match &self.per_ip {
            Some(counts) => {
                let mut map = counts.lock().unwrap_or_else(PoisonError::into_inner);
                let n = map.entry(ip).or_default();
                if *n >= self.max_per_ip {
                    if *n == 0 {
                        map.remove(&ip);
                    }
                    return Err(Refusal::TooManyFromIp {
                        ip,
                        max: self.max_per_ip,
                    });
                }
                *n += 1;
                Some((ip, counts.clone()))
            }
            None => None,
        };
        Ok(Ticket { _slot: slot, ip })
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
        assert!(admission
            .per_ip
            .as_ref()
            .unwrap()
            .lock()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_refusal_per_address_gives_back_the_server_slot() {
        let admission = Admission::new(2, 1);
        let _a = admission.admit(A).unwrap();
        assert!(admission.admit(A).is_err());
        // The refused attempt did not keep a slot: B still fits.
        assert!(admission.admit(B).is_ok());
    }

    #[test]
    fn zero_means_no_limit() {
        let admission = Admission::new(0, 0);
        let tickets: Vec<_> = (0..10_000).map(|_| admission.admit(A).unwrap()).collect();
        assert_eq!(tickets.len(), 10_000);
    }
}
