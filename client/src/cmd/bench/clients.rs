//! The benchmark's connections: registering and joining rooms, receivers that count,
//! publishers that send.
//!
//! Connections speak the protocol directly (`chat_proto` frames over a bare socket) rather
//! than through [`crate::Session`]: a receiver cuts frames with the protocol's
//! [`FrameCodec`] and reads only the room and text of each message
//! ([`stamp::msg_room_text`]), so one process can keep up with a server delivering millions
//! of messages a second.
//!
//! A receiver is in one room; a publisher is in every room of the run and sends its
//! messages to them in turn (message `k` to room `k mod R`, as that room's message
//! `k div R`), so each receiver expects from each publisher one sequence, `0, 1, 2, ...`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chat_proto::codec::{decode_body, encode, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::validate::room_key;
use chat_proto::{Backlog, ClientFrame, CodecError, ErrorKind, ServerFrame, PROTOCOL_VERSION};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::report::{new_histogram, Samples};
use super::stamp::{self, MsgTemplate, Stamp};
use crate::error::ClientError;

/// Messages a publisher writes per system call at saturation.
pub const BATCH: u64 = 64;

/// `Join`s a connection has sent and not yet had answered, at most: a publisher joining a
/// thousand rooms reads the answers as they come instead of letting them pile up in its
/// queue on the server.
const JOINS_IN_FLIGHT: usize = 32;

/// What every connection of one run shares.
#[derive(Debug)]
pub struct Run {
    /// The clock publishers stamp messages with and receivers compare against.
    epoch: Instant,
    /// Measured messages received so far, per receiver; `u64::MAX` once it stopped, so a
    /// finished or lost receiver never holds publishers back.
    progress: Vec<AtomicU64>,
    /// The same for each publisher's own connection, which reads every room's messages.
    publisher_progress: Vec<AtomicU64>,
    /// Measured messages received by all receivers together.
    pub delivered: AtomicU64,
    /// Bytes read by every connection: an idle run waits for this to stop moving.
    pub bytes_in: AtomicU64,
    /// Receivers that have stopped.
    pub finished: AtomicUsize,
    /// Send-to-receive latency of every delivery, in nanoseconds.
    pub histogram: Mutex<Histogram<u64>>,
    /// Messages sent by all publishers together, to every room.
    sent: AtomicU64,
    /// The most messages any one room can have been sent: each publisher's messages so far
    /// divided by the rooms, rounded up, summed over the publishers. What the slowest
    /// receiver is compared with.
    rounds: AtomicU64,
    /// Most messages sent ahead of the slowest receiver, and of the slowest publisher's own
    /// connection; 0 for no limit.
    window: u64,
    /// How long the window may stay shut before a publisher gives up.
    stall: Duration,
    /// Set by a publisher about to wait for the window: receivers then wake it.
    publisher_waiting: AtomicBool,
    /// Where a waiting publisher sleeps.
    progressed: Notify,
    /// Ends every connection's loop.
    pub stop: CancellationToken,
}

