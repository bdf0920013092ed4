//! Flags, then `config.ini`, then built-in defaults, resolved into one [`Config`].
//!
//! Reading the file and the `[server]` keys is `chat_proto::config`'s job (the client reads the
//! same file the same way); this module adds the server's own keys and the flag overrides.
//! Every key read here is documented in the shipped `config.ini`.

use std::path::PathBuf;

use chat_proto::config::{ConfigError, ConfigFile, ServerSection};

use crate::cli::Cli;

/// `[limits] send_queue` when the file does not set it.
///
/// Counted in frames. 1024 frames cover a burst from every other person in a busy room while
/// a healthy client's writer catches up, yet cap what a reader that stopped reading can hold:
/// at most 1024 shared frames (each a reference to a buffer already sent to everyone else).
pub const DEFAULT_SEND_QUEUE: usize = 1024;

/// The keys of `[limits]` the server reads.
pub const LIMITS_KEYS: &[&str] = &["send_queue"];

/// Sections of the shared `config.ini` that belong to other programs (the client): not
/// warned about, not read.
pub const FOREIGN_SECTIONS: &[&str] = &["client"];

/// Everything the server needs to run, after flags and file are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Name or address to listen on; a name may resolve to several addresses (see
    /// [`crate::server::bind`]).
    pub host: String,
    /// Port to listen on; 0 lets the system pick one.
    pub port: u16,
    /// Largest frame body accepted from a client; a larger length prefix ends the connection.
    pub buffsize: usize,
    /// Bound of each client's outbound queue, in frames; a client whose queue is full when a
    /// frame arrives for it is a slow consumer and is removed.
    pub send_queue: usize,
    /// The file the settings came from, `None` for the built-in defaults; logged at start-up.
    pub source: Option<PathBuf>,
}

/// A resolved [`Config`] and what the file had that the server does not know.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The settings to run with.
    pub config: Config,
    /// `"[section] key"` entries nobody reads, to be logged as warnings once logging is up:
    /// a typo should be seen, but must not stop the server.
    pub unknown: Vec<String>,
}

impl Config {
    /// Resolves `cli` over the file it names (or `./config.ini`, or the defaults).
    pub fn resolve(cli: &Cli) -> Result<Resolved, ConfigError> {
        Config::resolve_over(cli, &ConfigFile::locate(cli.config.as_deref())?)
    }

    /// Resolves `cli` over an already loaded `file`.
    pub fn resolve_over(cli: &Cli, file: &ConfigFile) -> Result<Resolved, ConfigError> {
        let mut config = Config::from_file(file)?;
        if let Some(host) = &cli.host {
            config.host.clone_from(host);
        }
        if let Some(port) = cli.port {
            config.port = port;
        }
        let mut known = vec![("server", ServerSection::KEYS), ("limits", LIMITS_KEYS)];
        known.extend(FOREIGN_SECTIONS.iter().map(|s| (*s, &[][..])));
        let unknown = file
            .unknown_keys(&known)
            .into_iter()
            .filter(|entry| {
                !FOREIGN_SECTIONS
                    .iter()
                    .any(|s| entry.starts_with(&format!("[{s}]")))
            })
            .collect();
        Ok(Resolved { config, unknown })
    }

    /// Reads every key the server uses from `file`, with defaults for absent keys.
    pub fn from_file(file: &ConfigFile) -> Result<Config, ConfigError> {
        let server = ServerSection::from_file(file)?;
        let send_queue = file.get(
            "limits",
            "send_queue",
            DEFAULT_SEND_QUEUE,
            "a number of frames (1 to 1000000)",
            |n| (1..=1_000_000).contains(n),
        )?;
        Ok(Config {
            host: server.host,
            port: server.port,
            buffsize: server.buffsize,
            send_queue,
            source: file.path().map(ToOwned::to_owned),
        })
    }
}

impl Default for Config {
    /// The built-in defaults, equal to the shipped `config.ini`.
    fn default() -> Self {
        let server = ServerSection::default();
        Config {
            host: server.host,
            port: server.port,
            buffsize: server.buffsize,
            send_queue: DEFAULT_SEND_QUEUE,
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;

    fn parse(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("test.ini"), text).unwrap()
    }

    #[test]
    fn the_shipped_file_equals_the_built_in_defaults() {
        let shipped =
            ConfigFile::parse(Path::new("config.ini"), include_str!("../../config.ini")).unwrap();
        let config = Config::from_file(&shipped).unwrap();
        assert_eq!(
            Config {
                source: None,
                ..config
            },
            Config::default()
        );
        let cli = Cli::try_parse_from(["chat-server"]).unwrap();
        let unknown = Config::resolve_over(&cli, &shipped).unwrap().unknown;
        assert!(
            unknown.is_empty(),
            "keys the server does not read: {unknown:?}"
        );
    }

    #[test]
    fn a_bad_limit_names_its_section_key_and_expectation() {
        let err = Config::from_file(&parse("[limits]\nsend_queue = 0\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.ini: [limits] send_queue = \"0\": expected a number of frames (1 to 1000000)"
        );
    }

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::try_parse_from(["chat-server", "--port", "0"]).unwrap();
        let file = parse("[server]\nhost = 127.0.0.1\nport = 7000\nprot = 1\n[limits]\nsend_queue = 8\n[client]\nname = ann\n");
        let resolved = Config::resolve_over(&cli, &file).unwrap();
        let config = resolved.config;
        assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 0));
        assert_eq!(config.send_queue, 8);
        assert_eq!(resolved.unknown, vec!["[server] prot".to_owned()]);
    }
}
