//! [`SqliteStore`] against real files in a temporary directory.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};
use tempfile::TempDir;

use super::super::schema::{self, APPLICATION_ID, MIGRATIONS, VERSION};
use super::*;

/// A message to `room` from ann, dated `at`.
fn message(room: &str, text: &str, at: Millis) -> NewMessage {
    NewMessage {
        room: room.into(),
        from: "ann".into(),
        text: text.to_owned(),
        at,
    }
}

/// `n` messages to `room`, numbered in their text.
fn messages(room: &str, n: usize) -> Vec<NewMessage> {
    (0..n)
        .map(|i| message(room, &format!("message {i}"), 1_000 + i as Millis))
        .collect()
}

/// A fresh store in a fresh directory; keep the directory alive as long as the store.
fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("chat.db")).unwrap();
    (dir, store)
}

/// `[store] synchronous = full` reaches the writer's connection: SQLite syncs every commit.
#[test]
fn full_synchronous_is_what_the_writer_commits_with() {
    let (_dir, store) = fresh();
    let level = |store: &SqliteStore| -> i64 {
        store
            .writer()
            .conn
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap()
    };
    assert_eq!(level(&store), 1, "NORMAL by default");
    store.set_synchronous(Synchronous::Full).unwrap();
    assert_eq!(level(&store), 2, "FULL");
    store.append(&messages("lobby", 3)).unwrap();
}

fn seqs(page: &Page) -> Vec<u64> {
    page.messages.iter().map(|m| m.seq).collect()
}

fn sqlite_code(err: &StoreError) -> Option<ErrorCode> {
    match err {
        StoreError::Sqlite(e) => e.sqlite_error_code(),
        _ => None,
    }
}

#[test]
fn seqs_are_dense_and_per_room_within_one_batch_of_several_rooms() {
    let (_dir, store) = fresh();
    let batch = [
        message("lobby", "a", 1),
        message("rust", "b", 2),
        message("lobby", "c", 3),
        message("lobby", "d", 4),
        message("rust", "e", 5),
    ];
    assert_eq!(store.append(&batch).unwrap(), [1, 1, 2, 3, 2]);
    assert_eq!(
        store.append(&[message("rust", "f", 6)]).unwrap(),
        [3],
        "a later batch goes on from the room's last seq"
    );
    assert_eq!(store.append(&[]).unwrap(), Vec::<u64>::new());
    let lobby = store.read("lobby", Read::Latest, 10).unwrap();
    let texts: Vec<&str> = lobby.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["a", "c", "d"]);
    assert_eq!(
        lobby.messages[0],
        Stored::new(
            1,
            "ann".into(),
            "a".into(),
            1,
            chat_proto::PastKind::Message
        )
    );
    assert_eq!(store.bounds("rust").unwrap(), Bounds { first: 1, last: 3 });
}

#[test]
fn seqs_continue_after_the_file_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open(&path).unwrap();
    store.append(&messages("lobby", 5)).unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.bounds("lobby").unwrap(), Bounds { first: 1, last: 5 });
    assert_eq!(
        store
            .append(&[message("lobby", "again", 9), message("new", "x", 9)])
            .unwrap(),
        [6, 1]
    );
}

#[test]
fn latest_gives_the_newest_messages_oldest_first() {
    let (_dir, store) = fresh();
    store.append(&messages("lobby", 10)).unwrap();
    store.append(&messages("other", 3)).unwrap();
    let page = store.read("lobby", Read::Latest, 4).unwrap();
    assert_eq!(seqs(&page), [7, 8, 9, 10]);
    assert!(page.more, "six older messages are kept");
    let all = store.read("lobby", Read::Latest, 100).unwrap();
    assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
    assert!(!all.more);
    let none = store.read("lobby", Read::Latest, 0).unwrap();
    assert_eq!((none.messages.len(), none.more), (0, true));
    assert_eq!(
        store.read("nobody-wrote-here", Read::Latest, 10).unwrap(),
        Page::default()
    );
}

#[test]
fn paging_before_ends_exactly_at_the_oldest_message() {
    let (_dir, store) = fresh();
    store.append(&messages("lobby", 10)).unwrap();
    let page = |seq| store.read("lobby", Read::Before(seq), 4).unwrap();
    let p = page(7);
    assert_eq!((seqs(&p), p.more), (vec![3, 4, 5, 6], true));
    let p = page(3);
    assert_eq!((seqs(&p), p.more), (vec![1, 2], false));
    let p = page(5);
    assert_eq!(
        (seqs(&p), p.more),
        (vec![1, 2, 3, 4], false),
        "a page that ends exactly at the oldest says so"
    );
    assert_eq!(page(1), Page::default(), "past the end: empty, no more");
    let p = store.read("lobby", Read::Before(u64::MAX), 2).unwrap();
    assert_eq!(seqs(&p), [9, 10]);
}

