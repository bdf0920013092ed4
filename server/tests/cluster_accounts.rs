//! Accounts across the cluster: two nodes joined through one real nats-server (with
//! JetStream) share one accounts bucket. An account registered on one node signs in on the
//! other, its name is refused to guests on both, and a session revoked, a password changed
//! or an account deleted on one node closes the connections it ends on the other within a
//! second (measured and printed).

mod common;

use std::time::{Duration, Instant};

use chat_proto::{ClientFrame, Credential, ErrorKind, Revocation, Secret, ServerFrame};
use common::accounts::operator;
use common::accounts::{managing, opened, refused, register, sign_in, with_password};
use common::nats::NatsServer;
use common::{error_of, scratch_dir, start_with, TestClient, TestServer};

const PASSWORD: &str = "violet tractor at noon";

/// How soon a session ended on one node must be closed on the other.
const ACROSS_NODES: Duration = Duration::from_secs(1);

/// Two nodes of the cluster behind `nats`, each serving once it has joined.
async fn two_nodes(nats: &NatsServer) -> (TestServer, TestServer) {
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b")).await;
    (a, b)
}

/// Waits for `client`'s `SessionEnded` error after `since`, skipping what came before it
/// (presence, notices); how long it took.
async fn ended(client: &mut TestClient, since: Instant) -> Duration {
    loop {
        match client.recv().await {
            ServerFrame::Error {
                kind: ErrorKind::SessionEnded,
                ..
            } => return since.elapsed(),
            ServerFrame::Error { kind, detail } => {
                panic!("expected SessionEnded, got {kind:?}: {detail}")
            }
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_on_one_node_signed_in_on_the_other_and_revoked_from_the_first_within_a_second()
{
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;

    let (mut laptop, laptop_session, token) = opened(&a, register("Ann", PASSWORD, "laptop")).await;
    let token = token.expect("a registration hands out a token");

    // The name is the account's on every node, for guests and registrations alike.
    let mut guest = b.connect().await;
    let (kind, _) = error_of(guest.hello("aNN").await);
    assert_eq!(kind, ErrorKind::NameRegistered);
    let (kind, _, _) = refused(&b, register("ANN", "another long one", "tablet")).await;
    assert_eq!(kind, ErrorKind::NameRegistered);

    // Off on node a; on with the password on node b.
    laptop.send(ClientFrame::Bye).await;
    laptop.until_closed().await;
    let (mut phone, phone_session, phone_token) =
        opened(&b, sign_in("ann", with_password(PASSWORD, "phone"))).await;
    assert_ne!(phone_session, laptop_session);
    let phone_token = phone_token.expect("a password sign-in hands out a token");

    // The laptop's token manages the account on node a, and sees both devices.
    let (mut manager, _, _) = managing(&a, "ann", Credential::Token(token.clone())).await;
    manager.send(ClientFrame::ListSessions).await;
    match manager.recv().await {
        ServerFrame::Sessions { sessions } => {
            let mut ids: Vec<u64> = sessions.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            let mut expected = vec![laptop_session, phone_session];
            expected.sort_unstable();
            assert_eq!(ids, expected, "{sessions:?}");
        }
        other => panic!("expected Sessions, got {other:?}"),
    }

    // Revoked on node a: the phone's connection on node b is closed.
    let since = Instant::now();
    manager
        .send(ClientFrame::Revoke {
            which: Revocation::One(phone_session),
        })
        .await;
    assert!(matches!(
        manager.recv().await,
        ServerFrame::Revoked { count: 1 }
    ));
    let took = ended(&mut phone, since).await;
    println!("a session revoked on node a was closed on node b after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");
    phone.until_closed().await;

    // Its token signs nobody in on either node; the laptop's still does, on node b.
    for node in [&a, &b] {
        let (kind, _, _) =
            refused(node, sign_in("ann", Credential::Token(phone_token.clone()))).await;
        assert_eq!(kind, ErrorKind::SessionEnded);
    }
    let (_, resumed, fresh) = opened(&b, sign_in("Ann", Credential::Token(token))).await;
    assert_eq!(resumed, laptop_session);
    assert!(fresh.is_none(), "a token sign-in hands out no new token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_and_a_deletion_on_one_node_end_the_sessions_on_the_other() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;

    let (mut desk, _, token) = opened(&a, register("bob", PASSWORD, "desk")).await;
    let token = token.expect("a registration hands out a token");
    desk.send(ClientFrame::Bye).await;
    desk.until_closed().await;
    let (mut online, _, _) = opened(&b, sign_in("bob", with_password(PASSWORD, "phone"))).await;

    // A new password, set on node a, ends the phone's session on node b.
    let (mut manager, _, _) = managing(&a, "bob", Credential::Token(token)).await;
    let since = Instant::now();
    manager
        .send(ClientFrame::ChangePassword {
            old: Secret::new(PASSWORD),
            new: Secret::new("a brand new secret"),
        })
        .await;
    assert!(matches!(
        manager.recv().await,
        ServerFrame::PasswordChanged { ended: 1 }
    ));
    let took = ended(&mut online, since).await;
    println!("a password changed on node a closed a session on node b after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");

    // The old password signs in nowhere; the new one signs in on node b.
    let (kind, _, _) = refused(&b, sign_in("bob", with_password(PASSWORD, "tablet"))).await;
    assert_eq!(kind, ErrorKind::WrongPassword);
    let (mut tablet, _, _) = opened(
        &b,
        sign_in("bob", with_password("a brand new secret", "tablet")),
    )
    .await;

    // Deleted on node a: the tablet on node b is closed and the name is free there.
    let since = Instant::now();
    manager
        .send(ClientFrame::DeleteAccount {
            password: Secret::new("a brand new secret"),
        })
        .await;
    assert!(matches!(manager.recv().await, ServerFrame::AccountDeleted));
    let took = ended(&mut tablet, since).await;
    println!("an account deleted on node a closed its session on node b after {took:?}");
    assert!(took < ACROSS_NODES, "took {took:?}");
    tablet.until_closed().await;
    let mut guest = b.connect().await;
    match guest.hello("Bob").await {
        ServerFrame::Welcome { username, .. } => assert_eq!(username, "Bob"),
        other => panic!("a deleted account's name is free, got {other:?}"),
    }
}

/// How many times the registration race is run: each trial a fresh name registered on both
/// nodes at the same moment.
const RACE_TRIALS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_registering_one_name_on_two_nodes_at_once_exactly_one_gets_it() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;
    for trial in 0..RACE_TRIALS {
        let name = format!("race{trial}");
        let (mut on_a, mut on_b) = (a.connect().await, b.connect().await);
        let (password_a, password_b) = (format!("{PASSWORD} a"), format!("{PASSWORD} b"));
        on_a.send(register(&name, &password_a, "a")).await;
        on_b.send(register(&name, &password_b, "b")).await;
        let (answer_a, answer_b) = tokio::join!(on_a.recv(), on_b.recv());
        let won: Vec<&str> = [(&answer_a, "a"), (&answer_b, "b")]
            .iter()
            .filter(|(answer, _)| matches!(answer, ServerFrame::SignedIn { .. }))
            .map(|(_, node)| *node)
            .collect();
        assert_eq!(
            won.len(),
            1,
            "trial {trial}: exactly one registration of {name}, got {answer_a:?} and {answer_b:?}"
        );
        let lost = if won[0] == "a" { &answer_b } else { &answer_a };
        assert_eq!(error_of(lost.clone()).0, ErrorKind::NameRegistered);
        // The winner's password is the account's, on both nodes.
        let password = if won[0] == "a" {
            password_a
        } else {
            password_b
        };
        drop((on_a, on_b));
        let (mut manager, _, _) = managing(&b, &name, with_password(&password, "check")).await;
        manager.send(ClientFrame::Bye).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_adds_and_deletes_accounts_in_the_bucket_while_the_nodes_run() {
    let nats = NatsServer::start();
    let (_a, b) = two_nodes(&nats).await;
    let dir = scratch_dir("cluster_accounts_operator");
    std::fs::write(
        dir.join("config.ini"),
        format!("[cluster]\nnats = {}\n", nats.url()),
    )
    .unwrap();

    let (code, out, err) = operator(&dir, &["add", "Cleo", "--password-stdin"], PASSWORD);
    assert_eq!(code, Some(0), "{out}{err}");
    let (mut online, _, _) = opened(&b, sign_in("cleo", with_password(PASSWORD, "phone"))).await;
    let (code, out, err) = operator(&dir, &["list"], "");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("Cleo ") && out.trim_end().ends_with(" 1"),
        "{out}"
    );

    let since = Instant::now();
    let (code, out, err) = operator(&dir, &["delete", "cleo"], "");
    assert_eq!(code, Some(0), "{out}{err}");
    let took = ended(&mut online, since).await;
    println!("an account the operator deleted closed its session on node b after {took:?}");
    online.until_closed().await;
    let (code, _, err) = operator(&dir, &["delete", "cleo"], "");
    assert_eq!(code, Some(1), "a second delete finds no account: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_on_one_node_disconnects_a_person_on_the_other_within_a_second() {
    common::logs::capture();
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;
    let (mut boss, _, _) = opened(&a, register("boss", PASSWORD, "desk")).await;
    // The role, given by a reload of each node once the account exists; each reload also
    // changes a limit of its own, so that its line tells which node it was.
    common::accounts::make_operators(
        &[
            (&a, nats.node_config("a"), "rooms_per_user"),
            (&b, nats.node_config("b"), "max_rooms"),
        ],
        &["boss"],
    )
    .await;
    let mut troll = b.register("troll").await;
    let mut carol = b.register("carol").await;
    troll.recv_presence().await;

    let since = Instant::now();
    boss.send(ClientFrame::Disconnect {
        user: "Troll".into(),
        reason: "spam".into(),
    })
    .await;
    let (kind, detail) = error_of(troll.recv().await);
    let took = since.elapsed();
    println!("an operator on node a disconnected a person on node b after {took:?}");
    assert_eq!(kind, ErrorKind::Removed);
    assert!(detail.contains("boss: spam"), "{detail}");
    assert!(took < ACROSS_NODES, "took {took:?}");
    match boss.recv().await {
        ServerFrame::Disconnected { user } => assert_eq!(user, "troll"),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert_eq!(
        carol.recv_presence().await,
        common::left("troll", chat_proto::LeftReason::Removed)
    );
    troll.until_closed().await;

    // Nobody of that name on any node.
    boss.send(ClientFrame::Disconnect {
        user: "nobody".into(),
        reason: String::new(),
    })
    .await;
    assert_eq!(error_of(boss.recv().await).0, ErrorKind::NoSuchUser);
}
