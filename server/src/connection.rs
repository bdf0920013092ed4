//! One client: a reader loop in the connection's task and a writer task.
//!
//! ```text
//!  socket read half ──► FrameReader (≤ buffsize) ──► commands::dispatch ──► hub / own queue
//!  socket write half ◄── writer task ◄── bounded queue of wire bytes ◄──┘
//! ```
//!
//! The stream is taken as two halves, so the same code serves plain TCP (`into_split`, no
//! lock) and, later, TLS (`tokio::io::split`). The writer owns the write half and drains the
//! queue in batches: all frames waiting go out in one vectored write (or one buffer for a
//! stream without vectored writes), and the stream is flushed only when the queue is empty.
//!
//! Beside the socket, the reader loop waits on the connection's [`Watchdog`] (handshake
//! timeout, keepalive pings) and charges frames to its [`FloodControl`].
//!
//! A connection ends in one of these ways, always logged with the peer and the reason: `Bye`,
//! end of stream, a fatal refusal (wrong version, oversize frame, wrong password, flooding),
//! a broken stream, a deadline (no `Hello` in time, no answer to a ping), the queue
//! overflowing (slow consumer), or server shutdown. It then leaves its rooms, and the writer
//! gets [`FLUSH_TIMEOUT`] to write what is still queued before the socket is closed.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chat_proto::codec::encode;
use chat_proto::{ClientFrame, CodecError, ErrorKind, FrameReader, ServerFrame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout_at, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::Admission;
use crate::cluster::Cluster;
use crate::commands::{self, Context, Deferred, Flow, Session};
use crate::config::Config;
use crate::config::StoreConfig;
use crate::counted::Counted;
use crate::flood::{self, FloodControl, Verdict};
use crate::hub::{Hub, Limits};
use crate::log::jetstream::JetStreamLog;
use crate::log::page::PAGE_MAX;
use crate::log::{NoHistory, SharedLog, SqliteLog, Store};
use crate::login_backoff::LoginBackoff;
use crate::outbox::{self, Next, Outbox, Outgoing, Wire};
use crate::queued_bytes::QueuedBytes;
use crate::registry::LeaveReason;
use crate::watchdog::{Alarm, Watchdog};
use crate::web;

/// How long a closing connection may spend writing what is still queued for its client.
/// Bounds a shutdown as well: every connection is closing then.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The most frames one write takes. Well under the system's `IOV_MAX` (1024 on Linux), and
/// enough that a busy client costs one syscall per hundreds of messages.
pub const MAX_BATCH: usize = 256;

/// How long a closed connection keeps reading (and discarding) what its peer still sends,
/// waiting for the peer to see the close; a well-behaved client closes at once.
pub const LINGER: Duration = Duration::from_secs(1);

/// The most a closed connection reads while lingering; a peer still sending more is cut off.
pub const LINGER_BYTES: u64 = 64 * 1024;

/// How long a slow consumer's writer may keep trying to finish its current write and send
/// the `SlowConsumer` error before the socket is closed. A client that stopped reading will
/// not take it; one that is merely slow gets told why.
pub const SLOW_CONSUMER_GRACE: Duration = Duration::from_millis(500);

/// What every connection shares with the server.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The rooms and who is online.
    pub hub: Arc<Hub>,
    /// The settings: frame limit, queue bound, deadlines, flood control, password.
    pub config: Arc<Config>,
    /// The connection limits, checked before a connection is served.
    pub admission: Admission,
    /// Failed passwords per address, which slow the next attempts from there.
    pub login_backoff: Arc<LoginBackoff>,
    /// Cancelled when the server stops; every reader loop then ends.
    pub shutdown: CancellationToken,
    /// Tracks every connection task and writer task, so shutdown can wait for them to flush.
    pub tracker: TaskTracker,
    /// The bytes every client's queue holds, under `max_queued_bytes`
    /// ([`crate::queued_bytes::watch`] keeps it there).
    pub queued: Arc<QueuedBytes>,
    /// The room log every message goes through: history off, on disk or in a cluster.
    pub log: SharedLog,
    /// With `[cluster]`, the link to the other nodes: names are claimed there.
    pub cluster: Option<Arc<Cluster>>,
}

