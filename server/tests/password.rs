//! `[server] password`: `Hello` must carry it. A wrong or missing one gets `AuthFailed` and a
//! close, and a WARN line that never contains the password or the guess. After three
//! failures from one address, each next check from there waits its turn: 1 s, then 2 s, ...

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use chat_proto::{ClientFrame, ErrorKind, ServerFrame, PROTOCOL_VERSION};
use chat_server::auth::Password;
use chat_server::Config;
use common::{
    error_of, logs, scratch_dir, start_with, test_config, ServerProcess, TestClient, TestServer,
    LOBBY,
};

const SECRET: &str = "open sesame";

fn hello_with(name: &str, password: Option<&str>) -> ClientFrame {
    ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        username: name.into(),
        password: password.map(Into::into),
    }
}

async fn protected() -> TestServer {
    start_with(protected_config()).await
}

/// [`test_config`] with the password [`SECRET`].
fn protected_config() -> Config {
    Config {
        password: Some(Password::new(SECRET)),
        ..test_config()
    }
}

/// Another machine, as far as the server can tell: an address of the loopback range that
/// the tests' own connections (from 127.0.0.1) do not use.
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// What the refusal of a wrong or missing password says.
const WRONG_PASSWORD: &str = "wrong or missing password";

/// Sends `Hello` with `password` from `client` and returns the answer, and when the
/// `Hello` was sent and when the answer came.
async fn attempt(
    client: &mut TestClient,
    name: &str,
    password: Option<&str>,
) -> (ServerFrame, Instant, Instant) {
    let sent = Instant::now();
    client.send(hello_with(name, password)).await;
    let answer = client.recv().await;
    (answer, sent, Instant::now())
}

/// A wrong password from a new connection from 127.0.0.1, which must be refused as wrong;
/// when it was sent and when the refusal came.
async fn fail(server: &TestServer) -> (Instant, Instant) {
    let mut mallory = server.connect().await;
    let (answer, sent, answered) = attempt(&mut mallory, "mallory", Some("guess")).await;
    assert_eq!(
        error_of(answer),
        (ErrorKind::AuthFailed, WRONG_PASSWORD.to_owned())
    );
    (sent, answered)
}

