//! Hostile sessions, in-process: arbitrary sequences of operations by three simulated clients,
//! fed to the server's per-connection code (`chat_server::connection::serve`) over in-memory
//! streams, on a current-thread runtime whose clock is paused (timers fire only when every
//! task is idle, so a run never waits for real time and always goes the same way).
//!
//! Input layout (the seed corpus follows it; see `proto/examples/seed_corpus.rs`):
//!
//! ```text
//! byte 0    setup: bit 0 a small send queue (8 frames), bit 1 flood control on,
//!           bit 2 `max_rooms` 3 (only the witness's rooms can exist; 4 otherwise),
//!           bit 3 `rooms_per_user` 3, the witness's (no limit otherwise)
//! then, until the input ends, operations of one byte: low 4 bits the operation, bits 4-7
//! which client (modulo 3), and each operation's own bytes:
//!   0 Frame       u16 BE length n, n bytes: a frame body, sent after its length prefix
//!   1 Raw         u16 BE length n, n bytes, sent as they are
//!   2 Typed       u16 BE length n, n bytes: read by `arbitrary` as a ClientFrame, encoded, sent
//!   3 Hello       one byte: a name from NAMES, sent in a Hello of the right version
//!   4 Settle      let every task run until all are idle
//!   5 Stall       the client stops reading
//!   6 Resume      the client reads again
//!   7 Close       the client closes its sending side
//!   8 Join        one byte: a room from ROOMS (bit 7: with a backlog of the latest
//!                 bits 0-5 messages)
//!   9 Part        one byte: a room from ROOMS
//!  10 Msg         one byte: a room from ROOMS; one byte: a text (see `text`)
//!  11 Burst       one byte: a room; one byte: n; n % 96 + 1 messages to it in one write
//!  12 ListRooms
//!  13 ListMembers one byte: a room from ROOMS
//!  14 Whisper     one byte: a name from NAMES; one byte: a text
//!  15 Bye
//! ```
//!
//! Operations 0 to 7 are those of protocol 1's layout, whose operation took the low 3 bits
//! (bit 3 was always clear), so inputs written for it keep their meaning.
//!
//! Before the first operation a witness, `watcher`, registers and joins the rooms it watches
//! (`lobby`, `A`, `b`: every valid room of ROOMS but `c` and `d`); it then only reads
//! (answering pings). After the last operation every client closes, and a newcomer, `late`,
//! registers, asks who is online, joins `lobby`, lists the rooms and says something.
//!
//! `SESSION_DEBUG=1` in the environment prints what every client sent and received before
//! the checks, to read a crash with.
//!
//! Checked for every input (DESIGN.md's invariants, where cheap):
//! - nothing panics (libFuzzer reports a panic in any task as a crash), and every
//!   connection ends once its client has closed;
//! - everything a client received decodes as server frames (a client that stopped reading
//!   may see its stream end mid-frame);
//! - the `from` of every `Msg` and `Whisper` is the name some client was welcomed under, and
//!   that client sent that text (to that room, or to that person);
//! - every request gets the one reply the protocol gives it, in order: a client's requests,
//!   as the server reads them, and the replies among what it received, pair up. The errors
//!   are typed (`NotInRoom`, `InvalidRoom`, `TooManyRooms` and `RoomsFull` where, and only
//!   where, the rules say) and a refusal that is not fatal leaves the connection going:
//!   every later request is still answered. Member lists are sorted, include the asker when
//!   it is in the room, and name a room as shown;
//! - no client receives a `Msg`, `UserJoined` or `UserLeft` for a room it is not in (its own
//!   `Joined` and `Parted` say which), and a room's name as shown stays the same while the
//!   client is in it;
//! - the witness's view of each room it watches is consistent: someone joins only when out
//!   and leaves only when in, only members speak, and in the end only the witness is left;
//! - one order per room: for each watched room, the `Msg`, `UserJoined` and `UserLeft`
//!   frames a client received in it between its `Joined` and its `Parted` (or its leaving)
//!   are exactly the witness's between `UserJoined` of that client and its `UserLeft`, in
//!   the same order (cut short only for a client dropped as a slow consumer or one that
//!   stopped reading); its `Joined` lists exactly who the witness saw in the room then; the
//!   `UserLeft` gives the reason that client really left for; and every join the witness
//!   saw is such a stay of some client. A member of several rooms thus gets each room's
//!   messages in the witness's order;
//! - one order in the other rooms too (`c`, `d`, those an `arbitrary` frame names, and every
//!   room once the witness was dropped), client against client: a stay that began while
//!   another client was in the room lists in its `Joined` who that client saw there, the two
//!   agree frame for frame while both are in, and whichever ends first is heard of by the
//!   other, with its reason; in such a room too only members speak, and people join only
//!   when out and leave only when in;
//! - afterwards the server still serves: `late` is welcomed, sees only itself and the
//!   witness online and in `lobby`, sees exactly the witness's rooms (so no room outlives
//!   its last member), and gets its own message back.
//!
//! This file runs the session; the model of the server that the checks hold what the
//! clients saw against is in `session/`: `model` (what a client saw, decoded), `walk` (one
//! client's requests and replies), `room` (a watched room as the witness saw it) and
//! `check` (every check, run once the session is over).
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_proto::codec::{encode, CLIENT_MAX_FRAME};
use chat_proto::validate::DEFAULT_ROOM;
use chat_proto::{Backlog, ClientFrame, FrameReader, ServerFrame, PROTOCOL_VERSION};
use chat_server::config::Config;
use chat_server::connection::{serve, Shared};
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tokio::io::{split, AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[path = "session/check.rs"]
mod check;
#[path = "session/healthy.rs"]
mod healthy;
#[path = "session/model.rs"]
mod model;
#[path = "session/room.rs"]
mod room;
#[path = "session/walk.rs"]
mod walk;

/// Simulated clients besides the witness and the newcomer.
const CLIENTS: usize = 3;

/// Names a `Hello` or `Whisper` operation picks from: valid ones, two that differ only by
/// case, the witness's and the newcomer's, and a few the server must refuse.
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

/// The witness's name.
const WITNESS: &str = "watcher";

/// The rooms the witness joins, as it types them: so each is shown this way.
const WATCHED: &[&str] = &[DEFAULT_ROOM, "A", "b"];

/// Rooms the room operations pick from: the watched ones in several spellings (case, `#`),
/// two the witness is not in (`c`, `d`: with `max_rooms` 4 only one of them can exist at a
/// time), and names no room can have.
const ROOMS: &[&str] = &[
    "lobby",
    "LOBBY",
    "#lobby",
    "A",
    "#a",
    "b",
    "#B",
    "c",
    "#C",
    "",
    "#",
    "a b",
    "##a",
    "a_room_name_that_is_far_too_long",
    "ünï",
    "d",
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

/// The most messages one `Burst` operation sends: more than the server puts in one burst.
const MAX_BURST: u8 = 96;

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
    config.max_rooms = if setup & 4 != 0 { 3 } else { 4 };
    config.rooms_per_user = if setup & 8 != 0 { WATCHED.len() } else { 0 };
    // History stays off: the room log's writer is a thread of its own, which a paused
    // clock would not wait for (see the crash tests for history).
    config.store = None;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(run(config, ops));
});

