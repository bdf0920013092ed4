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
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_proto::codec::{decode_chunks, encode, CodecError, CLIENT_MAX_FRAME};
use chat_proto::validate::{self, name_key, room_key, DEFAULT_ROOM};
use chat_proto::{
    Backlog, ClientFrame, Cursor, ErrorKind, FrameReader, LeftReason, RoomSummary, ServerFrame,
    PROTOCOL_VERSION,
};
use chat_server::config::Config;
use chat_server::connection::{serve, Shared};
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tokio::io::{split, AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

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
    let (watcher, finish_watcher) = spawn_watcher(&shared).await;
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
        send(sim, encode(&frame).expect("a small frame encodes").as_bytes()).await;
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

    check(&sims, rules, &witness, &late);
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

/// What the witness saw.
struct Witness {
    /// Every frame after its `Joined` replies, pings left out.
    frames: Vec<ServerFrame>,
    /// Whether its stream ended before it said `Bye`: it was dropped.
    ended_early: bool,
}

/// Registers the witness, has it join the rooms it watches and, once it is in them, starts
/// its task: it records every frame, answers pings, and on `finish` says `Bye` and reads
/// until the server closes. The task returns what it saw.
async fn spawn_watcher(shared: &Shared) -> (JoinHandle<Witness>, oneshot::Sender<()>) {
    let (finish, mut finished) = oneshot::channel::<()>();
    let (mut frames, mut tx, conn) = register(shared, WITNESS, 40_000).await;
    match next(&mut frames).await {
        Some(ServerFrame::Welcome { username, .. }) if username == WITNESS => {}
        other => panic!("the witness was not welcomed: {other:?}"),
    }
    for room in WATCHED {
        write(
            &mut tx,
            &ClientFrame::Join {
                room: (*room).to_owned(),
                backlog: Backlog::None,
            },
        )
        .await;
        let joined = next(&mut frames).await;
        assert_eq!(
            joined,
            Some(ServerFrame::Joined {
                room: (*room).to_owned(),
                members: vec![WITNESS.to_owned()],
            }),
            "the witness's join of a new room"
        );
    }
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
        Witness {
            frames: seen,
            ended_early: !said_bye,
        }
    });
    (task, finish)
}

/// What the newcomer got.
#[derive(Debug)]
struct Late {
    users: Vec<String>,
    members: Vec<String>,
    rooms: Vec<RoomSummary>,
}

/// After everything: a newcomer registers, lists the users, joins `lobby`, lists the rooms,
/// says something and leaves.
async fn newcomer(shared: &Shared) -> Late {
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
        write(
            &mut tx,
            &ClientFrame::Join {
                room: DEFAULT_ROOM.to_owned(),
                backlog: Backlog::None,
            },
        )
        .await;
        let members = match next(&mut frames).await {
            Some(ServerFrame::Joined { room, members }) if room == DEFAULT_ROOM => members,
            other => panic!("the newcomer's join of {DEFAULT_ROOM} was not answered: {other:?}"),
        };
        write(&mut tx, &ClientFrame::ListRooms).await;
        let Some(ServerFrame::RoomList { rooms }) = next(&mut frames).await else {
            panic!("the newcomer got no room list");
        };
        write(&mut tx, &late_words()).await;
        match next(&mut frames).await {
            Some(ServerFrame::Msg {
                room, from, text, ..
            }) => {
                assert_eq!(
                    ClientFrame::Msg { room, text },
                    late_words(),
                    "the newcomer's message came back otherwise"
                );
                assert_eq!(from, "late");
            }
            other => panic!("the newcomer's message did not come back: {other:?}"),
        }
        write(&mut tx, &ClientFrame::Bye).await;
        while next(&mut frames).await.is_some() {}
        conn.await
            .expect("the newcomer's connection task does not fail");
        Late {
            users,
            members,
            rooms,
        }
    };
    tokio::time::timeout(HANG, steps)
        .await
        .expect("the server answers a healthy newcomer")
}