impl Shared {
    /// What connections share under `config` when the server keeps no history: an empty
    /// room, no connection yet.
    ///
    /// [`crate::run`] makes one for its listener; a harness that drives connections
    /// in-process over other streams (the `session` fuzz target) makes its own and calls
    /// [`serve`].
    pub fn new(config: Config) -> Shared {
        Shared::assemble(config, 0, |hub| Arc::new(NoHistory::new(hub)))
    }

    /// What connections share under `config` when the server keeps history in `store`:
    /// every message goes through the `sqlite` log's writer thread, started here.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> io::Result<Shared> {
        let mut started = Ok(());
        let shared = Shared::assemble(config, PAGE_MAX, |hub| {
            match SqliteLog::start(store, hub.clone()) {
                Ok(log) => Arc::new(log),
                Err(err) => {
                    started = Err(err);
                    Arc::new(NoHistory::new(hub))
                }
            }
        });
        started.map(|()| shared)
    }

    /// What connections share on a node of `cluster`: history is the rooms' streams in
    /// NATS, kept as `retention` says.
    pub fn for_cluster(config: Config, cluster: Arc<Cluster>, retention: StoreConfig) -> Shared {
        let link = cluster.clone();
        Shared {
            cluster: Some(cluster),
            ..Shared::assemble(config, PAGE_MAX, |hub| {
                Arc::new(JetStreamLog::start(link, hub, retention))
            })
        }
    }

    /// What connections share around a new hub (stating `history` in `Welcome`) and the
    /// room log `log` makes around it.
    fn assemble(config: Config, history: usize, log: impl FnOnce(Arc<Hub>) -> SharedLog) -> Shared {
        let hub = Arc::new(Hub::with_limits(Limits {
            history,
            ..Limits::from_config(&config)
        }));
        Shared {
            log: log(hub.clone()),
            hub,
            queued: Arc::new(QueuedBytes::new(config.max_queued_bytes)),
            admission: Admission::new(config.max_clients, config.max_per_ip),
            login_backoff: Arc::default(),
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            cluster: None,
        }
    }
}

/// Serves one client until it leaves, then flushes and closes.
pub async fn serve<R, W>(reader: R, writer: W, peer: SocketAddr, shared: Shared)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let bound = outbox::Bound {
        frames: shared.config.send_queue,
        bytes: shared.config.send_queue_bytes,
    };
    let (outbox, outgoing) = outbox::bounded(bound, Some(shared.queued.clone()));
    let metrics = shared.hub.metrics();
    let writer = Counted::new(writer, metrics.clone());
    let reader = Counted::new(reader, metrics.clone());
    let writer = shared.tracker.spawn(write_loop(writer, outgoing));
    let mut frames = FrameReader::<_, ClientFrame>::new(reader, shared.config.buffsize);
    let mut session = Session::Handshake;
    let now = Instant::now();
    let mut guards = Guards {
        watchdog: Watchdog::new(&shared.config, now),
        flood: FloodControl::new(&shared.config, now),
    };
    let mut ctx = Context {
        hub: &shared.hub,
        outbox: &outbox,
        peer,
        session: &mut session,
        password: shared.config.password.as_ref(),
        login_backoff: &shared.login_backoff,
        handshake_deadline: guards.watchdog.handshake_deadline(),
        burst: Default::default(),
        log: &*shared.log,
        unconfirmed: Default::default(),
        waiting: None,
        cluster: shared.cluster.as_ref(),
    };
    let reason = read_loop(&mut frames, &mut ctx, &mut guards, &shared.shutdown).await;
    shared.hub.metrics().disconnected(&reason);
    // Its last messages reach its rooms before its leaving does.
    if let Some(delivered) = ctx.flush_to_confirm() {
        let _ = delivered.await;
    }
    leave(&shared.hub, &session, &outbox, peer, &reason);
    if let (Session::Registered { name, .. }, Some(cluster)) = (&session, &shared.cluster) {
        // Before the close, so that a client that waits for it finds its name free on
        // every node.
        Box::pin(cluster.names.release(name)).await;
    }
    // The registry's copy of the sender is gone; dropping ours lets the writer see the end
    // of the queue once it has written everything in it.
    drop(outbox);
    close(frames.into_inner(), writer, peer, &reason).await;
}

