//! A real headless Chromium, driven over WebDriver: `/usr/bin/chromedriver` (Debian's
//! `chromium-driver`) started on a free port for one test, and `fantoccini` talking to it
//! over plain HTTP on 127.0.0.1. The test reads what a person would see on the chat page
//! (`#status`, `#rooms`, `#messages`, `#members`, `#compose`) and `window.chat`, and waits
//! for the page to change, never for a fixed time.
//!
//! Chromedriver and its Chromium are ended when the [`Browser`] is dropped, also when the
//! test panics half-way: the session is deleted (which quits Chromium), then chromedriver
//! and anything left below it are killed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::{json, Value};

use super::TIMEOUT;

/// Debian's chromedriver and the Chromium it drives.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless, and runnable as root in a container: no sandbox (root has none), no /dev/shm
/// (often tiny in containers), no GPU. The size is a laptop window, wide enough that the
/// sidebar (rooms, people) is shown beside the messages rather than behind a toggle.
const CHROMIUM_ARGS: [&str; 5] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1100,760",
];

/// What chromedriver prints once it listens; the port follows (and a full stop).
const STARTED: &str = "ChromeDriver was started successfully on port ";

/// Starting Chromium is not the chat's doing and takes seconds on a loaded machine (two
/// cores, another Chromium starting beside it): it gets more than one [`TIMEOUT`].
const BROWSER_START: Duration = Duration::from_secs(30);

/// The longest the page is left alone between two reads while nothing on it changes: a
/// read returns as soon as the page changes, so this only bounds how late a deadline is
/// noticed.
const QUIET_READ_MS: u64 = 500;

/// The page as a person sees it, and the page's own `window.chat`, read in one script, so
/// that every field is from the same instant.
const SNAPSHOT: &str = r##"
const snapshot = () => {
  const chat = window.chat;
  const text = (el, sel) => { const found = el.querySelector(sel); return found ? found.textContent : null; };
  const status = document.getElementById("status");
  const compose = document.getElementById("compose");
  return JSON.stringify({
    url: location.href,
    status: status ? status.dataset.state : null,
    chatStatus: chat ? chat.status : null,
    name: chat ? chat.name : null,
    rooms: chat ? chat.rooms : [],
    current: chat ? chat.current : null,
    roomList: [...document.querySelectorAll("#rooms [data-room]")].map((b) => ({
      room: b.dataset.room,
      current: b.getAttribute("aria-current") === "true",
      unread: Number(text(b, ".unread") ?? 0),
    })),
    members: [...document.querySelectorAll("#members [data-user]")].map((b) => b.dataset.user),
    lines: [...document.querySelectorAll("#messages li")]
      .filter((li) => !li.classList.contains("older"))
      .map((li) => ({
        classes: li.className,
        seq: li.dataset.seq ?? null,
        from: text(li, ":scope > .from"),
        text: text(li, ":scope > .text") ?? li.textContent,
        reply: text(li, ":scope > .reply"),
        edited: li.querySelector(":scope > .edited") !== null,
        reactions: [...li.querySelectorAll(":scope > .reactions .chip")].map((c) => c.textContent),
      })),
    compose: compose ? compose.value : null,
    typing: text(document, "#typing"),
  });
};
"##;

/// Returns the page's snapshot as soon as it differs from `arguments[0]` (the last one the
/// test saw), or after `arguments[1]` ms without any change. The comparison and the
/// observer are set up in the same turn of the page's event loop, so no change can slip in
/// between them.
const NEXT_SNAPSHOT: &str = r#"
const [previous, quietMs, done] = arguments;
const first = snapshot();
if (first !== previous) { done(first); return; }
let finished = false;
let timer = null;
const observer = new MutationObserver(() => {
  const now = snapshot();
  if (now !== previous) finish(now);
});
function finish(result) {
  if (finished) return;
  finished = true;
  observer.disconnect();
  clearTimeout(timer);
  done(result);
}
observer.observe(document.documentElement,
  { subtree: true, childList: true, attributes: true, characterData: true });
