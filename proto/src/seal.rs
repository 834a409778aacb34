//! Authenticated encryption of secrets (asset configuration) with ChaCha20-Poly1305.
//!
//! The broker seals every asset configuration it stores and every one it puts in a
//! task, so secrets are encrypted in the database and in RabbitMQ's queues. Workers
//! hold the same key (`--bus-key-file`) to open the configuration of the task they run.
//!
//! A sealed value is `nonce (12 bytes) || ciphertext+tag`.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;

/// A 256-bit key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct SealKey {
    cipher: ChaCha20Poly1305,
    bytes: [u8; 32],
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is too short")]
    TooShort,
    #[error("sealed value does not open with this key (wrong key or tampered data)")]
    Open,
    #[error("key must be 64 hex characters (32 bytes)")]
    BadKey,
}

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SealKey { cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)), bytes }
    }

    /// Parses the key file format: 64 hex characters, surrounding whitespace ignored.
    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(SealError::BadKey);
        }
        let mut bytes = [0u8; 32];
        for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).map_err(|_| SealError::BadKey)?;
            bytes[i] = u8::from_str_radix(pair, 16).map_err(|_| SealError::BadKey)?;
        }
        Ok(Self::from_bytes(bytes))
    }

    /// The key file format.
    pub fn to_hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A bearer token derived from the key for one purpose, e.g. the worker token that
    /// lets a worker fetch components: whoever holds the key can compute it, and the
    /// token reveals nothing about the key.
    pub fn derive_token(&self, purpose: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(purpose.as_bytes());
        hasher.update([0u8]);
        hasher.update(self.bytes);
        hex::encode(hasher.finalize())
    }

    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("chacha20poly1305 encryption is infallible for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::TooShort);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let key = SealKey::generate();
        let sealed = key.seal(b"{\"apikey\":\"s3cret\"}");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(key.open(&sealed).unwrap(), b"{\"apikey\":\"s3cret\"}");
    }

    #[test]
    fn refuses_wrong_key_tampering_and_garbage() {
        let key = SealKey::generate();
        let mut sealed = key.seal(b"x");
        assert_eq!(SealKey::generate().open(&sealed), Err(SealError::Open));
        sealed[NONCE_LEN] ^= 1;
        assert_eq!(key.open(&sealed), Err(SealError::Open));
        assert_eq!(key.open(b"short"), Err(SealError::TooShort));
    }

    #[test]
    fn hex_round_trip_and_bad_keys() {
        let key = SealKey::generate();
        let again = SealKey::from_hex(&format!(" {}\n", key.to_hex())).unwrap();
        assert_eq!(again.open(&key.seal(b"y")).unwrap(), b"y");
        assert_eq!(SealKey::from_hex("abc").unwrap_err(), SealError::BadKey);
        assert_eq!(SealKey::from_hex(&"zz".repeat(32)).unwrap_err(), SealError::BadKey);
        assert_eq!(format!("{key:?}"), "SealKey(***)");
        assert_eq!(key.derive_token("w"), again.derive_token("w"));
        assert_ne!(key.derive_token("w"), key.derive_token("x"));
        assert_ne!(key.derive_token("w"), SealKey::generate().derive_token("w"));
    }
}