#[tokio::test]
async fn the_right_password_joins() {
    let server = protected().await;
    let mut ann = server.connect().await;
    ann.send(hello_with("ann", Some(SECRET))).await;
    assert!(matches!(ann.recv().await, ServerFrame::Welcome { .. }));
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_or_missing_password_is_refused_closed_and_logged_without_it() {
    logs::capture();
    let server = protected().await;
    let mut ann = server.connect().await;
    ann.send(hello_with("ann", Some(SECRET))).await;
    assert!(matches!(ann.recv().await, ServerFrame::Welcome { .. }));
    let guess = "open sesame!";
    for password in [Some(guess), Some(""), None, Some("OPEN SESAME")] {
        let mut mallory = server.connect().await;
        mallory.send(hello_with("mallory", password)).await;
        match mallory.until_closed().await.as_slice() {
            [ServerFrame::Error {
                kind: ErrorKind::AuthFailed,
                detail,
            }] => assert_eq!(detail, "wrong or missing password"),
            other => panic!("{password:?}: expected AuthFailed then a close, got {other:?}"),
        }
        logs::warned(&mallory.peer(), "wrong or missing password").await;
    }
    let leaks = logs::lines(|l| l.contains("sesame") || l.contains("SESAME"));
    assert!(leaks.is_empty(), "the log shows a password: {leaks:#?}");
    // Nobody registered as mallory, nobody noticed.
    ann.send(ClientFrame::ListUsers).await;
    assert_eq!(
        ann.recv().await,
        ServerFrame::UserList {
            users: vec!["ann".into()]
        }
    );
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_password_setting_any_password_is_ignored() {
    let server = start_with(test_config()).await;
    let mut ann = server.connect().await;
    ann.send(hello_with("ann", Some("whatever"))).await;
    assert!(matches!(ann.recv().await, ServerFrame::Welcome { .. }));
    server.shutdown().await;
}

/// Three wrong passwords from one address are answered at once; after them each check from
/// that address waits longer than the last (the fourth is answered no sooner than 1 s after
/// the third was sent, the fifth 2 s after the fourth), each still refused and logged with
/// the peer. Someone at another address gets in with the right password meanwhile.
#[tokio::test]
async fn after_three_failures_each_wrong_password_from_that_address_waits_longer() {
    logs::capture();
    let server = protected().await;
    let mut attempts = Vec::new();
    for _ in 0..5 {
        attempts.push(fail(&server).await);
    }
    let (third_sent, _) = attempts[2];
    let (fourth_sent, fourth_answered) = attempts[3];
    let (_, fifth_answered) = attempts[4];
    assert!(
        fourth_answered - third_sent >= Duration::from_secs(1),
        "the fourth refusal came {:?} after the third attempt",
        fourth_answered - third_sent
    );
    assert!(
        fifth_answered - fourth_sent >= Duration::from_secs(2),
        "the fifth refusal came {:?} after the fourth attempt",
        fifth_answered - fourth_sent
    );
    logs::wait_for("a WARN line saying 127.0.0.1 is slowed", |l| {
        l.contains(" | WARN | Slowing password attempts from this address after 3 failures")
            && l.contains(" peer=127.0.0.1:")
    })
    .await;

    let mut ann = TestClient::connect_from(server.addr, ELSEWHERE).await;
    let (answer, _, _) = attempt(&mut ann, "ann", Some(SECRET)).await;
    assert!(matches!(answer, ServerFrame::Welcome { .. }), "{answer:?}");
    server.shutdown().await;
}

/// The right password from an address that failed three times waits the same turn a wrong
/// one would, so how soon the answer comes tells nothing about the password; then it gets
/// in.
#[tokio::test]
async fn the_right_password_from_a_slowed_address_waits_its_turn_then_gets_in() {
    let server = protected().await;
    let mut third_sent = None;
    for _ in 0..3 {
        third_sent = Some(fail(&server).await.0);
    }
    let mut ann = server.connect().await;
    let (answer, _, answered) = attempt(&mut ann, "ann", Some(SECRET)).await;
    assert!(matches!(answer, ServerFrame::Welcome { .. }), "{answer:?}");
    let waited = answered - third_sent.unwrap();
    assert!(
        waited >= Duration::from_secs(1),
        "welcomed after {waited:?}"
    );
    ann.join(LOBBY).await;
    server.shutdown().await;
}

/// Two connections from a slowed address waiting for the same turn are checked one at a
/// time: at the turn one is refused as wrong, and the other, whose next turn would come
/// after its handshake deadline, is refused at once without a check, saying when to try
/// again, instead of being held until it times out.
#[tokio::test]
async fn a_turn_past_the_handshake_deadline_is_refused_at_once_saying_when() {
    let server = start_with(Config {
        handshake_timeout: Some(Duration::from_millis(1500)),
        ..protected_config()
    })
    .await;
    for _ in 0..3 {
        fail(&server).await;
    }
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    first.send(hello_with("mallory", Some("guess"))).await;
    second.send(hello_with("mallory", Some("guess"))).await;
    let (first_kind, first_detail) = error_of(first.recv().await);
    let (second_kind, second_detail) = error_of(second.recv().await);
    assert_eq!(
        (first_kind, second_kind),
        (ErrorKind::AuthFailed, ErrorKind::AuthFailed)
    );
    // Which of the two got the turn is up to the scheduler.
    let mut details = [first_detail, second_detail];
    details.sort();
    let [slowed, checked] = &details;
    assert!(
        slowed.starts_with("too many failed passwords from your address: try again in "),
        "{details:?}"
    );
    assert_eq!(checked, WRONG_PASSWORD, "{details:?}");
    server.shutdown().await;
}

/// At TRACE, every line the server logs about wrong, missing and right passwords (the
/// refusals, the slowing, the wait, the welcome) shows neither the guess nor the password.
#[tokio::test]
async fn at_trace_level_no_log_line_shows_a_password_or_a_guess() {
    const RIGHT: &str = "right-quokka-9X2";
    const GUESS: &str = "wrong-zebra-7Q4";
    let dir = scratch_dir("password-at-trace");
    std::fs::write(
        dir.join("config.ini"),
        format!("[server]\nhost = 127.0.0.1\nport = 0\npassword = {RIGHT}\n"),
    )
    .unwrap();
    let mut process = ServerProcess::spawn(&dir, &["--log-level", "trace"]);
    let addr = process.listening_addr();
    // The fourth failure is held for its turn, so the wait is logged too.
    for password in [Some(GUESS), None, Some(GUESS), Some(GUESS)] {
        let mut mallory = TestClient::connect(addr).await;
        let (answer, _, _) = attempt(&mut mallory, "mallory", password).await;
        assert_eq!(error_of(answer).0, ErrorKind::AuthFailed);
        mallory.until_closed().await;
    }
    let mut ann = TestClient::connect(addr).await;
    let (answer, _, _) = attempt(&mut ann, "ann", Some(RIGHT)).await;
    assert!(matches!(answer, ServerFrame::Welcome { .. }), "{answer:?}");
    ann.join(LOBBY).await;
    ann.send(ClientFrame::Bye).await;
    ann.until_closed().await;
    process.wait_for_line("ann left");
    process.terminate();
    let (status, lines) = process.wait();
    assert_eq!(status.code(), Some(0));
    let refusals = lines
        .iter()
        .filter(|l| l.contains(" | WARN | Refused from unregistered client: wrong or missing"))
        .count();
    assert_eq!(refusals, 4, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains(" | DEBUG | ")),
        "the log is not at TRACE: {lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("Password check held")),
        "{lines:#?}"
    );
    let leaks: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(RIGHT) || l.contains(GUESS))
        .collect();
    assert!(leaks.is_empty(), "the log shows a password: {leaks:#?}");
}
