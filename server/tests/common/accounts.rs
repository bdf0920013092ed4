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
