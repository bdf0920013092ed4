//! TLS on the listener: the `[tls]` certificate and key, and the handshake each connection
//! makes before it is served.
//!
//! The handshake runs in the connection's own task (see [`crate::server`]), never in the
//! accept loop, so a peer that is slow to shake hands, or never does, holds up nobody, and it
//! is bounded by the handshake timeout. After it, the TLS stream is split with
//! `tokio::io::split` and served by exactly the code that serves plain TCP: nothing above the
//! stream knows which one it has.
//!
//! rustls with the `ring` provider, named explicitly, so that another crate in the build
//! enabling a second provider cannot make the choice ambiguous at run time.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chat_proto::config::{ConfigError, ConfigFile};
use chat_proto::tls::{read_certificates, read_private_key, PemError};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// The keys of the `[tls]` section.
pub const TLS_KEYS: &[&str] = &["cert", "key"];

/// How long a TLS handshake may take when no handshake timeout is configured: a handshake
/// is a few round trips, and an unbounded one would let idle sockets pile up.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an admitted connection's TLS handshake may take under `handshake_timeout`
/// (`None`: off), on the chat port and the web port alike.
pub fn handshake_limit(handshake_timeout: Option<Duration>) -> Duration {
    handshake_timeout.unwrap_or(DEFAULT_TLS_HANDSHAKE_TIMEOUT)
}

/// Why the certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is missing or holds no certificate.
    #[error(transparent)]
    Cert(PemError),
    /// The key file is missing or holds no private key.
    #[error(transparent)]
    Key(PemError),
    /// rustls refused the pair: most often the key does not belong to the certificate, or
    /// is of a kind it does not support.
    #[error("{}: not usable with {}: {source}", key.display(), cert.display())]
    Rejected {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// A certificate chain and its private key, loaded and ready to accept connections.
///
/// Two are equal when they were loaded from the same files.
#[derive(Clone)]
pub struct Tls {
    /// The `[tls] cert` file: the server's certificate, then any intermediates.
    cert: PathBuf,
    /// The `[tls] key` file.
    key: PathBuf,
    /// Accepts connections with that certificate; cheap to clone (an `Arc` inside).
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Loads the chain from `cert` and the key from `key` (both PEM) and checks that they
    /// belong together.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let chain = read_certificates(cert).map_err(TlsError::Cert)?;
        let private_key = read_private_key(key).map_err(TlsError::Key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let rejected = |source| TlsError::Rejected {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        };
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(rejected)?;
        Ok(Tls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Reads `[tls] cert` and `[tls] key` from `file` and loads them; `None` when neither
    /// is set (plain TCP). Setting only one of them is an error, not a silent plain server.
    pub fn from_file(file: &ConfigFile) -> Result<Option<Tls>, ConfigError> {
        let (cert, key) = match (file.file_path("tls", "cert"), file.file_path("tls", "key")) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            (cert, _) => {
                let missing = if cert.is_none() { "cert" } else { "key" };
                return Err(file.file_error(
                    "tls",
                    missing,
                    "missing: [tls] cert and [tls] key are set together or not at all",
                ));
            }
        };
        Tls::load(&cert, &key).map(Some).map_err(|err| {
            let culprit = match &err {
                TlsError::Cert(_) => "cert",
                TlsError::Key(_) | TlsError::Rejected { .. } => "key",
            };
            file.file_error("tls", culprit, err)
        })
    }

    /// The certificate chain file it was loaded from.
    pub fn cert(&self) -> &Path {
        &self.cert
    }

    /// Makes the TLS handshake on a freshly accepted socket, within `limit` and unless the
    /// server stops first.
    ///
    /// `None` when there is nothing to serve: the handshake failed (a plain-TCP client, an
    /// untrusted certificate on the peer's side, garbage), timed out, or was cut short by
    /// shutdown. Each is logged with the peer's address.
    pub async fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        limit: Duration,
        shutdown: &CancellationToken,
    ) -> Option<TlsStream<TcpStream>> {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => {
                tracing::info!(%peer, "Connection closed during the TLS handshake: server shutting down");
                return None;
            }
            outcome = tokio::time::timeout(limit, self.acceptor.accept(stream)) => outcome,
        };
        match outcome {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(err)) => {
                tracing::warn!(%peer, "TLS handshake failed: {err}");
                None
            }
            Err(_) => {
                tracing::warn!(%peer, "TLS handshake not finished within {limit:?}; closing");
                None
            }
        }
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Tls {
    fn eq(&self, other: &Tls) -> bool {
        (&self.cert, &self.key) == (&other.cert, &other.key)
    }
}

impl Eq for Tls {}
