//! Reload on SIGHUP, with the real binary: a thousand clients connected over TLS stay
//! connected through every reload, while a new connection limit, a renewed certificate and
//! a new server password are in force for the next connections at once; a setting only a
//! restart applies is named and kept; a file that does not parse is refused whole, and the
//! server goes on as it was.

mod common;

use chat_proto::{ClientFrame, ErrorKind, Secret, ServerFrame, PROTOCOL_VERSION};
use common::pki::Pki;
use common::{error_of, ServerProcess};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Clients connected through the reloads.
const CLIENTS: usize = 1000;

/// A `config.ini` serving TLS with the test's certificate, flood control off, at most
/// `max_clients` connections, and `more` appended.
fn config_ini(max_clients: usize, more: &str) -> String {
    format!(
        "[server]\nhost = 127.0.0.1\nport = 0\n{more}\n\
         [tls]\ncert = cert.pem\nkey = key.pem\n\
         [limits]\nmessages_per_second = 0\nmax_per_ip = 0\nmax_clients = {max_clients}\n"
    )
}

/// Writes `text` as the server's `config.ini`, sends SIGHUP and waits for the line that
/// says how it went.
fn reload(server: &mut ServerProcess, pki: &Pki, text: &str, outcome: &str) -> String {
    std::fs::write(pki.dir.join("config.ini"), text).unwrap();
    server.hangup();
    server.wait_for_line(outcome)
}

/// Every client answers a ping: none was disconnected.
async fn all_answer(clients: &mut [common::TestClient<TlsStream<TcpStream>>]) {
    for client in clients.iter_mut() {
        client.send(ClientFrame::Ping).await;
    }
    for (i, client) in clients.iter_mut().enumerate() {
        match client.recv().await {
            ServerFrame::Pong => {}
            other => panic!("client {i}: expected Pong, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_thousand_clients_connected_disconnects_nobody_and_applies_the_new_settings()
{
    let mut pki = Pki::new("reload");
    std::fs::write(pki.dir.join("config.ini"), config_ini(2 * CLIENTS, "")).unwrap();
    let mut server = ServerProcess::spawn(&pki.dir, &["--config", "config.ini"]);
    let addr = server.listening_addr();
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let mut client = pki.connect_at(addr).await;
        match client.hello(&format!("p{i}")).await {
            ServerFrame::Welcome { .. } => clients.push(client),
            other => panic!("p{i}: expected Welcome, got {other:?}"),
        }
    }
    let first = pki.served.clone();
    assert_eq!(pki.shown_at(addr).await, first);

    // A renewed certificate in the same files, room for no one more, and a new port, which
    // only a restart applies.
    let renewed = pki.renew();
    let text = config_ini(CLIENTS, "").replace("port = 0", "port = 1");
    let kept = reload(&mut server, &pki, &text, "only a restart applies it");
    assert!(
        kept.contains(" | WARN | ") && kept.contains("[server] port"),
        "{kept}"
    );
    let done = server.wait_for_line("Reloaded the settings");
    assert!(
        done.contains("[limits] max_clients") && done.contains("[tls] cert and key"),
        "{done}"
    );
    assert_eq!(
        pki.shown_at(addr).await,
        renewed,
        "a new handshake sees the new certificate"
    );
    assert_ne!(renewed, first);
    let mut late = pki.connect_at(addr).await;
    assert_eq!(error_of(late.recv().await).0, ErrorKind::ServerFull);
    all_answer(&mut clients).await;

    // A file that does not parse changes nothing.
    let refused = reload(
        &mut server,
        &pki,
        "[limits]\nmax_clients = lots\n",
        "Reload refused",
    );
    assert!(refused.contains(" | ERROR | "), "{refused}");
    assert!(
        refused.contains("config.ini") && refused.contains("[limits] max_clients"),
        "{refused}"
    );
    let mut late = pki.connect_at(addr).await;
    assert_eq!(
        error_of(late.recv().await).0,
        ErrorKind::ServerFull,
        "the limit stayed"
    );
    assert_eq!(pki.shown_at(addr).await, renewed, "the certificate stayed");
    all_answer(&mut clients).await;

    // No connection limit, a server password the next handshake needs, and registration
    // closed.
    assert!(
        !server.seen.iter().any(|line| line.contains(" | DEBUG | ")),
        "nothing at DEBUG before the reload"
    );
    let text = config_ini(0, "password = sesame\nlog_level = debug")
        + "[accounts]\nregistration = closed\n";
    let done = reload(&mut server, &pki, &text, "Reloaded the settings");
    assert!(done.contains("[server] password"), "{done}");
    assert!(done.contains("[accounts] registration"), "{done}");
    assert!(
        server
            .seen
            .iter()
            .any(|line| line.contains("Reload: [server] log_level is now debug")),
        "the new log level is said before the settings are"
    );
    let mut guest = pki.connect_at(addr).await;
    assert_eq!(
        error_of(guest.hello("stranger").await).0,
        ErrorKind::AuthFailed
    );
    let mut member = pki.connect_at(addr).await;
    member
        .send(ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: "member".into(),
            password: Some("sesame".into()),
        })
        .await;
    assert!(matches!(member.recv().await, ServerFrame::Welcome { .. }));
    let mut newcomer = pki.connect_at(addr).await;
    newcomer
        .send(ClientFrame::Register {
            version: PROTOCOL_VERSION,
            username: "newcomer".into(),
            server_password: Some("sesame".into()),
            password: Secret::new("a long enough password"),
            device: "test".into(),
        })
        .await;
    assert_eq!(
        error_of(newcomer.recv().await).0,
        ErrorKind::RegistrationClosed
    );
    member.join("lobby").await;
    let said = server.wait_for_line(" | DEBUG | ");
    assert!(said.contains("member joined #lobby"), "{said}");
    all_answer(&mut clients).await;

    server.terminate();
    let (status, _) = server.wait();
    assert!(status.success());
}
