//! [`Catchup`]: what a follower of rooms has shown of each room's log, and the paging that
//! shows the rest exactly once, for `listen` and the REPL.
//!
//! A `Join` with a backlog is answered by `Joined`, then one `History{backlog: true}`
//! before any live message; the backlog holds at most the server's cap (`Welcome`'s
//! `history`). When more was asked for, the rest comes from `History` requests, while live
//! messages keep arriving:
//!
//! ```text
//!  Join{rust, Latest(1200)} ─►   ◄─ Joined, History{500, more, next: Before(701)}
//!  History{Before(701), 500} ─►  ◄─ Msg{seq 1201} (held)   ◄─ History{500, next: Before(201)}
//!  History{Before(201), 200} ─►  ◄─ History{200}: show 1..1200, then the held 1201
//! ```
//!
//! Paging back (`Latest(n)` past the cap, the REPL's `/history`), nothing is shown until the
//! last page is in, so the messages come out oldest first. Paging forward (`After(seq)`,
//! the catch-up after a reconnection) each page is shown as it comes. Either way the room's
//! live messages are held meanwhile and shown after, except those already shown: `seq` is
//! dense, so a message is new exactly when its `seq` is above the last one shown.
//!
//! The machine does no I/O: the caller feeds it every frame ([`Catchup::on_frame`]) and
//! carries out its [`Step`]s, sending the requests it asks for.

use std::collections::HashMap;

use chat_proto::input::JOIN_BACKLOG;
use chat_proto::validate::room_key;
use chat_proto::{Backlog, ClientFrame, Cursor, Past, ServerFrame};

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Show this frame as it is: a live message not shown before, or anything else.
    Show(ServerFrame),
    /// Show this message of `room`'s log.
    Past {
        /// The room's name as shown.
        room: String,
        /// The message.
        message: Past,
    },
    /// Say that some messages of `room` are no longer available: the catch-up reached past
    /// what the server keeps, and the latest messages follow instead.
    Missed {
        /// The room's name as shown.
        room: String,
    },
    /// An [`Catchup::earlier`] fetch is complete: `count` messages of `room` follow (as
    /// [`Step::Past`]), oldest first.
    Earlier {
        /// The room's name as shown.
        room: String,
        /// How many follow; 0 when the room has nothing older.
        count: usize,
    },
    /// Send this `History` request; its answer goes to [`Catchup::on_frame`] like any frame.
    Ask(ClientFrame),
}

/// Per room (by [`room_key`]): what has been shown of its log and what is being fetched.
#[derive(Debug, Default)]
pub struct Catchup {
    /// The server's page cap (`Welcome`'s `history`); `0`: it keeps no history.
    cap: u32,
    /// The rooms followed, by key.
    rooms: HashMap<String, Shown>,
}

/// One room's part of [`Catchup`].
#[derive(Debug, Default)]
struct Shown {
    /// The lowest `seq` shown: where `/history` goes back from.
    first: Option<u64>,
    /// The highest `seq` shown: a live message at or below it was shown already, and a
    /// reconnection catches up from it.
    last: Option<u64>,
    /// A fetch in progress; live messages are held while there is one.
    fetch: Option<Fetch>,
    /// The room's live messages that arrived during the fetch, in order.
    held: Vec<ServerFrame>,
}

/// What a room is waiting for.
#[derive(Debug)]
enum Fetch {
    /// The `History{backlog: true}` of a join that asked for this.
    Backlog(Backlog),
    /// Pages backwards until `remaining` more messages are in.
    Back {
        /// How many more are wanted.
        remaining: u64,
        /// The pages so far, newest page first, each oldest first.
        pages: Vec<Vec<Past>>,
        /// Asked for by a person (`/history`): announced with [`Step::Earlier`].
        announce: bool,
    },
    /// Pages forwards until the server says there is no more.
    Forward,
}

impl Shown {
    /// Notes that the message `seq` is being shown.
    fn note(&mut self, seq: u64) {
        self.first = Some(self.first.map_or(seq, |f| f.min(seq)));
        self.last = Some(self.last.map_or(seq, |l| l.max(seq)));
    }

    /// Whether the live message `seq` is shown already.
    fn has_shown(&self, seq: u64) -> bool {
        self.last.is_some_and(|last| seq <= last)
    }

    /// The fetch is over: shows the held live messages not shown yet.
    fn finish(&mut self, steps: &mut Vec<Step>) {
        self.fetch = None;
        for frame in std::mem::take(&mut self.held) {
            if let ServerFrame::Msg { seq, .. } = frame {
                if self.has_shown(seq) {
                    continue;
                }
                self.note(seq);
            }
            steps.push(Step::Show(frame));
        }
    }

