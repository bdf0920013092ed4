//! The web client in a real browser: headless Chromium, driven over WebDriver, on the page
//! the server serves, against a real server over TCP on 127.0.0.1, with terminal users
//! (protocol clients over TCP, as `chat-client` is) on the other side. Each test checks what
//! a person at the page would notice: what `#messages`, `#rooms`, `#members` and `#status`
//! show, and what reaches the people at the other end.
//!
//! Five tests, since each starts a Chromium (seconds of CPU on a two-core machine).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chat_proto::{ClientFrame, ServerFrame};
use chat_server::config::Config;
use common::browser::{another_site, Browser};
use common::web::{self, metrics, sample, web_config};
use common::{history_config, logs, scratch_dir, start_with, ServerProcess, TestClient};
use serde_json::json;

/// A terminal user on `addr`, registered as `name` and in lobby, as `chat-client` starts:
/// for the real binary, which has no [`common::TestServer`] to ask.
async fn register(addr: SocketAddr, name: &str) -> TestClient {
    let mut client = TestClient::connect(addr).await;
    match client.hello(name).await {
        ServerFrame::Welcome { .. } => {}
        other => panic!("{name}: expected Welcome, got {other:?}"),
    }
    client.join(common::LOBBY).await;
    client
}

#[tokio::test]
async fn a_browser_user_chats_whispers_and_switches_rooms_with_terminal_users() {
    let server = start_with(web_config()).await;
    let web = server.web_addr.expect("the web listener is on");
    let mut bob = server.register("bob").await;
    let mut carol = server.register("carol").await;
    let before = metrics(web).await;
    let delta = |after: &str, series: &str| sample(after, series) - sample(&before, series);

    let browser = Browser::start().await;
    browser.open(web, "alice", "lobby").await;
    let page = browser
        .wait_until("everyone in lobby listed in #members", |p| {
            p.members == ["alice", "bob", "carol"]
        })
        .await;
    assert_eq!(page.room_names(), ["lobby"]);
    let greeting = page.lines_of("system");
    assert!(
        greeting
            .iter()
            .any(|l| l.text.contains("connected as alice; 3 online")),
        "the welcome line is shown in the first room: {page:#?}"
    );

    // The browser to the terminals: bob gets what alice typed, from alice.
    browser.type_line("hello from the browser").await;
    assert_eq!(
        bob.next_message().await,
        ("alice".into(), "hello from the browser".into())
    );
    browser.type_line("second line").await;
    assert_eq!(
        bob.next_message().await,
        ("alice".into(), "second line".into())
    );
    let page = browser
        .wait_until("alice's two messages shown", |p| {
            p.messages()
                == [
                    ("alice", "hello from the browser"),
                    ("alice", "second line"),
                ]
        })
        .await;
    assert!(
        page.lines_of("msg").iter().all(|l| l.is("mine")),
        "alice's own messages are marked as hers: {page:#?}"
    );

    // The operator's view moved by exactly what the page did: one WebSocket, two messages
    // taken, each to the three people in lobby.
    let after = metrics(web).await;
    assert_eq!(delta(&after, "chat_messages_in_total"), 2.0);
    assert_eq!(delta(&after, "chat_messages_out_total"), 2.0 * 3.0);
    assert_eq!(
        delta(
            &after,
            r#"chat_connections_accepted_total{transport="websocket"}"#
        ),
        1.0
    );
    assert_eq!(
        delta(
            &after,
            r#"chat_connections_accepted_total{transport="tcp"}"#
        ),
        0.0
    );
    assert_eq!(
        sample(&after, r#"chat_connections{transport="websocket"}"#),
        1.0
    );

    // The terminal to the browser.
    bob.say("hello from the terminal").await;
    assert_eq!(bob.next_message().await.1, "hello from the terminal");
    browser
        .wait_until("bob's message shown", |p| {
            p.shows("bob", "hello from the terminal")
        })
        .await;

    // Whispers both ways, each shown to alice as a whisper.
    bob.send(ClientFrame::Whisper {
        to: "alice".into(),
        text: "just you".into(),
    })
    .await;
    assert!(matches!(
        bob.recv_skipping_notices().await,
        ServerFrame::Whisper { ref to, .. } if to == "alice"
    ));
    browser
        .wait_until("bob's whisper shown as a whisper", |p| {
            p.lines_of("whisper")
                .iter()
                .any(|l| l.from.as_deref() == Some("bob → alice") && l.text == "just you")
        })
        .await;
    browser.type_line("/whisper bob psst").await;
    match bob.recv_skipping_notices().await {
        ServerFrame::Whisper { from, to, text, .. } => {
            assert_eq!(
                (from.as_str(), to.as_str(), text.as_str()),
                ("alice", "bob", "psst")
            )
        }
        other => panic!("expected alice's whisper, got {other:?}"),
    }
    let page = browser
        .wait_until("alice's whisper confirmed", |p| {
            p.lines_of("whisper")
                .iter()
                .any(|l| l.from.as_deref() == Some("alice → bob") && l.text == "psst")
        })
        .await;
    assert!(
        !page.shows("alice", "psst") && !page.shows("bob", "just you"),
        "a whisper is never shown as a room message: {page:#?}"
    );
    // carol, in the same room, heard every room message and neither whisper: right after
    // the room messages before the whispers comes the one said after them.
    bob.say("after the whispers").await;
    assert_eq!(bob.next_message().await.1, "after the whispers");
    for text in [
        "hello from the browser",
        "second line",
        "hello from the terminal",
        "after the whispers",
    ] {
        assert_eq!(carol.next_message().await.1, text);
    }
    let page = browser
        .wait_until("the message after the whispers", |p| {
            p.shows("bob", "after the whispers")
        })
        .await;

    // A picture of the conversation, for a person to look at.
    let png = browser.client.screenshot().await.expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is a PNG"
    );
    let path = concat!(env!("CARGO_TARGET_TMPDIR"), "/browser-chat.png");
    std::fs::write(path, &png).expect("save the screenshot");
    println!(
        "screenshot of the page with {} lines: {path}",
        page.lines.len()
    );

    // A second room: joined from the message box, it becomes the room shown.
    browser.type_line("/join rust").await;
    browser
        .wait_until("#rust joined and shown, beside lobby", |p| {
            p.in_room("rust")
                && p.rooms == ["lobby", "rust"]
                && p.room_names() == ["lobby", "rust"]
                && p.room("rust").is_some_and(|r| r.current)
        })
        .await;
    assert_eq!(bob.join("rust").await, ["alice", "bob"]);
    bob.say_in("rust", "rust is fun").await;
    assert_eq!(bob.next_message().await.1, "rust is fun");
    let page = browser
        .wait_until("bob's #rust message shown in #rust", |p| {
            p.in_room("rust") && p.shows("bob", "rust is fun")
        })
        .await;
    assert_eq!(page.messages(), [("bob", "rust is fun")], "{page:#?}");
    assert_eq!(page.members, ["alice", "bob"]);

    // Lobby goes on meanwhile: its entry says so, and clicking it shows lobby's messages,
    // the new one included, and none of #rust's.
    bob.say("meanwhile in the lobby").await;
    assert_eq!(bob.next_message().await.1, "meanwhile in the lobby");
    browser
        .wait_until("an unread mark on lobby's entry", |p| {
            p.room("lobby").is_some_and(|r| r.unread == 1)
        })
        .await;
    browser.click_room("lobby").await;
    let page = browser
        .wait_until("lobby shown again with its new message", |p| {
            p.in_room("lobby") && p.shows("bob", "meanwhile in the lobby")
        })
        .await;
    assert_eq!(
        page.messages(),
        [
            ("alice", "hello from the browser"),
            ("alice", "second line"),
            ("bob", "hello from the terminal"),
            ("bob", "after the whispers"),
            ("bob", "meanwhile in the lobby"),
        ],
        "{page:#?}"
    );
    assert_eq!(page.room_names(), ["lobby", "rust"]);
    let lobby = page.room("lobby").unwrap();
    assert!(lobby.current && lobby.unread == 0, "{page:#?}");
    assert_eq!(page.members, ["alice", "bob", "carol"]);

    browser.close().await;
    server.shutdown().await;
}

