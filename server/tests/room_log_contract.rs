//! The room log's contract, run against every implementation of `RoomLog`: `off` (history
//! off), `sqlite` (a real SQLite file in a temporary directory) and `jetstream` (a real
//! `nats-server -js`). Each log delivers through a real `Hub` to members whose queues the
//! tests read, exactly as connections would.
//!
//! What every log keeps: seqs dense and in the order everyone receives. What every log
//! that keeps history keeps besides: pages both ways that end exactly, a catch-up of
//! exactly the gap, `missed` when the gap is gone, and nothing stored (nor delivered, nor
//! numbered) when the store fails.

// Without the `cluster` feature the JetStream log, and what only it uses, is left out.
#![cfg_attr(
    not(feature = "cluster"),
    allow(unused_variables, unused_mut, dead_code)
)]

mod common;

use std::sync::Arc;

use chat_proto::codec::{decode_chunks, CLIENT_MAX_FRAME};
use chat_proto::{Backlog, Cursor, ErrorKind, PastKind, ServerFrame};
#[cfg(feature = "cluster")]
use chat_server::cluster::{Cluster, Link};
#[cfg(feature = "cluster")]
use chat_server::config::{ClusterConfig, StoreConfig};
use chat_server::hub::Hub;
#[cfg(feature = "cluster")]
use chat_server::log::jetstream::JetStreamLog;
use chat_server::log::{
    Change, ChangeKind, ChangeRefusal, Join, Joining, NoHistory, Said, SharedLog, SqliteLog,
    SqliteStore, Store,
};
use chat_server::outbox::{self, Next, Outbox, Outgoing};
use chat_server::registry::ClientHandle;
use chat_server::room::JoinedRoom;
use common::nats::NatsServer;
use common::TIMEOUT;
use tempfile::TempDir;

/// The room every test speaks in.
const ROOM: &str = "contract";

/// Which log a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Off,
    Sqlite,
    /// A build without the `cluster` feature has no JetStream log.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    JetStream,
}

/// One log under test, with what it stands on.
struct Bench {
    kind: Kind,
    hub: Arc<Hub>,
    log: SharedLog,
    /// The SQLite file's store and directory (`sqlite` only).
    store: Option<(Arc<SqliteStore>, TempDir)>,
    /// The NATS server and the link to it (`jetstream` only).
    nats: Option<NatsServer>,
    /// The link's ups and downs, as async-nats reports them (`jetstream` only).
    #[cfg(feature = "cluster")]
    links: Option<tokio::sync::mpsc::UnboundedReceiver<Link>>,
}

