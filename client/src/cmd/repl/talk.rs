//! One connection's conversation in the REPL: what was sent and is not yet answered, and
//! what each answer means.
//!
//! The server answers each frame in the order sent, so [`Talk`] keeps what it sent in a
//! queue ([`Pending`]) and matches each answer ([`Session::reply_of`]) to the oldest: a
//! refusal is then shown with what it refused (`! not sent: you are not in #rust — /join
//! rust first`), an answer to `/join` makes the room current, and the editor, waiting to draw
//! the next prompt, learns that the room has changed. A join with a backlog is answered by
//! `Joined` and then the backlog's `History`; only then is it done.
//!
//! What is shown of each room's log goes through [`Catchup`]: the backlog of a join, the
//! pages of `/history` (older than the oldest shown), and after a reconnection the rejoin
//! with `After(last seq shown)`, paging forward while holding the live messages.

use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;

use chat_proto::{Backlog, ClientFrame, ErrorKind, ServerFrame};
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};

use super::request::Request;
use super::screen::Screen;
use crate::catchup::{Catchup, Step};
use crate::error::ClientError;
use crate::session::Session;

/// Why [`Talk::converse`] stopped.
pub enum End {
    /// The user left.
    Quit,
    /// The connection is gone.
    Lost(ClientError),
}

/// A frame sent and not yet answered.
#[derive(Debug)]
struct Pending {
    /// What was sent.
    frame: ClientFrame,
    /// The user's `/join`: its answer makes the room current.
    make_current: bool,
    /// A join with a backlog whose `Joined` came: its answer ends with the `History`.
    joined: bool,
    /// Told once answered, to wake whoever waits.
    done: Option<SyncSender<()>>,
}

impl Pending {
    /// `frame` sent on the program's own account: nobody waits for it.
    fn own(frame: ClientFrame) -> Pending {
        Pending {
            frame,
            make_current: false,
            joined: false,
            done: None,
        }
    }

    /// Whether this is a join whose answer ends with a backlog.
    fn wants_backlog(&self) -> bool {
        matches!(self.frame, ClientFrame::Join { backlog, .. } if backlog != Backlog::None)
    }
}

/// How far a frame answers the oldest request.
enum Answer {
    /// Not an answer.
    None,
    /// The `Joined` of a join with a backlog: the request stays, its `History` is due.
    Half {
        /// The user's `/join`: the room becomes current now.
        make_current: bool,
    },
    /// The whole answer to this request.
    Whole(Pending),
}

/// One connection's conversation: what is sent and unanswered, and where things go.
pub struct Talk<'a> {
    /// The connection.
    session: &'a mut Session,
    /// Sent and not yet answered, oldest first.
    pending: VecDeque<Pending>,
    /// Where lines go.
    screen: &'a mut Screen,
    /// What each room has shown of its log; kept across reconnections.
    catchup: &'a mut Catchup,
}

