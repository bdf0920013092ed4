//! Rooms over real TCP: who hears what, in which order, and what is refused.

mod common;

use chat_proto::{
    Backlog, ClientFrame, ErrorKind, LeftReason, RoomSummary, ServerFrame, PROTOCOL_VERSION,
};
use chat_server::Config;
use common::{error_of, start_server, start_with, test_config, TestClient, LOBBY};

/// The room and text of a room message; any other frame fails the test.
fn said(frame: ServerFrame) -> (String, String, String) {
    match frame {
        ServerFrame::Msg {
            room, from, text, ..
        } => (room, from, text),
        other => panic!("expected a room message, got {other:?}"),
    }
}

/// Reads room messages (skipping presence) until `count` have come.
async fn messages(client: &mut TestClient, count: usize) -> Vec<(String, String, String)> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        got.push(said(client.recv_skipping_notices().await));
    }
    got
}

/// A ping round trip: every frame the server queued for `client` before the ping is read
/// (and returned) by the time the pong comes.
async fn drain(client: &mut TestClient) -> Vec<ServerFrame> {
    client.send(ClientFrame::Ping).await;
    let mut before = Vec::new();
    loop {
        match client.recv().await {
            ServerFrame::Pong => return before,
            frame => before.push(frame),
        }
    }
}

#[tokio::test]
async fn a_message_to_one_room_never_reaches_a_member_of_only_another() {
    let server = start_server().await;
    let mut ann = server.register_only("ann").await;
    let mut bob = server.register_only("bob").await;
    ann.join("alpha").await;
    bob.join("beta").await;
    ann.say_in("alpha", "for alpha").await;
    bob.say_in("beta", "for beta").await;
    assert_eq!(
        messages(&mut ann, 1).await,
        [("alpha".into(), "ann".into(), "for alpha".into())]
    );
    assert_eq!(
        messages(&mut bob, 1).await,
        [("beta".into(), "bob".into(), "for beta".into())]
    );
    // Nothing else is waiting for either of them.
    assert_eq!(drain(&mut ann).await, []);
    assert_eq!(drain(&mut bob).await, []);
    server.shutdown().await;
}

#[tokio::test]
async fn a_member_of_two_rooms_hears_both_in_the_order_they_were_sent() {
    let server = start_server().await;
    let mut both = server.register_only("both").await;
    both.join("a").await;
    both.join("b").await;
    let mut ann = server.register_only("ann").await;
    ann.join("a").await;
    ann.join("b").await;
    for i in 0..50 {
        let room = if i % 3 == 0 { "a" } else { "b" };
        ann.say_in(room, &format!("{i}")).await;
    }
    let heard = messages(&mut both, 50).await;
    let expected: Vec<(String, String, String)> = (0..50)
        .map(|i| {
            let room = if i % 3 == 0 { "a" } else { "b" };
            (room.into(), "ann".into(), format!("{i}"))
        })
        .collect();
    assert_eq!(heard, expected);
    server.shutdown().await;
}