impl Bench {
    /// A log of `kind` keeping at most `keep` messages per room, over a fresh hub.
    async fn start(kind: Kind, keep: Option<u64>) -> Bench {
        let hub = Arc::new(Hub::new());
        match kind {
            Kind::Off => Bench {
                kind,
                log: Arc::new(NoHistory::new(hub.clone())),
                hub,
                store: None,
                nats: None,
                #[cfg(feature = "cluster")]
                links: None,
            },
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let store = Arc::new(SqliteStore::open(&dir.path().join("chat.db")).expect("open"));
                let log = SqliteLog::start(store.clone() as Arc<dyn Store>, hub.clone())
                    .expect("writer thread");
                Bench {
                    kind,
                    log: Arc::new(log),
                    hub,
                    store: Some((store, dir)),
                    nats: None,
                    #[cfg(feature = "cluster")]
                    links: None,
                }
            }
            #[cfg(not(feature = "cluster"))]
            Kind::JetStream => unreachable!("not in KINDS without the cluster feature"),
            #[cfg(feature = "cluster")]
            Kind::JetStream => {
                let nats = NatsServer::start();
                let config = ClusterConfig {
                    node: Some("contract".into()),
                    ..ClusterConfig::new(nats.url())
                };
                let cluster = Arc::new(
                    Cluster::connect(&config, "contract".into())
                        .await
                        .expect("NATS keeps one replica"),
                );
                let links = cluster.take_inboxes().map(|inboxes| inboxes.links);
                let retention = StoreConfig {
                    keep_per_room: keep,
                    max_age: None,
                    ..StoreConfig::default()
                };
                let log = JetStreamLog::start(cluster.clone(), hub.clone(), retention);
                Bench {
                    kind,
                    log: Arc::new(log),
                    hub,
                    store: None,
                    nats: Some(nats),
                    links,
                }
            }
        }
    }

    /// Waits until the link to NATS reports `link` (`jetstream` only).
    #[cfg(feature = "cluster")]
    async fn link_becomes(&mut self, link: Link) {
        let links = self.links.as_mut().expect("a jetstream bench");
        loop {
            let next = tokio::time::timeout(TIMEOUT, links.recv())
                .await
                .unwrap_or_else(|_| panic!("the link to NATS is not {link:?} in time"));
            if next.expect("the link lives") == link {
                return;
            }
        }
    }

    /// Whether this log keeps history.
    fn keeps_history(&self) -> bool {
        self.kind != Kind::Off
    }

    /// Registers `name` and joins it to [`ROOM`] through the log with `backlog`; returns
    /// its queue (holding what came after `Welcome`), its sender and the room.
    async fn member(&self, name: &str, backlog: Backlog) -> Member {
        let (outbox, mut queue) = outbox::channel(1024);
        self.hub
            .register(
                ClientHandle::new(name.into(), outbox.clone()),
                "127.0.0.1:1".parse().unwrap(),
                None,
            )
            .expect("registered");
        queue.take_queued();
        let join = Join {
            name: name.into(),
            room: ROOM.into(),
            at: 0,
            backlog,
        };
        let room = match self.log.join(join) {
            Joining::Done(joined) => joined,
            Joining::Waiting(answer) => tokio::time::timeout(TIMEOUT, answer)
                .await
                .expect("the join is answered in time")
                .expect("the log answers"),
        }
        .expect("joined");
        Member {
            name: name.into(),
            outbox,
            queue,
            room,
            read: std::collections::VecDeque::new(),
        }
    }

    /// `member` says `texts` as one burst; returns once the log delivered (or refused) it.
    async fn say(&self, member: &Member, texts: &[&str]) {
        let mut burst = chat_server::log::Burst::default();
        for text in texts {
            burst.push(
                &member.room,
                &member.name,
                Said {
                    text: (*text).to_owned(),
                    at: 7,
                },
            );
        }
        let spoken = burst.take().expect("a burst with messages");
        if let Some(confirmed) = self.log.append(spoken, &member.outbox) {
            tokio::time::timeout(TIMEOUT, confirmed)
                .await
                .expect("the burst is confirmed in time")
                .expect("the log confirms");
        }
    }

    /// One page of [`ROOM`]: its seqs, `more` and `next`; `None` when history is off.
    async fn page(&self, from: Cursor, limit: u32) -> Option<(Vec<u64>, bool, Cursor)> {
        match self.page_frame(from, limit).await? {
            ServerFrame::History {
                messages,
                more,
                next,
                backlog: false,
                ..
            } => Some((messages.iter().map(|m| m.seq).collect(), more, next)),
            other => panic!("expected a page, got {other:?}"),
        }
    }

    /// One page of [`ROOM`] as it reads: each entry's seq, text and kind.
    async fn past(&self, from: Cursor, limit: u32) -> Vec<(u64, String, PastKind)> {
        match self.page_frame(from, limit).await.expect("history is kept") {
            ServerFrame::History { messages, .. } => messages
                .into_iter()
                .map(|m| (m.seq, m.text, m.kind))
                .collect(),
            other => panic!("expected a page, got {other:?}"),
        }
    }

    /// The `History` frame of one page of [`ROOM`]; `None` when history is off.
    async fn page_frame(&self, from: Cursor, limit: u32) -> Option<ServerFrame> {
        let read = self.log.page(ROOM.into(), ROOM.into(), from, limit)?;
        Some(
            tokio::time::timeout(TIMEOUT, read)
                .await
                .expect("the page is read in time")
                .expect("the read task ends")
                .expect("the page is read"),
        )
    }
}

