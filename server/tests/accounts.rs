//! Accounts over real TCP with a real SQLite file: register, sign in with the password and
//! with the token, sessions listed and revoked (a revoked device's live connection is closed
//! at once), a password change, a registered name refused to a guest, wrong and weak
//! passwords, and wrong passwords against one account slowed across many addresses.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use chat_proto::{ClientFrame, Credential, ErrorKind, LeftReason, Revocation, Secret, ServerFrame};
use chat_server::Config;
use common::accounts::{
    managing, opened, operator, refused, register, sign_in, signed_in, with_password,
};
use common::{
    error_of, history_config, left, scratch_dir, start_with, ServerProcess, TestClient, TestServer,
    LOBBY,
};

const PASSWORD: &str = "violet tractor at noon";

/// A server keeping history, and so accounts, in a fresh `chat.db`.
async fn server(test: &str) -> TestServer {
    start_with(history_config(&scratch_dir(test))).await
}

#[tokio::test]
async fn register_sign_in_with_the_token_and_with_the_password_then_sign_out() {
    let server = server("accounts_register").await;
    let (mut laptop, first, token) = opened(&server, register("Ann", PASSWORD, "laptop")).await;
    let token = token.expect("a registration hands out a token");
    laptop.send(ClientFrame::Bye).await;
    laptop.until_closed().await;

    // The token signs in again, in any case of the name, with no new token.
    let mut again = server.connect().await;
    again
        .send(sign_in("ANN", Credential::Token(token.clone())))
        .await;
    let (session, new_token, name) = signed_in(&mut again).await;
    assert_eq!((session, new_token, name.as_str()), (first, None, "Ann"));

    // The password on another device, while this one is online: a second session, with
    // a token of its own, to manage the account (one connection at a time is online).
    let (mut phone, second, phone_token) =
        managing(&server, "ann", with_password(PASSWORD, "phone")).await;
    assert_ne!(second, first);
    assert_ne!(phone_token.as_ref(), Some(&token));
    phone.send(ClientFrame::Bye).await;
    phone.until_closed().await;

    again.send(ClientFrame::ListSessions).await;
    let ServerFrame::Sessions { sessions } = again.recv().await else {
        panic!("expected Sessions");
    };
    let listed: Vec<(u64, &str, bool)> = sessions
        .iter()
        .map(|s| (s.id, s.device.as_str(), s.current))
        .collect();
    assert_eq!(listed, [(first, "laptop", true), (second, "phone", false)]);

    // Signing out: Revoked, then SessionEnded and the close.
    again
        .send(ClientFrame::Revoke {
            which: Revocation::This,
        })
        .await;
    assert_eq!(again.recv().await, ServerFrame::Revoked { count: 1 });
    let (kind, _) = error_of(again.recv().await);
    assert_eq!(kind, ErrorKind::SessionEnded);
    assert!(again.until_closed().await.is_empty());

    // The token signs nobody in any more.
    let (kind, detail, _) = refused(&server, sign_in("ann", Credential::Token(token))).await;
    assert_eq!(kind, ErrorKind::SessionEnded, "{detail}");
    // The phone's still does, online now that the name is free.
    let (_phone, session, _) = opened(
        &server,
        sign_in("ann", Credential::Token(phone_token.unwrap())),
    )
    .await;
    assert_eq!(session, second);
    server.shutdown().await;
}

