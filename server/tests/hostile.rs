//! Hostile input, one test per kind: the offender gets a typed `Error` where its socket still
//! works and a close where the stream cannot go on, the server logs a WARN line with the
//! peer address and the reason, and nobody else notices anything.
//!
//! "Nobody else notices": a bystander in `lobby`, there before the offence, receives after
//! it exactly the next broadcast (plus the offender's own `UserJoined` and `UserLeft`, where
//! the offender registered and joined `lobby`) and nothing else. Every client gets frames in
//! the one order the server handled them, so anything leaked to the bystander would arrive
//! before that broadcast.

mod common;

use chat_proto::codec::{encode, CLIENT_MAX_FRAME};
use chat_proto::{Backlog, ClientFrame, ErrorKind, FrameReader, LeftReason, ServerFrame};
use chat_server::Config;
use common::{
    error_of, hello, joined, left, logs, presence, start_with, test_config, Presence, TestClient,
    TestServer, LOBBY,
};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpSocket, TcpStream};

/// A server, a bystander and a speaker whose message ends each test.
struct Scene {
    server: TestServer,
    bystander: TestClient,
    speaker: TestClient,
}

impl Scene {
    async fn new() -> Scene {
        Scene::with(test_config()).await
    }

    async fn with(config: Config) -> Scene {
        logs::capture();
        let server = start_with(config).await;
        let mut bystander = server.register("bystander").await;
        let speaker = server.register("speaker").await;
        assert_eq!(bystander.recv_presence().await, joined("speaker"));
        Scene {
            server,
            bystander,
            speaker,
        }
    }

    /// The speaker broadcasts; the bystander must receive exactly the presence frames
    /// `notices`, then that broadcast.
    async fn nobody_else_noticed(mut self, notices: &[Presence]) {
        let text = "business as usual";
        self.speaker.say(text).await;
        let mut before = Vec::new();
        loop {
            match self.bystander.recv().await {
                ServerFrame::Msg { from, text: t, .. } if t == text => {
                    assert_eq!(from, "speaker");
                    break;
                }
                frame => before.push(frame),
            }
        }
        let seen: Vec<Option<Presence>> = before.iter().map(presence).collect();
        let expected: Vec<Option<Presence>> = notices.iter().cloned().map(Some).collect();
        assert_eq!(seen, expected, "the bystander saw {before:?}");
        self.server.shutdown().await;
    }
}

/// A length prefix and a body, as raw bytes.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut raw = (body.len() as u32).to_be_bytes().to_vec();
    raw.extend_from_slice(body);
    raw
}

/// The socket still works: a `Ping` is answered (a registered client) or refused with
/// `NotRegistered` (one still in its handshake).
async fn still_works(client: &mut TestClient, registered: bool) {
    client.send(ClientFrame::Ping).await;
    if registered {
        assert_eq!(client.recv().await, ServerFrame::Pong);
    } else {
        assert_eq!(client.recv_error().await.0, ErrorKind::NotRegistered);
    }
}

/// Expects exactly one `Error` of `kind`, then the end of the stream.
async fn error_then_close(client: &mut TestClient, kind: ErrorKind) -> String {
    match client.until_closed().await.as_slice() {
        [ServerFrame::Error { kind: k, detail }] if *k == kind => detail.clone(),
        other => panic!("expected one {kind:?} then a close, got {other:?}"),
    }
}

#[tokio::test]
async fn an_oversize_length_prefix_up_to_4_gib_is_refused_before_its_body_and_closed() {
    let scene = Scene::new().await;
    let buffsize = test_config().buffsize as u32;
    for len in [buffsize + 1, 1 << 20, 1 << 31, u32::MAX] {
        let mut offender = scene.server.connect().await;
        // The prefix and a few bytes: the server must not wait for (or allocate) the rest.
        let mut raw = len.to_be_bytes().to_vec();
        raw.extend_from_slice(b"abc");
        offender.conn.write_raw(&raw).await.unwrap();
        let detail = error_then_close(&mut offender, ErrorKind::FrameTooLarge).await;
        assert!(detail.contains(&len.to_string()), "{detail}");
        logs::warned(&offender.peer(), &format!("refused: frame of {len} bytes")).await;
    }
    scene.nobody_else_noticed(&[]).await;
}