/// What the newcomer says.
fn late_words() -> ClientFrame {
    ClientFrame::Msg {
        room: DEFAULT_ROOM.to_owned(),
        text: "still serving".to_owned(),
    }
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

/// What one simulated client did and got, decoded.
struct Seen {
    /// What it sent, as the server reads it: frames and the framing errors among them.
    requests: Vec<Result<ClientFrame, CodecError>>,
    /// Every frame it received.
    frames: Vec<ServerFrame>,
    /// Whether what it received may stop short: it stopped reading, or was dropped as a
    /// slow consumer.
    may_be_cut: bool,
}

impl Seen {
    /// The frames it sent that the server could read.
    fn sent(&self) -> impl Iterator<Item = &ClientFrame> {
        self.requests.iter().filter_map(|r| r.as_ref().ok())
    }
}

/// One stay of a client in a room, as its own frames show it.
#[derive(Debug, Clone)]
struct Stay {
    /// [`room_key`] of the room.
    key: String,
    /// The room's name as shown in its `Joined`.
    shown: String,
    /// The member list of its `Joined`.
    joined: Vec<String>,
    /// The room's `Msg`, `UserJoined` and `UserLeft` frames it received while in.
    events: Vec<ServerFrame>,
    /// `Joined` again while in: after how many of `events`, and its member list.
    rejoins: Vec<(usize, Vec<String>)>,
    /// Whether it ended with the client's `Parted` (otherwise with its leaving).
    parted: bool,
    /// The `seq` of the last `Msg` it heard.
    last_seq: Option<u64>,
}

impl Stay {
    /// Records a room frame heard during the stay; a `Msg` must carry the room's next
    /// `seq` (a member hears every message while in, and the numbering has no gaps).
    fn hear(&mut self, frame: &ServerFrame, me: Option<&str>) {
        if let ServerFrame::Msg { seq, .. } = frame {
            if let Some(last) = self.last_seq {
                assert_eq!(
                    *seq,
                    last + 1,
                    "{me:?} in #{}: {frame:?} after seq {last}",
                    self.shown
                );
            }
            self.last_seq = Some(*seq);
        }
        self.events.push(frame.clone());
    }
}

/// What walking one client's requests and replies found.
struct Walked {
    /// The name it was welcomed under, if it was.
    name: Option<String>,
    /// Its stays in rooms, in order.
    stays: Vec<Stay>,
    /// What the members of its rooms must have been told when it left; `None` when that
    /// cannot be known (it was cut short).
    leave: Option<LeftReason>,
}

fn check(sims: &[Sim], rules: Rules, witness: &Witness, late: &Late) {
    let seen: Vec<Seen> = sims.iter().map(|sim| decode(sim, rules.buffsize)).collect();
    let witness_dropped = witness.ended_early
        || witness.frames.iter().any(|f| {
            matches!(
                f,
                ServerFrame::Error {
                    kind: ErrorKind::SlowConsumer,
                    ..
                }
            )
        });
    for frame in &witness.frames {
        let fits = match frame {
            ServerFrame::Msg { .. } | ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } => {
                true
            }
            ServerFrame::Whisper { to, .. } => to == WITNESS,
            ServerFrame::Error { kind, .. } => {
                matches!(kind, ErrorKind::SlowConsumer | ErrorKind::Timeout)
            }
            _ => false,
        };
        assert!(fits, "the witness, which asks nothing, got {frame:?}");
    }
    let watched: Option<Vec<(String, &str)>> = (!witness_dropped).then(|| {
        WATCHED
            .iter()
            .map(|shown| (room_key(shown), *shown))
            .collect()
    });

    if std::env::var_os("SESSION_DEBUG").is_some() {
        dump(&seen, witness, late);
    }
    let walked: Vec<Walked> = seen
        .iter()
        .map(|s| walk(s, rules, watched.as_deref()))
        .collect();

    // Who may speak as whom: every client welcomed under a name, and the newcomer.
    let late_said = [late_words()];
    // A client cut short before its Welcome came through may have been welcomed under any
    // valid name it asked for.
    let speakers: Vec<(&str, Vec<&ClientFrame>)> = walked
        .iter()
        .zip(&seen)
        .flat_map(|(w, s)| {
            let names: Vec<&str> = match (&w.name, s.may_be_cut) {
                (Some(name), _) => vec![name.as_str()],
                (None, true) => possible_names(s).collect(),
                (None, false) => vec![],
            };
            names.into_iter().map(|name| (name, s.sent().collect()))
        })
        .chain([("late", late_said.iter().collect())])
        .collect();
    for frame in seen
        .iter()
        .flat_map(|s| &s.frames)
        .chain(&witness.frames)
    {
        let spoken = match frame {
            ServerFrame::Msg {
                room, from, text, ..
            } => speakers.iter().any(|(name, sent)| {
                name == from
                    && sent.iter().any(|frame| {
                        matches!(frame, ClientFrame::Msg { room: r, text: t }
                            if t == text && key_of(r).as_deref() == Some(&room_key(room)))
                    })
            }),
            ServerFrame::Whisper { from, to, text, .. } => {
                speakers.iter().any(|(name, sent)| {
                    name == from
                        && sent.iter().any(|frame| {
                            matches!(frame, ClientFrame::Whisper { to: t, text: said }
                                if said == text && name_key(t) == name_key(to))
                        })
                })
            }
            _ => continue,
        };
        assert!(spoken, "{frame:?}: no client welcomed as its sender sent that");
    }

    let expected_users: &[&str] = if witness_dropped {
        &["late"]
    } else {
        &["late", WITNESS]
    };
    assert_eq!(late.users, expected_users, "who is online after everyone left");
    assert_eq!(late.members, expected_users, "who is in lobby after everyone left");
    let mut expected_rooms: Vec<RoomSummary> = if witness_dropped {
        vec![]
    } else {
        WATCHED
            .iter()
            .filter(|r| **r != DEFAULT_ROOM)
            .map(|r| RoomSummary {
                name: (*r).to_owned(),
                members: 1,
            })
            .collect()
    };
    expected_rooms.push(RoomSummary {
        name: DEFAULT_ROOM.to_owned(),
        members: u32::try_from(expected_users.len()).unwrap(),
    });
    expected_rooms.sort_by_key(|r| room_key(&r.name));
    assert_eq!(
        late.rooms, expected_rooms,
        "the rooms after everyone but the witness left"
    );

    // One order per room among the clients, in the rooms the witness does not vouch for.
    pairwise(&walked, &seen, watched.as_deref());
    if witness_dropped {
        return;
    }

    // One order per room, against the witness.
    for shown in WATCHED {
        let log = RoomLog::new(shown, &witness.frames);
        // How many stays of each name the witness saw, and how many the clients account for.
        let mut joins: BTreeMap<&str, (usize, usize, bool)> = BTreeMap::new();
        for event in &log.events {
            if let ServerFrame::UserJoined { user, .. } = event {
                joins.entry(user).or_default().0 += 1;
            }
        }
        if log.key == room_key(DEFAULT_ROOM) {
            // The newcomer's stay, which it does not record.
            joins.entry("late").or_default().1 += 1;
        }
        for (w, s) in walked.iter().zip(&seen) {
            let Some(name) = &w.name else {
                if s.may_be_cut {
                    // Cut short before its Welcome came through: it may have joined rooms
                    // unseen under any name it asked for.
                    for name in possible_names(s) {
                        joins.entry(name).or_default().2 = true;
                    }
                }
                continue;
            };
            let mut from = 0;
            let stays: Vec<&Stay> = w.stays.iter().filter(|st| st.key == log.key).collect();
            for (i, stay) in stays.iter().enumerate() {
                let last = i + 1 == stays.len();
                let cut = s.may_be_cut && last && !stay.parted;
                let Some(end) = log.fit(from, name, stay, cut, w.leave) else {
                    panic!(
                        "{name} saw in #{shown} {stay:#?}\nwhich is not what the witness saw \
                         between its join and its leave (after event {from}): {:#?}",
                        log.events
                    );
                };
                from = end;
            }
            let entry = joins.entry(name.as_str()).or_default();
            entry.1 += stays.len();
            entry.2 |= s.may_be_cut;
        }
        for (name, (witnessed, stayed, cut)) in joins {
            assert!(
                witnessed == stayed || (cut && witnessed > stayed),
                "the witness saw {name} join #{shown} {witnessed} times; the clients welcomed \
                 as {name} account for {stayed}"
            );
        }
    }
}