/// A member of [`ROOM`].
struct Member {
    name: Arc<str>,
    outbox: Outbox,
    queue: Outgoing,
    room: JoinedRoom,
    /// Frames read from the queue and not yet looked at.
    read: std::collections::VecDeque<ServerFrame>,
}

impl Member {
    /// The next `n` frames queued to this member, waiting for them.
    async fn frames(&mut self, n: usize) -> Vec<ServerFrame> {
        while self.read.len() < n {
            let mut batch = Vec::new();
            let next = tokio::time::timeout(TIMEOUT, self.queue.next(&mut batch, 64))
                .await
                .unwrap_or_else(|_| panic!("{}: only {:?} of {n} frames", self.name, self.read));
            assert!(matches!(next, Next::Frames(_)), "{next:?}");
            self.queue.written();
            self.read.extend(
                decode_chunks(batch.iter().map(|w| &w[..]), CLIENT_MAX_FRAME)
                    .into_iter()
                    .map(|frame| frame.expect("a frame the client can read")),
            );
        }
        self.read.drain(..n).collect()
    }

    /// The seqs and texts of the next `n` messages, skipping `Joined` and presence.
    async fn messages(&mut self, n: usize) -> Vec<(u64, String)> {
        let mut messages = Vec::new();
        while messages.len() < n {
            match self.frames(1).await.remove(0) {
                ServerFrame::Msg { seq, text, .. } => messages.push((seq, text)),
                ServerFrame::Joined { .. } | ServerFrame::UserJoined { .. } => {}
                other => panic!("{}: expected a message, got {other:?}", self.name),
            }
        }
        messages
    }

    /// The backlog that follows `Joined` (skipping presence): its seqs and `missed`.
    async fn backlog(&mut self) -> (Vec<u64>, bool) {
        loop {
            match self.frames(1).await.remove(0) {
                ServerFrame::History {
                    messages,
                    backlog: true,
                    missed,
                    ..
                } => return (messages.iter().map(|m| m.seq).collect(), missed),
                ServerFrame::Joined { .. } | ServerFrame::UserJoined { .. } => continue,
                other => panic!("{}: expected the backlog, got {other:?}", self.name),
            }
        }
    }

    /// Skips `Joined` and presence frames, then expects nothing else queued now.
    fn assert_nothing_but_presence(&mut self) {
        let wire = self.queue.take_queued();
        let queued = decode_chunks(wire.iter().map(|w| &w[..]), CLIENT_MAX_FRAME)
            .into_iter()
            .map(|frame| frame.expect("a frame"));
        for frame in self.read.drain(..).chain(queued) {
            match frame {
                ServerFrame::Joined { .. } | ServerFrame::UserJoined { .. } => {}
                other => panic!("{}: expected nothing more, got {other:?}", self.name),
            }
        }
    }
}

/// `n` numbered texts.
fn texts(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

/// Says messages `m{range}` as bursts of at most 4.
async fn say_range(bench: &Bench, member: &Member, range: std::ops::RangeInclusive<u32>) {
    let all = texts(range);
    for chunk in all.chunks(4) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        bench.say(member, &chunk).await;
    }
}

/// Every log this build has.
#[cfg(feature = "cluster")]
const KINDS: &[Kind] = &[Kind::Off, Kind::Sqlite, Kind::JetStream];
#[cfg(not(feature = "cluster"))]
const KINDS: &[Kind] = &[Kind::Off, Kind::Sqlite];

/// Every log this build has that keeps history.
#[cfg(feature = "cluster")]
const STORING: &[Kind] = &[Kind::Sqlite, Kind::JetStream];
#[cfg(not(feature = "cluster"))]
const STORING: &[Kind] = &[Kind::Sqlite];

/// Seqs are dense from 1 and every member receives every burst whole, in one order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seqs_are_dense_and_every_member_gets_them_in_one_order() {
    for &kind in KINDS {
        let bench = Bench::start(kind, None).await;
        let mut ann = bench.member("ann", Backlog::None).await;
        let mut bob = bench.member("bob", Backlog::None).await;
        ann.frames(1).await; // bob joined
        bench.say(&ann, &["a1", "a2"]).await;
        bench.say(&bob, &["b1"]).await;
        bench.say(&ann, &["a3", "a4", "a5"]).await;
        let expected: Vec<(u64, String)> = ["a1", "a2", "b1", "a3", "a4", "a5"]
            .iter()
            .zip(1..)
            .map(|(text, seq)| (seq, (*text).to_owned()))
            .collect();
        assert_eq!(ann.messages(6).await, expected, "{kind:?}");
        assert_eq!(bob.messages(6).await, expected, "{kind:?}");
    }
}

