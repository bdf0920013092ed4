//! A search of the room log as every log answers it: what was asked, and the
//! `SearchResults` frame of what the store found, each hit marked where it matches.

use chat_proto::search::{marks, Hit, SearchCursor};
use chat_proto::ServerFrame;

use super::Stored;

/// A search for the room log to run.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The query as asked, to answer with.
    pub query: String,
    /// Its terms (`chat_proto::search::terms`).
    pub terms: Vec<String>,
    /// The rooms searched, each by key and as shown.
    pub rooms: Vec<(String, String)>,
    /// Where the page starts.
    pub before: Option<SearchCursor>,
    /// The most hits (at most `chat_proto::search::SEARCH_PAGE_MAX`).
    pub limit: usize,
}

impl SearchRequest {
    /// The rooms' keys.
    pub fn keys(&self) -> Vec<String> {
        self.rooms.iter().map(|(key, _)| key.clone()).collect()
    }

    /// The `SearchResults` of `found` (each hit with its room's key), newest first, and
    /// whether there are more.
    pub fn results(&self, found: Vec<(String, Stored)>, more: bool) -> ServerFrame {
        let next = if more {
            found.last().map(|(key, entry)| SearchCursor {
                at: entry.at,
                room: key.clone(),
                seq: entry.seq,
            })
        } else {
            None
        };
        let hits = found
            .into_iter()
            .map(|(key, entry)| {
                let room = self
                    .rooms
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(key, |(_, shown)| shown.clone());
                let marks = marks(&entry.text, &self.terms);
                Hit { room, entry, marks }
            })
            .collect();
        ServerFrame::SearchResults {
            query: self.query.clone(),
            hits,
            next,
        }
    }
}
