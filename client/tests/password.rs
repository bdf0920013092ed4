//! `--password` and `CHAT_PASSWORD` against a `chat-server` with `[server] password`.

mod common;

use common::{listener, Server};

const CONFIG: &str = "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\npassword = s3cret\n\
                      [limits]\nmessages_per_second = 0\n";

#[test]
fn the_right_password_by_flag_or_environment_gets_in() {
    let server = Server::start_with(CONFIG, 0);
    let bob = listener(&server, "bob", &["--count", "2", "--password", "s3cret"]);
    server
        .chat("alice", &["--password", "s3cret", "send", "by flag"])
        .expect_code(0);
    let out = common::run(
        server
            .client("carol")
            .env("CHAT_PASSWORD", "s3cret")
            .args(["send", "by environment"]),
        "",
    )
    .expect_code(0);
    assert_eq!(out.stderr, "", "{out:#?}");
    let seen = bob.finish().expect_code(0);
    assert_eq!(
        common::chat_lines(&seen.stdout),
        ["#lobby alice: by flag", "#lobby carol: by environment"]
    );
}

#[test]
fn a_wrong_or_missing_password_exits_1_saying_so() {
    let mut server = Server::start_with(CONFIG, 0);
    for args in [&["--password", "guess", "send", "hi"][..], &["send", "hi"]] {
        let out = server
            .chat("alice", args)
            .expect_code(1)
            .expect_one_error_line();
        assert!(
            out.stderr.contains("wrong or missing password")
                && out.stderr.contains("check the server password"),
            "{out:#?}"
        );
    }
    server.log.wait_for("a WARN line about the password", |l| {
        l.contains(" | WARN | ") && l.contains("wrong or missing password")
    });
    let log = server.log_so_far();
    assert!(
        !log.iter()
            .any(|l| l.contains("s3cret") || l.contains("guess")),
        "{log:#?}"
    );
}
