//! `config.ini`: finding it, reading typed values, and the `[server]` keys both binaries use.
//!
//! The lookup is the same for the server and the client: `--config PATH` when given (a
//! missing file is an error), else `./config.ini` when it exists, else built-in defaults equal
//! to the shipped `config.ini`. Each binary then applies its own flags on top.
//!
//! Errors name the file, the section, the key and what was expected, because the person
//! reading them is about to open that file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ini::Ini;

/// The file looked for in the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "config.ini";

/// `[server] host` when the file does not set it.
pub const DEFAULT_HOST: &str = "localhost";

/// `[server] port` when the file does not set it: the seed's port.
pub const DEFAULT_PORT: u16 = 6969;

/// `[server] buffsize` when the file does not set it: the seed's buffer size, now the largest
/// frame body the server accepts from a client.
pub const DEFAULT_BUFFSIZE: usize = 1024;

/// The largest `buffsize` accepted: half of [`crate::codec::CLIENT_MAX_FRAME`].
///
/// A broadcast is the sender's frame plus the sender's name and a timestamp, and it must fit
/// every client's limit; half leaves room for that with a wide margin.
pub const MAX_BUFFSIZE: usize = crate::codec::CLIENT_MAX_FRAME / 2;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (most often: it does not exist).
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid INI.
    #[error("{}: line {line}, column {col}: {msg}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        col: usize,
        /// What the parser expected.
        msg: String,
    },
    /// A key has a value the program cannot use.
    #[error("{}: [{section}] {key} = {value:?}: expected {expected}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The section, without brackets.
        section: String,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A key names a file that cannot be used (a TLS certificate, say).
    #[error("{}: [{section}] {key}: {problem}", path.display())]
    File {
        /// The config file.
        path: PathBuf,
        /// The section, without brackets.
        section: String,
        /// The key.
        key: String,
        /// What is wrong with the file it names; its message names that file.
        problem: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A loaded `config.ini`, or the built-in defaults when there is none.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// Where it came from; `None` for the built-in defaults.
    path: Option<PathBuf>,
    /// The parsed file (empty for the defaults, so every lookup falls back).
    ini: Ini,
}

impl ConfigFile {
    /// Finds and loads the configuration: `explicit` when given (it must exist), else
    /// `./config.ini` when present, else the built-in defaults.
    pub fn locate(explicit: Option<&Path>) -> Result<ConfigFile, ConfigError> {
        match explicit {
            Some(path) => ConfigFile::load(path),
            None if Path::new(DEFAULT_FILE).is_file() => ConfigFile::load(Path::new(DEFAULT_FILE)),
            None => Ok(ConfigFile::default()),
        }
    }

    /// Loads one file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Parses `text` as if read from `path` (which only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let ini = Ini::load_from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            line: e.line,
            col: e.col,
            msg: e.msg.into_owned(),
        })?;
        Ok(ConfigFile {
            path: Some(path.to_owned()),
            ini,
        })
    }

    /// The file's path, or `None` when running on built-in defaults.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The raw value of `[section] key`, if set.
    pub fn raw(&self, section: &str, key: &str) -> Option<&str> {
        self.ini.get_from(Some(section), key)
    }

    /// `[section] key` parsed as `T`, or `default` when absent.
    ///
    /// `expected` describes an acceptable value for the error message (`"a port number
    /// (0-65535)"`); `valid` can refuse values that parse but make no sense (a zero size).
    pub fn get<T>(
        &self,
        section: &str,
        key: &str,
        default: T,
        expected: &str,
        valid: impl Fn(&T) -> bool,
    ) -> Result<T, ConfigError>
    where
        T: FromStr,
    {
        let Some(raw) = self.raw(section, key) else {
            return Ok(default);
        };
        match raw.parse::<T>() {
            Ok(value) if valid(&value) => Ok(value),
            _ => Err(ConfigError::Value {
                path: self.path.clone().unwrap_or_else(|| DEFAULT_FILE.into()),
                section: section.to_owned(),
                key: key.to_owned(),
                value: raw.to_owned(),
                expected: expected.to_owned(),
            }),
        }
    }

    /// `[section] key` as a file path, if set and not empty. A relative path is taken from
    /// the directory of the config file, not the working directory, so that files kept
    /// beside `config.ini` are found however the program was started.
    pub fn file_path(&self, section: &str, key: &str) -> Option<PathBuf> {
        let raw = Path::new(self.raw(section, key).filter(|v| !v.is_empty())?);
        let dir = self.path.as_deref().and_then(Path::parent);
        Some(match dir {
            Some(dir) if raw.is_relative() => dir.join(raw),
            _ => raw.to_owned(),
        })
    }

    /// The error for a file named by `[section] key` that cannot be used.
    pub fn file_error(
        &self,
        section: &str,
        key: &str,
        problem: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> ConfigError {
        ConfigError::File {
            path: self.path.clone().unwrap_or_else(|| DEFAULT_FILE.into()),
            section: section.to_owned(),
            key: key.to_owned(),
            problem: problem.into(),
        }
    }

    /// Every `[section] key` in the file that is not in `known`, as `"[section] key"` (or
    /// `"[section]"` for a whole unknown section), for start-up warnings: a typo should be
    /// seen, not silently ignored, and not stop the server either.
    pub fn unknown_keys(&self, known: &[(&str, &[&str])]) -> Vec<String> {
        let mut unknown = Vec::new();
        for (section, props) in &self.ini {
            let name = section.unwrap_or("");
            match known.iter().find(|(s, _)| *s == name) {
                None if props.is_empty() && section.is_none() => {}
                None => unknown.push(format!("[{name}]")),
                Some((_, keys)) => unknown.extend(
                    props
                        .iter()
                        .filter(|(k, _)| !keys.contains(k))
                        .map(|(k, _)| format!("[{name}] {k}")),
                ),
            }
        }
        unknown
    }
}