#[test]
fn paging_after_ends_exactly_at_the_newest_message() {
    let (_dir, store) = fresh();
    store.append(&messages("lobby", 10)).unwrap();
    let page = |seq| store.read("lobby", Read::After(seq), 4).unwrap();
    let p = page(0);
    assert_eq!((seqs(&p), p.more), (vec![1, 2, 3, 4], true));
    let p = page(4);
    assert_eq!((seqs(&p), p.more), (vec![5, 6, 7, 8], true));
    let p = page(8);
    assert_eq!((seqs(&p), p.more), (vec![9, 10], false));
    let p = page(6);
    assert_eq!(
        (seqs(&p), p.more),
        (vec![7, 8, 9, 10], false),
        "a page that ends exactly at the newest says so"
    );
    assert_eq!(page(10), Page::default(), "past the end: empty, no more");
    assert_eq!(page(u64::MAX), Page::default());
}

#[test]
fn bounds_follow_appends_and_trims() {
    let (_dir, store) = fresh();
    assert_eq!(store.bounds("lobby").unwrap(), Bounds { first: 0, last: 0 });
    store.append(&messages("lobby", 10)).unwrap();
    assert_eq!(
        store.bounds("lobby").unwrap(),
        Bounds { first: 1, last: 10 }
    );
    assert_eq!(store.trim(3, None).unwrap(), 7);
    assert_eq!(
        store.bounds("lobby").unwrap(),
        Bounds { first: 8, last: 10 }
    );
    let p = store.read("lobby", Read::Latest, 3).unwrap();
    assert_eq!((seqs(&p), p.more), (vec![8, 9, 10], false), "1..7 are gone");
    let p = store.read("lobby", Read::After(2), 2).unwrap();
    assert_eq!((seqs(&p), p.more), (vec![8, 9], true));
}

/// Reactions leave with the messages trimmed; those of messages kept stay.
#[test]
fn a_trimmed_message_takes_its_reactions_along() {
    let (_dir, store) = fresh();
    store.append(&messages("lobby", 3)).unwrap();
    let limits = super::super::ReactionLimits {
        emoji: 5,
        reactions: 5,
    };
    for target in [1, 3] {
        let react = ChangeKind::React {
            target,
            emoji: "👍".into(),
            on: true,
            limits,
        };
        store
            .change("lobby", "bob", 2_000, &react)
            .unwrap()
            .unwrap();
    }
    let reactions = |store: &SqliteStore| -> i64 {
        store
            .reader()
            .query_row("SELECT count(*) FROM reactions", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(reactions(&store), 2);
    // Keeps seqs 3 to 5: message 3 and the two reaction events.
    assert_eq!(store.trim(3, None).unwrap(), 2);
    assert_eq!(reactions(&store), 1);
    let page = store.read("lobby", Read::After(2), 1).unwrap();
    assert_eq!(
        page.messages[0].reactions.len(),
        1,
        "message 3 keeps its own"
    );
}

#[test]
fn trim_by_count_keeps_the_newest_of_every_room() {
    let (_dir, store) = fresh();
    // More than one chunk in one room, so the chunked delete has to go round.
    let big = (TRIM_CHUNK * 2 + 500) as usize;
    for chunk in messages("big", big).chunks(256) {
        store.append(chunk).unwrap();
    }
    store.append(&messages("small", 10)).unwrap();
    assert_eq!(store.trim(100, None).unwrap(), big as u64 - 100);
    assert_eq!(
        store.bounds("big").unwrap(),
        Bounds {
            first: big as u64 - 99,
            last: big as u64
        }
    );
    assert_eq!(
        store.bounds("small").unwrap(),
        Bounds { first: 1, last: 10 }
    );
    assert_eq!(store.trim(100, None).unwrap(), 0, "nothing left to trim");
}

#[test]
fn trim_by_age_drops_older_messages_in_every_room() {
    let (_dir, store) = fresh();
    store
        .append(&[
            message("a", "1", 1_000),
            message("b", "1", 1_500),
            message("a", "2", 2_000),
            message("b", "2", 2_500),
            message("a", "3", 3_000),
        ])
        .unwrap();
    assert_eq!(store.trim(u64::MAX, Some(2_000)).unwrap(), 2);
    assert_eq!(store.bounds("a").unwrap(), Bounds { first: 2, last: 3 });
    assert_eq!(store.bounds("b").unwrap(), Bounds { first: 2, last: 2 });
    assert_eq!(
        store.trim(1, Some(2_000)).unwrap(),
        1,
        "count and age together: a keeps only seq 3"
    );
    assert_eq!(store.bounds("a").unwrap(), Bounds { first: 3, last: 3 });
}

#[test]
fn trimming_everything_never_lets_a_seq_be_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open(&path).unwrap();
    store.append(&messages("lobby", 5)).unwrap();
    assert_eq!(store.trim(0, None).unwrap(), 5);
    assert_eq!(store.bounds("lobby").unwrap(), Bounds { first: 6, last: 5 });
    assert_eq!(
        store.read("lobby", Read::Latest, 10).unwrap(),
        Page::default()
    );
    assert_eq!(store.append(&messages("lobby", 1)).unwrap(), [6]);
    assert_eq!(store.trim(0, None).unwrap(), 1);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.bounds("lobby").unwrap(), Bounds { first: 7, last: 6 });
    assert_eq!(store.append(&messages("lobby", 1)).unwrap(), [7]);
}

