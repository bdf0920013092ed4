//! Test harness: the server library on 127.0.0.1:0 in-process, the real binary as a child
//! process, and a client whose every wait has a timeout. Nothing here sleeps to synchronise:
//! tests wait for a frame, a closed stream, a log line or a process exit.
#![allow(dead_code)]

pub mod accounts;
pub mod browser;
pub mod logs;
pub mod nats;
pub mod pki;
pub mod prometheus;
pub mod web;
pub mod ws_stream;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use chat_proto::codec::CLIENT_MAX_FRAME;
use chat_proto::{
    Backlog, ClientConnection, ClientFrame, Cursor, ErrorKind, LeftReason, ServerFrame,
    PROTOCOL_VERSION,
};
use chat_server::config::StoreConfig;
use chat_server::Config;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The longest any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A server running in this process, stopped when [`TestServer::shutdown`] is called or
/// when dropped.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where the web client, `/healthz` and `/metrics` are, when the config has `[http]`.
    pub web_addr: Option<SocketAddr>,
    /// Settings sent here are put in force, as the binary does on SIGHUP.
    reload: tokio::sync::mpsc::UnboundedSender<Config>,
    /// Completing this is the server's shutdown signal.
    stop: Option<oneshot::Sender<()>>,
    /// The `run` task.
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts the server with [`test_config`] on a free port of 127.0.0.1.
pub async fn start_server() -> TestServer {
    start_with(test_config()).await
}

/// The built-in defaults without flood control and connection limits, which tests that
/// send hundreds of messages or open hundreds of connections from 127.0.0.1 would hit, and
/// without history (which would write `chat.db` where the test runs). A test about one of
/// those sets it on top of this (history: [`history_config`]).
pub fn test_config() -> Config {
    Config {
        messages_per_second: 0.0,
        max_clients: 0,
        max_per_ip: 0,
        store: None,
        http: None,
        ..Config::default()
    }
}

/// [`test_config`] with history kept in `chat.db` in `dir` (a test's [`scratch_dir`]).
pub fn history_config(dir: &Path) -> Config {
    Config {
        store: Some(StoreConfig {
            path: dir.join("chat.db"),
            ..StoreConfig::default()
        }),
        ..test_config()
    }
}