#[tokio::test]
async fn a_frame_cut_off_by_eof_gets_bad_frame_on_the_still_open_half_then_a_close() {
    let scene = Scene::new().await;
    let mut offender = scene.server.connect().await;
    // Announces 10 bytes, sends 3, then closes its sending side.
    offender
        .conn
        .write_raw(&[0, 0, 0, 10, 0, 1, 3])
        .await
        .unwrap();
    offender.conn.shutdown().await.unwrap();
    let detail = error_then_close(&mut offender, ErrorKind::BadFrame).await;
    assert!(detail.contains("in the middle of a frame"), "{detail}");
    logs::warned(
        &offender.peer(),
        "connection broken: connection closed in the middle",
    )
    .await;
    scene.nobody_else_noticed(&[]).await;
}

#[tokio::test]
async fn a_garbage_body_gets_bad_frame_and_the_connection_goes_on() {
    let scene = Scene::new().await;
    let mut offender = scene.server.connect().await;
    // A Hello whose version is a varint that never ends.
    let garbage = [
        0u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    offender.conn.write_raw(&framed(&garbage)).await.unwrap();
    assert_eq!(offender.recv_error().await.0, ErrorKind::BadFrame);
    // One line, although bincode's message for it spans three.
    logs::warned(
        &offender.peer(),
        "Bad frame: Byte 255 is treated as an extension point",
    )
    .await;
    still_works(&mut offender, false).await;
    scene.nobody_else_noticed(&[]).await;
}

#[tokio::test]
async fn an_unknown_variant_tag_gets_bad_frame_and_the_connection_goes_on() {
    let scene = Scene::new().await;
    let mut offender = scene.server.connect().await;
    offender.conn.write_raw(&framed(&[200])).await.unwrap();
    let (kind, detail) = offender.recv_error().await;
    assert_eq!(kind, ErrorKind::BadFrame);
    assert!(detail.contains("variant"), "{detail}");
    logs::warned(&offender.peer(), "Bad frame: invalid value: integer `200`").await;
    // The stream is still in step: a real Hello now registers, and a Join joins.
    assert!(matches!(
        offender.hello("mallory").await,
        ServerFrame::Welcome { .. }
    ));
    offender.join(LOBBY).await;
    scene.nobody_else_noticed(&[joined("mallory")]).await;
}

#[tokio::test]
async fn invalid_utf8_inside_a_string_gets_bad_frame_and_the_connection_goes_on() {
    let scene = Scene::new().await;
    let mut offender = scene.server.connect().await;
    // Hello, version 1, a 2-byte name that is not UTF-8, no password.
    offender
        .conn
        .write_raw(&framed(&[0, 1, 2, 0xc3, 0x28, 0]))
        .await
        .unwrap();
    let (kind, detail) = offender.recv_error().await;
    assert_eq!(kind, ErrorKind::BadFrame);
    assert!(
        detail.contains("utf-8") || detail.contains("UTF-8"),
        "{detail}"
    );
    logs::warned(&offender.peer(), "Bad frame").await;
    still_works(&mut offender, false).await;
    scene.nobody_else_noticed(&[]).await;
}

#[tokio::test]
async fn a_frame_before_hello_is_refused_with_not_registered() {
    let scene = Scene::new().await;
    let mut offender = scene.server.connect().await;
    offender
        .send(ClientFrame::Msg {
            room: LOBBY.into(),
            text: "let me in".into(),
        })
        .await;
    assert_eq!(offender.recv_error().await.0, ErrorKind::NotRegistered);
    logs::warned(
        &offender.peer(),
        "Refused from unregistered client: send Hello first",
    )
    .await;
    still_works(&mut offender, false).await;
    scene.nobody_else_noticed(&[]).await;
}

#[tokio::test]
async fn a_second_hello_after_registering_is_refused_and_the_name_kept() {
    let scene = Scene::new().await;
    let mut offender = scene.server.register("mallory").await;
    let (kind, _) = error_of(offender.hello("speaker2").await);
    assert_eq!(kind, ErrorKind::AlreadyRegistered);
    logs::warned(&offender.peer(), "Refused from mallory: already registered").await;
    still_works(&mut offender, true).await;
    scene.nobody_else_noticed(&[joined("mallory")]).await;
}

#[tokio::test]
async fn empty_over_long_whitespace_and_control_character_names_are_refused() {
    let scene = Scene::new().await;
    let mut offender = scene.server.connect().await;
    let too_long = "m".repeat(33);
    for name in [
        "",
        too_long.as_str(),
        " ",
        "mal lory",
        "\t",
        "mal\u{7}",
        "\u{1b}[31mred",
    ] {
        let (kind, detail) = error_of(offender.hello(name).await);
        assert_eq!(kind, ErrorKind::InvalidName, "{name:?}: {detail}");
    }
    // Every refusal is logged by the time its answer arrived; one WARN line each.
    let peer = offender.peer();
    let warnings = logs::lines(|l| logs::names_peer(l, &peer) && l.contains("kind=invalid_name"));
    assert_eq!(warnings.len(), 7, "{warnings:#?}");
    assert!(
        warnings.iter().all(|w| w.contains(" | WARN | ")),
        "{warnings:#?}"
    );
    still_works(&mut offender, false).await;
    scene.nobody_else_noticed(&[]).await;
}

#[tokio::test]
async fn a_name_differing_from_an_online_one_only_by_case_is_taken() {
    let scene = Scene::new().await;
    let mut offender = scene.server.connect().await;
    for name in ["BYSTANDER", "ByStander", "Speaker"] {
        let (kind, detail) = error_of(offender.hello(name).await);
        assert_eq!(kind, ErrorKind::NameTaken, "{name}: {detail}");
    }
    logs::warned(&offender.peer(), "the name \"bystander\" is taken").await;
    still_works(&mut offender, false).await;
    scene.nobody_else_noticed(&[]).await;
}

#[tokio::test]
async fn an_empty_message_is_refused_and_reaches_nobody() {
    let scene = Scene::new().await;
    let mut offender = scene.server.register("mallory").await;
    for text in ["", "   ", "\t"] {
        offender.say(text).await;
        assert_eq!(offender.recv_error().await.0, ErrorKind::InvalidMessage);
    }
    logs::warned(
        &offender.peer(),
        "invalid message: a message cannot be empty",
    )
    .await;
    still_works(&mut offender, true).await;
    scene.nobody_else_noticed(&[joined("mallory")]).await;
}

#[tokio::test]
async fn a_message_over_the_limit_is_refused_with_a_close() {
    let scene = Scene::new().await;
    let mut offender = scene.server.register("mallory").await;
    offender
        .send(ClientFrame::Msg {
            room: LOBBY.into(),
            text: "x".repeat(test_config().buffsize * 2),
        })
        .await;
    error_then_close(&mut offender, ErrorKind::FrameTooLarge).await;
    let line = logs::warned(&offender.peer(), "mallory left").await;
    assert!(line.contains("frame of"), "no reason in {line}");
    scene
        .nobody_else_noticed(&[joined("mallory"), left("mallory", LeftReason::Refused)])
        .await;
}

#[tokio::test]
async fn a_whisper_to_an_unknown_user_is_refused_and_reaches_nobody() {
    let scene = Scene::new().await;
    let mut offender = scene.server.register("mallory").await;
    offender
        .send(ClientFrame::Whisper {
            to: "ghost".into(),
            text: "boo".into(),
        })
        .await;
    assert_eq!(offender.recv_error().await.0, ErrorKind::NoSuchUser);
    logs::warned(&offender.peer(), "no user named \"ghost\" is online").await;
    still_works(&mut offender, true).await;
    scene.nobody_else_noticed(&[joined("mallory")]).await;
}

/// A registered raw connection in `lobby`, whose halves are used by different tasks, so
/// that a test can write requests while reading answers.
struct Raw {
    reader: FrameReader<OwnedReadHalf, ServerFrame>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    peer: String,
}

impl Raw {
    async fn register(stream: TcpStream, name: &str) -> Raw {
        let peer = stream.local_addr().unwrap().to_string();
        let (reader, mut writer) = stream.into_split();
        let mut reader = FrameReader::new(reader, CLIENT_MAX_FRAME);
        let join = ClientFrame::Join {
            room: LOBBY.into(),
            backlog: Backlog::None,
        };
        for frame in [hello(name), join] {
            writer
                .write_all(encode(&frame).unwrap().as_bytes())
                .await
                .unwrap();
        }
        let welcome = tokio::time::timeout(common::TIMEOUT, reader.read_frame()).await;
        assert!(
            matches!(welcome, Ok(Ok(Some(ServerFrame::Welcome { .. })))),
            "{welcome:?}"
        );
        let joined = tokio::time::timeout(common::TIMEOUT, reader.read_frame()).await;
        assert!(
            matches!(joined, Ok(Ok(Some(ServerFrame::Joined { .. })))),
            "{joined:?}"
        );
        Raw {
            reader,
            writer,
            peer,
        }
    }

    async fn next(&mut self) -> Option<ServerFrame> {
        tokio::time::timeout(common::TIMEOUT, self.reader.read_frame())
            .await
            .expect("a frame in time")
            .expect("a well-formed frame")
    }
}

/// `count` `ListUsers` frames in one buffer.
fn list_users_burst(count: usize) -> Vec<u8> {
    let one = encode(&ClientFrame::ListUsers).unwrap();
    one.as_bytes().repeat(count)
}

/// Flood control off, as on a server tuned for load tests: a client that reads its
/// answers gets all 10,000, in order, while the bystander sees nothing of it.
#[tokio::test]
async fn ten_thousand_list_users_back_to_back_are_all_answered_to_a_reader() {
    let scene = Scene::new().await;
    let stream = TcpStream::connect(scene.server.addr).await.unwrap();
    let Raw {
        mut reader,
        mut writer,
        peer,
    } = Raw::register(stream, "mallory").await;
    let burst = list_users_burst(10_000);
    let write = tokio::spawn(async move {
        writer.write_all(&burst).await.unwrap();
        writer
    });
    let expected = vec![
        "bystander".to_owned(),
        "mallory".to_owned(),
        "speaker".to_owned(),
    ];
    for i in 0..10_000 {
        let frame = tokio::time::timeout(common::TIMEOUT, reader.read_frame()).await;
        match frame {
            Ok(Ok(Some(ServerFrame::UserList { users }))) => assert_eq!(users, expected),
            other => panic!("answer {i} ({peer}): {other:?}"),
        }
    }
    let _writer = write.await.unwrap();
    scene.nobody_else_noticed(&[joined("mallory")]).await;
}

/// Flood control off, and the client never reads: its answers fill the socket's buffers
/// and then its bounded queue, and it is dropped as a slow consumer instead of the server
/// buffering 200,000 answers. (Requests wait while the client's queue is congested, so the
/// burst must outgrow what the kernel buffers for the socket, 4 MiB by default.)
#[tokio::test]
async fn two_hundred_thousand_list_users_from_a_client_that_does_not_read_make_it_a_slow_consumer()
{
    let scene = Scene::with(Config {
        send_queue: 64,
        ..test_config()
    })
    .await;
    // A small receive window, so the kernel cannot absorb the answers instead of the queue.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(scene.server.addr).await.unwrap();
    let mut offender = Raw::register(stream, "mallory").await;
    // The server may close the connection before it has read everything: ignore the error.
    let _ = offender.writer.write_all(&list_users_burst(200_000)).await;
    logs::warned(&offender.peer, "reason=slow consumer").await;
    // What did arrive is a run of answers, and the stream ends.
    while let Ok(Ok(Some(frame))) =
        tokio::time::timeout(common::TIMEOUT, offender.reader.read_frame()).await
    {
        assert!(
            matches!(
                frame,
                ServerFrame::UserList { .. }
                    | ServerFrame::Error {
                        kind: ErrorKind::SlowConsumer,
                        ..
                    }
            ),
            "{frame:?}"
        );
    }
    scene
        .nobody_else_noticed(&[joined("mallory"), left("mallory", LeftReason::SlowConsumer)])
        .await;
}

/// Flood control on: `ListUsers` is metered, so after the burst (the `Hello` and the `Join`
/// took two tokens) come `RateLimited` refusals, and the refusal that reaches
/// `flood_disconnect_after` ends the connection with `Flooding`.
#[tokio::test]
async fn ten_thousand_list_users_under_flood_control_are_cut_off_as_a_flood() {
    let scene = Scene::with(Config {
        // One token per thousand seconds: nothing refills during the test.
        messages_per_second: 0.001,
        burst: 10,
        flood_disconnect_after: 50,
        ..test_config()
    })
    .await;
    let stream = TcpStream::connect(scene.server.addr).await.unwrap();
    let mut offender = Raw::register(stream, "mallory").await;
    let _ = offender.writer.write_all(&list_users_burst(10_000)).await;
    let mut answers = 0;
    let mut refusals = 0;
    let last = loop {
        match offender.next().await {
            Some(ServerFrame::UserList { .. }) => answers += 1,
            Some(ServerFrame::Error {
                kind: ErrorKind::RateLimited,
                ..
            }) => refusals += 1,
            other => break other,
        }
    };
    assert_eq!((answers, refusals), (8, 49));
    assert!(
        matches!(
            last,
            Some(ServerFrame::Error {
                kind: ErrorKind::Flooding,
                ..
            })
        ),
        "{last:?}"
    );
    assert_eq!(offender.next().await, None, "closed after Flooding");
    logs::warned(&offender.peer, "Rate limiting").await;
    logs::warned(
        &offender.peer,
        "reason=refused: flooding: 50 messages refused",
    )
    .await;
    scene
        .nobody_else_noticed(&[joined("mallory"), left("mallory", LeftReason::Refused)])
        .await;
}