timer = setTimeout(() => finish(snapshot()), quietMs);
"#;

/// One Chromium (one session of one chromedriver) for one test.
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver session, for what the helpers below do not cover.
    pub client: Client,
    /// Ends chromedriver and Chromium when dropped; dropped after `client`.
    driver: Driver,
}

/// The chromedriver process and the session on it: deleted and killed on drop, whatever
/// state the test is in.
#[derive(Debug)]
struct Driver {
    /// The chromedriver child; Chromium runs below it.
    child: Option<Child>,
    /// Where it listens, on 127.0.0.1.
    port: u16,
    /// The session to delete on drop, if still open.
    session: Option<String>,
}

impl Driver {
    /// Starts chromedriver on a port the system picks and reads that port from what it
    /// prints: guessing a free port would race with every other test.
    fn spawn() -> Driver {
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // In the test's own process group: a harness that kills a hung test's group
            // (nextest on a timeout, Ctrl-C) takes chromedriver and Chromium with it.
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start {CHROMEDRIVER} (Debian package chromium-driver): {e}")
            });
        let stdout = child.stdout.take().expect("stdout is piped");
        // The guard exists before the first wait, so that a chromedriver that never says its
        // port is killed too.
        let mut driver = Driver {
            child: Some(child),
            port: 0,
            session: None,
        };
        let lines = super::output_lines(vec![Box::new(stdout)]);
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = Vec::new();
        driver.port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split(STARTED).nth(1) {
                        let port = rest.trim().trim_end_matches('.');
                        break port
                            .parse()
                            .unwrap_or_else(|e| panic!("a port in {line:?}: {e}"));
                    }
                    seen.push(line);
                }
                Err(err) => panic!(
                    "chromedriver did not say {STARTED:?} within {TIMEOUT:?} ({err}); it printed {seen:#?}"
                ),
            }
        };
        driver
    }

    /// `DELETE /session/<id>` by hand, blocking: runs in `drop`, where there may be no
    /// runtime left to drive fantoccini. Chromedriver quits Chromium when it answers.
    fn delete_session(&self, id: &str) -> std::io::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        write!(
            stream,
            "DELETE /session/{id} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            if let Err(err) = self.delete_session(&id) {
                eprintln!("could not end the WebDriver session {id}: {err}");
            }
        }
        if let Some(mut child) = self.child.take() {
            // Chromium quits with its session; whatever of it is left (the session could not
            // be deleted, a helper still exiting) goes with chromedriver, each by its id.
            let left: Vec<String> = descendants(child.id()).iter().map(u32::to_string).collect();
            let _ = child.kill();
            if !left.is_empty() {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .args(&left)
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.wait();
        }
    }
}

/// The processes below `pid` (children, their children ...), from `/proc`: the Chromium
/// chromedriver started, which killing chromedriver alone would leave running.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((child, ppid));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A line of `#messages`: a room message (`msg`), a whisper, a notice (`system`,
/// `presence`, `error`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Line {
    /// Its classes, as in its `class` attribute (`"msg past"`, `"whisper"` ...).
    pub classes: String,
    /// `data-seq` of a room message.
    pub seq: Option<String>,
    /// The `.from` part: the sender of a message, `"bob → alice"` for a whisper.
    pub from: Option<String>,
    /// The `.text` part (the whole line when it has none).
    pub text: String,
    /// The `.reply` part of a reply: `↪ 41: the first words of 41`.
    #[serde(default)]
    pub reply: Option<String>,
    /// Whether the message shows `(edited)`.
    #[serde(default)]
    pub edited: bool,
    /// Its reaction chips, `👍 2` each, in order.
    #[serde(default)]
    pub reactions: Vec<String>,
}

impl Line {
    /// Whether the line has class `class`, which is how the page tells kinds of line apart.
    pub fn is(&self, class: &str) -> bool {
        self.classes.split_whitespace().any(|c| c == class)
    }
}

/// An entry of the room list `#rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoomEntry {
    /// `data-room`: the room's name as the server shows it.
    pub room: String,
    /// `aria-current`: the room shown.
    pub current: bool,
    /// The unread badge, 0 when there is none.
    pub unread: u32,
}

