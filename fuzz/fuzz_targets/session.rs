//! Hostile sessions, in-process: arbitrary sequences of operations by three simulated clients,
//! fed to the server's per-connection code (`chat_server::connection::serve`) over in-memory
//! streams, on a current-thread runtime whose clock is paused (timers fire only when every
//! task is idle, so a run never waits for real time and always goes the same way).
//!
//! Input layout (the seed corpus follows it; see `proto/examples/seed_corpus.rs`):
//!
//! ```text
//! byte 0    setup: bit 0 a small send queue (8 frames), bit 1 flood control on
//! then, until the input ends, operations of one byte: low 3 bits the operation, bits 4-5
//! which client (modulo 3), and each operation's own bytes:
//!   0 Frame   u16 BE length n, n bytes: a frame body, sent after its length prefix
//!   1 Raw     u16 BE length n, n bytes, sent as they are
//!   2 Typed   u16 BE length n, n bytes: read by `arbitrary` as a ClientFrame, encoded, sent
//!   3 Hello   one byte: a name from NAMES, sent in a Hello of the right version
//!   4 Settle  let every task run until all are idle
//!   5 Stall   the client stops reading
//!   6 Resume  the client reads again
//!   7 Close   the client closes its sending side
//! ```
//!
//! Before the first operation a witness, `watcher`, registers; it only reads (answering
//! pings). After the last, every client closes, and a newcomer, `late`, registers, asks who is
//! online and says something.
//!
//! Checked for every input (DESIGN.md's invariants, where cheap):
//! - nothing panics (libFuzzer reports a panic in any task as a crash), and every
//!   connection ends once its client has closed;
//! - everything a client received decodes as server frames (a client that stopped reading
//!   may see its stream end mid-frame);
//! - the `from` of every `Msg` and `Whisper` is the name some client was welcomed under, and
//!   that client sent that text;
//! - one order for everyone: the broadcasts a client received are exactly the witness's
//!   between `<name> joined` and `<name> left`, in the same order (cut short only for a
//!   client dropped as a slow consumer or one that stopped reading);
//! - afterwards the server still serves: `late` is welcomed, sees only itself and the
//!   witness online, and gets its own message back.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_proto::codec::{decode_chunks, encode, CodecError, CLIENT_MAX_FRAME};
use chat_proto::{ClientFrame, ErrorKind, FrameReader, ServerFrame, PROTOCOL_VERSION};
use chat_server::config::Config;
use chat_server::connection::{serve, Shared};
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tokio::io::{split, AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Simulated clients besides the witness and the newcomer.
const CLIENTS: usize = 3;

/// Names a `Hello` operation picks from: valid ones, two that differ only by case, the
/// witness's and the newcomer's, and a few the server must refuse.
const NAMES: &[&str] = &[
    "ann",
    "Ann",
    "bob",
    "carol",
    "watcher",
    "late",
    "",
    "a b",
    "tab\tname",
    "a_name_that_is_far_too_long_for_anyone",
];

/// Bytes each in-memory pipe holds before a writer waits: small, so that a client that
/// stops reading fills its queue soon.
const PIPE: usize = 4096;

/// The most operations one input runs, so an input of any size stays quick.
const MAX_OPS: usize = 256;

/// The longest the end of a run may take on the paused clock before it counts as a hang:
/// far beyond every deadline the server has (handshake, keepalive, linger, flush).
const HANG: Duration = Duration::from_secs(24 * 3600);

/// The send queue of a "small queue" setup: overflows within one burst.
const SMALL_QUEUE: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Some((&setup, ops)) = data.split_first() else {
        return;
    };
    let mut config = Config::default();
    if setup & 1 != 0 {
        config.send_queue = SMALL_QUEUE;
    }
    if setup & 2 == 0 {
        config.messages_per_second = 0.0;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(run(config, ops));
});

/// One simulated client: the harness's end of its pipe, and what went each way.
struct Sim {
    /// Its sending side; `None` once closed.
    tx: Option<WriteHalf<DuplexStream>>,
    /// Every byte it tried to send.
    sent: Vec<u8>,
    /// Every byte it received, filled by its reader task.
    received: Arc<Mutex<Vec<u8>>>,
    /// Whether its reader task reads.
    reading: watch::Sender<bool>,
    /// Whether it ever stopped reading.
    stalled: bool,
    /// Its reader task.
    reader: JoinHandle<()>,
    /// The server's task for its connection.
    conn: JoinHandle<()>,
}

