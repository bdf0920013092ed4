//! `chat-client listen`: follow one or more rooms, one line per event, for people and for
//! pipes.
//!
//! Every `Join` goes out at once and the frames are read in one loop from then on, so
//! nothing said in the first room while the others are being joined is lost. The server
//! answers in order, so the n-th answer (`Joined` or `Error`) is the n-th join's: a refused
//! join ends the command with exit status 1, except a join refused as `RateLimited` (the
//! server's flood control lets a client join about nine rooms at once, then five a second),
//! which is sent again once every join has its answer, a moment later.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::Context as _;
use chat_proto::{ClientFrame, ErrorKind, ServerFrame};

use crate::cmd::{print_line, resolve_rooms};
use crate::render::{self, Style};
use crate::settings::Settings;
use crate::ClientError;

/// Stay in rooms (lobby unless --room) and print every message and notice, one line each.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lines: `#rust alice: hi`, `[whisper] alice -> bob: psst`, \
                        `#rust * bob joined`, `#rust * bob left (timed out)`; first \
                        `#rust * you joined; here (2): alice, bob` for each room.\n\
                        JSON: {\"type\", \"room\", \"from\", \"to\", \"user\", \"reason\", \
                        \"users\", \"text\", \"time\"}, every key on every line, null where \
                        it does not apply; type is msg, whisper, system, user_joined, \
                        user_left or joined; room is null for a whisper; time is RFC 3339 in \
                        UTC with milliseconds."
)]
pub struct Listen {
    /// A room to listen to, with or without '#'; repeat for several [default: lobby]
    #[arg(long = "room", value_name = "ROOM")]
    rooms: Vec<String>,
    /// Exit 0 after N chat messages (messages and whispers; notices do not count)
    #[arg(long, value_name = "N")]
    count: Option<u64>,
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

impl Listen {
    /// Joins the rooms and prints events until `--count` is reached, stdout closes, or the
    /// server goes away (exit 1).
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let rooms = resolve_rooms(&self.rooms)?;
        let mut session = settings.client().connect(&settings.name).await?;
        tracing::info!(
            "Connected to {} as {} ({} online)",
            session.addr(),
            session.name(),
            session.online()
        );
        let mut joining = VecDeque::with_capacity(rooms.len());
        for room in rooms {
            session
                .send(&ClientFrame::Join { room: room.clone() })
                .await?;
            joining.push_back(room);
        }
        let mut again: Vec<String> = Vec::new();
        let mut retries = 0;
        let style = Style::plain().with_me(session.name());
        let mut out = std::io::stdout().lock();
        let mut seen = 0;
        while self.count.is_none_or(|n| seen < n) {
            if joining.is_empty() && !again.is_empty() {
                // Every join has its answer: pace the rate-limited ones and ask again.
                // Frames for the rooms already joined wait in the socket meanwhile.
                retries += 1;
                tokio::time::sleep(JOIN_RETRY).await;
                for room in again.drain(..) {
                    session
                        .send(&ClientFrame::Join { room: room.clone() })
                        .await?;
                    joining.push_back(room);
                }
            }
            let frame = session
                .next_frame()
                .await?
                .ok_or_else(|| ClientError::Closed {
                    addr: session.addr().to_owned(),
                })?;
            match &frame {
                ServerFrame::Joined { .. } => {
                    joining.pop_front();
                }
                ServerFrame::Error {
                    kind: ErrorKind::RateLimited,
                    ..
                } if !joining.is_empty() && retries < JOIN_RETRIES => {
                    again.extend(joining.pop_front());
                    continue;
                }
                ServerFrame::Error { kind, detail } => {
                    if let Some(room) = joining.pop_front() {
                        let refused = ClientError::Refused {
                            kind: *kind,
                            detail: detail.clone(),
                        };
                        // Leave cleanly, so the name is free at once; the refusal is the news.
                        let _ = session.bye().await;
                        return Err(refused).context(format!("cannot listen to #{room}"));
                    }
                    // A refusal of something we never sent; worth a note, not an exit.
                    tracing::warn!("Server error: {detail}");
                    continue;
                }
                ServerFrame::Msg { .. } | ServerFrame::Whisper { .. } => seen += 1,
                _ => {}
            }
            let line = if self.json {
                render::json(&frame)
            } else {
                style.line(&frame)
            };
            if let Some(line) = line {
                if !print_line(&mut out, &line)? {
                    break;
                }
            }
        }
        session.bye().await?;
        Ok(())
    }
}