/// What the page shows at one instant, and what `window.chat` says then.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// The page's address.
    pub url: String,
    /// `#status[data-state]`: what the person is told about the connection.
    pub status: Option<String>,
    /// `window.chat.status`.
    pub chat_status: Option<String>,
    /// `window.chat.name`.
    pub name: Option<String>,
    /// `window.chat.rooms`.
    pub rooms: Vec<String>,
    /// `window.chat.current`.
    pub current: Option<String>,
    /// `#rooms [data-room]`, in order.
    pub room_list: Vec<RoomEntry>,
    /// `#members [data-user]`, in order.
    pub members: Vec<String>,
    /// The lines of `#messages` (the current room's), in order.
    pub lines: Vec<Line>,
    /// What is typed in `#compose`.
    pub compose: Option<String>,
    /// `#typing`: who is typing in the room shown.
    #[serde(default)]
    pub typing: Option<String>,
}

impl Page {
    /// Whether both the status shown and `window.chat` say `state`: the person and a script
    /// reading the page must be told the same.
    pub fn is(&self, state: &str) -> bool {
        self.status.as_deref() == Some(state) && self.chat_status.as_deref() == Some(state)
    }

    /// Whether `room` is the room shown, which is where typed lines go.
    pub fn in_room(&self, room: &str) -> bool {
        self.current.as_deref() == Some(room)
    }

    /// The room messages shown, as (sender, text), in order: what a person reads, without
    /// the times, which no test can predict.
    pub fn messages(&self) -> Vec<(&str, &str)> {
        self.lines
            .iter()
            .filter(|l| l.is("msg"))
            .map(|l| (l.from.as_deref().unwrap_or(""), l.text.as_str()))
            .collect()
    }

    /// Whether `from` saying `text` is shown as a room message: what most waits wait for.
    pub fn shows(&self, from: &str, text: &str) -> bool {
        self.messages().contains(&(from, text))
    }

    /// How many room messages shown read `text`: a message shown twice (after a reconnect,
    /// say) is as wrong as one missing.
    pub fn count(&self, text: &str) -> usize {
        self.lines
            .iter()
            .filter(|l| l.is("msg") && l.text == text)
            .count()
    }

    /// The lines of class `class`: whispers, notices and errors look different from room
    /// messages, and tests check that they do.
    pub fn lines_of(&self, class: &str) -> Vec<&Line> {
        self.lines.iter().filter(|l| l.is(class)).collect()
    }

    /// The names in `#rooms`, in order: the rooms a person can switch to.
    pub fn room_names(&self) -> Vec<&str> {
        self.room_list.iter().map(|r| r.room.as_str()).collect()
    }

