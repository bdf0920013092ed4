//! `--tls` and `--ca`: the real client reaches a real chat-server whose `[tls]` certificate
//! comes from a private CA made at run time, and says clearly when it cannot trust it.

mod common;

use std::path::{Path, PathBuf};

use common::{chat_lines, listener, Server};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A private CA and a server certificate for 127.0.0.1 it signed, as PEM files.
struct Pki {
    /// Holds the files; removed when dropped.
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let issue = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
        };
        let ca = issue("chat test CA");
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", issue("some other CA").pem());
        write("cert.pem", cert.pem());
        write("key.pem", key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server on 127.0.0.1 serving TLS with this certificate, `extra` appended to its
    /// config.ini (which the clients read too).
    fn server(&self, extra: &str) -> Server {
        let config = format!(
            "[server]\nhost = 127.0.0.1\nport = 0\n[tls]\ncert = {}\nkey = {}\n{extra}",
            self.path("cert.pem").display(),
            self.path("key.pem").display(),
        );
        Server::start_with(&config, 0)
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn send_with_the_servers_ca_reaches_a_tls_listener() {
    let pki = Pki::new();
    let server = pki.server("");
    let ca = pki.path("ca.pem");
    let bob = listener(&server, "bob", &["--count", "1", "--ca", arg(&ca)]);
    let out = server
        .chat("alice", &["--tls", "--ca", arg(&ca), "send", "hi"])
        .expect_code(0);
    assert_eq!(out.stderr, "", "{out:#?}");
    let seen = bob.finish().expect_code(0);
    assert_eq!(chat_lines(&seen.stdout), ["#lobby alice: hi"]);
}

#[test]
fn tls_without_the_right_ca_fails_with_exit_1_and_says_what_to_do() {
    let pki = Pki::new();
    let server = pki.server("");
    let untrusted = format!(
        "error: TLS handshake with 127.0.0.1:{} failed: invalid peer certificate: ",
        server.port
    );
    let other_ca = pki.path("other-ca.pem");
    for args in [&["--tls"][..], &["--tls", "--ca", arg(&other_ca)]] {
        let out = server
            .chat("alice", &[args, &["send", "hi"]].concat())
            .expect_code(1)
            .expect_one_error_line();
        assert!(out.stderr.starts_with(&untrusted), "{args:?}: {out:#?}");
        assert!(out.stderr.contains("pass --ca FILE"), "{args:?}: {out:#?}");
    }
    // Without --tls, the server's TLS records are not chat frames.
    let out = server
        .chat("alice", &["send", "hi"])
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("--tls"), "{out:#?}");
    // A CA file that is not there is a usage error naming it.
    let out = server
        .chat("alice", &["--ca", "nowhere.pem", "send", "hi"])
        .expect_code(2)
        .expect_one_error_line();
    assert!(
        out.stderr.starts_with("error: nowhere.pem: cannot read: "),
        "{out:#?}"
    );
}

/// `[client] ca` in the config file turns TLS on with that CA; a relative path is found
/// beside the config file.
#[test]
fn the_config_files_client_section_turns_tls_on() {
    let pki = Pki::new();
    let server = pki.server("[client]\nca = trusted/ca.pem\n");
    std::fs::create_dir(server.dir().join("trusted")).unwrap();
    std::fs::copy(pki.path("ca.pem"), server.dir().join("trusted/ca.pem")).unwrap();
    let bob = listener(&server, "bob", &["--count", "1"]);
    server.chat("alice", &["send", "hi"]).expect_code(0);
    let seen = bob.finish().expect_code(0);
    assert_eq!(chat_lines(&seen.stdout), ["#lobby alice: hi"]);
}
