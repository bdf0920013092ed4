//! PEM files for TLS: the certificate chain and key a server presents, and the CA
//! certificates a client trusts.
//!
//! Both binaries read these the same way, so the rules (and the error a person sees for a
//! wrong file) are written once. Errors name the file, since the person reading them is about
//! to open it. Building the rustls configurations is left to each side.

use std::io;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
pub use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A PEM file that cannot be used, and which one.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct PemError {
    /// The file, as named in the settings.
    pub path: PathBuf,
    /// What is wrong with it.
    #[source]
    pub problem: PemProblem,
}

/// What is wrong with a PEM file.
#[derive(Debug, thiserror::Error)]
pub enum PemProblem {
    /// The file could not be read (most often: it does not exist).
    #[error("cannot read: {0}")]
    Read(#[source] io::Error),
    /// The file is readable but holds no section of the kind needed.
    #[error("no PEM {0} in it")]
    Missing(&'static str),
    /// A section is cut off or its base64 is broken.
    #[error("not valid PEM: {0}")]
    Malformed(#[source] pem::Error),
}

/// Every certificate in the PEM file at `path`, in file order (a server's chain: its own
/// certificate first, then the intermediates); at least one.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(PemError {
            path: path.to_owned(),
            problem: PemProblem::Missing("CERTIFICATE"),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in the PEM file at `path`.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => PemError {
            path: path.to_owned(),
            problem: PemProblem::Missing("PRIVATE KEY"),
        },
        e => pem_error(path, e),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|e| PemError {
        path: path.to_owned(),
        problem: PemProblem::Read(e),
    })
}

fn pem_error(path: &Path, e: pem::Error) -> PemError {
    PemError {
        path: path.to_owned(),
        problem: PemProblem::Malformed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch file holding `text`, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str, text: &str) -> Scratch {
            let path =
                std::env::temp_dir().join(format!("chat-proto-{}-{name}", std::process::id()));
            std::fs::write(&path, text).unwrap();
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A PEM section with a body that is valid base64 (the DER inside is not checked here).
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";

    #[test]
    fn certificates_come_back_in_file_order() {
        let two = Scratch::new(
            "two.pem",
            &format!("{CERT}-----BEGIN CERTIFICATE-----\nAwQF\n-----END CERTIFICATE-----\n"),
        );
        let certs = read_certificates(&two.0).unwrap();
        let bytes: Vec<&[u8]> = certs.iter().map(|c| c.as_ref()).collect();
        assert_eq!(bytes, [&[0, 1, 2][..], &[3, 4, 5][..]]);
    }

    #[test]
    fn each_unusable_file_is_named_with_its_problem() {
        let missing = Path::new("no/such/cert.pem");
        let err = read_certificates(missing).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no/such/cert.pem: cannot read: "),
            "{err}"
        );

        let key_only = Scratch::new(
            "key-only.pem",
            "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n",
        );
        let err = read_certificates(&key_only.0).unwrap_err();
        assert!(
            matches!(err.problem, PemProblem::Missing("CERTIFICATE")),
            "{err}"
        );
        assert!(read_private_key(&key_only.0).is_ok());

        let cert_only = Scratch::new("cert-only.pem", CERT);
        let err = read_private_key(&cert_only.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: no PEM PRIVATE KEY in it", cert_only.0.display())
        );

        let cut = Scratch::new("cut.pem", "-----BEGIN CERTIFICATE-----\nAAEC\n");
        let err = read_certificates(&cut.0).unwrap_err();
        assert!(matches!(err.problem, PemProblem::Malformed(_)), "{err}");
    }
}
