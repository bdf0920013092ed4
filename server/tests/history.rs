//! History: every room message kept in a real SQLite file (in a temp dir) before anyone
//! gets it, numbered per room, replayed on join, paged both ways, caught up exactly after a
//! reconnect, trimmed, and refused clearly when the file cannot be used.

mod common;

use chat_proto::{Backlog, ClientFrame, Cursor, ErrorKind, Past, ServerFrame};
use chat_server::config::StoreConfig;
use chat_server::Config;
use common::{
    history_config, logs, run_to_exit, scratch_dir, start_with, test_config, TestClient, LOBBY,
};

/// Says `n` messages `{tag} {i}` in lobby and waits for each to come back: they are stored.
async fn say_all(client: &mut TestClient, tag: &str, n: usize) {
    for i in 0..n {
        let text = format!("{tag} {i}");
        client.say(&text).await;
        match client.recv_skipping_notices().await {
            ServerFrame::Msg { text: got, .. } => assert_eq!(got, text),
            other => panic!("expected the echo of {text:?}, got {other:?}"),
        }
    }
}

/// The seq of a live message, its text checked.
async fn next_seq(client: &mut TestClient) -> (u64, String) {
    match client.recv_skipping_notices().await {
        ServerFrame::Msg { seq, text, .. } => (seq, text),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The parts of a `History` frame.
fn page(frame: ServerFrame) -> (Vec<Past>, bool, Cursor, bool) {
    match frame {
        ServerFrame::History {
            messages,
            more,
            next,
            missed,
            ..
        } => (messages, more, next, missed),
        other => panic!("expected History, got {other:?}"),
    }
}

fn seqs(messages: &[Past]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

/// Sequence numbers start at 1 per room, have no gaps, and go on after a restart on the
/// same file; `Welcome` says the page size.
#[tokio::test]
async fn seqs_are_dense_per_room_and_continue_across_a_restart() {
    let dir = scratch_dir("history-seqs");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.connect().await;
    match ann.hello("ann").await {
        ServerFrame::Welcome { history, .. } => assert_eq!(history, 500),
        other => panic!("{other:?}"),
    }
    ann.join(LOBBY).await;
    ann.join("ops").await;
    for (room, expected) in [(LOBBY, 1), (LOBBY, 2), ("ops", 1), (LOBBY, 3), ("ops", 2)] {
        ann.say_in(room, "x").await;
        assert_eq!(next_seq(&mut ann).await.0, expected, "#{room}");
    }
    server.shutdown().await;

    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register("ann").await;
    for expected in 4..=6 {
        ann.say("after the restart").await;
        assert_eq!(next_seq(&mut ann).await.0, expected);
    }
    server.shutdown().await;
}

/// A join asking for the latest N gets exactly the last N, oldest first, with their
/// senders, texts and times, marked as backlog; `more` says older ones exist.
#[tokio::test]
async fn a_join_replays_the_latest_n() {
    let dir = scratch_dir("history-latest");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register("ann").await;
    say_all(&mut ann, "m", 30).await;
    let mut bob = server.register_only("bob").await;
    let (members, backlog) = bob.join_with(LOBBY, Backlog::Latest(5)).await;
    assert_eq!(members, ["ann", "bob"]);
    let (messages, more, next, missed) = page(backlog);
    assert_eq!(seqs(&messages), [26, 27, 28, 29, 30]);
    assert!(messages.iter().all(|m| m.from == "ann"));
    assert_eq!(messages[0].text, "m 25");
    assert!(messages.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(more && !missed);
    assert_eq!(next, Cursor::Before(26));
    // Then live messages, going on from the backlog.
    ann.say("live").await;
    assert_eq!(next_seq(&mut bob).await, (31, "live".into()));
    // Asking for none gives an empty backlog, and asking for more than there is, all.
    let mut carol = server.register_only("carol").await;
    let (_, backlog) = carol.join_with(LOBBY, Backlog::Latest(1000)).await;
    let (messages, more, _, _) = page(backlog);
    assert_eq!(seqs(&messages), (1..=31).collect::<Vec<_>>());
    assert!(!more);
    server.shutdown().await;
}

/// Paging backwards from the latest and forwards from the start each covers the room
/// exactly once, in pages of at most the cap, and ends with `more` false; a page past
/// either end is empty, says no more, and says where it stands.
#[tokio::test]
async fn paging_both_ways_ends_exactly() {
    let dir = scratch_dir("history-paging");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register("ann").await;
    // 1,200 messages, in bursts: many to a commit.
    for chunk in 0..12 {
        for i in 0..100 {
            ann.say(&format!("{}", chunk * 100 + i)).await;
        }
        for _ in 0..100 {
            next_seq(&mut ann).await;
        }
    }
    let mut back = Vec::new();
    let mut from = Cursor::Latest;
    let mut pages = 0;
    loop {
        let (messages, more, next, _) = page(ann.history(LOBBY, from, 10_000).await);
        assert!(messages.len() <= 500);
        pages += 1;
        let mut all = messages;
        all.extend(back);
        back = all;
        from = next;
        if !more {
            break;
        }
    }
    assert_eq!(pages, 3, "500 + 500 + 200");
    assert_eq!(seqs(&back), (1..=1200).collect::<Vec<_>>());
    assert_eq!(back[1199].text, "1199");
    assert_eq!(from, Cursor::Before(1));
    let (messages, more, next, _) = page(ann.history(LOBBY, from, 100).await);
    assert!(messages.is_empty() && !more);
    assert_eq!(next, Cursor::Before(1), "an empty page stays where it was");

    let mut forward = Vec::new();
    let mut from = Cursor::After(0);
    loop {
        let (messages, more, next, _) = page(ann.history(LOBBY, from, 333).await);
        assert!(messages.len() <= 333);
        forward.extend(messages);
        from = next;
        if !more {
            break;
        }
    }
    assert_eq!(seqs(&forward), (1..=1200).collect::<Vec<_>>());
    assert_eq!(from, Cursor::After(1200));
    let (messages, more, next, _) = page(ann.history(LOBBY, from, 10).await);
    assert!(messages.is_empty() && !more);
    assert_eq!(next, Cursor::After(1200));

    // A room nobody is in, or that never was, pages as empty; an invalid one is refused.
    let (messages, more, _, _) = page(ann.history("nowhere", Cursor::Latest, 10).await);
    assert!(messages.is_empty() && !more);
    ann.send(ClientFrame::History {
        room: "no way".into(),
        from: Cursor::Latest,
        limit: 10,
    })
    .await;
    assert_eq!(ann.recv_error().await.0, ErrorKind::InvalidRoom);
    server.shutdown().await;
}

/// A client that drops and comes back with the last seq it saw gets exactly what it missed,
/// once, in order, and then the live messages, with nothing between.
#[tokio::test]
async fn a_reconnect_catches_up_exactly_the_gap() {
    let dir = scratch_dir("history-catch-up");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    say_all(&mut ann, "before", 10).await;
    let mut last = 0;
    for _ in 0..10 {
        last = next_seq(&mut bob).await.0;
    }
    assert_eq!(last, 10);
    bob.send(ClientFrame::Bye).await;
    bob.until_closed().await;
    say_all(&mut ann, "while away", 7).await;

    let mut bob = server.register_only("bob").await;
    let (_, backlog) = bob.join_with(LOBBY, Backlog::After(last)).await;
    let (messages, more, next, missed) = page(backlog);
    assert_eq!(seqs(&messages), (11..=17).collect::<Vec<_>>());
    assert_eq!(messages[0].text, "while away 0");
    assert!(!more && !missed);
    assert_eq!(next, Cursor::After(17));
    ann.say("back").await;
    assert_eq!(next_seq(&mut bob).await, (18, "back".into()));
    server.shutdown().await;
}

/// A join with a backlog while the room is busy: the backlog and the live messages after it
/// meet exactly, with no seq missing or repeated.
#[tokio::test]
async fn a_backlog_meets_the_live_messages_exactly_under_traffic() {
    let dir = scratch_dir("history-busy");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register("ann").await;
    say_all(&mut ann, "ann", 3).await;
    let addr = server.addr;
    let talker = tokio::spawn(async move {
        // 2,000 messages without waiting for their echoes: they arrive in bursts.
        let mut carol = TestClient::connect(addr).await;
        carol.hello("carol").await;
        carol.join(LOBBY).await;
        for i in 0..2000 {
            carol.say(&format!("busy {i}")).await;
        }
        for _ in 0..2000 {
            next_seq(&mut carol).await;
        }
    });
    // Join part-way through the talk.
    let mut bob = server.register_only("bob").await;
    let (_, backlog) = bob.join_with(LOBBY, Backlog::Latest(50)).await;
    let (messages, _, _, _) = page(backlog);
    let mut expected = messages.last().map_or(1, |m| m.seq + 1);
    assert!(seqs(&messages).windows(2).all(|w| w[1] == w[0] + 1));
    talker.await.unwrap();
    let total = 2003;
    while expected <= total {
        let (seq, _) = next_seq(&mut bob).await;
        assert_eq!(seq, expected, "the live messages go on from the backlog");
        expected += 1;
    }
    server.shutdown().await;
}

/// With `keep_per_room` 10, the background trim keeps the newest 10; a catch-up from
/// before them says some are missed and gets the latest instead; numbering goes on.
#[tokio::test]
async fn trimming_keeps_the_newest_and_a_catch_up_past_it_says_so() {
    logs::capture();
    let dir = scratch_dir("history-trim");
    let keep = |dir: &std::path::Path| Config {
        store: Some(StoreConfig {
            path: dir.join("chat.db"),
            keep_per_room: Some(10),
            ..StoreConfig::default()
        }),
        ..test_config()
    };
    let server = start_with(keep(&dir)).await;
    let mut ann = server.register("ann").await;
    say_all(&mut ann, "m", 30).await;
    server.shutdown().await;
    // Trimmed at start.
    let server = start_with(keep(&dir)).await;
    logs::wait_for("the trim at start", |l| {
        l.contains("Trimmed 20 old messages")
    })
    .await;
    let mut ann = server.register_only("ann").await;
    let (messages, more, _, _) = page(ann.history(LOBBY, Cursor::Latest, 100).await);
    assert_eq!(seqs(&messages), (21..=30).collect::<Vec<_>>());
    assert!(!more, "nothing older is kept");
    let (_, backlog) = ann.join_with(LOBBY, Backlog::After(5)).await;
    let (messages, _, _, missed) = page(backlog);
    assert!(missed, "messages 6 to 20 are no longer kept");
    assert_eq!(seqs(&messages), (21..=30).collect::<Vec<_>>());
    // A seq the room never had is missed too.
    let mut bob = server.register_only("bob").await;
    let (_, backlog) = bob.join_with(LOBBY, Backlog::After(99)).await;
    assert!(page(backlog).3);
    ann.say("on").await;
    assert_eq!(next_seq(&mut ann).await.0, 31);
    server.shutdown().await;
}

/// Without a store: `Welcome` says so, a backlog is empty, a history request is refused
/// with `HistoryOff`, and the log says once at start that history is off.
#[tokio::test]
async fn without_a_store_history_is_off_and_says_so() {
    logs::capture();
    let server = start_with(test_config()).await;
    logs::wait_for("history off", |l| l.contains("History off")).await;
    let mut ann = server.connect().await;
    match ann.hello("ann").await {
        ServerFrame::Welcome { history, .. } => assert_eq!(history, 0),
        other => panic!("{other:?}"),
    }
    let (_, backlog) = ann.join_with(LOBBY, Backlog::Latest(20)).await;
    assert_eq!(page(backlog).0, []);
    ann.send(ClientFrame::History {
        room: LOBBY.into(),
        from: Cursor::Latest,
        limit: 10,
    })
    .await;
    assert_eq!(ann.recv_error().await.0, ErrorKind::HistoryOff);
    server.shutdown().await;
}

/// When the store fails (here: another process holds the write lock past the busy
/// timeout), the sender gets `StoreFailed`, nobody gets the message, an ERROR line says
/// why; once the lock is gone, the next message is stored and sent, numbered on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_refuses_sends_nothing_and_recovers() {
    logs::capture();
    let dir = scratch_dir("history-failing");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    say_all(&mut ann, "ok", 1).await;
    assert_eq!(next_seq(&mut bob).await.0, 1);

    let blocker = rusqlite::Connection::open(dir.join("chat.db")).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    ann.say("lost").await;
    let (kind, detail) = ann.recv_error().await;
    assert_eq!(kind, ErrorKind::StoreFailed, "{detail}");
    logs::wait_for("an ERROR about the store", |l| {
        l.contains("ERROR") && l.contains("Cannot store")
    })
    .await;
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);

    ann.say("stored").await;
    assert_eq!(next_seq(&mut ann).await, (2, "stored".into()));
    assert_eq!(
        next_seq(&mut bob).await,
        (2, "stored".into()),
        "bob never got the refused message"
    );
    logs::wait_for("the recovery", |l| l.contains("works again")).await;
    server.shutdown().await;
}

/// A store file the server cannot use stops it at start with exit code 2 and one line
/// naming the file: a file that is not SQLite, and a directory that does not exist.
#[test]
fn an_unusable_store_file_stops_the_server_with_one_line() {
    let dir = scratch_dir("history-unusable");
    std::fs::write(
        dir.join("notes.db"),
        "these are my notes, not a database\n".repeat(200),
    )
    .unwrap();
    for (path, says) in [
        ("notes.db", "not a chat message log"),
        ("missing/dir/chat.db", "cannot open"),
    ] {
        std::fs::write(
            dir.join("config.ini"),
            format!("[server]\nport = 0\n[store]\npath = {path}\n"),
        )
        .unwrap();
        let (code, stderr) = run_to_exit(&dir, &["--config", "config.ini"]);
        assert_eq!(code, Some(2), "{stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(path)).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(says), "{stderr}");
    }
    let notes = std::fs::read_to_string(dir.join("notes.db")).unwrap();
    assert!(notes.starts_with("these are my notes"), "left untouched");
}

/// Whispers are never stored: after one, the room's history holds only room messages.
#[tokio::test]
async fn whispers_are_not_stored() {
    let dir = scratch_dir("history-whispers");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register("ann").await;
    let _bob = server.register("bob").await;
    ann.send(ClientFrame::Whisper {
        to: "bob".into(),
        text: "secret".into(),
    })
    .await;
    assert!(matches!(
        ann.recv_skipping_notices().await,
        ServerFrame::Whisper { .. }
    ));
    say_all(&mut ann, "public", 1).await;
    let (messages, _, _, _) = page(ann.history(LOBBY, Cursor::Latest, 100).await);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "public 0");
    let db = rusqlite::Connection::open(dir.join("chat.db")).unwrap();
    let secrets: i64 = db
        .query_row(
            "SELECT count(*) FROM messages WHERE text LIKE '%secret%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(secrets, 0);
    server.shutdown().await;
}