/// Starts the server with `config` (host and port are ignored) on a free port of 127.0.0.1.
pub async fn start_with(config: Config) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let store = chat_server::open_store(&config).expect("the test's room log opens");
    let web = match &config.http {
        Some(_) => Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
        None => None,
    };
    let web_addr = web.as_ref().map(|l| l.local_addr().unwrap());
    let (reload, reloads) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(chat_server::run(
        listener,
        web,
        config,
        store,
        async move {
            let _ = stopped.await;
        },
        reloads,
    ));
    TestServer {
        addr,
        web_addr,
        reload,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestServer {
    /// A connected, unregistered client.
    pub async fn connect(&self) -> TestClient {
        TestClient::connect(self.addr).await
    }

    /// A client registered as `name` and in `lobby`, as `chat-client` is by default; its
    /// `Welcome` and `Joined` are consumed.
    pub async fn register(&self, name: &str) -> TestClient {
        let mut client = self.register_only(name).await;
        client.join(LOBBY).await;
        client
    }

    /// A client registered as `name`, in no room; its `Welcome` is consumed.
    pub async fn register_only(&self, name: &str) -> TestClient {
        let mut client = self.connect().await;
        match client.hello(name).await {
            ServerFrame::Welcome { username, .. } => assert_eq!(username, name),
            other => panic!("{name}: expected Welcome, got {other:?}"),
        }
        client
    }

    /// Registers `name` once there is room: a closed connection's place under `max_clients`
    /// or `max_per_ip` is given back just after its socket closes, so the first tries may
    /// still be refused. Retries (at most 1,000 times, yielding between) only on those two
    /// refusals; any other answer fails the test.
    /// The client is in `lobby` once registered.
    pub async fn register_when_room(&self, name: &str) -> TestClient {
        for _ in 0..1000 {
            let mut client = self.connect().await;
            match client.hello(name).await {
                ServerFrame::Welcome { .. } => {
                    client.join(LOBBY).await;
                    return client;
                }
                ServerFrame::Error {
                    kind: ErrorKind::ServerFull | ErrorKind::TooManyConnections,
                    ..
                } => tokio::task::yield_now().await,
                other => panic!("{name}: expected Welcome, got {other:?}"),
            }
        }
        panic!("no room for {name}");
    }

    /// Puts `config` in force, as SIGHUP with it in `config.ini` would; the reload is done
    /// once a line saying so is logged ([`logs`]).
    pub fn reload(&self, config: Config) {
        self.reload.send(config).expect("the server is running");
    }

    /// Triggers the shutdown and waits for `run` to return.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().expect("shut down once").send(());
        let task = self.task.take().expect("shut down once");
        tokio::time::timeout(TIMEOUT, task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
            .expect("run returns Ok");
    }
}

/// A protocol client whose every read has a timeout; over plain TCP unless made with
/// [`TestClient::over`].
#[derive(Debug)]
pub struct TestClient<S = TcpStream> {
    /// The typed connection, as every real client uses it.
    pub conn: ClientConnection<S>,
}

impl TestClient {
    /// The client's own address: the `peer` the server's log lines name.
    pub fn peer(&self) -> String {
        self.conn
            .get_ref()
            .local_addr()
            .expect("a local address")
            .to_string()
    }

    /// Connects without registering.
    pub async fn connect(addr: SocketAddr) -> TestClient {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        TestClient::over(stream)
    }

    /// Connects without registering, from `local`, another address of the loopback range
    /// (`127.0.0.2`, say): a second machine, as far as per-address limits can tell.
    pub async fn connect_from(addr: SocketAddr, local: std::net::IpAddr) -> TestClient {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::new(local, 0))
            .expect("bind to a loopback address");
        let stream = tokio::time::timeout(TIMEOUT, socket.connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        TestClient::over(stream)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TestClient<S> {
    /// A client over a stream already connected (a TLS one, say), not yet registered.
    pub fn over(stream: S) -> TestClient<S> {
        TestClient {
            conn: ClientConnection::new(stream, CLIENT_MAX_FRAME),
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: ClientFrame) {
        self.conn.write_frame(&frame).await.expect("send a frame");
    }

    /// Sends `Hello` with the right version and returns the answer.
    pub async fn hello(&mut self, name: &str) -> ServerFrame {
        self.send(hello(name)).await;
        self.recv().await
    }

    /// The next room message, skipping presence notices: who said what. Anything else (a
    /// whisper, an error) fails the test, which is how privacy checks see that nothing
    /// else came in between.
    pub async fn next_message(&mut self) -> (String, String) {
        match self.recv_skipping_notices().await {
            ServerFrame::Msg { from, text, .. } => (from, text),
            other => panic!("expected a room message, got {other:?}"),
        }
    }

    /// Sends a message to `lobby`.
    pub async fn say(&mut self, text: &str) {
        self.say_in(LOBBY, text).await;
    }

    /// Sends a message to `room`.
    pub async fn say_in(&mut self, room: &str, text: &str) {
        self.send(ClientFrame::Msg {
            room: room.into(),
            text: text.into(),
        })
        .await;
    }

    /// Joins `room` asking for `backlog`; returns the `Joined` member list and the backlog
    /// (`History{backlog: true}`) that must follow it at once.
    pub async fn join_with(&mut self, room: &str, backlog: Backlog) -> (Vec<String>, ServerFrame) {
        self.send(ClientFrame::Join {
            room: room.into(),
            backlog,
        })
        .await;
        let members = match self.recv_skipping_notices().await {
            ServerFrame::Joined { members, .. } => members,
            other => panic!("expected Joined for {room}, got {other:?}"),
        };
        match self.recv().await {
            history @ ServerFrame::History { backlog: true, .. } => (members, history),
            other => panic!("expected the backlog of {room} right after Joined, got {other:?}"),
        }
    }

    /// Asks for one page of `room`'s history and returns the answer.
    pub async fn history(&mut self, room: &str, from: Cursor, limit: u32) -> ServerFrame {
        self.send(ClientFrame::History {
            room: room.into(),
            from,
            limit,
        })
        .await;
        self.recv_skipping_notices().await
    }

    /// Joins `room` and returns its member list from `Joined`, skipping presence frames
    /// of other rooms that arrive first; any other answer fails the test.
    pub async fn join(&mut self, room: &str) -> Vec<String> {
        self.send(ClientFrame::Join {
            room: room.into(),
            backlog: Backlog::None,
        })
        .await;
        match self.recv_skipping_notices().await {
            ServerFrame::Joined { members, .. } => members,
            other => panic!("expected Joined for #{room}, got {other:?}"),
        }
    }

    /// The next frame, or `None` when the server closed the connection.
    pub async fn next(&mut self) -> Option<ServerFrame> {
        tokio::time::timeout(TIMEOUT, self.conn.read_frame())
            .await
            .expect("a frame or the end of the stream in time")
            .expect("a well-formed frame")
    }

    /// The next frame; the connection must still be open.
    pub async fn recv(&mut self) -> ServerFrame {
        self.next().await.expect("the server closed the connection")
    }

    /// The next frame, which must be an `Error`: its kind and detail.
    pub async fn recv_error(&mut self) -> (ErrorKind, String) {
        error_of(self.recv_skipping_notices().await)
    }

    /// The next frame that is not a presence frame (`UserJoined`, `UserLeft`) or someone
    /// typing (`Typing`: a page sends it as its person types).
    pub async fn recv_skipping_notices(&mut self) -> ServerFrame {
        loop {
            match self.recv().await {
                ServerFrame::UserJoined { .. }
                | ServerFrame::UserLeft { .. }
                | ServerFrame::Typing { .. } => {}
                frame => return frame,
            }
        }
    }

    /// The next frame, which must be a presence frame (`UserJoined`, `UserLeft`).
    pub async fn recv_presence(&mut self) -> Presence {
        let frame = self.recv().await;
        presence(&frame).unwrap_or_else(|| panic!("expected a presence frame, got {frame:?}"))
    }

    /// Waits for the server to close the connection, then closes this end as a real
    /// client does; the frames before the close are returned.
    pub async fn until_closed(&mut self) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            frames.push(frame);
        }
        let _ = self.conn.shutdown().await;
        frames
    }
}

/// The room every test client joins unless told otherwise, as `chat-client` does.
pub const LOBBY: &str = "lobby";

/// `Hello` with the right protocol version.
pub fn hello(name: &str) -> ClientFrame {
    ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        username: name.into(),
        password: None,
    }
}

/// The kind and detail of an `Error` frame; any other frame fails the test.
pub fn error_of(frame: ServerFrame) -> (ErrorKind, String) {
    match frame {
        ServerFrame::Error { kind, detail } => (kind, detail),
        other => panic!("expected an Error frame, got {other:?}"),
    }
}

/// A presence frame without its time: who joined or left which room, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// `UserJoined`: `user` came into `room`.
    Joined {
        /// The room's name as shown.
        room: String,
        /// Who joined.
        user: String,
    },
    /// `UserLeft`: `user` is no longer in `room`, for `reason`.
    Left {
        /// The room's name as shown.
        room: String,
        /// Who left.
        user: String,
        /// Why.
        reason: LeftReason,
    },
}

