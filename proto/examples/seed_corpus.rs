//! Writes the seed corpora of the fuzz targets, so that libFuzzer starts from inputs that
//! reach deep into the code:
//!
//! - `decode`: streams of valid frames of both directions (every variant, room traffic
//!   and presence included), plus one example of each way a stream goes wrong. Each seed is a byte `n`, then `n` piece lengths (u16 big-endian),
//!   then the byte stream.
//! - `session`: short sessions of simulated clients (chatting in `lobby`, several rooms, a
//!   stalled reader under a small queue, a flood, hostile bytes, the room operations and
//!   the room limits), in that target's operation layout (see
//!   `fuzz/fuzz_targets/session.rs`). Each client joins a room after its `Welcome`, as
//!   protocol 2 requires before it can say anything.
//!
//! ```sh
//! cargo run -p chat-proto --example seed_corpus            # into fuzz/corpus/<target>
//! cargo run -p chat-proto --example seed_corpus -- <dir>   # into <dir>/<target>
//! ```
//!
//! The files are named `seed-*`; the fuzz directory's `.gitignore` keeps those and ignores
//! what libFuzzer adds. The test `seed_corpus` checks that the checked-in files are what
//! this program writes.

use std::path::PathBuf;

use chat_proto::codec;
use chat_proto::validate::DEFAULT_ROOM;
use chat_proto::{
    Backlog, ClientFrame, Credential, Cursor, DeviceSession, ErrorKind, LeftReason, Past,
    Revocation, RoomSummary, Secret, ServerFrame, SessionToken, PROTOCOL_VERSION,
};

/// The server's default `buffsize`, the fuzz target's limit for client frames.
const SERVER_MAX_FRAME: usize = 1024;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus"));
    for (target, seeds) in corpora() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes)?;
        }
        println!("wrote {} seeds to {}", seeds.len(), dir.display());
    }
    Ok(())
}

/// One target's seeds, as (file name, contents).
pub type Seeds = Vec<(String, Vec<u8>)>;

/// Every fuzz target's seeds, by target.
pub fn corpora() -> Vec<(&'static str, Seeds)> {
    vec![("decode", seeds()), ("session", session_seeds())]
}

/// Every seed of the `decode` target.
pub fn seeds() -> Seeds {
    let hello = encode_all(&[ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        username: "ann".into(),
        password: None,
    }]);
    let client_session = encode_all(&client_session());
    let server_session = encode_all(&server_session());

    // Body: tag, the room (length byte + 5), the text's 3-byte length, the text.
    let at_limit = encode_all(&[ClientFrame::Msg {
        room: DEFAULT_ROOM.into(),
        text: "x".repeat(SERVER_MAX_FRAME - 1 - (1 + DEFAULT_ROOM.len()) - 3),
    }]);
    assert_eq!(
        at_limit.len(),
        4 + SERVER_MAX_FRAME,
        "the seed sits at the limit"
    );

    let full_room = encode_all(&[ServerFrame::UserList {
        users: (0..1_800).map(|i| format!("user{i:0>28}")).collect(),
    }]);
    let many_rooms = encode_all(&[ServerFrame::RoomList {
        rooms: (0..1_500)
            .map(|i| RoomSummary {
                name: format!("room{i:0>28}"),
                members: i * 47,
            })
            .collect(),
    }]);
    let busy_room = encode_all(&[ServerFrame::Joined {
        room: "Rust".into(),
        members: (0..1_800).map(|i| format!("user{i:0>28}")).collect(),
    }]);

    let mut over_limit = u32::try_from(SERVER_MAX_FRAME + 1)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    over_limit.extend_from_slice(&hello);

    let mut malformed_then_good = vec![0, 0, 0, 2, 0xFF, 0x07];
    malformed_then_good.extend_from_slice(&hello);

    let truncated = hello[..hello.len() - 2].to_vec();

    vec![
        seed("client-hello", &[], &hello),
        seed("client-session", &[], &client_session),
        seed("client-session-in-pieces", &[1, 3, 7, 2], &client_session),
        seed("client-msg-at-limit", &[], &at_limit),
        seed("server-session", &[], &server_session),
        seed("server-session-in-pieces", &[5, 0, 40], &server_session),
        seed("server-full-room", &[], &full_room),
        seed("server-many-rooms", &[], &many_rooms),
        seed("server-busy-room-joined", &[], &busy_room),
        seed("over-limit-then-hello", &[], &over_limit),
        seed("malformed-then-hello", &[3], &malformed_then_good),
        seed("truncated-hello", &[], &truncated),
    ]
}

