//! [`Client`]: where a server is and what it accepts, up to the handshake that gives a
//! [`Session`].

use std::time::Duration;

use chat_proto::config::DEFAULT_BUFFSIZE;
use chat_proto::PROTOCOL_VERSION;
use chat_proto::{
    codec, validate, ClientConnection, ClientFrame, Credential, ErrorKind, Secret, SessionToken,
};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use crate::error::ClientError;
use crate::keepalive::DEFAULT_KEEPALIVE;
use crate::session::{check_fits, Session};
use crate::tokens::Tokens;
use crate::transport::{Stream, Tls};

/// How long a request waits for its answer unless told otherwise: long enough for a busy
/// server, short enough that a script does not hang on a dead one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server password (`--password`, `CHAT_PASSWORD`); `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Where a server is and what it accepts: everything needed before a name is registered.
#[derive(Debug, Clone)]
pub struct Client {
    /// Host name or address to connect to.
    host: String,
    /// TCP port.
    port: u16,
    /// The server's `buffsize`: bigger frames are refused here instead of getting us
    /// disconnected there.
    max_body: usize,
    /// How long to wait for a connection or an answer.
    timeout: Duration,
    /// `Some`: connect over TLS, trusting these certificates.
    tls: Option<Tls>,
    /// The server password to send in `Hello`, if the server wants one.
    password: Option<Password>,
    /// Silence from the server after which a session pings it.
    keepalive: Duration,
    /// Where the device session tokens are kept: a name with one signs in with it.
    tokens: Option<Tokens>,
}