#[tokio::test]
async fn a_registered_name_is_refused_to_a_guest_who_may_pick_another() {
    let server = server("accounts_guest").await;
    let (mut ann, _, _) = opened(&server, register("ann", PASSWORD, "laptop")).await;
    let mut guest = server.connect().await;
    let (kind, detail) = error_of(guest.hello("ANN").await);
    assert_eq!(kind, ErrorKind::NameRegistered, "{detail}");
    assert!(detail.contains("\"ann\" is registered"), "{detail}");
    // The connection goes on: another name gets in.
    assert!(matches!(
        guest.hello("bob").await,
        ServerFrame::Welcome { username, .. } if username == "bob"
    ));
    // Registering a registered name, or one online, is refused too.
    ann.send(ClientFrame::Bye).await;
    ann.until_closed().await;
    let (kind, _, _) = refused(&server, register("Ann", "another good one", "x")).await;
    assert_eq!(kind, ErrorKind::NameRegistered);
    let (kind, _, _) = refused(&server, register("BOB", "another good one", "x")).await;
    assert_eq!(kind, ErrorKind::NameTaken);
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_account_is_refused_alike_and_closes() {
    let server = server("accounts_wrong").await;
    let (_ann, _, _) = opened(&server, register("ann", PASSWORD, "laptop")).await;
    let mut details = Vec::new();
    for (name, password) in [("ann", "not the password"), ("nobody", PASSWORD)] {
        let (kind, detail, mut client) =
            refused(&server, sign_in(name, with_password(password, "x"))).await;
        assert_eq!(kind, ErrorKind::WrongPassword, "{detail}");
        assert!(client.until_closed().await.is_empty());
        details.push(detail);
    }
    assert_eq!(details[0], details[1], "the two are not told apart");
    server.shutdown().await;
}

#[tokio::test]
async fn a_weak_password_is_refused_with_the_rule_it_breaks() {
    let server = server("accounts_weak").await;
    for (password, rule) in [
        ("short", "8"),
        ("password1", "common"),
        ("Annabelle", "name"),
    ] {
        let (kind, detail, mut client) =
            refused(&server, register("annabelle", password, "x")).await;
        assert_eq!(kind, ErrorKind::WeakPassword, "{password}: {detail}");
        assert!(detail.contains(rule), "{password}: {detail}");
        // Not the end: a good one registers on the same connection.
        client.send(register("annabelle", PASSWORD, "x")).await;
        signed_in(&mut client).await;
        client.send(ClientFrame::Bye).await;
        client.until_closed().await;
        // Delete it again, for the next round.
        let (mut again, _, _) =
            opened(&server, sign_in("annabelle", with_password(PASSWORD, "x"))).await;
        again
            .send(ClientFrame::DeleteAccount {
                password: Secret::new(PASSWORD),
            })
            .await;
        assert_eq!(again.recv().await, ServerFrame::AccountDeleted);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn revoking_a_session_closes_its_live_connection_at_once() {
    let server = server("accounts_revoke").await;
    let (mut laptop, laptop_id, _) = opened(&server, register("ann", PASSWORD, "laptop")).await;
    laptop.join(LOBBY).await;
    let mut bob = server.register("bob").await;
    // Another device signs in to manage the account while the laptop chats.
    let (mut terminal, terminal_id, _) =
        managing(&server, "ann", with_password(PASSWORD, "terminal")).await;
    // It cannot chat: it took no name.
    terminal
        .send(ClientFrame::Msg {
            room: LOBBY.into(),
            text: "hi".into(),
        })
        .await;
    let (kind, detail) = error_of(terminal.recv().await);
    assert_eq!(kind, ErrorKind::NotRegistered);
    assert!(detail.contains("manage the account only"), "{detail}");
    terminal.send(ClientFrame::ListSessions).await;
    let ServerFrame::Sessions { sessions } = terminal.recv().await else {
        panic!("expected Sessions");
    };
    let listed: Vec<(u64, &str, bool)> = sessions
        .iter()
        .map(|s| (s.id, s.device.as_str(), s.current))
        .collect();
    assert_eq!(
        listed,
        [
            (laptop_id, "laptop", false),
            (terminal_id, "terminal", true)
        ]
    );

    terminal
        .send(ClientFrame::Revoke {
            which: Revocation::One(laptop_id),
        })
        .await;
    assert_eq!(terminal.recv().await, ServerFrame::Revoked { count: 1 });
    // The laptop is told and closed; its room hears it go.
    assert_eq!(laptop.recv_error().await.0, ErrorKind::SessionEnded);
    assert!(laptop.until_closed().await.is_empty());
    assert_eq!(bob.recv_presence().await, left("ann", LeftReason::Refused));
    // A guest has no sessions to end.
    bob.send(ClientFrame::Revoke {
        which: Revocation::All,
    })
    .await;
    assert_eq!(bob.recv_error().await.0, ErrorKind::NotSignedIn);
    // An id that is not one of the account's ends nothing.
    terminal
        .send(ClientFrame::Revoke {
            which: Revocation::One(laptop_id),
        })
        .await;
    assert_eq!(terminal.recv().await, ServerFrame::Revoked { count: 0 });
    server.shutdown().await;
}

#[tokio::test]
async fn signing_out_everywhere_closes_every_connection_of_the_account() {
    let server = server("accounts_everywhere").await;
    let (mut laptop, _, laptop_token) = opened(&server, register("ann", PASSWORD, "laptop")).await;
    let (mut phone, _, _) = managing(&server, "ann", with_password(PASSWORD, "phone")).await;
    let (mut terminal, _, _) = managing(
        &server,
        "ann",
        Credential::Token(laptop_token.clone().unwrap()),
    )
    .await;
    terminal
        .send(ClientFrame::Revoke {
            which: Revocation::All,
        })
        .await;
    assert_eq!(terminal.recv().await, ServerFrame::Revoked { count: 2 });
    assert_eq!(error_of(terminal.recv().await).0, ErrorKind::SessionEnded);
    terminal.until_closed().await;
    for device in [&mut laptop, &mut phone] {
        assert_eq!(error_of(device.recv().await).0, ErrorKind::SessionEnded);
        assert!(device.until_closed().await.is_empty());
    }
    let (kind, _, _) = refused(
        &server,
        sign_in("ann", Credential::Token(laptop_token.unwrap())),
    )
    .await;
    assert_eq!(kind, ErrorKind::SessionEnded);
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_password_ends_the_other_sessions_and_the_old_one_no_longer_works() {
    let server = server("accounts_passwd").await;
    let (mut laptop, _, laptop_token) = opened(&server, register("ann", PASSWORD, "laptop")).await;
    laptop.send(ClientFrame::Bye).await;
    laptop.until_closed().await;
    let (mut phone, phone_id, _) =
        opened(&server, sign_in("ann", with_password(PASSWORD, "phone"))).await;
    // A wrong current password is refused and closes the connection.
    phone
        .send(ClientFrame::ChangePassword {
            old: Secret::new("a guess at it"),
            new: Secret::new("amber kettle on the hob"),
        })
        .await;
    assert_eq!(error_of(phone.recv().await).0, ErrorKind::WrongPassword);
    phone.until_closed().await;
    let (mut phone, session, _) =
        opened(&server, sign_in("ann", with_password(PASSWORD, "phone"))).await;
    assert_ne!(session, phone_id);
    // A weak new one is refused, and the connection goes on.
    phone
        .send(ClientFrame::ChangePassword {
            old: Secret::new(PASSWORD),
            new: Secret::new("short"),
        })
        .await;
    assert_eq!(error_of(phone.recv().await).0, ErrorKind::WeakPassword);
    phone
        .send(ClientFrame::ChangePassword {
            old: Secret::new(PASSWORD),
            new: Secret::new("amber kettle on the hob"),
        })
        .await;
    // The laptop's and the first phone session's end; this one stays.
    assert_eq!(
        phone.recv().await,
        ServerFrame::PasswordChanged { ended: 2 }
    );
    phone.send(ClientFrame::ListSessions).await;
    let ServerFrame::Sessions { sessions } = phone.recv().await else {
        panic!("expected Sessions");
    };
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].current);
    phone.send(ClientFrame::Bye).await;
    phone.until_closed().await;
    let (kind, _, _) = refused(
        &server,
        sign_in("ann", Credential::Token(laptop_token.unwrap())),
    )
    .await;
    assert_eq!(kind, ErrorKind::SessionEnded);
    let (kind, _, _) = refused(&server, sign_in("ann", with_password(PASSWORD, "x"))).await;
    assert_eq!(kind, ErrorKind::WrongPassword);
    let (_again, _, _) = opened(
        &server,
        sign_in("ann", with_password("amber kettle on the hob", "x")),
    )
    .await;
    server.shutdown().await;
}

/// Wrong passwords for one account from ten addresses: after the third, the next check (from
/// a new address, with the right password even) waits its turn, which falls after this
/// server's short handshake deadline, so it is refused at once saying when to try again.
/// Another account is not slowed.
#[tokio::test]
async fn wrong_passwords_against_one_account_are_slowed_across_addresses() {
    let dir = scratch_dir("accounts_slowed");
    let server = start_with(Config {
        handshake_timeout: Some(Duration::from_millis(800)),
        ..history_config(&dir)
    })
    .await;
    for name in ["ann", "bob"] {
        let (mut client, _, _) = opened(&server, register(name, PASSWORD, "laptop")).await;
        client.send(ClientFrame::Bye).await;
        client.until_closed().await;
    }
    let from = |i: u8| IpAddr::V4(Ipv4Addr::new(127, 0, 1, i));
    for i in 1..=3 {
        let mut client = TestClient::connect_from(server.addr, from(i)).await;
        client
            .send(sign_in("ann", with_password("a wrong guess", "x")))
            .await;
        assert_eq!(error_of(client.recv().await).0, ErrorKind::WrongPassword);
    }
    for i in 4..=10 {
        let mut client = TestClient::connect_from(server.addr, from(i)).await;
        client
            .send(sign_in("ann", with_password(PASSWORD, "x")))
            .await;
        let (kind, detail) = error_of(client.recv().await);
        assert_eq!(kind, ErrorKind::AuthFailed, "{detail}");
        assert!(detail.contains("try again in"), "{detail}");
    }
    let mut client = TestClient::connect_from(server.addr, from(11)).await;
    client
        .send(sign_in("bob", with_password(PASSWORD, "x")))
        .await;
    signed_in(&mut client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_without_history_keeps_no_accounts_and_guests_still_chat() {
    let server = common::start_server().await;
    let (kind, detail, mut client) = refused(&server, register("ann", PASSWORD, "x")).await;
    assert_eq!(kind, ErrorKind::AccountsOff, "{detail}");
    assert!(matches!(
        client.hello("ann").await,
        ServerFrame::Welcome { .. }
    ));
    server.shutdown().await;
}

/// With registration closed only the operator makes accounts: `chat-server account add`
/// (the server running or not), `list`, `delete`; the accounts it makes sign in.
#[tokio::test]
async fn with_registration_closed_the_operator_makes_and_deletes_accounts() {
    let dir = scratch_dir("accounts_operator");
    std::fs::write(
        dir.join("config.ini"),
        "[store]\npath = chat.db\n[accounts]\nregistration = closed\n",
    )
    .unwrap();
    let (code, out, err) = operator(
        &dir,
        &["add", "Ann", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "made the account Ann\n");
    let (code, _, err) = operator(&dir, &["add", "bob", "--password-stdin"], "short\n");
    assert_eq!(code, Some(1));
    assert!(err.contains("at least 8 characters"), "{err}");
    let (code, _, err) = operator(
        &dir,
        &["add", "ANN", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("is registered"), "{err}");

    let mut process = ServerProcess::spawn(&dir, &["--config", "config.ini", "--port", "0"]);
    let addr = process.listening_addr();
    let mut client = TestClient::connect(addr).await;
    client.send(register("carol", PASSWORD, "x")).await;
    assert_eq!(
        error_of(client.recv().await).0,
        ErrorKind::RegistrationClosed
    );
    client
        .send(sign_in("ann", with_password(PASSWORD, "laptop")))
        .await;
    let (_, token, name) = signed_in(&mut client).await;
    assert_eq!(name, "Ann");
    client.send(ClientFrame::Bye).await;
    client.until_closed().await;

    let (code, out, _) = operator(&dir, &["list"], "");
    assert_eq!(code, Some(0));
    let fields: Vec<&str> = out.trim().split(' ').collect();
    assert_eq!((fields[0], fields[2]), ("Ann", "1"), "{out}");
    assert_eq!(fields[1].len(), "2026-12-07".len(), "{out}");
    let (code, out, _) = operator(&dir, &["delete", "ann"], "");
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "deleted the account ann; the name is free\n")
    );
    let (code, _, err) = operator(&dir, &["delete", "ann"], "");
    assert_eq!(code, Some(1));
    assert!(err.contains("no account is named"), "{err}");
    // Its device is refused now, and the name is anyone's.
    let mut client = TestClient::connect(addr).await;
    client
        .send(sign_in("ann", Credential::Token(token.unwrap())))
        .await;
    assert_eq!(error_of(client.recv().await).0, ErrorKind::SessionEnded);
    let mut guest = TestClient::connect(addr).await;
    assert!(matches!(
        guest.hello("ann").await,
        ServerFrame::Welcome { .. }
    ));
    process.terminate();
}

/// The page's sign-in over HTTP: `POST /session` with a `Register` frame sets the session
/// cookie (`HttpOnly`, `SameSite=Strict`) and a readable one with the name, and answers
/// `SignedIn` without the token; a WebSocket that comes with the cookie signs in with
/// `SignIn{credential: Cookie}`; a page of another origin is refused; `DELETE /session` ends
/// the session (its WebSocket is closed at once) and clears both cookies.
#[tokio::test]
async fn the_page_signs_in_over_http_and_its_websocket_with_the_cookie() {
    use common::web::{send_bytes, try_connect_with};
    let dir = scratch_dir("accounts_cookie");
    let server = start_with(Config {
        http: common::web::web_config().http,
        ..history_config(&dir)
    })
    .await;
    let web = server.web_addr.unwrap();
    let own = format!("http://{web}");
    let body = chat_proto::codec::encode(&register("ann", PASSWORD, "Firefox"))
        .unwrap()
        .as_bytes()
        .to_vec();

    let (status, _, _) = send_bytes(
        web,
        "POST",
        "/session",
        &[("origin", "http://elsewhere.example")],
        &body,
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "a page of another origin cannot sign in");

    let (status, headers, answer) = send_bytes(web, "POST", "/session", &[("origin", &own)], &body)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let answer: ServerFrame = chat_proto::codec::decode_body(&answer[4..]).unwrap();
    assert!(
        matches!(answer, ServerFrame::SignedIn { token: None, .. }),
        "the token is never in the body: {answer:?}"
    );
    let cookies: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("chat_session="))
        .expect("the session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=7776000"] {
        assert!(session.contains(attribute), "{session}");
    }
    let token = session
        .trim_start_matches("chat_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 64);
    let account = cookies
        .iter()
        .find(|c| c.starts_with("chat_account=ann;"))
        .expect("the name's cookie");
    assert!(
        !account.contains("HttpOnly"),
        "the page reads it: {account}"
    );

    // The page's WebSocket, with the cookie the browser sends.
    let cookie = format!("chat_account=ann; chat_session={token}");
    let mut page = try_connect_with(web, &[("origin", &own), ("cookie", &cookie)])
        .await
        .unwrap();
    page.send(sign_in("ann", Credential::Cookie)).await;
    let (_, new_token, name) = signed_in(&mut page).await;
    assert_eq!((new_token, name.as_str()), (None, "ann"));
    // Without the cookie, the same frame signs nobody in.
    let mut bare = try_connect_with(web, &[("origin", &own)]).await.unwrap();
    bare.send(sign_in("ann", Credential::Cookie)).await;
    assert_eq!(error_of(bare.recv().await).0, ErrorKind::SessionEnded);

    // Signing out: the session ends, the page's socket is closed, the cookies are cleared.
    let (status, headers, _) = send_bytes(
        web,
        "DELETE",
        "/session",
        &[("origin", &own), ("cookie", &cookie)],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(status, 204);
    let cleared: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("chat_session=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("chat_account=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(error_of(page.recv().await).0, ErrorKind::SessionEnded);
    page.until_closed().await;
    server.shutdown().await;
}