/// Every seed of the `session` target.
pub fn session_seeds() -> Seeds {
    let (ann, bob, carol) = (0, 1, 2);
    let lobby = || join(DEFAULT_ROOM);
    let msg = |text: &str| msg_in(DEFAULT_ROOM, text);
    let burst: Vec<ClientFrame> = (0..40).map(|i| msg(&format!("burst {i}"))).collect();
    // More than a stalled reader's 4 KiB pipe, the batch its writer holds (up to 256 frames)
    // and a small queue take together, so it is dropped as a slow consumer.
    let flood_of_text: Vec<ClientFrame> = (0..400)
        .map(|i| msg(&format!("{i:>3} {}", "x".repeat(40))))
        .collect();
    let chat = Session::new(0)
        .hello(ann, names::ANN)
        .hello(bob, names::BOB)
        .settle()
        .frame(ann, &lobby())
        .frame(bob, &lobby())
        .settle()
        .frame(ann, &msg("hi bob"))
        .frame(
            bob,
            &ClientFrame::Whisper {
                to: "ANN".into(),
                text: "psst".into(),
            },
        )
        .frame(ann, &ClientFrame::ListUsers)
        .frame(ann, &ClientFrame::Ping)
        .settle()
        .frame(bob, &ClientFrame::Bye)
        .close(ann);
    let rooms = Session::new(0)
        .hello(ann, names::ANN)
        .hello(bob, names::BOB)
        .hello(carol, names::CAROL)
        .settle()
        .frame(ann, &join("#Rust"))
        .frame(bob, &join("rust"))
        .frame(bob, &lobby())
        .frame(carol, &lobby())
        .settle()
        .frame(ann, &msg_in("RUST", "only rust hears this"))
        .frame(carol, &msg_in("rust", "carol is not in rust"))
        .frame(bob, &msg("lobby, not rust"))
        .frame(carol, &ClientFrame::ListRooms)
        .frame(
            carol,
            &ClientFrame::ListMembers {
                room: "#rust".into(),
            },
        )
        .frame(
            carol,
            &ClientFrame::ListMembers {
                room: "nowhere".into(),
            },
        )
        .frame(ann, &join("#rust"))
        .frame(ann, &join("bad room"))
        .settle()
        .frame(
            bob,
            &ClientFrame::Part {
                room: "Rust".into(),
            },
        )
        .frame(
            bob,
            &ClientFrame::Part {
                room: "rust".into(),
            },
        )
        .frame(ann, &msg_in("rust", "bob left"))
        .settle()
        .close(carol)
        .frame(ann, &ClientFrame::Bye);
    let stalled = Session::new(setup::SMALL_QUEUE)
        .hello(ann, names::ANN)
        .hello(bob, names::BOB)
        .settle()
        .frame(ann, &lobby())
        .frame(bob, &lobby())
        .settle()
        .stall(bob)
        .raw(ann, &encode_all(&flood_of_text))
        .settle()
        .resume(bob)
        .frame(ann, &msg("after the drop"));
    let flood = Session::new(setup::FLOOD_CONTROL)
        .hello(ann, names::ANN)
        .frame(ann, &lobby())
        .raw(ann, &encode_all(&burst))
        .settle()
        .frame(ann, &msg("still flooding?"));
    let hostile = Session::new(0)
        .frame(ann, &msg("before hello"))
        .frame(ann, &lobby())
        .hello(ann, names::ANN)
        .frame(ann, &msg("before join"))
        .hello(bob, names::ANN_UPPER)
        .hello(bob, names::SPACE)
        .frame(ann, &lobby())
        .frame(ann, &msg(""))
        .hello(ann, names::BOB)
        .raw(bob, &[0, 0, 0, 3, 0xFF, 0xFE, 0xFD])
        .raw(bob, &[0xFF, 0xFF, 0xFF, 0xFF])
        .raw(2, &[0, 0, 0, 9, 1])
        .close(2)
        .settle();
    let typed = Session::new(0).typed(ann, &[0, 0, 0, 0, 1, 3, b'a', b'n', b'n', 0]);
    // The room operations, under the default room limits (4 rooms, 3 per person): the
    // witness holds lobby, A and b, so one more room can exist.
    let room_ops = Session::new(0)
        .hello(ann, names::ANN)
        .hello(bob, names::BOB)
        .join(ann, rooms::LOBBY)
        .join(bob, rooms::A_HASH)
        .join(bob, rooms::LOBBY_UPPER)
        .settle()
        .say(ann, rooms::LOBBY, texts::PLAIN)
        .say(bob, rooms::A_HASH, texts::PLAIN + 1)
        .say(ann, rooms::A, texts::PLAIN + 2)
        .say(bob, rooms::LOBBY_HASH, texts::EMPTY)
        .join(ann, rooms::C)
        .join(bob, rooms::C_UPPER)
        .join(ann, rooms::D)
        .join(bob, rooms::B)
        .list_rooms(ann)
        .list_members(ann, rooms::C_UPPER)
        .hello(carol, names::CAROL)
        .list_members(carol, rooms::D)
        .join(carol, rooms::SPACE)
        .part(carol, rooms::LOBBY)
        .settle()
        .burst(ann, rooms::LOBBY, 70)
        .whisper(ann, names::BOB, texts::PLAIN + 3)
        .part(bob, rooms::A)
        .part(bob, rooms::A_HASH)
        .say(bob, rooms::A, texts::PLAIN + 4)
        .settle()
        .part(ann, rooms::C)
        .join(carol, rooms::D)
        .bye(bob)
        .settle()
        .close(ann);
    // The room limits: 3 rooms per person (the witness is in 3), then only the witness's
    // rooms.
    let room_limits = Session::new(setup::THREE_ROOMS_EACH)
        .hello(ann, names::ANN)
        .hello(bob, names::BOB)
        .join(ann, rooms::LOBBY)
        .join(ann, rooms::B)
        .join(ann, rooms::A_HASH)
        .join(bob, rooms::C)
        .join(ann, rooms::C_UPPER)
        .join(ann, rooms::LOBBY_HASH)
        .join(bob, rooms::D)
        .say(bob, rooms::C, texts::PLAIN)
        .part(ann, rooms::LOBBY)
        .join(ann, rooms::C_UPPER)
        .settle()
        .say(bob, rooms::C, texts::PLAIN + 1)
        .say(ann, rooms::C, texts::PLAIN + 2)
        .list_rooms(bob);
    let only_watched = Session::new(setup::ONLY_WATCHED_ROOMS)
        .hello(ann, names::ANN)
        .join(ann, rooms::C)
        .join(ann, rooms::B_UPPER)
        .list_members(ann, rooms::C)
        .say(ann, rooms::B, texts::PLAIN)
        .list_rooms(ann);
    // A reader in two rooms stalls while both are busy, under a small queue.
    let stalled_in_rooms = Session::new(setup::SMALL_QUEUE)
        .three_in_lobby_and_a(names::ANN)
        .settle()
        .stall(bob)
        .burst(ann, rooms::LOBBY, 40)
        .burst(carol, rooms::A, 40)
        .settle()
        .resume(bob)
        .say(ann, rooms::A, texts::PLAIN);
    // Like the last, under a witness that is dropped too (so every room is checked client
    // against client): the sender in lobby and #A leaves while the stalled reader's queue is
    // full, and the reader, dropped, never hears of it; the one who left heard nothing more
    // in #A either, so both stays end together.
    let cut_in_rooms = Session::new(setup::SMALL_QUEUE)
        .three_in_lobby_and_a(names::WATCHER)
        .three_in_lobby_and_a(names::ANN)
        .settle()
        .stall(bob)
        .burst(ann, rooms::LOBBY, 40)
        .close(ann)
        .burst(carol, rooms::A, 40)
        .settle()
        .burst(carol, rooms::A, 40)
        .settle()
        .say(carol, rooms::LOBBY, texts::EMPTY);
    // Joins that ask for a backlog (bit 7 of the room byte: the latest 20), on a server
    // without history: Joined, then an empty backlog, then the room goes on.
    let backlog = Session::new(0)
        .hello(ann, names::ANN)
        .hello(bob, names::BOB)
        .join(ann, rooms::LOBBY | 0x80 | 20)
        .say(ann, rooms::LOBBY, texts::PLAIN)
        .join(bob, rooms::A_HASH | 0x80 | 20)
        .join(bob, rooms::LOBBY | 0x80)
        .say(bob, rooms::LOBBY, texts::PLAIN + 1)
        .settle();
    vec![
        (String::from("seed-session-chat"), chat.0),
        (String::from("seed-session-rooms"), rooms.0),
        (String::from("seed-session-stalled-reader"), stalled.0),
        (String::from("seed-session-flood"), flood.0),
        (String::from("seed-session-hostile"), hostile.0),
        (String::from("seed-session-typed"), typed.0),
        (String::from("seed-session-room-ops"), room_ops.0),
        (String::from("seed-session-room-limits"), room_limits.0),
        (
            String::from("seed-session-only-watched-rooms"),
            only_watched.0,
        ),
        (
            String::from("seed-session-stalled-in-rooms"),
            stalled_in_rooms.0,
        ),
        (String::from("seed-session-cut-in-rooms"), cut_in_rooms.0),
        (String::from("seed-session-backlog"), backlog.0),
    ]
}

