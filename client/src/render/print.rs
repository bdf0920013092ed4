//! Lines onto stdout: one at a time, flushed, so pipes see each at once, and quietly
//! stopping when the reader has gone (`listen | head -1`). The lists and pages the one-shot
//! commands print are drawn here too, in the order people expect them. How one line looks
//! is [`super::text`]'s and [`super::json`](mod@super::json)'s.

use anyhow::Context;
use chat_proto::validate::{name_key, room_key};
use chat_proto::RoomSummary;

use super::json::room_json;
use super::text::{history_line, room_line};
use crate::reply::Page;

/// Writes one line to stdout and flushes it, so pipes see each line at once.
///
/// `Ok(false)` when the reader has gone (`listen | head -1`): the caller stops quietly.
pub fn print_line(out: &mut impl std::io::Write, line: &str) -> anyhow::Result<bool> {
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("cannot write to stdout"),
    }
}

/// Prints `rooms` sorted by name (case-insensitively, as the server compares them), as
/// `NAME MEMBERS` lines or JSON lines.
pub fn print_rooms(mut rooms: Vec<RoomSummary>, json: bool) -> anyhow::Result<()> {
    rooms.sort_by_cached_key(|r| room_key(&r.name));
    let mut out = std::io::stdout().lock();
    for room in &rooms {
        let line = if json {
            room_json(room)
        } else {
            room_line(room)
        };
        if !print_line(&mut out, &line)? {
            break;
        }
    }
    Ok(())
}

/// Prints `users` one per line, leaving out `me`: the short-lived connection that asked.
pub fn print_users(users: &[String], me: &str) -> anyhow::Result<()> {
    let me = name_key(me);
    let mut out = std::io::stdout().lock();
    for user in users.iter().filter(|u| name_key(u) != me) {
        if !print_line(&mut out, user)? {
            break;
        }
    }
    Ok(())
}

/// Prints one page as text lines, as `send "/history N"` shows it.
pub fn print_page(page: &Page) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let now = chrono::Local::now();
    for past in &page.messages {
        if !print_line(&mut out, &history_line(past, &now))? {
            break;
        }
    }
    Ok(())
}