/// Leaves the room (a registered client) or logs the end of a handshake that never finished.
fn leave(hub: &Hub, session: &Session, outbox: &Outbox, peer: SocketAddr, reason: &LeaveReason) {
    match session {
        Session::Registered { name, .. } => hub.leave(name, reason, crate::now_millis()),
        Session::Handshake => {
            if *reason == LeaveReason::ShuttingDown {
                hub.metrics().refused(ErrorKind::ShuttingDown);
                if let Ok(frame) = encode(&ServerFrame::Error {
                    kind: ErrorKind::ShuttingDown,
                    detail: "the server is shutting down".to_owned(),
                }) {
                    outbox.offer(frame);
                }
            }
            if reason.is_fault() {
                tracing::warn!(%peer, %reason, "Connection closed before registering");
            } else {
                tracing::info!(%peer, %reason, "Connection closed before registering");
            }
        }
    }
}

/// Lets the writer flush and shut the stream down, then, where the peer may still be
/// sending, reads and discards its last bytes for a moment: closing a socket with unread
/// input resets the connection, which can destroy the final frame before the peer reads it.
/// The whole close takes at most [`FLUSH_TIMEOUT`].
async fn close<R>(
    mut reader: R,
    mut writer: JoinHandle<io::Result<()>>,
    peer: SocketAddr,
    reason: &LeaveReason,
) where
    R: AsyncRead + Unpin,
{
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    let flushed = match timeout_at(deadline, &mut writer).await {
        Ok(Ok(Ok(()))) => true,
        Ok(Ok(Err(err))) => {
            tracing::debug!(%peer, "Write failed: {err}");
            false
        }
        Ok(Err(err)) => {
            tracing::error!(%peer, "Writer task failed: {err}");
            false
        }
        Err(_) => {
            tracing::warn!(%peer, "Gave up writing to the client after {FLUSH_TIMEOUT:?}");
            writer.abort();
            false
        }
    };
    // After a refusal the peer is likely still sending; after `Bye` a client is waiting
    // for the close and answers it with its own. At shutdown nobody waits for anyone.
    let peer_may_still_send = matches!(
        reason,
        LeaveReason::Bye | LeaveReason::Refused(_) | LeaveReason::Flooding(_)
    );
    if flushed && peer_may_still_send {
        linger(&mut reader, deadline).await;
    }
}

/// Reads and discards what the peer still sends, until it closes, [`LINGER`] passes, or
/// `deadline`, whichever is first: closing with unread input would reset the connection.
async fn linger<R>(reader: &mut R, deadline: Instant)
where
    R: AsyncRead + Unpin,
{
    let until = deadline.min(Instant::now() + LINGER);
    let mut rest = reader.take(LINGER_BYTES);
    let _ = timeout_at(until, tokio::io::copy(&mut rest, &mut tokio::io::sink())).await;
}

/// Answers a connection the server will not serve (full, too many from one address) with
/// `Error{kind}` and closes it, all within [`FLUSH_TIMEOUT`]. No tasks, no queue, no reader
/// buffer: a refused peer costs one small write.
pub async fn turn_away<R, W>(mut reader: R, mut writer: W, kind: ErrorKind, detail: String)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    let Ok(frame) = encode(&ServerFrame::Error { kind, detail }) else {
        return;
    };
    let sent = timeout_at(deadline, async {
        writer.write_all(frame.as_bytes()).await?;
        writer.shutdown().await
    })
    .await;
    // A client sends `Hello` right after connecting; without this the unread `Hello` would
    // reset the connection and could destroy the error before it is read.
    if matches!(sent, Ok(Ok(()))) {
        linger(&mut reader, deadline).await;
    }
}

/// What the reader loop keeps beside the session: its clock and its flood control.
#[derive(Debug)]
struct Guards {
    /// Handshake deadline and keepalive.
    watchdog: Watchdog,
    /// `None` when flood control is off.
    flood: Option<FloodControl>,
}

