//! Authentication: HTTP Basic and SOAR's `ph-auth-token` header (REST), the same as
//! gRPC metadata. Passwords are argon2 hashes; tokens are stored as sha256 hashes.
//!
//! Repeated failures are slowed down per user name and per source address (a lock that
//! doubles with each further failure), and every sign-in failure is audited; a success
//! is audited once per remembered-sign-in window, not on every request. Attempts refused
//! while locked are counted and recorded once per lock (`login:Locked:refused:<n>`), so
//! hammering a locked name cannot flood the trail.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use outpost_proto::{ErrorCode, OutpostError};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::access::audit::{Actor, Audit, AuditObject};
use crate::access::permissions::{ADMINISTRATOR, Grants};
use crate::store::Store;
use crate::store::users::User;

/// The bootstrap administrator's user name.
pub const ADMIN_USER: &str = "admin";
/// Where a generated administrator password is kept, inside the data dir.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

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
pub async fn bootstrap_admin(
    store: &Store,
    data_dir: &Path,
    password: Option<&str>,
) -> Result<Option<String>, OutpostError> {
    let generated = ensure_admin(store, data_dir, password).await?;
    // The bootstrap administrator always holds the Administrator role, so a broker can
    // never lose its last way in.
    let admin =
        store.user_by_name(ADMIN_USER).await?.ok_or_else(|| OutpostError::internal("the admin user vanished"))?;
    let role = store
        .find_role(ADMINISTRATOR)
        .await?
        .ok_or_else(|| OutpostError::internal("the Administrator role is missing"))?;
    store.grant_role(admin.id, role.id).await?;
    Ok(generated)
}

async fn ensure_admin(store: &Store, data_dir: &Path, password: Option<&str>) -> Result<Option<String>, OutpostError> {
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
    // `mode` applies only when the file is created: an existing one is narrowed too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

impl crate::Broker {
    /// A short-lived `ph-auth-token` of the bootstrap administrator, for a client inside
    /// this process (`outpost up --demo`) that must not need the password; issued by the
    /// system and audited as any token is. Answers the token's id (to revoke it when
    /// done) and the token.
    pub async fn issue_admin_token(&self, label: &str, ttl: Duration) -> Result<(i64, String), OutpostError> {
        let admin = self.admin().await?;
        let key = new_token();
        let expires_ms = outpost_proto::time::now_ms() + ttl.as_millis() as i64;
        let token = self.store.add_token_expiring(admin.id, &token_hash(&key), label, Some(expires_ms)).await?;
        let issued = format!("token {} issued", token.id);
        self.audit
            .record_field(&Actor::system(), AuditObject::user(&admin), "token", None, Some(&issued), "token issued")
            .await;
        Ok((token.id, key))
    }

    /// Revokes a token [`Broker::issue_admin_token`] answered.
    pub async fn revoke_admin_token(&self, token_id: i64) -> Result<(), OutpostError> {
        let admin = self.admin().await?;
        if self.store.revoke_token(admin.id, token_id).await? {
            let revoked = format!("token {token_id} revoked");
            self.audit
                .record_field(
                    &Actor::system(),
                    AuditObject::user(&admin),
                    "token",
                    None,
                    Some(&revoked),
                    "token revoked",
                )
                .await;
        }
        Ok(())
    }

    async fn admin(&self) -> Result<User, OutpostError> {
        self.store.user_by_name(ADMIN_USER).await?.ok_or_else(|| OutpostError::internal("the admin user is missing"))
    }
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
/// Failed sign-ins allowed per user name; the next ones lock the name for a while.
pub const FREE_FAILURES_PER_USER: u32 = 5;
/// Failed sign-ins allowed per source address (password spraying across names).
pub const FREE_FAILURES_PER_SOURCE: u32 = 20;
/// The first lock; each further failure doubles it, up to [`MAX_LOCK`].
pub const FIRST_LOCK: Duration = Duration::from_secs(1);
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);
/// Beyond this many tracked names and addresses, forgotten ones are pruned.
const MAX_TRACKED: usize = 10_000;

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

/// Recent failures of one user name or source address.
struct Failures {
    /// Failures within [`FAILURE_MEMORY`] of each other.
    count: u32,
    /// The latest failure; older than `FAILURE_MEMORY`, the count restarts.
    last: Instant,
    /// Attempts before this are refused without checking the credentials.
    locked_until: Option<Instant>,
}

/// Attempts refused during one lock of one user name or address, recorded as one audit
/// record once the lock is over, so a flood of attempts cannot flood the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    /// `user:<name>` or `ip:<address>`.
    pub key: String,
    /// `login` (Basic) or `token`, as the first refused attempt was.
    pub kind: &'static str,
    /// How many attempts the lock refused.
    pub count: u32,
    /// The user name as the latest refused attempt gave it, for a `user:` key.
    pub username: Option<String>,
    /// Where the latest refused attempt came from.
    pub ip: Option<IpAddr>,
    /// When the lock ends; the refusals are recorded after that.
    until: Instant,
}

