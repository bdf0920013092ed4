//! `chat-client repl` in a pseudo-terminal, as a person uses it.

mod common;

use common::{listener, Server, WAIT};
use expectrl::{ControlCode, Expect, Regex};

/// Starts `chat-client repl` as `name` (plus `extra` flags) in a pseudo-terminal and waits
/// for its first notice.
fn repl(server: &Server, name: &str, extra: &[&str]) -> expectrl::session::OsSession {
    let mut cmd = server.client(name);
    cmd.arg("repl").args(extra).env("TERM", "xterm-256color");
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
    let mut bob = listener(&server, "bob", &[]);
    let mut alice = repl(&server, "alice", &[]);
    alice.expect("* online (2): alice, bob").unwrap();
    alice
        .expect("#lobby * you joined; here (2): alice, bob")
        .unwrap();
    alice.expect("#lobby> ").unwrap();

    alice.send("hello everyone\r").unwrap();
    // The current room's lines go untagged.
    alice.expect(Regex("[^ ]alice: hello everyone")).unwrap();
    bob.stdout
        .wait_for("alice's message", |l| l == "#lobby alice: hello everyone");

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
    alice.expect("#lobby> half typed").unwrap();
    // ... and Enter sends it whole.
    alice.send(" and finished\r").unwrap();
    alice.expect("alice: half typed and finished").unwrap();
    bob.stdout.wait_for("the finished line", |l| {
        l == "#lobby alice: half typed and finished"
    });

    // Ctrl-D leaves cleanly: Bye, exit 0, the others see the leave.
    alice.send(ControlCode::EndOfTransmission).unwrap();
    let status = alice.get_process_mut().wait().unwrap();
    assert_eq!(
        status,
        expectrl::process::unix::WaitStatus::Exited(alice.get_process().pid(), 0)
    );
    bob.stdout
        .wait_for("alice leaving", |l| l == "#lobby * alice left (quit)");
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
fn repl_joins_switches_and_parts_rooms_and_tags_the_other_rooms_lines() {
    let server = Server::start();
    let mut bob = listener(&server, "bob", &["--room", "rust"]);
    let mut alice = repl(&server, "alice", &[]);
    alice.expect("#lobby> ").unwrap();

    // Tab knows the rooms once listed.
    alice.send("/rooms\r").unwrap();
    alice.expect("* rooms (2): #lobby (1), #rust (1)").unwrap();
    alice.send("/join ru\t").unwrap();
    alice.expect("/join rust ").unwrap();
    alice.send("\r").unwrap();
    alice
        .expect("#rust * you joined; here (2): alice, bob")
        .unwrap();
    // The room joined is current: the prompt says so and plain lines go there.
    alice.expect("#rust> ").unwrap();
    bob.stdout
        .wait_for("alice joining", |l| l == "#rust * alice joined");
    alice.send("hi rust\r").unwrap();
    alice.expect(Regex("[^ ]alice: hi rust")).unwrap();
    bob.stdout
        .wait_for("alice's message", |l| l == "#rust alice: hi rust");

    // A line in another joined room carries its tag.
    server
        .chat("carol", &["send", "in the lobby"])
        .expect_code(0);
    alice.expect("#lobby carol: in the lobby").unwrap();

    alice.send("/members\r").unwrap();
    alice.expect("#rust * members (2): alice, bob").unwrap();

    // Switching: only to a joined room.
    alice.send("/switch nowhere\r").unwrap();
    alice
        .expect("! not in #nowhere; /join nowhere first, or switch to one of #lobby, #rust")
        .unwrap();
    alice.expect("#rust> ").unwrap();
    alice.send("/switch l\t").unwrap();
    alice.expect("/switch lobby ").unwrap();
    alice.send("\r").unwrap();
    alice.expect("#lobby> ").unwrap();
    // Now rust's lines are the tagged ones.
    server
        .chat("bob2", &["send", "--room", "rust", "rust again"])
        .expect_code(0);
    alice.expect("#rust bob2: rust again").unwrap();

    // Parting the current room makes the other joined room current.
    alice.send("/part\r").unwrap();
    alice.expect("#lobby * you left").unwrap();
    alice.expect("#rust> ").unwrap();
    alice.send("still here\r").unwrap();
    bob.stdout
        .wait_for("alice in rust after parting lobby", |l| {
            l == "#rust alice: still here"
        });

    // A refusal says what it refused and what to do.
    alice.send("/members nowhere\r").unwrap();
    alice
        .expect("! no member list: there is no room #nowhere — /rooms lists the rooms")
        .unwrap();

    alice.send("/help\r").unwrap();
    for usage in [
        "/join <room>",
        "/part [room]",
        "/switch <room>",
        "/rooms",
        "/members [room]",
    ] {
        alice.expect(usage).unwrap();
    }
    alice.send("/quit\r").unwrap();
    bob.stdout
        .wait_for("alice leaving", |l| l == "#rust * alice left (quit)");
}

#[test]
fn repl_tab_completes_commands_and_online_names() {
    let server = Server::start();
    let mut bob = listener(&server, "bob", &[]);
    let mut alice = repl(&server, "alice", &[]);
    alice.expect("* online (2): alice, bob").unwrap();
    alice.expect("#lobby> ").unwrap();
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
        .wait_for("alice leaving", |l| l == "#lobby * alice left (quit)");
}

#[test]
fn repl_reconnects_after_the_server_restarts_rejoins_its_rooms_and_keeps_what_was_typed() {
    let server = Server::start();
    let mut alice = repl(&server, "alice", &["--room", "ops", "--room", "lobby"]);
    alice.expect("* online (1): alice").unwrap();
    alice.expect("#ops> ").unwrap();
    alice.send("typed before").unwrap();
    alice.expect("typed before").unwrap();

    let server = server.restart();
    alice.expect("lost the connection to").unwrap();
    alice.expect("reconnected to").unwrap();
    alice.expect("#ops * you joined; here (1): alice").unwrap();
    alice
        .expect("#lobby * you joined; here (1): alice")
        .unwrap();
    // Still in ops, with the half-typed line.
    alice.expect("#ops> typed before").unwrap();

    let bob = listener(&server, "bob", &["--room", "ops", "--count", "1"]);
    alice.send(" and after\r").unwrap();
    let seen = bob.finish().expect_code(0);
    assert_eq!(
        common::chat_lines(&seen.stdout),
        ["#ops alice: typed before and after"]
    );
}

/// Without a terminal the REPL reads a script from stdin and prints plainly; the answers
/// to the last lines are shown before it leaves.
#[test]
fn repl_runs_a_piped_script_to_the_last_answer() {
    let server = Server::start();
    let out = common::run(
        server.client("alice").arg("repl"),
        "/join ops\nin ops\n/members nowhere\n",
    )
    .expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&"#ops * you joined; here (1): alice"),
        "{out:#?}"
    );
    assert!(lines.contains(&"alice: in ops"), "{out:#?}");
    assert_eq!(
        lines.last(),
        Some(&"! no member list: there is no room #nowhere — /rooms lists the rooms"),
        "{out:#?}"
    );
}