#[tokio::test]
async fn with_several_senders_every_member_hears_one_order_per_room() {
    let server = start_server().await;
    let mut listeners = Vec::new();
    for name in ["l1", "l2", "l3"] {
        let mut client = server.register_only(name).await;
        client.join("busy").await;
        if name != "l3" {
            client.join("other").await;
        }
        listeners.push(client);
    }
    let mut senders = Vec::new();
    for name in ["s1", "s2", "s3"] {
        let mut client = server.register_only(name).await;
        client.join("busy").await;
        client.join("other").await;
        senders.push(client);
    }
    let per_sender = 100;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(n, mut client)| {
            tokio::spawn(async move {
                for i in 0..per_sender {
                    let room = if i % 2 == 0 { "busy" } else { "other" };
                    client.say_in(room, &format!("s{n}-{i}")).await;
                }
                client
            })
        })
        .collect();
    let mut orders = Vec::new();
    for client in &mut listeners {
        let count = if orders.len() == 2 { 150 } else { 300 };
        let heard = messages(client, count).await;
        let busy: Vec<String> = heard
            .iter()
            .filter(|(room, ..)| room == "busy")
            .map(|(_, _, text)| text.clone())
            .collect();
        let other: Vec<String> = heard
            .iter()
            .filter(|(room, ..)| room == "other")
            .map(|(_, _, text)| text.clone())
            .collect();
        orders.push((busy, other));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (busy, other) = &orders[0];
    assert_eq!(busy.len(), 150);
    assert_eq!(other.len(), 150);
    assert_eq!(&orders[1].0, busy, "l2 heard #busy in l1's order");
    assert_eq!(&orders[1].1, other, "l2 heard #other in l1's order");
    assert_eq!(&orders[2].0, busy, "l3 heard #busy in l1's order");
    assert!(orders[2].1.is_empty(), "l3 is not in #other");
    // Each sender's own messages keep the order it sent them in.
    for n in 0..3 {
        let mine: Vec<&String> = busy
            .iter()
            .filter(|t| t.starts_with(&format!("s{n}-")))
            .collect();
        let sent: Vec<String> = (0..per_sender)
            .step_by(2)
            .map(|i| format!("s{n}-{i}"))
            .collect();
        assert_eq!(mine, sent.iter().collect::<Vec<_>>());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_part_stops_delivery_at_once_and_is_confirmed_after_the_last_message() {
    let server = start_server().await;
    let mut ann = server.register_only("ann").await;
    let mut bob = server.register_only("bob").await;
    ann.join("ops").await;
    bob.join("ops").await;
    assert!(matches!(ann.recv().await, ServerFrame::UserJoined { user, .. } if user == "bob"));
    ann.say_in("ops", "before").await;
    assert_eq!(messages(&mut bob, 1).await[0].2, "before");
    bob.send(ClientFrame::Part {
        room: "#OPS".into(),
    })
    .await;
    // Bob's next frame is the confirmation, naming the room as shown; nothing follows it.
    assert_eq!(bob.recv().await, ServerFrame::Parted { room: "ops".into() });
    // Ann is told, with the reason; what she says next does not reach Bob.
    let left = loop {
        match ann.recv().await {
            ServerFrame::UserLeft {
                user, reason, room, ..
            } => break (user, reason, room),
            ServerFrame::Msg { .. } => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(left, ("bob".into(), LeftReason::Parted, "ops".into()));
    ann.say_in("ops", "after").await;
    assert_eq!(messages(&mut ann, 1).await[0].2, "after");
    assert_eq!(drain(&mut bob).await, []);
    // A message to the room he left is refused, and his connection goes on.
    bob.say_in("ops", "hello?").await;
    let (kind, detail) = bob.recv_error().await;
    assert_eq!(kind, ErrorKind::NotInRoom);
    assert!(detail.contains("#ops"), "{detail}");
    bob.send(ClientFrame::Ping).await;
    assert_eq!(bob.recv().await, ServerFrame::Pong);
    server.shutdown().await;
}

#[tokio::test]
async fn rooms_are_case_insensitive_take_an_optional_hash_and_keep_their_first_spelling() {
    let server = start_server().await;
    let mut ann = server.register_only("ann").await;
    let mut bob = server.register_only("bob").await;
    ann.send(ClientFrame::Join {
        room: "#Rust".into(),
        backlog: Backlog::None,
    })
    .await;
    assert_eq!(
        ann.recv().await,
        ServerFrame::Joined {
            room: "Rust".into(),
            members: vec!["ann".into()]
        }
    );
    bob.send(ClientFrame::Join {
        room: "RUST".into(),
        backlog: Backlog::None,
    })
    .await;
    assert_eq!(
        bob.recv().await,
        ServerFrame::Joined {
            room: "Rust".into(),
            members: vec!["ann".into(), "bob".into()]
        }
    );
    assert!(matches!(
        ann.recv().await,
        ServerFrame::UserJoined { room, user, .. } if room == "Rust" && user == "bob"
    ));
    bob.say_in("#rust", "hi").await;
    assert_eq!(
        messages(&mut ann, 1).await,
        [("Rust".into(), "bob".into(), "hi".into())]
    );
    // A second join of a room one is in only repeats the answer; nobody is told.
    bob.send(ClientFrame::Join {
        room: "rust".into(),
        backlog: Backlog::None,
    })
    .await;
    assert_eq!(said(bob.recv().await).2, "hi", "bob's own copy comes first");
    assert!(matches!(bob.recv().await, ServerFrame::Joined { room, .. } if room == "Rust"));
    assert_eq!(drain(&mut ann).await, []);
    server.shutdown().await;
}

#[tokio::test]
async fn rooms_and_their_members_are_listed_sorted_and_lobby_is_just_a_room() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("Bob").await;
    ann.join("zeta").await;
    bob.join("Alpha").await;
    ann.join("alpha").await;
    let _carol = server.register_only("carol").await;
    ann.send(ClientFrame::ListRooms).await;
    assert_eq!(
        ann.recv_skipping_notices().await,
        ServerFrame::RoomList {
            rooms: vec![
                RoomSummary {
                    name: "Alpha".into(),
                    members: 2
                },
                RoomSummary {
                    name: LOBBY.into(),
                    members: 2
                },
                RoomSummary {
                    name: "zeta".into(),
                    members: 1
                },
            ]
        }
    );
    // A room's members can be asked for without being in it.
    bob.send(ClientFrame::ListMembers {
        room: "#ZETA".into(),
    })
    .await;
    assert_eq!(
        bob.recv_skipping_notices().await,
        ServerFrame::Members {
            room: "zeta".into(),
            users: vec!["ann".into()]
        }
    );
    // ListUsers still lists everyone online, whatever their rooms.
    bob.send(ClientFrame::ListUsers).await;
    assert_eq!(
        bob.recv_skipping_notices().await,
        ServerFrame::UserList {
            users: vec!["ann".into(), "Bob".into(), "carol".into()]
        }
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_room_requests_get_typed_errors_and_disturb_nobody() {
    let server = start_with(Config {
        rooms_per_user: 3,
        max_rooms: 4,
        ..test_config()
    })
    .await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    let cases: Vec<(ClientFrame, ErrorKind)> = vec![
        (
            ClientFrame::Join {
                room: "no spaces".into(),
                backlog: Backlog::None,
            },
            ErrorKind::InvalidRoom,
        ),
        (
            ClientFrame::Join {
                room: "#".into(),
                backlog: Backlog::None,
            },
            ErrorKind::InvalidRoom,
        ),
        (
            ClientFrame::Join {
                room: "r".repeat(33),
                backlog: Backlog::None,
            },
            ErrorKind::InvalidRoom,
        ),
        (
            ClientFrame::Msg {
                room: "elsewhere".into(),
                text: "hi".into(),
            },
            ErrorKind::NotInRoom,
        ),
        (
            ClientFrame::Msg {
                room: "bad room".into(),
                text: "hi".into(),
            },
            ErrorKind::InvalidRoom,
        ),
        (
            ClientFrame::Part {
                room: "elsewhere".into(),
            },
            ErrorKind::NotInRoom,
        ),
        (
            ClientFrame::ListMembers {
                room: "nobody-here".into(),
            },
            ErrorKind::NoSuchRoom,
        ),
        (
            ClientFrame::ListMembers { room: "b@d".into() },
            ErrorKind::InvalidRoom,
        ),
    ];
    for (frame, expected) in cases {
        ann.send(frame.clone()).await;
        let (kind, detail) = ann.recv_error().await;
        assert_eq!(kind, expected, "{frame:?}: {detail}");
        assert!(!kind.is_fatal());
    }
    // rooms_per_user = 3: lobby and two more, then a typed refusal.
    ann.join("two").await;
    ann.join("three").await;
    ann.send(ClientFrame::Join {
        room: "four".into(),
        backlog: Backlog::None,
    })
    .await;
    let (kind, detail) = ann.recv_error().await;
    assert_eq!(kind, ErrorKind::TooManyRooms, "{detail}");
    assert!(detail.contains('3'), "{detail}");
    // max_rooms = 4: lobby, two, three exist; bob makes the fourth, then the server is full,
    // but existing rooms can still be joined.
    bob.join("bobs").await;
    bob.send(ClientFrame::Join {
        room: "fifth".into(),
        backlog: Backlog::None,
    })
    .await;
    let (kind, detail) = bob.recv_error().await;
    assert_eq!(kind, ErrorKind::RoomsFull, "{detail}");
    assert_eq!(bob.join("two").await, ["ann", "bob"]);
    // After all that, both still chat in lobby, in order.
    ann.say("still here").await;
    for client in [&mut ann, &mut bob] {
        assert_eq!(
            messages(client, 1).await,
            [(LOBBY.into(), "ann".into(), "still here".into())]
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn presence_says_who_joined_and_who_left_each_room_and_why() {
    let server = start_server().await;
    let mut ann = server.register_only("ann").await;
    ann.join("a").await;
    ann.join("b").await;
    let mut bob = server.register_only("bob").await;
    assert_eq!(bob.join("a").await, ["ann", "bob"]);
    bob.join("b").await;
    let mut joined = Vec::new();
    for _ in 0..2 {
        match ann.recv().await {
            ServerFrame::UserJoined { room, user, at } => {
                assert!(at > 0);
                joined.push((room, user));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        joined,
        [("a".into(), "bob".into()), ("b".into(), "bob".into())]
    );
    // Bob's connection drops without a goodbye: both rooms are told he disconnected.
    drop(bob);
    let mut left = Vec::new();
    for _ in 0..2 {
        match ann.recv().await {
            ServerFrame::UserLeft {
                room, user, reason, ..
            } => left.push((room, user, reason)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        left,
        [
            ("a".into(), "bob".into(), LeftReason::Disconnected),
            ("b".into(), "bob".into(), LeftReason::Disconnected)
        ]
    );
    // A goodbye is a quit.
    let mut carol = server.register_only("carol").await;
    carol.join("a").await;
    ann.recv().await;
    carol.send(ClientFrame::Bye).await;
    carol.until_closed().await;
    assert!(matches!(
        ann.recv().await,
        ServerFrame::UserLeft { user, reason: LeftReason::Quit, room, .. }
            if user == "carol" && room == "a"
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn a_room_ends_with_its_last_member() {
    let server = start_server().await;
    let mut ann = server.register_only("ann").await;
    ann.join("Brief").await;
    ann.send(ClientFrame::Part {
        room: "brief".into(),
    })
    .await;
    assert_eq!(
        ann.recv().await,
        ServerFrame::Parted {
            room: "Brief".into()
        }
    );
    ann.send(ClientFrame::ListRooms).await;
    assert_eq!(ann.recv().await, ServerFrame::RoomList { rooms: vec![] });
    // The next one to come makes it anew, under their spelling.
    assert_eq!(
        error_of({
            ann.send(ClientFrame::ListMembers {
                room: "brief".into(),
            })
            .await;
            ann.recv().await
        })
        .0,
        ErrorKind::NoSuchRoom
    );
    let mut bob = server.register_only("bob").await;
    bob.send(ClientFrame::Join {
        room: "BRIEF".into(),
        backlog: Backlog::None,
    })
    .await;
    assert!(matches!(bob.recv().await, ServerFrame::Joined { room, .. } if room == "BRIEF"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_older_versions_hello_is_refused_as_a_mismatch() {
    let server = start_server().await;
    let mut old = server.connect().await;
    old.send(ClientFrame::Hello {
        version: PROTOCOL_VERSION - 1,
        username: "old".into(),
        password: None,
    })
    .await;
    let (kind, detail) = old.recv_error().await;
    assert_eq!(kind, ErrorKind::VersionMismatch);
    assert!(
        detail.contains(&format!("version {PROTOCOL_VERSION}"))
            && detail.contains(&format!("version {}", PROTOCOL_VERSION - 1)),
        "{detail}"
    );
    assert!(old.next().await.is_none(), "the connection is closed");
    server.shutdown().await;
}
