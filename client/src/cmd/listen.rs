//! `chat-client listen`: follow one or more rooms, one line per event, for people and for
//! pipes.
//!
//! Every `Join` goes out at once and the frames are read in one loop from then on, so
//! nothing said in the first room while the others are being joined is lost. The server
//! answers in order, so the n-th answer (`Joined` or `Error`) is the n-th join's: a refused
//! join ends the command with exit status 1, except a join refused as `RateLimited` (the
//! server's flood control lets a client join about nine rooms at once, then five a second),
//! which is sent again once every join has its answer, a moment later.
//!
//! With `--history N` or `--after SEQ` each join asks for a backlog, and [`Catchup`] pages
//! past the server's cap while holding the room's live messages, so every message is
//! printed once and in order: first the past, then the live. A join with a backlog is
//! answered once its `History` has come (the `Joined` before it is the first half).

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::Context as _;
use chat_proto::{Backlog, ClientFrame, ErrorKind, ServerFrame};

use crate::catchup::{Catchup, Step};
use crate::cmd::{resolve_rooms, UsageError};
use crate::error::ClientError;
use crate::render::{self, print_line, Style};
use crate::settings::Settings;

/// Stay in rooms (lobby unless --room) and print every message and notice, one line each.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lines: `#rust alice: hi`, `[whisper] alice -> bob: psst`, \
                        `#rust * bob joined`, `#rust * bob left (timed out)`; first \
                        `#rust * you joined; here (2): alice, bob` for each room. Past \
                        messages (--history, --after) look like live ones and come first; \
                        `#rust * some messages are no longer available` where the server no \
                        longer keeps all that --after asked for.\n\
                        JSON: {\"type\", \"room\", \"from\", \"to\", \"user\", \"reason\", \
                        \"users\", \"text\", \"time\", \"seq\", \"backlog\"}, every key on \
                        every line, null where it does not apply; type is msg, whisper, \
                        system, user_joined, user_left, joined or missed; room is null for a \
                        whisper; time is RFC 3339 in UTC with milliseconds; seq is a room \
                        message's place in its room (resume with --after SEQ); backlog is \
                        true for a past message, false for a live one."
)]
pub struct Listen {
    /// A room to listen to, with or without '#'; repeat for several [default: lobby]
    #[arg(long = "room", value_name = "ROOM")]
    rooms: Vec<String>,
    /// Exit 0 after N live chat messages (messages and whispers; past messages and notices
    /// do not count)
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// First print the latest N messages of each room, oldest first
    #[arg(long, value_name = "N", conflicts_with = "after")]
    history: Option<u32>,
    /// First print every message after SEQ (one room only): resumes where an earlier
    /// listen stopped, with nothing missed and nothing twice
    #[arg(long, value_name = "SEQ")]
    after: Option<u64>,
    /// Print one JSON object per line instead of text
    #[arg(long)]
    json: bool,
}

/// How long `listen` waits before it asks again for the rooms the server's flood control
/// refused: the default bucket refills five joins a second.
const JOIN_RETRY: Duration = Duration::from_secs(1);

/// How many times `listen` asks again for a room refused as rate-limited before it gives up:
/// a minute at [`JOIN_RETRY`], enough for far more rooms than `rooms_per_user` allows.
const JOIN_RETRIES: u32 = 60;

/// A request sent and not yet answered, in the order the answers will come.
#[derive(Debug)]
enum Asked {
    /// `Join` of this room (as given).
    Join(String),
    /// A page of this room's log.
    Page(String),
}