/// What woke the reader loop.
#[derive(Debug)]
enum Event {
    /// A deadline of the [`Watchdog`].
    Alarm(Alarm),
    /// The socket: a frame, the end, or an error.
    Frame(Result<Option<ClientFrame>, CodecError>),
    /// The time of the frame put off by [`Flow::Later`].
    Turn,
}

/// What the reader loop sleeps until: a deadline, or a put-off frame's time.
#[derive(Debug, Clone, Copy)]
enum Wake {
    /// A deadline of the [`Watchdog`].
    Alarm(Alarm),
    /// The held frame's time.
    Turn,
}

/// What flood control says about one metered frame.
#[derive(Debug)]
enum Charge {
    /// Handle it.
    Go,
    /// Refused (the client was told); read the next frame.
    Skip,
    /// A flood: close with this reason (the client was told).
    Close(LeaveReason),
}

impl Guards {
    /// Charges one metered frame; answers a refusal with `RateLimited` or `Flooding`.
    fn charge(&mut self, ctx: &Context<'_>) -> Charge {
        let Some(flood) = &mut self.flood else {
            return Charge::Go;
        };
        match flood.charge(Instant::now()) {
            Verdict::Allowed => Charge::Go,
            Verdict::Refused { first } => {
                let limit = flood.describe();
                if first {
                    tracing::warn!(peer = %ctx.peer, "Rate limiting: {limit}");
                } else {
                    tracing::debug!(peer = %ctx.peer, "Rate limited: {limit}");
                }
                ctx.reply(&ServerFrame::Error {
                    kind: ErrorKind::RateLimited,
                    detail: format!("too many messages, {limit}: this one was not handled"),
                });
                Charge::Skip
            }
            Verdict::Disconnect { refused, window } => {
                let why = format!(
                    "flooding: {refused} messages refused within {}",
                    seconds(window)
                );
                ctx.reply(&ServerFrame::Error {
                    kind: ErrorKind::Flooding,
                    detail: format!("disconnected for {why}"),
                });
                Charge::Close(LeaveReason::Flooding(why))
            }
        }
    }
}

/// `10 s`, `0.5 s`: a duration as the config file writes it.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// Sleeps until the next time and says what it is; never returns when there is none.
async fn wake_at(next: Option<(Instant, Wake)>) -> Wake {
    match next {
        Some((at, wake)) => {
            sleep_until(at).await;
            wake
        }
        None => std::future::pending().await,
    }
}

/// The earlier of the watchdog's next deadline and the held frame's time.
fn next_wake(alarm: Option<(Instant, Alarm)>, held: Option<&Deferred>) -> Option<(Instant, Wake)> {
    let alarm = alarm.map(|(at, alarm)| (at, Wake::Alarm(alarm)));
    match held {
        // The deadline first when both are due at once, as deadlines come before frames.
        Some(held) if alarm.is_none_or(|(at, _)| held.at < at) => Some((held.at, Wake::Turn)),
        _ => alarm,
    }
}

/// Tells the client its time is up and gives the reason to leave with.
fn time_out(ctx: &Context<'_>, why: String) -> LeaveReason {
    ctx.reply(&ServerFrame::Error {
        kind: ErrorKind::Timeout,
        detail: why.clone(),
    });
    LeaveReason::TimedOut(why)
}

/// What a dispatched frame leaves to do: `Some` reason to close with, or nothing (a frame
/// put off is kept in `held`).
fn settle(flow: Flow, held: &mut Option<Box<Deferred>>) -> Option<LeaveReason> {
    match flow {
        Flow::Continue => None,
        Flow::Close(reason) => Some(reason),
        Flow::Later(deferred) => {
            *held = Some(deferred);
            None
        }
    }
}

