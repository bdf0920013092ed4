//! `chat-client whisper`: a private message to one user.

mod common;

use common::{listener, Server};

#[test]
fn whisper_reaches_its_target_only() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--count", "1"]);
    let mut carol = listener(&server, "carol", &[]);
    server
        .chat("alice", &["whisper", "BOB", "psst"])
        .expect_code(0);
    let seen = bob.finish().expect_code(0);
    // bob hears carol join lobby, then the whisper.
    assert_eq!(
        seen.stdout, "#lobby * carol joined\n[whisper] alice -> bob: psst\n",
        "{seen:#?}"
    );
    // Then a message to lobby: everything carol saw before it are notices, no whisper.
    server.chat("alice", &["send", "after"]).expect_code(0);
    let mut before = Vec::new();
    loop {
        let line = carol.stdout.next().expect("carol is still listening");
        if line == "#lobby alice: after" {
            break;
        }
        before.push(line);
    }
    assert!(before.iter().all(|l| common::is_notice(l)), "{before:?}");
    assert!(
        before.contains(&"#lobby * bob left (quit)".to_owned()),
        "{before:?}"
    );
}

#[test]
fn whisper_to_a_missing_user_exits_1_with_a_clear_message() {
    let server = Server::start();
    let out = server
        .chat("alice", &["whisper", "nobody", "hello?"])
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("nobody"), "{out:#?}");
    assert!(out.stderr.contains("chat-client users"), "{out:#?}");
}