/// One stay with what is known of its client.
struct Owned<'a> {
    name: &'a str,
    stay: &'a Stay,
    /// Whether the stay may stop short of what the server sent in it.
    cut: bool,
    /// What the room was told when the stay ended.
    told: Option<LeftReason>,
}

impl Owned<'_> {
    /// Whether `frame` is the end of this stay as the other members hear of it.
    fn is_told_end(&self, frame: &ServerFrame) -> bool {
        match frame {
            ServerFrame::UserLeft { user, reason, .. } if user == self.name => {
                if self.stay.parted {
                    *reason == LeftReason::Parted
                } else {
                    *reason != LeftReason::Parted && self.told.is_none_or(|t| t == *reason)
                }
            }
            _ => false,
        }
    }
}

/// One order per room without the witness: in every room but those in `watched` (all of
/// them once the witness was dropped), each client's stay is the reference for every stay
/// that began during it. A stay `y` that began at `UserJoined{y}` in stay `x` lists in its
/// `Joined` exactly who `x` saw in the room then, and the two agree on every frame while
/// both were in; whichever ended first (and was not cut short) ends with the other hearing
/// of it, for the right reason.
fn pairwise(walked: &[Walked], seen: &[Seen], watched: Option<&[(String, &str)]>) {
    let mut all: Vec<Owned<'_>> = Vec::new();
    // Names under which some client may have stays it never saw.
    let mut unsure: BTreeSet<String> = BTreeSet::new();
    unsure.insert("late".to_owned());
    for (w, s) in walked.iter().zip(seen) {
        let Some(name) = &w.name else {
            if s.may_be_cut {
                unsure.extend(possible_names(s).map(str::to_owned));
            }
            continue;
        };
        if s.may_be_cut {
            unsure.insert(name.clone());
        }
        for stay in &w.stays {
            if watched.is_some_and(|w| w.iter().any(|(key, _)| *key == stay.key)) {
                continue;
            }
            all.push(Owned {
                name,
                stay,
                cut: s.may_be_cut && !stay.parted,
                told: if stay.parted {
                    Some(LeftReason::Parted)
                } else {
                    w.leave
                },
            });
        }
    }
    for x in &all {
        let mut inside: BTreeMap<String, String> = x
            .stay
            .joined
            .iter()
            .map(|n| (name_key(n), n.clone()))
            .collect();
        for (p, event) in x.stay.events.iter().enumerate() {
            let (ServerFrame::Msg { from: who, .. }
            | ServerFrame::UserJoined { user: who, .. }
            | ServerFrame::UserLeft { user: who, .. }) = event
            else {
                unreachable!("a stay holds room frames only");
            };
            match event {
                ServerFrame::Msg { .. } => assert!(
                    inside.contains_key(&name_key(who)),
                    "{} saw {who} speak in #{} while out: {event:?}",
                    x.name,
                    x.stay.shown
                ),
                ServerFrame::UserJoined { .. } => assert!(
                    inside.insert(name_key(who), who.clone()).is_none(),
                    "{} saw {who} join #{} while in",
                    x.name,
                    x.stay.shown
                ),
                _ => {
                    assert!(
                        inside.remove(&name_key(who)).is_some(),
                        "{} saw {who} leave #{} while out",
                        x.name,
                        x.stay.shown
                    );
                    continue;
                }
            }
            if !matches!(event, ServerFrame::UserJoined { .. }) {
                continue;
            }
            // x's frames from y's join to y's leave (or the end of x's stay).
            let rest = &x.stay.events[p + 1..];
            let left = rest.iter().position(|e| {
                matches!(e, ServerFrame::UserLeft { user, .. } if user == who)
            });
            let during = &rest[..left.unwrap_or(rest.len())];
            let members: Vec<String> = inside.values().cloned().collect();
            let fits = |y: &Owned<'_>| {
                let theirs = &y.stay.events;
                let both = during.len().min(theirs.len());
                if y.stay.joined != members || during[..both] != theirs[..both] {
                    return false;
                }
                match left {
                    // x heard y leave: y's stay is all of `during`, unless y was cut.
                    Some(at) => {
                        theirs.len() <= during.len()
                            && (y.cut || (theirs.len() == during.len() && y.is_told_end(&rest[at])))
                    }
                    // x's stay ended first: y heard of it next, unless one was cut.
                    None => match theirs.get(during.len()) {
                        Some(end) => x.cut || x.is_told_end(end),
                        // Both end together: y ended first and x, cut short, missed
                        // hearing of it, or x ended first and y, cut short, missed it.
                        None => x.cut || y.cut,
                    },
                }
            };
            let found = all
                .iter()
                .filter(|y| {
                    y.name == who && y.stay.key == x.stay.key && !std::ptr::eq(y.stay, x.stay)
                })
                .any(fits);
            assert!(
                found || unsure.contains(who),
                "{} saw {who} join #{} at its event {p}, then {during:#?}\nwhich is no stay of \
                 a client welcomed as {who} (members then: {members:?})",
                x.name,
                x.stay.shown
            );
        }
    }
}

