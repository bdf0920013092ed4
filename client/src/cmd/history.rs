//! `chat-client history`: print a room's past messages, oldest first, from the server's log.
//!
//! Asking takes a registered connection but joins no room (the log is open to anyone), so
//! no room sees it come and go. The server sends at most its cap (`Welcome`'s `history`,
//! 500) per page; this command pages by itself until it has `--limit` messages or the log
//! ends: backwards from the latest (or from `--before SEQ`), then printed oldest first, or
//! forwards from `--after SEQ`, printed page by page as they come.

use chat_proto::validate::DEFAULT_ROOM;
use chat_proto::{Cursor, Past};

use crate::error::ClientError;
use crate::render::{self, history_line, print_line};
use crate::reply::Page;
use crate::session::{checked_room, Session};
use crate::settings::Settings;

/// How many messages `history` prints without `--limit`: a few screenfuls.
pub const DEFAULT_LIMIT: u64 = 50;

/// Print a room's past messages (lobby unless --room), oldest first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lines: `[SEQ] HH:MM alice: text`, the time local, with the date in front \
                  (2026-11-30 14:05) when it is not today. SEQ is the message's place in \
                  the room's log: 1, 2, 3, ... with no gaps.\n\
                  JSON: the keys of `listen --json` (type is msg, backlog is true), seq \
                  included.\n\
                  Exit status 1 when the server keeps no history or refuses the request."
)]
pub struct History {
    /// The room whose messages to print, with or without '#' [default: lobby]
    #[arg(long, value_name = "ROOM")]
    room: Option<String>,
    /// The most messages to print: the latest ones (or those right before --before, or
    /// right after --after); any number, read page by page
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..))]
    limit: u64,
    /// Print the messages older than this seq instead of the latest
    #[arg(long, value_name = "SEQ", conflicts_with = "after")]
    before: Option<u64>,
    /// Print the messages newer than this seq, the oldest first (those missed since SEQ)
    #[arg(long, value_name = "SEQ")]
    after: Option<u64>,
    /// Print one JSON object per line instead of text
    #[arg(long)]
    json: bool,
}

impl History {
    /// Connects, reads the pages, prints them, says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let room = checked_room(self.room.as_deref().unwrap_or(DEFAULT_ROOM))?.to_owned();
        let mut session = settings.client().connect(&settings.name).await?;
        let printed = self.print(&mut session, &room).await;
        // Leave cleanly even after a refusal, so the name is free at once.
        let bye = session.bye().await;
        printed?;
        Ok(bye?)
    }

    /// Reads and prints up to `--limit` messages of `room`.
    async fn print(&self, session: &mut Session, room: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        let now = chrono::Local::now();
        let mut emit = |room: &str, past: &Past| {
            let line = if self.json {
                render::json_past(room, past)
            } else {
                history_line(past, &now)
            };
            print_line(&mut out, &line)
        };
        match self.after {
            Some(after) => {
                let mut from = Cursor::After(after);
                let mut left = self.limit;
                while left > 0 {
                    let page = next_page(session, room, from, left).await?;
                    left = left.saturating_sub(page.messages.len() as u64);
                    for past in &page.messages {
                        if !emit(&page.room, past)? {
                            return Ok(());
                        }
                    }
                    if !page.more || page.messages.is_empty() {
                        break;
                    }
                    from = page.next;
                }
            }
            None => {
                let pages = pages_back(session, room, self.before, self.limit).await?;
                for page in pages.iter().rev() {
                    for past in &page.messages {
                        if !emit(&page.room, past)? {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Up to `limit` messages of `room` before `before` (the latest without it), as pages
/// newest first, each oldest first.
async fn pages_back(
    session: &mut Session,
    room: &str,
    before: Option<u64>,
    limit: u64,
) -> Result<Vec<Page>, ClientError> {
    let mut from = before.map_or(Cursor::Latest, Cursor::Before);
    let mut left = limit;
    let mut pages = Vec::new();
    while left > 0 {
        let page = next_page(session, room, from, left).await?;
        left = left.saturating_sub(page.messages.len() as u64);
        let done = !page.more || page.messages.is_empty();
        from = page.next;
        pages.push(page);
        if done {
            break;
        }
    }
    Ok(pages)
}

/// One page of at most `wanted` messages, within the server's cap.
async fn next_page(
    session: &mut Session,
    room: &str,
    from: Cursor,
    wanted: u64,
) -> Result<Page, ClientError> {
    let cap = session.history_cap();
    // A server without history refuses whatever the limit; ask, so it says so.
    let limit = if cap > 0 {
        wanted.min(u64::from(cap))
    } else {
        wanted
    };
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    session.page(room, from, limit).await
}
