//! Where `chat-client` keeps the device session tokens it signed in with: one file per
//! server and account in the user's config directory (`$XDG_CONFIG_HOME/chat/sessions/`,
//! else `~/.config/chat/sessions/`), readable by the user only.
//!
//! A token is as good as the password until it is revoked, so the directory is made 0700
//! and each file 0600, written whole to a temporary file and renamed into place. The file
//! holds the 64 hex digits and a newline, nothing else: no password is ever written.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chat_proto::validate::name_key;
use chat_proto::SessionToken;

/// The token files of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The directory of the files.
    dir: PathBuf,
}

impl Tokens {
    /// The user's token files, in the XDG config directory; `None` when the system names no
    /// home directory (then nothing is kept, and every connection is a guest's or signs in
    /// with its password).
    pub fn locate() -> Option<Tokens> {
        let dirs = directories::ProjectDirs::from("", "", "chat")?;
        Some(Tokens::at(dirs.config_dir().join("sessions")))
    }

    /// The token files in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Tokens {
        Tokens { dir: dir.into() }
    }

    /// The file of `name`'s token on `host:port`: names are safe as they are (letters,
    /// digits, `_-.`), a host's other characters (an IPv6 address's `:`) become `_`.
    pub fn path(&self, host: &str, port: u16, name: &str) -> PathBuf {
        let host: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{host}_{port}_{}", name_key(name)))
    }

    /// The token kept for `name` on `host:port`, if there is a readable one.
    pub fn load(&self, host: &str, port: u16, name: &str) -> Option<SessionToken> {
        let text = fs::read_to_string(self.path(host, port, name)).ok()?;
        SessionToken::from_hex(text.trim())
    }

    /// Keeps `token` for `name` on `host:port`, readable by the user only.
    pub fn save(
        &self,
        host: &str,
        port: u16,
        name: &str,
        token: &SessionToken,
    ) -> io::Result<PathBuf> {
        private_dir(&self.dir)?;
        let path = self.path(host, port, name);
        // The whole name with a suffix: `with_extension` would cut at the host's dots, and
        // every account of one host would share one temporary file.
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        {
            let mut file = private_file(&partial)?;
            writeln!(file, "{}", token.to_hex())?;
            file.sync_all()?;
        }
        fs::rename(&partial, &path)?;
        Ok(path)
    }

    /// Forgets the token of `name` on `host:port`; whether there was one.
    pub fn remove(&self, host: &str, port: u16, name: &str) -> io::Result<bool> {
        match fs::remove_file(self.path(host, port, name)) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// Makes `dir` (and its parents) if needed, the last one readable by the user only.
fn private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates (or empties) `path`, readable and writable by the user only from the start.
fn private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_per_server_and_name_for_the_user_only() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = Tokens::at(dir.path().join("chat/sessions"));
        let token = SessionToken::from_bytes([7; 32]);
        assert_eq!(tokens.load("localhost", 6969, "Ann"), None);
        let path = tokens.save("localhost", 6969, "Ann", &token).unwrap();
        assert_eq!(tokens.load("localhost", 6969, "ann"), Some(token.clone()));
        assert_eq!(tokens.load("localhost", 6970, "ann"), None, "per server");
        assert_eq!(tokens.load("localhost", 6969, "bob"), None, "per name");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("chat/sessions")), 0o700);
        }
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n", token.to_hex())
        );
        assert!(tokens.remove("localhost", 6969, "ANN").unwrap());
        assert!(!tokens.remove("localhost", 6969, "ann").unwrap());
        assert_eq!(tokens.load("localhost", 6969, "ann"), None);
        let v6 = tokens.path("::1", 6969, "ann");
        assert_eq!(v6.file_name().unwrap(), "__1_6969_ann");
    }
}
