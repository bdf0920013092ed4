//! The web listener: a browser's WebSocket carries the same frames as TCP and is served by
//! the same connection code, under the same rules; `/healthz`, `/metrics` and the page.

mod common;

use chat_proto::{ClientFrame, ErrorKind, ServerFrame};
use chat_server::config::Config;
use chat_server::web::settings::HttpConfig;
use common::web::{self, metrics, sample, web_config};
use common::{logs, start_with, test_config, TestServer};
use tokio_tungstenite::tungstenite::{self, Message};

async fn start() -> TestServer {
    start_with(web_config()).await
}

fn web_addr(server: &TestServer) -> std::net::SocketAddr {
    server.web_addr.expect("the web listener is on")
}

#[tokio::test]
async fn a_browser_and_a_terminal_chat_both_ways_and_whispers_stay_private() {
    let server = start().await;
    let mut ann = web::register(web_addr(&server), "ann").await;
    let mut bob = server.register("bob").await;
    let mut cat = server.register("cat").await;

    ann.say("hello from the browser").await;
    assert_eq!(
        bob.next_message().await,
        ("ann".into(), "hello from the browser".into())
    );
    bob.say("hello from the terminal").await;
    assert_eq!(
        ann.next_message().await,
        ("ann".into(), "hello from the browser".into())
    );
    assert_eq!(
        ann.next_message().await,
        ("bob".into(), "hello from the terminal".into())
    );

    bob.send(ClientFrame::Whisper {
        to: "ann".into(),
        text: "just you".into(),
    })
    .await;
    match ann.recv_skipping_notices().await {
        ServerFrame::Whisper { from, to, text, .. } => {
            assert_eq!(
                (from.as_str(), to.as_str(), text.as_str()),
                ("bob", "ann", "just you")
            );
        }
        other => panic!("expected the whisper, got {other:?}"),
    }
    // cat hears the room and nothing of the whisper: the next thing after both messages
    // is the one that follows the whisper.
    ann.say("after the whisper").await;
    assert_eq!(cat.next_message().await.1, "hello from the browser");
    assert_eq!(cat.next_message().await.1, "hello from the terminal");
    assert_eq!(cat.next_message().await.1, "after the whisper");
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_message_is_refused_as_an_oversize_frame_and_nobody_else_notices() {
    let server = start().await;
    let web = web_addr(&server);
    let mut bob = server.register("bob").await;
    let mut ann = web::register(web, "ann").await;
    // One binary message longer than the largest frame (buffsize 1024 + its prefix).
    ann.conn
        .get_mut()
        .send_raw(Message::Binary(vec![0u8; 4096].into()))
        .await;
    let (kind, detail) = ann.recv_error().await;
    assert_eq!(kind, ErrorKind::FrameTooLarge, "{detail}");
    assert!(detail.contains("4096"), "{detail}");
    assert!(
        ann.until_closed().await.is_empty(),
        "closed after the error"
    );
    // 1009: the WebSocket's own word for a message too big, for a browser's onclose.
    assert_eq!(ann.conn.get_ref().close_code(), Some(1009));

    let mut cat = web::register(web, "cat").await;
    cat.say("still here").await;
    assert_eq!(
        bob.next_message().await,
        ("cat".into(), "still here".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_close_from_the_client_is_answered_after_what_was_on_its_way() {
    let server = start().await;
    let web = web_addr(&server);
    let mut bob = server.register("bob").await;
    let mut ann = web::register(web, "ann").await;
    bob.say("before ann leaves").await;
    assert_eq!(ann.next_message().await.1, "before ann leaves");
    tokio::io::AsyncWriteExt::shutdown(ann.conn.get_mut())
        .await
        .expect("send the close");
    ann.until_closed().await;
    // The server answered the close (RFC 6455 5.5.1), echoing its code (none: 1005).
    assert_eq!(ann.conn.get_ref().close_code(), Some(1005));
    server.shutdown().await;
}

#[tokio::test]
async fn pings_are_answered_between_whole_messages() {
    let server = start().await;
    let web = web_addr(&server);
    let mut bob = server.register("bob").await;
    let mut ann = web::register(web, "ann").await;
    // Pings between bursts of room messages: each pong must land between whole frames.
    for round in 0..20 {
        let ping = format!("ping {round}");
        ann.conn
            .get_mut()
            .send_raw(Message::Ping(ping.into_bytes().into()))
            .await;
        for i in 0..20 {
            bob.say(&format!("{round}.{i}")).await;
        }
    }
    for round in 0..20 {
        for i in 0..20 {
            assert_eq!(
                ann.next_message().await,
                ("bob".into(), format!("{round}.{i}"))
            );
        }
    }
    // ann's own message follows her last ping on her socket: its pong is in by then.
    ann.say("done").await;
    assert_eq!(ann.next_message().await, ("ann".into(), "done".into()));
    let pongs: Vec<_> = ann.conn.get_ref().pongs().to_vec();
    let expected: Vec<_> = (0..20).map(|r| format!("ping {r}").into_bytes()).collect();
    assert_eq!(
        pongs, expected,
        "one pong per ping, in order, with its payload"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_and_text_messages_get_the_tcp_answers() {
    logs::capture();
    let server = start().await;
    let web = web_addr(&server);
    let mut ann = web::register(web, "ann").await;
    // A whole frame whose body is no client frame: BadFrame, and the connection goes on.
    ann.conn
        .get_mut()
        .send_raw(Message::Binary(vec![0, 0, 0, 2, 0xEE, 0xEE].into()))
        .await;
    assert_eq!(ann.recv_error().await.0, ErrorKind::BadFrame);
    ann.say("still in step").await;
    assert_eq!(ann.next_message().await.1, "still in step");
    // A text message is no frame at all: the connection is closed with that reason.
    ann.conn
        .get_mut()
        .send_raw(Message::Text("hello".into()))
        .await;
    ann.until_closed().await;
    // 1003: data of a kind this endpoint does not take.
    assert_eq!(ann.conn.get_ref().close_code(), Some(1003));
    let line = logs::wait_for("the reason ann was closed", |l| {
        l.contains("left") && l.contains("a text WebSocket message")
    })
    .await;
    assert!(line.contains("WARN"), "{line}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_page_of_another_origin_is_refused_with_403_and_a_warning() {
    logs::capture();
    let server = start().await;
    let web = web_addr(&server);
    match web::try_connect(web, Some("http://evil.example")).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Ok(_) => panic!("a foreign page was let in"),
        Err(other) => panic!("expected 403, got {other}"),
    }
    let line = logs::wait_for("the refused origin's warning", |l| {
        l.contains("WARN") && l.contains("Refused WebSocket") && l.contains("http://evil.example")
    })
    .await;
    assert!(line.contains("another origin"), "{line}");
    // The server's own page and clients without an Origin are let in.
    web::register(web, "ann").await;
    let mut script = web::try_connect(web, None)
        .await
        .expect("no Origin: not a page");
    assert!(matches!(
        script.hello("bot").await,
        ServerFrame::Welcome { .. }
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn listed_origins_are_let_in() {
    let server = start_with(Config {
        http: Some(HttpConfig {
            port: 0,
            allowed_origins: "https://chat.example.com".parse().unwrap(),
            ..HttpConfig::default()
        }),
        ..test_config()
    })
    .await;
    let web = web_addr(&server);
    assert!(web::try_connect(web, Some("https://chat.example.com"))
        .await
        .is_ok());
    assert!(web::try_connect(web, Some("https://other.example.com"))
        .await
        .is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn the_connection_limits_and_the_password_hold_over_websocket() {
    let server = start_with(Config {
        max_per_ip: 1,
        password: Some(chat_server::auth::Password::new("s3cret")),
        ..web_config()
    })
    .await;
    let web = web_addr(&server);
    let mut first = web::connect(web).await;
    let mut second = web::connect(web).await;
    assert_eq!(second.recv_error().await.0, ErrorKind::TooManyConnections);
    first.send(common::hello("ann")).await;
    assert_eq!(first.recv_error().await.0, ErrorKind::AuthFailed);
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_is_ok_while_serving_and_503_once_shutdown_began() {
    let server = start_with(Config {
        max_per_ip: 1,
        ..web_config()
    })
    .await;
    let web = web_addr(&server);
    let ok = web::get(web, "/healthz", &[]).await.unwrap();
    assert_eq!((ok.status, ok.body.as_str()), (200, r#"{"status":"ok"}"#));
    assert_eq!(ok.header("content-type"), Some("application/json"));
    // A refused connection that stays open is lingered on for a second, which holds the
    // shutdown open long enough to ask.
    let _held = server.register("ann").await;
    let mut refused = server.connect().await;
    assert_eq!(refused.recv_error().await.0, ErrorKind::TooManyConnections);
    let stopping = tokio::spawn(server.shutdown());
    let mut seen = Vec::new();
    loop {
        match web::get(web, "/healthz", &[]).await {
            Ok(answer) if answer.status == 503 => {
                assert_eq!(answer.body, r#"{"status":"shutting down"}"#);
                break;
            }
            Ok(answer) => seen.push(answer.status),
            Err(err) => panic!("no 503 before the listener closed ({err}); saw {seen:?}"),
        }
        assert!(seen.len() < 100_000, "never 503: {seen:?}");
    }
    stopping.await.unwrap();
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_with_a_strict_policy() {
    let server = start().await;
    let web = web_addr(&server);
    let page = web::get(web, "/", &[]).await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    for id in [
        r#"id="compose""#,
        r#"id="messages""#,
        r#"id="members""#,
        r#"id="rooms""#,
    ] {
        assert!(page.body.contains(id), "the page has no {id}");
    }
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    for (path, kind) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/codec.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
    ] {
        let file = web::get(web, path, &[]).await.unwrap();
        assert_eq!(
            (file.status, file.header("content-type")),
            (200, Some(kind)),
            "{path}"
        );
        assert!(!file.body.is_empty(), "{path}");
    }
    assert_eq!(
        web::get(web, "/nothing-here", &[]).await.unwrap().status,
        404
    );
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_move_by_exactly_what_clients_did() {
    let server = start().await;
    let web = web_addr(&server);
    let before = metrics(web).await;
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        before.contains(&format!("chat_build_info{{version=\"{version}\"}} 1")),
        "{before}"
    );
    let delta = |after: &str, series: &str| sample(after, series) - sample(&before, series);

    let mut ann = web::register(web, "ann").await;
    let mut bob = server.register("bob").await;
    let during = metrics(web).await;
    assert_eq!(
        sample(&during, r#"chat_connections{transport="websocket"}"#),
        1.0
    );
    assert_eq!(sample(&during, r#"chat_connections{transport="tcp"}"#), 1.0);
    assert_eq!(
        (sample(&during, "chat_users"), sample(&during, "chat_rooms")),
        (2.0, 1.0)
    );

    for text in ["one", "two", "three"] {
        ann.say(text).await;
    }
    for _ in 0..3 {
        bob.next_message().await;
        ann.next_message().await;
    }
    bob.send(ClientFrame::Whisper {
        to: "ann".into(),
        text: "psst".into(),
    })
    .await;
    assert!(matches!(
        ann.recv_skipping_notices().await,
        ServerFrame::Whisper { .. }
    ));
    assert!(matches!(
        bob.recv_skipping_notices().await,
        ServerFrame::Whisper { .. }
    ));
    bob.send(ClientFrame::Whisper {
        to: "nobody".into(),
        text: "lost".into(),
    })
    .await;
    assert_eq!(bob.recv_error().await.0, ErrorKind::NoSuchUser);
    ann.send(ClientFrame::Bye).await;
    ann.until_closed().await;

    let after = metrics(web).await;
    // Three messages and two whispers taken; each message reached two people, the whisper
    // its target and its sender.
    assert_eq!(delta(&after, "chat_messages_in_total"), 5.0);
    assert_eq!(delta(&after, "chat_messages_out_total"), 3.0 * 2.0 + 2.0);
    assert_eq!(
        delta(&after, r#"chat_refusals_total{kind="no_such_user"}"#),
        1.0
    );
    assert_eq!(
        delta(&after, r#"chat_disconnects_total{reason="bye"}"#),
        1.0
    );
    let accepted = |t: &str| {
        delta(
            &after,
            &format!("chat_connections_accepted_total{{transport=\"{t}\"}}"),
        )
    };
    assert_eq!((accepted("websocket"), accepted("tcp")), (1.0, 1.0));
    let fan_outs = delta(&after, "chat_fan_out_seconds_count");
    assert!(
        (1.0..=3.0).contains(&fan_outs),
        "three messages in one to three bursts: {fan_outs}"
    );
    assert!(delta(&after, "chat_received_bytes_total") > 0.0);
    assert!(delta(&after, "chat_sent_bytes_total") > delta(&after, "chat_received_bytes_total"));
    assert_eq!(sample(&after, "chat_users"), 1.0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_metrics_token_keeps_metrics_to_those_who_have_it() {
    let server = start_with(Config {
        http: Some(HttpConfig {
            port: 0,
            metrics_token: Some(chat_server::auth::Password::new("t0ken")),
            ..HttpConfig::default()
        }),
        ..test_config()
    })
    .await;
    let web = web_addr(&server);
    assert_eq!(web::get(web, "/metrics", &[]).await.unwrap().status, 401);
    let wrong = [("Authorization", "Bearer nope")];
    assert_eq!(web::get(web, "/metrics", &wrong).await.unwrap().status, 401);
    let right = [("Authorization", "Bearer t0ken")];
    let answer = web::get(web, "/metrics", &right).await.unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("chat_users"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_flooding_browser_is_refused_then_disconnected_and_others_hear_only_what_passed() {
    let server = start_with(Config {
        // A bucket that does not refill during the test: Hello and Join take two of the five
        // tokens, three messages pass.
        messages_per_second: 0.001,
        burst: 5,
        flood_disconnect_after: 5,
        ..web_config()
    })
    .await;
    let web = web_addr(&server);
    let mut bob = server.register("bob").await;
    let mut ann = web::register(web, "ann").await;
    for i in 0..20 {
        ann.say(&format!("flood {i}")).await;
    }
    let frames = ann.until_closed().await;
    let kinds: Vec<ErrorKind> = frames
        .into_iter()
        .filter_map(|f| match f {
            ServerFrame::Error { kind, .. } => Some(kind),
            _ => None,
        })
        .collect();
    assert!(kinds.contains(&ErrorKind::RateLimited), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&ErrorKind::Flooding), "{kinds:?}");
    // bob heard the burst that passed, then ann leaving, and nothing refused.
    for i in 0..3 {
        assert_eq!(bob.next_message().await.1, format!("flood {i}"));
    }
    assert_eq!(
        bob.recv_presence().await,
        common::left("ann", chat_proto::LeftReason::Refused)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_browser_that_stops_reading_is_dropped_as_a_slow_consumer_and_nobody_waits() {
    let server = start_with(Config {
        send_queue: 16,
        ..web_config()
    })
    .await;
    let web = web_addr(&server);
    let _stalled = web::register(web, "ann").await;
    let mut bob = server.register("bob").await;
    let mut cat = server.register("cat").await;
    let text = "x".repeat(1000);
    // Far more than the socket buffers and 16 queue entries hold; ann reads none of it. bob
    // and cat read each message before the next is sent, so only ann falls behind.
    let left = 'sending: loop {
        for said in 0..100_000 {
            bob.say(&text).await;
            bob.next_message().await;
            loop {
                let frame = cat.recv().await;
                if let Some(presence) = common::presence(&frame) {
                    if presence != common::joined("cat") && presence != common::joined("bob") {
                        break 'sending presence;
                    }
                } else if matches!(frame, ServerFrame::Msg { .. }) {
                    break;
                }
            }
            assert!(said < 99_999, "ann was never dropped");
        }
    };
    assert_eq!(
        left,
        common::left("ann", chat_proto::LeftReason::SlowConsumer)
    );
    server.shutdown().await;
}