impl Client {
    /// A client for the server at `host:port`, assuming the default `buffsize` and timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Client {
        Client {
            host: host.into(),
            port,
            max_body: DEFAULT_BUFFSIZE,
            timeout: DEFAULT_TIMEOUT,
            tls: None,
            password: None,
            tokens: None,
            keepalive: DEFAULT_KEEPALIVE,
        }
    }

    /// Signs in with the token kept in `tokens` for the name, where there is one.
    pub fn with_tokens(mut self, tokens: Option<Tokens>) -> Client {
        self.tokens = tokens;
        self
    }

    /// Where the device session tokens are kept, if anywhere.
    pub fn tokens(&self) -> Option<&Tokens> {
        self.tokens.as_ref()
    }

    /// The host to connect to, as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends `password` in `Hello`, for a server with `[server] password`.
    pub fn with_password(mut self, password: Option<Password>) -> Client {
        self.password = password;
        self
    }

    /// Sets how long a session waits in silence before it pings the server.
    pub fn with_keepalive(mut self, keepalive: Duration) -> Client {
        self.keepalive = keepalive;
        self
    }

    /// Connects over TLS, trusting `tls`'s certificates, instead of plain TCP.
    pub fn with_tls(mut self, tls: Tls) -> Client {
        self.tls = Some(tls);
        self
    }

    /// Sets the server's frame limit (its `buffsize`), used to refuse oversize messages locally.
    pub fn with_max_body(mut self, max_body: usize) -> Client {
        self.max_body = max_body;
        self
    }

    /// Sets how long to wait for the connection and for each answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// Fails with [`ClientError::TooLarge`] when the server would refuse `frame` for its
    /// size: lets a command refuse a message before connecting at all.
    pub fn check_fits(&self, frame: &ClientFrame) -> Result<(), ClientError> {
        check_fits(frame, self.max_body)
    }

    /// `host:port`, as error messages name the server.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Connects and registers as `name`; returns once the server has sent `Welcome`. The
    /// session is in no room yet: [`Session::join`] enters one. With a token kept for
    /// `name` on this server ([`Client::with_tokens`]) it signs in to the account with it;
    /// else it comes as a guest.
    ///
    /// A refused name (taken, invalid, an account's) is [`ClientError::Refused`] with its
    /// [`chat_proto::ErrorKind`]; a token that signs nobody in any more is forgotten.
    pub async fn connect(&self, name: &str) -> Result<Session, ClientError> {
        let Some(token) = self.kept_token(name) else {
            let hello = ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                username: name.to_owned(),
                password: self.server_password(),
            };
            return self.handshake(name, &hello).await;
        };
        let signed_in = self.sign_in(name, Credential::Token(token)).await;
        self.forget_ended(name, &signed_in);
        signed_in
    }

    /// Connects and signs in to the account `name` with `credential`, online under the
    /// name; after a password, the session's [`Session::signed_in`] holds the new token.
    pub async fn sign_in(
        &self,
        name: &str,
        credential: Credential,
    ) -> Result<Session, ClientError> {
        let frame = ClientFrame::SignIn {
            version: PROTOCOL_VERSION,
            username: name.to_owned(),
            server_password: self.server_password(),
            credential,
            online: true,
        };
        self.handshake(name, &frame).await
    }

    /// Connects and signs in to the account `name` with the token kept for it, to manage
    /// the account only: the connection does not go online (the account may be, on another
    /// device), and only account requests make sense on it. `None` when no token is kept;
    /// a token that signs nobody in any more is forgotten.
    pub async fn manage(&self, name: &str) -> Result<Option<Session>, ClientError> {
        let Some(token) = self.kept_token(name) else {
            return Ok(None);
        };
        let frame = ClientFrame::SignIn {
            version: PROTOCOL_VERSION,
            username: name.to_owned(),
            server_password: self.server_password(),
            credential: Credential::Token(token),
            online: false,
        };
        let managing = self.handshake(name, &frame).await;
        self.forget_ended(name, &managing);
        managing.map(Some)
    }

    /// The token kept for `name` on this server, if any.
    fn kept_token(&self, name: &str) -> Option<SessionToken> {
        self.tokens
            .as_ref()
            .and_then(|tokens| tokens.load(&self.host, self.port, name))
    }

    /// Forgets the token kept for `name` when `outcome` says it signs nobody in any more.
    fn forget_ended(&self, name: &str, outcome: &Result<Session, ClientError>) {
        if let (
            Err(ClientError::Refused {
                kind: ErrorKind::SessionEnded,
                ..
            }),
            Some(tokens),
        ) = (outcome, &self.tokens)
        {
            let _ = tokens.remove(&self.host, self.port, name);
        }
    }

    /// Connects, makes an account for `name` and signs in with it on `device`.
    pub async fn register(
        &self,
        name: &str,
        password: Secret,
        device: &str,
    ) -> Result<Session, ClientError> {
        let frame = ClientFrame::Register {
            version: PROTOCOL_VERSION,
            username: name.to_owned(),
            server_password: self.server_password(),
            password,
            device: device.to_owned(),
        };
        self.handshake(name, &frame).await
    }

    /// The server password to send, if one was given.
    fn server_password(&self) -> Option<String> {
        self.password.as_ref().map(|p| p.0.clone())
    }

    /// Connects and sends `opening` (`Hello`, `SignIn` or `Register`) as `name`.
    async fn handshake(&self, name: &str, opening: &ClientFrame) -> Result<Session, ClientError> {
        validate::username(name).map_err(|source| ClientError::BadName {
            name: name.to_owned(),
            source,
        })?;
        let addr = self.addr();
        let deadline = Instant::now() + self.timeout;
        let timed_out = || ClientError::Timeout {
            addr: addr.clone(),
            waited: self.timeout,
        };
        let tcp = timeout_at(
            deadline,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|source| ClientError::Connect {
            addr: addr.clone(),
            source,
        })?;
        // Chat lines are small and should leave at once.
        let _ = tcp.set_nodelay(true);
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some(tls) => timeout_at(deadline, tls.connect(&self.host, tcp))
                .await
                .map_err(|_| timed_out())?
                .map_err(|source| ClientError::Tls {
                    addr: addr.clone(),
                    source,
                })?,
        };
        let mut session = Session::new(
            ClientConnection::new(stream, codec::CLIENT_MAX_FRAME),
            addr,
            name,
            self.max_body,
            self.timeout,
            self.keepalive,
        );
        session.register(opening).await?;
        Ok(session)
    }
}
