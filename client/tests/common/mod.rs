//! Runs the real binaries: a `chat-server` on 127.0.0.1, port 0, and `chat-client`
//! commands against it. Every wait has a deadline; nothing sleeps to synchronise.
//!
//! The server binary belongs to another package, so [`server_bin`] builds it once with the
//! same cargo, profile and target directory as these tests, and finds it beside them
//! (`CHAT_SERVER_BIN` overrides that, for packagers).
#![allow(dead_code)] // Each test file uses its own part of this module.

pub mod nats;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails. Generous: CI machines are slow,
/// and a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(20);

/// The client binary under test.
pub const CLIENT: &str = env!("CARGO_BIN_EXE_chat-client");

/// The `chat-server` binary, built on first use.
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CHAT_SERVER_BIN") {
            return PathBuf::from(bin);
        }
        // Test executables live in <target-dir>/<profile>/deps/.
        let exe = std::env::current_exe().expect("the test knows its own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executables live in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a profile dir has a parent");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "chat-server",
                "--bin",
                "chat-server",
            ])
            .arg("--profile")
            .arg(profile)
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building chat-server failed: {status}");
        let bin = profile_dir.join(format!("chat-server{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "no server binary at {}", bin.display());
        bin
    })
}

/// Lines read from a child's pipe by a background thread, for waiting with a deadline.
#[derive(Debug)]
pub struct Lines {
    rx: Receiver<String>,
    /// Every line seen so far, for failure messages.
    seen: Vec<String>,
}

impl Lines {
    fn spawn(pipe: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The next line, or `None` at end of stream; panics after [`WAIT`].
    pub fn next(&mut self) -> Option<String> {
        match self.rx.recv_timeout(WAIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no line within {WAIT:?}; so far: {:#?}", self.seen)
            }
        }
    }

    /// Reads until a line satisfies `pred` and returns it; panics at end of stream or after
    /// [`WAIT`].
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("no line {what} ({e:?}); so far: {:#?}", self.seen),
            }
        }
    }

    /// Takes in every line already received, without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.rx.try_recv() {
            self.seen.push(line);
        }
    }

    /// Everything until end of stream; panics after [`WAIT`].
    pub fn rest(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(line) = self.next() {
            out.push(line);
        }
        out
    }
}

/// A running `chat-server` in a temporary directory, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The port it reported in `Listening on 127.0.0.1:<port>`.
    pub port: u16,
    /// Its stderr (the log), from the line after `Listening on`.
    pub log: Lines,
    /// Holds `config.ini` for the server and the clients; also their working directory.
    dir: tempfile::TempDir,
}

impl Server {
    /// A server with the shipped settings, on a free port, without flood control: tests
    /// send a hundred lines at once, faster than the shipped rate allows.
    pub fn start() -> Server {
        Server::start_with(
            "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
             [limits]\nmessages_per_second = 0\n",
            0,
        )
    }

    /// A server that keeps history in `chat.db` beside its `config.ini` (as the shipped one
    /// does), without flood control.
    pub fn start_with_history() -> Server {
        Server::start_with(
            "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
             [limits]\nmessages_per_second = 0\n\
             [store]\npath = chat.db\n",
            0,
        )
    }

    /// A server reading `config` as its `config.ini`, on `port` (0: any free port).
    pub fn start_with(config: &str, port: u16) -> Server {
        Server::start_with_args(config, port, &[])
    }

