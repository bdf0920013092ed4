//! Room moderation over real TCP with a real SQLite file: a claimed room's owner and the
//! moderators it names kick, ban, mute, set the topic and the room's settings, remove
//! messages, and read the room's audit log; server operators ban at the door and suspend
//! accounts. Every refusal is typed and changes nothing; a claimed room keeps its roles,
//! settings and bans across a restart.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chat_proto::moderation::{BanTarget, RoomAction, RoomChange, RoomInfo, ServerAction};
use chat_proto::{Backlog, ClientFrame, Cursor, ErrorKind, LeftReason, PastKind, ServerFrame};
use chat_server::config::Operators;
use chat_server::Config;
use common::accounts::{answer, make_operators, opened, register, sign_in, with_password};
use common::{error_of, history_config, logs, scratch_dir, start_with, TestClient, TestServer};

const PASSWORD: &str = "violet tractor at noon";

/// `room` with three in it, all told that the account olive claimed it: olive, the account
/// `other`, and the guest gus.
async fn claimed_by_olive(
    server: &TestServer,
    room: &str,
    other: &str,
) -> (TestClient, TestClient, TestClient) {
    let mut olive = account(server, "olive").await;
    let mut other = account(server, other).await;
    let mut gus = server.register_only("gus").await;
    for client in [&mut olive, &mut other, &mut gus] {
        client.join(room).await;
    }
    claim(&mut olive, room).await.unwrap();
    change(&mut other).await;
    change(&mut gus).await;
    (olive, other, gus)
}

/// `Moderate{room, action}` from `by`: the room as the action left it, or the error.
async fn act(
    by: &mut TestClient,
    room: &str,
    action: RoomAction,
) -> Result<RoomInfo, (ErrorKind, String)> {
    by.send(ClientFrame::Moderate {
        room: room.into(),
        action,
    })
    .await;
    match answer(by).await {
        ServerFrame::RoomInfo { info } => Ok(info),
        other => Err(error_of(other)),
    }
}

/// `Claim{room}` from `by`.
async fn claim(by: &mut TestClient, room: &str) -> Result<RoomInfo, (ErrorKind, String)> {
    by.send(ClientFrame::Claim { room: room.into() }).await;
    match answer(by).await {
        ServerFrame::RoomInfo { info } => Ok(info),
        other => Err(error_of(other)),
    }
}

/// The next room change `client` hears, skipping presence.
async fn change(client: &mut TestClient) -> (String, RoomChange) {
    loop {
        match client.recv().await {
            ServerFrame::RoomChanged { by, change, .. } => return (by, change),
            ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } => {}
            other => panic!("expected a room change, got {other:?}"),
        }
    }
}

/// An account signed in online, in no room.
async fn account(server: &TestServer, name: &str) -> TestClient {
    opened(server, register(name, PASSWORD, "desk")).await.0
}

/// An account signed in again with its password, in no room.
async fn again(server: &TestServer, name: &str) -> TestClient {
    opened(server, sign_in(name, with_password(PASSWORD, "desk")))
        .await
        .0
}

fn kick(user: &str, reason: &str) -> RoomAction {
    RoomAction::Kick {
        user: user.into(),
        reason: reason.into(),
    }
}

fn ban(target: BanTarget, for_secs: Option<u64>) -> RoomAction {
    RoomAction::Ban {
        target,
        for_secs,
        reason: "spam".into(),
    }
}

/// A config whose operators are `operators`.
fn with_operators(config: &Config, operators: &[&str]) -> Config {
    Config {
        operators: Operators::new(operators),
        ..config.clone()
    }
}