/// Reads and dispatches frames until the connection should end, and says why.
///
/// Deadlines come before frames in the `select!`: a client that keeps sending cannot keep
/// its handshake open past the deadline. While a frame is put off ([`Flow::Later`]) nothing
/// more is read; the deadlines and shutdown still apply, and at its time it is dispatched
/// again (not charged to flood control twice).
async fn read_loop<R>(
    frames: &mut FrameReader<R, ClientFrame>,
    ctx: &mut Context<'_>,
    guards: &mut Guards,
    shutdown: &CancellationToken,
) -> LeaveReason
where
    R: AsyncRead + Unpin,
{
    let peer = ctx.peer;
    let mut held: Option<Box<Deferred>> = None;
    loop {
        if !frames.has_frame() {
            // Everything read so far is handled: its messages go out together.
            ctx.flush();
        }
        if ctx.outbox.is_congested() {
            // Answers to this client pile up: read no more of its requests until its
            // writer catches up (a burst read in one go must not overflow its own queue).
            ctx.flush();
            if !ctx.outbox.wait_for_room(SLOW_CONSUMER_GRACE).await {
                return LeaveReason::SlowConsumer;
            }
        }
        if ctx.log.in_flight().is_backlogged() {
            // The disk is behind: read no more messages until the room log catches up.
            ctx.flush();
            Box::pin(ctx.log.in_flight().drained()).await;
        }
        let registered = matches!(ctx.session, Session::Registered { .. });
        let wake = next_wake(guards.watchdog.next(registered), held.as_deref());
        let event = tokio::select! {
            biased;
            () = ctx.outbox.overflowed() => {
                if ctx.outbox.is_evicted() {
                    return LeaveReason::Refused("its name was registered on another node while \
                                                 this one could not reach the cluster".to_owned());
                }
                return LeaveReason::SlowConsumer;
            }
            () = shutdown.cancelled() => return LeaveReason::ShuttingDown,
            wake = wake_at(wake) => match wake {
                Wake::Alarm(alarm) => Event::Alarm(alarm),
                Wake::Turn => Event::Turn,
            },
            next = frames.read_frame(), if held.is_none() => Event::Frame(next),
        };
        if let Event::Frame(Ok(Some(_)) | Err(CodecError::Malformed(_))) = &event {
            guards.watchdog.heard(Instant::now());
        }
        if !matches!(event, Event::Frame(Ok(Some(ClientFrame::Msg { .. })))) {
            // Whatever this is, the client's messages before it come first.
            if let Some(delivered) = ctx.flush_to_confirm() {
                let _ = delivered.await;
            }
        }
        match event {
            Event::Alarm(Alarm::PingDue) => {
                ctx.reply(&ServerFrame::Ping);
                guards.watchdog.pinged(Instant::now());
            }
            Event::Alarm(Alarm::HandshakeExpired(limit)) => {
                return time_out(ctx, format!("no Hello within {}", seconds(limit)));
            }
            Event::Alarm(Alarm::PingUnanswered(limit)) => {
                return time_out(
                    ctx,
                    format!("no answer to a ping within {}", seconds(limit)),
                );
            }
            Event::Frame(Ok(Some(frame))) => {
                if flood::is_metered(&frame) {
                    match guards.charge(ctx) {
                        Charge::Go => {}
                        Charge::Skip => continue,
                        Charge::Close(reason) => return reason,
                    }
                }
                if let Some(reason) = settle(commands::dispatch(frame, ctx), &mut held) {
                    return reason;
                }
                if let Some(waiting) = ctx.waiting.take() {
                    if let Flow::Close(reason) = Box::pin(commands::complete(ctx, waiting)).await {
                        return reason;
                    }
                }
            }
            Event::Turn => {
                let Some(deferred) = held.take() else {
                    continue;
                };
                if let Some(reason) = settle(commands::dispatch(deferred.frame, ctx), &mut held) {
                    return reason;
                }
                // A held `Hello` may now wait for its name's claim in the cluster.
                if let Some(waiting) = ctx.waiting.take() {
                    if let Flow::Close(reason) = Box::pin(commands::complete(ctx, waiting)).await {
                        return reason;
                    }
                }
            }
            Event::Frame(Ok(None)) => return LeaveReason::Closed,
            Event::Frame(Err(CodecError::Malformed(err))) => {
                match guards.charge(ctx) {
                    Charge::Go => {}
                    Charge::Skip => continue,
                    Charge::Close(reason) => return reason,
                }
                // bincode's own messages can span lines; a log entry must not.
                let err = err
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                tracing::warn!(%peer, "Bad frame: {err}");
                ctx.reply(&ServerFrame::Error {
                    kind: ErrorKind::BadFrame,
                    detail: format!("not a valid client frame: {err}"),
                });
            }
            Event::Frame(Err(err @ CodecError::FrameTooLarge { .. })) => {
                return refuse_oversize(ctx, err.to_string());
            }
            Event::Frame(Err(err @ CodecError::Truncated { .. })) => {
                // The peer closed its sending side mid-frame; it may still be reading.
                ctx.reply(&ServerFrame::Error {
                    kind: ErrorKind::BadFrame,
                    detail: err.to_string(),
                });
                return LeaveReason::Broken(err.to_string());
            }
            Event::Frame(Err(CodecError::Io(err))) if web::socket::too_large(&err).is_some() => {
                // A WebSocket message over `buffsize`: refused as an oversize frame is.
                return refuse_oversize(ctx, err.to_string());
            }
            Event::Frame(Err(err)) => return LeaveReason::Broken(err.to_string()),
        }
    }
}

