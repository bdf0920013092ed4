//! One person of a workload run: a connection that reads everything its rooms deliver
//! from the moment it is in them, and once the run starts sends to its rooms on its
//! [`Schedule`]. It checks what it receives: each sender's messages to each room must come
//! exactly once and in order (the stamp's sequence counts one sender's messages to one
//! room), and it samples the latency of every one.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::report::Samples;
use super::super::stamp::Stamp;
use super::link::{Incoming, Link, CHUNK};
use super::schedule::Schedule;
use super::shared::Shared;

/// A connected person and what it will send.
#[derive(Debug)]
pub struct Person {
    /// Its number, written into every message it sends.
    pub id: u16,
    /// Its connection, in its rooms.
    pub link: Link,
    /// The members of each of its rooms (itself included): the deliveries a message to
    /// that room should make.
    pub members: Vec<u64>,
    /// When it sends, and where.
    pub schedule: Schedule,
}

/// What one person did and saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Messages it sent.
    pub sent: u64,
    /// Stamped messages it received from its rooms (its own included).
    pub received: u64,
    /// Messages that were not the next of their sender to that room: a gap, a repeat or a
    /// reordering.
    pub out_of_order: u64,
    /// Stamped messages for a room it is not in (not counted as received).
    pub foreign: u64,
    /// When its first message left (nanoseconds since the run began).
    pub first_send_ns: Option<u64>,
    /// When its last message arrived.
    pub last_receive_ns: u64,
    /// Why its connection ended before the run did, if it did.
    pub disconnected: Option<String>,
    /// The first few errors the server sent it.
    pub errors: Vec<String>,
}

impl Person {
    /// Reads until the run stops, sending on schedule once it has begun; the tally at the
    /// end.
    pub async fn live(self, shared: Arc<Shared>) -> Tally {
        let Person {
            id,
            link,
            members,
            mut schedule,
        } = self;
        let Link {
            mut read,
            mut write,
            mut buf,
            mut wire,
            rooms,
            templates,
        } = link;
        let mut tally = Tally::default();
        let (mut latency, mut lag) = (Samples::default(), Samples::default());
        // The next sequence expected from each (room slot, sender).
        let mut next_seq: HashMap<(usize, u16), u64> = HashMap::new();
        let mut own_seq = vec![0; rooms.len()];
        let mut start_ns = None;
        let mut sending = false;
        let mut counted = 0;
        let mut out = Vec::new();
        let mut now = shared.now_ns();
        let stopped = shared.stop.cancelled();
        let go = shared.go.cancelled();
        let timer = tokio::time::sleep_until(shared.instant(0));
        tokio::pin!(stopped, go, timer);
        loop {
            let mut pings = 0;
            let decoded = wire.decode(&mut buf, |incoming| match incoming {
                Incoming::Msg { room, text } => {
                    let Some(stamp) = Stamp::parse(text) else {
                        return;
                    };
                    let Some(slot) = rooms.iter().position(|r| r == room) else {
                        tally.foreign += 1;
                        return;
                    };
                    tally.received += 1;
                    tally.last_receive_ns = now;
                    let next = next_seq.entry((slot, stamp.publisher)).or_insert(0);
                    if stamp.seq != *next {
                        tally.out_of_order += 1;
                    }
                    *next = stamp.seq + 1;
                    latency.record(now.saturating_sub(stamp.sent_ns), &shared.latency);
                }
                Incoming::Ping => pings += 1,
                Incoming::Error(error) if tally.errors.len() < 4 => tally.errors.push(error),
                Incoming::Error(_) => {}
            });
            if let Err(error) = decoded {
                tally.disconnected = Some(error);
                break;
            }
            if tally.received != counted {
                shared
                    .delivered
                    .fetch_add(tally.received - counted, Ordering::Relaxed);
                counted = tally.received;
            }
            if pings > 0 {
                out.clear();
                for _ in 0..pings {
                    wire.pong(&mut out);
                }
                if let Err(err) = write.write_all(&out).await {
                    tally.disconnected = Some(format!("write: {err}"));
                    break;
                }
            }
            if buf.capacity() - buf.len() < CHUNK / 4 {
                buf.reserve(CHUNK);
            }
            tokio::select! {
                biased;
                () = &mut stopped => break,
                () = &mut go, if start_ns.is_none() => {
                    let start = shared.start_ns();
                    start_ns = Some(start);
                    sending = schedule.peek_ns().is_some();
                    if let Some(due) = schedule.peek_ns() {
                        timer.as_mut().reset(shared.instant(start + due));
                    } else {
                        shared.done_sending.fetch_add(1, Ordering::SeqCst);
                    }
                }
                () = &mut timer, if sending => {
                    let start = start_ns.unwrap_or_default();
                    let sent_ns = shared.now_ns();
                    out.clear();
                    let mut n = 0;
                    while let Some(due) = schedule
                        .peek_ns()
                        .filter(|&at| start + at <= sent_ns)
                        .and_then(|_| schedule.next())
                    {
                        let stamp = Stamp { publisher: id, seq: own_seq[due.slot], sent_ns };
                        own_seq[due.slot] += 1;
                        templates[due.slot].write(&stamp, &mut out);
                        lag.record(sent_ns - (start + due.at_ns), &shared.lag);
                        shared.expected.fetch_add(members[due.slot], Ordering::SeqCst);
                        n += 1;
                    }
                    tally.first_send_ns.get_or_insert(sent_ns);
                    tally.sent += n;
                    shared.sent.fetch_add(n, Ordering::Relaxed);
                    if let Err(err) = write.write_all(&out).await {
                        tally.disconnected = Some(format!("write: {err}"));
                        break;
                    }
                    match schedule.peek_ns() {
                        Some(due) => timer.as_mut().reset(shared.instant(start + due)),
                        None => {
                            sending = false;
                            shared.done_sending.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                read = read.read_buf(&mut buf) => match read {
                    Ok(0) => {
                        tally.disconnected = Some("closed by the server".to_owned());
                        break;
                    }
                    Ok(_) => now = shared.now_ns(),
                    Err(err) => {
                        tally.disconnected = Some(format!("read: {err}"));
                        break;
                    }
                },
            }
        }
        if sending || start_ns.is_none() {
            // Stopped early: no longer sending either way. (Before `go`, the run is
            // failing already and nobody counts.)
            shared.done_sending.fetch_add(1, Ordering::SeqCst);
        }
        latency.flush(&shared.latency);
        lag.flush(&shared.lag);
        tally
    }
}
