//! `chat-client whisper`: a private message to one user.

mod common;

use common::{listener, Server};

#[test]
fn whisper_reaches_its_target_only() {
    let mut server = Server::start();
    let bob = listener(&mut server, "bob", &["--count", "1"]);
    let mut carol = listener(&mut server, "carol", &[]);
    server
        .chat("alice", &["whisper", "BOB", "psst"])
        .expect_code(0);
    let seen = bob.finish().expect_code(0);
    assert!(
        seen.stdout.ends_with("[whisper] alice -> bob: psst\n"),
        "{seen:#?}"
    );
    // carol sees alice come and go (and bob leave), and not the whisper.
    carol
        .stdout
        .wait_for("alice joined", |l| l == "* alice joined");
    let mut between = Vec::new();
    loop {
        let line = carol.stdout.next().expect("carol is still listening");
        if line == "* alice left" {
            break;
        }
        between.push(line);
    }
    assert!(between.iter().all(|l| l == "* bob left"), "{between:?}");
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