impl Run {
    /// State for `receivers` receivers and `publishers` publishers, the publishers kept
    /// within `window` messages of the slowest reader and giving up after `stall` without
    /// progress.
    pub fn new(receivers: usize, publishers: usize, window: u64, stall: Duration) -> Run {
        let counters = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Run {
            epoch: Instant::now(),
            progress: counters(receivers),
            publisher_progress: counters(publishers),
            delivered: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            histogram: Mutex::new(new_histogram()),
            sent: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            window,
            stall,
            publisher_waiting: AtomicBool::new(false),
            progressed: Notify::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Messages received by the slowest of `readers`.
    fn slowest(readers: &[AtomicU64]) -> u64 {
        readers
            .iter()
            .map(|p| p.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Waits until `messages` more messages, of which `rounds` start a new round of the
    /// rooms ([`Run::rounds`]), fit in the window; an error after [`Run::stall`] without
    /// room, which means a connection stopped reading without disconnecting.
    ///
    /// Two bounds: the messages sent to a receiver's room and not yet received by it, at
    /// most `rounds − received`, and the messages a publisher's own connection has still to
    /// read back, `sent − received` (it is in every room). With one room they are the same
    /// bound; with many the second keeps the publishers' queues on the server short, where
    /// each message to a different room is an entry of its own. Receivers are scanned only
    /// when a round starts: until then no room can be sent more than before.
    async fn wait_window(&self, messages: u64, rounds: u64) -> Result<(), String> {
        if self.window == 0 {
            return Ok(());
        }
        let started = Instant::now();
        loop {
            let progressed = self.progressed.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            self.publisher_waiting.store(true, Ordering::SeqCst);
            let sent = self.sent.load(Ordering::SeqCst);
            let sent_rounds = self.rounds.load(Ordering::SeqCst);
            let publishers = Run::slowest(&self.publisher_progress);
            let fits = sent + messages <= publishers.saturating_add(self.window)
                && (rounds == 0
                    || sent_rounds + rounds
                        <= Run::slowest(&self.progress).saturating_add(self.window));
            if fits {
                return Ok(());
            }
            let left = self.stall.saturating_sub(started.elapsed());
            if left.is_zero() || timeout(left, progressed).await.is_err() {
                let receivers = Run::slowest(&self.progress);
                return Err(format!(
                    "no progress for {:?}: the slowest receiver has {} messages to read, \
                     the slowest publisher {}",
                    self.stall,
                    sent_rounds - receivers.min(sent_rounds),
                    sent - publishers.min(sent)
                ));
            }
        }
    }

    /// Records that the reader counted by `slot` has `count` messages, waking a waiting
    /// publisher.
    fn advance(&self, slot: &AtomicU64, count: u64) {
        slot.store(count, Ordering::Release);
        // A plain load first: a thousand receivers writing one shared flag on every read
        // would fight over its cache line.
        if self.publisher_waiting.load(Ordering::SeqCst)
            && self.publisher_waiting.swap(false, Ordering::SeqCst)
        {
            self.progressed.notify_waiters();
        }
    }
}

/// A registered connection in its rooms: the socket and whatever arrived behind the last
/// `Joined`.
#[derive(Debug)]
pub struct Joined {
    /// The socket, after the handshake.
    stream: TcpStream,
    /// Bytes read but not yet decoded.
    buf: BytesMut,
    /// How much the read buffer grows by when it runs short.
    chunk: usize,
    /// The rooms joined, as the server names them, in the order asked for.
    rooms: Vec<String>,
}

/// Why a connection could not register and join its rooms.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Connecting or registering failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server refused one of the rooms.
    #[error("the server refused to let it join room {room:?}: {detail}")]
    Room {
        /// The room, as asked for.
        room: String,
        /// The server's reason, for the advice the benchmark gives.
        kind: ErrorKind,
        /// What it said.
        detail: String,
    },
    /// It must join more rooms than the server lets one client be in (its `Welcome` says).
    #[error("it must join {wanted} rooms and the server lets one client be in {allowed}")]
    TooManyRooms {
        /// Rooms asked for.
        wanted: usize,
        /// `rooms_per_user` from `Welcome`.
        allowed: u32,
    },
}

/// Connects to `addr`, registers as `name` and joins `rooms`, within `wait`.
///
/// The joins are pipelined, at most [`JOINS_IN_FLIGHT`] unanswered. `chunk` is how much
/// room the read buffer makes for each read: small for idle clients, which should cost the
/// benchmark little; large (tens of kB) for receivers under load, so one read takes
/// everything the server wrote since the last.
pub async fn join(
    addr: SocketAddr,
    name: &str,
    rooms: &[String],
    chunk: usize,
    wait: Duration,
) -> Result<Joined, JoinError> {
    let addr_text = addr.to_string();
    let handshake = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr_text.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let transport = |source: CodecError| ClientError::Transport {
            addr: addr_text.clone(),
            source,
        };
        let hello = encode(&ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: name.to_owned(),
            password: None,
        })
        .map_err(transport)?;
        stream
            .write_all(hello.as_bytes())
            .await
            .map_err(|e| transport(e.into()))?;
        let mut buf = BytesMut::with_capacity(chunk);
        let mut codec = FrameCodec::new(CLIENT_MAX_FRAME);
        let mut welcomed = false;
        // Joins sent so far, and the rooms they were answered with (in the same order:
        // the server answers a client's requests in turn).
        let mut asked = 0;
        let mut joined: Vec<String> = Vec::with_capacity(rooms.len());
        let mut out = Vec::new();
        loop {
            while let Some(body) = codec.decode(&mut buf).map_err(transport)? {
                match decode_body::<ServerFrame>(&body).map_err(transport)? {
                    ServerFrame::Welcome { rooms_per_user, .. } if !welcomed => {
                        welcomed = true;
                        if rooms_per_user != 0 && rooms.len() > rooms_per_user as usize {
                            return Err(JoinError::TooManyRooms {
                                wanted: rooms.len(),
                                allowed: rooms_per_user,
                            });
                        }
                    }
                    ServerFrame::Joined { room, .. } if asked > joined.len() => {
                        let wanted = &rooms[joined.len()];
                        if room_key(&room) != room_key(wanted) {
                            return Err(ClientError::Unexpected {
                                addr: addr_text.clone(),
                                frame: format!("Joined {{ room: {room:?} }} for {wanted:?}"),
                            }
                            .into());
                        }
                        joined.push(room);
                        if joined.len() == rooms.len() {
                            return Ok(Joined {
                                stream,
                                buf,
                                chunk,
                                rooms: joined,
                            });
                        }
                    }
                    ServerFrame::Error { kind, detail } if asked > joined.len() => {
                        return Err(JoinError::Room {
                            room: rooms[joined.len()].clone(),
                            kind,
                            detail,
                        })
                    }
                    ServerFrame::Error { kind, detail } => {
                        return Err(ClientError::Refused { kind, detail }.into())
                    }
                    ServerFrame::Ping => answer_pings(&mut stream, 1)
                        .await
                        .map_err(|e| transport(e.into()))?,
                    // Others coming and going in the rooms while we join.
                    ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } if welcomed => {}
                    other => {
                        return Err(ClientError::Unexpected {
                            addr: addr_text.clone(),
                            frame: format!("{other:?}"),
                        }
                        .into())
                    }
                }
            }
            if welcomed && asked < rooms.len() && asked - joined.len() < JOINS_IN_FLIGHT / 2 {
                out.clear();
                let until = rooms.len().min(joined.len() + JOINS_IN_FLIGHT);
                for room in &rooms[asked..until] {
                    let frame = encode(&ClientFrame::Join {
                        room: room.clone(),
                        backlog: Backlog::None,
                    });
                    out.extend_from_slice(frame.map_err(transport)?.as_bytes());
                }
                asked = until;
                stream
                    .write_all(&out)
                    .await
                    .map_err(|e| transport(e.into()))?;
            }
            if stream
                .read_buf(&mut buf)
                .await
                .map_err(|e| transport(e.into()))?
                == 0
            {
                return Err(ClientError::Closed {
                    addr: addr_text.clone(),
                }
                .into());
            }
        }
    };
    timeout(wait, handshake).await.unwrap_or_else(|_| {
        Err(ClientError::Timeout {
            addr: addr.to_string(),
            waited: wait,
        }
        .into())
    })
}