async fn run(config: Config, mut ops: &[u8]) {
    let buffsize = config.buffsize;
    let shared = Shared::new(config);
    let (watcher, finish_watcher) = spawn_watcher(&shared).await;
    let mut sims: Vec<Sim> = (0..CLIENTS).map(|i| connect(&shared, i + 1)).collect();

    for _ in 0..MAX_OPS {
        let Some((&op, rest)) = ops.split_first() else {
            break;
        };
        ops = rest;
        let sim = &mut sims[usize::from(op >> 4) % CLIENTS];
        match op & 7 {
            0..=2 => {
                let (payload, rest) = take_sized(ops);
                ops = rest;
                let bytes = match op & 7 {
                    0 => prefixed(payload),
                    1 => payload.to_vec(),
                    _ => match ClientFrame::arbitrary(&mut Unstructured::new(payload)) {
                        Ok(frame) => match encode(&frame) {
                            Ok(wire) => wire.as_bytes().to_vec(),
                            Err(_) => continue,
                        },
                        Err(_) => continue,
                    },
                };
                send(sim, &bytes).await;
            }
            3 => {
                let Some((&name, rest)) = ops.split_first() else {
                    break;
                };
                ops = rest;
                let hello = ClientFrame::Hello {
                    version: PROTOCOL_VERSION,
                    username: NAMES[usize::from(name) % NAMES.len()].to_owned(),
                    password: None,
                };
                send(sim, encode(&hello).expect("a hello encodes").as_bytes()).await;
            }
            4 => settle().await,
            5 => {
                sim.stalled = true;
                sim.reading.send_replace(false);
            }
            6 => {
                sim.reading.send_replace(true);
            }
            _ => close(sim).await,
        }
    }

    // Everyone reads again and leaves; every connection must then end.
    for sim in &mut sims {
        sim.reading.send_replace(true);
        close(sim).await;
    }
    for sim in &mut sims {
        tokio::time::timeout(HANG, &mut sim.conn)
            .await
            .expect("a connection ends once its client closed")
            .expect("a connection task does not fail");
        tokio::time::timeout(HANG, &mut sim.reader)
            .await
            .expect("the server closes its side once the client left")
            .expect("a reader task does not fail");
    }
    let late = newcomer(&shared).await;
    let _ = finish_watcher.send(());
    let witness = tokio::time::timeout(HANG, watcher)
        .await
        .expect("the witness's connection ends after its Bye")
        .expect("the witness's task does not fail");

    check(&sims, buffsize, &witness, &late);
}

/// A new in-memory connection served by the server, as peer 127.0.0.1:`port`.
fn pipe(shared: &Shared, port: u16) -> (DuplexStream, JoinHandle<()>) {
    let (client, server) = tokio::io::duplex(PIPE);
    let (reader, writer) = split(server);
    let peer = SocketAddr::from(([127, 0, 0, 1], port));
    let conn = tokio::spawn(serve(reader, writer, peer, shared.clone()));
    (client, conn)
}

/// Connects simulated client number `n`; its reader task starts reading at once.
fn connect(shared: &Shared, n: usize) -> Sim {
    let (stream, conn) = pipe(shared, 40_000 + n as u16);
    let (rx, tx) = split(stream);
    let received = Arc::new(Mutex::new(Vec::new()));
    let (reading, switch) = watch::channel(true);
    let reader = tokio::spawn(read_all(rx, Arc::clone(&received), switch));
    Sim {
        tx: Some(tx),
        sent: Vec::new(),
        received,
        reading,
        stalled: false,
        reader,
        conn,
    }
}

/// Collects everything the server sends into `into` until the end of the stream, reading
/// only while `reading` says so.
async fn read_all(
    mut rx: ReadHalf<DuplexStream>,
    into: Arc<Mutex<Vec<u8>>>,
    mut reading: watch::Receiver<bool>,
) {
    let mut buf = vec![0; PIPE];
    loop {
        if !*reading.borrow_and_update() {
            // The harness never drops the switch before this task ends.
            let _ = reading.changed().await;
            continue;
        }
        tokio::select! {
            read = rx.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            },
            _ = reading.changed() => {}
        }
    }
}

/// Sends `bytes` for `sim`, as far as the server takes them.
async fn send(sim: &mut Sim, bytes: &[u8]) {
    sim.sent.extend_from_slice(bytes);
    if let Some(tx) = &mut sim.tx {
        // Fails once the server dropped the connection: what a real peer would see.
        let _ = tx.write_all(bytes).await;
    }
}

/// Closes `sim`'s sending side (the server reads the end of the stream).
async fn close(sim: &mut Sim) {
    if let Some(mut tx) = sim.tx.take() {
        let _ = tx.shutdown().await;
    }
}

/// Lets every task run until all are idle (the paused clock then moves a millisecond).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A length-prefixed slice of an operation's bytes, and the rest.
fn take_sized(ops: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = ops.split_first_chunk::<2>() else {
        return (ops, &[]);
    };
    rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()))
}

