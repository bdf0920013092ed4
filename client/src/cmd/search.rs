//! `chat-client search "words"`: the messages of a room that hold every word, newest
//! first, with the matched parts marked. Joins no room: asking takes a registered
//! connection, as `history` does, so it names the room (lobby unless `--room`); the REPL's
//! `/search` searches every room one is in.

use chat_proto::search::{Hit, SearchCursor, SEARCH_PAGE_MAX};
use chat_proto::validate::DEFAULT_ROOM;
use chat_proto::ClientFrame;

use crate::error::ClientError;
use crate::render::{self, print_line};
use crate::reply::Reply;
use crate::session::{checked_room, Session};
use crate::settings::Settings;

/// Print the messages that hold every word of a search, newest first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Words are found anywhere in a message, in any case, parts of words \
                  included; each needs three characters. A part in double quotes is one \
                  word, spaces included. Lines: `#room [SEQ] from: text`, the matches \
                  between asterisks.\n\
                  JSON: the keys of `listen --json` (type is hit), and `marks`, the matched \
                  parts of `text` as [start, end] byte offsets.\n\
                  Exit status 1 when the server keeps no history or refuses the search."
)]
pub struct Search {
    /// What to find
    #[arg(required = true, num_args = 1..)]
    words: Vec<String>,
    /// The room to search, with or without '#' [default: lobby]
    #[arg(long, value_name = "ROOM")]
    room: Option<String>,
    /// The most messages to print, newest first, read page by page
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    limit: u64,
    /// Print one JSON object per line instead of text
    #[arg(long)]
    json: bool,
}

impl Search {
    /// Connects, reads the hits page by page, prints them, says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let room = Some(checked_room(self.room.as_deref().unwrap_or(DEFAULT_ROOM))?.to_owned());
        let mut session = settings.client().connect(&settings.name).await?;
        let printed = self.print(&mut session, room).await;
        let bye = session.bye().await;
        printed?;
        Ok(bye?)
    }

    /// Reads and prints up to `--limit` hits.
    async fn print(&self, session: &mut Session, room: Option<String>) -> anyhow::Result<()> {
        let query = self.words.join(" ");
        let mut before: Option<SearchCursor> = None;
        let mut left = self.limit;
        while left > 0 {
            let frame = ClientFrame::Search {
                query: query.clone(),
                room: room.clone(),
                before: before.take(),
                limit: left.min(u64::from(SEARCH_PAGE_MAX)) as u32,
            };
            let (hits, next) = match session.request(&frame).await? {
                Reply::Found(hits, next) => (hits, next),
                Reply::Refused { kind, detail } => {
                    return Err(ClientError::Refused { kind, detail }.into())
                }
                other => anyhow::bail!("unexpected answer to a search: {other:?}"),
            };
            left = left.saturating_sub(hits.len() as u64);
            print_hits(&hits, self.json)?;
            match next {
                Some(next) if !hits.is_empty() => before = Some(next),
                _ => break,
            }
        }
        Ok(())
    }
}

/// Prints `hits`, one line each: text, or JSON (`json`); stops quietly when stdout is
/// closed (a pipe into `head`).
pub fn print_hits(hits: &[Hit], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for hit in hits {
        let line = if json {
            render::json::json_hit(hit)
        } else {
            render::events::hit_text(hit, |marked| format!("*{marked}*"))
        };
        if !print_line(&mut out, &line)? {
            break;
        }
    }
    Ok(())
}
