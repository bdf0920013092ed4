//! Moderation across the cluster: two nodes joined through one real nats-server share the
//! moderation bucket. A ban, a kick by a moderator named on the other node, a mute and a
//! server ban given on one node are in force on the other within a second (measured and
//! printed); a claimed room's roles and bans are the same wherever one asks; a message
//! removed on one node is gone on the other within a second too.

mod common;

use std::time::{Duration, Instant};

use chat_proto::moderation::{BanTarget, RoomAction, ServerAction};
use chat_proto::{Backlog, ClientFrame, Cursor, ErrorKind, PastKind, ServerFrame};
use common::accounts::{answer, make_operators, opened, register};
use common::nats::NatsServer;
use common::{error_of, start_with, TestClient};

const PASSWORD: &str = "violet tractor at noon";

/// How soon an action on one node must hold on the other.
const ACROSS_NODES: Duration = Duration::from_secs(1);

/// `Moderate{room, action}` from `by`, which must be carried out.
async fn act(by: &mut TestClient, room: &str, action: RoomAction) {
    by.send(ClientFrame::Moderate {
        room: room.into(),
        action,
    })
    .await;
    match answer(by).await {
        ServerFrame::RoomInfo { .. } => {}
        other => panic!("expected RoomInfo, got {other:?}"),
    }
}

/// Waits for `client` to be put out of `room` (`Parted`) after `since`; how long it took.
async fn parted(client: &mut TestClient, room: &str, since: Instant) -> Duration {
    loop {
        match client.recv().await {
            ServerFrame::Parted { room: parted } if parted == room => return since.elapsed(),
            ServerFrame::Error { kind, detail } => panic!("{kind:?}: {detail}"),
            _ => {}
        }
    }
}