impl<'a> Talk<'a> {
    /// A conversation over `session`, nothing sent yet.
    pub fn new(
        session: &'a mut Session,
        screen: &'a mut Screen,
        catchup: &'a mut Catchup,
    ) -> Talk<'a> {
        Talk {
            session,
            pending: VecDeque::new(),
            screen,
            catchup,
        }
    }

    /// Joins `joins` (each with its backlog), then relays frames to the screen and
    /// requests to the server until one side ends. `settled` is told once the joins are
    /// answered.
    pub async fn converse(
        &mut self,
        joins: Vec<(String, Backlog)>,
        settled: Option<SyncSender<()>>,
        requests: &mut mpsc::Receiver<Request>,
    ) -> End {
        // Fills the names for Tab and shows who is here.
        let mut opening = vec![ClientFrame::ListUsers];
        for (room, backlog) in joins {
            self.catchup.joining(&room, backlog);
            opening.push(ClientFrame::Join { room, backlog });
        }
        let last = opening.len() - 1;
        let mut settled = settled;
        for (i, frame) in opening.into_iter().enumerate() {
            if let Err(e) = self.session.send(&frame).await {
                return End::Lost(e);
            }
            let mut sent = Pending::own(frame);
            if i == last {
                sent.done = settled.take();
            }
            self.pending.push_back(sent);
        }
        loop {
            tokio::select! {
                frame = self.session.next_frame() => match frame {
                    Ok(Some(frame)) => {
                        if let Err(e) = self.receive(frame).await {
                            return End::Lost(e);
                        }
                    }
                    Ok(None) => {
                        return End::Lost(ClientError::Closed {
                            addr: self.session.addr().to_owned(),
                        })
                    }
                    Err(e) => return End::Lost(e),
                },
                request = requests.recv() => match request {
                    None | Some(Request::Quit) => {
                        self.drain().await;
                        return End::Quit;
                    }
                    Some(Request::Send { frame, done }) => {
                        if let ClientFrame::Join { room, backlog } = &frame {
                            self.catchup.joining(room, *backlog);
                        }
                        match self.session.send(&frame).await {
                            Ok(()) => self.pending.push_back(Pending {
                                make_current: matches!(frame, ClientFrame::Join { .. }),
                                frame,
                                joined: false,
                                done,
                            }),
                            Err(e @ ClientError::TooLarge { .. }) => {
                                self.screen
                                    .error(&format!("not sent: {e}; split it into shorter messages"));
                            }
                            Err(e) => return End::Lost(e),
                        }
                    }
                    Some(Request::Earlier { room, count }) => {
                        if let Err(e) = self.earlier(&room, count).await {
                            return End::Lost(e);
                        }
                    }
                },
            }
        }
    }

    /// `/history`: asks for `count` messages of `room` before the oldest shown.
    async fn earlier(&mut self, room: &str, count: u32) -> Result<(), ClientError> {
        if self.session.history_cap() == 0 {
            self.screen.error("this server keeps no history");
            return Ok(());
        }
        match self.catchup.earlier(room, count) {
            Some(frame) => self.ask(frame).await,
            None => {
                self.screen.error(&format!(
                    "still fetching messages of #{room}; try again in a moment"
                ));
                Ok(())
            }
        }
    }

    /// Sends a request of the program's own (a page of history).
    async fn ask(&mut self, frame: ClientFrame) -> Result<(), ClientError> {
        self.session.send(&frame).await?;
        self.pending.push_back(Pending::own(frame));
        Ok(())
    }

    /// Matches `frame` with the request it answers, learns from it and shows it, sending
    /// the pages the catch-up asks for.
    async fn receive(&mut self, frame: ServerFrame) -> Result<(), ClientError> {
        let answer = self.answer(&frame);
        self.screen.known.track(&frame);
        let make_current = match &answer {
            Answer::Half { make_current } => *make_current,
            Answer::Whole(sent) => sent.make_current,
            Answer::None => false,
        };
        if let ServerFrame::Joined { room, .. } = &frame {
            if make_current {
                self.screen.known.set_current(room);
            }
        }
        let sent = match answer {
            Answer::Whole(sent) => Some(sent),
            Answer::None | Answer::Half { .. } => None,
        };
        let steps = match (&frame, &sent) {
            (ServerFrame::Error { kind, detail }, Some(sent)) => self.refused(sent, *kind, detail),
            _ => self.catchup.on_frame(frame),
        };
        for step in steps {
            match step {
                Step::Show(frame) => self.screen.show(&frame),
                Step::Past { room, message } => self.screen.past(&room, &message),
                Step::Missed { room } => self.screen.missed(&room),
                Step::Earlier { room, count } => self.screen.earlier(&room, count),
                Step::Ask(frame) => self.ask(frame).await?,
            }
        }
        if let Some(done) = sent.and_then(|sent| sent.done) {
            // The editor may have given up waiting; nothing to do then.
            let _ = done.send(());
        }
        Ok(())
    }

    /// How far `frame` answers the oldest request, taking it off the queue when whole.
    fn answer(&mut self, frame: &ServerFrame) -> Answer {
        let front = self.pending.front_mut();
        match (frame, front) {
            (ServerFrame::Joined { .. }, Some(sent)) if sent.wants_backlog() && !sent.joined => {
                sent.joined = true;
                Answer::Half {
                    make_current: sent.make_current,
                }
            }
            (ServerFrame::History { backlog: true, .. }, Some(sent)) if sent.joined => {
                self.pending.pop_front().map_or(Answer::None, Answer::Whole)
            }
            _ if self.session.reply_of(frame).is_some() => {
                self.pending.pop_front().map_or(Answer::None, Answer::Whole)
            }
            _ => Answer::None,
        }
    }

    /// Shows a refusal of `sent` and undoes what it was for; the steps that follow (what a
    /// refused page leaves to show).
    fn refused(&mut self, sent: &Pending, kind: ErrorKind, detail: &str) -> Vec<Step> {
        match &sent.frame {
            ClientFrame::Join { room, .. } if sent.joined => {
                // In the room, but its backlog could not be read.
                self.screen.error(&format!(
                    "no earlier messages of #{room}: {}",
                    crate::render::clean(detail)
                ));
                return self.catchup.abandon(room);
            }
            ClientFrame::Join { room, .. } => {
                // A refused rejoin after a reconnection: we are not there any more.
                self.screen.known.forget(room);
                self.catchup.forget(room);
            }
            _ => {}
        }
        self.screen.error(&refusal(&sent.frame, kind, detail));
        match &sent.frame {
            ClientFrame::History { room, .. } => self.catchup.abandon(room),
            _ => Vec::new(),
        }
    }

    /// Shows the answers still due before leaving, so that the last lines' outcomes are
    /// seen (`repl < script` ends as soon as the script does); waits at most the session's
    /// timeout.
    async fn drain(&mut self) {
        let deadline = Instant::now() + self.session.timeout();
        while !self.pending.is_empty() {
            let Ok(Ok(Some(frame))) = timeout_at(deadline, self.session.next_frame()).await else {
                return;
            };
            if self.receive(frame).await.is_err() {
                return;
            }
        }
    }
}

