//! Leaving a NATS server through which JetStream no longer answers, and which server to go
//! to when the link moves.
//!
//! The link's pings only tell that the server itself answers. In a NATS cluster a server
//! can answer pings while every JetStream request through it fails (measured: after a
//! paused server resumed, another server said "JetStream system temporarily unavailable"
//! to its clients for longer than ten seconds while the third served JetStream well), and
//! the rooms of a node connected to it stay silent. So the node's JetStream users report
//! what their requests got; when nothing but failures came for a while, the node moves to
//! another server. When every server fails alike (two of three lost), moving cannot help:
//! the wait before the next move doubles, so the node does not keep dropping its link.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_nats::{ReconnectToServer, Server, ServerInfo};

/// How long JetStream may fail through one server, with no answer between, before the node
/// moves: longer than a JetStream leader election (a few seconds here).
const FIRST_WAIT: Duration = Duration::from_secs(5);

/// The longest wait between two moves while JetStream keeps failing everywhere.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// What JetStream's requests through the node's server got lately.
#[derive(Debug)]
pub struct JetStreamHealth {
    /// When the failures began, and how long they may last before the next move.
    state: Mutex<Failing>,
}

/// Failures since the last answer.
#[derive(Debug)]
struct Failing {
    /// When the first failure since the last answer (or move) came; `None` after an answer.
    since: Option<Instant>,
    /// How long failures may last before the next move.
    wait: Duration,
}

impl Default for JetStreamHealth {
    fn default() -> JetStreamHealth {
        JetStreamHealth {
            state: Mutex::new(Failing {
                since: None,
                wait: FIRST_WAIT,
            }),
        }
    }
}

impl JetStreamHealth {
    /// A JetStream request was answered (a refusal that JetStream decided counts).
    pub fn answered(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.since = None;
        state.wait = FIRST_WAIT;
    }

    /// A JetStream request through the server failed at `now` (timed out, or JetStream
    /// unavailable); `true` when the node should move to another server now.
    pub fn failed_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let since = *state.since.get_or_insert(now);
        if now.duration_since(since) < state.wait {
            return false;
        }
        state.since = Some(now);
        state.wait = (state.wait * 2).min(MAX_WAIT);
        true
    }
}

/// The server the link goes to next: the one that failed least lately, and among those, one
/// other than the one it was on (`last`); `None` (the client's own pick) when it cannot tell
/// the servers apart. The server it left comes back in turn once the others failed more
/// than it did: with two of three lost, it may be the only one up.
pub fn next_server(servers: &[Server], last: &ServerInfo) -> Option<ReconnectToServer> {
    if servers.len() < 2 || servers.iter().all(|server| is_server(server, last)) {
        return None;
    }
    servers
        .iter()
        .min_by_key(|server| (server.failed_attempts, is_server(server, last)))
        .map(|server| ReconnectToServer {
            addr: server.addr.clone(),
            delay: None,
        })
}

/// Whether `server` is the one `info` came from, as far as its address tells: the same
/// port, and the same host unless the server listens on every address (then every server
/// on that port looks like it, and the client picks).
fn is_server(server: &Server, info: &ServerInfo) -> bool {
    let everywhere = matches!(info.host.as_str(), "0.0.0.0" | "::" | "[::]" | "");
    server.addr.port() == info.port && (everywhere || server.addr.host() == info.host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_after_failures_that_last_and_waits_twice_as_long_each_time() {
        let health = JetStreamHealth::default();
        let start = Instant::now();
        assert!(!health.failed_at(start));
        assert!(!health.failed_at(start + FIRST_WAIT / 2));
        assert!(health.failed_at(start + FIRST_WAIT));
        // Still failing on the next server: the next move waits twice as long.
        let moved = start + FIRST_WAIT;
        assert!(!health.failed_at(moved + FIRST_WAIT));
        assert!(health.failed_at(moved + FIRST_WAIT * 2));
    }

    #[test]
    fn an_answer_between_failures_starts_the_count_again() {
        let health = JetStreamHealth::default();
        let start = Instant::now();
        assert!(!health.failed_at(start));
        health.answered();
        assert!(!health.failed_at(start + FIRST_WAIT));
        assert!(health.failed_at(start + FIRST_WAIT * 2));
        health.answered();
        // The wait is back to the first.
        let again = start + FIRST_WAIT * 3;
        assert!(!health.failed_at(again));
        assert!(health.failed_at(again + FIRST_WAIT));
    }

    fn server(url: &str, failed_attempts: usize) -> Server {
        Server {
            addr: url.parse().unwrap(),
            failed_attempts,
            did_connect: true,
            is_discovered: false,
            last_error: None,
        }
    }

    fn info(host: &str, port: u16) -> ServerInfo {
        ServerInfo {
            host: host.to_owned(),
            port,
            ..ServerInfo::default()
        }
    }

    #[test]
    fn the_next_server_is_another_one_that_failed_least() {
        let servers = [
            server("nats://10.0.0.1:4222", 0),
            server("nats://10.0.0.2:4222", 3),
            server("nats://10.0.0.3:4222", 0),
        ];
        let next = next_server(&servers, &info("10.0.0.1", 4222)).unwrap();
        assert_eq!(next.addr.host(), "10.0.0.3");
    }

    #[test]
    fn the_server_it_left_comes_back_once_the_others_failed_more() {
        let servers = [
            server("nats://10.0.0.1:4222", 0),
            server("nats://10.0.0.2:4222", 1),
            server("nats://10.0.0.3:4222", 1),
        ];
        let next = next_server(&servers, &info("10.0.0.1", 4222)).unwrap();
        assert_eq!(next.addr.host(), "10.0.0.1");
    }

    #[test]
    fn when_the_servers_cannot_be_told_apart_the_client_picks() {
        let one = [server("nats://127.0.0.1:4222", 0)];
        assert!(next_server(&one, &info("127.0.0.1", 4222)).is_none());
        let many = [
            server("nats://10.0.0.1:4222", 0),
            server("nats://10.0.0.2:4222", 0),
        ];
        assert!(next_server(&many, &info("0.0.0.0", 4222)).is_none());
        // Before any server answered, any will do.
        assert!(next_server(&many, &ServerInfo::default()).is_some());
    }
}