/// Waits until `node`'s hub lists `user` as a member of `room` (presence across nodes).
async fn sees_in_room(client: &mut TestClient, room: &str, user: &str) {
    for _ in 0..200 {
        client
            .send(ClientFrame::ListMembers { room: room.into() })
            .await;
        if let ServerFrame::Members { users, .. } = answer(client).await {
            if users.iter().any(|u| u == user) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{user} never showed in #{room}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_a_kick_a_mute_and_a_server_ban_on_one_node_hold_on_the_other_within_a_second() {
    common::logs::capture();
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b")).await;
    let (mut olive, _, _) = opened(&a, register("olive", PASSWORD, "desk")).await;
    let (mut boss, _, _) = opened(&a, register("boss", PASSWORD, "desk")).await;
    let (mut mona, _, _) = opened(&b, register("mona", PASSWORD, "desk")).await;
    make_operators(
        &[
            (&a, nats.node_config("a"), "rooms_per_user"),
            (&b, nats.node_config("b"), "max_rooms"),
        ],
        &["boss"],
    )
    .await;
    let mut gus = b.register_only("gus").await;
    let mut tom = a.register_only("tom").await;
    for client in [&mut olive, &mut mona, &mut gus, &mut tom] {
        client.join("den").await;
    }
    sees_in_room(&mut mona, "den", "tom").await;
    sees_in_room(&mut olive, "den", "gus").await;

    // Claimed on node a; the owner makes mona, on node b, a moderator.
    olive.send(ClientFrame::Claim { room: "den".into() }).await;
    assert!(matches!(
        answer(&mut olive).await,
        ServerFrame::RoomInfo { .. }
    ));
    act(
        &mut olive,
        "den",
        RoomAction::Promote {
            user: "mona".into(),
        },
    )
    .await;

    // A ban on node a puts gus, on node b, out at once and keeps him out there.
    let since = Instant::now();
    act(
        &mut olive,
        "den",
        RoomAction::Ban {
            target: BanTarget::Name("gus".into()),
            for_secs: None,
            reason: "spam".into(),
        },
    )
    .await;
    let took = parted(&mut gus, "den", since).await;
    println!("a ban on node a put a person on node b out after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");
    gus.send(ClientFrame::Join {
        room: "den".into(),
        backlog: Backlog::None,
    })
    .await;
    assert_eq!(
        error_of(answer(&mut gus).await).0,
        ErrorKind::BannedFromRoom
    );

    // The moderator on node b kicks tom, on node a.
    let since = Instant::now();
    act(
        &mut mona,
        "den",
        RoomAction::Kick {
            user: "tom".into(),
            reason: "off topic".into(),
        },
    )
    .await;
    let took = parted(&mut tom, "den", since).await;
    println!("a kick on node b put a person on node a out after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");

    // A mute on node a holds on node b (of mona, no moderator any more: moderators are
    // never muted).
    tom.join("den").await;
    act(
        &mut olive,
        "den",
        RoomAction::Demote {
            user: "mona".into(),
        },
    )
    .await;
    let since = Instant::now();
    act(
        &mut olive,
        "den",
        RoomAction::Mute {
            user: "mona".into(),
            for_secs: Some(60),
            reason: String::new(),
        },
    )
    .await;
    let took = loop {
        match mona_refused(&mut mona).await {
            Some(kind) => {
                assert_eq!(kind, ErrorKind::Muted);
                break since.elapsed();
            }
            None => assert!(
                since.elapsed() < ACROSS_NODES,
                "the mute never held on node b"
            ),
        }
    };
    println!("a mute on node a held on node b after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");

    // A server ban by the operator on node a closes gus on node b.
    let since = Instant::now();
    boss.send(ClientFrame::Operate {
        action: ServerAction::Ban {
            target: BanTarget::Name("gus".into()),
            for_secs: Some(3600),
            reason: "enough".into(),
        },
    })
    .await;
    assert!(matches!(
        answer(&mut boss).await,
        ServerFrame::Enforced { closed: 0 }
    ));
    let took = loop {
        match gus.recv().await {
            ServerFrame::Error { kind, .. } => {
                assert_eq!(kind, ErrorKind::Banned);
                break since.elapsed();
            }
            _ => continue,
        }
    };
    println!("a server ban on node a closed a person on node b after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");
    let mut again = b.connect().await;
    assert_eq!(error_of(again.hello("GUS").await).0, ErrorKind::Banned);

    // The room is the same wherever one asks.
    mona.send(ClientFrame::RoomInfo { room: "den".into() })
        .await;
    match answer(&mut mona).await {
        ServerFrame::RoomInfo { info } => {
            assert_eq!(info.owner.as_deref(), Some("olive"));
            assert!(info.moderators.is_empty());
        }
        other => panic!("expected RoomInfo, got {other:?}"),
    }
}

/// Sends a message from mona to `den`: `Some(kind)` when refused, `None` when it went out
/// (its echo came back).
async fn mona_refused(mona: &mut TestClient) -> Option<ErrorKind> {
    mona.send(ClientFrame::Msg {
        room: "den".into(),
        text: "can I speak?".into(),
    })
    .await;
    match answer(mona).await {
        ServerFrame::Msg { .. } => None,
        other => Some(error_of(other).0),
    }
}

/// A message removed on one node is gone on the other within a second: its members there
/// get `MessageRemoved`, and its history there shows the tombstone and the removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_removed_on_one_node_is_gone_on_the_other_within_a_second() {
    common::logs::capture();
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b")).await;
    let (mut olive, _, _) = opened(&a, register("olive", PASSWORD, "desk")).await;
    let mut ann = b.register_only("ann").await;
    olive.join("den").await;
    ann.join("den").await;
    sees_in_room(&mut olive, "den", "ann").await;
    olive.send(ClientFrame::Claim { room: "den".into() }).await;
    assert!(matches!(
        answer(&mut olive).await,
        ServerFrame::RoomInfo { .. }
    ));
    ann.say_in("den", "a cluster secret").await;
    ann.say_in("den", "a plain hello").await;
    for _ in 0..2 {
        let (_, text) = olive.next_message().await;
        assert!(text.starts_with('a'), "{text}");
    }

    // The owner, on node a, removes ann's first message; ann is on node b.
    let since = Instant::now();
    olive
        .send(ClientFrame::RemoveMessage {
            room: "den".into(),
            seq: 1,
        })
        .await;
    let took = loop {
        match ann.recv().await {
            ServerFrame::MessageRemoved {
                seq, target, by, ..
            } => {
                assert_eq!((seq, target, by.as_str()), (3, 1, "olive"));
                break since.elapsed();
            }
            ServerFrame::Error { kind, detail } => panic!("{kind:?}: {detail}"),
            _ => {}
        }
    };
    println!("a message removed on node a was gone on node b after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");
    assert!(matches!(
        answer(&mut olive).await,
        ServerFrame::MessageRemoved { seq: 3, .. }
    ));

    // Node b reads the room's history with the tombstone and the removal.
    match ann.history("den", Cursor::Latest, 10).await {
        ServerFrame::History { messages, .. } => {
            let read: Vec<(u64, String, PastKind)> = messages
                .into_iter()
                .map(|m| (m.seq, m.text, m.kind))
                .collect();
            assert_eq!(
                read,
                [
                    (1, String::new(), PastKind::Removed { by: "olive".into() }),
                    (2, "a plain hello".into(), PastKind::Message),
                    (3, String::new(), PastKind::Removal { target: 1 }),
                ]
            );
        }
        other => panic!("expected History, got {other:?}"),
    }
}
