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

/// `{prefix}1`, `{prefix}2`, ... `{prefix}{n}`.
fn numbered(prefix: &str, n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

/// The numbers after each `{from}: {prefix}` in `output`, in order.
fn numbers_after(output: &[u8], from_prefix: &str) -> Vec<u64> {
    let output = String::from_utf8_lossy(output);
    output
        .split(from_prefix)
        .skip(1)
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits
                .parse()
                .unwrap_or_else(|_| panic!("no number in {rest:?}"))
        })
        .collect()
}

/// `/join` shows the room's latest 20 messages with their time, before the prompt for the
/// room; `/history N` shows the N before the oldest shown, then says when there are none.
#[test]
fn repl_shows_the_backlog_on_join_and_earlier_messages_on_history() {
    let server = Server::start_with_history();
    server.send_all("carol", "rust", &numbered("r", 25));
    let mut alice = repl(&server, "alice", &[]);
    alice.expect("#lobby> ").unwrap();

    alice.send("/join rust\r").unwrap();
    alice.expect("#rust * you joined; here (1): alice").unwrap();
    // The latest 20, oldest first, each with its time (today: no date).
    alice.expect(Regex(r"\d\d:\d\d carol: r6\r?\n")).unwrap();
    let rest = alice.expect("#rust> ").unwrap();
    assert_eq!(
        numbers_after(rest.before(), "carol: r"),
        (7..=25).collect::<Vec<_>>()
    );

    alice.send("/history 3\r").unwrap();
    alice.expect("* 3 earlier messages:").unwrap();
    alice.expect(Regex(r"\d\d:\d\d carol: r3\r?\n")).unwrap();
    alice.expect("carol: r4").unwrap();
    alice.expect("carol: r5").unwrap();
    alice.send("/history\r").unwrap();
    alice.expect("* 2 earlier messages:").unwrap();
    alice.expect("carol: r1").unwrap();
    alice.expect("carol: r2").unwrap();
    alice.send("/history\r").unwrap();
    alice.expect("* no earlier messages").unwrap();

    // Live lines are as before: no time in front.
    server
        .chat("carol", &["send", "--room", "rust", "now"])
        .expect_code(0);
    alice.expect(Regex("[^0-9 ]carol: now")).unwrap();
    alice.send("/quit\r").unwrap();
    assert_eq!(
        alice.get_process_mut().wait().unwrap(),
        expectrl::process::unix::WaitStatus::Exited(alice.get_process().pid(), 0)
    );
}

/// While the REPL is cut off, a stand-in server on the same history file hears three
/// messages; when the REPL's own server is back it rejoins from the last message it showed
/// and shows exactly those three, once, then the live ones.
#[test]
fn repl_catches_up_after_a_restart_with_exactly_what_it_missed() {
    let server = Server::start_with_history();
    let port = server.port;
    let mut alice = repl(&server, "alice", &[]);
    alice.expect("#lobby> ").unwrap();
    server.send_all("carol", "lobby", &numbered("before-", 2));
    alice.expect("carol: before-2").unwrap();

    // The REPL's port goes dark while another server, on the same log, hears the lobby.
    let standin = server.restart_on(0);
    alice.expect("lost the connection to").unwrap();
    standin.send_all("carol", "lobby", &numbered("during-", 3));
    let server = standin.restart_on(port);

    alice.expect("reconnected to").unwrap();
    alice
        .expect("#lobby * you joined; here (1): alice")
        .unwrap();
    let caught_up = alice.expect("carol: during-3").unwrap();
    assert_eq!(numbers_after(caught_up.before(), "carol: during-"), [1, 2]);
    assert_eq!(
        numbers_after(caught_up.before(), "carol: before-"),
        Vec::<u64>::new()
    );

    server.chat("carol", &["send", "after-1"]).expect_code(0);
    let live = alice.expect("carol: after-1").unwrap();
    let between = String::from_utf8_lossy(live.before()).into_owned();
    assert!(!between.contains("carol: "), "nothing twice: {between:?}");
    alice.send("/quit\r").unwrap();
    assert_eq!(
        alice.get_process_mut().wait().unwrap(),
        expectrl::process::unix::WaitStatus::Exited(alice.get_process().pid(), 0)
    );
}

/// On a server that keeps no history a join shows no past and `/history` says why.
#[test]
fn repl_history_on_a_server_without_history_says_so() {
    let server = Server::start_with(
        "[server]\nhost = 127.0.0.1\nport = 0\n[limits]\nmessages_per_second = 0\n\
         [store]\npath = off\n",
        0,
    );
    let out = common::run(
        server.client("alice").arg("repl"),
        "/join ops\n/history 5\n",
    )
    .expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&"#ops * you joined; here (1): alice"),
        "{out:#?}"
    );
    assert_eq!(
        lines.last(),
        Some(&"! this server keeps no history"),
        "{out:#?}"
    );
}
