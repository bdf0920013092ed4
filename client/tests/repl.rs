//! `chat-client repl` in a pseudo-terminal, as a person uses it.

mod common;

use common::{listener, Server, WAIT};
use expectrl::{ControlCode, Expect};

/// Starts `chat-client repl` as `name` in a pseudo-terminal and waits for its first notice.
fn repl(server: &Server, name: &str) -> expectrl::session::OsSession {
    let mut cmd = server.client(name);
    cmd.arg("repl").env("TERM", "xterm-256color");
    let mut session = expectrl::Session::spawn(cmd).expect("repl starts in a pty");
    session.set_expect_timeout(Some(WAIT));
    session
        .expect(format!("connected to 127.0.0.1:{} as {name}", server.port))
        .expect("the repl says where it is connected");
    session
}

#[test]
fn repl_sends_lists_whispers_and_keeps_a_half_typed_line_intact() {
    let mut server = Server::start();
    let mut bob = listener(&mut server, "bob", &[]);
    let mut alice = repl(&server, "alice");
    alice.expect("* online (2): alice, bob").unwrap();

    alice.send("hello everyone\r").unwrap();
    alice.expect("alice: hello everyone").unwrap();
    bob.stdout
        .wait_for("alice's message", |l| l == "alice: hello everyone");

    alice.send("/list_users\r").unwrap();
    alice.expect("* online (2): alice, bob").unwrap();

    alice.send("/whisper bob psst\r").unwrap();
    alice.expect("[whisper] alice -> bob: psst").unwrap();
    bob.stdout
        .wait_for("alice's whisper", |l| l == "[whisper] alice -> bob: psst");

    // Half a line typed, then someone else speaks.
    alice.send("half typed").unwrap();
    alice.expect("half typed").unwrap();
    server
        .chat("carol", &["send", "incoming while typing"])
        .expect_code(0);
    alice.expect("carol: incoming while typing").unwrap();
    // The prompt is redrawn below the new line with the half-typed text intact ...
    alice.expect("> half typed").unwrap();
    // ... and Enter sends it whole.
    alice.send(" and finished\r").unwrap();
    alice.expect("alice: half typed and finished").unwrap();
    bob.stdout.wait_for("the finished line", |l| {
        l == "alice: half typed and finished"
    });

    // Ctrl-D leaves cleanly: Bye, exit 0, the others see the leave.
    alice.send(ControlCode::EndOfTransmission).unwrap();
    let status = alice.get_process_mut().wait().unwrap();
    assert_eq!(
        status,
        expectrl::process::unix::WaitStatus::Exited(alice.get_process().pid(), 0)
    );
    bob.stdout
        .wait_for("alice leaving", |l| l == "* alice left");
    // The server logs the leave with its reason; its stderr is read by another thread, so
    // wait for the line rather than look at what has been read so far.
    server
        .log
        .wait_for("logging alice's leave with reason bye", |l| {
            l.contains("alice left") && l.contains("bye")
        });

    // History went to $XDG_DATA_HOME/chat/history.
    let history = std::fs::read_to_string(server.dir().join("data/chat/history")).unwrap();
    assert!(history.contains("hello everyone"), "{history}");
    assert!(history.contains("half typed and finished"), "{history}");
}

#[test]
fn repl_tab_completes_commands_and_online_names() {
    let mut server = Server::start();
    let mut bob = listener(&mut server, "bob", &[]);
    let mut alice = repl(&server, "alice");
    alice.expect("* online (2): alice, bob").unwrap();
    alice.send("/wh\t").unwrap();
    alice.expect("/whisper ").unwrap();
    alice.send("b\t").unwrap();
    alice.expect("bob ").unwrap();
    alice.send("completed\r").unwrap();
    bob.stdout.wait_for("the completed whisper", |l| {
        l == "[whisper] alice -> bob: completed"
    });
    alice.send("/help\r").unwrap();
    alice.expect("/whisper <user> <message>").unwrap();
    alice.send("/quit\r").unwrap();
    bob.stdout
        .wait_for("alice leaving", |l| l == "* alice left");
}

#[test]
fn repl_reconnects_after_the_server_restarts_and_keeps_what_was_typed() {
    let server = Server::start();
    let mut alice = repl(&server, "alice");
    alice.expect("* online (1): alice").unwrap();
    alice.send("typed before").unwrap();
    alice.expect("typed before").unwrap();

    let mut server = server.restart();
    alice.expect("lost the connection to").unwrap();
    alice.expect("reconnected to").unwrap();
    alice.expect("> typed before").unwrap();
    server.wait_joined("alice");

    let mut bob = listener(&mut server, "bob", &[]);
    alice.send(" and after\r").unwrap();
    bob.stdout
        .wait_for("the line typed across the restart", |l| {
            l == "alice: typed before and after"
        });
}
