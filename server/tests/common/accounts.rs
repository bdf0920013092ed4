//! Accounts as a client sees them: the frames that register, sign in and manage, and the
//! answers a test waits for.

use chat_proto::{
    ClientFrame, Credential, ErrorKind, Secret, ServerFrame, SessionToken, PROTOCOL_VERSION,
};

use super::{error_of, TestClient, TestServer};

/// `Register` for `name` on `device`.
pub fn register(name: &str, password: &str, device: &str) -> ClientFrame {
    ClientFrame::Register {
        version: PROTOCOL_VERSION,
        username: name.into(),
        server_password: None,
        password: Secret::new(password),
        device: device.into(),
    }
}

/// `SignIn` that goes online under `name`.
pub fn sign_in(name: &str, credential: Credential) -> ClientFrame {
    ClientFrame::SignIn {
        version: PROTOCOL_VERSION,
        username: name.into(),
        server_password: None,
        credential,
        online: true,
    }
}

/// `SignIn` to manage the account only, while it may be online elsewhere.
pub fn manage(name: &str, credential: Credential) -> ClientFrame {
    ClientFrame::SignIn {
        version: PROTOCOL_VERSION,
        username: name.into(),
        server_password: None,
        credential,
        online: false,
    }
}

/// A connection signed in to manage `name`'s account: `SignedIn` alone; its session id
/// and its new token, if any.
pub async fn managing(
    server: &TestServer,
    name: &str,
    credential: Credential,
) -> (TestClient, u64, Option<SessionToken>) {
    let mut client = server.connect().await;
    client.send(manage(name, credential)).await;
    match client.recv().await {
        ServerFrame::SignedIn { session, token } => (client, session, token),
        other => panic!("expected SignedIn, got {other:?}"),
    }
}

/// A password credential from `device`.
pub fn with_password(password: &str, device: &str) -> Credential {
    Credential::Password {
        password: Secret::new(password),
        device: device.into(),
    }
}

/// What a successful sign-in answers: its session, its new token if any, the name welcomed.
pub async fn signed_in<S>(client: &mut TestClient<S>) -> (u64, Option<SessionToken>, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (session, token) = match client.recv().await {
        ServerFrame::SignedIn { session, token } => (session, token),
        other => panic!("expected SignedIn, got {other:?}"),
    };
    match client.recv().await {
        ServerFrame::Welcome { username, .. } => (session, token, username),
        other => panic!("expected Welcome after SignedIn, got {other:?}"),
    }
}

/// A connection that sent `frame` as its first and was let in.
pub async fn opened(
    server: &TestServer,
    frame: ClientFrame,
) -> (TestClient, u64, Option<SessionToken>) {
    let mut client = server.connect().await;
    client.send(frame).await;
    let (session, token, _) = signed_in(&mut client).await;
    (client, session, token)
}

/// The error a connection that sent `frame` first got.
pub async fn refused(server: &TestServer, frame: ClientFrame) -> (ErrorKind, String, TestClient) {
    let mut client = server.connect().await;
    client.send(frame).await;
    let (kind, detail) = error_of(client.recv().await);
    (kind, detail, client)
}

/// `chat-server account ARGS` in `dir`, with `stdin`; its exit code and stdout and stderr.
pub fn operator(
    dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (Option<i32>, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(["--config", "config.ini", "account"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chat-server account");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes the accounts `operators` the operators of every server of `nodes` (each with the
/// config it runs), by a reload of each that also changes the limit it names
/// (`rooms_per_user`, `max_rooms`, `max_clients` or `max_per_ip`), so that its log line
/// tells which reload it was: tests of one binary share its log, so each reload names a
/// limit no other reload of its binary does. Returns once every one is in force.
pub async fn make_operators(
    nodes: &[(&TestServer, chat_server::Config, &str)],
    operators: &[&str],
) {
    for (node, config, mark) in nodes {
        let mut config = chat_server::Config {
            operators: chat_server::config::Operators::new(operators),
            ..config.clone()
        };
        match *mark {
            "rooms_per_user" => config.rooms_per_user = 7,
            "max_rooms" => config.max_rooms = 7,
            "max_clients" => config.max_clients = 500,
            "max_per_ip" => config.max_per_ip = 500,
            other => panic!("no reload mark {other}"),
        }
        node.reload(config);
    }
    for (_, _, mark) in nodes {
        super::logs::wait_for("the operators' reload", |line| {
            line.contains("[accounts] operators") && line.contains(&format!("[limits] {mark}"))
        })
        .await;
    }
}

/// The first answer to a request, skipping what the room hears meanwhile (presence, room
/// changes).
pub async fn answer(client: &mut TestClient) -> ServerFrame {
    loop {
        match client.recv().await {
            ServerFrame::UserJoined { .. }
            | ServerFrame::UserLeft { .. }
            | ServerFrame::RoomChanged { .. } => {}
            frame => return frame,
        }
    }
}