/// Pages back from the latest and forward from the start each end exactly: every message
/// once, `more` false on the last page, no empty page needed to learn it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_both_ways_end_exactly() {
    for &kind in KINDS {
        let bench = Bench::start(kind, None).await;
        let mut ann = bench.member("ann", Backlog::None).await;
        say_range(&bench, &ann, 1..=10).await;
        ann.messages(10).await;
        let Some(first) = bench.page(Cursor::Latest, 4).await else {
            assert!(
                !bench.keeps_history(),
                "{kind:?} keeps history but pages none"
            );
            continue;
        };
        assert!(bench.keeps_history(), "{kind:?} keeps none but paged");
        assert_eq!(
            first,
            (vec![7, 8, 9, 10], true, Cursor::Before(7)),
            "{kind:?}"
        );
        let second = bench.page(Cursor::Before(7), 4).await.unwrap();
        assert_eq!(
            second,
            (vec![3, 4, 5, 6], true, Cursor::Before(3)),
            "{kind:?}"
        );
        let last = bench.page(Cursor::Before(3), 4).await.unwrap();
        assert_eq!(last, (vec![1, 2], false, Cursor::Before(1)), "{kind:?}");

        let forward = bench.page(Cursor::After(0), 4).await.unwrap();
        assert_eq!(
            forward,
            (vec![1, 2, 3, 4], true, Cursor::After(4)),
            "{kind:?}"
        );
        let end = bench.page(Cursor::After(8), 4).await.unwrap();
        assert_eq!(end, (vec![9, 10], false, Cursor::After(10)), "{kind:?}");
        let past = bench.page(Cursor::After(10), 4).await.unwrap();
        assert_eq!(past, (vec![], false, Cursor::After(10)), "{kind:?}");
    }
}

/// A join that catches up after a seq gets exactly the gap, then the live messages, each
/// once; one that asks from past the end, a seq the room never had, gets the latest and
/// `missed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_gets_exactly_the_gap_then_the_live_messages() {
    for &kind in KINDS {
        let bench = Bench::start(kind, None).await;
        let ann = bench.member("ann", Backlog::None).await;
        say_range(&bench, &ann, 1..=10).await;

        let mut bob = bench.member("bob", Backlog::After(6)).await;
        let (gap, missed) = bob.backlog().await;
        bench.say(&ann, &["live"]).await;
        let live = bob.messages(1).await;
        if bench.keeps_history() {
            assert_eq!((gap, missed), (vec![7, 8, 9, 10], false), "{kind:?}");
        } else {
            assert_eq!((gap, missed), (vec![], false), "{kind:?}");
        }
        assert_eq!(live, [(11, "live".to_owned())], "{kind:?}");

        let mut cat = bench.member("cat", Backlog::After(11)).await;
        assert_eq!(
            cat.backlog().await,
            (vec![], false),
            "{kind:?}: nothing missed"
        );
        let mut dan = bench.member("dan", Backlog::After(50)).await;
        let (latest, missed) = dan.backlog().await;
        if bench.keeps_history() {
            assert_eq!(latest.last(), Some(&11), "{kind:?}");
            assert!(missed, "{kind:?}: seq 50 was never this room's");
        }
        let mut eve = bench.member("eve", Backlog::Latest(3)).await;
        let (latest, _) = eve.backlog().await;
        if bench.keeps_history() {
            assert_eq!(latest, [9, 10, 11], "{kind:?}");
        } else {
            assert_eq!(latest, Vec::<u64>::new(), "{kind:?}");
        }
        eve.assert_nothing_but_presence();
    }
}

