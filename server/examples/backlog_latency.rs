//! Backlog latency: how long a `Join` with a backlog (`chat-client listen --history 50`)
//! waits for its `History` frame, over many joins, against a running chat-server.
//!
//! ```text
//! cargo run --release -p chat-server --example backlog_latency -- --addr 127.0.0.1:6969
//! ```
//!
//! The server must keep history (`[store] path = FILE`) and should have flood control off
//! (`[limits] messages_per_second = 0`), or filling the room takes as long as its rate allows.
//!
//! One connection registers, joins the room and, if the room's log holds fewer than
//! `--fill` messages, sends the rest (pipelined, a bounded number in flight, each one
//! confirmed by its echo, so they are stored). It leaves the room, then `--joins` times:
//! sends `Join{room, Backlog::Latest(n)}`, times until the `History{backlog: true}` has
//! arrived (and `Joined`), sends `Part` and waits for `Parted`. `--warmup` joins before
//! those are not counted. Prints p50/p90/p99/max and one `RESULT {json}` line.
//!
//! `--decorate N` first gives each of the room's newest `N` messages an edit and two
//! reactions (`3 × N` entries of the log after them), so that a backlog holds messages as
//! they stand, with their reactions read beside them, and the events: what a room where
//! people react and fix typos looks like.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytes::BytesMut;
use chat_proto::codec::{decode_body, encode, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::{Backlog, ClientFrame, ServerFrame, PROTOCOL_VERSION};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::codec::Decoder;

/// Join-with-backlog latency against a running chat-server.
#[derive(Debug, Parser)]
struct Args {
    /// The server's address (loopback only).
    #[arg(long, default_value = "127.0.0.1:6969")]
    addr: SocketAddr,
    /// Name to register under.
    #[arg(long, default_value = "backlog-probe")]
    name: String,
    /// The server's password, if it has one.
    #[arg(long, env = "CHAT_PASSWORD")]
    password: Option<String>,
    /// The room to join.
    #[arg(long, default_value = "lobby")]
    room: String,
    /// Messages the room's log should hold before measuring; the missing ones are sent.
    #[arg(long, default_value_t = 5000)]
    fill: u64,
    /// Text bytes per filler message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Backlog asked for with each join: `Backlog::Latest(N)`.
    #[arg(long, default_value_t = 50)]
    backlog: u32,
    /// Measured joins.
    #[arg(long, default_value_t = 1000)]
    joins: usize,
    /// Joins before the measured ones, not counted.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// The newest messages given an edit and two reactions each before measuring (the
    /// probe's own: it sent them).
    #[arg(long, default_value_t = 0)]
    decorate: u64,
    /// Seconds to wait for any one answer.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

/// One registered connection.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    codec: FrameCodec,
    wait: Duration,
}

impl Conn {
    async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        let wire = encode(frame)?;
        self.stream.write_all(wire.as_bytes()).await?;
        Ok(())
    }

    /// The next frame, answering the server's pings on the way.
    async fn next(&mut self) -> Result<ServerFrame> {
        loop {
            if let Some(body) = self.codec.decode(&mut self.buf)? {
                let frame: ServerFrame = decode_body(&body)?;
                if matches!(frame, ServerFrame::Ping) {
                    self.send(&ClientFrame::Pong).await?;
                    continue;
                }
                return Ok(frame);
            }
            let read = timeout(self.wait, self.stream.read_buf(&mut self.buf))
                .await
                .with_context(|| format!("no answer from the server within {:?}", self.wait))??;
            ensure!(read > 0, "the server closed the connection");
        }
    }
}

async fn connect(args: &Args) -> Result<(Conn, u32)> {
    ensure!(
        args.addr.ip().is_loopback(),
        "{} is not a loopback address",
        args.addr
    );
    let stream = TcpStream::connect(args.addr)
        .await
        .with_context(|| format!("cannot connect to {}", args.addr))?;
    stream.set_nodelay(true)?;
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(64 * 1024),
        codec: FrameCodec::new(CLIENT_MAX_FRAME),
        wait: Duration::from_secs_f64(args.timeout),
    };
    conn.send(&ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        username: args.name.clone(),
        password: args.password.clone(),
    })
    .await?;
    match conn.next().await? {
        ServerFrame::Welcome { history, .. } => Ok((conn, history)),
        other => bail!("expected Welcome, got {other:?}"),
    }
}

/// Sends a join with `backlog` and waits for both `Joined` and the backlog's `History`;
/// returns the time until the `History` arrived and how many messages it held.
async fn join(conn: &mut Conn, room: &str, backlog: Backlog) -> Result<(Duration, Vec<u64>)> {
    let started = Instant::now();
    conn.send(&ClientFrame::Join {
        room: room.to_owned(),
        backlog,
    })
    .await?;
    let mut joined = false;
    let mut history = None;
    while !joined || history.is_none() {
        match conn.next().await? {
            ServerFrame::Joined { .. } => joined = true,
            ServerFrame::History {
                messages,
                backlog: true,
                ..
            } => history = Some((started.elapsed(), messages.iter().map(|m| m.seq).collect())),
            ServerFrame::Error { kind, detail } => bail!("join refused: {kind:?}: {detail}"),
            // Others coming, going or talking in the room.
            _ => {}
        }
    }
    Ok(history.expect("loop ends with a history"))
}

async fn part(conn: &mut Conn, room: &str) -> Result<()> {
    conn.send(&ClientFrame::Part {
        room: room.to_owned(),
    })
    .await?;
    loop {
        match conn.next().await? {
            ServerFrame::Parted { .. } => return Ok(()),
            ServerFrame::Error { kind, detail } => bail!("part refused: {kind:?}: {detail}"),
            _ => {}
        }
    }
}

