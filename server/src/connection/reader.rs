//! The reader loop: frames from the socket to the commands, in order, under the
//! connection's deadlines, its flood control and the room log's back-pressure.

use std::time::Duration;

use chat_proto::{ClientFrame, CodecError, ErrorKind, FrameReader, ServerFrame};
use tokio::io::AsyncRead;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::{oversize, SLOW_CONSUMER_GRACE};
use crate::commands::{self, Context, Deferred, Flow, Session};
use crate::flood::{self, FloodControl, Verdict};
use crate::outbox::Eviction;
use crate::registry::LeaveReason;
use crate::wakes;
use crate::watchdog::{Alarm, Watchdog};

/// What the reader loop keeps beside the session: its clock and its flood control.
#[derive(Debug)]
pub(super) struct Guards {
    /// Handshake deadline and keepalive.
    pub(super) watchdog: Watchdog,
    /// `None` when flood control is off.
    pub(super) flood: Option<FloodControl>,
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

/// Whether the next frame can be taken without the `select!`: a whole one is buffered (so
/// reading it does not wait), none is held, and nothing the `select!` puts before frames is
/// ready (an overflow or eviction, shutdown, a deadline passed). A publisher's read holds
/// dozens of frames; this spares each of them the `select!`'s futures (two wake-up
/// registrations and a timer set and cleared).
fn frame_is_next<R>(
    frames: &FrameReader<R, ClientFrame>,
    ctx: &Context<'_>,
    shutdown: &CancellationToken,
    wake: Option<(Instant, Wake)>,
    held: bool,
) -> bool
where
    R: AsyncRead + Unpin,
{
    !held
        && frames.has_frame()
        && !shutdown.is_cancelled()
        && wake.is_none_or(|(at, _)| at > Instant::now())
        && !ctx.outbox.has_overflowed()
        && !ctx.outbox.is_evicted()
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

/// Finishes what the last frame left the connection waiting for, and what that in turn
/// left (a sign-in checked against the accounts, then its name claimed in the cluster);
/// `Some` reason to close with.
async fn complete(ctx: &mut Context<'_>) -> Option<LeaveReason> {
    while let Some(waiting) = ctx.waiting.take() {
        if let Flow::Close(reason) = commands::complete(ctx, waiting).await {
            return Some(reason);
        }
    }
    None
}

/// Reads and dispatches frames until the connection should end, and says why.
///
/// Deadlines come before frames in the `select!`: a client that keeps sending cannot keep
/// its handshake open past the deadline. While a frame is put off ([`Flow::Later`]) nothing
/// more is read; the deadlines and shutdown still apply, and at its time it is dispatched
/// again (not charged to flood control twice).
pub(super) async fn read_loop<R>(
    frames: &mut FrameReader<R, ClientFrame>,
    ctx: &mut Context<'_>,
    guards: &mut Guards,
    shutdown: &CancellationToken,
) -> LeaveReason
where
    R: AsyncRead + Unpin,
{
    let mut held: Option<Box<Deferred>> = None;
    loop {
        if !frames.has_frame() {
            // Everything read so far is handled: its messages go out together, and the
            // writers of everyone they reached are woken once.
            ctx.flush();
            wakes::release();
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
        let registered = !matches!(ctx.session, Session::Handshake);
        let wake = next_wake(guards.watchdog.next(registered), held.as_deref());
        let event = if frame_is_next(frames, ctx, shutdown, wake, held.is_some()) {
            Event::Frame(frames.read_frame().await)
        } else {
            tokio::select! {
                biased;
                () = ctx.outbox.overflowed() => {
                    match ctx.outbox.eviction() {
                        Some(Eviction::Removed | Eviction::Sanctioned) => return LeaveReason::Removed,
                        Some(why) => return LeaveReason::Refused(why.reason().to_owned()),
                        None => {}
                    }
                    return LeaveReason::SlowConsumer;
                }
                () = shutdown.cancelled() => return LeaveReason::ShuttingDown,
                wake = wake_at(wake) => match wake {
                    Wake::Alarm(alarm) => Event::Alarm(alarm),
                    Wake::Turn => Event::Turn,
                },
                next = frames.read_frame(), if held.is_none() => Event::Frame(next),
            }
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
                if let Some(reason) = Box::pin(complete(ctx)).await {
                    return reason;
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
                if let Some(reason) = Box::pin(complete(ctx)).await {
                    return reason;
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
                tracing::warn!(peer = %ctx.peer, "Bad frame: {err}");
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
            Event::Frame(Err(CodecError::Io(err))) if oversize::too_large(&err).is_some() => {
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