/// The `[server]` section: where the server listens and clients connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSection {
    /// `host`: the name or address to bind or connect to.
    pub host: String,
    /// `port`: the TCP port; 0 lets the server pick a free one.
    pub port: u16,
    /// `buffsize`: the largest frame body the server accepts from a client.
    pub buffsize: usize,
}

impl ServerSection {
    /// The keys of `[server]` this section reads, for [`ConfigFile::unknown_keys`].
    pub const KEYS: &'static [&'static str] = &["host", "port", "buffsize"];

    /// Reads `[server]` from `file`, with the built-in defaults for absent keys.
    pub fn from_file(file: &ConfigFile) -> Result<ServerSection, ConfigError> {
        Ok(ServerSection {
            host: file.get(
                "server",
                "host",
                DEFAULT_HOST.to_owned(),
                "a host name or IP address",
                |h: &String| !h.is_empty(),
            )?,
            port: file.get(
                "server",
                "port",
                DEFAULT_PORT,
                "a port number (0-65535)",
                |_| true,
            )?,
            buffsize: file.get(
                "server",
                "buffsize",
                DEFAULT_BUFFSIZE,
                "a frame size in bytes (16 to 524288)",
                |n| (16..=MAX_BUFFSIZE).contains(n),
            )?,
        })
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            host: DEFAULT_HOST.to_owned(),
            port: DEFAULT_PORT,
            buffsize: DEFAULT_BUFFSIZE,
        }
    }
}

impl fmt::Display for ServerSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("test.ini"), text).unwrap()
    }

    #[test]
    fn the_shipped_file_equals_the_built_in_defaults() {
        let shipped =
            ConfigFile::parse(Path::new("config.ini"), include_str!("../../config.ini")).unwrap();
        assert_eq!(
            ServerSection::from_file(&shipped).unwrap(),
            ServerSection::default()
        );
        assert_eq!(
            ServerSection::from_file(&ConfigFile::default()).unwrap(),
            ServerSection::default()
        );
    }

    #[test]
    fn bad_values_name_file_section_key_and_expectation() {
        let err = ServerSection::from_file(&parse("[server]\nport = abc\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.ini: [server] port = \"abc\": expected a port number (0-65535)"
        );
        let err = ServerSection::from_file(&parse("[server]\nbuffsize = 0\n")).unwrap_err();
        assert!(
            err.to_string().contains("[server] buffsize = \"0\""),
            "{err}"
        );
    }

    #[test]
    fn a_missing_explicit_file_is_an_error_naming_it() {
        let err = ConfigFile::locate(Some(Path::new("no/such/chat.ini"))).unwrap_err();
        assert!(
            err.to_string().starts_with("no/such/chat.ini: cannot read"),
            "{err}"
        );
    }

    #[test]
    fn a_relative_file_path_is_taken_from_the_config_files_directory() {
        let file = ConfigFile::parse(
            Path::new("etc/chat/config.ini"),
            "[tls]\ncert = cert.pem\nkey = /keys/key.pem\n[client]\nca =\n",
        )
        .unwrap();
        assert_eq!(
            file.file_path("tls", "cert"),
            Some(PathBuf::from("etc/chat/cert.pem"))
        );
        assert_eq!(
            file.file_path("tls", "key"),
            Some(PathBuf::from("/keys/key.pem"))
        );
        assert_eq!(file.file_path("tls", "ca"), None);
        assert_eq!(file.file_path("client", "ca"), None, "empty is unset");
        let err = file.file_error("tls", "cert", "etc/chat/cert.pem: cannot read");
        assert_eq!(
            err.to_string(),
            "etc/chat/config.ini: [tls] cert: etc/chat/cert.pem: cannot read"
        );
    }

    #[test]
    fn unknown_keys_and_sections_are_reported() {
        let file = parse("[server]\nport = 1\nprot = 2\n[sever]\nx = 1\n");
        assert_eq!(
            file.unknown_keys(&[("server", ServerSection::KEYS)]),
            vec!["[server] prot".to_owned(), "[sever]".to_owned()]
        );
    }
}
