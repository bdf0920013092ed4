//! TLS for the tests: a private CA, a server certificate for `localhost` and 127.0.0.1 it
//! signed, and clients that trust only that CA.

use std::path::PathBuf;
use std::sync::Arc;

use chat_proto::ServerFrame;
use chat_server::tls::Tls;
use chat_server::Config;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::{scratch_dir, test_config, TestClient, TestServer, LOBBY, TIMEOUT};

/// A private CA and a server certificate it signed, as PEM files in a scratch directory.
pub struct Pki {
    /// The CA certificate, as a client would be given it.
    pub ca: CertificateDer<'static>,
    /// The server's certificate (for `localhost` and 127.0.0.1).
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// Where the files are, for more files a test needs.
    pub dir: PathBuf,
    /// The CA, which signs renewals.
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The certificate in the files now.
    pub served: CertificateDer<'static>,
}

impl Pki {
    /// A new CA and a certificate it signed, in the scratch directory of `test`.
    pub fn new(test: &str) -> Pki {
        let dir = scratch_dir(test);
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "chat test CA");
        let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let mut pki = Pki {
            ca: issuer.der().clone(),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
            issuer,
            served: CertificateDer::from(Vec::new()),
        };
        pki.renew();
        pki
    }

    /// A new certificate for the same names and a new key, signed by the same CA, written
    /// over the server's files as a renewal would be; its DER is [`Pki::served`] from then.
    pub fn renew(&mut self) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        std::fs::write(&self.cert, cert.pem()).unwrap();
        std::fs::write(&self.key, key.serialize_pem()).unwrap();
        self.served = cert.der().clone();
        self.served.clone()
    }

    /// The test settings, serving TLS with this certificate.
    pub fn config(&self) -> Config {
        Config {
            tls: Some(Tls::load(&self.cert, &self.key).expect("the test certificate loads")),
            ..test_config()
        }
    }

    /// A TLS client that trusts only this CA.
    pub async fn connect(&self, server: &TestServer) -> TestClient<TlsStream<TcpStream>> {
        TestClient::over(self.tls_to(server.addr).await)
    }

    /// A TLS client of the server at `addr` that trusts only this CA.
    pub async fn connect_at(&self, addr: std::net::SocketAddr) -> TestClient<TlsStream<TcpStream>> {
        TestClient::over(self.tls_to(addr).await)
    }

    /// The certificate the server at `addr` shows a new TLS handshake now.
    pub async fn shown_at(&self, addr: std::net::SocketAddr) -> CertificateDer<'static> {
        let stream = self.tls_to(addr).await;
        let (_, session) = stream.get_ref();
        session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .expect("the server shows a certificate")
            .clone()
            .into_owned()
    }

    /// A TLS connection to `addr`, trusting only this CA.
    pub async fn tls_to(&self, addr: std::net::SocketAddr) -> TlsStream<TcpStream> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        tokio::time::timeout(
            TIMEOUT,
            TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .expect("the TLS handshake finishes in time")
        .expect("the server's certificate is trusted")
    }

    /// A TLS client registered as `name` and in `lobby`.
    pub async fn register(
        &self,
        server: &TestServer,
        name: &str,
    ) -> TestClient<TlsStream<TcpStream>> {
        let mut client = self.connect(server).await;
        match client.hello(name).await {
            ServerFrame::Welcome { username, .. } => assert_eq!(username, name),
            other => panic!("{name}: expected Welcome, got {other:?}"),
        }
        client.join(LOBBY).await;
        client
    }
}