/// The valid names a client asked for in its Hellos.
fn possible_names(seen: &Seen) -> impl Iterator<Item = &str> {
    seen.sent().filter_map(|frame| match frame {
        ClientFrame::Hello { username, .. } if validate::username(username).is_ok() => {
            Some(username.as_str())
        }
        _ => None,
    })
}

/// Prints what every client sent and received, for a look at a crash:
/// `SESSION_DEBUG=1 cargo +nightly fuzz run session <crash file>`.
fn dump(seen: &[Seen], witness: &Witness, late: &Late) {
    for (i, s) in seen.iter().enumerate() {
        eprintln!("client {i} (may be cut: {}) sent:", s.may_be_cut);
        for request in &s.requests {
            eprintln!("    {request:?}");
        }
        eprintln!("  and received:");
        for frame in &s.frames {
            eprintln!("    {frame:?}");
        }
    }
    eprintln!("the witness (ended early: {}) received:", witness.ended_early);
    for frame in &witness.frames {
        eprintln!("    {frame:?}");
    }
    eprintln!("the newcomer got {late:?}");
}

/// The key of a room as typed, if it is a valid name.
fn key_of(typed: &str) -> Option<String> {
    validate::room(typed).ok().map(room_key)
}

/// One watched room as the witness saw it.
struct RoomLog {
    key: String,
    /// Its `Msg`, `UserJoined` and `UserLeft` frames.
    events: Vec<ServerFrame>,
    /// Who was in it after each prefix of `events`: `members[k]` after `k` events.
    members: Vec<Vec<String>>,
}