/// Opens a raw WebSocket to the page's own `/ws`, sends one binary message of 4096 bytes
/// (over the 1024-byte frame limit), and reports the frames that came back, decoded with
/// the page's own codec, and how the socket closed.
const OVERSIZE: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const { FrameReader } = await import("/codec.js");
  const reader = new FrameReader();
  const frames = [];
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => ws.send(new Uint8Array(4096));
  ws.onmessage = (event) => {
    for (const f of reader.read(event.data).frames) {
      frames.push({ type: f.type, kind: f.kind ?? null, detail: f.detail ?? null });
    }
  };
  ws.onclose = (event) => done({ frames, code: event.code, wasClean: event.wasClean });
})().catch((err) => done({ failed: String(err) }));
"#;

/// Opens a WebSocket to `arguments[0]` and reports whether it opened, errored, and how it
/// closed.
const FOREIGN: &str = r#"
const [url, done] = arguments;
let opened = false;
let errored = false;
const ws = new WebSocket(url);
ws.onopen = () => { opened = true; ws.close(); };
ws.onerror = () => { errored = true; };
ws.onclose = (event) => done({ origin: String(self.origin), opened, errored, code: event.code });
"#;

/// Scrolls `#messages` to its top, as a person reading back does.
const SCROLL_TO_TOP: &str = r#"
const messages = document.getElementById("messages");
messages.scrollTop = 0;
messages.dispatchEvent(new Event("scroll"));
"#;

