//! Server operators, over real TCP with a real SQLite file: an account `[accounts]
//! operators` names disconnects a person, who is told why and closed while their rooms hear
//! `UserLeft{Removed}`; anyone else is refused with `NotPermitted`, and so is the operator
//! once a reload takes the role away; every action is logged with actor, target and reason.

mod common;

use chat_proto::{ClientFrame, ErrorKind, LeftReason, ServerFrame};
use chat_server::config::Operators;
use chat_server::Config;
use common::accounts::{opened, refused, register};
use common::{error_of, history_config, left, logs, scratch_dir, start_with, TestClient};

const PASSWORD: &str = "violet tractor at noon";

/// Waits for the reload that changed the operators and `also`.
async fn reloaded(also: &str) {
    logs::wait_for("a reload of the operators", |line| {
        line.contains("Reloaded the settings")
            && line.contains("[accounts] operators")
            && line.contains(also)
    })
    .await;
}

/// `Disconnect{user, reason}` from `by`, and what came back.
async fn disconnect(by: &mut TestClient, user: &str, reason: &str) -> ServerFrame {
    by.send(ClientFrame::Disconnect {
        user: user.into(),
        reason: reason.into(),
    })
    .await;
    by.recv().await
}

#[tokio::test]
async fn an_operator_disconnects_a_person_and_nobody_else_can() {
    logs::capture();
    let dir = scratch_dir("moderation_disconnect");
    let config = history_config(&dir);
    let server = start_with(config.clone()).await;
    let (mut boss, _, _) = opened(&server, register("boss", PASSWORD, "desk")).await;
    // The role, given by a reload once the account exists (nobody may register an
    // operator's name: the operator makes it).
    server.reload(Config {
        operators: Operators::new(&["Boss", "root"]),
        rooms_per_user: 7,
        ..config.clone()
    });
    reloaded("[limits] rooms_per_user").await;
    let (kind, detail, _) = refused(&server, register("ROOT", PASSWORD, "x")).await;
    assert_eq!(kind, ErrorKind::RegistrationClosed, "{detail}");
    let (mut dave, _, _) = opened(&server, register("dave", PASSWORD, "phone")).await;
    let mut troll = server.register("troll").await;
    let mut carol = server.register("carol").await;
    troll.recv_presence().await;

    // A guest and an account that is no operator are refused; the troll stays.
    for (by, name) in [(&mut carol, "carol"), (&mut dave, "dave")] {
        let (kind, detail) = error_of(disconnect(by, "troll", "").await);
        assert_eq!(kind, ErrorKind::NotPermitted, "{name}: {detail}");
    }
    troll.send(ClientFrame::Ping).await;
    assert_eq!(troll.recv().await, ServerFrame::Pong);

    // The operator: the troll is told why, in one line, and closed; the room hears it.
    match disconnect(&mut boss, "TROLL", "spam\nand more spam").await {
        ServerFrame::Disconnected { user } => assert_eq!(user, "troll"),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    let (kind, detail) = error_of(troll.recv().await);
    assert_eq!(kind, ErrorKind::Removed);
    assert!(
        detail.contains("boss") && detail.contains("spamand more spam"),
        "{detail}"
    );
    troll.until_closed().await;
    assert_eq!(
        carol.recv_presence().await,
        left("troll", LeftReason::Removed)
    );
    let logged = logs::wait_for("the operator's action", |line| {
        line.contains("Operator boss disconnected troll")
    })
    .await;
    assert!(
        logged.contains("actor=boss")
            && logged.contains("target=troll")
            && logged.contains("reason=spamand more spam"),
        "{logged}"
    );

    // Nobody of that name, and not oneself.
    let (kind, _) = error_of(disconnect(&mut boss, "troll", "").await);
    assert_eq!(kind, ErrorKind::NoSuchUser);
    let (kind, _) = error_of(disconnect(&mut boss, "BOSS", "").await);
    assert_eq!(kind, ErrorKind::NotPermitted);

    // A reload that takes the role away takes it at once.
    server.reload(Config {
        operators: Operators::default(),
        rooms_per_user: 7,
        max_rooms: 7,
        ..config
    });
    reloaded("[limits] max_rooms").await;
    let (kind, _) = error_of(disconnect(&mut boss, "carol", "").await);
    assert_eq!(kind, ErrorKind::NotPermitted);
    carol.send(ClientFrame::Ping).await;
    assert_eq!(carol.recv().await, ServerFrame::Pong);
}