impl RoomLog {
    /// The room `shown` in `frames`; checks that its presence frames are consistent.
    fn new(shown: &str, frames: &[ServerFrame]) -> RoomLog {
        let key = room_key(shown);
        let mut events = Vec::new();
        let mut inside: BTreeMap<String, String> = BTreeMap::new();
        inside.insert(name_key(WITNESS), WITNESS.to_owned());
        let mut members = vec![inside.values().cloned().collect()];
        for frame in frames {
            let (room, who) = match frame {
                ServerFrame::Msg { room, from, .. } => (room, from),
                ServerFrame::UserJoined { room, user, .. } => (room, user),
                ServerFrame::UserLeft { room, user, .. } => (room, user),
                _ => continue,
            };
            if room_key(room) != key {
                continue;
            }
            assert_eq!(room, shown, "the witness's room is shown as it typed it");
            match frame {
                ServerFrame::Msg { .. } => assert!(
                    inside.contains_key(&name_key(who)),
                    "{who} spoke in #{shown} while the witness saw it out: {frame:?}"
                ),
                ServerFrame::UserJoined { .. } => assert!(
                    inside.insert(name_key(who), who.clone()).is_none(),
                    "{who} joined #{shown} while the witness saw it in"
                ),
                _ => assert!(
                    inside.remove(&name_key(who)).is_some_and(|n| n == *who),
                    "{who} left #{shown} while the witness saw it out"
                ),
            }
            events.push(frame.clone());
            members.push(inside.values().cloned().collect());
        }
        assert_eq!(
            inside.into_values().collect::<Vec<_>>(),
            [WITNESS],
            "in the end only the witness is in #{shown}"
        );
        RoomLog {
            key,
            events,
            members,
        }
    }

    /// Where `stay` of `name` fits in the log, from event `from` on: its join, exactly its
    /// events (a prefix if `cut`), its member lists, then its leave (with the reason
    /// `leave` when known). Returns the index after the leave.
    fn fit(
        &self,
        from: usize,
        name: &str,
        stay: &Stay,
        cut: bool,
        leave: Option<LeftReason>,
    ) -> Option<usize> {
        let n = stay.events.len();
        (from..self.events.len()).find_map(|i| {
            if !matches!(&self.events[i], ServerFrame::UserJoined { user, .. } if user == name) {
                return None;
            }
            let body = self.events.get(i + 1..i + 1 + n)?;
            if body != stay.events.as_slice() || self.members[i + 1] != stay.joined {
                return None;
            }
            if stay
                .rejoins
                .iter()
                .any(|(at, members)| self.members[i + 1 + at] != *members)
            {
                return None;
            }
            if cut {
                return Some(i + 1 + n);
            }
            match self.events.get(i + 1 + n)? {
                ServerFrame::UserLeft { user, reason, .. } if user == name => {
                    let fits = if stay.parted {
                        *reason == LeftReason::Parted
                    } else {
                        *reason != LeftReason::Parted && leave.is_none_or(|l| l == *reason)
                    };
                    fits.then_some(i + 2 + n)
                }
                _ => None,
            }
        })
    }
}

