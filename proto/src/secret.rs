//! Secrets that travel in frames: account passwords and device session tokens.
//!
//! Each is its own type rather than a `String` or a byte array so that it cannot be printed
//! by accident: `Debug` redacts it and there is no `Display`. A frame, an error or a
//! session holding one can be logged whole and still quote no secret. On the wire they are
//! what they wrap (a string; 32 bytes), so the type costs nothing there.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A password as typed: an account's, in `SignIn`, `Register`, `ChangePassword` and
/// `DeleteAccount`. Prints as `Secret(<redacted>)`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `password`.
    pub fn new(password: impl Into<String>) -> Secret {
        Secret(password.into())
    }

    /// The password itself, for hashing, for the password rules, and for sending.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A device session's token: 256 random bits, handed to a client once in `SignedIn` and
/// presented by it instead of its password from then on. Prints as `Token(<redacted>)`.
/// The client keeps it as 64 lower-case hex digits ([`SessionToken::to_hex`]); the server
/// keeps only its SHA-256.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(transparent)]
pub struct SessionToken([u8; SessionToken::LEN]);

impl SessionToken {
    /// Its length in bytes.
    pub const LEN: usize = 32;

    /// The token made of `bytes` (the server's random numbers).
    pub fn from_bytes(bytes: [u8; SessionToken::LEN]) -> SessionToken {
        SessionToken(bytes)
    }

    /// Its bytes, to hash or to send.
    pub fn as_bytes(&self) -> &[u8; SessionToken::LEN] {
        &self.0
    }

    /// The token as a client keeps it in a file: 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The token `text` stands for: 64 hex digits (what [`SessionToken::to_hex`] made, or
    /// the same in upper case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<SessionToken> {
        if text.len() != 2 * SessionToken::LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0; SessionToken::LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(SessionToken(bytes))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_from_its_hex() {
        let token = SessionToken::from_bytes(std::array::from_fn(|i| (i * 37) as u8));
        let text = token.to_hex();
        assert_eq!(text.len(), 64);
        assert!(text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(SessionToken::from_hex(&text), Some(token.clone()));
        assert_eq!(
            SessionToken::from_hex(&text.to_uppercase()),
            Some(token),
            "upper case reads too"
        );
    }

    #[test]
    fn anything_but_64_hex_digits_is_no_token() {
        for bad in [
            "",
            "abc",
            &"0".repeat(63),
            &"0".repeat(65),
            &"g".repeat(64),
            &format!("{}é", "0".repeat(62)),
            &format!("+{}", "0".repeat(63)),
        ] {
            assert!(SessionToken::from_hex(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let token = SessionToken::from_bytes([0xab; 32]);
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert!(!format!("{:?}", Some(&token)).contains("abab"));
        let secret = Secret::new("hunter22");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }
}