/// `user` joined [`LOBBY`].
pub fn joined(user: &str) -> Presence {
    Presence::Joined {
        room: LOBBY.into(),
        user: user.into(),
    }
}

/// `user` left [`LOBBY`] for `reason`.
pub fn left(user: &str, reason: LeftReason) -> Presence {
    Presence::Left {
        room: LOBBY.into(),
        user: user.into(),
        reason,
    }
}

/// The presence news of `frame`, if it is `UserJoined` or `UserLeft`.
pub fn presence(frame: &ServerFrame) -> Option<Presence> {
    match frame {
        ServerFrame::UserJoined { room, user, .. } => Some(Presence::Joined {
            room: room.clone(),
            user: user.clone(),
        }),
        ServerFrame::UserLeft {
            room, user, reason, ..
        } => Some(Presence::Left {
            room: room.clone(),
            user: user.clone(),
            reason: *reason,
        }),
        _ => None,
    }
}

/// The `System` notice text of `frame`, if it is one (today only the shutdown notice).
pub fn notice(frame: &ServerFrame) -> Option<&str> {
    match frame {
        ServerFrame::System { text, .. } => Some(text),
        _ => None,
    }
}

/// Runs the binary in `dir` with `args` until it exits; returns its code and stderr.
pub fn run_to_exit(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run chat-server");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A field of /proc/self/status (`"VmRSS:"`, `"VmHWM:"`), in KiB: this process's memory,
/// which is the in-process server's plus the test's own.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// A fresh, empty directory for one test (under cargo's scratch space for tests).
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("chat-server-tests")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every line a child process writes to `outputs` (its stderr, its stdout), as one
/// channel, each stream read on a thread of its own to its end, even once nobody listens:
/// a child whose pipe filled up or closed would stall or die at its next log line. Waits
/// on the channel take a timeout ([`line_containing`]).
pub fn output_lines(outputs: Vec<Box<dyn std::io::Read + Send>>) -> std_mpsc::Receiver<String> {
    let (tx, lines) = std_mpsc::channel();
    for output in outputs {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
    }
    lines
}

/// Takes lines from `lines` into `seen` until one contains `needle`, and returns it; an
/// error once no line came within `timeout`, or the child's output ended.
pub fn line_containing(
    lines: &std_mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    needle: &str,
    timeout: Duration,
) -> Result<String, std_mpsc::RecvTimeoutError> {
    loop {
        let line = lines.recv_timeout(timeout)?;
        seen.push(line.clone());
        if line.contains(needle) {
            return Ok(line);
        }
    }
}

/// The real `chat-server` binary, running as a child process with its stderr captured.
#[derive(Debug)]
pub struct ServerProcess {
    /// The child; taken by [`ServerProcess::wait`].
    child: Option<Child>,
    /// stderr, line by line, from a reader thread.
    lines: std_mpsc::Receiver<String>,
    /// Every stderr line read so far.
    pub seen: Vec<String>,
}

impl ServerProcess {
    /// Starts `chat-server ARGS` in `dir`, without any `RUST_LOG` of the test's own.
    pub fn spawn(dir: &Path, args: &[&str]) -> ServerProcess {
        ServerProcess::spawn_with_env(dir, args, &[])
    }

    /// Starts `chat-server ARGS` in `dir` with the environment variables `env` added.
    pub fn spawn_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        // The web port is fixed by default (8080); tests that run at once would clash on it.
        let web_port: &[&str] = if args.contains(&"--http-port") {
            &[]
        } else {
            &["--http-port", "0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .args(args)
            .args(web_port)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chat-server");
        let lines = output_lines(vec![Box::new(
            child.stderr.take().expect("stderr is piped"),
        )]);
        ServerProcess {
            child: Some(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        line_containing(&self.lines, &mut self.seen, needle, TIMEOUT).unwrap_or_else(|err| {
            panic!(
                "no stderr line containing {needle:?} ({err}); seen so far: {:#?}",
                self.seen
            )
        })
    }

    /// Waits for `Listening on` and returns the address in it.
    pub fn listening_addr(&mut self) -> SocketAddr {
        let line = self.wait_for_line("Listening on ");
        let addr = line.rsplit("Listening on ").next().unwrap();
        addr.parse()
            .unwrap_or_else(|e| panic!("{addr:?} in {line:?}: {e}"))
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("still running").id()
    }

    /// Sends SIGKILL and waits for the process to die: a crash, with no chance to flush.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("still running");
        child.kill().expect("kill -9 chat-server");
        child.wait().expect("wait for the killed chat-server");
    }

    /// Sends SIGHUP: read the settings again.
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP failed");
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, then collects the rest of its stderr.
    pub fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("waited for once");
        let (tx, rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx
            .recv_timeout(TIMEOUT)
            .expect("chat-server exits in time")
            .expect("wait for chat-server");
        // The pipe closes when the process exits, which ends the reader thread.
        while let Ok(line) = self.lines.recv_timeout(TIMEOUT) {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Registers `name` on `stream` and joins `room` (no backlog), reading `Welcome` and
/// `Joined`; returns the two halves, for tests that read and write apart (a stalled reader,
/// a sender that streams while another task reads).
pub async fn joined_raw(
    stream: TcpStream,
    name: &str,
    room: &str,
) -> (
    chat_proto::FrameReader<tokio::net::tcp::OwnedReadHalf, ServerFrame>,
    tokio::net::tcp::OwnedWriteHalf,
) {
    use tokio::io::AsyncWriteExt;
    let (read, mut write) = stream.into_split();
    let mut frames = chat_proto::FrameReader::new(read, CLIENT_MAX_FRAME);
    let join = ClientFrame::Join {
        room: room.into(),
        backlog: Backlog::None,
    };
    for frame in [hello(name), join] {
        let wire = chat_proto::codec::encode(&frame).unwrap();
        write.write_all(wire.as_bytes()).await.unwrap();
    }
    for _ in 0..2 {
        let frame = tokio::time::timeout(TIMEOUT, frames.read_frame()).await;
        assert!(
            matches!(
                frame,
                Ok(Ok(Some(
                    ServerFrame::Welcome { .. } | ServerFrame::Joined { .. }
                )))
            ),
            "{name}: {frame:?}"
        );
    }
    (frames, write)
}