/// A catch-up from before what the log still keeps says `missed` and gets the latest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_from_before_what_is_kept_is_missed() {
    for &kind in STORING {
        let bench = Bench::start(kind, Some(3)).await;
        let ann = bench.member("ann", Backlog::None).await;
        say_range(&bench, &ann, 1..=8).await;
        if let Some((store, _)) = &bench.store {
            store.trim(3, None).expect("trim to 3");
        }
        let mut bob = bench.member("bob", Backlog::After(2)).await;
        assert_eq!(bob.backlog().await, (vec![6, 7, 8], true), "{kind:?}");
        let mut cat = bench.member("cat", Backlog::After(5)).await;
        assert_eq!(cat.backlog().await, (vec![6, 7, 8], false), "{kind:?}");
    }
}

/// When the store fails, the sender is told, nobody gets the burst, and no seq is used:
/// once it works again the next message is numbered on from the last one stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_stored_delivered_or_numbered_when_the_store_fails() {
    for &kind in STORING {
        let mut bench = Bench::start(kind, None).await;
        let mut ann = bench.member("ann", Backlog::None).await;
        let mut bob = bench.member("bob", Backlog::None).await;
        ann.frames(1).await; // bob joined
        bench.say(&ann, &["kept"]).await;
        assert_eq!(bob.messages(1).await, [(1, "kept".to_owned())]);
        ann.messages(1).await;

        let blocker = match kind {
            Kind::Sqlite => {
                let (_, dir) = bench.store.as_ref().unwrap();
                let blocker = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
                blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
                Some(blocker)
            }
            _ => {
                // Sent before the link knows NATS is gone, a message is handed to the NATS
                // client, which may still deliver it later: refused as unconfirmed, not
                // as unsent. The contract is about what was not sent.
                #[cfg(feature = "cluster")]
                {
                    bench.nats.as_mut().unwrap().kill();
                    bench.link_becomes(Link::Down).await;
                }
                None
            }
        };
        bench.say(&ann, &["lost", "lost too"]).await;
        let expected = match kind {
            Kind::Sqlite => ErrorKind::StoreFailed,
            _ => ErrorKind::ClusterUnavailable,
        };
        match ann.frames(1).await.remove(0) {
            ServerFrame::Error { kind: got, .. } => assert_eq!(got, expected, "{kind:?}"),
            other => panic!("{kind:?}: expected the refusal, got {other:?}"),
        }
        if let Some(blocker) = blocker {
            blocker.execute_batch("ROLLBACK").unwrap();
        } else {
            #[cfg(feature = "cluster")]
            {
                bench.nats.as_mut().unwrap().restart();
                bench.link_becomes(Link::Up).await;
            }
        }
        bench.say(&ann, &["after"]).await;
        assert_eq!(
            ann.messages(1).await,
            [(2, "after".to_owned())],
            "{kind:?}: numbered on from the last stored"
        );
        assert_eq!(
            bob.messages(1).await,
            [(2, "after".to_owned())],
            "{kind:?}: bob never got the refused burst"
        );
        let page = bench.page(Cursor::After(0), 10).await.unwrap();
        assert_eq!(page.0, [1, 2], "{kind:?}: the refused burst was not stored");
    }
}

/// Makes `kind` in [`ROOM`] for `by`: the entry the log made (its seq), or its refusal.
async fn change(
    bench: &Bench,
    member: &Member,
    by: &str,
    kind: ChangeKind,
) -> Result<chat_proto::Past, ChangeRefusal> {
    let change = Change {
        room: member.room.clone(),
        by: by.into(),
        at: 9,
        kind,
    };
    tokio::time::timeout(TIMEOUT, bench.log.change(change))
        .await
        .expect("the change is answered in time")
        .expect("the log answers")
}

/// Removes message `target` for `by` (anyone's when `any`): the removal's seq.
async fn remove(
    bench: &Bench,
    member: &Member,
    target: u64,
    by: &str,
    any: bool,
) -> Result<u64, ChangeRefusal> {
    let made = change(bench, member, by, ChangeKind::Remove { target, any }).await?;
    Ok(made.seq)
}

/// Every file under `dir`, read whole.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path, bytes));
            }
        }
    }
    found
}