#[tokio::test]
async fn an_owner_and_its_moderators_run_a_room_and_nobody_else_can() {
    logs::capture();
    let dir = scratch_dir("room_moderation_roles");
    let config = history_config(&dir);
    let server = start_with(config.clone()).await;
    let mut olive = account(&server, "olive").await;
    let mut mona = account(&server, "mona").await;
    let mut boss = account(&server, "boss").await;
    make_operators(&[(&server, config.clone(), "rooms_per_user")], &["boss"]).await;
    let mut gus = server.register_only("gus").await;
    for client in [&mut olive, &mut mona, &mut gus] {
        client.join("Den").await;
    }

    // A guest cannot claim; the first account that does owns the room, and it is told.
    let (kind, _) = claim(&mut gus, "den").await.unwrap_err();
    assert_eq!(kind, ErrorKind::NotSignedIn);
    let info = claim(&mut olive, "#DEN").await.unwrap();
    assert_eq!(
        (info.room.as_str(), info.owner.as_deref()),
        ("Den", Some("olive"))
    );
    assert_eq!(
        change(&mut mona).await,
        ("olive".into(), RoomChange::Claimed)
    );
    assert_eq!(
        change(&mut gus).await,
        ("olive".into(), RoomChange::Claimed)
    );
    let (kind, detail) = claim(&mut mona, "den").await.unwrap_err();
    assert_eq!(kind, ErrorKind::RoomClaimed, "{detail}");

    // Nobody but the owner's moderators moderates; the owner makes mona one.
    let (kind, _) = act(&mut mona, "den", kick("gus", "")).await.unwrap_err();
    assert_eq!(kind, ErrorKind::NotPermitted);
    let (kind, _) = act(&mut gus, "den", kick("mona", "")).await.unwrap_err();
    assert_eq!(kind, ErrorKind::NotSignedIn);
    let promote = RoomAction::Promote {
        user: "mona".into(),
    };
    let info = act(&mut olive, "den", promote.clone()).await.unwrap();
    assert_eq!(info.moderators, ["mona"]);
    assert_eq!(
        change(&mut mona).await.1,
        RoomChange::Promoted {
            user: "mona".into()
        }
    );
    change(&mut gus).await;

    // A kick: the room hears it, gus is out (and cannot speak there), and may come back.
    act(&mut mona, "den", kick("GUS", "calm down"))
        .await
        .unwrap();
    let kicked = RoomChange::Kicked {
        user: "GUS".into(),
        reason: "calm down".into(),
    };
    assert_eq!(change(&mut gus).await, ("mona".into(), kicked.clone()));
    assert_eq!(gus.recv().await, ServerFrame::Parted { room: "Den".into() });
    assert_eq!(change(&mut olive).await.1, kicked);
    assert_eq!(
        olive.recv_presence().await,
        common::Presence::Left {
            room: "Den".into(),
            user: "gus".into(),
            reason: LeftReason::Kicked
        }
    );
    gus.say_in("den", "still here?").await;
    assert_eq!(gus.recv_error().await.0, ErrorKind::NotInRoom);
    let (kind, _) = act(&mut mona, "den", kick("gus", "")).await.unwrap_err();
    assert_eq!(
        kind,
        ErrorKind::NoSuchUser,
        "a kick of someone not in the room"
    );
    gus.join("den").await;

    // A ban by name puts gus out and keeps him out, across a new connection too.
    act(&mut mona, "den", ban(BanTarget::Name("gus".into()), None))
        .await
        .unwrap();
    assert!(matches!(
        change(&mut gus).await.1,
        RoomChange::Banned { .. }
    ));
    assert_eq!(gus.recv().await, ServerFrame::Parted { room: "Den".into() });
    gus.send(ClientFrame::Join {
        room: "den".into(),
        backlog: Backlog::None,
    })
    .await;
    let (kind, detail) = gus.recv_error().await;
    assert_eq!(kind, ErrorKind::BannedFromRoom);
    assert!(
        detail.contains("mona") && detail.contains("spam"),
        "{detail}"
    );
    gus.send(ClientFrame::Bye).await;
    gus.until_closed().await;
    let mut gus = server.register_only("gus").await;
    gus.send(ClientFrame::Join {
        room: "den".into(),
        backlog: Backlog::None,
    })
    .await;
    assert_eq!(gus.recv_error().await.0, ErrorKind::BannedFromRoom);
    // ... nor read it from outside.
    gus.send(ClientFrame::History {
        room: "den".into(),
        from: Cursor::Latest,
        limit: 10,
    })
    .await;
    assert_eq!(gus.recv_error().await.0, ErrorKind::BannedFromRoom);

    // What cannot mean anything, or aims at the actor or above the actor, changes nothing.
    let refusals = [
        (kick("olive", ""), ErrorKind::NotPermitted),
        (
            ban(BanTarget::Account("mona".into()), None),
            ErrorKind::NotPermitted,
        ),
        (
            ban(BanTarget::Address("127.0.0.0/8".into()), None),
            ErrorKind::NotPermitted,
        ),
        (
            ban(BanTarget::Address("10.0.0.0/33".into()), None),
            ErrorKind::InvalidAction,
        ),
        (
            ban(BanTarget::Address("0.0.0.0/0".into()), None),
            ErrorKind::InvalidAction,
        ),
        (
            RoomAction::Unban {
                target: BanTarget::Name("nobody".into()),
            },
            ErrorKind::InvalidAction,
        ),
        (
            ban(BanTarget::Name("x".into()), Some(0)),
            ErrorKind::InvalidAction,
        ),
        (
            ban(BanTarget::Name("boss".into()), None),
            ErrorKind::NotPermitted,
        ),
        (
            RoomAction::Topic {
                topic: "two\nlines".into(),
            },
            ErrorKind::InvalidAction,
        ),
        (promote.clone(), ErrorKind::NotPermitted),
    ];
    for (action, expected) in refusals {
        let (kind, detail) = act(&mut mona, "den", action.clone()).await.unwrap_err();
        assert_eq!(kind, expected, "{action:?}: {detail}");
    }

    // Taken from the role, mona loses its powers at once.
    act(
        &mut olive,
        "den",
        RoomAction::Demote {
            user: "mona".into(),
        },
    )
    .await
    .unwrap();
    let (kind, _) = act(&mut mona, "den", ban(BanTarget::Name("zed".into()), None))
        .await
        .unwrap_err();
    assert_eq!(kind, ErrorKind::NotPermitted);

    // The audit log: the owner reads the room's, newest first; others may not.
    olive
        .send(ClientFrame::ModLog {
            room: Some("den".into()),
            limit: 100,
        })
        .await;
    let ServerFrame::ModLog { entries } = answer(&mut olive).await else {
        panic!("expected the log");
    };
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["demote", "ban", "kick", "promote", "claim"]);
    assert_eq!(entries[1].actor, "mona");
    assert_eq!(entries[1].target, "name gus");
    assert_eq!(entries[1].reason, "spam");
    mona.send(ClientFrame::ModLog {
        room: Some("den".into()),
        limit: 10,
    })
    .await;
    assert_eq!(error_of(answer(&mut mona).await).0, ErrorKind::NotPermitted);
    logs::wait_for("the ban logged with its actor and target", |line| {
        line.contains("Moderation in #Den by mona") && line.contains("name gus")
    })
    .await;

    // An operator moderates any room, claimed or not, and the server's log holds what
    // operators do server-wide.
    act(&mut boss, "den", RoomAction::Slow { secs: 5 })
        .await
        .unwrap();
    boss.send(ClientFrame::ModLog {
        room: None,
        limit: 10,
    })
    .await;
    assert!(matches!(
        answer(&mut boss).await,
        ServerFrame::ModLog { .. }
    ));

    // A restart keeps the claimed room, empty or not: owner, settings, bans.
    drop((olive, mona, boss, gus));
    server.shutdown().await;
    let server = start_with(with_operators(&config, &["boss"])).await;
    let mut olive = again(&server, "olive").await;
    olive
        .send(ClientFrame::RoomInfo { room: "den".into() })
        .await;
    let ServerFrame::RoomInfo { info } = answer(&mut olive).await else {
        panic!("expected the room");
    };
    assert_eq!(info.owner.as_deref(), Some("olive"));
    assert_eq!(info.slow_secs, 5);
    assert_eq!(info.bans.len(), 1, "{info:?}");
    let mut gus = server.register_only("gus").await;
    gus.send(ClientFrame::Join {
        room: "den".into(),
        backlog: Backlog::None,
    })
    .await;
    assert_eq!(gus.recv_error().await.0, ErrorKind::BannedFromRoom);
    server.shutdown().await;
}