impl Joined {
    /// The reading side (socket half and buffer) and the writing side.
    fn split(self) -> (Reader, OwnedWriteHalf) {
        let (read, write) = self.stream.into_split();
        let reader = Reader {
            read,
            buf: self.buf,
            chunk: self.chunk,
            room: self.rooms.first().cloned().unwrap_or_default(),
        };
        (reader, write)
    }
}

/// The reading side of a registered connection.
#[derive(Debug)]
pub struct Reader {
    /// The socket's read half.
    read: OwnedReadHalf,
    /// Bytes read but not yet decoded.
    buf: BytesMut,
    /// How much the buffer grows by when it runs short.
    chunk: usize,
    /// The first room joined as the server names it: a receiver's only room.
    room: String,
}

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

/// Writes `n` `Pong` frames.
async fn answer_pings(write: &mut (impl AsyncWriteExt + Unpin), n: usize) -> std::io::Result<()> {
    let pong = encode(&ClientFrame::Pong).expect("a Pong is far below any frame limit");
    for _ in 0..n {
        write.write_all(pong.as_bytes()).await?;
    }
    Ok(())
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

/// What a publisher is asked to send.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Messages to send to each room.
    pub messages: u64,
    /// Text bytes per message.
    pub size: usize,
    /// Messages per second for this publisher, all rooms together; `None` to send as fast
    /// as the window allows.
    pub rate: Option<f64>,
}