/// Whether any file under `dir` holds `text`.
fn held_under(dir: &std::path::Path, text: &str) -> bool {
    files_under(dir)
        .iter()
        .any(|(_, bytes)| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
}

/// A removal is a message of the log with its own seq, delivered live as `MessageRemoved`;
/// pages, backlogs and catch-ups show a tombstone in the removed message's place and the
/// removal in its own; the removed text is gone from the store's files while the rest
/// stays. Removals in one record (several in a burst), of a whole record, and of a message
/// in the last record all hold; what may not be removed is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_is_a_message_of_the_log_and_the_text_leaves_the_store() {
    for &kind in STORING {
        let bench = Bench::start(kind, None).await;
        let mut ann = bench.member("ann", Backlog::None).await;
        let mut bob = bench.member("bob", Backlog::None).await;
        ann.frames(1).await; // bob joined
        bench
            .say(&ann, &["first secret", "second secret", "third secret"])
            .await;
        bench.say(&bob, &["kept by bob"]).await;
        bench.say(&ann, &["kept by ann", "last secret"]).await;
        assert_eq!(bob.messages(6).await.len(), 6);
        ann.messages(6).await;

        let refused = remove(&bench, &bob, 2, "bob", false).await;
        assert_eq!(refused, Err(ChangeRefusal::NotYours(2)), "{kind:?}");
        assert_eq!(
            remove(&bench, &ann, 2, "ann", false).await,
            Ok(7),
            "{kind:?}"
        );
        assert_eq!(
            remove(&bench, &ann, 3, "ann", false).await,
            Ok(8),
            "{kind:?}"
        );
        assert_eq!(
            remove(&bench, &bob, 1, "mod", true).await,
            Ok(9),
            "{kind:?}"
        );
        assert_eq!(
            remove(&bench, &ann, 6, "ann", false).await,
            Ok(10),
            "{kind:?}"
        );
        for seq in [2, 7, 11] {
            assert!(
                matches!(
                    remove(&bench, &ann, seq, "ann", true).await,
                    Err(ChangeRefusal::NoSuchMessage { seq: s, .. }) if s == seq
                ),
                "{kind:?}: {seq} is removed already, a removal, or never sent"
            );
        }

        // Live: every member gets each removal, in the room's order.
        let mut live = Vec::new();
        while live.len() < 4 {
            match bob.frames(1).await.remove(0) {
                ServerFrame::MessageRemoved {
                    seq, target, by, ..
                } => live.push((seq, target, by)),
                other => panic!("{kind:?}: expected a removal, got {other:?}"),
            }
        }
        let removals = [(7, 2, "ann"), (8, 3, "ann"), (9, 1, "mod"), (10, 6, "ann")];
        let expected: Vec<(u64, u64, String)> = removals
            .iter()
            .map(|&(seq, target, by)| (seq, target, by.to_owned()))
            .collect();
        assert_eq!(live, expected, "{kind:?}");

        // History: tombstones in place, removals in theirs.
        let removed = |by: &str| PastKind::Removed { by: by.into() };
        let removal = |target| PastKind::Removal { target };
        let all = vec![
            (1, String::new(), removed("mod")),
            (2, String::new(), removed("ann")),
            (3, String::new(), removed("ann")),
            (4, "kept by bob".to_owned(), PastKind::Message),
            (5, "kept by ann".to_owned(), PastKind::Message),
            (6, String::new(), removed("ann")),
            (7, String::new(), removal(2)),
            (8, String::new(), removal(3)),
            (9, String::new(), removal(1)),
            (10, String::new(), removal(6)),
        ];
        assert_eq!(bench.past(Cursor::Latest, 50).await, all, "{kind:?}");
        assert_eq!(
            bench.past(Cursor::Before(4), 2).await,
            all[1..3],
            "{kind:?}: a page that starts in a removed record"
        );
        assert_eq!(bench.past(Cursor::After(1), 3).await, all[1..4], "{kind:?}");
        assert_eq!(
            bench.past(Cursor::After(0), 1).await,
            all[..1],
            "{kind:?}: the room's first message, removed"
        );

        // A catch-up replays the removals exactly.
        let mut cat = bench.member("cat", Backlog::After(5)).await;
        assert_eq!(
            cat.backlog().await,
            (vec![6, 7, 8, 9, 10], false),
            "{kind:?}"
        );

        // The texts left the store's files; what was not removed is still there.
        let dir = match kind {
            Kind::Sqlite => bench.store.as_ref().unwrap().1.path().to_path_buf(),
            _ => bench.nats.as_ref().unwrap().store_dir().to_path_buf(),
        };
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let kept = held_under(&dir, "kept by bob") && held_under(&dir, "kept by ann");
            let gone = [
                "first secret",
                "second secret",
                "third secret",
                "last secret",
            ]
            .iter()
            .all(|text| !held_under(&dir, text));
            if kept && gone {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{kind:?}: kept texts on disk {kept}, removed texts gone {gone}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        println!("{kind:?}: removed texts gone from the store's files");
    }
}

/// The next frame queued to `member` that is not presence.
async fn next_event(member: &mut Member) -> ServerFrame {
    loop {
        match member.frames(1).await.remove(0) {
            ServerFrame::Joined { .. } | ServerFrame::UserJoined { .. } => continue,
            frame => return frame,
        }
    }
}

/// A reply is a message of the log that names the message it answers: delivered live as an
/// `Event`, kept with its `reply_to`, and refused when the room holds no such message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_names_the_message_it_answers() {
    for &kind in STORING {
        let bench = Bench::start(kind, None).await;
        let mut ann = bench.member("ann", Backlog::None).await;
        let bob = bench.member("bob", Backlog::None).await;
        bench.say(&ann, &["a question", "another"]).await;
        ann.messages(2).await;
        let reply = ChangeKind::Reply {
            to: 1,
            text: "an answer".into(),
        };
        let made = change(&bench, &bob, "bob", reply).await.expect("replied");
        assert_eq!((made.seq, made.reply_to), (3, Some(1)), "{kind:?}");
        match next_event(&mut ann).await {
            ServerFrame::Event { room, entry } => {
                assert_eq!(room, ROOM);
                assert_eq!(entry, made, "{kind:?}: delivered as kept");
            }
            other => panic!("{kind:?}: expected the reply, got {other:?}"),
        }
        let page = bench.past(Cursor::After(2), 5).await;
        assert_eq!(
            page,
            [(3, "an answer".to_owned(), PastKind::Message)],
            "{kind:?}"
        );
        let ServerFrame::History { messages, .. } =
            bench.page_frame(Cursor::After(2), 1).await.unwrap()
        else {
            unreachable!()
        };
        assert_eq!(
            messages[0].reply_to,
            Some(1),
            "{kind:?}: kept with its target"
        );

        remove(&bench, &ann, 2, "ann", false)
            .await
            .expect("removed");
        for to in [2, 4, 99] {
            let reply = ChangeKind::Reply {
                to,
                text: "to nothing".into(),
            };
            assert!(
                matches!(
                    change(&bench, &bob, "bob", reply).await,
                    Err(ChangeRefusal::NoSuchMessage { seq, .. }) if seq == to
                ),
                "{kind:?}: {to} is removed, a removal, or never sent"
            );
        }
    }
}