#[tokio::test]
async fn mutes_slow_mode_accounts_only_and_a_ban_that_expires() {
    logs::capture();
    let dir = scratch_dir("room_moderation_settings");
    let server = start_with(history_config(&dir)).await;
    let (mut olive, mut ann, mut gus) = claimed_by_olive(&server, "quiet", "ann").await;

    // The topic reaches everyone.
    act(
        &mut olive,
        "quiet",
        RoomAction::Topic {
            topic: "Be kind".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        change(&mut gus).await.1,
        RoomChange::Topic {
            topic: "Be kind".into()
        }
    );
    change(&mut ann).await;

    // Muted, gus reads but cannot speak; unmuted, he can.
    act(
        &mut olive,
        "quiet",
        RoomAction::Mute {
            user: "gus".into(),
            for_secs: Some(3600),
            reason: "cool off".into(),
        },
    )
    .await
    .unwrap();
    change(&mut gus).await;
    change(&mut ann).await;
    gus.say_in("quiet", "let me talk").await;
    let (kind, detail) = gus.recv_error().await;
    assert_eq!(kind, ErrorKind::Muted);
    assert!(detail.contains("cool off"), "{detail}");
    olive.say_in("quiet", "hello all").await;
    olive.next_message().await;
    assert_eq!(
        ann.next_message().await.1,
        "hello all",
        "gus's words reached nobody"
    );
    assert_eq!(
        gus.next_message().await.1,
        "hello all",
        "a muted person still reads"
    );
    act(
        &mut olive,
        "quiet",
        RoomAction::Unmute { user: "GUS".into() },
    )
    .await
    .unwrap();
    change(&mut ann).await;
    change(&mut gus).await;
    gus.say_in("quiet", "thanks").await;
    assert_eq!(ann.next_message().await.1, "thanks");
    gus.next_message().await;
    olive.next_message().await;

    // Slow mode: one message per minute per person, the owner exempt.
    act(&mut olive, "quiet", RoomAction::Slow { secs: 60 })
        .await
        .unwrap();
    change(&mut ann).await;
    change(&mut gus).await;
    ann.say_in("quiet", "one").await;
    assert_eq!(gus.next_message().await.1, "one");
    ann.next_message().await;
    olive.next_message().await;
    ann.say_in("quiet", "two").await;
    let (kind, detail) = ann.recv_error().await;
    assert_eq!(kind, ErrorKind::SlowMode, "{detail}");
    olive.say_in("quiet", "owner speaks").await;
    olive.say_in("quiet", "and again").await;
    assert_eq!(gus.next_message().await.1, "owner speaks");
    assert_eq!(gus.next_message().await.1, "and again");
    for client in [&mut olive, &mut ann] {
        client.next_message().await;
        client.next_message().await;
    }

    // Accounts only: a guest cannot join; the one inside stays.
    act(&mut olive, "quiet", RoomAction::RegisteredOnly { on: true })
        .await
        .unwrap();
    let mut guy = server.register_only("guy").await;
    guy.send(ClientFrame::Join {
        room: "quiet".into(),
        backlog: Backlog::None,
    })
    .await;
    let (kind, _) = guy.recv_error().await;
    assert_eq!(kind, ErrorKind::RegisteredOnly);

    // A ban for one second holds, then lifts by itself.
    let banned_at = Instant::now();
    act(
        &mut olive,
        "quiet",
        ban(BanTarget::Account("ann".into()), Some(1)),
    )
    .await
    .unwrap();
    loop {
        ann.send(ClientFrame::Join {
            room: "quiet".into(),
            backlog: Backlog::None,
        })
        .await;
        match answer(&mut ann).await {
            ServerFrame::Joined { .. } => break,
            ServerFrame::Parted { .. } => continue,
            other => {
                let (kind, _) = error_of(other);
                assert_eq!(kind, ErrorKind::BannedFromRoom);
                assert!(
                    banned_at.elapsed() < Duration::from_secs(5),
                    "the ban never lifted"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let held = banned_at.elapsed();
    assert!(held >= Duration::from_millis(900), "lifted after {held:?}");
    println!("a one-second ban held {held:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_removed_message_is_gone_live_in_history_in_a_catch_up_and_from_the_file() {
    logs::capture();
    let dir = scratch_dir("room_moderation_removal");
    let server = start_with(history_config(&dir)).await;
    let mut olive = account(&server, "olive").await;
    let mut ann = server.register_only("ann").await;
    let mut bob = server.register_only("bob").await;
    for client in [&mut olive, &mut ann, &mut bob] {
        client.join("news").await;
    }
    claim(&mut olive, "news").await.unwrap();
    change(&mut ann).await;
    change(&mut bob).await;
    ann.say_in("news", "my secret sauce recipe").await;
    bob.say_in("news", "hello").await;
    for client in [&mut olive, &mut ann, &mut bob] {
        client.next_message().await;
        client.next_message().await;
    }
    let remove = |seq| ClientFrame::RemoveMessage {
        room: "news".into(),
        seq,
    };

    // One's own message: everyone sees it go, as the log's next seq.
    ann.send(remove(1)).await;
    let gone = ServerFrame::MessageRemoved {
        room: "news".into(),
        seq: 3,
        target: 1,
        by: "ann".into(),
        at: 0,
    };
    let same = |frame: ServerFrame| match frame {
        ServerFrame::MessageRemoved { at, .. } => {
            assert!(at > 0);
            ServerFrame::MessageRemoved {
                room: "news".into(),
                seq: 3,
                target: 1,
                by: "ann".into(),
                at: 0,
            }
        }
        other => other,
    };
    for client in [&mut olive, &mut ann, &mut bob] {
        assert_eq!(same(client.recv().await), gone);
    }

    // Not someone else's (unless a moderator), not twice, not a removal.
    ann.send(remove(2)).await;
    assert_eq!(ann.recv_error().await.0, ErrorKind::NotPermitted);
    for seq in [1, 3, 99] {
        bob.send(remove(seq)).await;
        assert_eq!(
            bob.recv_error().await.0,
            ErrorKind::NoSuchMessage,
            "message {seq}"
        );
    }
    olive.send(remove(2)).await;
    for client in [&mut olive, &mut ann, &mut bob] {
        assert!(matches!(
            client.recv().await,
            ServerFrame::MessageRemoved {
                seq: 4,
                target: 2,
                ..
            }
        ));
    }

    // History: tombstones without text in place, then the removals themselves.
    let ServerFrame::History { messages, .. } = bob.history("news", Cursor::Latest, 10).await
    else {
        panic!("expected a page");
    };
    let kinds: Vec<(u64, &str, &str, PastKind)> = messages
        .iter()
        .map(|m| (m.seq, m.from.as_str(), m.text.as_str(), m.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, "ann", "", PastKind::Removed { by: "ann".into() }),
            (2, "bob", "", PastKind::Removed { by: "olive".into() }),
            (3, "ann", "", PastKind::Removal { target: 1 }),
            (4, "olive", "", PastKind::Removal { target: 2 }),
        ]
    );

    // A catch-up after seq 2 replays both removals exactly.
    let mut carol = server.register_only("carol").await;
    let (_, backlog) = carol.join_with("news", Backlog::After(2)).await;
    let ServerFrame::History { messages, .. } = backlog else {
        unreachable!()
    };
    let replayed: Vec<(u64, PastKind)> = messages.into_iter().map(|m| (m.seq, m.kind)).collect();
    assert_eq!(
        replayed,
        [
            (3, PastKind::Removal { target: 1 }),
            (4, PastKind::Removal { target: 2 })
        ]
    );

    // The text is gone from the file, write-ahead log included; the audit log has it.
    for file in ["chat.db", "chat.db-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(11).any(|w| w == b"secret sauc"),
            "{file} still holds the removed text"
        );
    }
    olive
        .send(ClientFrame::ModLog {
            room: Some("news".into()),
            limit: 5,
        })
        .await;
    let ServerFrame::ModLog { entries } = answer(&mut olive).await else {
        panic!("expected the log");
    };
    assert!(
        entries
            .iter()
            .any(|e| e.action == "remove" && e.target == "message 2" && e.actor == "olive"),
        "{entries:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_operator_bans_at_the_door_and_suspends_an_account() {
    logs::capture();
    let dir = scratch_dir("room_moderation_server");
    let config = history_config(&dir);
    let server = start_with(config.clone()).await;
    let mut boss = account(&server, "boss").await;
    let mut sam = account(&server, "sam").await;
    make_operators(&[(&server, config.clone(), "max_rooms")], &["boss"]).await;
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let mut far = TestClient::connect_from(server.addr, other).await;
    assert!(matches!(
        far.hello("far").await,
        ServerFrame::Welcome { .. }
    ));
    let operate = |action| ClientFrame::Operate { action };

    // Only an operator acts server-wide.
    sam.send(operate(ServerAction::Ban {
        target: BanTarget::Address("127.0.0.2".into()),
        for_secs: None,
        reason: String::new(),
    }))
    .await;
    assert_eq!(sam.recv_error().await.0, ErrorKind::NotPermitted);

    // A ban of an address closes who is on from it, and refuses it at the door.
    boss.send(operate(ServerAction::Ban {
        target: BanTarget::Address("127.0.0.2/32".into()),
        for_secs: None,
        reason: "abuse".into(),
    }))
    .await;
    assert_eq!(answer(&mut boss).await, ServerFrame::Enforced { closed: 1 });
    let (kind, detail) = error_of(far.recv().await);
    assert_eq!(kind, ErrorKind::Banned);
    assert!(detail.contains("abuse"), "{detail}");
    far.until_closed().await;
    let mut far = TestClient::connect_from(server.addr, other).await;
    let (kind, _) = error_of(far.hello("another").await);
    assert_eq!(kind, ErrorKind::Banned);
    far.until_closed().await;
    // A banned address makes no account either.
    let mut far = TestClient::connect_from(server.addr, other).await;
    far.send(register("newcomer", PASSWORD, "desk")).await;
    assert_eq!(error_of(far.recv().await).0, ErrorKind::Banned);
    far.until_closed().await;
    let mut near = server.register_only("near").await;
    near.send(ClientFrame::Ping).await;
    assert_eq!(near.recv().await, ServerFrame::Pong);

    // A suspension ends the account's connection and refuses its password, until lifted.
    boss.send(operate(ServerAction::Suspend {
        account: "sam".into(),
        reason: "a break".into(),
    }))
    .await;
    assert!(matches!(
        answer(&mut boss).await,
        ServerFrame::Enforced { closed: 1 }
    ));
    let (kind, _) = error_of(sam.recv().await);
    assert_eq!(kind, ErrorKind::Suspended);
    sam.until_closed().await;
    let mut sam = server.connect().await;
    sam.send(sign_in("sam", with_password(PASSWORD, "desk")))
        .await;
    let (kind, detail) = error_of(sam.recv().await);
    assert_eq!(kind, ErrorKind::Suspended, "{detail}");
    // Not even to manage the account.
    let mut manager = server.connect().await;
    manager
        .send(common::accounts::manage(
            "sam",
            with_password(PASSWORD, "desk"),
        ))
        .await;
    assert_eq!(error_of(manager.recv().await).0, ErrorKind::Suspended);
    boss.send(operate(ServerAction::Unsuspend {
        account: "SAM".into(),
    }))
    .await;
    assert!(matches!(
        answer(&mut boss).await,
        ServerFrame::Enforced { .. }
    ));
    again(&server, "sam").await;

    // An operator cannot ban itself; the log holds every action.
    boss.send(operate(ServerAction::Ban {
        target: BanTarget::Account("boss".into()),
        for_secs: None,
        reason: String::new(),
    }))
    .await;
    assert_eq!(boss.recv_error().await.0, ErrorKind::NotPermitted);
    boss.send(ClientFrame::ModLog {
        room: None,
        limit: 10,
    })
    .await;
    let ServerFrame::ModLog { entries } = answer(&mut boss).await else {
        panic!("expected the log");
    };
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["unsuspend", "suspend", "ban"]);
    server.shutdown().await;
}

#[tokio::test]
async fn an_address_ban_spares_the_rooms_owner_and_a_ban_is_lifted_in_any_case() {
    logs::capture();
    let dir = scratch_dir("room_moderation_address");
    let server = start_with(history_config(&dir)).await;
    let far: IpAddr = "127.0.0.2".parse().unwrap();
    // The owner and a guest share an address; the moderator acts from another.
    let mut olive = TestClient::connect_from(server.addr, far).await;
    olive.send(register("olive", PASSWORD, "desk")).await;
    common::accounts::signed_in(&mut olive).await;
    let mut mona = account(&server, "mona").await;
    let mut gus = TestClient::connect_from(server.addr, far).await;
    assert!(matches!(
        gus.hello("gus").await,
        ServerFrame::Welcome { .. }
    ));
    for client in [&mut olive, &mut mona, &mut gus] {
        client.join("den").await;
    }
    claim(&mut olive, "den").await.unwrap();
    act(
        &mut olive,
        "den",
        RoomAction::Promote {
            user: "mona".into(),
        },
    )
    .await
    .unwrap();
    let info = act(
        &mut mona,
        "den",
        ban(BanTarget::Address("127.0.0.3/31".into()), None),
    )
    .await
    .unwrap();
    // Kept one way: the network as written canonically.
    assert_eq!(
        info.bans[0].target,
        BanTarget::Address("127.0.0.2/31".into())
    );
    loop {
        if let ServerFrame::Parted { room } = gus.recv().await {
            assert_eq!(room, "den");
            break;
        }
    }
    // The owner, on the same address, is still in and still speaks.
    olive.say_in("den", "still here").await;
    loop {
        match olive.recv().await {
            ServerFrame::Msg { text, .. } => {
                assert_eq!(text, "still here");
                break;
            }
            ServerFrame::Parted { .. } => panic!("the owner was put out by an address ban"),
            _ => {}
        }
    }
    assert_eq!(mona.next_message().await.1, "still here");
    // Lifted as shown, whatever was typed.
    act(
        &mut mona,
        "den",
        RoomAction::Unban {
            target: BanTarget::Address("127.0.0.3/31".into()),
        },
    )
    .await
    .unwrap();
    act(
        &mut mona,
        "den",
        ban(BanTarget::Account("Troll".into()), None),
    )
    .await
    .unwrap();
    let info = act(
        &mut mona,
        "den",
        RoomAction::Unban {
            target: BanTarget::Account("tROLL".into()),
        },
    )
    .await
    .unwrap();
    assert!(info.bans.is_empty(), "{info:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_role_belongs_to_the_account_not_to_whoever_takes_its_name_later() {
    logs::capture();
    let dir = scratch_dir("room_moderation_account_roles");
    let server = start_with(history_config(&dir)).await;
    let (mut olive, mut mona, _gus) = claimed_by_olive(&server, "attic", "mona").await;
    act(
        &mut olive,
        "attic",
        RoomAction::Promote {
            user: "mona".into(),
        },
    )
    .await
    .unwrap();
    // A promotion names an account: a guest's name is none.
    let (kind, _) = act(
        &mut olive,
        "attic",
        RoomAction::Promote { user: "gus".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(kind, ErrorKind::InvalidAction);

    // Mona deletes her account and leaves; someone else registers the name.
    mona.send(ClientFrame::DeleteAccount {
        password: chat_proto::Secret::new(PASSWORD),
    })
    .await;
    assert_eq!(answer(&mut mona).await, ServerFrame::AccountDeleted);
    mona.send(ClientFrame::Bye).await;
    mona.until_closed().await;
    let mut newcomer = account(&server, "MONA").await;
    newcomer.join("attic").await;
    let (kind, detail) = act(&mut newcomer, "attic", kick("gus", ""))
        .await
        .unwrap_err();
    assert_eq!(kind, ErrorKind::NotPermitted, "{detail}");
    // ... nor is it beyond the moderators, and it can be made one anew.
    let mut ted = account(&server, "ted").await;
    ted.join("attic").await;
    act(
        &mut olive,
        "attic",
        RoomAction::Promote { user: "ted".into() },
    )
    .await
    .unwrap();
    let muted = RoomAction::Mute {
        user: "mona".into(),
        for_secs: Some(60),
        reason: String::new(),
    };
    act(&mut ted, "attic", muted).await.unwrap();
    act(
        &mut olive,
        "attic",
        RoomAction::Promote {
            user: "mona".into(),
        },
    )
    .await
    .unwrap();

    // A room whose owner's account is gone may be claimed again.
    olive
        .send(ClientFrame::DeleteAccount {
            password: chat_proto::Secret::new(PASSWORD),
        })
        .await;
    assert_eq!(answer(&mut olive).await, ServerFrame::AccountDeleted);
    let info = claim(&mut ted, "attic").await.unwrap();
    assert_eq!(info.owner.as_deref(), Some("ted"));
    server.shutdown().await;
}
