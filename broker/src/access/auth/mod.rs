//! Authentication: HTTP Basic and SOAR's `ph-auth-token` header (REST), the same as
//! gRPC metadata. Passwords are argon2 hashes; tokens are stored as sha256 hashes.
//!
//! Repeated failures are slowed down per user name and per source address (a lock that
//! doubles with each further failure), and every sign-in failure is audited; a success
//! is audited once per remembered-sign-in window, not on every request. Attempts refused
//! while locked are counted and recorded once per lock (`login:Locked:refused:<n>`), so
//! hammering a locked name cannot flood the trail.
//!
//! # Layout
//! This file holds who is calling ([`Principal`]) and the [`Authenticator`];
//! [`credentials`] hashes passwords and tokens, [`throttle`] slows down guessing,
//! [`bootstrap`] keeps an administrator.

pub mod bootstrap;
pub mod credentials;
pub mod throttle;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use outpost_proto::{ErrorCode, OutpostError};

pub use bootstrap::{ADMIN_PASSWORD_FILE, ADMIN_USER, bootstrap_admin};
pub use credentials::{hash_password, new_token, token_hash, verify_password, write_secret_file};
pub use throttle::{FIRST_LOCK, FREE_FAILURES_PER_SOURCE, FREE_FAILURES_PER_USER, MAX_LOCK, Refusals};

use crate::access::audit::{Actor, Audit};
use crate::access::permissions::Grants;
use crate::store::Store;
use crate::store::users::User;
use throttle::{MAX_TRACKED, Throttle};

/// Who is calling, with what they may do, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who acts: creator of runs, `USER ID` of audit records.
    pub user_id: i64,
    /// For messages and audit records.
    pub username: String,
    /// The union of the user's active roles, loaded at sign-in (caches are cleared
    /// whenever users, roles or tokens change).
    pub grants: Grants,
    /// The caller's address for audit records; `None` when unknown (in-process calls).
    pub ip: Option<IpAddr>,
}

/// Records the refusals of each lock soon after it ends, without waiting for a later
/// sign-in, and those of locks still running when the broker stops, so none is lost.
pub async fn run_refusal_records(broker: std::sync::Arc<crate::Broker>, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(2)) => broker.auth.record_refusals().await,
        }
    }
    let everything = Instant::now() + MAX_LOCK * 2;
    broker.auth.record(broker.auth.throttle.ended_by(everything)).await;
}

/// How long a successful sign-in is remembered: argon2 runs, and a `login:Success`
/// record is written, once per credential per window rather than on every request.
const CACHE_TTL: Duration = Duration::from_secs(60);

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// `Unauthenticated`, or `ResourceExhausted` while sign-ins are locked.
    pub error: OutpostError,
    /// While locked: how long until the next attempt is considered (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl From<OutpostError> for Denied {
    fn from(error: OutpostError) -> Self {
        Denied { error, retry_after: None }
    }
}

impl From<crate::store::StoreError> for Denied {
    fn from(e: crate::store::StoreError) -> Self {
        Denied { error: e.into(), retry_after: None }
    }
}

impl From<Denied> for OutpostError {
    fn from(denied: Denied) -> Self {
        denied.error
    }
}

fn unauthenticated(message: impl Into<String>) -> Denied {
    Denied { error: OutpostError::unauthenticated(message), retry_after: None }
}

fn locked(wait: Duration, what: &str) -> Denied {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    Denied {
        error: OutpostError::new(
            ErrorCode::ResourceExhausted,
            format!("too many failed sign-ins for {what}; try again in {secs} s"),
        ),
        retry_after: Some(Duration::from_secs(secs)),
    }
}

/// Checks credentials, remembers recent successes, slows down guessing and audits
/// sign-ins: every failure, and each success once per `CACHE_TTL` window.
pub struct Authenticator {
    /// Users, tokens and roles.
    store: Store,
    /// Records sign-in events.
    audit: Audit,
    /// Successful sign-ins by a hash of the credential, with when they were checked.
    cache: Mutex<HashMap<String, (Principal, Instant)>>,
    /// Slows down guessing.
    throttle: Throttle,
}

impl Authenticator {
    pub fn new(store: Store, audit: Audit) -> Self {
        Authenticator { store, audit, cache: Mutex::default(), throttle: Throttle::default() }
    }

    /// Forgets every remembered sign-in. Called after any change to users, roles or
    /// tokens, so a disabled user, a revoked token or a changed role applies at once.
    pub fn forget(&self) {
        self.cache.lock().expect("auth cache").clear();
    }

    fn cached(&self, key: &str, ip: Option<IpAddr>) -> Option<Principal> {
        let cache = self.cache.lock().expect("auth cache");
        let (principal, at) = cache.get(key)?;
        (at.elapsed() < CACHE_TTL).then(|| Principal { ip, ..principal.clone() })
    }

