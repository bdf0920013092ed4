//! Full-text search of the SQLite log: an FTS5 index of every message's text, kept in step
//! with the `messages` table by the same transactions (an append, a reply, an edit, a
//! removal, a trim), so that search costs no second store.
//!
//! The index is contentless (`content=''`, `contentless_delete=1`): it keeps the trigrams,
//! never the text, which a hit reads from `messages`. Its documents are numbered by room and
//! `seq` ([`doc`]), so one room's hits are a range of them, read newest first. The
//! tokenizer is `trigram`: every three characters in a row, folded to lower case, so parts
//! of words are found in any script (Chinese and Japanese have no spaces to cut words at),
//! and terms need three characters (`chat_proto::search`).

use chat_proto::search::SearchCursor;
use rusqlite::{params, Connection, OptionalExtension};

use super::{add_reactions, entry_of, sql_seq, SELECT_ENTRY};
use crate::log::Stored;

/// How many `seq`s a room's documents span: a room's `seq` must stay below it to be found
/// (2^36, about 68 billion messages), and a room's id below 2^27.
const ROOM_SPAN: i64 = 1 << 36;

/// Up to this many rooms, a search asks the index room by room.
const ASKED_PER_ROOM: usize = 8;

/// The index's document of message `seq` of the room with id `room`; `None` past what the
/// numbering holds (never in practice: the message is then not found by search).
pub fn doc(room: i64, seq: u64) -> Option<i64> {
    let seq = i64::try_from(seq).ok().filter(|seq| *seq < ROOM_SPAN)?;
    room.checked_mul(ROOM_SPAN)?.checked_add(seq)
}

/// Indexes `text` as message `seq` of room `room`.
pub fn index(tx: &Connection, room: i64, seq: u64, text: &str) -> rusqlite::Result<()> {
    if let Some(doc) = doc(room, seq) {
        tx.prepare_cached("INSERT INTO messages_fts (rowid, text) VALUES (?1, ?2)")?
            .execute(params![doc, text])?;
    }
    Ok(())
}

/// Takes message `seq` of room `room` out of the index.
pub fn unindex(tx: &Connection, room: i64, seq: u64) -> rusqlite::Result<()> {
    if let Some(doc) = doc(room, seq) {
        tx.prepare_cached("DELETE FROM messages_fts WHERE rowid = ?1")?
            .execute([doc])?;
    }
    Ok(())
}