    /// The `#rooms` entry of `room`, for its current mark and unread badge.
    pub fn room(&self, room: &str) -> Option<&RoomEntry> {
        self.room_list.iter().find(|r| r.room == room)
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session on it.
    pub async fn start() -> Browser {
        let mut driver = Driver::spawn();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": CHROMIUM_ARGS }),
        );
        // A script (a wait below) or a page load that hangs fails the test in time.
        let ms = TIMEOUT.as_millis() as u64;
        caps.insert(
            "timeouts".into(),
            json!({ "script": ms, "pageLoad": ms, "implicit": 0 }),
        );
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = tokio::time::timeout(
            BROWSER_START,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&url),
        )
        .await
        .unwrap_or_else(|_| panic!("no Chromium session within {BROWSER_START:?}"))
        .unwrap_or_else(|e| panic!("a Chromium session from chromedriver at {url}: {e}"));
        driver.session = client.session_id().await.expect("the session's id");
        Browser { client, driver }
    }

    /// Ends the session (Chromium quits) and chromedriver; dropping does the same, less
    /// politely, which is what happens when a test fails.
    pub async fn close(mut self) {
        if self.driver.session.take().is_some() {
            self.client.clone().close().await.expect("end the session");
        }
    }

    /// Opens the chat page at `web` signed in as `name` in `room` (`/?name=..&room=..`, as
    /// a shared link does) and waits until the page says it is connected there.
    pub async fn open(&self, web: SocketAddr, name: &str, room: &str) -> Page {
        let url = format!("http://{web}/?name={name}&room={room}");
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("load {url}: {e}"));
        self.wait_until(&format!("{name} connected and in #{room}"), |p| {
            p.is("connected") && p.name.as_deref() == Some(name) && p.in_room(room)
        })
        .await
    }

    /// The page as soon as it differs from `previous` (its raw form), or after
    /// [`QUIET_READ_MS`] without change; returned with its raw form.
    async fn next_page(&self, previous: &str) -> (String, Page) {
        let script = format!("{SNAPSHOT}{NEXT_SNAPSHOT}");
        let raw = self
            .client
            .execute_async(&script, vec![json!(previous), json!(QUIET_READ_MS)])
            .await
            .unwrap_or_else(|e| panic!("read the page: {e}"));
        let Value::String(raw) = raw else {
            panic!("the page's snapshot is not a string: {raw}");
        };
        let page =
            serde_json::from_str(&raw).unwrap_or_else(|e| panic!("the page's snapshot {raw}: {e}"));
        (raw, page)
    }

    /// Waits until the page satisfies `pred` and returns it; fails the test after
    /// [`TIMEOUT`], saying what it waited for and what the page last showed. Each read
    /// returns as soon as the page changes, so nothing here waits for a fixed time.
    pub async fn wait_until(&self, what: &str, pred: impl Fn(&Page) -> bool) -> Page {
        self.wait_within(TIMEOUT, what, pred).await
    }

    /// [`Browser::wait_until`] with a deadline of its own, for what the page itself
    /// schedules later (a reconnect after its backoff).
    pub async fn wait_within(
        &self,
        within: Duration,
        what: &str,
        pred: impl Fn(&Page) -> bool,
    ) -> Page {
        let deadline = Instant::now() + within;
        let mut raw = String::new();
        loop {
            let (next, page) = self.next_page(&raw).await;
            if pred(&page) {
                return page;
            }
            if Instant::now() >= deadline {
                panic!("waited {within:?} for {what}; the page last showed {page:#?}");
            }
            raw = next;
        }
    }

    /// Types `line` into the message box and presses Enter, as a person does, then waits
    /// for the page to take it (it empties the box once the line is sent or done).
    pub async fn type_line(&self, line: &str) {
        let compose = self
            .client
            .find(Locator::Id("compose"))
            .await
            .expect("the page has #compose");
        compose
            .send_keys(line)
            .await
            .unwrap_or_else(|e| panic!("type {line:?}: {e}"));
        compose
            .send_keys(&Key::Enter)
            .await
            .unwrap_or_else(|e| panic!("press Enter after {line:?}: {e}"));
        self.wait_until(&format!("the page to take {line:?}"), |p| {
            p.compose.as_deref() == Some("")
        })
        .await;
    }

    /// Clicks the element `selector` names, as a person does; fails the test when the page
    /// has none or it cannot be clicked.
    pub async fn click(&self, selector: &str) {
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no {selector} on the page: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Clicks the entry of `room` in the room list, as a person switching rooms does.
    pub async fn click_room(&self, room: &str) {
        self.click(&format!(r#"#rooms [data-room="{room}"]"#)).await;
    }
}

/// The page [`another_site`] serves.
const ANOTHER_SITE_PAGE: &str =
    "<!doctype html><title>elsewhere</title><p>Another site, nothing to do with the chat.</p>";

/// A web site of another origin (`http://127.0.0.1:<its own port>`) serving one page to
/// every request, for as long as the test's runtime runs: what a page elsewhere that tries
/// to use the chat server looks like to it. (A `data:` page, origin "null", does not do:
/// Chromium's Local Network Access rules stop its WebSocket to 127.0.0.1 before it is
/// sent, so the server's own check would never be reached.)
pub async fn another_site() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind another site");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{ANOTHER_SITE_PAGE}",
                    ANOTHER_SITE_PAGE.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}
