//! `[accounts]`: who may make an account, whether guests may come in, and how long an
//! unused device session lasts; read beside the accounts it configures, as `[store]` is.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::config::{ConfigError, ConfigFile};

use crate::log::settings::MaxAge;

/// `[accounts] session_max_age` when the file does not set it: 90 days, the span after
/// which the common sites ask a device that has not been used to sign in again.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(90 * 86_400);

/// The keys of `[accounts]` the server reads.
pub const ACCOUNTS_KEYS: &[&str] = &["registration", "guests", "session_max_age", "operators"];

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

/// `[accounts] operators`: the accounts that act on anyone on the server (disconnect a
/// person), by name as compared ([`chat_proto::validate::name_key`]). A reload changes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operators(Arc<[String]>);

impl Operators {
    /// The operators `names` (valid names, any case).
    pub fn new<S: AsRef<str>>(names: &[S]) -> Operators {
        let keys: Vec<String> = names
            .iter()
            .map(|name| chat_proto::validate::name_key(name.as_ref()))
            .collect();
        Operators(keys.into())
    }

    /// Reads `[accounts] operators`: names separated by commas or spaces, each a valid name.
    pub fn from_file(file: &ConfigFile) -> Result<Operators, ConfigError> {
        let raw: String = file.get(
            "accounts",
            "operators",
            String::new(),
            "account names separated by commas",
            |raw| names(raw).all(|name| chat_proto::validate::username(name).is_ok()),
        )?;
        Ok(Operators::new(&names(&raw).collect::<Vec<_>>()))
    }

    /// Whether the account `name` (any case) is an operator.
    pub fn contains(&self, name: &str) -> bool {
        let key = chat_proto::validate::name_key(name);
        self.0.contains(&key)
    }
}

/// The names in `raw`, separated by commas or spaces.
fn names(raw: &str) -> impl Iterator<Item = &str> {
    raw.split([',', ' '])
        .map(str::trim)
        .filter(|name| !name.is_empty())
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

    /// Operators are names separated by commas or spaces, in any case; a word that is no
    /// valid name refuses the whole list, naming the key.
    #[test]
    fn operators_are_names_in_any_case() {
        let read = |text: &str| {
            Operators::from_file(&ConfigFile::parse(Path::new("t.ini"), text).unwrap())
        };
        let operators = read("[accounts]\noperators = Boss, alice  bob\n").unwrap();
        assert!(
            operators.contains("boss") && operators.contains("ALICE") && operators.contains("bob")
        );
        assert!(!operators.contains("carol"));
        assert_eq!(read("").unwrap(), Operators::default());
        let err = read("[accounts]\noperators = boss, b@d\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[accounts] operators"), "{err}");
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
