//! Writes the seed corpus of the `decode` fuzz target: streams of valid frames of both
//! directions, plus one example of each way a stream goes wrong, so that libFuzzer starts
//! from inputs that reach deep into the decoder.
//!
//! ```sh
//! cargo run -p chat-proto --example seed_corpus            # into fuzz/corpus/decode
//! cargo run -p chat-proto --example seed_corpus -- <dir>   # anywhere else
//! ```
//!
//! Each seed follows the fuzz target's input layout: a byte `n`, then `n` piece lengths
//! (u16 big-endian), then the byte stream. The files are named `seed-*`; the fuzz
//! directory's `.gitignore` keeps those and ignores what libFuzzer adds. The test
//! `seed_corpus` checks that the checked-in files are what this program writes.

use std::path::PathBuf;

use chat_proto::codec;
use chat_proto::{ClientFrame, ErrorKind, ServerFrame, PROTOCOL_VERSION};

/// The server's default `buffsize`, the fuzz target's limit for client frames.
const SERVER_MAX_FRAME: usize = 1024;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decode"));
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in seeds() {
        std::fs::write(dir.join(&name), bytes)?;
    }
    println!("wrote {} seeds to {}", seeds().len(), dir.display());
    Ok(())
}

/// Every seed, as (file name, contents).
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let hello = encode_all(&[ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        username: "ann".into(),
        password: None,
    }]);
    let client_session = encode_all(&client_session());
    let server_session = encode_all(&server_session());

    let at_limit = encode_all(&[ClientFrame::Msg {
        text: "x".repeat(SERVER_MAX_FRAME - 4),
    }]);
    assert_eq!(
        at_limit.len(),
        4 + SERVER_MAX_FRAME,
        "the seed sits at the limit"
    );

    let full_room = encode_all(&[ServerFrame::UserList {
        users: (0..1_800).map(|i| format!("user{i:0>28}")).collect(),
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
        seed("over-limit-then-hello", &[], &over_limit),
        seed("malformed-then-hello", &[3], &malformed_then_good),
        seed("truncated-hello", &[], &truncated),
    ]
}

/// One client frame of each kind, in the order a session sends them.
fn client_session() -> Vec<ClientFrame> {
    vec![
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: "zoë".into(),
            password: Some("sesame".into()),
        },
        ClientFrame::Msg {
            text: "hello, world ✓".into(),
        },
        ClientFrame::Whisper {
            to: "bob".into(),
            text: "psst".into(),
        },
        ClientFrame::ListUsers,
        ClientFrame::Ping,
        ClientFrame::Pong,
        ClientFrame::Bye,
    ]
}

/// One server frame of each kind.
fn server_session() -> Vec<ServerFrame> {
    let at = 1_700_000_000_000;
    let mut frames = vec![
        ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            username: "ann".into(),
            online: 2,
        },
        ServerFrame::Msg {
            from: "bob".into(),
            text: "hi ann".into(),
            at,
        },
        ServerFrame::Whisper {
            from: "bob".into(),
            to: "ann".into(),
            text: "psst".into(),
            at,
        },
        ServerFrame::UserList {
            users: vec!["ann".into(), "bob".into()],
        },
        ServerFrame::System {
            text: "bob joined".into(),
            at,
        },
        ServerFrame::Pong,
        ServerFrame::Ping,
    ];
    // A few error kinds, recoverable and fatal. Not every kind: appending a kind is a
    // compatible change and should not make the checked-in seeds stale.
    frames.extend(
        [
            ErrorKind::BadFrame,
            ErrorKind::NameTaken,
            ErrorKind::FrameTooLarge,
            ErrorKind::ShuttingDown,
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