#[test]
fn a_batch_failing_midway_stores_nothing_and_the_next_one_continues() {
    let (_dir, store) = fresh();
    store.append(&messages("lobby", 3)).unwrap();
    let before = store.read("lobby", Read::Latest, 10).unwrap();
    // A disk that is full one page from now: the batch's first rows fit, its later ones
    // do not, so the failure comes in the middle of the transaction.
    store.with_writer(|conn| {
        let pages: i64 = conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "max_page_count", pages + 1)
            .unwrap();
    });
    let mut batch = vec![message("lobby", "fits", 5), message("new", "fits too", 5)];
    batch.extend((0..300).map(|i| message("new", &"x".repeat(1_000), i)));
    let err = store.append(&batch).unwrap_err();
    assert_eq!(sqlite_code(&err), Some(ErrorCode::DiskFull), "{err}");
    assert_eq!(store.read("lobby", Read::Latest, 10).unwrap(), before);
    assert_eq!(store.bounds("lobby").unwrap(), Bounds { first: 1, last: 3 });
    assert_eq!(
        store.bounds("new").unwrap(),
        Bounds::default(),
        "the room created by the failed batch is gone with it"
    );
    // Recovers by itself: the next append that fits goes on from the last committed seq.
    assert_eq!(
        store
            .append(&[message("lobby", "after", 6), message("new", "first", 6)])
            .unwrap(),
        [4, 1]
    );
    store
        .with_writer(|conn| conn.pragma_update(None, "max_page_count", 1_000_000_u32))
        .unwrap();
    let seqs = store.append(&batch).unwrap();
    assert_eq!(seqs[..3], [5, 2, 3]);
    assert_eq!(
        store.bounds("new").unwrap(),
        Bounds {
            first: 1,
            last: 302
        }
    );
}

#[test]
fn an_append_refused_by_a_lock_held_elsewhere_consumes_no_seq() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open_with(&path, Duration::from_millis(20)).unwrap();
    assert_eq!(store.append(&messages("lobby", 2)).unwrap(), [1, 2]);
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = store.append(&messages("lobby", 2)).unwrap_err();
    assert_eq!(sqlite_code(&err), Some(ErrorCode::DatabaseBusy), "{err}");
    assert_eq!(
        store
            .read("lobby", Read::Latest, 10)
            .unwrap()
            .messages
            .len(),
        2,
        "reads go on while another connection holds the write lock"
    );
    other.execute_batch("COMMIT").unwrap();
    assert_eq!(store.append(&messages("lobby", 2)).unwrap(), [3, 4]);
}

#[test]
fn reads_see_only_committed_messages_while_another_write_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open(&path).unwrap();
    store.append(&messages("lobby", 1)).unwrap();
    let other = Connection::open(&path).unwrap();
    other
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO messages (room, seq, sender, text, at) VALUES (1, 2, 'bob', 'uncommitted', 0);
             UPDATE rooms SET last_seq = 2;",
        )
        .unwrap();
    assert_eq!(store.bounds("lobby").unwrap(), Bounds { first: 1, last: 1 });
    assert_eq!(seqs(&store.read("lobby", Read::Latest, 10).unwrap()), [1]);
    other.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_read_started_after_append_returned_sees_that_append() {
    let (_dir, store) = fresh();
    let store = Arc::new(store);
    let (tx, rx) = mpsc::channel();
    let writer = {
        let store = Arc::clone(&store);
        thread::spawn(move || {
            for batch in 0..200 {
                let seqs = store.append(&messages("lobby", 8)).unwrap();
                tx.send((batch, *seqs.last().unwrap())).unwrap();
            }
        })
    };
    for (batch, last) in rx {
        assert_eq!(last, (batch + 1) * 8);
        assert!(store.bounds("lobby").unwrap().last >= last);
        let page = store.read("lobby", Read::After(last - 1), 1).unwrap();
        assert_eq!(seqs(&page), [last], "batch {batch}");
    }
    writer.join().unwrap();
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "shopping: milk, eggs, bread\n".repeat(40);
    std::fs::write(&path, &text).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotOurs { path: p } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&path.display().to_string()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert!(!dir.path().join("notes.txt-wal").exists());
}

