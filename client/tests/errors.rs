//! Failures: one line on stderr saying what went wrong and what to try, the right exit
//! status, never a panic.

mod common;

use common::{dead_port, listener, run, Server, CLIENT};
use std::process::Command;

#[test]
fn server_down_exits_1_with_a_clear_message_for_every_subcommand() {
    let port = dead_port().to_string();
    for args in [
        &["send", "hi"][..],
        &["send", "-"],
        &["whisper", "bob", "hi"],
        &["users"],
        &["listen"],
        &["repl"],
    ] {
        let out = run(
            Command::new(CLIENT)
                .args(["--host", "127.0.0.1", "--port", &port, "--name", "alice"])
                .args(args),
            "",
        )
        .expect_code(1)
        .expect_one_error_line();
        assert!(
            out.stderr
                .starts_with(&format!("error: cannot connect to 127.0.0.1:{port}: ")),
            "{args:?}: {out:#?}"
        );
        assert!(out.stderr.contains("is chat-server running?"), "{out:#?}");
    }
}

#[test]
fn a_taken_name_exits_1_and_says_how_to_pick_another() {
    let mut server = Server::start();
    let _bob = listener(&mut server, "bob", &[]);
    let out = server
        .chat("Bob", &["send", "hi"])
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("taken"), "{out:#?}");
    assert!(out.stderr.contains("--name"), "{out:#?}");
}

#[test]
fn usage_errors_exit_2() {
    let server = Server::start();
    // No text: clap's own usage error.
    let out = server.chat("alice", &["send"]).expect_code(2);
    assert!(out.stderr.contains("Usage"), "{out:#?}");
    // A misused command inside the text.
    let out = server
        .chat("alice", &["send", "/whisper bob"])
        .expect_code(2)
        .expect_one_error_line();
    assert_eq!(out.stderr, "error: usage: /whisper <user> <message>\n");
    // A name the server would refuse.
    let out = server
        .chat("no spaces", &["users"])
        .expect_code(2)
        .expect_one_error_line();
    assert!(out.stderr.contains("\"no spaces\""), "{out:#?}");
}

#[test]
fn without_any_name_the_error_says_how_to_give_one() {
    let out = run(
        Command::new(CLIENT)
            .args(["--port", &dead_port().to_string(), "users"])
            .env_remove("CHAT_NAME")
            .env_remove("USER")
            .env_remove("LOGNAME"),
        "",
    )
    .expect_code(2)
    .expect_one_error_line();
    assert_eq!(
        out.stderr,
        "error: no name to chat under: pass --name NAME or set CHAT_NAME\n"
    );
}

#[test]
fn a_bad_config_file_is_named_in_the_error() {
    let server = Server::start();
    std::fs::write(server.dir().join("bad.ini"), "[server]\nport = lots\n").unwrap();
    let out = run(
        Command::new(CLIENT)
            .current_dir(server.dir())
            .args(["--config", "bad.ini", "--name", "alice", "users"]),
        "",
    )
    .expect_code(2)
    .expect_one_error_line();
    assert_eq!(
        out.stderr,
        "error: bad.ini: [server] port = \"lots\": expected a port number (0-65535)\n"
    );
}

#[test]
fn host_and_port_come_from_config_ini_when_no_flag_is_given() {
    let mut server = Server::start();
    std::fs::write(
        server.dir().join("client.ini"),
        format!("[server]\nhost = 127.0.0.1\nport = {}\n", server.port),
    )
    .unwrap();
    let bob = listener(&mut server, "bob", &["--count", "1"]);
    run(
        Command::new(CLIENT)
            .current_dir(server.dir())
            .env("CHAT_NAME", "alice")
            .args(["--config", "client.ini", "send", "via config"]),
        "",
    )
    .expect_code(0);
    assert!(bob.finish().stdout.contains("alice: via config\n"));
}
