//! The optional server password (`[server] password`), checked against the one in `Hello`.
//!
//! The comparison runs in constant time, through the `subtle` crate's optimisation-proof
//! primitives: how long a refusal takes says nothing about how much of a guess was right,
//! nor how long the password is. The password is never printed: `Debug` redacts it, and no
//! log line or error detail quotes a guess.

use std::fmt;

use subtle::{Choice, ConstantTimeEq};

/// A non-empty shared secret every client must present in `Hello`.
#[derive(Clone)]
pub struct Password(Box<[u8]>);

impl Password {
    /// Wraps `secret`, which must not be empty (an empty `[server] password` means none).
    pub fn new(secret: &str) -> Password {
        assert!(!secret.is_empty(), "an empty password is no password");
        Password(secret.as_bytes().into())
    }

    /// Whether `attempt` is the password.
    ///
    /// Reads every byte of `attempt` against the password repeated to its length, so the
    /// time taken depends on the length of the attempt alone (which its sender knows).
    pub fn matches(&self, attempt: &str) -> bool {
        let attempt = attempt.as_bytes();
        let mut same: Choice = (attempt.len() as u64).ct_eq(&(self.0.len() as u64));
        for (given, expected) in attempt.iter().zip(self.0.iter().cycle()) {
            same &= given.ct_eq(expected);
        }
        same.into()
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Password) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_password_matches() {
        let password = Password::new("s3cret");
        assert!(password.matches("s3cret"));
        for wrong in [
            "", "s", "s3cre", "s3cret ", "s3cret!", "S3cret", "s3cres", "x3cret",
        ] {
            assert!(!password.matches(wrong), "{wrong:?}");
        }
        // An attempt that is the password repeated is still wrong.
        assert!(!password.matches("s3crets3cret"));
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let shown = format!("{:?}", Some(Password::new("s3cret")));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, "Some(Password(<redacted>))");
    }
}