/// One line for a refusal: what was refused, the server's words, what to try.
fn refusal(sent: &ClientFrame, kind: ErrorKind, detail: &str) -> String {
    let detail = crate::render::clean(detail);
    let what = match sent {
        ClientFrame::Msg { .. } | ClientFrame::Whisper { .. } => "not sent".to_owned(),
        ClientFrame::Join { room, .. } => format!("cannot join #{room}"),
        ClientFrame::Part { .. } => "cannot leave".to_owned(),
        ClientFrame::ListMembers { .. } => "no member list".to_owned(),
        ClientFrame::History { room, .. } => format!("no earlier messages of #{room}"),
        _ => "refused".to_owned(),
    };
    let room = match sent {
        ClientFrame::Msg { room, .. }
        | ClientFrame::Join { room, .. }
        | ClientFrame::Part { room }
        | ClientFrame::ListMembers { room }
        | ClientFrame::History { room, .. } => room.as_str(),
        _ => "ROOM",
    };
    // The server's words say what the limit is; these say what to type next.
    let hint = match kind {
        ErrorKind::NotInRoom => Some(format!("/join {room} first")),
        ErrorKind::NoSuchRoom | ErrorKind::RoomsFull => Some("/rooms lists the rooms".to_owned()),
        ErrorKind::TooManyRooms => Some("/part ROOM leaves one".to_owned()),
        ErrorKind::InvalidRoom => {
            Some("room names are 1-32 letters, digits, '_', '-' or '.'".to_owned())
        }
        ErrorKind::NoSuchUser => Some("/list_users shows who is online".to_owned()),
        ErrorKind::RateLimited => Some("slow down".to_owned()),
        _ => None,
    };
    match hint {
        Some(hint) => format!("{what}: {detail} — {hint}"),
        None => format!("{what}: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use chat_proto::input::JOIN_BACKLOG;

    use super::*;

    #[test]
    fn a_refusal_says_what_it_refused_and_what_to_try() {
        let msg = ClientFrame::Msg {
            room: "rust".into(),
            text: "hi".into(),
        };
        assert_eq!(
            refusal(&msg, ErrorKind::NotInRoom, "you are not in #rust"),
            "not sent: you are not in #rust — /join rust first"
        );
        let join = ClientFrame::Join {
            room: "ops".into(),
            backlog: Backlog::Latest(JOIN_BACKLOG),
        };
        assert_eq!(
            refusal(&join, ErrorKind::TooManyRooms, "at most 2 rooms"),
            "cannot join #ops: at most 2 rooms — /part ROOM leaves one"
        );
    }
}
