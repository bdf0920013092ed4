//! Who is who in a benchmark run, and who should receive what: client and room names,
//! which receivers go to which server, and how many deliveries a publisher's messages make.
//! Pure arithmetic on the run's shape; the connections are [`super::connect`]'s.

use std::net::SocketAddr;

use chat_proto::validate::DEFAULT_ROOM;

use super::report::ServerShare;

/// How many of `clients` receivers go to each of `servers` (receiver `i` to
/// `servers[i mod len]`), for the report: which node carried what.
pub fn receivers_per_server(servers: &[SocketAddr], clients: usize) -> Vec<ServerShare> {
    servers
        .iter()
        .enumerate()
        .map(|(k, addr)| ServerShare {
            addr: addr.to_string(),
            receivers: (clients + servers.len() - 1 - k) / servers.len(),
        })
        .collect()
}

/// Receiver `i`'s name.
pub fn receiver_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-r{i}")
}

/// Publisher `i`'s name.
pub fn publisher_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-p{i}")
}

/// Room `k` of a run with `rooms` rooms: `lobby` when there is one, else `PREFIX-k`.
pub fn room_name(prefix: &str, k: usize, rooms: usize) -> String {
    if rooms == 1 {
        DEFAULT_ROOM.to_owned()
    } else {
        format!("{prefix}-{k}")
    }
}

/// What the receivers should receive of a publisher that sent `sent` messages to `rooms`
/// rooms in turn, `clients` receivers spread over them in turn: room `r` was sent the
/// messages `k < sent` with `k mod rooms = r`, and holds the receivers `i < clients` with
/// `i mod rooms = r`.
pub fn expected_deliveries(sent: u64, rooms: usize, clients: usize) -> u64 {
    let in_turn = |n: u64, r: u64| (n + rooms as u64 - 1 - r) / rooms as u64;
    (0..rooms as u64)
        .map(|r| in_turn(sent, r) * in_turn(clients as u64, r))
        .sum()
}