#[test]
fn another_programs_sqlite_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join("tables.db");
    Connection::open(&tables)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('keep me');")
        .unwrap();
    let marked = dir.path().join("marked.db");
    Connection::open(&marked)
        .unwrap()
        .pragma_update(None, "application_id", 42)
        .unwrap();
    for path in [&tables, &marked] {
        let err = SqliteStore::open(path).unwrap_err();
        assert!(
            matches!(&err, StoreError::NotOurs { path: p } if p == path),
            "{err:?}"
        );
        let conn = Connection::open(path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "{}: not switched to WAL", path.display());
        let ours: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name IN ('rooms', 'messages')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ours, 0, "{}: no tables of ours added", path.display());
    }
}

#[test]
fn a_file_from_a_newer_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    drop(SqliteStore::open(&path).unwrap());
    // A newer server: one more migration than this one knows.
    let mut newer: Vec<&str> = MIGRATIONS.to_vec();
    newer.push("CREATE TABLE read_markers (account INTEGER, room INTEGER, seq INTEGER);");
    let mut conn = Connection::open(&path).unwrap();
    schema::prepare_with(&mut conn, &path, &newer).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::NewerSchema { path: p, found, supported }
                if *p == path && *found == VERSION + 1 && *supported == VERSION
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&path.display().to_string()));
}

#[test]
fn an_older_file_is_upgraded_and_keeps_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open(&path).unwrap();
    store.append(&messages("lobby", 3)).unwrap();
    drop(store);
    // What a newer server would do to this file: the same hook with one more step.
    let mut newer: Vec<&str> = MIGRATIONS.to_vec();
    newer.push("ALTER TABLE messages ADD COLUMN pinned INTEGER;");
    let mut conn = Connection::open(&path).unwrap();
    schema::prepare_with(&mut conn, &path, &newer).unwrap();
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, VERSION + 1);
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE pinned IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 3);
    // Prepared again at the same version: nothing to do, nothing changes.
    schema::prepare_with(&mut conn, &path, &newer).unwrap();
}

#[test]
fn a_file_marked_ours_at_version_zero_is_brought_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.append(&messages("lobby", 2)).unwrap(), [1, 2]);
    drop(store);
    let conn = Connection::open(&path).unwrap();
    let header: (i32, u32) = (
        conn.pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap(),
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap(),
    );
    assert_eq!(header, (APPLICATION_ID, VERSION));
}

#[test]
fn a_path_in_a_missing_directory_is_an_open_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("chat.db");
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Open { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&path.display().to_string()));
}

/// A search of many rooms (past those asked room by room) gives the same hits, newest
/// first across the rooms, paged to the end, each once, as one room at a time would.
#[test]
fn a_search_of_many_rooms_merges_them_newest_first_and_pages_exactly() {
    let (_dir, store) = fresh();
    let rooms: Vec<String> = (0..12).map(|r| format!("room{r}")).collect();
    for round in 0..5 {
        let batch: Vec<NewMessage> = rooms
            .iter()
            .enumerate()
            .map(|(r, room)| {
                let text = if (r + round) % 3 == 0 {
                    "ship it now"
                } else {
                    "not yet"
                };
                message(room, text, (round * 100 + r) as Millis)
            })
            .collect();
        store.append(&batch).unwrap();
    }
    let terms = vec!["ship".to_owned()];
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let (page, more) = store.search(&rooms, &terms, before.as_ref(), 4).unwrap();
        assert!(page.len() <= 4);
        seen.extend(page.iter().map(|(key, m)| (m.at, key.clone(), m.seq)));
        if !more {
            break;
        }
        let (key, last) = page.last().unwrap();
        before = Some(chat_proto::search::SearchCursor {
            at: last.at,
            room: key.clone(),
            seq: last.seq,
        });
    }
    let mut expected = Vec::new();
    for room in &rooms {
        let (hits, more) = store
            .search(std::slice::from_ref(room), &terms, None, 100)
            .unwrap();
        assert!(!more);
        expected.extend(hits.iter().map(|(key, m)| (m.at, key.clone(), m.seq)));
    }
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 20, "a third of 60 messages");
}