/// The FTS5 query of `terms`: each a quoted string (a quote inside doubled), all required.
/// Nothing a person typed is FTS5 syntax, so no query is malformed.
fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Up to `limit` messages of the rooms with keys `rooms` holding every one of `terms`,
/// newest first (by time, room key, `seq`), after `before`; and whether there are more.
///
/// The index is asked per room, for the room's range of documents, up to
/// [`ASKED_PER_ROOM`] rooms; past that, once for every document holding the terms, newest
/// first by number, which puts each room's hits in `seq` order (on a million messages, a
/// room's range cost about 1.4 ms and the whole index about 15). The rooms' hits are then
/// merged by time, reading the time of a room's next hit only when it is needed.
pub fn search(
    conn: &Connection,
    rooms: &[String],
    terms: &[String],
    before: Option<&SearchCursor>,
    limit: usize,
) -> rusqlite::Result<(Vec<(String, Stored)>, bool)> {
    // Each room searched: its id, key, and the seqs it may give (below `bound`).
    let mut searched: Vec<(i64, &String, i64)> = Vec::new();
    for key in rooms {
        let id: Option<i64> = conn
            .prepare_cached("SELECT id FROM rooms WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?;
        let Some(id) = id.filter(|id| doc(*id, 0).is_some()) else {
            continue;
        };
        searched.push((id, key, bound(conn, id, key, before)?));
    }
    // The hits of those rooms, each room's newest first.
    let query = fts_query(terms);
    let mut hits: std::collections::HashMap<i64, std::collections::VecDeque<i64>> = searched
        .iter()
        .map(|(id, ..)| (*id, Default::default()))
        .collect();
    if searched.len() <= ASKED_PER_ROOM {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut select = conn.prepare_cached(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1
                 AND rowid >= ?2 AND rowid < ?3 ORDER BY rowid DESC LIMIT ?4",
        )?;
        for &(id, _, bound) in &searched {
            let base = id * ROOM_SPAN;
            let seqs = select.query_map(params![query, base, base + bound, fetch], |row| {
                Ok(row.get::<_, i64>(0)? - base)
            })?;
            let room = hits.get_mut(&id).expect("listed");
            for seq in seqs {
                room.push_back(seq?);
            }
        }
    } else {
        let mut select = conn.prepare_cached(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid DESC",
        )?;
        let mut rows = select.query([&query])?;
        while let Some(row) = rows.next()? {
            let doc: i64 = row.get(0)?;
            let (id, seq) = (doc / ROOM_SPAN, doc % ROOM_SPAN);
            if let Some(room) = hits.get_mut(&id) {
                room.push_back(seq);
            }
        }
    }
    // Merged by time: each room's next hit below its bound, with its time.
    let mut at = conn.prepare_cached("SELECT at FROM messages WHERE room = ?1 AND seq = ?2")?;
    // (time, key, seq, room id, the room's bound)
    let mut heads: Vec<(i64, &String, i64, i64, i64)> = Vec::new();
    let mut next_of = |id: i64, bound: i64, hits: &mut std::collections::VecDeque<i64>| {
        while let Some(seq) = hits.pop_front() {
            if seq >= bound {
                continue;
            }
            if let Some(time) = at
                .query_row(params![id, seq], |row| row.get(0))
                .optional()?
            {
                return Ok(Some((time, seq)));
            }
        }
        Ok::<_, rusqlite::Error>(None)
    };
    for &(id, key, bound) in &searched {
        if let Some((time, seq)) = next_of(id, bound, hits.get_mut(&id).expect("listed"))? {
            heads.push((time, key, seq, id, bound));
        }
    }
    let mut page: Vec<(i64, &String, i64, i64, i64)> = Vec::new();
    while page.len() <= limit {
        let Some(newest) = (0..heads.len()).max_by(|&a, &b| {
            let (a, b) = (&heads[a], &heads[b]);
            (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2))
        }) else {
            break;
        };
        let head = heads.swap_remove(newest);
        let (key, id, bound) = (head.1, head.3, head.4);
        page.push(head);
        if let Some((time, seq)) = next_of(id, bound, hits.get_mut(&id).expect("listed"))? {
            heads.push((time, key, seq, id, bound));
        }
    }
    let more = page.len() > limit;
    page.truncate(limit);
    let mut entry =
        conn.prepare_cached(&format!("{SELECT_ENTRY} WHERE m.room = ?1 AND m.seq = ?2"))?;
    let mut found: Vec<(String, Stored)> = Vec::with_capacity(page.len());
    for (_, key, seq, id, _) in page {
        if let Some(mut message) = entry.query_row(params![id, seq], entry_of).optional()? {
            add_reactions(conn, key, std::slice::from_mut(&mut message))?;
            found.push((key.clone(), message));
        }
    }
    Ok((found, more))
}

/// The seqs of room `id` (key `key`) a page after `before` may give are those below this:
/// strictly after the cursor in the order of results (time, room key, seq, descending).
fn bound(
    conn: &Connection,
    id: i64,
    key: &str,
    before: Option<&SearchCursor>,
) -> rusqlite::Result<i64> {
    let Some(cursor) = before else {
        return Ok(ROOM_SPAN);
    };
    let newest_with = |sql: &str| -> rusqlite::Result<i64> {
        let seq: Option<i64> = conn
            .prepare_cached(sql)?
            .query_row(params![id, cursor.at], |row| row.get(0))
            .optional()?;
        Ok(seq.map_or(0, |seq| seq + 1))
    };
    match key.cmp(cursor.room.as_str()) {
        std::cmp::Ordering::Equal => Ok(sql_seq(cursor.seq).min(ROOM_SPAN)),
        // As old as the cursor, or older: this room comes after it at the same time.
        std::cmp::Ordering::Less => newest_with(
            "SELECT seq FROM messages WHERE room = ?1 AND at <= ?2 ORDER BY seq DESC LIMIT 1",
        ),
        std::cmp::Ordering::Greater => newest_with(
            "SELECT seq FROM messages WHERE room = ?1 AND at < ?2 ORDER BY seq DESC LIMIT 1",
        ),
    }
}
