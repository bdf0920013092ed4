//! Device session tokens: what a signed-in client presents instead of its password.
//!
//! A token is 256 bits from the operating system's random numbers, written as 64 hex
//! characters. The server keeps only its SHA-256 ([`TokenHash`]): a token is as unguessable as
//! a key, so a fast hash is enough (no argon2 on a reconnect), and a copy of the store signs
//! nobody in. The token itself prints as `Token(<redacted>)` and has no `Display`.

use std::fmt;

use sha2::{Digest, Sha256};

/// The bytes of a token.
const LEN: usize = 32;

/// A session token, as handed to a client once and presented by it on every reconnect.
#[derive(Clone, PartialEq, Eq)]
pub struct Token([u8; LEN]);

/// What the server keeps of a [`Token`]: its SHA-256, by which the session is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; LEN]);

/// The operating system gave no random numbers.
#[derive(Debug, thiserror::Error)]
#[error("no random numbers from the operating system for a session token: {0}")]
pub struct NoRandomness(String);

impl Token {
    /// A new token from the operating system's random numbers.
    pub fn generate() -> Result<Token, NoRandomness> {
        let mut bytes = [0; LEN];
        getrandom::fill(&mut bytes).map_err(|err| NoRandomness(err.to_string()))?;
        Ok(Token(bytes))
    }

    /// The token as the client keeps and sends it: 64 lower-case hex characters.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The token `text` stands for: 64 hex characters (what [`Token::to_text`] made, or the
    /// same in upper case); `None` for anything else.
    pub fn parse(text: &str) -> Option<Token> {
        if text.len() != 2 * LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0; LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Token(bytes))
    }

    /// What the server keeps of it.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_from_its_text_and_hashes_alike() {
        let token = Token::generate().unwrap();
        let text = token.to_text();
        assert_eq!(text.len(), 64);
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        let back = Token::parse(&text).unwrap();
        assert_eq!(back, token);
        assert_eq!(back.hash(), token.hash());
        assert_ne!(token.hash().0, token.0, "the hash is not the token");
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(Token::generate().unwrap(), Token::generate().unwrap());
    }

    #[test]
    fn the_hash_is_sha_256_of_the_bytes() {
        // SHA-256 of 32 zero bytes.
        let zero = Token::parse(&"0".repeat(64)).unwrap();
        let hex: String = zero.hash().0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn anything_but_64_hex_characters_is_no_token() {
        for bad in [
            "",
            "abc",
            &"0".repeat(63),
            &"0".repeat(65),
            &"g".repeat(64),
            &format!("{}é", "0".repeat(62)),
            &format!("+{}", "0".repeat(63)),
        ] {
            assert!(Token::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_never_prints() {
        let token = Token::generate().unwrap();
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert!(!format!("{:?}", Some(&token)).contains(&token.to_text()));
    }
}
