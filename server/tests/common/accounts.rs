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
