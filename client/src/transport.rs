//! How the bytes reach the server: plain TCP, or TLS over it.
//!
//! [`Stream`] is what a [`crate::Session`] talks through; everything above it is the same for
//! both. [`Tls`] says which certificates a TLS client trusts: by default the system's trusted
//! CAs (read with `rustls-native-certs`, so a CA that an administrator installed counts, and
//! updates come with the system), or exactly one private CA given with `--ca`.

use std::fmt;
use std::io::{self, IoSlice};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chat_proto::tls::{read_certificates, PemError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Why the trusted certificates could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The CA file is missing or holds no certificate.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// A certificate in the CA file is not one rustls can use as a trust anchor.
    #[error("{}: not a usable CA certificate: {source}", path.display())]
    BadCa {
        /// The CA file.
        path: std::path::PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// The certificates a TLS client trusts, ready to connect.
#[derive(Clone)]
pub struct Tls {
    /// Makes the handshakes; cheap to clone (an `Arc` inside).
    connector: TlsConnector,
    /// Where the roots came from, for `Debug`.
    roots: String,
}

impl Tls {
    /// Trusts the certificate authorities the system trusts.
    ///
    /// Unreadable entries in the system store are skipped; if none can be read, every
    /// handshake fails with an unknown-issuer error, whose hint points at `--ca`.
    pub fn system_roots() -> Tls {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        Tls::with_roots(roots, format!("{added} system CAs"))
    }

    /// Trusts only the CA certificates in the PEM file at `path`: for a server whose
    /// certificate comes from a private CA.
    pub fn with_ca(path: &Path) -> Result<Tls, TrustError> {
        let mut roots = RootCertStore::empty();
        for cert in read_certificates(path)? {
            roots.add(cert).map_err(|source| TrustError::BadCa {
                path: path.to_owned(),
                source,
            })?;
        }
        Ok(Tls::with_roots(roots, path.display().to_string()))
    }

    fn with_roots(roots: RootCertStore, from: String) -> Tls {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            connector: TlsConnector::from(Arc::new(config)),
            roots: from,
        }
    }

    /// Makes the TLS handshake over `tcp`, checking that the server's certificate is
    /// signed by a trusted CA and names `host` (a DNS name or an IP address).
    pub async fn connect(&self, host: &str, tcp: TcpStream) -> io::Result<Stream> {
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host:?} is not a host name or IP address a certificate can name"),
            )
        })?;
        let stream = self.connector.connect(name, tcp).await?;
        Ok(Stream::Tls(Box::new(stream)))
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("roots", &self.roots).finish()
    }
}

/// Whether a TLS failure is the server's certificate not being trusted (as opposed to,
/// say, a server that does not speak TLS at all).
pub fn is_untrusted_certificate(err: &io::Error) -> bool {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        })
}

/// A connection to the server, plain or TLS.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: the TLS state is large, and a plain stream should not pay for it).
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
