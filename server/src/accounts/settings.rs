//! `[accounts]`: who may make an account, whether guests may come in, and how long an
//! unused device session lasts; read beside the accounts it configures, as `[store]` is.

use std::str::FromStr;
use std::time::Duration;

use chat_proto::config::{ConfigError, ConfigFile};

use crate::log::settings::MaxAge;

/// `[accounts] session_max_age` when the file does not set it: 90 days, the span after
/// which the common sites ask a device that has not been used to sign in again.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(90 * 86_400);

/// The keys of `[accounts]` the server reads.
pub const ACCOUNTS_KEYS: &[&str] = &["registration", "guests", "session_max_age"];

/// `[accounts] registration`: who makes accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// `open`: anyone, for a free name (`chat-client register`).
    #[default]
    Open,
    /// `closed`: only the operator (`chat-server account add NAME`), for a community whose
    /// members are known.
    Closed,
}

impl FromStr for Registration {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text.to_ascii_lowercase().as_str() {
            "open" => Ok(Registration::Open),
            "closed" => Ok(Registration::Closed),
            _ => Err(()),
        }
    }
}

/// `[accounts] guests`: `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Switch(bool);

impl FromStr for Switch {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text.to_ascii_lowercase().as_str() {
            "on" => Ok(Switch(true)),
            "off" => Ok(Switch(false)),
            _ => Err(()),
        }
    }
}

/// `[accounts]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountsConfig {
    /// Who makes accounts.
    pub registration: Registration,
    /// Whether a `Hello` without an account gets in (under a name no account has).
    pub guests: bool,
    /// How long a device session lasts unused: a token presented later signs nobody in.
    pub session_max_age: Duration,
}

impl Default for AccountsConfig {
    /// The built-in defaults, equal to the shipped `config.ini`.
    fn default() -> Self {
        AccountsConfig {
            registration: Registration::Open,
            guests: true,
            session_max_age: DEFAULT_SESSION_MAX_AGE,
        }
    }
}

impl AccountsConfig {
    /// Reads `[accounts]`.
    pub fn from_file(file: &ConfigFile) -> Result<AccountsConfig, ConfigError> {
        let registration = file.get(
            "accounts",
            "registration",
            Registration::Open,
            "open (anyone registers a free name) or closed (only the operator)",
            |_| true,
        )?;
        let Switch(guests) = file.get(
            "accounts",
            "guests",
            Switch(true),
            "on (names without an account may chat) or off (accounts only)",
            |_| true,
        )?;
        let MaxAge(max_age) = file.get(
            "accounts",
            "session_max_age",
            MaxAge(Some(DEFAULT_SESSION_MAX_AGE)),
            "a duration with a unit (3600s, 90m, 12h, 90d; at most 36500d)",
            |MaxAge(age)| age.is_some(),
        )?;
        Ok(AccountsConfig {
            registration,
            guests,
            session_max_age: max_age.unwrap_or(DEFAULT_SESSION_MAX_AGE),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<AccountsConfig, ConfigError> {
        AccountsConfig::from_file(&ConfigFile::parse(Path::new("t.ini"), text).unwrap())
    }

    #[test]
    fn accounts_settings_read_and_refuse_nonsense() {
        assert_eq!(parse("").unwrap(), AccountsConfig::default());
        let closed =
            parse("[accounts]\nregistration = Closed\nguests = off\nsession_max_age = 12h\n")
                .unwrap();
        assert_eq!(
            closed,
            AccountsConfig {
                registration: Registration::Closed,
                guests: false,
                session_max_age: Duration::from_secs(12 * 3_600),
            }
        );
        for bad in [
            "registration = maybe",
            "guests = yes",
            "session_max_age = off",
            "session_max_age = 90",
        ] {
            let err = parse(&format!("[accounts]\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("[accounts]"), "{bad}: {err}");
        }
    }
}