/// Edits and reactions are entries of the log with their own seqs; history gives the
/// message as it stands (its new text, when it was edited, its reactions with who gave
/// them) and the events in their places; what may not be done is refused. The cluster's
/// log refuses them, saying so, until it keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_reactions_change_the_message_history_gives() {
    let limits = chat_server::log::ReactionLimits {
        emoji: 2,
        reactions: 3,
    };
    let react = |target, emoji: &str, on| ChangeKind::React {
        target,
        emoji: emoji.into(),
        on,
        limits,
    };
    let edit = |target, text: &str, window| ChangeKind::Edit {
        target,
        text: text.into(),
        window,
    };
    for &kind in STORING {
        let bench = Bench::start(kind, None).await;
        let mut ann = bench.member("ann", Backlog::None).await;
        let bob = bench.member("bob", Backlog::None).await;
        bench.say(&ann, &["helo", "second"]).await;
        ann.messages(2).await;
        if kind == Kind::JetStream {
            for change_kind in [edit(1, "hello", None), react(1, "👍", true)] {
                assert!(matches!(
                    change(&bench, &ann, "ann", change_kind).await,
                    Err(ChangeRefusal::NotInCluster(_))
                ));
            }
            continue;
        }
        let edited = change(&bench, &ann, "ann", edit(1, "hello", None)).await;
        assert_eq!(edited.expect("edited").kind, PastKind::Edit { target: 1 });
        assert_eq!(
            change(&bench, &bob, "bob", edit(1, "hijacked", None)).await,
            Err(ChangeRefusal::NotYours(1))
        );
        assert!(matches!(
            change(&bench, &ann, "ann", edit(2, "late", Some(0))).await,
            Err(ChangeRefusal::EditWindowPassed { seq: 2, .. })
        ));
        for (who, emoji) in [("bob", "👍"), ("ann", "👍"), ("bob", "🎉")] {
            let member = if who == "ann" { &ann } else { &bob };
            change(&bench, member, who, react(1, emoji, true))
                .await
                .expect("reacted");
        }
        assert!(matches!(
            change(&bench, &bob, "bob", react(1, "👍", true)).await,
            Err(ChangeRefusal::Reaction(_))
        ));
        assert!(matches!(
            change(&bench, &ann, "ann", react(1, "😀", true)).await,
            Err(ChangeRefusal::TooManyReactions { .. })
        ));
        change(&bench, &ann, "ann", react(1, "👍", false))
            .await
            .expect("taken back");
        assert!(matches!(
            change(&bench, &ann, "ann", react(1, "👍", false)).await,
            Err(ChangeRefusal::Reaction(_))
        ));
        assert!(matches!(
            change(&bench, &ann, "ann", react(7, "👍", true)).await,
            Err(ChangeRefusal::NoSuchMessage { seq: 7, .. })
        ));

        // Live: each change in order.
        let mut live = Vec::new();
        while live.len() < 5 {
            match next_event(&mut ann).await {
                ServerFrame::Event { entry, .. } => live.push((entry.seq, entry.kind)),
                other => panic!("expected an event, got {other:?}"),
            }
        }
        let thumbs = |target| PastKind::React {
            target,
            emoji: "👍".into(),
        };
        assert_eq!(
            live,
            [
                (3, PastKind::Edit { target: 1 }),
                (4, thumbs(1)),
                (5, thumbs(1)),
                (
                    6,
                    PastKind::React {
                        target: 1,
                        emoji: "🎉".into()
                    }
                ),
                (
                    7,
                    PastKind::Unreact {
                        target: 1,
                        emoji: "👍".into()
                    }
                ),
            ]
        );

        // History: the message as it stands.
        let ServerFrame::History { messages, .. } =
            bench.page_frame(Cursor::Latest, 50).await.unwrap()
        else {
            unreachable!()
        };
        let first = &messages[0];
        assert_eq!((first.seq, first.text.as_str()), (1, "hello"));
        assert_eq!(first.edited, Some(9));
        let reactions: Vec<(&str, Vec<&str>)> = first
            .reactions
            .iter()
            .map(|r| (r.emoji.as_str(), r.by.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(reactions, [("👍", vec!["bob"]), ("🎉", vec!["bob"])]);
        assert_eq!(messages.len(), 7);
        assert!(messages[2..].iter().all(|m| m.reactions.is_empty()));

        // A removal takes the text of the message and of its edits, and its reactions.
        remove(&bench, &ann, 1, "ann", false)
            .await
            .expect("removed");
        let page = bench.past(Cursor::After(0), 3).await;
        assert_eq!(
            page,
            [
                (1, String::new(), PastKind::Removed { by: "ann".into() }),
                (2, "second".to_owned(), PastKind::Message),
                (3, String::new(), PastKind::Edit { target: 1 }),
            ]
        );
        assert!(matches!(
            change(&bench, &ann, "ann", edit(1, "again", None)).await,
            Err(ChangeRefusal::NoSuchMessage { seq: 1, .. })
        ));
        let dir = bench.store.as_ref().unwrap().1.path().to_path_buf();
        assert!(!held_under(&dir, "hello"), "the edited text left the file");
    }
}