/// `Join` of `room`, as typed.
fn join(room: &str) -> ClientFrame {
    ClientFrame::Join {
        room: room.into(),
        backlog: Backlog::None,
    }
}

/// A message for `room`, as typed.
fn msg_in(room: &str, text: &str) -> ClientFrame {
    ClientFrame::Msg {
        room: room.into(),
        text: text.into(),
    }
}

/// The `session` target's setup bits (its first byte).
mod setup {
    /// A send queue of 8 frames, so a burst overflows it.
    pub const SMALL_QUEUE: u8 = 1;
    /// Flood control at its defaults (off otherwise).
    pub const FLOOD_CONTROL: u8 = 2;
    /// `max_rooms` 3: only the witness's rooms can exist (4 otherwise).
    pub const ONLY_WATCHED_ROOMS: u8 = 4;
    /// `rooms_per_user` 3, as many as the witness is in (no limit otherwise).
    pub const THREE_ROOMS_EACH: u8 = 8;
}

/// Indexes into the `session` target's list of rooms.
mod rooms {
    pub const LOBBY: u8 = 0;
    pub const LOBBY_UPPER: u8 = 1;
    pub const LOBBY_HASH: u8 = 2;
    pub const A: u8 = 3;
    pub const A_HASH: u8 = 4;
    pub const B: u8 = 5;
    pub const B_UPPER: u8 = 6;
    pub const C: u8 = 7;
    pub const C_UPPER: u8 = 8;
    pub const SPACE: u8 = 11;
    pub const D: u8 = 15;
}

