//! What accounts cost a running chat-server, side by side with guests in one run:
//!
//! - `resume`: `--reconnects` sign-ins with a device session's token (`SignIn{Token}` sent →
//!   `Welcome` read), each on a new connection, beside as many guest `Hello` → `Welcome`;
//! - `load`: `--chatters` guests in one room, each sending a message every second and timing
//!   its echo, for `--seconds` without sign-ins, then as long again while password sign-ins
//!   (`SignIn{Password}` → `SignedIn`, one argon2id verification each) come at `--logins-per-second`;
//! - `idle` (with `--server-pid`): the server's resident memory per idle client, `--idle`
//!   guests, then as many clients signed in to accounts of their own (made first).
//!
//! ```text
//! cargo run --release -p chat-server --example sign_in_latency -- --addr 127.0.0.1:6969 \
//!     --server-pid $(pgrep chat-server)
//! ```
//!
//! The server must keep accounts (`[store] path`), allow registration, and have flood
//! control and connection limits off (`[limits] messages_per_second = 0`, `max_clients = 0`,
//! `max_per_ip = 0`). Prints each figure and one `RESULT {json}` line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chat_proto::codec::CLIENT_MAX_FRAME;
use chat_proto::{
    Backlog, ClientConnection, ClientFrame, Credential, ErrorKind, Secret, ServerFrame,
    SessionToken, PROTOCOL_VERSION,
};
use clap::Parser;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::timeout;

/// Account costs against a running chat-server.
#[derive(Debug, Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:6969")]
    addr: SocketAddr,
    /// The account the resume and load phases sign in to (made if missing).
    #[arg(long, default_value = "signin-probe")]
    name: String,
    /// Its password.
    #[arg(long, default_value = "probe password 7a1c")]
    password: String,
    /// Token sign-ins (and as many guest handshakes) measured.
    #[arg(long, default_value_t = 10_000)]
    reconnects: usize,
    /// Guests chatting during the load phase (0: no load phase).
    #[arg(long, default_value_t = 1000)]
    chatters: usize,
    /// Seconds of each half of the load phase.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Password sign-ins per second in the second half.
    #[arg(long, default_value_t = 20)]
    logins_per_second: u32,
    /// Idle clients of each kind for the memory phase (needs --server-pid; 0: none).
    #[arg(long, default_value_t = 1000)]
    idle: usize,
    /// The server's process id, to read its resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// In the memory phase, open the signed-in clients before the guests (memory freed
    /// earlier is reused by whichever comes first: run both orders on fresh servers).
    #[arg(long)]
    accounts_first: bool,
}

type Conn = ClientConnection<TcpStream>;

const WAIT: Duration = Duration::from_secs(30);

async fn connect(addr: SocketAddr) -> Result<Conn> {
    let stream = TcpStream::connect(addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    Ok(ClientConnection::new(stream, CLIENT_MAX_FRAME))
}

/// Connects from `local`, an address of the loopback range: another person's machine, as
/// far as the server's per-address limits can tell.
async fn connect_from(addr: SocketAddr, local: std::net::IpAddr) -> Result<Conn> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(local, 0))?;
    let stream = socket.connect(addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    Ok(ClientConnection::new(stream, CLIENT_MAX_FRAME))
}

/// How many accounts the password sign-ins of the load phase spread over, each from an
/// address of its own: people signing in, not one person signing in twenty times a second
/// (which the per-account and per-address throttling would rightly slow).
const LOGIN_ACCOUNTS: usize = 50;

async fn next(conn: &mut Conn) -> Result<ServerFrame> {
    match timeout(WAIT, conn.read_frame()).await {
        Ok(Ok(Some(frame))) => Ok(frame),
        Ok(Ok(None)) => bail!("the server closed the connection"),
        Ok(Err(err)) => bail!("read: {err}"),
        Err(_) => bail!("no frame within {WAIT:?}"),
    }
}

/// Reads until a frame `pick` accepts; an `Error` fails.
async fn until<T>(conn: &mut Conn, pick: impl Fn(&ServerFrame) -> Option<T>) -> Result<T> {
    loop {
        let frame = next(conn).await?;
        if let Some(found) = pick(&frame) {
            return Ok(found);
        }
        if let ServerFrame::Error { kind, detail } = frame {
            bail!("refused: {kind}: {detail}");
        }
    }
}

fn sign_in(name: &str, credential: Credential, online: bool) -> ClientFrame {
    ClientFrame::SignIn {
        version: PROTOCOL_VERSION,
        username: name.into(),
        server_password: None,
        credential,
        online,
    }
}

