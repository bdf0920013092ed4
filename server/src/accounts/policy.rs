//! What a new account password must be: at least [`MIN_CHARS`] characters, at most
//! [`MAX_BYTES`] bytes, not the account's own name, and not one of the most common passwords
//! (`common_passwords.txt`, refused in any case of letters). Length and rarity are what
//! resist guessing (NIST SP 800-63B); rules about kinds of characters are not asked for.

use std::collections::HashSet;
use std::sync::LazyLock;

use chat_proto::Secret;

/// The fewest characters (not bytes) a password may have.
pub const MIN_CHARS: usize = 8;

/// The most bytes a password may have: far past any passphrase, and a bound on what one
/// login makes the server hash.
pub const MAX_BYTES: usize = 1024;

/// The common passwords, lower case, one per line (`#` starts a comment).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Why a password is refused for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Weak {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("a password needs at least {MIN_CHARS} characters")]
    TooShort,
    /// More than [`MAX_BYTES`] bytes.
    #[error("a password may have at most {MAX_BYTES} bytes")]
    TooLong,
    /// One of the most common passwords.
    #[error("that password is one of the most common ones; choose another")]
    Common,
    /// The account's own name.
    #[error("a password may not be the account's name")]
    SameAsName,
}

/// Whether `password` may be the password of the account `name`.
pub fn check(name: &str, password: &Secret) -> Result<(), Weak> {
    let text = password.expose();
    if text.chars().count() < MIN_CHARS {
        return Err(Weak::TooShort);
    }
    if text.len() > MAX_BYTES {
        return Err(Weak::TooLong);
    }
    let lower = text.to_lowercase();
    if lower == name.to_lowercase() {
        return Err(Weak::SameAsName);
    }
    if COMMON.contains(lower.as_str()) {
        return Err(Weak::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(name: &str, password: &str) -> Result<(), Weak> {
        check(name, &Secret::new(password))
    }

    #[test]
    fn a_long_uncommon_password_passes() {
        assert_eq!(check_text("ann", "violet tractor at noon"), Ok(()));
        // Eight characters, counted as characters, not bytes.
        assert_eq!(check_text("ann", "ééééééé€"), Ok(()));
    }

    #[test]
    fn a_short_one_is_refused_by_its_characters() {
        assert_eq!(check_text("ann", "abc1234"), Err(Weak::TooShort));
        assert_eq!(check_text("ann", "ééééééé"), Err(Weak::TooShort));
        assert_eq!(check_text("ann", ""), Err(Weak::TooShort));
    }

    #[test]
    fn the_most_common_are_refused_in_any_case() {
        for common in ["password", "PASSWORD", "12345678", "Trustno1", "qwertyuiop"] {
            assert_eq!(check_text("ann", common), Err(Weak::Common), "{common}");
        }
    }

    #[test]
    fn the_list_holds_thousands_of_passwords_none_shorter_than_the_minimum() {
        assert!(COMMON.len() > 10_000, "{}", COMMON.len());
        assert!(COMMON.iter().all(|p| p.chars().count() >= MIN_CHARS));
        assert!(COMMON.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn the_name_itself_and_a_huge_one_are_refused() {
        assert_eq!(
            check_text("Margaret99", "margaret99"),
            Err(Weak::SameAsName)
        );
        assert_eq!(
            check_text("ann", &"x".repeat(MAX_BYTES + 1)),
            Err(Weak::TooLong)
        );
    }
}