/// Texts of the `session` target's message operations (see its `text`).
mod texts {
    pub const EMPTY: u8 = 0;
    /// `m7`; the next ones are `m8`, `m9`, ...
    pub const PLAIN: u8 = 7;
}

/// Indexes into the `session` target's list of names.
mod names {
    pub const ANN: u8 = 0;
    pub const ANN_UPPER: u8 = 1;
    pub const BOB: u8 = 2;
    pub const CAROL: u8 = 3;
    /// The witness's name, which the server refuses to anyone else.
    pub const WATCHER: u8 = 4;
    pub const SPACE: u8 = 7;
}

/// A `session` input: the setup byte, then operations (`client << 4 | op`, then the
/// operation's own bytes). Operations 0-7 send bytes and steer the clients; 8-15 are
/// room operations and other frames, with rooms, names and texts picked by index.
struct Session(Vec<u8>);

impl Session {
    fn new(setup: u8) -> Session {
        Session(vec![setup])
    }

    fn op(mut self, client: u8, op: u8, bytes: &[u8]) -> Session {
        self.0.push(client << 4 | op);
        self.0.extend_from_slice(bytes);
        self
    }

    /// An operation whose bytes are a u16 big-endian length, then `payload`.
    fn sized(self, client: u8, op: u8, payload: &[u8]) -> Session {
        let len = u16::try_from(payload.len()).expect("a seed payload is under 64 KiB");
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(payload);
        self.op(client, op, &bytes)
    }

    /// A frame body (the target adds the length prefix).
    fn frame(self, client: u8, frame: &ClientFrame) -> Session {
        let wire = encode_all(std::slice::from_ref(frame));
        self.sized(client, 0, &wire[4..])
    }

    fn raw(self, client: u8, bytes: &[u8]) -> Session {
        self.sized(client, 1, bytes)
    }

