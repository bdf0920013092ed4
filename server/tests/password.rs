//! `[server] password`: `Hello` must carry it. A wrong or missing one gets `AuthFailed` and a
//! close, and a WARN line that never contains the password or the guess.

mod common;

use chat_proto::{ClientFrame, ErrorKind, ServerFrame, PROTOCOL_VERSION};
use chat_server::auth::Password;
use chat_server::Config;
use common::{logs, start_with, test_config, TestServer};

const SECRET: &str = "open sesame";

fn hello_with(name: &str, password: Option<&str>) -> ClientFrame {
    ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        username: name.into(),
        password: password.map(Into::into),
    }
}

async fn protected() -> TestServer {
    start_with(Config {
        password: Some(Password::new(SECRET)),
        ..test_config()
    })
    .await
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