/// A text for a message operation: mostly plain and distinct, some the server refuses.
fn text(b: u8) -> String {
    match b % 16 {
        0 => String::new(),
        1 => "   ".to_owned(),
        2 => "bell\u{7}".to_owned(),
        3 => "line\nbreak".to_owned(),
        4 => "tab\tok".to_owned(),
        5 => "ünïcode ✓".to_owned(),
        6 => "x".repeat(900),
        _ => format!("m{b}"),
    }
}

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

/// The settings the checks need.
#[derive(Debug, Clone, Copy)]
struct Rules {
    buffsize: usize,
    flood: bool,
    rooms_per_user: usize,
    max_rooms: usize,
}

async fn run(config: Config, mut ops: &[u8]) {
    let rules = Rules {
        buffsize: config.buffsize,
        flood: config.messages_per_second > 0.0,
        rooms_per_user: config.rooms_per_user,
        max_rooms: config.max_rooms,
    };
    let shared = Shared::new(config);
    let (watcher, finish_watcher) = healthy::spawn_watcher(&shared).await;
    let mut sims: Vec<Sim> = (0..CLIENTS).map(|i| connect(&shared, i + 1)).collect();

    for _ in 0..MAX_OPS {
        let Some((&op, rest)) = ops.split_first() else {
            break;
        };
        ops = rest;
        let sim = &mut sims[usize::from(op >> 4) % CLIENTS];
        // The operation's own bytes; an input that ends inside them ends the run.
        let mut arg = || -> Option<u8> {
            let (&b, rest) = ops.split_first()?;
            ops = rest;
            Some(b)
        };
        let frame = match op & 15 {
            0..=2 => {
                let (payload, rest) = take_sized(ops);
                ops = rest;
                let bytes = match op & 15 {
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
                continue;
            }
            3 => {
                let Some(name) = arg() else { break };
                ClientFrame::Hello {
                    version: PROTOCOL_VERSION,
                    username: pick(NAMES, name).to_owned(),
                    password: None,
                }
            }
            4 => {
                settle().await;
                continue;
            }
            5 => {
                sim.stalled = true;
                sim.reading.send_replace(false);
                continue;
            }
            6 => {
                sim.reading.send_replace(true);
                continue;
            }
            7 => {
                close(sim).await;
                continue;
            }
            8 => {
                let Some(room) = arg() else { break };
                ClientFrame::Join {
                    room: pick(ROOMS, room).to_owned(),
                    backlog: if room & 0x80 != 0 {
                        Backlog::Latest(u32::from(room & 0x3f))
                    } else {
                        Backlog::None
                    },
                }
            }
            9 => {
                let Some(room) = arg() else { break };
                ClientFrame::Part {
                    room: pick(ROOMS, room).to_owned(),
                }
            }
            10 => {
                let (Some(room), Some(said)) = (arg(), arg()) else {
                    break;
                };
                ClientFrame::Msg {
                    room: pick(ROOMS, room).to_owned(),
                    text: text(said),
                }
            }
            11 => {
                let (Some(room), Some(n)) = (arg(), arg()) else {
                    break;
                };
                let room = pick(ROOMS, room);
                let burst: Vec<u8> = (0..n % MAX_BURST + 1)
                    .flat_map(|i| {
                        let frame = ClientFrame::Msg {
                            room: room.to_owned(),
                            text: format!("burst {n}.{i}"),
                        };
                        encode(&frame).expect("a small frame encodes").into_bytes()
                    })
                    .collect();
                send(sim, &burst).await;
                continue;
            }
            12 => ClientFrame::ListRooms,
            13 => {
                let Some(room) = arg() else { break };
                ClientFrame::ListMembers {
                    room: pick(ROOMS, room).to_owned(),
                }
            }
            14 => {
                let (Some(to), Some(said)) = (arg(), arg()) else {
                    break;
                };
                ClientFrame::Whisper {
                    to: pick(NAMES, to).to_owned(),
                    text: text(said),
                }
            }
            _ => ClientFrame::Bye,
        };
        send(
            sim,
            encode(&frame).expect("a small frame encodes").as_bytes(),
        )
        .await;
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
    let late = healthy::newcomer(&shared).await;
    let _ = finish_watcher.send(());
    let witness = tokio::time::timeout(HANG, watcher)
        .await
        .expect("the witness's connection ends after its Bye")
        .expect("the witness's task does not fail");

    check::check(&sims, rules, &witness, &late);
}

/// `list[b % len]`.
fn pick<'a>(list: &[&'a str], b: u8) -> &'a str {
    list[usize::from(b) % list.len()]
}