    /// Bytes the target reads with `arbitrary` as a client frame.
    fn typed(self, client: u8, bytes: &[u8]) -> Session {
        self.sized(client, 2, bytes)
    }

    fn hello(self, client: u8, name: u8) -> Session {
        self.op(client, 3, &[name])
    }

    fn settle(self) -> Session {
        self.op(0, 4, &[])
    }

    fn stall(self, client: u8) -> Session {
        self.op(client, 5, &[])
    }

    fn resume(self, client: u8) -> Session {
        self.op(client, 6, &[])
    }

    fn close(self, client: u8) -> Session {
        self.op(client, 7, &[])
    }

    fn join(self, client: u8, room: u8) -> Session {
        self.op(client, 8, &[room])
    }

    fn part(self, client: u8, room: u8) -> Session {
        self.op(client, 9, &[room])
    }

    fn say(self, client: u8, room: u8, text: u8) -> Session {
        self.op(client, 10, &[room, text])
    }

    /// `n` messages to `room` in one write (1 to 96).
    fn burst(self, client: u8, room: u8, n: u8) -> Session {
        assert!((1..=96).contains(&n));
        self.op(client, 11, &[room, n - 1])
    }

    fn list_rooms(self, client: u8) -> Session {
        self.op(client, 12, &[])
    }

    fn list_members(self, client: u8, room: u8) -> Session {
        self.op(client, 13, &[room])
    }

    fn whisper(self, client: u8, to: u8, text: u8) -> Session {
        self.op(client, 14, &[to, text])
    }

    fn bye(self, client: u8) -> Session {
        self.op(client, 15, &[])
    }

    /// Clients 0, 1 and 2 say `Hello` (0 as `first`, then bob and carol); 0 and 1 join
    /// lobby and #A, 2 joins #A.
    fn three_in_lobby_and_a(self, first: u8) -> Session {
        self.hello(0, first)
            .hello(1, names::BOB)
            .hello(2, names::CAROL)
            .join(0, rooms::LOBBY)
            .join(0, rooms::A)
            .join(1, rooms::LOBBY)
            .join(1, rooms::A)
            .join(2, rooms::A)
    }
}

/// One client frame of each kind, in the order a session sends them.
fn client_session() -> Vec<ClientFrame> {
    vec![
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: "zoë".into(),
            password: Some("sesame".into()),
        },
        join(DEFAULT_ROOM),
        ClientFrame::Join {
            room: "#Rust".into(),
            backlog: Backlog::Latest(20),
        },
        ClientFrame::Join {
            room: "ops".into(),
            backlog: Backlog::After(41),
        },
        msg_in(DEFAULT_ROOM, "hello, world ✓"),
        msg_in("rust", "hi rust"),
        ClientFrame::Whisper {
            to: "bob".into(),
            text: "psst".into(),
        },
        ClientFrame::ListUsers,
        ClientFrame::ListRooms,
        ClientFrame::ListMembers {
            room: "#rust".into(),
        },
        ClientFrame::History {
            room: "rust".into(),
            from: Cursor::Latest,
            limit: 100,
        },
        ClientFrame::History {
            room: "rust".into(),
            from: Cursor::Before(7),
            limit: 500,
        },
        ClientFrame::History {
            room: "ops".into(),
            from: Cursor::After(41),
            limit: 500,
        },
        ClientFrame::Part {
            room: "rust".into(),
        },
        ClientFrame::Ping,
        ClientFrame::Pong,
        ClientFrame::SignIn {
            version: PROTOCOL_VERSION,
            username: "ann".into(),
            server_password: None,
            credential: Credential::Token(SessionToken::from_bytes([0x5a; 32])),
            online: true,
        },
        ClientFrame::Register {
            version: PROTOCOL_VERSION,
            username: "bob".into(),
            server_password: None,
            password: Secret::new("violet tractor"),
            device: "laptop".into(),
        },
        ClientFrame::ChangePassword {
            old: Secret::new("violet tractor"),
            new: Secret::new("amber kettle"),
        },
        ClientFrame::ListSessions,
        ClientFrame::Revoke {
            which: Revocation::One(2),
        },
        ClientFrame::Bye,
    ]
}