/// Sends `count` messages to `room` (joined), at most `window` unconfirmed: each is
/// confirmed by its echo, which the server sends only once it is stored.
async fn fill(conn: &mut Conn, args: &Args, count: u64) -> Result<()> {
    const WINDOW: u64 = 512;
    const BURST: u64 = 64;
    let mut sent = 0u64;
    let mut echoed = 0u64;
    let mut out = Vec::new();
    while echoed < count {
        if sent < count && sent - echoed + BURST <= WINDOW {
            out.clear();
            let until = count.min(sent + BURST);
            for i in sent..until {
                let mut text = format!("backlog filler {i} ");
                while text.len() < args.size {
                    text.push('x');
                }
                let frame = encode(&ClientFrame::Msg {
                    room: args.room.clone(),
                    text,
                })?;
                out.extend_from_slice(frame.as_bytes());
            }
            conn.stream.write_all(&out).await?;
            sent = until;
            continue;
        }
        match conn.next().await? {
            ServerFrame::Msg { from, .. } if from.eq_ignore_ascii_case(&args.name) => echoed += 1,
            ServerFrame::Error { kind, detail } => bail!("message refused: {kind:?}: {detail}"),
            _ => {}
        }
    }
    Ok(())
}

/// Gives messages `seqs` of `room` (the probe's own) an edit and reactions 👍 and 🎉 each,
/// one at a time, each confirmed by its `Event`.
async fn decorate(conn: &mut Conn, room: &str, seqs: std::ops::RangeInclusive<u64>) -> Result<()> {
    for seq in seqs {
        let changes = [
            ClientFrame::Edit {
                room: room.to_owned(),
                seq,
                text: format!("edited filler {seq}"),
            },
            ClientFrame::React {
                room: room.to_owned(),
                seq,
                emoji: "👍".into(),
                on: true,
            },
            ClientFrame::React {
                room: room.to_owned(),
                seq,
                emoji: "🎉".into(),
                on: true,
            },
        ];
        for change in changes {
            conn.send(&change).await?;
            loop {
                match conn.next().await? {
                    ServerFrame::Event { .. } => break,
                    ServerFrame::Error { kind, detail } => {
                        bail!("change refused: {kind:?}: {detail}")
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The value at quantile `q` of sorted `samples` (nearest rank).
fn quantile(samples: &[Duration], q: f64) -> Duration {
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

fn us(d: Duration) -> u128 {
    d.as_micros()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.joins > 0, "--joins must be at least 1");
    let (mut conn, history) = connect(&args).await?;
    ensure!(
        history > 0,
        "the server keeps no history (Welcome says history 0): set [store] path"
    );
    let wanted = args.backlog.min(history);

    // How much the log holds: the newest seq (dense from 1; trimming aside).
    let (_, seqs) = join(&mut conn, &args.room, Backlog::Latest(1)).await?;
    let have = seqs.last().copied().unwrap_or(0);
    let filled = args.fill.saturating_sub(have);
    if filled > 0 {
        let started = Instant::now();
        fill(&mut conn, &args, filled).await?;
        eprintln!(
            "sent {filled} messages to #{} ({have} were there) in {:.2?}",
            args.room,
            started.elapsed()
        );
    }
    if args.decorate > 0 {
        let newest = have + filled;
        let from = newest.saturating_sub(args.decorate - 1).max(1);
        decorate(&mut conn, &args.room, from..=newest).await?;
        eprintln!("gave messages {from} to {newest} an edit and two reactions each");
    }
    part(&mut conn, &args.room).await?;

    let mut samples = Vec::with_capacity(args.joins);
    let mut got = u64::MAX;
    let started = Instant::now();
    for i in 0..args.warmup + args.joins {
        let (took, seqs) = join(&mut conn, &args.room, Backlog::Latest(args.backlog)).await?;
        ensure!(
            seqs.len() as u64 >= u64::from(wanted).min(have + filled),
            "join {i}: asked for {wanted} messages, the History held {}",
            seqs.len()
        );
        got = got.min(seqs.len() as u64);
        part(&mut conn, &args.room).await?;
        if i >= args.warmup {
            samples.push(took);
        }
    }
    let elapsed = started.elapsed();
    let _ = conn.send(&ClientFrame::Bye).await;
    samples.sort();

    let (p50, p90, p99) = (
        quantile(&samples, 0.50),
        quantile(&samples, 0.90),
        quantile(&samples, 0.99),
    );
    let (min, max) = (samples[0], samples[samples.len() - 1]);
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{} joins of #{} with Latest({}) ({} messages in each History, {} in the log): \
         p50 {:.2?}, p90 {:.2?}, p99 {:.2?}, max {:.2?} (min {:.2?}, mean {:.2?}); {:.1?} in all",
        samples.len(),
        args.room,
        args.backlog,
        got,
        have + filled,
        p50,
        p90,
        p99,
        max,
        min,
        mean,
        elapsed
    );
    println!(
        "RESULT {{\"joins\":{},\"backlog\":{},\"history_messages\":{},\"log_messages\":{},\
         \"filled\":{},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"max_us\":{},\"min_us\":{},\
         \"mean_us\":{},\"elapsed_s\":{:.3}}}",
        samples.len(),
        args.backlog,
        got,
        have + filled,
        filled,
        us(p50),
        us(p90),
        us(p99),
        us(max),
        us(min),
        us(mean),
        elapsed.as_secs_f64()
    );
    Ok(())
}