/// `body` behind its 4-byte big-endian length, as the codec frames it.
fn prefixed(body: &[u8]) -> Vec<u8> {
    let mut wire = u32::try_from(body.len())
        .expect("an operation's body is at most 64 KiB")
        .to_be_bytes()
        .to_vec();
    wire.extend_from_slice(body);
    wire
}

/// Registers `name` over a fresh connection and returns the typed reader and the writer.
async fn register(
    shared: &Shared,
    name: &str,
    port: u16,
) -> (
    FrameReader<ReadHalf<DuplexStream>, ServerFrame>,
    WriteHalf<DuplexStream>,
    JoinHandle<()>,
) {
    let (stream, conn) = pipe(shared, port);
    let (rx, mut tx) = split(stream);
    let hello = ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        username: name.to_owned(),
        password: None,
    };
    write(&mut tx, &hello).await;
    (FrameReader::new(rx, CLIENT_MAX_FRAME), tx, conn)
}

async fn write(tx: &mut WriteHalf<DuplexStream>, frame: &ClientFrame) {
    tx.write_all(encode(frame).expect("a small frame encodes").as_bytes())
        .await
        .expect("the server reads a healthy client");
}

/// Registers the witness and, once it is welcomed, starts its task: it records every frame,
/// answers pings, and on `finish` says `Bye` and reads until the server closes. The task
/// returns what it saw.
async fn spawn_watcher(shared: &Shared) -> (JoinHandle<Vec<ServerFrame>>, oneshot::Sender<()>) {
    let (finish, mut finished) = oneshot::channel::<()>();
    let (mut frames, mut tx, conn) = register(shared, "watcher", 40_000).await;
    let welcome = frames.read_frame().await;
    assert!(
        matches!(welcome, Ok(Some(ServerFrame::Welcome { .. }))),
        "the witness was not welcomed: {welcome:?}"
    );
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut said_bye = false;
        loop {
            let next = tokio::select! {
                biased;
                next = frames.read_frame() => next,
                _ = &mut finished, if !said_bye => {
                    said_bye = true;
                    let _ = tx.write_all(encode(&ClientFrame::Bye).unwrap().as_bytes()).await;
                    continue;
                }
            };
            match next.expect("the witness receives well-formed frames") {
                Some(ServerFrame::Ping) => {
                    let _ = tx
                        .write_all(encode(&ClientFrame::Pong).unwrap().as_bytes())
                        .await;
                }
                Some(frame) => seen.push(frame),
                None => break,
            }
        }
        conn.await
            .expect("the witness's connection task does not fail");
        seen
    });
    (task, finish)
}

/// After everything: a newcomer registers, lists the users, says something and leaves.
/// Returns the user list it got.
async fn newcomer(shared: &Shared) -> Vec<String> {
    let steps = async {
        let (mut frames, mut tx, conn) = register(shared, "late", 40_100).await;
        match next(&mut frames).await {
            Some(ServerFrame::Welcome { username, .. }) => assert_eq!(username, "late"),
            other => panic!("the newcomer was not welcomed: {other:?}"),
        }
        write(&mut tx, &ClientFrame::ListUsers).await;
        let Some(ServerFrame::UserList { users }) = next(&mut frames).await else {
            panic!("the newcomer got no user list");
        };
        write(&mut tx, &late_words()).await;
        match next(&mut frames).await {
            Some(ServerFrame::Msg { from, text, .. }) => {
                assert_eq!(
                    (from.as_str(), ClientFrame::Msg { text }),
                    ("late", late_words())
                );
            }
            other => panic!("the newcomer's message did not come back: {other:?}"),
        }
        write(&mut tx, &ClientFrame::Bye).await;
        while next(&mut frames).await.is_some() {}
        conn.await
            .expect("the newcomer's connection task does not fail");
        users
    };
    tokio::time::timeout(HANG, steps)
        .await
        .expect("the server answers a healthy newcomer")
}

/// What the newcomer says.
fn late_words() -> ClientFrame {
    ClientFrame::Msg {
        text: "still serving".to_owned(),
    }
}

/// The newcomer's next frame that is not a notice or a ping; `None` at the end.
async fn next(
    frames: &mut FrameReader<ReadHalf<DuplexStream>, ServerFrame>,
) -> Option<ServerFrame> {
    loop {
        match frames.read_frame().await {
            Ok(Some(ServerFrame::Ping | ServerFrame::System { .. })) => {}
            other => return other.expect("the newcomer gets well-formed frames"),
        }
    }
}

/// What one simulated client did and got, decoded.
struct Seen {
    /// The name it was welcomed under, if it was.
    name: Option<String>,
    /// The frames it sent that the server could read.
    sent: Vec<ClientFrame>,
    /// The `Msg` and `System` frames it received after its `Welcome`.
    broadcasts: Vec<ServerFrame>,
    /// Every frame it received.
    frames: Vec<ServerFrame>,
    /// Whether what it received may stop short: it stopped reading, or was dropped as a
    /// slow consumer.
    may_be_cut: bool,
}