/// Answers a frame (or a WebSocket message) over the size limit with `FrameTooLarge` and
/// gives the reason to close with: nothing after it can be trusted to be in step.
fn refuse_oversize(ctx: &Context<'_>, why: String) -> LeaveReason {
    ctx.reply(&ServerFrame::Error {
        kind: ErrorKind::FrameTooLarge,
        detail: why.clone(),
    });
    LeaveReason::Refused(why)
}

/// The writer task: drains the queue in batches until every sender is gone, then shuts the
/// stream down. Stops early, after a best-effort `SlowConsumer` error, once the queue
/// overflowed.
///
/// The rare ends (a slow consumer's farewell, the grace for a write under way) are boxed,
/// so that the task every idle client keeps is sized for the common loop only.
async fn write_loop<W>(mut out: W, mut queue: Outgoing) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let vectored = out.is_write_vectored();
    loop {
        // A fresh batch each round: an idle client holds no batch memory.
        let mut batch = Vec::new();
        match queue.next(&mut batch, MAX_BATCH).await {
            Next::Frames(_) => {}
            Next::Closed => return out.shutdown().await,
            Next::Overflowed => {
                Box::pin(farewell(&mut out, Instant::now() + SLOW_CONSUMER_GRACE)).await;
                return Ok(());
            }
        }
        let stopped_mid_write = {
            let write = async {
                write_batch(&mut out, &batch, vectored).await?;
                if queue.is_empty() {
                    out.flush().await?;
                }
                io::Result::Ok(())
            };
            tokio::pin!(write);
            tokio::select! {
                biased;
                written = &mut write => {
                    written?;
                    None
                }
                () = queue.overflowed() => {
                    let deadline = Instant::now() + SLOW_CONSUMER_GRACE;
                    let finished = matches!(
                        Box::pin(timeout_at(deadline, write)).await,
                        Ok(Ok(()))
                    );
                    Some((finished, deadline))
                }
            }
        };
        queue.written();
        if let Some((finished, deadline)) = stopped_mid_write {
            // Only a stream that is between frames can carry one more.
            if finished {
                Box::pin(farewell(&mut out, deadline)).await;
            }
            return Ok(());
        }
    }
}

/// Writes every frame of `batch`, with as few syscalls as the stream allows. Public for the
/// benchmarks (`benches/fanout.rs`).
pub async fn write_batch<W>(out: &mut W, batch: &[Wire], vectored: bool) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    match batch {
        [] => Ok(()),
        [one] => out.write_all(&one[..]).await,
        _ if vectored => {
            let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|f| IoSlice::new(&f[..])).collect();
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                let written = out.write_vectored(rest).await?;
                if written == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut rest, written);
            }
            Ok(())
        }
        _ => {
            let mut buf = BytesMut::with_capacity(batch.iter().map(|f| f.len()).sum());
            for frame in batch {
                buf.extend_from_slice(&frame[..]);
            }
            out.write_all(&buf).await
        }
    }
}