    /// [`Server::start_with`], with `args` added to the server's command line
    /// (`--log-level trace`, say).
    pub fn start_with_args(config: &str, port: u16, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("config.ini"), config).expect("config.ini written");
        Server::start_in(dir, port, args)
    }

    fn start_in(dir: tempfile::TempDir, port: u16, args: &[&str]) -> Server {
        let mut child = Command::new(server_bin())
            .args(["--config", "config.ini", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(args)
            // The web port is fixed by default (8080); tests that run at once would clash.
            .args(["--http-port", "0"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chat-server starts");
        let mut log = Lines::spawn(child.stderr.take().expect("stderr is piped"));
        let line = log.wait_for("saying `Listening on`", |l| l.contains("Listening on "));
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server {
            child,
            port,
            log,
            dir,
        }
    }

    /// Kills this server and starts another on the same port, config and directory (so
    /// the same history file), as after a crash.
    pub fn restart(self) -> Server {
        let port = self.port;
        self.restart_on(port)
    }

    /// Kills this server and starts another in the same directory (same config, same
    /// history) on `port` (0: any free port): a stand-in that clients of the old port do
    /// not reach.
    pub fn restart_on(mut self, port: u16) -> Server {
        self.stop();
        let dir = std::mem::replace(
            &mut self.dir,
            tempfile::tempdir().expect("a temporary directory"),
        );
        Server::start_in(dir, port, &[])
    }

    /// Kills the server and waits until it is gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the server to log that `name` registered (`NAME joined`, the server's
    /// word for it); registered is not yet in a room.
    pub fn wait_registered(&mut self, name: &str) {
        let needle = format!("{name} joined");
        self.log
            .wait_for(&format!("saying {needle:?}"), |l| l.contains(&needle));
    }

    /// Every log line read so far (after `Listening on`), without waiting for more.
    pub fn log_so_far(&mut self) -> Vec<String> {
        self.log.drain();
        self.log.seen.clone()
    }

    /// Its process id, for `bench --server-pid`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory holding `config.ini`; clients run there.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `chat-client ARGS` aimed at this server as `name`, with a clean environment: no
    /// colour, no inherited name or log settings, history in the temporary directory.
    pub fn client(&self, name: &str) -> Command {
        let mut cmd = Command::new(CLIENT);
        cmd.current_dir(self.dir.path())
            .args(["--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--config", "config.ini", "--name", name])
            .env_remove("CHAT_NAME")
            .env_remove("RUST_LOG")
            .env_remove("CHAT_ACCOUNT_PASSWORD")
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"));
        cmd
    }
}

impl Server {
    /// Runs `chat-client ARGS` as `name` to completion, with empty stdin.
    pub fn chat(&self, name: &str, args: &[&str]) -> Outcome {
        run(self.client(name).args(args), "")
    }

    /// Sends `texts` to `room` as `name`, one message each, in order, with one `send -`;
    /// returns once the server has confirmed every one.
    pub fn send_all(&self, name: &str, room: &str, texts: &[String]) {
        let mut input = texts.join("\n");
        input.push('\n');
        run(
            self.client(name).args(["send", "--room", room, "-"]),
            &input,
        )
        .expect_code(0);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a finished client printed and how it exited.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Panics, showing everything printed, unless the exit status is `code`.
    pub fn expect_code(self, code: i32) -> Outcome {
        assert_eq!(self.status.code(), Some(code), "{self:#?}");
        self
    }

    /// Asserts stderr is exactly one line, starts with `error: `, and shows no panic.
    pub fn expect_one_error_line(self) -> Outcome {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:#?}");
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        self
    }
}

/// Runs `cmd` to completion with `stdin` as its input; panics if it takes over [`WAIT`].
pub fn run(cmd: &mut Command, stdin: &str) -> Outcome {
    let mut child = Spawned::new(cmd);
    child.write_stdin(stdin);
    child.close_stdin();
    child.finish()
}

/// A client running in the background, killed when dropped.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its stdout, line by line.
    pub stdout: Lines,
    /// Its stderr, line by line.
    pub stderr: Lines,
}

impl Spawned {
    /// Starts `cmd` with all three pipes.
    pub fn new(cmd: &mut Command) -> Spawned {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chat-client starts");
        Spawned {
            stdin: child.stdin.take(),
            stdout: Lines::spawn(child.stdout.take().expect("stdout is piped")),
            stderr: Lines::spawn(child.stderr.take().expect("stderr is piped")),
            child,
        }
    }

    /// Writes to its stdin from another thread, so a child that does not read cannot block
    /// the test.
    pub fn write_stdin(&mut self, text: &str) {
        let Some(mut stdin) = self.stdin.take() else {
            panic!("stdin already closed")
        };
        let text = text.to_owned();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
            let _ = tx.send(stdin);
        });
        self.stdin = Some(
            rx.recv_timeout(WAIT)
                .expect("the child reads its stdin in time"),
        );
    }

    /// Closes its stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for it to exit (its pipes close first); panics after [`WAIT`].
    pub fn finish(mut self) -> Outcome {
        self.stdin = None;
        let stdout = self.stdout.rest().join("\n");
        let stderr = self.stderr.rest().join("\n");
        let status = self.child.wait().expect("wait for chat-client");
        Outcome {
            status,
            stdout: with_newline(stdout),
            stderr: with_newline(stderr),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn with_newline(mut text: String) -> String {
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// The chat lines of `listen` output (`#room name: text`, whispers), without notices
/// (`#room * bob joined`, `* server shutting down`).
pub fn chat_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| !is_notice(l)).collect()
}

/// Whether `line` is a notice, with or without its `#room` tag.
pub fn is_notice(line: &str) -> bool {
    let untagged = match line.strip_prefix('#') {
        Some(tagged) => tagged.split_once(' ').map_or("", |(_, rest)| rest),
        None => line,
    };
    untagged.starts_with("* ")
}

/// A port on 127.0.0.1 where nothing listens (it was free a moment ago).
pub fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Starts `listen` as `name` (plus `extra` flags) and returns once it has printed that it
/// joined each of its rooms (one per `--room`, else lobby), so that everything sent to them
/// afterwards reaches it. Those lines are read here, so `finish` does not return them.
pub fn listener(server: &Server, name: &str, extra: &[&str]) -> Spawned {
    let mut cmd = server.client(name);
    cmd.arg("listen").args(extra);
    let mut child = Spawned::new(&mut cmd);
    let rooms = extra.iter().filter(|a| **a == "--room").count().max(1);
    for _ in 0..rooms {
        child
            .stdout
            .wait_for(&format!("saying {name} joined its rooms"), |l| {
                l.contains(" * you joined; here (") || l.contains(r#""type":"joined""#)
            });
    }
    child
}

/// Each line of `stdout` as a JSON value (`--json` output); fails the test on any other line.
pub fn parse_json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// The keys of a JSON object, sorted.
pub fn sorted_keys(event: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = event
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}