fn check(sims: &[Sim], buffsize: usize, witness: &[ServerFrame], late_saw: &[String]) {
    let seen: Vec<Seen> = sims.iter().map(|sim| decode(sim, buffsize)).collect();

    // Who may speak as whom: every client welcomed under a name, and the newcomer.
    let late = [late_words()];
    let speakers: Vec<(&str, &[ClientFrame])> = seen
        .iter()
        .filter_map(|s| Some((s.name.as_deref()?, s.sent.as_slice())))
        .chain([("late", &late[..])])
        .collect();
    for frame in seen.iter().flat_map(|s| &s.frames).chain(witness) {
        let (from, said) = match frame {
            ServerFrame::Msg { from, text, .. } => (from, text),
            ServerFrame::Whisper { from, text, .. } => (from, text),
            _ => continue,
        };
        let whisper = matches!(frame, ServerFrame::Whisper { .. });
        let spoken = speakers.iter().any(|(name, sent)| {
            name == from
                && sent.iter().any(|frame| match frame {
                    ClientFrame::Msg { text } => !whisper && text == said,
                    ClientFrame::Whisper { text, .. } => whisper && text == said,
                    _ => false,
                })
        });
        assert!(
            spoken,
            "{frame:?}: no client welcomed as {from:?} sent that"
        );
    }

    // One order for everyone, exactly once each, from join to leave. The witness is the
    // reference unless it was itself dropped as a slow consumer.
    let witness_dropped = witness.iter().any(|f| {
        matches!(
            f,
            ServerFrame::Error {
                kind: ErrorKind::SlowConsumer,
                ..
            }
        )
    });
    if !witness_dropped {
        let order: Vec<&ServerFrame> = witness.iter().filter(|f| is_broadcast(f)).collect();
        for s in &seen {
            let Some(name) = &s.name else { continue };
            let (joined, left) = (format!("{name} joined"), format!("{name} left"));
            let fits = (0..order.len()).any(|i| {
                notice_is(order[i], &joined)
                    && order.len() > i + s.broadcasts.len()
                    && order[i + 1..=i + s.broadcasts.len()]
                        .iter()
                        .copied()
                        .eq(s.broadcasts.iter())
                    && (s.may_be_cut
                        || order
                            .get(i + 1 + s.broadcasts.len())
                            .is_some_and(|f| notice_is(f, &left)))
            });
            assert!(
                fits,
                "{name} saw {:#?}\nwhich is not what the witness saw between its join and \
                 its leave: {order:#?}",
                s.broadcasts
            );
        }
    }
    let expected: &[&str] = if witness_dropped {
        &["late"]
    } else {
        &["late", "watcher"]
    };
    assert_eq!(late_saw, expected, "who is online after everyone left");
}

/// Decodes what `sim` sent (as the server reads it) and received (as a client reads it).
fn decode(sim: &Sim, buffsize: usize) -> Seen {
    let sent = decode_chunks::<ClientFrame>([sim.sent.as_slice()], buffsize)
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let received = sim.received.lock().unwrap();
    let items = decode_chunks::<ServerFrame>([received.as_slice()], CLIENT_MAX_FRAME);
    let mut frames = Vec::new();
    let last = items.len().saturating_sub(1);
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Ok(frame) => frames.push(frame),
            Err(CodecError::Truncated { .. }) if sim.stalled && i == last => {}
            Err(e) => panic!("a client received bytes that are not server frames: {e}"),
        }
    }
    let welcomes: Vec<&str> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Welcome { username, .. } => Some(username.as_str()),
            _ => None,
        })
        .collect();
    assert!(welcomes.len() <= 1, "welcomed twice: {welcomes:?}");
    let name = welcomes.first().map(|n| (*n).to_owned());
    let broadcasts = frames
        .iter()
        .skip_while(|f| !matches!(f, ServerFrame::Welcome { .. }))
        .filter(|f| is_broadcast(f))
        .cloned()
        .collect();
    let dropped = frames.iter().any(|f| {
        matches!(
            f,
            ServerFrame::Error {
                kind: ErrorKind::SlowConsumer,
                ..
            }
        )
    });
    Seen {
        name,
        sent,
        broadcasts,
        may_be_cut: sim.stalled || dropped,
        frames,
    }
}

/// A frame that goes to everyone online.
fn is_broadcast(frame: &ServerFrame) -> bool {
    matches!(frame, ServerFrame::Msg { .. } | ServerFrame::System { .. })
}

/// Whether `frame` is the notice `text`.
fn notice_is(frame: &ServerFrame, text: &str) -> bool {
    matches!(frame, ServerFrame::System { text: t, .. } if t == text)
}
