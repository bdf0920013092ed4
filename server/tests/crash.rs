//! Crash safety of history: a sender streams messages, a listener records what it receives,
//! and the real server is killed with SIGKILL after a random number of them; restarted on
//! the same SQLite file, its history holds every message the listener had received, each
//! once, under the same seq, in the order received.
//!
//! 20 runs by default; `CHAT_CRASH_RUNS=200` for more. Each run prints its random kill point,
//! and the seed of the whole series is printed first, so a failure can be read back.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chat_proto::codec::encode;
use chat_proto::{ClientFrame, Cursor, FrameReader, ServerFrame};
use common::{joined_raw, scratch_dir, ServerProcess, TestClient, LOBBY, TIMEOUT};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Runs when `CHAT_CRASH_RUNS` is not set.
const RUNS: usize = 20;

/// Messages the sender may have sent and not yet seen come back.
const WINDOW: usize = 256;

/// The most messages a listener receives before the kill.
const MAX_BEFORE_KILL: u64 = 3_000;

/// A small xorshift generator: enough to spread kill points, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Starts the real server on `dir`'s `config.ini` (history in `chat.db` there).
fn start(dir: &Path) -> (ServerProcess, std::net::SocketAddr) {
    let mut server = ServerProcess::spawn(dir, &["--config", "config.ini"]);
    let addr = server.listening_addr();
    (server, addr)
}

/// Registers `name` and joins lobby over a raw stream.
async fn joined(
    addr: std::net::SocketAddr,
    name: &str,
) -> (
    FrameReader<tokio::net::tcp::OwnedReadHalf, ServerFrame>,
    tokio::net::tcp::OwnedWriteHalf,
) {
    joined_raw(TcpStream::connect(addr).await.unwrap(), name, LOBBY).await
}

/// One run: stream, kill after `kill_after` received messages, restart, compare.
async fn run_once(dir: &Path, run: usize, kill_after: u64) {
    let (server, addr) = start(dir);
    let (mut listener, _listener_write) = joined(addr, "listener").await;
    let (mut sender_frames, mut sender) = joined(addr, "sender").await;
    // The sender keeps up to WINDOW messages in flight, as `chat-client send -` does: a
    // sender that never waits would outrun any reader, which would then be dropped.
    let window = Arc::new(Semaphore::new(WINDOW));
    let echoes = window.clone();
    let drain = tokio::spawn(async move {
        while let Ok(Some(frame)) = sender_frames.read_frame().await {
            if matches!(frame, ServerFrame::Msg { .. }) {
                echoes.add_permits(1);
            }
        }
    });
    let stream = tokio::spawn(async move {
        for i in 0.. {
            let Ok(permit) = window.acquire().await else {
                return;
            };
            permit.forget();
            let frame = ClientFrame::Msg {
                room: LOBBY.into(),
                text: format!("run {run} message {i}"),
            };
            if sender
                .write_all(encode(&frame).unwrap().as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });

    let mut received: Vec<(u64, String)> = Vec::new();
    let mut server = Some(server);
    loop {
        let frame = tokio::time::timeout(TIMEOUT, listener.read_frame())
            .await
            .expect("the listener hears something in time");
        match frame {
            Ok(Some(ServerFrame::Msg {
                seq, text, from, ..
            })) => {
                if from == "sender" {
                    received.push((seq, text));
                }
                if received.len() as u64 == kill_after {
                    // The crash: no flush, no shutdown, in the middle of the stream.
                    server.take().expect("killed once").kill();
                }
            }
            Ok(Some(ServerFrame::Error { kind, detail })) => {
                panic!("run {run}: the listener was refused: {kind}: {detail}")
            }
            Ok(Some(_)) => {}
            // The connection dies with the server; a frame may be cut in two.
            Ok(None) | Err(_) => break,
        }
    }
    assert!(
        server.is_none(),
        "run {run}: the stream ended after {} messages, before the kill",
        received.len()
    );
    stream.abort();
    drain.abort();
    let first = received
        .first()
        .map(|(seq, _)| *seq)
        .expect("received some");
    assert!(
        received.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "run {run}: the listener's seqs have a gap"
    );

    // Restarted on the same file: everything received is there, once, as received.
    let (restarted, addr) = start(dir);
    let mut reader = TestClient::connect(addr).await;
    reader.hello("reader").await;
    let mut stored: BTreeMap<u64, String> = BTreeMap::new();
    let mut from = Cursor::After(first - 1);
    loop {
        let (messages, more, next) = match reader.history(LOBBY, from, 500).await {
            ServerFrame::History {
                messages,
                more,
                next,
                ..
            } => (messages, more, next),
            other => panic!("expected History, got {other:?}"),
        };
        for m in messages {
            assert!(
                stored.insert(m.seq, m.text).is_none(),
                "run {run}: seq stored twice"
            );
        }
        from = next;
        if !more {
            break;
        }
    }
    for (seq, text) in &received {
        assert_eq!(
            stored.get(seq),
            Some(text),
            "run {run}: message {seq}, received before the kill, is not in the history"
        );
    }
    // Numbering goes on after the restart, from what was stored.
    let last = stored.keys().next_back().copied().unwrap_or(0);
    reader.join(LOBBY).await;
    reader.say("after the crash").await;
    match reader.recv_skipping_notices().await {
        ServerFrame::Msg { seq, .. } => assert_eq!(seq, last + 1, "run {run}"),
        other => panic!("{other:?}"),
    }
    println!(
        "run {run}: killed after {kill_after} received (seq {first}..={}), {} stored in all",
        received.last().unwrap().0,
        stored.len()
    );
    restarted.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_received_before_a_kill_9_is_in_the_history() {
    let runs: usize = std::env::var("CHAT_CRASH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(RUNS);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let dir = scratch_dir("crash");
    std::fs::write(
        dir.join("config.ini"),
        "[server]\nhost = 127.0.0.1\nport = 0\n[limits]\nmessages_per_second = 0\n\
         [store]\npath = chat.db\n",
    )
    .unwrap();
    for run in 0..runs {
        run_once(&dir, run, 1 + rng.below(MAX_BEFORE_KILL)).await;
    }
    println!("{runs} of {runs} runs passed");
}