#[tokio::test]
async fn the_page_shows_the_backlog_and_older_pages_and_survives_an_oversize_socket_and_a_foreign_page(
) {
    logs::capture();
    let dir = scratch_dir("browser-backlog");
    let server = start_with(Config {
        http: web::on_free_port(),
        ..history_config(&dir)
    })
    .await;
    let web = server.web_addr.expect("the web listener is on");
    let mut bob = server.register("bob").await;
    // More than the page asks for on joining (50), so that two more pages lie above.
    let said: Vec<String> = (1..=100)
        .map(|i| format!("earlier {i}"))
        .chain(["said before you came".into(), "and once more".into()])
        .collect();
    for text in &said {
        bob.say(text).await;
        assert_eq!(&bob.next_message().await.1, text);
    }
    let shown_from = |first: usize| -> Vec<(&str, &str)> {
        said[first..].iter().map(|t| ("bob", t.as_str())).collect()
    };

    // Joining shows the latest of what was said before, oldest first, as past messages.
    let browser = Browser::start().await;
    browser.open(web, "alice", "lobby").await;
    let page = browser
        .wait_until("the backlog shown", |p| p.messages() == shown_from(52))
        .await;
    let backlog = page.lines_of("msg");
    assert!(backlog.iter().all(|l| l.is("past")), "{page:#?}");
    let seqs: Vec<_> = backlog.iter().map(|l| l.seq.as_deref()).collect();
    let expected: Vec<String> = (53..=102).map(|s| s.to_string()).collect();
    assert_eq!(
        seqs,
        expected
            .iter()
            .map(|s| Some(s.as_str()))
            .collect::<Vec<_>>()
    );

    // Scrolling up loads the older pages above, in order, each message once.
    let mut shown = backlog.len();
    while shown < said.len() {
        browser
            .client
            .execute(SCROLL_TO_TOP, vec![])
            .await
            .expect("scroll the messages to the top");
        let page = browser
            .wait_until("an older page above the backlog", |p| {
                p.lines_of("msg").len() > shown
            })
            .await;
        let now = page.messages();
        assert_eq!(now, shown_from(said.len() - now.len()), "{page:#?}");
        shown = now.len();
    }
    let page = browser
        .wait_until("all history shown", |p| p.messages() == shown_from(0))
        .await;
    let seqs: Vec<_> = page.lines_of("msg").iter().map(|l| l.seq.clone()).collect();
    let expected: Vec<_> = (1..=102).map(|s: u64| Some(s.to_string())).collect();
    assert_eq!(seqs, expected, "every seq once, oldest first");

    // A socket of the page's origin that sends too much gets FrameTooLarge and is closed.
    let before = metrics(web).await;
    let report = browser
        .client
        .execute_async(OVERSIZE, vec![])
        .await
        .expect("the oversize script runs");
    assert!(report.get("failed").is_none(), "{report}");
    let frames = report["frames"].as_array().expect("frames");
    assert_eq!(frames.len(), 1, "one Error, then the close: {report}");
    assert_eq!(frames[0]["type"], "Error", "{report}");
    assert_eq!(frames[0]["kind"], "FrameTooLarge", "{report}");
    // The browser's own close event says why as well: 1009, message too big.
    assert_eq!(report["code"], 1009, "{report}");
    assert!(
        frames[0]["detail"].as_str().unwrap_or("").contains("4096"),
        "{report}"
    );
    println!("the oversize socket closed with {report}");
    let after = metrics(web).await;
    let delta = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(delta(r#"chat_refusals_total{kind="frame_too_large"}"#), 1.0);

    // The page's own connection is not that one: alice's chat goes on.
    browser.type_line("still here").await;
    assert_eq!(
        bob.next_message().await,
        ("alice".into(), "still here".into())
    );
    let page = browser
        .wait_until("alice's message shown", |p| p.shows("alice", "still here"))
        .await;
    assert!(page.is("connected"), "{page:#?}");
    assert!(page.lines_of("error").is_empty(), "{page:#?}");

    // A page of another site, in a second tab, is refused: the browser sees the handshake
    // fail, the server warns.
    let site = another_site().await;
    let chat_tab = browser.client.window().await.expect("the chat tab");
    let other = browser.client.new_window(true).await.expect("a second tab");
    browser
        .client
        .switch_to_window(other.handle)
        .await
        .expect("switch to the second tab");
    browser
        .client
        .goto(&format!("http://{site}/"))
        .await
        .expect("open the other site");
    let refused = browser
        .client
        .execute_async(FOREIGN, vec![json!(format!("ws://{web}/ws"))])
        .await
        .expect("the foreign script runs");
    let origin = format!("http://{site}");
    assert_eq!(
        (
            &refused["origin"],
            &refused["opened"],
            &refused["errored"],
            &refused["code"]
        ),
        (&json!(origin), &json!(false), &json!(true), &json!(1006)),
        "{refused}"
    );
    let line = logs::wait_for(&format!("WARN Refused WebSocket for {origin}"), |l| {
        l.contains(" | WARN | ")
            && l.contains("Refused WebSocket")
            && l.contains(&format!("origin=\"{origin}\""))
    })
    .await;
    assert!(line.contains("another origin"), "{line}");
    let refusals = metrics(web).await;
    assert_eq!(
        sample(&refusals, "chat_websocket_origin_refusals_total")
            - sample(&after, "chat_websocket_origin_refusals_total"),
        1.0
    );

    // Back in the chat tab, alice is still connected and still hears bob.
    browser.client.close_window().await.expect("close the tab");
    browser
        .client
        .switch_to_window(chat_tab)
        .await
        .expect("back to the chat tab");
    bob.say("you are still with us").await;
    let page = browser
        .wait_until("bob's message after the refusal", |p| {
            p.shows("bob", "you are still with us")
        })
        .await;
    assert!(page.is("connected"), "{page:#?}");

    browser.close().await;
    server.shutdown().await;
}

/// How long the page may take to come back after the server did: its reconnect backoff
/// doubles from 0.5 s towards 20 s (±20%), so the try after a restart may be seconds away.
const RECONNECT_WITHIN: Duration = Duration::from_secs(30);

/// The chat port and the web port of a starting binary, from its "Listening on" and "Web
/// client at" lines (in whichever order they come).
fn addresses(process: &mut ServerProcess) -> (SocketAddr, SocketAddr) {
    let addr = process.listening_addr();
    let line = match process.seen.iter().find(|l| l.contains("Web client at ")) {
        Some(line) => line.clone(),
        None => process.wait_for_line("Web client at "),
    };
    let url = line.rsplit("Web client at ").next().unwrap();
    let web = url
        .trim()
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|hostport| hostport.parse().ok())
        .unwrap_or_else(|| panic!("no http://IP:PORT/ in {line:?}"));
    (addr, web)
}

/// Starts the binary in `dir` (its `config.ini` keeps history there) on `port` and
/// `http_port` ("0": any free one).
fn spawn(dir: &Path, port: &str, http_port: &str) -> ServerProcess {
    ServerProcess::spawn(
        dir,
        &[
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--http-port",
            http_port,
        ],
    )
}

#[tokio::test]
async fn the_page_rides_out_a_server_restart_and_shows_each_message_once() {
    let dir = scratch_dir("browser-restart");
    std::fs::write(dir.join("config.ini"), "[store]\npath = chat.db\n").unwrap();
    let mut process = spawn(&dir, "0", "0");
    let (addr, web) = addresses(&mut process);

    let browser = Browser::start().await;
    browser.open(web, "alice", "lobby").await;
    let mut bob = register(addr, "bob").await;
    bob.say("m1").await;
    assert_eq!(bob.next_message().await.1, "m1");
    browser
        .wait_until("m1 shown", |p| p.shows("bob", "m1"))
        .await;

    // The server stops: the page says it is reconnecting, and why.
    process.terminate();
    let (status, _) = process.wait();
    assert!(status.success(), "chat-server exits cleanly: {status}");
    bob.until_closed().await;
    let page = browser
        .wait_until("the page reconnecting", |p| p.is("reconnecting"))
        .await;
    assert!(
        page.lines_of("system")
            .iter()
            .any(|l| l.text == "server: server shutting down"),
        "the shutdown notice is shown: {page:#?}"
    );
    assert!(page.shows("bob", "m1"), "{page:#?}");

    // The same binary on the same ports and the same history.
    let mut process = spawn(&dir, &addr.port().to_string(), &web.port().to_string());
    assert_eq!(addresses(&mut process), (addr, web));
    let mut bob = register(addr, "bob").await;
    // m2 most likely while the page is still waiting to retry (it catches up on it), m3
    // once it is back (it arrives live).
    bob.say("m2").await;
    assert_eq!(bob.next_message().await.1, "m2");
    let page = browser
        .wait_within(RECONNECT_WITHIN, "the page connected again", |p| {
            p.is("connected") && p.room("lobby").is_some_and(|r| r.current)
        })
        .await;
    assert_eq!(page.rooms, ["lobby"]);
    bob.say("m3").await;
    assert_eq!(bob.next_message().await.1, "m3");
    let page = browser
        .wait_until("m1, m2 and m3 shown", |p| {
            ["m1", "m2", "m3"].iter().all(|m| p.shows("bob", m))
        })
        .await;
    for m in ["m1", "m2", "m3"] {
        assert_eq!(page.count(m), 1, "{m} shown once: {page:#?}");
    }
    assert_eq!(
        page.messages(),
        [("bob", "m1"), ("bob", "m2"), ("bob", "m3")],
        "in order: {page:#?}"
    );
    assert!(page.is("connected"), "{page:#?}");
    assert!(
        page.lines_of("system")
            .iter()
            .any(|l| l.text == "reconnected"),
        "the page says it is back: {page:#?}"
    );

    browser.close().await;
    process.terminate();
    let (status, _) = process.wait();
    assert!(status.success(), "{status}");
}

/// Accounts in the browser: the page registers a name with a password, stays signed in
/// across a reload without keeping the password (the session is an `HttpOnly` cookie that
/// no script on the page can read), and signs out, after which the session signs nobody in.
#[tokio::test]
async fn a_browser_registers_stays_signed_in_across_a_reload_and_signs_out() {
    use chat_proto::{Credential, ErrorKind, SessionToken, PROTOCOL_VERSION};
    use fantoccini::Locator;

    let dir = scratch_dir("browser_accounts");
    let server = start_with(Config {
        http: web_config().http,
        ..history_config(&dir)
    })
    .await;
    let web = server.web_addr.expect("the web listener is on");
    let mut bob = server.register("bob").await;
    let browser = Browser::start().await;
    let url = format!("http://{web}/");
    browser.client.goto(&url).await.expect("load the page");
    let field = |id: &'static str| {
        let client = browser.client.clone();
        async move {
            client
                .find(Locator::Id(id))
                .await
                .unwrap_or_else(|e| panic!("the page has #{id}: {e}"))
        }
    };
    field("signin-name").await.send_keys("ann").await.unwrap();
    field("signin-account-password")
        .await
        .send_keys("violet tractor at noon")
        .await
        .unwrap();
    field("signin-register").await.click().await.unwrap();
    browser
        .wait_until("ann signed in and in lobby", |p| {
            p.is("connected") && p.name.as_deref() == Some("ann") && p.in_room("lobby")
        })
        .await;
    assert_eq!(
        bob.recv_presence().await,
        common::Presence::Joined {
            room: "lobby".into(),
            user: "ann".into()
        }
    );

    // The token is in an HttpOnly, SameSite=Strict cookie; the page's script sees only the
    // name's cookie.
    let cookies = browser.client.get_all_cookies().await.expect("the cookies");
    let session = cookies
        .iter()
        .find(|c| c.name() == "chat_session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(
        session.same_site().map(|s| s.to_string()).as_deref(),
        Some("Strict")
    );
    let token = session.value().to_owned();
    let seen_by_script = browser
        .client
        .execute("return document.cookie;", vec![])
        .await
        .expect("read document.cookie");
    let seen_by_script = seen_by_script.as_str().unwrap_or_default().to_owned();
    assert!(
        seen_by_script.contains("chat_account=ann"),
        "{seen_by_script}"
    );
    assert!(
        !seen_by_script.contains("chat_session") && !seen_by_script.contains(&token),
        "the page's script cannot read the token: {seen_by_script}"
    );

    // A reload signs in again with the cookie: no form, no password.
    browser.client.refresh().await.expect("reload");
    browser
        .wait_until("ann signed in again after the reload", |p| {
            p.is("connected") && p.name.as_deref() == Some("ann") && p.in_room("lobby")
        })
        .await;

    // Signing out: the form comes back, the cookies go, and the session is over.
    field("signout").await.click().await.unwrap();
    browser
        .wait_until("the sign-in form after signing out", |p| {
            p.is("disconnected") && p.name.is_none()
        })
        .await;
    let cookies = browser.client.get_all_cookies().await.expect("the cookies");
    assert!(
        cookies
            .iter()
            .all(|c| c.name() != "chat_session" && c.name() != "chat_account"),
        "{cookies:?}"
    );
    let mut reuse = TestClient::connect(server.addr).await;
    reuse
        .send(ClientFrame::SignIn {
            version: PROTOCOL_VERSION,
            username: "ann".into(),
            server_password: None,
            credential: Credential::Token(SessionToken::from_hex(&token).expect("hex")),
            online: true,
        })
        .await;
    assert_eq!(
        common::error_of(reuse.recv().await).0,
        ErrorKind::SessionEnded
    );
    browser.close().await;
    server.shutdown().await;
}

