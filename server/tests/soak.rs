//! Churn: waves of clients connect, talk and leave while a fixed group listens. The group
//! hears every message exactly once, in one order, and the server gives back the file
//! descriptors and the memory the waves took.
//!
//! Small by default (4 waves of 100 clients, 3 messages each); `CHAT_SOAK_SCALE=N` runs
//! `4·N` waves. The server runs in this process, so `/proc/self` is the server plus the
//! test's own client sockets, which are all closed when the counts are read.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use chat_proto::ServerFrame;
use common::{start_with, status_kib, test_config, TestClient, TestServer, LOBBY, TIMEOUT};
use tokio::time::Instant;

/// Listeners that stay connected through every wave.
const LISTENERS: usize = 5;
/// Clients that connect at once in each wave.
const PER_WAVE: usize = 100;
/// Messages each churning client sends.
const MESSAGES: usize = 3;
/// Waves at scale 1.
const WAVES: usize = 4;

/// How far the resident memory may stay above its level after the first wave, server and
/// test together. A wave of 100 clients costs a few MiB while it runs (tasks, queues, read
/// buffers); what must not happen is a cost per client that stays. Measured on a debug build
/// (VmRSS after the first wave, then after the last): 400 clients 9.7 -> 10.5 MiB, 4,000
/// clients 8.7 -> 11.6 MiB, 10,000 clients 9.7 -> 11.5 MiB: no trend with the number of
/// clients, only the allocator keeping some freed pages.
const RSS_TOLERANCE_KIB: u64 = 8 * 1024;

/// How long the descriptor count may take to come back after the last client left.
const SETTLE: Duration = Duration::from_secs(10);

/// What a listener heard: how many messages, a digest of their order, the next message
/// number it expects from each sender still talking, and how many senders said all theirs.
/// Kept small (no list of messages, finished senders forgotten) so that the test's own
/// memory does not grow with the scale and blur the server's.
#[derive(Debug, Default)]
struct Heard {
    count: usize,
    order: u64,
    next: HashMap<String, usize>,
    finished: usize,
}

impl Heard {
    /// Takes in one message; each sender's must come exactly once each, in the order sent.
    fn take(&mut self, from: &str, text: &str) {
        let n: usize = text
            .rsplit_once(" message ")
            .and_then(|(who, n)| (who == from).then(|| n.parse().ok())?)
            .unwrap_or_else(|| panic!("{from} said {text:?}, not one of the test's messages"));
        let next = self.next.entry(from.to_owned()).or_default();
        assert_eq!(
            n, *next,
            "from {from}: expected message {next}, got {text:?}"
        );
        *next += 1;
        if *next == MESSAGES {
            self.next.remove(from);
            self.finished += 1;
        }
        self.count += 1;
        let mut hasher = DefaultHasher::new();
        (self.order, text).hash(&mut hasher);
        self.order = hasher.finish();
    }
}

/// Reads room messages until `total` have come, skipping presence frames.
async fn listen(mut client: TestClient, total: usize) -> (Heard, TestClient) {
    let mut heard = Heard::default();
    while heard.count < total {
        match client.recv_skipping_notices().await {
            ServerFrame::Msg { from, text, .. } => heard.take(&from, &text),
            other => panic!("a listener got {other:?}"),
        }
    }
    (heard, client)
}

/// One churning client: registers, joins `lobby`, says its messages, says `Bye` and waits
/// for the close.
async fn churn(server_addr: std::net::SocketAddr, name: String) {
    let mut client = TestClient::connect(server_addr).await;
    match client.hello(&name).await {
        ServerFrame::Welcome { .. } => {}
        other => panic!("{name} was not welcomed: {other:?}"),
    }
    client.join(LOBBY).await;
    for n in 0..MESSAGES {
        client.say(&format!("{name} message {n}")).await;
    }
    client.send(chat_proto::ClientFrame::Bye).await;
    client.until_closed().await;
}

/// Runs wave `wave`: every client at once, returning when all have left.
async fn wave(server: &TestServer, wave: usize) {
    let clients: Vec<_> = (0..PER_WAVE)
        .map(|i| tokio::spawn(churn(server.addr, format!("w{wave}c{i}"))))
        .collect();
    for client in clients {
        client.await.expect("a churning client does not fail");
    }
}

/// Open file descriptors of this process.
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Waits until the descriptor count is back to `baseline` (the server closes a socket
/// moments after its client saw the close); the count it settled at.
async fn fds_back_to(baseline: usize) -> usize {
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = fds();
        if now <= baseline || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_clients_leave_no_trace_and_listeners_miss_nothing() {
    let scale: usize = std::env::var("CHAT_SOAK_SCALE")
        .ok()
        .map(|s| s.parse().expect("CHAT_SOAK_SCALE is a whole number"))
        .unwrap_or(1);
    let waves = WAVES * scale;
    let total = waves * PER_WAVE * MESSAGES;
    let server = start_with(test_config()).await;
    let mut listeners = Vec::new();
    for i in 0..LISTENERS {
        let client = server.register(&format!("listener{i}")).await;
        listeners.push(tokio::spawn(listen(client, total)));
    }

    let fds_before = fds();
    // The first wave warms up what stays allocated anyway (runtime, allocator arenas).
    wave(&server, 0).await;
    assert_eq!(
        fds_back_to(fds_before).await,
        fds_before,
        "after the first wave"
    );
    let rss_before = status_kib("VmRSS:");
    let started = Instant::now();
    for w in 1..waves {
        wave(&server, w).await;
    }
    let elapsed = started.elapsed();

    let mut digests = Vec::new();
    let mut stay = Vec::new();
    for listener in listeners {
        let (heard, client) = tokio::time::timeout(TIMEOUT, listener)
            .await
            .expect("the listeners hear every message in time")
            .expect("a listener does not fail");
        assert_eq!(heard.count, total);
        assert_eq!(
            heard.finished,
            waves * PER_WAVE,
            "every sender was heard out"
        );
        assert!(
            heard.next.is_empty(),
            "senders heard only in part: {:?}",
            heard.next
        );
        digests.push(heard.order);
        stay.push(client);
    }
    assert!(
        digests.windows(2).all(|w| w[0] == w[1]),
        "the listeners heard the messages in different orders"
    );

    let fds_after = fds_back_to(fds_before).await;
    let rss_after = status_kib("VmRSS:");
    eprintln!(
        "{} clients in {waves} waves, {total} messages to {LISTENERS} listeners in {elapsed:?}; \
         fds {fds_before} -> {fds_after}; VmRSS {rss_before} KiB -> {rss_after} KiB",
        waves * PER_WAVE
    );
    assert_eq!(
        fds_after, fds_before,
        "descriptors left open after the waves"
    );
    assert!(
        rss_after <= rss_before + RSS_TOLERANCE_KIB,
        "VmRSS grew from {rss_before} KiB to {rss_after} KiB over the waves"
    );

    // The listeners are still served.
    let mut first = stay.swap_remove(0);
    first.send(chat_proto::ClientFrame::ListUsers).await;
    let expected: Vec<String> = (0..LISTENERS).map(|i| format!("listener{i}")).collect();
    assert_eq!(
        first.recv_skipping_notices().await,
        ServerFrame::UserList { users: expected }
    );
    server.shutdown().await;
}
