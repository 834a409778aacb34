//! Authentication: HTTP Basic and SOAR's `ph-auth-token` header (REST), the same as
//! gRPC metadata. Passwords are argon2 hashes; tokens are stored as sha256 hashes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use outpost_proto::OutpostError;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::Store;
use crate::store::users::User;

/// The bootstrap administrator's user name.
pub const ADMIN_USER: &str = "admin";
/// Where a generated administrator password is kept, inside the data dir.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
}

impl From<&User> for Principal {
    fn from(user: &User) -> Self {
        Principal { user_id: user.id, username: user.username.clone() }
    }
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashing with a fresh salt").to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A new random API token (URL-safe, 256 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes sure the administrator exists. Its password is `password` when given (it is
/// then reset to that on every start); otherwise one is generated on first start, kept
/// in `<data_dir>/admin-password` readable by the owner only, and answered so the caller
/// can print it once.
pub async fn bootstrap_admin(store: &Store, data_dir: &Path, password: Option<&str>) -> Result<Option<String>, OutpostError> {
    let existing = store.user_by_name(ADMIN_USER).await?;
    match (existing, password) {
        (Some(user), Some(password)) => {
            if !verify_password(password, &user.password_hash) {
                store.set_password_hash(user.id, &hash_password(password)).await?;
            }
            Ok(None)
        }
        (Some(_), None) => Ok(None),
        (None, Some(password)) => {
            store.create_user(ADMIN_USER, &hash_password(password)).await?;
            Ok(None)
        }
        (None, None) => {
            let generated = new_token();
            write_secret_file(&data_dir.join(ADMIN_PASSWORD_FILE), &generated)
                .map_err(|e| OutpostError::internal(format!("cannot store the admin password: {e}")))?;
            store.create_user(ADMIN_USER, &hash_password(&generated)).await?;
            Ok(Some(generated))
        }
    }
}

/// Writes a file only its owner can read.
pub fn write_secret_file(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

/// Checks credentials, with a short cache of successful Basic logins so argon2 runs
/// once per client per minute rather than once per request.
pub struct Authenticator {
    store: Store,
    basic_cache: Mutex<HashMap<String, (Principal, Instant)>>,
}

const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);

impl Authenticator {
    pub fn new(store: Store) -> Self {
        Authenticator { store, basic_cache: Mutex::default() }
    }

    /// Authenticates from the `ph-auth-token` or `authorization` value.
    pub async fn authenticate(&self, token: Option<&str>, authorization: Option<&str>) -> Result<Principal, OutpostError> {
        if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
            return match self.store.user_by_token_hash(&token_hash(token)).await? {
                Some(user) if user.is_active => Ok(Principal::from(&user)),
                _ => Err(OutpostError::unauthenticated("invalid or revoked ph-auth-token")),
            };
        }
        let Some(authorization) = authorization else {
            return Err(OutpostError::unauthenticated(
                "authentication required: use HTTP Basic or a ph-auth-token header",
            ));
        };
        let Some(encoded) = authorization.strip_prefix("Basic ").or_else(|| authorization.strip_prefix("basic ")) else {
            return Err(OutpostError::unauthenticated("unsupported authorization scheme; use Basic or ph-auth-token"));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| OutpostError::unauthenticated("malformed Basic credentials"))?;
        let Some((username, password)) = decoded.split_once(':') else {
            return Err(OutpostError::unauthenticated("malformed Basic credentials"));
        };
        let cache_key = token_hash(&decoded);
        if let Some((principal, at)) = self.basic_cache.lock().expect("auth cache").get(&cache_key)
            && at.elapsed() < BASIC_CACHE_TTL
        {
            return Ok(principal.clone());
        }
        let user = self.store.user_by_name(username).await?;
        let verified = match &user {
            Some(user) => {
                let (password, hash) = (password.to_string(), user.password_hash.clone());
                tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false)
            }
            None => false,
        };
        match user {
            Some(user) if verified && user.is_active => {
                let principal = Principal::from(&user);
                self.basic_cache.lock().expect("auth cache").insert(cache_key, (principal.clone(), Instant::now()));
                Ok(principal)
            }
            _ => Err(OutpostError::unauthenticated("invalid user name or password")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens() {
        let hash = hash_password("s3cret");
        assert!(hash.starts_with("$argon2"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert_eq!(token_hash(&token).len(), 64);
        assert_ne!(token_hash(&token), token);
    }
}