    /// Shows `messages` of `room` (oldest first) that are newer than the last shown.
    fn show_newer(&mut self, room: &str, messages: Vec<Past>, steps: &mut Vec<Step>) {
        for message in messages {
            if self.has_shown(message.seq) {
                continue;
            }
            self.note(message.seq);
            steps.push(Step::Past {
                room: room.to_owned(),
                message,
            });
        }
    }
}

impl Catchup {
    /// Nothing followed yet, for a server whose pages hold at most `cap` messages (`0`: no
    /// history).
    pub fn new(cap: u32) -> Catchup {
        Catchup {
            cap,
            rooms: HashMap::new(),
        }
    }

    /// A new connection, whose server pages `cap` messages: what the old one was fetching
    /// will not come (the rejoins catch up from the last message shown instead). A server
    /// without history numbers each room from 1 again, so then nothing shown before counts.
    pub fn reconnected(&mut self, cap: u32) {
        for shown in self.rooms.values_mut() {
            shown.fetch = None;
            shown.held.clear();
            if cap == 0 {
                shown.first = None;
                shown.last = None;
            }
        }
        self.cap = cap;
    }

    /// A `Join` of `room` asking for `backlog` goes out: its `History{backlog: true}`
    /// starts the room's catch-up, and its live messages wait until it is done.
    /// `Backlog::None` follows the room without a catch-up. A room already being fetched
    /// (joined again meanwhile) goes on with that fetch; the second backlog then shows only
    /// what is new.
    pub fn joining(&mut self, room: &str, backlog: Backlog) {
        let shown = self.rooms.entry(room_key(room)).or_default();
        if shown.fetch.is_none() && backlog != Backlog::None {
            shown.fetch = Some(Fetch::Backlog(backlog));
        }
    }

    /// The backlog to rejoin `room` with after a reconnection, so that exactly what was
    /// missed is shown: the messages after the last one shown (all of the room's log when
    /// nothing was shown, the log having been empty at the join). Without history on the
    /// last server the `seq`s shown say nothing about the log, so then the latest
    /// screenful, as `/join` shows. Call before [`Catchup::reconnected`].
    pub fn resume(&mut self, room: &str) -> Backlog {
        let shown = self.rooms.entry(room_key(room)).or_default();
        if self.cap == 0 {
            shown.first = None;
            shown.last = None;
            return Backlog::Latest(JOIN_BACKLOG);
        }
        Backlog::After(shown.last.unwrap_or(0))
    }

    /// `room` is left: nothing of it is followed any more.
    pub fn forget(&mut self, room: &str) {
        self.rooms.remove(&room_key(room));
    }

    /// The `History` request for `count` messages of `room` older than the oldest shown
    /// (the latest, when nothing was shown), paging on past the server's cap; `None` while
    /// the room is still being fetched.
    pub fn earlier(&mut self, room: &str, count: u32) -> Option<ClientFrame> {
        let shown = self.rooms.entry(room_key(room)).or_default();
        if shown.fetch.is_some() {
            return None;
        }
        shown.fetch = Some(Fetch::Back {
            remaining: u64::from(count),
            pages: Vec::new(),
            announce: true,
        });
        let from = shown.first.map_or(Cursor::Latest, Cursor::Before);
        Some(page_request(room, from, u64::from(count), self.cap))
    }

    /// A request for `room`'s log was refused (or its backlog could not be read): shows
    /// what was fetched so far, then the held live messages.
    pub fn abandon(&mut self, room: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(shown) = self.rooms.get_mut(&room_key(room)) {
            if let Some(Fetch::Back {
                pages, announce, ..
            }) = shown.fetch.take()
            {
                show_back(shown, room, pages, announce, &mut steps);
            }
            shown.finish(&mut steps);
        }
        steps
    }