impl Listen {
    /// Joins the rooms and prints events until `--count` is reached, stdout closes, or the
    /// server goes away (exit 1).
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let rooms = resolve_rooms(&self.rooms)?;
        if self.after.is_some() && rooms.len() > 1 {
            return Err(UsageError(
                "--after SEQ takes one --room: each room numbers its own messages".into(),
            )
            .into());
        }
        let backlog = match (self.history, self.after) {
            (Some(n), _) => Backlog::Latest(n),
            (None, Some(seq)) => Backlog::After(seq),
            (None, None) => Backlog::None,
        };
        let mut session = settings.client().connect(&settings.name).await?;
        tracing::info!(
            "Connected to {} as {} ({} online)",
            session.addr(),
            session.name(),
            session.online()
        );
        let mut catchup = Catchup::new(session.history_cap());
        let mut pending = VecDeque::with_capacity(rooms.len());
        for room in rooms {
            session
                .send(&ClientFrame::Join {
                    room: room.clone(),
                    backlog,
                })
                .await?;
            catchup.joining(&room, backlog);
            pending.push_back(Asked::Join(room));
        }
        let mut again: Vec<String> = Vec::new();
        let mut retries = 0;
        let style = Style::plain().with_me(session.name());
        let mut out = std::io::stdout().lock();
        let mut seen = 0;
        'events: while self.count.is_none_or(|n| seen < n) {
            if pending.is_empty() && !again.is_empty() {
                // Every join has its answer: pace the rate-limited ones and ask again.
                // Frames for the rooms already joined wait in the socket meanwhile.
                retries += 1;
                tokio::time::sleep(JOIN_RETRY).await;
                for room in again.drain(..) {
                    session
                        .send(&ClientFrame::Join {
                            room: room.clone(),
                            backlog,
                        })
                        .await?;
                    catchup.joining(&room, backlog);
                    pending.push_back(Asked::Join(room));
                }
            }
            let frame = session
                .next_frame()
                .await?
                .ok_or_else(|| ClientError::Closed {
                    addr: session.addr().to_owned(),
                })?;
            match &frame {
                // With a backlog the join's answer ends with its History.
                ServerFrame::Joined { .. } if backlog == Backlog::None => {
                    pending.pop_front();
                }
                ServerFrame::History { .. } => {
                    pending.pop_front();
                }
                ServerFrame::Error {
                    kind: ErrorKind::RateLimited,
                    ..
                } if matches!(pending.front(), Some(Asked::Join(_))) && retries < JOIN_RETRIES => {
                    if let Some(Asked::Join(room)) = pending.pop_front() {
                        catchup.forget(&room);
                        again.push(room);
                    }
                    continue;
                }
                ServerFrame::Error { kind, detail } => {
                    let what = match pending.pop_front() {
                        Some(Asked::Join(room)) => format!("cannot listen to #{room}"),
                        Some(Asked::Page(room)) => {
                            format!("cannot read the past messages of #{room}")
                        }
                        None => {
                            // A refusal of something we never sent; worth a note, not an exit.
                            tracing::warn!("Server error: {detail}");
                            continue;
                        }
                    };
                    let refused = ClientError::Refused {
                        kind: *kind,
                        detail: detail.clone(),
                    };
                    // Leave cleanly, so the name is free at once; the refusal is the news.
                    let _ = session.bye().await;
                    return Err(refused).context(what);
                }
                _ => {}
            }
            for step in catchup.on_frame(frame) {
                let line = match step {
                    Step::Show(frame) => {
                        if matches!(frame, ServerFrame::Msg { .. } | ServerFrame::Whisper { .. }) {
                            seen += 1;
                        }
                        if self.json {
                            render::json(&frame)
                        } else {
                            style.line(&frame)
                        }
                    }
                    Step::Past { room, message } => {
                        if self.json {
                            Some(render::json_past(&room, &message))
                        } else {
                            style.line(&past_as_msg(room, message))
                        }
                    }
                    Step::Missed { room } => Some(if self.json {
                        render::json_missed(&room)
                    } else {
                        style.missed_line(&room, None)
                    }),
                    // Only a person's `/history` asks for earlier messages.
                    Step::Earlier { .. } => None,
                    Step::Ask(frame) => {
                        if let ClientFrame::History { room, .. } = &frame {
                            pending.push_back(Asked::Page(room.clone()));
                        }
                        session.send(&frame).await?;
                        None
                    }
                };
                if let Some(line) = line {
                    if !print_line(&mut out, &line)? {
                        break 'events;
                    }
                }
                if self.count.is_some_and(|n| seen >= n) {
                    break 'events;
                }
            }
        }
        session.bye().await?;
        Ok(())
    }
}

/// A message of `room`'s log as the live message it once was, to print it the same way.
fn past_as_msg(room: String, past: chat_proto::Past) -> ServerFrame {
    ServerFrame::Msg {
        room,
        from: past.from,
        text: past.text,
        at: past.at,
        seq: past.seq,
    }
}