/// Whether `names` is sorted as the server sorts member lists: case-insensitively, each
/// name once.
fn sorted(names: &[String]) -> bool {
    names.windows(2).all(|w| name_key(&w[0]) < name_key(&w[1]))
}

/// Pairs one client's requests with the replies among what it received, checking each
/// against the protocol's rules, and follows its rooms from its own `Joined` and `Parted`.
/// `watched`: the witness's rooms (key, name as shown) while the witness is in them all
/// throughout; `None` once it was dropped.
fn walk(seen: &Seen, rules: Rules, watched: Option<&[(String, &str)]>) -> Walked {
    let mut name: Option<String> = None;
    // key → the stay under way.
    let mut rooms: BTreeMap<String, Stay> = BTreeMap::new();
    let mut stays: Vec<Stay> = Vec::new();
    let mut next = 0;
    // Set once the connection is over on the server's side, with what its rooms were told
    // (`None`: nothing, or not known).
    let mut over: Option<Option<LeftReason>> = None;
    let is_watched = |key: &str| watched.is_some_and(|w| w.iter().any(|(k, _)| k == key));
    let shown_of = |key: &str| {
        watched.and_then(|w| w.iter().find(|(k, _)| k == key).map(|(_, shown)| *shown))
    };

    // The room whose (empty: this server keeps no history) backlog must come next: the
    // second half of the answer to a `Join` that asked for one.
    let mut backlog_of: Option<String> = None;
    for frame in &seen.frames {
        let me = name.as_deref();
        if let Some(shown) = backlog_of.take() {
            assert_eq!(
                *frame,
                ServerFrame::History {
                    room: shown,
                    messages: Vec::new(),
                    more: false,
                    next: Cursor::Latest,
                    backlog: true,
                    missed: false,
                },
                "{me:?}: the backlog right after Joined"
            );
            continue;
        }
        // Frames that answer no request.
        let event = match frame {
            ServerFrame::Ping => continue,
            ServerFrame::Error {
                kind: ErrorKind::Timeout,
                ..
            } => {
                over.get_or_insert(Some(LeftReason::TimedOut));
                continue;
            }
            ServerFrame::Error {
                kind: ErrorKind::SlowConsumer,
                ..
            } => {
                over.get_or_insert(Some(LeftReason::SlowConsumer));
                continue;
            }
            ServerFrame::System { .. } => panic!("a System frame without a shutdown: {frame:?}"),
            ServerFrame::Whisper { from, to, .. } if Some(from.as_str()) != me => {
                assert_eq!(Some(to.as_str()), me, "a whisper for someone else: {frame:?}");
                continue;
            }
            ServerFrame::Msg { room, from, .. } if Some(from.as_str()) != me => Some(room),
            ServerFrame::UserJoined { room, user, .. }
            | ServerFrame::UserLeft { room, user, .. } => {
                assert_ne!(Some(user.as_str()), me, "told of itself: {frame:?}");
                Some(room)
            }
            _ => None,
        };
        if let Some(room) = event {
            let Some(stay) = rooms.get_mut(&room_key(room)) else {
                panic!("{me:?} received {frame:?} for a room it is not in ({rooms:?})");
            };
            assert_eq!(*room, stay.shown, "a room's name changed while {me:?} was in it");
            stay.hear(frame, me);
            continue;
        }

        // A reply: to the next request that gets one.
        let request = loop {
            assert!(
                over.is_none(),
                "{me:?} got {frame:?} after its connection was over"
            );
            let Some(request) = seen.requests.get(next) else {
                panic!("{me:?} got {frame:?}, which answers no request it sent");
            };
            next += 1;
            match request {
                Ok(ClientFrame::Pong) if me.is_some() => {}
                Ok(ClientFrame::Bye) => {
                    over = Some(me.map(|_| LeftReason::Quit));
                }
                _ => break request,
            }
        };
        macro_rules! fail {
            () => {
                panic!(
                    "{me:?} got {frame:?} in answer to {request:?} (request {}); its rooms: \
                     {rooms:?}",
                    next - 1
                )
            };
        }
        let error = match frame {
            ServerFrame::Error { kind, .. } => Some(*kind),
            _ => None,
        };
        if rules.flood
            && error == Some(ErrorKind::RateLimited)
            && match request {
                Ok(frame) => chat_server::flood::is_metered(frame),
                Err(e) => matches!(e, CodecError::Malformed(_)),
            }
        {
            continue;
        }
        if rules.flood && error == Some(ErrorKind::Flooding) {
            over = Some(me.map(|_| LeftReason::Refused));
            continue;
        }
        let request = match request {
            Err(CodecError::Malformed(_)) if error == Some(ErrorKind::BadFrame) => continue,
            Err(CodecError::FrameTooLarge { .. }) if error == Some(ErrorKind::FrameTooLarge) => {
                over = Some(me.map(|_| LeftReason::Refused));
                continue;
            }
            Err(CodecError::Truncated { .. }) if error == Some(ErrorKind::BadFrame) => {
                over = Some(me.map(|_| LeftReason::Disconnected));
                continue;
            }
            Err(_) => fail!(),
            Ok(request) => request,
        };
        let Some(me) = me else {
            // Before the handshake only Hello and Bye mean anything.
            match (request, frame) {
                (
                    ClientFrame::Hello {
                        version, username, ..
                    },
                    _,
                ) if *version != PROTOCOL_VERSION => {
                    if error != Some(ErrorKind::VersionMismatch) {
                        fail!();
                    }
                    over = Some(None);
                }
                (ClientFrame::Hello { username, .. }, _) if validate::username(username).is_err() => {
                    if error != Some(ErrorKind::InvalidName) {
                        fail!();
                    }
                }
                (ClientFrame::Hello { .. }, _) if error == Some(ErrorKind::NameTaken) => {}
                (
                    ClientFrame::Hello { username, .. },
                    ServerFrame::Welcome {
                        version,
                        username: welcomed,
                        online,
                        buffsize,
                        rooms_per_user,
                        history,
                    },
                ) => {
                    if welcomed != username
                        || *version != PROTOCOL_VERSION
                        || *online < 1
                        || *buffsize as usize != rules.buffsize
                        || *rooms_per_user as usize != rules.rooms_per_user
                        || *history != 0
                    {
                        fail!();
                    }
                    name = Some(welcomed.clone());
                }
                (ClientFrame::Hello { .. }, _) => fail!(),
                (_, _) if error == Some(ErrorKind::NotRegistered) => {}
                _ => fail!(),
            }
            continue;
        };
        let me = me.to_owned();
        match request {
            ClientFrame::Hello { .. } => {
                if error != Some(ErrorKind::AlreadyRegistered) {
                    fail!();
                }
            }
            ClientFrame::Msg { room, text } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let Some(stay) = rooms.get_mut(&key) else {
                    if error != Some(ErrorKind::NotInRoom) {
                        fail!();
                    }
                    continue;
                };
                if validate::message(text).is_err() {
                    if error != Some(ErrorKind::InvalidMessage) {
                        fail!();
                    }
                    continue;
                }
                match frame {
                    ServerFrame::Msg {
                        room: shown,
                        from,
                        text: said,
                        ..
                    } if *shown == stay.shown && *from == me && said == text => {
                        stay.hear(frame, Some(&me));
                    }
                    _ => fail!(),
                }
            }
            ClientFrame::Whisper { to, text } => {
                if validate::message(text).is_err() {
                    if error != Some(ErrorKind::InvalidMessage) {
                        fail!();
                    }
                    continue;
                }
                match frame {
                    ServerFrame::Error {
                        kind: ErrorKind::NoSuchUser,
                        ..
                    } => {}
                    ServerFrame::Whisper {
                        from,
                        to: target,
                        text: said,
                        ..
                    } if *from == me && name_key(target) == name_key(to) && said == text => {}
                    _ => fail!(),
                }
            }
            ClientFrame::ListUsers => match frame {
                ServerFrame::UserList { users } if sorted(users) && users.contains(&me) => {}
                _ => fail!(),
            },
            ClientFrame::Ping => {
                if *frame != ServerFrame::Pong {
                    fail!();
                }
            }
            ClientFrame::Pong | ClientFrame::Bye => unreachable!("answered by nothing"),
            ClientFrame::History { room, .. } => match key_of(room) {
                None if error == Some(ErrorKind::InvalidRoom) => {}
                Some(_) if error == Some(ErrorKind::HistoryOff) => {}
                _ => fail!(),
            },
            ClientFrame::Join { room, backlog } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let member = rooms.contains_key(&key);
                let full = rules.rooms_per_user != 0 && rooms.len() >= rules.rooms_per_user;
                match frame {
                    ServerFrame::Error {
                        kind: ErrorKind::TooManyRooms,
                        ..
                    } if !member && full => {}
                    ServerFrame::Error {
                        kind: ErrorKind::RoomsFull,
                        ..
                    } if !member && !full && !is_watched(&key) => {}
                    ServerFrame::Joined {
                        room: shown,
                        members,
                    } if !(full && !member)
                        && room_key(shown) == key
                        && shown_of(&key).is_none_or(|s| s == shown)
                        && sorted(members)
                        && members.contains(&me)
                        && (!is_watched(&key) || members.iter().any(|m| m == WITNESS)) =>
                    {
                        if *backlog != Backlog::None {
                            backlog_of = Some(shown.clone());
                        }
                        match rooms.get_mut(&key) {
                            Some(stay) => {
                                if stay.shown != *shown {
                                    fail!();
                                }
                                stay.rejoins.push((stay.events.len(), members.clone()));
                            }
                            None => {
                                rooms.insert(
                                    key.clone(),
                                    Stay {
                                        key,
                                        shown: shown.clone(),
                                        joined: members.clone(),
                                        events: Vec::new(),
                                        rejoins: Vec::new(),
                                        parted: false,
                                        last_seq: None,
                                    },
                                );
                            }
                        }
                    }
                    _ => fail!(),
                }
            }
            ClientFrame::Part { room } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let Some(stay) = rooms.remove(&key) else {
                    if error != Some(ErrorKind::NotInRoom) {
                        fail!();
                    }
                    continue;
                };
                if *frame != (ServerFrame::Parted { room: stay.shown.clone() }) {
                    fail!();
                }
                stays.push(Stay {
                    parted: true,
                    ..stay
                });
            }
            ClientFrame::ListRooms => match frame {
                ServerFrame::RoomList { rooms: listed }
                    if listed.windows(2).all(|w| room_key(&w[0].name) < room_key(&w[1].name))
                        && listed.len() <= rules.max_rooms
                        && listed.iter().all(|r| r.members >= 1)
                        && rooms.values().all(|stay| {
                            listed.iter().any(|r| r.name == stay.shown)
                        })
                        && watched.is_none_or(|w| {
                            w.iter()
                                .all(|(_, shown)| listed.iter().any(|r| r.name == *shown))
                        }) => {}
                _ => fail!(),
            },
            ClientFrame::ListMembers { room } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let stay = rooms.get(&key);
                match frame {
                    ServerFrame::Error {
                        kind: ErrorKind::NoSuchRoom,
                        ..
                    } if stay.is_none() && !is_watched(&key) => {}
                    ServerFrame::Members { room: shown, users }
                        if room_key(shown) == key
                            && stay.is_none_or(|s| s.shown == *shown)
                            && shown_of(&key).is_none_or(|s| s == shown)
                            && sorted(users)
                            && users.contains(&me) == stay.is_some()
                            && (!is_watched(&key) || users.iter().any(|m| m == WITNESS)) => {}
                    _ => fail!(),
                }
            }
        }
    }

    let name_known = name.is_some();
    let leave = if seen.may_be_cut {
        None
    } else {
        match over {
            Some(told) => told,
            None => {
                // Nothing ended the connection early: it read to the end of the stream, so
                // every request up to a Bye was answered.
                let rest: Vec<_> = seen.requests[next..]
                    .iter()
                    .filter(|r| !(name_known && matches!(r, Ok(ClientFrame::Pong))))
                    .collect();
                match rest.first() {
                    None => Some(LeftReason::Disconnected),
                    Some(Ok(ClientFrame::Bye)) => Some(LeftReason::Quit),
                    Some(unanswered) => panic!(
                        "{name:?}'s connection stopped answering: {unanswered:?} (request \
                         {next}) got no reply; the requests: {:#?}\nwhat it received: {:#?}",
                        seen.requests, seen.frames
                    ),
                }
            }
        }
    };
    stays.extend(rooms.into_values());
    Walked {
        name,
        stays,
        leave: if name_known { leave } else { None },
    }
}

/// Decodes what `sim` sent (as the server reads it) and received (as a client reads it).
fn decode(sim: &Sim, buffsize: usize) -> Seen {
    let requests = decode_chunks::<ClientFrame>([sim.sent.as_slice()], buffsize);
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
        requests,
        may_be_cut: sim.stalled || dropped,
        frames,
    }
}