/// A token for `name`, registering the account first if it has none.
async fn token_for(addr: SocketAddr, name: &str, password: &str) -> Result<SessionToken> {
    let mut conn = connect(addr).await?;
    conn.write_frame(&ClientFrame::Register {
        version: PROTOCOL_VERSION,
        username: name.into(),
        server_password: None,
        password: Secret::new(password),
        device: "bench".into(),
    })
    .await?;
    let token = match next(&mut conn).await? {
        ServerFrame::SignedIn { token, .. } => token,
        ServerFrame::Error {
            kind: ErrorKind::NameRegistered,
            ..
        } => {
            let mut conn = connect(addr).await?;
            let password = Credential::Password {
                password: Secret::new(password),
                device: "bench".into(),
            };
            conn.write_frame(&sign_in(name, password, false)).await?;
            until(&mut conn, |f| match f {
                ServerFrame::SignedIn { token, .. } => Some(token.clone()),
                _ => None,
            })
            .await?
        }
        other => bail!("registering {name}: {other:?}"),
    };
    token.context("no token after a password")
}

/// One handshake `opening` → `Welcome` on a new connection, timed; then `Bye`.
async fn handshake(addr: SocketAddr, opening: &ClientFrame) -> Result<Duration> {
    let mut conn = connect(addr).await?;
    let started = Instant::now();
    conn.write_frame(opening).await?;
    until(&mut conn, |f| {
        matches!(f, ServerFrame::Welcome { .. }).then_some(())
    })
    .await?;
    let took = started.elapsed();
    conn.write_frame(&ClientFrame::Bye).await?;
    while let Ok(Ok(Some(_))) = timeout(WAIT, conn.read_frame()).await {}
    Ok(took)
}

/// A new connection that sent `opening` and got `Welcome`, kept open.
async fn welcomed(addr: SocketAddr, opening: &ClientFrame) -> Result<Conn> {
    let mut conn = connect(addr).await?;
    conn.write_frame(opening).await?;
    until(&mut conn, |f| {
        matches!(f, ServerFrame::Welcome { .. }).then_some(())
    })
    .await?;
    Ok(conn)
}

/// p50, p99 and max of `samples`, in milliseconds.
fn summary(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99), at(1.0))
}

/// The server's resident memory, in bytes.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(kib * 1024)
}