    /// What to do with one frame from the server.
    pub fn on_frame(&mut self, frame: ServerFrame) -> Vec<Step> {
        let mut steps = Vec::new();
        match frame {
            ServerFrame::Msg { ref room, seq, .. } => {
                let Some(shown) = self.rooms.get_mut(&room_key(room)) else {
                    return vec![Step::Show(frame)];
                };
                if shown.fetch.is_some() {
                    shown.held.push(frame);
                } else if !shown.has_shown(seq) {
                    shown.note(seq);
                    steps.push(Step::Show(frame));
                }
            }
            ServerFrame::History {
                room,
                messages,
                more,
                next,
                backlog,
                missed,
            } => {
                let cap = self.cap;
                let shown = self.rooms.entry(room_key(&room)).or_default();
                let page = Answer {
                    room,
                    messages,
                    more,
                    next,
                };
                match (shown.fetch.take(), backlog) {
                    (Some(Fetch::Backlog(asked)), true) => {
                        on_backlog(shown, asked, page, missed, cap, &mut steps);
                    }
                    (
                        Some(Fetch::Back {
                            remaining,
                            pages,
                            announce,
                        }),
                        false,
                    ) => on_page_back(shown, remaining, pages, announce, page, cap, &mut steps),
                    (Some(Fetch::Forward), false) => {
                        let progressed = !page.messages.is_empty();
                        shown.show_newer(&page.room, page.messages, &mut steps);
                        if page.more && progressed && cap > 0 {
                            shown.fetch = Some(Fetch::Forward);
                            steps.push(Step::Ask(page_request(
                                &page.room,
                                page.next,
                                u64::from(cap),
                                cap,
                            )));
                        } else {
                            shown.finish(&mut steps);
                        }
                    }
                    (fetch, _) => {
                        // Not one this machine asked for (a repeated join, another
                        // command's page): shown as it is.
                        shown.fetch = fetch;
                        steps.push(Step::Show(ServerFrame::History {
                            room: page.room,
                            messages: page.messages,
                            more: page.more,
                            next: page.next,
                            backlog,
                            missed,
                        }));
                    }
                }
            }
            ServerFrame::Parted { ref room } => {
                self.forget(room);
                steps.push(Step::Show(frame));
            }
            other => steps.push(Step::Show(other)),
        }
        steps
    }
}

/// A `History` frame's page, taken apart.
struct Answer {
    room: String,
    messages: Vec<Past>,
    more: bool,
    next: Cursor,
}

/// The join's backlog arrived.
fn on_backlog(
    shown: &mut Shown,
    asked: Backlog,
    page: Answer,
    missed: bool,
    cap: u32,
    steps: &mut Vec<Step>,
) {
    let Answer {
        room,
        messages,
        more,
        next,
    } = page;
    if missed {
        // The page is the latest messages, not those after what was shown: start over.
        steps.push(Step::Missed { room: room.clone() });
        shown.first = None;
        shown.last = None;
        shown.show_newer(&room, messages, steps);
        shown.finish(steps);
        return;
    }
    match asked {
        Backlog::Latest(n) if more && cap > 0 && (messages.len() as u64) < u64::from(n) => {
            let remaining = u64::from(n) - messages.len() as u64;
            shown.fetch = Some(Fetch::Back {
                remaining,
                pages: vec![messages],
                announce: false,
            });
            steps.push(Step::Ask(page_request(&room, next, remaining, cap)));
        }
        Backlog::After(_) if more && cap > 0 && !messages.is_empty() => {
            shown.show_newer(&room, messages, steps);
            shown.fetch = Some(Fetch::Forward);
            steps.push(Step::Ask(page_request(&room, next, u64::from(cap), cap)));
        }
        _ => {
            shown.show_newer(&room, messages, steps);
            shown.finish(steps);
        }
    }
}

/// A page backwards arrived.
fn on_page_back(
    shown: &mut Shown,
    remaining: u64,
    mut pages: Vec<Vec<Past>>,
    announce: bool,
    page: Answer,
    cap: u32,
    steps: &mut Vec<Step>,
) {
    let got = page.messages.len() as u64;
    let remaining = remaining.saturating_sub(got);
    pages.push(page.messages);
    if page.more && remaining > 0 && got > 0 && cap > 0 {
        shown.fetch = Some(Fetch::Back {
            remaining,
            pages,
            announce,
        });
        steps.push(Step::Ask(page_request(
            &page.room, page.next, remaining, cap,
        )));
        return;
    }
    show_back(shown, &page.room, pages, announce, steps);
    shown.finish(steps);
}

/// Shows the pages of a backwards fetch (newest page first), oldest message first.
fn show_back(
    shown: &mut Shown,
    room: &str,
    pages: Vec<Vec<Past>>,
    announce: bool,
    steps: &mut Vec<Step>,
) {
    if announce {
        steps.push(Step::Earlier {
            room: room.to_owned(),
            count: pages.iter().map(Vec::len).sum(),
        });
    }
    for message in pages.into_iter().rev().flatten() {
        shown.note(message.seq);
        steps.push(Step::Past {
            room: room.to_owned(),
            message,
        });
    }
}

