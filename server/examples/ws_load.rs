//! What a WebSocket receiver costs beside a TCP one: the same load generator for both, so
//! that the two runs differ only in the receivers' transport.
//!
//! ```text
//! cargo run --release -p chat-server --example ws_load -- \
//!     --chat 127.0.0.1:6969 --web 127.0.0.1:8080 --transport websocket --clients 100
//! ```
//!
//! `--clients N` receivers register and join `lobby`, over TCP to `--chat` or over
//! WebSocket to `--web` (`/ws`, as the browser's page). Then:
//!
//! - with `--idle`, nothing more: it prints the server's resident memory growth per
//!   receiver (`--server-pid` names the server's process, read from `/proc`);
//! - without it, one publisher on TCP sends `--messages M` messages of `--size B` bytes to
//!   `lobby`, never more than `--window` ahead of the slowest receiver, and it prints the
//!   deliveries per second (N × M over the time from the first send to the last receipt)
//!   and how many were lost.
//!
//! The server should run with flood control and the connection limits off (`[limits]
//! messages_per_second = 0`, `max_clients = 0`, `max_per_ip = 0`), and history off
//! (`[store] path = off`) to measure the fan-out alone. The last line is `RESULT {json}`.

#[path = "../tests/common/ws_stream.rs"]
#[allow(dead_code)]
mod ws_stream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chat_proto::codec::{encode, CLIENT_MAX_FRAME};
use chat_proto::{Backlog, ClientFrame, FrameReader, ServerFrame, PROTOCOL_VERSION};
use clap::{Parser, ValueEnum};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::net::TcpStream;
use ws_stream::WsStream;

/// A socket of either transport.
trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Duplex for S {}

/// A registered receiver's reading side.
type Receiver = FrameReader<ReadHalf<Box<dyn Duplex>>, ServerFrame>;

/// The receivers' transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    /// The chat port.
    Tcp,
    /// `/ws` on the web port.
    Websocket,
}

/// WebSocket and TCP receivers against a running chat-server.
#[derive(Debug, Parser)]
struct Args {
    /// The chat port (the publisher's, and TCP receivers').
    #[arg(long, default_value = "127.0.0.1:6969")]
    chat: SocketAddr,
    /// The web port (WebSocket receivers').
    #[arg(long, default_value = "127.0.0.1:8080")]
    web: SocketAddr,
    /// How the receivers connect.
    #[arg(long, value_enum, default_value = "websocket")]
    transport: Transport,
    /// Receivers.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Messages the publisher sends.
    #[arg(long, default_value_t = 2000)]
    messages: u64,
    /// Text bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Most messages in flight ahead of the slowest receiver.
    #[arg(long, default_value_t = 500)]
    window: u64,
    /// Connect and stay idle; report memory per receiver.
    #[arg(long)]
    idle: bool,
    /// The server's process id, for its memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Give up on receivers this many seconds after the last message was sent.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let rss_before = args.server_pid.map(rss_kib).transpose()?;
    let mut receivers = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        receivers.push(connect(&args, &format!("r{i}")).await?);
    }
    if args.idle {
        let rss_after = args.server_pid.map(rss_kib).transpose()?;
        let per_client = rss_before.zip(rss_after).map(|(before, after)| {
            after.saturating_sub(before) as f64 * 1024.0 / args.clients as f64
        });
        let shown = per_client.map_or("unknown (no --server-pid)".to_owned(), |b| {
            format!("{b:.0} B")
        });
        println!(
            "{} {:?} receivers idle; server RSS per receiver: {shown}",
            args.clients, args.transport
        );
        let json = per_client.map_or("null".to_owned(), |b| format!("{b:.0}"));
        println!(
            "RESULT {{\"transport\":\"{:?}\",\"clients\":{},\"bytes_per_client\":{json}}}",
            args.transport, args.clients
        );
        drop(receivers);
        return Ok(());
    }

    let started = Instant::now();
    let counts: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.clients).map(|_| AtomicU64::new(0)).collect());
    let done_at = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, reader)| {
            let (counts, done_at) = (counts.clone(), done_at.clone());
            tokio::spawn(receive(reader, i, counts, done_at, started, args.messages))
        })
        .collect();
    let publisher = TcpStream::connect(args.chat).await?;
    publisher.set_nodelay(true)?;
    let (mut echoes, mut publisher) = register(Box::new(publisher), "publisher").await?;
    // Its own copies come back too: read and dropped, or it would be a slow consumer.
    tokio::spawn(async move { while let Ok(Some(_)) = echoes.read_frame().await {} });
    let frame = encode(&ClientFrame::Msg {
        room: "lobby".into(),
        text: "x".repeat(args.size),
    })?;
    let first_send = started.elapsed();
    for sent in 0..args.messages {
        while sent >= args.window && sent - slowest(&counts) >= args.window {
            tokio::task::yield_now().await;
        }
        publisher.write_all(frame.as_bytes()).await?;
    }
    publisher.flush().await?;
    let mut failed = 0;
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(args.timeout), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => {
                eprintln!("a receiver failed: {err:#}");
                failed += 1;
            }
            Ok(Err(err)) => bail!("a receiver panicked: {err}"),
            Err(_) => failed += 1,
        }
    }
    let elapsed = Duration::from_nanos(done_at.load(Ordering::Relaxed)).saturating_sub(first_send);
    let delivered: u64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    let expected = args.messages * args.clients as u64;
    let rate = delivered as f64 / elapsed.as_secs_f64();
    println!(
        "{:?}: {delivered} of {expected} deliveries to {} receivers in {elapsed:.2?}: \
         {rate:.0} deliveries/s, {} lost",
        args.transport,
        args.clients,
        expected - delivered
    );
    println!(
        "RESULT {{\"transport\":\"{:?}\",\"clients\":{},\"messages\":{},\
         \"deliveries_per_sec\":{rate:.0},\"lost\":{},\"failed_receivers\":{failed}}}",
        args.transport,
        args.clients,
        args.messages,
        expected - delivered
    );
    Ok(())
}

