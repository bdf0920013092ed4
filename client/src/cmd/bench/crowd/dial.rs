//! Where a crowd's connections come from and how they come back: the local addresses
//! 127.0.0.1 to 127.0.0.K they are spread over (one address has some 28,000 ephemeral
//! ports), and the reconnect loop every member and the publisher run after a drop, with a
//! growing, jittered pause so that a hundred thousand of them do not knock in step.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use chat_proto::Backlog;
use tokio_util::sync::CancellationToken;

use super::state::Crowd;
use crate::cmd::bench::join::{join_from, Joined};

/// Read-buffer growth for a member: enough for a message or a short catch-up, so a
/// hundred thousand of them cost this process little.
pub const CHUNK: usize = 256;

/// The first pause after a failed reconnect; it doubles up to [`MOST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);

/// The longest pause between reconnect attempts: a restarted server is found within about
/// a second.
const MOST_PAUSE: Duration = Duration::from_secs(1);

/// Where the kernel keeps the ephemeral port range.
const PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// `127.0.0.1` to `127.0.0.k`.
pub fn loopback_sources(k: u8) -> Vec<IpAddr> {
    (1..=k)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
        .collect()
}

/// How many local addresses `clients` connections (and the publisher's) need: at most
/// half of each address's ephemeral ports in use, so a storm's reconnects find free ports
/// while the old connections' still close. Reads the kernel's range (28,232 ports by
/// default, when it cannot).
pub fn sources_needed(clients: usize) -> u8 {
    let ports = std::fs::read_to_string(PORT_RANGE)
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(str::parse::<usize>);
            let (low, high) = (bounds.next()?.ok()?, bounds.next()?.ok()?);
            high.checked_sub(low).map(|n| n + 1)
        })
        .unwrap_or(60_999 - 32_768 + 1);
    let per_address = (ports / 2).max(1);
    u8::try_from((clients + 1).div_ceil(per_address).clamp(1, 254)).unwrap_or(254)
}

/// Who is reconnecting, for [`rejoin`].
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its rooms.
    pub rooms: &'a [String],
    /// Its local address, if any.
    pub from: Option<IpAddr>,
    /// What it asks each room for.
    pub backlog: Backlog,
    /// Spreads its pauses apart from the others' (its member number, say).
    pub key: usize,
}

/// Connects, registers and joins again, trying until it works or `stop`: each failure is
/// counted and followed by a pause (50 ms doubling to 1 s, each scaled by 0.5 to 1.5 from
/// `key` and the attempt). Handshakes wait for the crowd's gate.
pub async fn rejoin(crowd: &Crowd, caller: Caller<'_>, stop: &CancellationToken) -> Option<Joined> {
    let mut pause = FIRST_PAUSE;
    for attempt in 0usize.. {
        if stop.is_cancelled() {
            return None;
        }
        let joined = {
            let _permit = tokio::select! {
                () = stop.cancelled() => return None,
                permit = crowd.gate.acquire() => permit.ok()?,
            };
            Box::pin(join_from(
                crowd.addr,
                caller.from,
                caller.name,
                caller.rooms,
                caller.backlog,
                CHUNK,
                crowd.wait,
            ))
            .await
        };
        match joined {
            Ok(joined) => return Some(joined),
            Err(_) => {
                crowd
                    .failed_attempts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let spread =
                    (caller.key.wrapping_mul(2_654_435_761) ^ attempt.wrapping_mul(40_503)) % 1000;
                let jittered = pause.mul_f64(0.5 + spread as f64 / 1000.0);
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(jittered) => {}
                }
                pause = (pause * 2).min(MOST_PAUSE);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_consecutive_loopback_addresses() {
        assert_eq!(
            loopback_sources(3),
            ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
                .map(|a| a.parse::<IpAddr>().unwrap())
                .to_vec()
        );
    }

    #[test]
    fn enough_sources_for_half_the_ports_each() {
        assert_eq!(sources_needed(200), 1);
        let per = sources_needed(100_000);
        assert!((2..=254).contains(&per), "{per}");
    }
}
