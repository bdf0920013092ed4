//! A benchmark connection's reading side: it counts the measured messages, checks each
//! publisher's sequence and the room of each message, and samples latency. A receiver cuts
//! frames with the protocol's [`FrameCodec`] and reads only the room and text of each
//! message ([`super::stamp::msg_room_text`]), so one process can keep up with a server
//! delivering millions of messages a second. Publishers read their own connections back
//! through it too.
//!
//! A receiver is in one room; a publisher is in every room of the run and sends its
//! messages to them in turn (message `k` to room `k mod R`, as that room's message
//! `k div R`), so each receiver expects from each publisher one sequence, `0, 1, 2, ...`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use chat_proto::codec::{decode_body, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::ServerFrame;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::Decoder;

use super::join::{answer_pings, Joined, Reader};
use super::report::Samples;
use super::run::Run;
use super::stamp::{self, Stamp};

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Received {
    /// Measured messages received.
    pub count: u64,
    /// When the last one arrived (nanoseconds since the run began).
    pub last_ns: u64,
    /// Whether it received every message it expected.
    pub completed: bool,
    /// Why the connection ended before the run did, if it did.
    pub disconnected: Option<String>,
    /// `Error` frames from the server.
    pub errors: Vec<String>,
    /// Messages that were not next in their publisher's sequence (to this room).
    pub out_of_order: u64,
    /// Measured messages that came from another room than the receiver's (not counted);
    /// always 0 for a publisher, which is in every room.
    pub wrong_room: u64,
}

/// Where a connection's `Pong` answers go: its own write half, or a publisher's queue (a
/// publisher's write half belongs to its sending loop).
#[derive(Debug)]
pub enum Pongs {
    /// Write them at once.
    Write(OwnedWriteHalf),
    /// Ask the publisher to write them with its next batch.
    Forward(mpsc::UnboundedSender<()>),
}

/// A connection's part of a run: a receiver's slot, or a publisher reading its rooms' traffic.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// Receiver number `n`: its progress holds publishers back and its latencies count.
    Receiver(usize),
    /// Publisher number `n`'s own connection: it reads (everyone's messages in every room,
    /// its own echoed) so the server never finds its queue full, and counts them apart; its
    /// progress holds publishers back too.
    Publisher(usize),
}

/// Reads until the server closes or the run stops, reporting the connection done once
/// `expected` measured messages arrived.
///
/// A connection that has everything stays connected, reading, until the run stops: leaving
/// earlier would have the server announce it to its rooms, and the publishers, in every
/// room, would get those notices while the others are still being measured.
pub async fn receive(
    reader: Reader,
    mut pongs: Pongs,
    role: Role,
    expected: u64,
    run: Arc<Run>,
) -> Received {
    let Reader {
        mut read,
        mut buf,
        chunk,
        room,
    } = reader;
    let mut codec = FrameCodec::new(CLIENT_MAX_FRAME);
    let mut seen = Received::default();
    let mut samples = Samples::default();
    let mut next_seq: Vec<u64> = Vec::new();
    let mut reported = 0;
    let mut now = run.now_ns();
    let measure = matches!(role, Role::Receiver(_));
    let (progress, finished) = match role {
        Role::Receiver(slot) => (&run.progress[slot], Some(&run.finished)),
        Role::Publisher(n) => (&run.publisher_progress[n], None),
    };
    // Made once: a new one per read would take the token's lock, shared by every receiver.
    let stopped = run.stop.cancelled();
    tokio::pin!(stopped);
    'read: loop {
        let mut owed_pongs = 0;
        loop {
            let body = match codec.decode(&mut buf) {
                Ok(Some(body)) => body,
                Ok(None) => break,
                Err(err) => {
                    seen.disconnected = Some(err.to_string());
                    break 'read;
                }
            };
            if let Some((msg_room, text)) = stamp::msg_room_text(&body) {
                let Some(stamp) = Stamp::parse(text) else {
                    continue;
                };
                if measure && msg_room != room.as_bytes() {
                    seen.wrong_room += 1;
                    continue;
                }
                seen.count += 1;
                seen.last_ns = now;
                let publisher = usize::from(stamp.publisher);
                if publisher >= next_seq.len() {
                    next_seq.resize(publisher + 1, 0);
                }
                if stamp.seq != next_seq[publisher] {
                    seen.out_of_order += 1;
                }
                next_seq[publisher] = stamp.seq + 1;
                if measure {
                    samples.record(now.saturating_sub(stamp.sent_ns), &run.histogram);
                }
                continue;
            }
            match decode_body::<ServerFrame>(&body) {
                Ok(ServerFrame::Ping) => owed_pongs += 1,
                Ok(ServerFrame::Error { kind, detail }) => {
                    if seen.errors.len() < 4 {
                        seen.errors.push(format!("{kind:?}: {detail}"));
                    }
                }
                Ok(_) => {}
                Err(err) => seen.errors.push(err.to_string()),
            }
        }
        if owed_pongs > 0 {
            let answered = match &mut pongs {
                Pongs::Write(write) => answer_pings(write, owed_pongs).await,
                Pongs::Forward(queue) => {
                    for _ in 0..owed_pongs {
                        let _ = queue.send(());
                    }
                    Ok(())
                }
            };
            if let Err(err) = answered {
                seen.disconnected = Some(format!("write: {err}"));
                break;
            }
        }
        if seen.count != reported {
            if measure {
                run.delivered
                    .fetch_add(seen.count - reported, Ordering::Relaxed);
            }
            reported = seen.count;
            run.advance(progress, seen.count);
        }
        if seen.count >= expected && !seen.completed {
            seen.completed = true;
            done(&mut samples, &run, progress, finished);
        }
        if buf.capacity() - buf.len() < chunk / 4 {
            buf.reserve(chunk);
        }
        tokio::select! {
            biased;
            () = &mut stopped => break,
            read = read.read_buf(&mut buf) => match read {
                Ok(0) => {
                    seen.disconnected = Some("closed by the server".to_owned());
                    break;
                }
                Ok(n) => {
                    now = run.now_ns();
                    run.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(err) => {
                    seen.disconnected = Some(format!("read: {err}"));
                    break;
                }
            },
        }
    }
    if !seen.completed {
        done(&mut samples, &run, progress, finished);
    }
    seen
}

/// A connection that has stopped counting: its samples go into the histogram, it is
/// counted as finished (a receiver, `finished`), and it holds no publisher back any more.
fn done(samples: &mut Samples, run: &Run, progress: &AtomicU64, finished: Option<&AtomicUsize>) {
    samples.flush(&run.histogram);
    if let Some(finished) = finished {
        finished.fetch_add(1, Ordering::SeqCst);
    }
    run.advance(progress, u64::MAX);
}

/// A registered connection turned into a receiver: the task reading it.
pub fn spawn_receiver(
    joined: Joined,
    slot: usize,
    expected: u64,
    run: Arc<Run>,
) -> JoinHandle<Received> {
    let (reader, write) = joined.split();
    tokio::spawn(receive(
        reader,
        Pongs::Write(write),
        Role::Receiver(slot),
        expected,
        run,
    ))
}