/// A receiver registered as `name` in `lobby` over the transport `args` name.
async fn connect(args: &Args, name: &str) -> Result<Receiver> {
    let stream: Box<dyn Duplex> = match args.transport {
        Transport::Tcp => {
            let stream = TcpStream::connect(args.chat).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
        Transport::Websocket => {
            let stream = TcpStream::connect(args.web).await?;
            stream.set_nodelay(true)?;
            let url = format!("ws://{}/ws", args.web);
            let (socket, _) = tokio_tungstenite::client_async(url, stream)
                .await
                .context("the WebSocket handshake")?;
            Box::new(WsStream::new(socket))
        }
    };
    Ok(register(stream, name).await?.0)
}

/// Sends `Hello` and `Join lobby` (no backlog) and reads until `Joined`.
async fn register(
    stream: Box<dyn Duplex>,
    name: &str,
) -> Result<(Receiver, tokio::io::WriteHalf<Box<dyn Duplex>>)> {
    let (read, mut write) = tokio::io::split(stream);
    for frame in [
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: name.to_owned(),
            password: None,
        },
        ClientFrame::Join {
            room: "lobby".into(),
            backlog: Backlog::None,
        },
    ] {
        write.write_all(encode(&frame)?.as_bytes()).await?;
    }
    write.flush().await?;
    let mut reader = FrameReader::new(read, CLIENT_MAX_FRAME);
    loop {
        match reader.read_frame().await? {
            Some(ServerFrame::Joined { .. }) => return Ok((reader, write)),
            Some(ServerFrame::Error { kind, detail }) => bail!("{name}: {kind}: {detail}"),
            Some(_) => {}
            None => bail!("{name}: closed before Joined"),
        }
    }
}

/// The least any receiver has received.
fn slowest(counts: &[AtomicU64]) -> u64 {
    counts
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0)
}

/// Counts `Msg` frames until `expected` arrived, then notes the time (since `started`).
async fn receive(
    mut reader: Receiver,
    i: usize,
    counts: Arc<Vec<AtomicU64>>,
    done_at: Arc<AtomicU64>,
    started: Instant,
    expected: u64,
) -> Result<()> {
    let mut got = 0;
    while got < expected {
        match reader.read_frame().await? {
            Some(ServerFrame::Msg { .. }) => {
                got += 1;
                counts[i].store(got, Ordering::Relaxed);
            }
            Some(_) => {}
            None => bail!("receiver {i}: closed after {got} messages"),
        }
    }
    let at = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    done_at.fetch_max(at, Ordering::Relaxed);
    Ok(())
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read the memory of process {pid}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}