    fn remember(&self, key: String, principal: &Principal) {
        let mut cache = self.cache.lock().expect("auth cache");
        if cache.len() > MAX_TRACKED {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        cache.insert(key, (principal.clone(), Instant::now()));
    }

    async fn principal(&self, user: &User, ip: Option<IpAddr>) -> Result<Principal, Denied> {
        let grants = self.store.grants(user.id).await?;
        Ok(Principal { user_id: user.id, username: user.username.clone(), grants, ip })
    }

    /// Authenticates from the `ph-auth-token` or `authorization` value.
    pub async fn authenticate(
        &self,
        token: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Principal, OutpostError> {
        Ok(self.authenticate_from(token, authorization, None).await?)
    }

    /// Authenticates a request from `ip` by its `ph-auth-token` or `authorization` value.
    pub async fn authenticate_from(
        &self,
        token: Option<&str>,
        authorization: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<Principal, Denied> {
        self.record_refusals().await;
        let source = ip.map(|ip| (format!("ip:{ip}"), FREE_FAILURES_PER_SOURCE));
        if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
            return self.with_token(token, source, ip).await;
        }
        let Some(authorization) = authorization else {
            return Err(unauthenticated("authentication required: use HTTP Basic or a ph-auth-token header"));
        };
        let Some(encoded) = authorization.strip_prefix("Basic ").or_else(|| authorization.strip_prefix("basic "))
        else {
            return Err(unauthenticated("unsupported authorization scheme; use Basic or ph-auth-token"));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
        let Some((username, password)) = decoded.split_once(':') else {
            return Err(unauthenticated("malformed Basic credentials"));
        };
        let user_key = format!("user:{}", username.to_lowercase());
        let keys: Vec<(String, u32)> = [(user_key.clone(), FREE_FAILURES_PER_USER)].into_iter().chain(source).collect();
        if let Some(wait) = self.throttle.refuse(&keys, "login", Some(username), ip) {
            return Err(locked(wait, &format!("'{username}'")));
        }
        let cache_key = format!("basic:{}", token_hash(&decoded));
        if let Some(principal) = self.cached(&cache_key, ip) {
            return Ok(principal);
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
                self.throttle.succeed(&user_key);
                let principal = self.principal(&user, ip).await?;
                self.remember(cache_key, &principal);
                self.audit.record_authentication(&principal, "login:Success").await;
                Ok(principal)
            }
            Some(user) if verified => {
                let actor = Actor { user_id: Some(user.id), username: user.username.clone(), ..Actor::anonymous(ip) };
                self.audit.record_authentication(&actor, "login:Failed:disabled").await;
                Err(unauthenticated(format!("user '{}' is disabled", user.username)))
            }
            user => {
                let lock = self.throttle.fail(&keys);
                let actor = match user {
                    Some(user) => Actor { user_id: Some(user.id), username: user.username, ..Actor::anonymous(ip) },
                    None => Actor::anonymous(ip),
                };
                self.audit.record_authentication(&actor, "login:Failed").await;
                if let Some(lock) = lock {
                    tracing::warn!(lock_secs = lock.as_secs(), ip = ?ip, "sign-ins locked after repeated failures");
                    self.audit.record_authentication(&actor, &format!("login:Locked:{}s", lock.as_secs().max(1))).await;
                }
                Err(unauthenticated("invalid user name or password"))
            }
        }
    }

    /// Records the attempts each ended lock refused: one `login:Locked:refused:<n>` (or
    /// `token:...`) record per user name or address and lock, however many there were.
    /// Runs on every sign-in and every few seconds ([`run_refusal_records`]).
    async fn record_refusals(&self) {
        self.record(self.throttle.ended()).await;
    }

    async fn record(&self, ended: Vec<Refusals>) {
        for refusals in ended {
            let user = match &refusals.username {
                Some(name) => self.store.user_by_name(name).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot name the locked user; recording the refusals anonymously");
                    None
                }),
                None => None,
            };
            let actor = match user {
                Some(user) => {
                    Actor { user_id: Some(user.id), username: user.username, ..Actor::anonymous(refusals.ip) }
                }
                None => Actor::anonymous(refusals.ip),
            };
            let note = format!("{}:Locked:refused:{}", refusals.kind, refusals.count);
            self.audit.record_authentication(&actor, &note).await;
        }
    }

    async fn with_token(
        &self,
        token: &str,
        source: Option<(String, u32)>,
        ip: Option<IpAddr>,
    ) -> Result<Principal, Denied> {
        let keys: Vec<(String, u32)> = source.into_iter().collect();
        if let Some(wait) = self.throttle.refuse(&keys, "token", None, ip) {
            return Err(locked(wait, "this address"));
        }
        let hash = token_hash(token);
        let cache_key = format!("token:{hash}");
        if let Some(principal) = self.cached(&cache_key, ip) {
            return Ok(principal);
        }
        match self.store.user_by_token_hash(&hash).await? {
            Some(user) if user.is_active => {
                let principal = self.principal(&user, ip).await?;
                self.remember(cache_key, &principal);
                self.audit.record_authentication(&principal, "token:Success").await;
                Ok(principal)
            }
            found => {
                let lock = self.throttle.fail(&keys);
                let actor = match found {
                    Some(user) => Actor { user_id: Some(user.id), username: user.username, ..Actor::anonymous(ip) },
                    None => Actor::anonymous(ip),
                };
                self.audit.record_authentication(&actor, "token:Failed").await;
                if let Some(lock) = lock {
                    self.audit.record_authentication(&actor, &format!("token:Locked:{}s", lock.as_secs().max(1))).await;
                }
                Err(unauthenticated("invalid, expired or revoked ph-auth-token"))
            }
        }
    }
}
