//! Device session tokens: what a signed-in client presents instead of its password.
//!
//! A token ([`SessionToken`], in `chat-proto`, since it travels in frames) is 256 bits from
//! the operating system's random numbers. The server keeps only its SHA-256 ([`TokenHash`]):
//! a token is as unguessable as a key, so a fast hash is enough (no argon2 on a reconnect),
//! and a copy of the store signs nobody in.

use chat_proto::SessionToken;
use sha2::{Digest, Sha256};

/// What the server keeps of a [`SessionToken`]: its SHA-256, by which the session is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; SessionToken::LEN]);

/// The operating system gave no random numbers.
#[derive(Debug, thiserror::Error)]
#[error("no random numbers from the operating system for a session token: {0}")]
pub struct NoRandomness(String);

/// A new token from the operating system's random numbers.
pub fn generate() -> Result<SessionToken, NoRandomness> {
    let mut bytes = [0; SessionToken::LEN];
    getrandom::fill(&mut bytes).map_err(|err| NoRandomness(err.to_string()))?;
    Ok(SessionToken::from_bytes(bytes))
}

/// What the server keeps of `token`.
pub fn hash(token: &SessionToken) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_tokens_differ_and_so_do_their_hashes() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_ne!(a, b);
        assert_ne!(hash(&a), hash(&b));
        assert_ne!(&hash(&a).0, a.as_bytes(), "the hash is not the token");
    }

    #[test]
    fn the_hash_is_sha_256_of_the_bytes() {
        // SHA-256 of 32 zero bytes.
        let zero = SessionToken::from_bytes([0; 32]);
        let hex: String = hash(&zero).0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }
}