/// A new in-memory connection served by the server, as peer 127.0.0.1:`port`.
fn pipe(shared: &Shared, port: u16) -> (DuplexStream, JoinHandle<()>) {
    let (client, server) = tokio::io::duplex(PIPE);
    let (reader, writer) = split(server);
    let peer = SocketAddr::from(([127, 0, 0, 1], port));
    let conn = tokio::spawn(serve(reader, writer, peer, shared.clone(), None));
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

/// Sends `bytes` for `sim`, as far as the server takes them; nothing once `sim` closed.
async fn send(sim: &mut Sim, bytes: &[u8]) {
    if let Some(tx) = &mut sim.tx {
        sim.sent.extend_from_slice(bytes);
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

type Frames = FrameReader<ReadHalf<DuplexStream>, ServerFrame>;

/// Registers `name` over a fresh connection and returns the typed reader and the writer.
async fn register(
    shared: &Shared,
    name: &str,
    port: u16,
) -> (Frames, WriteHalf<DuplexStream>, JoinHandle<()>) {
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

/// The next frame that is not a ping; `None` at the end.
async fn next(frames: &mut Frames) -> Option<ServerFrame> {
    loop {
        match frames.read_frame().await {
            Ok(Some(ServerFrame::Ping)) => {}
            other => return other.expect("a healthy client gets well-formed frames"),
        }
    }
}