/// A room's owner at the page: claims the room, sets its topic, removes a message from the
/// ⋯ menu on the message and kicks its sender from the ⋯ menu on their name; the terminal
/// user at the other end sees each, and the page shows what happened.
#[tokio::test]
async fn an_owner_at_the_page_removes_a_message_and_kicks_its_sender_from_the_menus() {
    use chat_proto::moderation::RoomChange;
    use fantoccini::Locator;

    let dir = scratch_dir("browser_moderation");
    let server = start_with(Config {
        http: web_config().http,
        ..history_config(&dir)
    })
    .await;
    let web = server.web_addr.expect("the web listener is on");
    let mut gus = server.register("gus").await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("http://{web}/"))
        .await
        .expect("load the page");
    let type_into = |id: &'static str, text: &'static str| {
        let client = browser.client.clone();
        async move {
            client
                .find(Locator::Id(id))
                .await
                .unwrap_or_else(|e| panic!("the page has #{id}: {e}"))
                .send_keys(text)
                .await
                .unwrap();
        }
    };
    type_into("signin-name", "olive").await;
    type_into("signin-account-password", "violet tractor at noon").await;
    browser.click("#signin-register").await;
    browser
        .wait_until("olive signed in and in lobby", |p| {
            p.is("connected") && p.name.as_deref() == Some("olive") && p.in_room("lobby")
        })
        .await;
    assert!(
        browser
            .client
            .find(Locator::Css(r#"#members [data-menu-user="gus"]"#))
            .await
            .is_err(),
        "no moderation menu before the room is claimed"
    );

    // Claimed and given a topic from the message box; the terminal user hears both.
    browser.type_line("/claim").await;
    browser
        .wait_until("the claim answered", |p| {
            p.lines_of("system")
                .iter()
                .any(|l| l.text.contains("#lobby; owner olive"))
        })
        .await;
    browser.type_line("/topic Be kind").await;
    let mut heard = Vec::new();
    while heard.len() < 2 {
        if let ServerFrame::RoomChanged { by, change, .. } = gus.recv_skipping_notices().await {
            heard.push((by, change));
        }
    }
    assert_eq!(
        heard,
        [
            ("olive".into(), RoomChange::Claimed),
            (
                "olive".into(),
                RoomChange::Topic {
                    topic: "Be kind".into()
                }
            )
        ]
    );

    // A message removed from its ⋯ menu: gone for gus, and shown as removed at the page.
    gus.say("buy cheap pills").await;
    let page = browser
        .wait_until("gus's message shown", |p| p.shows("gus", "buy cheap pills"))
        .await;
    let seq = page
        .lines
        .iter()
        .find(|l| l.text == "buy cheap pills")
        .and_then(|l| l.seq.clone())
        .expect("the message has its seq");
    assert_eq!(gus.next_message().await.1, "buy cheap pills");
    browser
        .click(&format!(r#"#messages .msg[data-seq="{seq}"] .more"#))
        .await;
    browser.click(r#"#menu [data-action="remove"]"#).await;
    match gus.recv_skipping_notices().await {
        ServerFrame::MessageRemoved { target, by, .. } => {
            assert_eq!((target.to_string(), by.as_str()), (seq.clone(), "olive"));
        }
        other => panic!("expected MessageRemoved, got {other:?}"),
    }
    browser
        .wait_until("the message shown as removed", |p| {
            p.lines.iter().any(|l| {
                l.seq.as_deref() == Some(&seq)
                    && l.is("removed")
                    && l.text == "message removed by olive"
            }) && !p.shows("gus", "buy cheap pills")
        })
        .await;

    // Kicked from the ⋯ menu on his name: out of the room, and the page says so.
    browser.click(r#"#members [data-menu-user="gus"]"#).await;
    browser.click(r#"#menu [data-action="kick"]"#).await;
    let mut kicked = false;
    loop {
        match gus.recv().await {
            ServerFrame::RoomChanged {
                change: RoomChange::Kicked { user, .. },
                ..
            } => kicked = user == "gus",
            ServerFrame::Parted { room } => {
                assert_eq!(room, "lobby");
                break;
            }
            _ => {}
        }
    }
    assert!(kicked, "gus was told he was kicked before he was put out");
    browser
        .wait_until("gus gone from the members and the kick told", |p| {
            !p.members.iter().any(|m| m == "gus")
                && p.lines_of("system")
                    .iter()
                    .any(|l| l.text == "olive kicked gus")
        })
        .await;
    browser.close().await;
    server.shutdown().await;
}

/// Replies, edits, reactions and typing at the page: a reaction given from a message's ⋯
/// menu reaches a terminal user; a terminal user's reaction, edit and typing show at the
/// page; a reply typed at the page names its message for the terminal user and is quoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_user_reacts_replies_and_sees_edits_reactions_and_typing() {
    let dir = scratch_dir("browser_events");
    let server = start_with(Config {
        http: web_config().http,
        ..history_config(&dir)
    })
    .await;
    let web = server.web_addr.expect("the web listener is on");
    let mut gus = server.register("gus").await;
    let browser = Browser::start().await;
    browser.open(web, "olive", "lobby").await;
    gus.say("ship it tonight").await;
    assert_eq!(gus.next_message().await.1, "ship it tonight");
    let page = browser
        .wait_until("gus's message shown", |p| p.shows("gus", "ship it tonight"))
        .await;
    let seq = page
        .lines
        .iter()
        .find(|l| l.text == "ship it tonight")
        .and_then(|l| l.seq.clone())
        .expect("the message has its seq");
    let number: u64 = seq.parse().unwrap();

    // A reaction from the ⋯ menu.
    browser
        .click(&format!(r#"#messages .msg[data-seq="{seq}"] .more"#))
        .await;
    browser.click(r#"#menu [data-action="react"]"#).await;
    match gus.recv_skipping_notices().await {
        ServerFrame::Event { entry, .. } => {
            assert_eq!(entry.from, "olive");
            assert_eq!(
                entry.kind,
                chat_proto::PastKind::React {
                    target: number,
                    emoji: "👍".into()
                }
            );
        }
        other => panic!("expected olive's reaction, got {other:?}"),
    }
    browser
        .wait_until("the chip 👍 1", |p| {
            p.lines
                .iter()
                .any(|l| l.seq.as_deref() == Some(&seq) && l.reactions == ["👍 1"])
        })
        .await;

    // gus reacts, edits his message and types: the page shows each.
    gus.send(ClientFrame::React {
        room: "lobby".into(),
        seq: number,
        emoji: "🎉".into(),
        on: true,
    })
    .await;
    gus.send(ClientFrame::Edit {
        room: "lobby".into(),
        seq: number,
        text: "ship it tomorrow".into(),
    })
    .await;
    gus.send(ClientFrame::Typing {
        room: "lobby".into(),
    })
    .await;
    browser
        .wait_until("the edit, both chips and gus typing", |p| {
            p.lines.iter().any(|l| {
                l.seq.as_deref() == Some(&seq)
                    && l.text == "ship it tomorrow"
                    && l.edited
                    && l.reactions == ["👍 1", "🎉 1"]
            }) && p.typing.as_deref() == Some("gus is typing…")
        })
        .await;

    // A reply typed at the page: gus hears what it answers, the page quotes it.
    browser.type_line(&format!("/reply {seq} agreed")).await;
    let reply = loop {
        if let ServerFrame::Event { entry, .. } = gus.recv_skipping_notices().await {
            if entry.from == "olive" && entry.kind == chat_proto::PastKind::Message {
                break entry;
            }
        }
    };
    assert_eq!(
        (reply.reply_to, reply.text.as_str()),
        (Some(number), "agreed")
    );
    browser
        .wait_until("the reply quoted", |p| {
            p.lines.iter().any(|l| {
                l.text == "agreed"
                    && l.reply.as_deref() == Some(&format!("↪ {seq}: ship it tomorrow"))
            })
        })
        .await;
    browser.close().await;
}