/// A `History` request for `room` from `from`: `wanted` messages, at most `cap` (`0`: the
/// server keeps no history and refuses anyway).
fn page_request(room: &str, from: Cursor, wanted: u64, cap: u32) -> ClientFrame {
    let limit = if cap > 0 {
        wanted.min(u64::from(cap))
    } else {
        wanted
    };
    ClientFrame::History {
        room: room.to_owned(),
        from,
        limit: u32::try_from(limit).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(seq: u64) -> Past {
        Past {
            seq,
            from: "alice".into(),
            text: format!("m{seq}"),
            at: 0,
            kind: chat_proto::PastKind::Message,
            reply_to: None,
            edited: None,
            reactions: vec![],
        }
    }

    fn msg(seq: u64) -> ServerFrame {
        ServerFrame::Msg {
            room: "rust".into(),
            from: "alice".into(),
            text: format!("m{seq}"),
            at: 0,
            seq,
        }
    }

    fn history(seqs: impl IntoIterator<Item = u64>, more: bool, next: Cursor) -> ServerFrame {
        ServerFrame::History {
            room: "rust".into(),
            messages: seqs.into_iter().map(past).collect(),
            more,
            next,
            backlog: false,
            missed: false,
        }
    }

    fn backlog(frame: ServerFrame, missed: bool) -> ServerFrame {
        match frame {
            ServerFrame::History {
                room,
                messages,
                more,
                next,
                ..
            } => ServerFrame::History {
                room,
                messages,
                more,
                next,
                backlog: true,
                missed,
            },
            other => other,
        }
    }

    /// The seqs shown, in order, past and live alike.
    fn shown(steps: &[Step]) -> Vec<u64> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Past { message, .. } => Some(message.seq),
                Step::Show(ServerFrame::Msg { seq, .. }) => Some(*seq),
                _ => None,
            })
            .collect()
    }

    fn asks(steps: &[Step]) -> Vec<ClientFrame> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Ask(frame) => Some(frame.clone()),
                _ => None,
            })
            .collect()
    }

    fn ask(from: Cursor, limit: u32) -> ClientFrame {
        ClientFrame::History {
            room: "rust".into(),
            from,
            limit,
        }
    }

    /// The latest 1200 with a cap of 500: two more pages back, shown oldest first once all
    /// are in, and a live message that came meanwhile after them.
    #[test]
    fn a_backlog_past_the_cap_pages_back_and_shows_oldest_first() {
        let mut c = Catchup::new(500);
        c.joining("Rust", Backlog::Latest(1200));
        let steps = c.on_frame(backlog(
            history(801..=1300, true, Cursor::Before(801)),
            false,
        ));
        assert_eq!(shown(&steps), Vec::<u64>::new());
        assert_eq!(asks(&steps), [ask(Cursor::Before(801), 500)]);
        assert!(c.on_frame(msg(1301)).is_empty(), "held while paging");
        let steps = c.on_frame(history(301..=800, true, Cursor::Before(301)));
        assert_eq!(asks(&steps), [ask(Cursor::Before(301), 200)]);
        let steps = c.on_frame(history(101..=300, true, Cursor::Before(101)));
        assert_eq!(asks(&steps), []);
        assert_eq!(shown(&steps), (101..=1301).collect::<Vec<_>>());
        assert_eq!(shown(&c.on_frame(msg(1302))), [1302]);
    }

    /// A catch-up after seq 10 with 1000 newer messages: pages forward, shown as they come;
    /// live messages held meanwhile are shown after, each once.
    #[test]
    fn a_catch_up_pages_forward_and_never_shows_a_message_twice() {
        let mut c = Catchup::new(500);
        c.joining("rust", Backlog::After(10));
        let steps = c.on_frame(backlog(history(11..=510, true, Cursor::After(510)), false));
        assert_eq!(shown(&steps), (11..=510).collect::<Vec<_>>());
        assert_eq!(asks(&steps), [ask(Cursor::After(510), 500)]);
        // Live messages while paging; the next page already holds some of them.
        assert!(c.on_frame(msg(1009)).is_empty());
        assert!(c.on_frame(msg(1010)).is_empty());
        assert!(c.on_frame(msg(1011)).is_empty());
        let steps = c.on_frame(history(511..=1010, true, Cursor::After(1010)));
        assert_eq!(shown(&steps), (511..=1010).collect::<Vec<_>>());
        assert_eq!(asks(&steps), [ask(Cursor::After(1010), 500)]);
        let steps = c.on_frame(history(1011..=1011, false, Cursor::After(1011)));
        assert_eq!(shown(&steps), [1011]);
        assert_eq!(shown(&c.on_frame(msg(1011))), Vec::<u64>::new());
        assert_eq!(shown(&c.on_frame(msg(1012))), [1012]);
        assert_eq!(c.resume("RUST"), Backlog::After(1012));
    }

    /// A catch-up the server could not serve says so, shows the latest, and forgets what was
    /// shown before (the log may have started over).
    #[test]
    fn a_missed_catch_up_says_so_and_starts_over() {
        let mut c = Catchup::new(500);
        c.joining("rust", Backlog::After(10));
        let steps = c.on_frame(backlog(history(1..=3, false, Cursor::Before(1)), true));
        assert_eq!(
            steps[0],
            Step::Missed {
                room: "rust".into()
            }
        );
        assert_eq!(shown(&steps), [1, 2, 3]);
        assert_eq!(shown(&c.on_frame(msg(4))), [4]);
    }

    /// `/history` goes back from the oldest message shown, in pages, and says how many.
    #[test]
    fn earlier_pages_back_from_the_oldest_shown() {
        let mut c = Catchup::new(500);
        c.joining("rust", Backlog::Latest(20));
        let steps = c.on_frame(backlog(
            history(981..=1000, true, Cursor::Before(981)),
            false,
        ));
        assert_eq!(shown(&steps), (981..=1000).collect::<Vec<_>>());
        assert_eq!(c.earlier("rust", 600), Some(ask(Cursor::Before(981), 500)));
        assert_eq!(c.earlier("rust", 5), None, "one fetch at a time");
        let steps = c.on_frame(history(481..=980, true, Cursor::Before(481)));
        assert_eq!(asks(&steps), [ask(Cursor::Before(481), 100)]);
        let steps = c.on_frame(history(381..=480, true, Cursor::Before(381)));
        assert_eq!(
            steps[0],
            Step::Earlier {
                room: "rust".into(),
                count: 600
            }
        );
        assert_eq!(shown(&steps), (381..=980).collect::<Vec<_>>());
        assert_eq!(c.earlier("rust", 5), Some(ask(Cursor::Before(381), 5)));
    }

    /// After a reconnection a fetch of the old connection is dropped and the room resumes
    /// from the last message shown; a new server without history starts the count over.
    #[test]
    fn a_reconnection_resumes_from_the_last_shown() {
        let mut c = Catchup::new(500);
        c.joining("rust", Backlog::Latest(20));
        c.on_frame(backlog(history(1..=5, false, Cursor::Before(1)), false));
        c.earlier("rust", 10);
        assert_eq!(c.resume("rust"), Backlog::After(5));
        c.reconnected(500);
        c.joining("rust", Backlog::After(5));
        let steps = c.on_frame(backlog(history(6..=7, false, Cursor::After(7)), false));
        assert_eq!(shown(&steps), [6, 7]);
        c.reconnected(0);
        assert_eq!(shown(&c.on_frame(msg(1))), [1], "numbered from 1 again");
    }

    /// Without history (cap 0) nothing is paged and a reconnection asks for a screenful;
    /// other rooms' frames and whispers pass through.
    #[test]
    fn without_history_nothing_is_paged_and_other_frames_pass() {
        let mut c = Catchup::new(0);
        c.joining("rust", Backlog::Latest(50));
        let steps = c.on_frame(backlog(history([], false, Cursor::Latest), false));
        assert!(steps.is_empty(), "{steps:?}");
        assert_eq!(shown(&c.on_frame(msg(1))), [1]);
        assert_eq!(c.resume("rust"), Backlog::Latest(JOIN_BACKLOG));
        let whisper = ServerFrame::Whisper {
            from: "a".into(),
            to: "b".into(),
            text: "psst".into(),
            at: 0,
        };
        assert_eq!(c.on_frame(whisper.clone()), [Step::Show(whisper)]);
        let other = ServerFrame::Msg {
            room: "lobby".into(),
            from: "a".into(),
            text: "x".into(),
            at: 0,
            seq: 1,
        };
        assert_eq!(c.on_frame(other.clone()), [Step::Show(other)]);
    }

    /// A refused page shows what was fetched and releases the held live messages.
    #[test]
    fn an_abandoned_fetch_releases_what_it_held() {
        let mut c = Catchup::new(500);
        c.joining("rust", Backlog::Latest(900));
        c.on_frame(backlog(
            history(501..=1000, true, Cursor::Before(501)),
            false,
        ));
        assert!(c.on_frame(msg(1001)).is_empty());
        let steps = c.abandon("rust");
        assert_eq!(shown(&steps), (501..=1001).collect::<Vec<_>>());
    }
}