/// Slows down guessing: after a number of failures, each further failure locks the
/// user name (or address) for twice as long as the last, up to [`MAX_LOCK`].
#[derive(Default)]
struct Throttle {
    /// By `user:<name>` and `ip:<address>`.
    failures: Mutex<HashMap<String, Failures>>,
    /// Refusals of current and ended locks not yet recorded, by key.
    refused: Mutex<HashMap<String, Refusals>>,
}

impl Throttle {
    /// The longest remaining lock among `keys`; when there is one, the attempt counts as
    /// refused against every key that is locked.
    fn refuse(
        &self,
        keys: &[(String, u32)],
        kind: &'static str,
        username: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Option<Duration> {
        let now = Instant::now();
        let locks: Vec<(String, Instant)> = {
            let map = self.failures.lock().expect("throttle lock");
            keys.iter()
                .filter_map(|(key, _)| {
                    let until = map.get(key)?.locked_until.filter(|u| *u > now)?;
                    Some((key.clone(), until))
                })
                .collect()
        };
        let mut refused = self.refused.lock().expect("throttle lock");
        for (key, until) in &locks {
            let entry = refused.entry(key.clone()).or_insert(Refusals {
                key: key.clone(),
                kind,
                count: 0,
                username: None,
                ip,
                until: *until,
            });
            entry.count += 1;
            entry.ip = ip;
            entry.username = username.filter(|_| key.starts_with("user:")).map(str::to_string);
            entry.until = entry.until.max(*until);
        }
        locks.iter().map(|(_, until)| until.duration_since(now)).max()
    }

    /// Takes the refusals of locks that are over.
    fn ended(&self) -> Vec<Refusals> {
        self.ended_by(Instant::now())
    }

    /// Takes the refusals of locks over by `at` (far ahead: every lock, at shutdown).
    fn ended_by(&self, at: Instant) -> Vec<Refusals> {
        let mut refused = self.refused.lock().expect("throttle lock");
        if refused.is_empty() {
            return vec![];
        }
        let ended: Vec<String> = refused.values().filter(|r| r.until <= at).map(|r| r.key.clone()).collect();
        let mut out: Vec<Refusals> = ended.iter().filter_map(|key| refused.remove(key)).collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Counts a failure against each `(key, free failures)`; answers the lock it started.
    fn fail(&self, keys: &[(String, u32)]) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() > MAX_TRACKED {
            map.retain(|_, f| now.duration_since(f.last) < FAILURE_MEMORY || f.locked_until.is_some_and(|u| u > now));
        }
        let mut started: Option<Duration> = None;
        for (key, free) in keys {
            let entry = map.entry(key.clone()).or_insert(Failures { count: 0, last: now, locked_until: None });
            if now.duration_since(entry.last) >= FAILURE_MEMORY {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count >= *free {
                let doublings = (entry.count - free).min(20);
                let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
                entry.locked_until = Some(now + lock);
                started = Some(started.map_or(lock, |s| s.max(lock)));
            }
        }
        started
    }

    fn succeed(&self, key: &str) {
        self.failures.lock().expect("throttle lock").remove(key);
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
/// sign-ins: every failure, and each success once per [`CACHE_TTL`] window.
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

    #[test]
    fn attempts_refused_during_a_lock_are_counted_once_per_lock() {
        let throttle = Throttle::default();
        let keys = vec![("user:erin".to_string(), FREE_FAILURES_PER_USER), ("ip:10.0.0.1".to_string(), 100)];
        let ip = Some("10.0.0.1".parse().unwrap());
        assert_eq!(throttle.refuse(&keys, "login", Some("Erin"), ip), None, "nothing locked yet");
        let until = Instant::now() + Duration::from_millis(50);
        throttle.failures.lock().unwrap().insert(
            "user:erin".into(),
            Failures { count: FREE_FAILURES_PER_USER, last: Instant::now(), locked_until: Some(until) },
        );
        for _ in 0..1000 {
            assert!(throttle.refuse(&keys, "login", Some("Erin"), ip).is_some());
        }
        assert!(throttle.ended().is_empty(), "recorded once the lock is over");
        std::thread::sleep(Duration::from_millis(60));
        let ended = throttle.ended();
        assert_eq!(ended.len(), 1, "one entry for the locked name, none for the unlocked address");
        assert_eq!((ended[0].key.as_str(), ended[0].count, ended[0].kind), ("user:erin", 1000, "login"));
        assert_eq!(ended[0].username.as_deref(), Some("Erin"));
        assert!(throttle.ended().is_empty(), "taken once");
    }
}