/// What a publisher did.
#[derive(Debug, Default)]
pub struct Sent {
    /// Messages written, to all rooms together.
    pub sent: u64,
    /// When the first left (nanoseconds since the run began).
    pub first_ns: Option<u64>,
    /// How far it fell behind its schedule at worst, in milliseconds.
    pub max_behind_ms: f64,
    /// Why it stopped early.
    pub error: Option<String>,
    /// What its own connection received.
    pub received: Received,
}

/// A registered connection that sends the measured messages.
#[derive(Debug)]
pub struct Publisher {
    /// Its number, written into every message.
    id: u16,
    /// Its socket's write half.
    write: OwnedWriteHalf,
    /// `Pong`s owed to the server, found by the reading task.
    pongs: mpsc::UnboundedReceiver<()>,
    /// The task reading its socket.
    reader: JoinHandle<Received>,
    /// The rooms it sends to in turn, as the server names them.
    rooms: Vec<String>,
}

impl Publisher {
    /// Starts reading `joined` in the background, expecting `expected` messages from all
    /// its rooms together; [`Publisher::send`] then writes to it.
    pub fn new(id: u16, joined: Joined, expected: u64, run: Arc<Run>) -> Publisher {
        let rooms = joined.rooms.clone();
        let (reader, write) = joined.split();
        let (tx, pongs) = mpsc::unbounded_channel();
        let reader = tokio::spawn(receive(
            reader,
            Pongs::Forward(tx),
            Role::Publisher(usize::from(id)),
            expected,
            run,
        ));
        Publisher {
            id,
            write,
            pongs,
            reader,
            rooms,
        }
    }

    /// Sends the plan's messages to each room, the rooms in turn, in batches of up to
    /// [`BATCH`] per write, within the run's window; then waits for the run to stop and
    /// reports.
    pub async fn send(mut self, plan: Plan, run: Arc<Run>) -> Sent {
        let mut report = Sent::default();
        if let Err(err) = self.send_all(plan, &run, &mut report).await {
            report.error = Some(err);
        }
        run.stop.cancelled().await;
        report.received = self.reader.await.unwrap_or_default();
        // The write half stays open until here: closing it earlier would make the server
        // drop this publisher while its last messages may still be on their way.
        drop(self.write);
        report
    }

    async fn send_all(&mut self, plan: Plan, run: &Run, report: &mut Sent) -> Result<(), String> {
        let templates = self
            .rooms
            .iter()
            .map(|room| MsgTemplate::new(room, plan.size))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let rooms = templates.len().max(1) as u64;
        let total = plan.messages * rooms;
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut out = Vec::with_capacity(BATCH as usize * (plan.size + 64));
        // Message `k` goes to room `k mod rooms` as that room's message `k div rooms`.
        let mut k = 0;
        while k < total {
            let due = match plan.rate {
                None => total,
                Some(rate) => {
                    tick.tick().await;
                    let due = (started.elapsed().as_secs_f64() * rate) as u64 + 1;
                    let due = due.min(total);
                    let behind_ms = due.saturating_sub(k) as f64 / rate * 1000.0;
                    report.max_behind_ms = report.max_behind_ms.max(behind_ms);
                    due
                }
            };
            while k < due {
                let n = BATCH.min(due - k).min(run.window.max(1));
                // Rounds of the rooms begun by messages k..k+n: those whose index is a
                // multiple of the room count.
                let rounds = (k + n).div_ceil(rooms) - k.div_ceil(rooms);
                run.wait_window(n, rounds).await?;
                out.clear();
                while self.pongs.try_recv().is_ok() {
                    let pong = encode(&ClientFrame::Pong).map_err(|e| e.to_string())?;
                    out.extend_from_slice(pong.as_bytes());
                }
                let sent_ns = run.now_ns();
                report.first_ns.get_or_insert(sent_ns);
                for k in k..k + n {
                    let stamp = Stamp {
                        publisher: self.id,
                        seq: k / rooms,
                        sent_ns,
                    };
                    templates[(k % rooms) as usize].write(&stamp, &mut out);
                }
                run.sent.fetch_add(n, Ordering::SeqCst);
                run.rounds.fetch_add(rounds, Ordering::SeqCst);
                self.write
                    .write_all(&out)
                    .await
                    .map_err(|e| format!("write: {e}"))?;
                k += n;
                report.sent = k;
            }
        }
        Ok(())
    }
}