/// One server frame of each kind, presence with every leave reason.
fn server_session() -> Vec<ServerFrame> {
    let at = 1_700_000_000_000;
    let mut frames = vec![
        ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            username: "ann".into(),
            online: 2,
            buffsize: SERVER_MAX_FRAME as u32,
            rooms_per_user: 50,
            history: 500,
        },
        ServerFrame::Joined {
            room: DEFAULT_ROOM.into(),
            members: vec!["ann".into(), "bob".into()],
        },
        ServerFrame::UserJoined {
            room: DEFAULT_ROOM.into(),
            user: "carol".into(),
            at,
        },
        ServerFrame::Msg {
            room: DEFAULT_ROOM.into(),
            from: "bob".into(),
            text: "hi ann".into(),
            at,
            seq: 42,
        },
        ServerFrame::History {
            room: "Rust".into(),
            messages: vec![
                Past {
                    seq: 6,
                    from: "bob".into(),
                    text: "earlier".into(),
                    at: at - 60_000,
                    kind: chat_proto::PastKind::Message,
                    reply_to: None,
                    edited: None,
                    reactions: vec![],
                },
                Past {
                    seq: 7,
                    from: "ann".into(),
                    text: "later".into(),
                    at: at - 1_000,
                    kind: chat_proto::PastKind::Message,
                    reply_to: None,
                    edited: None,
                    reactions: vec![],
                },
            ],
            more: true,
            next: Cursor::Before(6),
            backlog: true,
            missed: false,
        },
        ServerFrame::History {
            room: "ops".into(),
            messages: Vec::new(),
            more: false,
            next: Cursor::After(41),
            backlog: false,
            missed: true,
        },
        ServerFrame::Whisper {
            from: "bob".into(),
            to: "ann".into(),
            text: "psst".into(),
            at,
        },
        ServerFrame::UserList {
            users: vec!["ann".into(), "bob".into(), "carol".into()],
        },
        ServerFrame::RoomList {
            rooms: vec![
                RoomSummary {
                    name: DEFAULT_ROOM.into(),
                    members: 3,
                },
                RoomSummary {
                    name: "Rust".into(),
                    members: 1,
                },
            ],
        },
        ServerFrame::Members {
            room: "Rust".into(),
            users: vec!["bob".into()],
        },
        ServerFrame::Parted {
            room: DEFAULT_ROOM.into(),
        },
        ServerFrame::System {
            text: "server shutting down".into(),
            at,
        },
        ServerFrame::Pong,
        ServerFrame::Ping,
    ];
    frames.extend(
        [
            LeftReason::Parted,
            LeftReason::Quit,
            LeftReason::Disconnected,
            LeftReason::TimedOut,
            LeftReason::SlowConsumer,
            LeftReason::Refused,
        ]
        .map(|reason| ServerFrame::UserLeft {
            room: "Rust".into(),
            user: "carol".into(),
            at,
            reason,
        }),
    );
    frames.extend([
        ServerFrame::SignedIn {
            session: 1,
            token: Some(SessionToken::from_bytes([0x5a; 32])),
        },
        ServerFrame::Sessions {
            sessions: vec![DeviceSession {
                id: 1,
                device: "laptop".into(),
                created: at,
                last_used: at,
                current: true,
            }],
        },
        ServerFrame::Revoked { count: 1 },
    ]);
    // A few error kinds, recoverable and fatal, room errors among them. Not every kind:
    // appending a kind is a compatible change and should not make the checked-in seeds stale.
    frames.extend(
        [
            ErrorKind::BadFrame,
            ErrorKind::NameTaken,
            ErrorKind::FrameTooLarge,
            ErrorKind::ShuttingDown,
            ErrorKind::NotInRoom,
            ErrorKind::InvalidRoom,
        ]
        .map(|kind| ServerFrame::Error {
            kind,
            detail: kind.to_string(),
        }),
    );
    frames
}

/// A seed in the fuzz target's layout: the piece lengths, then the stream.
fn seed(name: &str, pieces: &[u16], stream: &[u8]) -> (String, Vec<u8>) {
    let mut bytes = vec![u8::try_from(pieces.len()).expect("at most 16 pieces")];
    for len in pieces {
        bytes.extend_from_slice(&len.to_be_bytes());
    }
    bytes.extend_from_slice(stream);
    (format!("seed-{name}"), bytes)
}

fn encode_all<T: serde::Serialize>(frames: &[T]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| {
            codec::encode(f)
                .expect("seed frames are small")
                .into_bytes()
        })
        .collect()
}