/// The chatters' echo latencies over `seconds`, with `logins` password sign-ins per second
/// meanwhile (their latencies returned second).
async fn load(args: &Args, seconds: u64, logins: u32) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let echoes = Arc::new(Mutex::new(Vec::new()));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let mut chatters = Vec::new();
    for i in 0..args.chatters {
        let mut conn = connect(args.addr).await?;
        let name = format!("chatter-{i}-{logins}");
        conn.write_frame(&ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: name.clone(),
            password: None,
        })
        .await?;
        until(&mut conn, |f| {
            matches!(f, ServerFrame::Welcome { .. }).then_some(())
        })
        .await?;
        conn.write_frame(&ClientFrame::Join {
            room: "signin-load".into(),
            backlog: Backlog::None,
        })
        .await?;
        until(&mut conn, |f| {
            matches!(f, ServerFrame::Joined { .. }).then_some(())
        })
        .await?;
        let echoes = Arc::clone(&echoes);
        chatters.push(tokio::spawn(async move {
            // Spread over the second, so the room hears a steady stream.
            let offset = Duration::from_millis((i as u64 * 997) % 1000);
            tokio::time::sleep(offset).await;
            let mut every = tokio::time::interval(Duration::from_secs(1));
            let mut mine = Vec::new();
            while Instant::now() < stop {
                every.tick().await;
                let sent = Instant::now();
                conn.write_frame(&ClientFrame::Msg {
                    room: "signin-load".into(),
                    text: "a line of chat while others sign in".into(),
                })
                .await?;
                until(&mut conn, |f| match f {
                    ServerFrame::Msg { from, .. } if *from == name => Some(()),
                    _ => None,
                })
                .await?;
                mine.push(sent.elapsed());
            }
            echoes.lock().await.extend(mine);
            conn.write_frame(&ClientFrame::Bye).await?;
            anyhow::Ok(())
        }));
    }
    let mut sign_ins = Vec::new();
    if logins > 0 {
        let mut every = tokio::time::interval(Duration::from_secs(1) / logins);
        let mut running = Vec::new();
        let mut n = 0usize;
        while Instant::now() < stop {
            every.tick().await;
            n += 1;
            let who = n % LOGIN_ACCOUNTS;
            let (addr, name, password) = (args.addr, format!("login-{who}"), args.password.clone());
            let local = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 2, 1 + who as u8));
            running.push(tokio::spawn(async move {
                let mut conn = connect_from(addr, local).await?;
                let credential = Credential::Password {
                    password: Secret::new(password),
                    device: "bench".into(),
                };
                let started = Instant::now();
                conn.write_frame(&sign_in(&name, credential, false)).await?;
                until(&mut conn, |f| {
                    matches!(f, ServerFrame::SignedIn { .. }).then_some(())
                })
                .await?;
                let took = started.elapsed();
                conn.write_frame(&ClientFrame::Bye).await?;
                anyhow::Ok(took)
            }));
        }
        for one in running {
            sign_ins.push(one.await??);
        }
    }
    for chatter in chatters {
        chatter.await??;
    }
    let echoes = std::mem::take(&mut *echoes.lock().await);
    Ok((echoes, sign_ins))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let token = token_for(args.addr, &args.name, &args.password).await?;
    let mut result = serde_json::Map::new();

    // Token sign-ins beside guest handshakes, alternating, so both see the same server.
    let resume = sign_in(&args.name, Credential::Token(token), true);
    let (mut tokens, mut guests) = (Vec::new(), Vec::new());
    for i in 0..args.reconnects {
        tokens.push(handshake(args.addr, &resume).await?);
        let hello = ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: format!("guest-probe-{}", i % 2),
            password: None,
        };
        guests.push(handshake(args.addr, &hello).await?);
    }
    let (t50, t99, tmax) = summary(&mut tokens);
    let (g50, g99, gmax) = summary(&mut guests);
    println!(
        "token sign-in → Welcome: p50 {t50:.3} ms, p99 {t99:.3} ms, max {tmax:.3} ms ({} sign-ins)",
        tokens.len()
    );
    println!("guest Hello → Welcome:   p50 {g50:.3} ms, p99 {g99:.3} ms, max {gmax:.3} ms");
    result.insert("token_p50_ms".into(), t50.into());
    result.insert("token_p99_ms".into(), t99.into());
    result.insert("guest_p50_ms".into(), g50.into());
    result.insert("guest_p99_ms".into(), g99.into());

    if args.chatters > 0 {
        for who in 0..LOGIN_ACCOUNTS {
            token_for(args.addr, &format!("login-{who}"), &args.password).await?;
        }
        let (mut quiet, _) = load(&args, args.seconds, 0).await?;
        let (mut busy, mut logins) = load(&args, args.seconds, args.logins_per_second).await?;
        let (q50, q99, _) = summary(&mut quiet);
        let (b50, b99, _) = summary(&mut busy);
        let (l50, l99, lmax) = summary(&mut logins);
        println!(
            "{} chatters, message p50/p99: {q50:.2}/{q99:.2} ms without sign-ins, {b50:.2}/{b99:.2} ms with {} password sign-ins/s ({:.2}×)",
            args.chatters,
            args.logins_per_second,
            b99 / q99
        );
        println!("password sign-in → SignedIn: p50 {l50:.1} ms, p99 {l99:.1} ms, max {lmax:.1} ms ({} sign-ins)", logins.len());
        result.insert("chat_p99_quiet_ms".into(), q99.into());
        result.insert("chat_p99_busy_ms".into(), b99.into());
        result.insert("password_p99_ms".into(), l99.into());
    }

    if let (Some(pid), n) = (args.server_pid, args.idle) {
        if n > 0 {
            let mut tokens = Vec::with_capacity(n);
            for i in 0..n {
                tokens.push(token_for(args.addr, &format!("idle-{i}"), &args.password).await?);
            }
            let settle = || tokio::time::sleep(Duration::from_secs(2));
            let guest = |i: usize| ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                username: format!("idle-guest-{i}"),
                password: None,
            };
            let account = |i: usize, token: SessionToken| {
                sign_in(&format!("idle-{i}"), Credential::Token(token), true)
            };
            let guests: Vec<ClientFrame> = (0..n).map(guest).collect();
            let accounts: Vec<ClientFrame> = tokens
                .into_iter()
                .enumerate()
                .map(|(i, token)| account(i, token))
                .collect();
            let (first, second) = if args.accounts_first {
                (accounts, guests)
            } else {
                (guests, accounts)
            };
            settle().await;
            let base = rss(pid)?;
            let mut open = Vec::with_capacity(2 * n);
            for opening in &first {
                open.push(welcomed(args.addr, opening).await?);
            }
            settle().await;
            let middle = rss(pid)?;
            for opening in &second {
                open.push(welcomed(args.addr, opening).await?);
            }
            settle().await;
            let end = rss(pid)?;
            let (first_cost, second_cost) = (
                middle.saturating_sub(base) as f64 / n as f64,
                end.saturating_sub(middle) as f64 / n as f64,
            );
            let (guest, account) = if args.accounts_first {
                (second_cost, first_cost)
            } else {
                (first_cost, second_cost)
            };
            println!(
                "idle memory per client ({} first): guest {guest:.0} B, signed in {account:.0} B ({:+.0} B)",
                if args.accounts_first { "accounts" } else { "guests" },
                account - guest
            );
            result.insert("idle_guest_bytes".into(), guest.into());
            result.insert("idle_signed_in_bytes".into(), account.into());
            drop(open);
        }
    }
    println!("RESULT {}", serde_json::Value::Object(result));
    Ok(())
}
