//! `Search`: the messages of one room (one need not be in it, as for `History`), or of
//! every room the sender is in, that hold every term of a query, newest first. Read beside
//! the room log's writer; the connection waits for the answer before its next request.

use super::{CommandError, Context, Flow, Session, Waiting};
use crate::log::search::SearchRequest;
use chat_proto::search::{terms, SearchCursor, SEARCH_PAGE_MAX};

/// Checks the query and the room, then starts the search; `HistoryOff` without a log.
pub fn handle(
    ctx: &mut Context<'_>,
    query: String,
    room: Option<String>,
    before: Option<SearchCursor>,
    limit: u32,
) -> Result<Flow, CommandError> {
    ctx.name()?;
    let terms = terms(&query).map_err(CommandError::Search)?;
    let rooms = match room {
        Some(typed) => vec![super::history::readable(ctx, &typed)?],
        None => match &*ctx.session {
            Session::Registered { rooms, .. } => rooms
                .iter()
                .map(|room| (room.key.to_string(), room.name.to_string()))
                .collect(),
            _ => Vec::new(),
        },
    };
    let search = SearchRequest {
        query,
        terms,
        rooms,
        before,
        limit: limit.clamp(1, SEARCH_PAGE_MAX) as usize,
    };
    let read = ctx.log.search(search).ok_or(CommandError::HistoryOff)?;
    ctx.waiting = Some(Waiting::Page(read));
    Ok(Flow::Continue)
}
