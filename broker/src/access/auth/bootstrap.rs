//! The bootstrap administrator: created (or its password reset) at start-up, always
//! holding the Administrator role; and the short-lived tokens `outpost up --demo` signs
//! in with.

use std::path::Path;
use std::time::Duration;

use outpost_proto::OutpostError;

use super::credentials::{hash_password, new_token, token_hash, verify_password, write_secret_file};
use crate::access::audit::{Actor, AuditObject};
use crate::access::permissions::ADMINISTRATOR;
use crate::store::Store;
use crate::store::users::User;

/// The bootstrap administrator's user name.
pub const ADMIN_USER: &str = "admin";
/// Where a generated administrator password is kept, inside the data dir.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

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

    /// Revokes a token [`crate::Broker::issue_admin_token`] answered.
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