/// Best effort: tells a slow consumer why it is dropped, then closes, by `deadline`.
async fn farewell<W>(out: &mut W, deadline: Instant)
where
    W: AsyncWrite + Unpin,
{
    let Ok(frame) = encode(&ServerFrame::Error {
        kind: ErrorKind::SlowConsumer,
        detail: "your outbound queue is full: you are not reading fast enough".to_owned(),
    }) else {
        return;
    };
    let _ = timeout_at(deadline, async {
        out.write_all(frame.as_bytes()).await?;
        out.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// A write half that takes at most `max` bytes per call and records each call, so a test
    /// can see partial writes handled and count the syscalls a real socket would get.
    #[derive(Debug, Default)]
    struct Recorder {
        vectored: bool,
        max: usize,
        bytes: Vec<u8>,
        calls: usize,
        flushed: bool,
        shut: bool,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.max);
            self.bytes.extend_from_slice(&buf[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.max;
            for buf in bufs {
                let n = buf.len().min(left);
                self.bytes.extend_from_slice(&buf[..n]);
                left -= n;
            }
            self.calls += 1;
            Poll::Ready(Ok(self.max - left))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushed = true;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut = true;
            Poll::Ready(Ok(()))
        }
    }

    fn frames(n: usize) -> Vec<Wire> {
        (0..n)
            .map(|i| {
                encode(&ServerFrame::System {
                    text: format!("notice {i}"),
                    at: i as i64,
                })
                .unwrap()
                .into_bytes()
                .into()
            })
            .collect()
    }

    fn wire(frames: &[Wire]) -> Vec<u8> {
        frames.iter().flat_map(|f| f.to_vec()).collect()
    }

    /// Whatever a write call accepts, a batch reaches the stream whole and in order, with
    /// vectored writes or without.
    #[tokio::test]
    async fn a_batch_survives_partial_writes() {
        let batch = frames(5);
        for vectored in [true, false] {
            for max in [1, 7, 23, 1 << 20] {
                let mut out = Recorder {
                    vectored,
                    max,
                    ..Recorder::default()
                };
                write_batch(&mut out, &batch, vectored).await.unwrap();
                assert_eq!(out.bytes, wire(&batch), "vectored {vectored}, max {max}");
            }
        }
    }

    /// Frames waiting in the queue go out in one write call, then one flush; when every
    /// sender is gone the stream is shut down.
    #[tokio::test]
    async fn the_writer_sends_everything_queued_in_one_call_and_shuts_down_at_the_end() {
        let batch = frames(40);
        for vectored in [true, false] {
            let (tx, rx) = outbox::channel(64);
            for frame in &batch {
                tx.offer_wire(frame.clone());
            }
            drop(tx);
            let mut out = Recorder {
                vectored,
                max: usize::MAX,
                ..Recorder::default()
            };
            write_loop(&mut out, rx).await.unwrap();
            assert_eq!(out.bytes, wire(&batch));
            assert_eq!(out.calls, 1, "vectored {vectored}");
            assert!(out.flushed && out.shut);
        }
    }

    /// Once the queue overflowed, the writer stops writing what was queued and, since the
    /// stream is between frames, tells the client why before closing.
    #[tokio::test]
    async fn an_overflowed_writer_sends_the_slow_consumer_error_and_stops() {
        let (tx, rx) = outbox::channel(3);
        for frame in frames(4) {
            tx.offer_wire(frame);
        }
        let mut out = Recorder {
            vectored: true,
            max: usize::MAX,
            ..Recorder::default()
        };
        write_loop(&mut out, rx).await.unwrap();
        let sent: Vec<Result<ServerFrame, _>> =
            chat_proto::codec::decode_chunks([out.bytes.as_slice()], 1 << 20);
        assert!(
            matches!(
                sent.as_slice(),
                [Ok(ServerFrame::Error {
                    kind: ErrorKind::SlowConsumer,
                    ..
                })]
            ),
            "{sent:?}"
        );
        assert!(out.shut);
        drop(tx);
    }
}
