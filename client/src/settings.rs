//! The flags every subcommand shares ([`Args`]), `config.ini` and the environment,
//! resolved into one [`Settings`]. Composing the command line is [`crate::cli`]'s; each
//! subcommand's own flags are its own, in [`crate::cmd`].
//!
//! Each value comes from the first of: its flag, then `[server]` in the config file (found
//! the same way the server finds it: `--config PATH`, else `./config.ini`, else built-in
//! defaults), then the built-in default. The name comes from `--name`, else `CHAT_NAME`
//! (clap reads it), else the login name (`USER`, then `LOGNAME`). TLS is on with `--tls`,
//! `--ca FILE`, `[client] tls = true` or `[client] ca = FILE`; a CA file (flag first) means
//! trusting that CA only, otherwise the system's CAs are trusted.

use std::path::PathBuf;
use std::time::Duration;

use chat_proto::config::{ConfigError, ConfigFile, ServerSection};
use chat_proto::validate::{self, NameError};

use crate::client::{Client, Password};
use crate::tokens::Tokens;
use crate::transport::{Tls, TrustError};

/// Where the server is, who we are, and how to log.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read [server] host, port and buffsize from this file [default: ./config.ini when it
    /// exists, else built-in defaults: localhost, 6969, 1024]
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Server host name or address [default: [server] host]
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Server port [default: [server] port]
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// Name to chat under [default: your login name]
    #[arg(long, env = "CHAT_NAME", global = true)]
    pub name: Option<String>,
    /// Connect over TLS, trusting the CAs this system trusts [default: [client] tls in the
    /// config file, else off]
    #[arg(long, global = true)]
    pub tls: bool,
    /// Connect over TLS, trusting only the CA certificate(s) in this PEM file: for a server
    /// whose certificate comes from a private CA [default: [client] ca]
    #[arg(long, value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,
    /// The server's password, for a server with [server] password (prefer CHAT_PASSWORD:
    /// other users can see command lines)
    #[arg(long, env = "CHAT_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// Seconds to wait for the server to connect or to answer
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds, global = true)]
    pub timeout: Duration,
    /// Log filter: error, warn, info, debug, trace, or RUST_LOG syntax [default: $RUST_LOG,
    /// else warn]
    #[arg(long, value_name = "FILTER", global = true)]
    pub log_level: Option<String>,
    /// Append logs to this file instead of stderr (the repl logs nothing without it)
    #[arg(long, value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,
}

/// Everything a subcommand needs to reach the server, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Host to connect to.
    pub host: String,
    /// Port to connect to.
    pub port: u16,
    /// The server's `buffsize`: the largest message body it accepts.
    pub buffsize: usize,
    /// How long to wait for the server.
    pub timeout: Duration,
    /// The name to register, already checked against the server's rules.
    pub name: String,
    /// `--log-level`, if given.
    pub log_level: Option<String>,
    /// `--log-file`, if given.
    pub log_file: Option<PathBuf>,
    /// `Some`: connect over TLS, trusting these CAs.
    pub tls: Option<Tls>,
    /// `--password` or `CHAT_PASSWORD`, for a server with `[server] password`.
    pub password: Option<Password>,
}

/// Why the settings cannot be used. These are the user's to fix before running again, so
/// `chat-client` exits 2 for them, as for a bad flag.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file is missing (when named) or has a bad value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No `--name`, no `CHAT_NAME` and no login name.
    #[error("no name to chat under: pass --name NAME or set CHAT_NAME")]
    NoName,
    /// A name the server would refuse.
    #[error("cannot chat as {name:?} (from {origin}); pass another with --name NAME or CHAT_NAME")]
    BadName {
        /// The name found.
        name: String,
        /// Where it came from: `--name or CHAT_NAME`, `USER`, `LOGNAME`.
        origin: &'static str,
        /// The rule it breaks.
        #[source]
        source: NameError,
    },
    /// The `--ca` file cannot be used.
    #[error(transparent)]
    Ca(#[from] TrustError),
}

impl Settings {
    /// Resolves `args` against the config file and the process environment.
    pub fn resolve(args: &Args) -> Result<Settings, SettingsError> {
        Settings::resolve_with(args, |key| std::env::var(key).ok())
    }

    /// [`Settings::resolve`] with the environment given as a lookup function, for tests.
    pub fn resolve_with(
        args: &Args,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let file = ConfigFile::locate(args.config.as_deref())?;
        let server = ServerSection::from_file(&file)?;
        Ok(Settings {
            host: args.host.clone().unwrap_or(server.host),
            port: args.port.unwrap_or(server.port),
            buffsize: server.buffsize,
            timeout: args.timeout,
            name: resolve_name(args.name.as_deref(), env)?,
            log_level: args.log_level.clone(),
            log_file: args.log_file.clone(),
            tls: resolve_tls(args, &file)?,
            password: args.password.clone().map(Password),
        })
    }

    /// A [`Client`] for the configured server with its limits.
    pub fn client(&self) -> Client {
        let client = Client::new(self.host.clone(), self.port)
            .with_max_body(self.buffsize)
            .with_timeout(self.timeout)
            .with_password(self.password.clone())
            .with_tokens(Tokens::locate());
        match &self.tls {
            Some(tls) => client.with_tls(tls.clone()),
            None => client,
        }
    }
}

/// TLS from `--ca`, then `[client] ca`, then `--tls` or `[client] tls` (system CAs).
fn resolve_tls(args: &Args, file: &ConfigFile) -> Result<Option<Tls>, SettingsError> {
    if let Some(ca) = &args.ca {
        return Ok(Some(Tls::with_ca(ca)?));
    }
    if let Some(ca) = file.file_path("client", "ca") {
        return Tls::with_ca(&ca)
            .map(Some)
            .map_err(|e| file.file_error("client", "ca", e).into());
    }
    let on = args.tls || file.get("client", "tls", false, "true or false", |_| true)?;
    Ok(on.then(Tls::system_roots))
}

fn resolve_name(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, SettingsError> {
    let (name, origin) = match flag {
        Some(name) => (name.to_owned(), "--name or CHAT_NAME"),
        None => ["USER", "LOGNAME"]
            .into_iter()
            .find_map(|key| env(key).filter(|v| !v.is_empty()).map(|v| (v, key)))
            .ok_or(SettingsError::NoName)?,
    };
    validate::username(&name).map_err(|source| SettingsError::BadName {
        name: name.clone(),
        origin,
        source,
    })?;
    Ok(name)
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_name_falls_back_from_flag_to_login_name() {
        assert_eq!(
            resolve_name(Some("ann"), env(&[("USER", "bob")])).unwrap(),
            "ann"
        );
        assert_eq!(resolve_name(None, env(&[("USER", "bob")])).unwrap(), "bob");
        assert_eq!(
            resolve_name(None, env(&[("USER", ""), ("LOGNAME", "carol")])).unwrap(),
            "carol"
        );
        assert!(matches!(
            resolve_name(None, env(&[])),
            Err(SettingsError::NoName)
        ));
    }

    #[test]
    fn an_unusable_login_name_says_where_it_came_from_and_what_to_do() {
        let err = resolve_name(None, env(&[("USER", "ann smith")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"ann smith\" (from USER)"), "{text}");
        assert!(text.contains("--name"), "{text}");
    }
}
