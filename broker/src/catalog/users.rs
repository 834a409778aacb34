//! Users and their `ph-auth-token` tokens: the rules every change follows, whatever
//! front door asks for it.
//!
//! - A user name is 1 to 150 printable characters without `:`, and not a number (users
//!   are found by id or name); a password is 8 to 1024 characters, stored as an argon2
//!   hash; `automation` users sign in with tokens only, so they have no password.
//! - An active administrator always remains: no change may disable the last one or take
//!   the Administrator role from them ([`Broker::keep_an_administrator`], which role
//!   changes follow too). The bootstrap `admin` cannot be renamed.
//! - Every change is audited as `who`'s, and clears the remembered sign-ins so it
//!   applies at once.

use outpost_proto::OutpostError;
use outpost_proto::time::now_ms;

use crate::Broker;
use crate::access::audit::{Actor, AuditObject, user_fields};
use crate::access::auth::{self, ADMIN_USER};
use crate::access::permissions::ADMINISTRATOR;
use crate::catalog::assets::MASK;
use crate::store::users::{Token, User, UserFields};

/// The kinds of user: people, and clients that sign in with tokens only.
pub const USER_TYPES: &[&str] = &["normal", "automation"];
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest token lifetime accepted, in days (ten years).
pub const MAX_TOKEN_DAYS: i64 = 3650;

/// Checks a user name; answers it trimmed.
pub fn check_username(name: &str) -> Result<String, OutpostError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 150 || name.chars().any(|c| c.is_control() || c == ':') {
        return Err(OutpostError::invalid("'username' must be 1 to 150 printable characters without ':'"));
    }
    if name.parse::<i64>().is_ok() {
        return Err(OutpostError::invalid("'username' cannot be a number: users are found by id or name"));
    }
    Ok(name.to_string())
}

/// Checks a password's length.
pub fn check_password(password: &str) -> Result<(), OutpostError> {
    if password.chars().count() < MIN_PASSWORD || password.len() > 1024 {
        return Err(OutpostError::invalid(format!("'password' must be {MIN_PASSWORD} to 1024 characters")));
    }
    Ok(())
}

/// Checks a user type; answers it lowercased.
pub fn check_user_type(value: &str) -> Result<String, OutpostError> {
    let value = value.trim().to_lowercase();
    if USER_TYPES.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(OutpostError::invalid(format!("'type' must be one of {}, got '{value}'", USER_TYPES.join(", "))))
    }
}

/// Checks a token's lifetime in days.
pub fn check_token_days(days: i64) -> Result<i64, OutpostError> {
    if (1..=MAX_TOKEN_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(OutpostError::invalid(format!("'expires_in_days' must be between 1 and {MAX_TOKEN_DAYS}, got {days}")))
    }
}

fn tokens_only() -> OutpostError {
    OutpostError::invalid("automation users sign in with tokens only: leave 'password' out")
}

/// A user to create, or what a user becomes.
#[derive(Debug, Clone)]
pub struct UserChange {
    /// The fields it has afterwards, already checked ([`check_username`],
    /// [`check_user_type`]).
    pub fields: UserFields,
    /// A new password, unchecked; `None` keeps the current one (none on create).
    pub password: Option<String>,
    /// The roles it holds afterwards, by id; `None` keeps them (none on create).
    pub roles: Option<Vec<i64>>,
}

async fn hash(password: String) -> Result<String, OutpostError> {
    check_password(&password)?;
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| OutpostError::internal(format!("password hashing failed: {e}")))
}

impl Broker {
    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<User, OutpostError> {
        self.store.get_user(id).await?.ok_or_else(|| OutpostError::not_found(format!("user {id} not found")))
    }

    /// Role ids for role ids or names as a client gave them (`field` names them in
    /// errors, e.g. `roles`), sorted and without repeats.
    pub async fn role_ids(&self, field: &str, keys: &[String]) -> Result<Vec<i64>, OutpostError> {
        let mut ids = vec![];
        for (i, key) in keys.iter().enumerate() {
            let role = self
                .store
                .find_role(key)
                .await?
                .ok_or_else(|| OutpostError::not_found(format!("'{field}[{i}]': role '{key}' not found")))?;
            if !ids.contains(&role.id) {
                ids.push(role.id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Refuses a change that would leave no active administrator: `user_id` stops being
    /// one unless `still_admin`.
    pub async fn keep_an_administrator(&self, user_id: i64, still_admin: bool) -> Result<(), OutpostError> {
        if still_admin {
            return Ok(());
        }
        let admins = self.store.active_administrators().await?;
        if admins == [user_id] {
            return Err(OutpostError::precondition(format!(
                "user {user_id} is the last active administrator: give another active user the {ADMINISTRATOR} role first"
            )));
        }
        Ok(())
    }

    /// Whether a set of roles includes the Administrator role.
    async fn includes_administrator(&self, role_ids: &[i64]) -> Result<bool, OutpostError> {
        let admin = self.store.find_role(ADMINISTRATOR).await?.map(|r| r.id);
        Ok(admin.is_some_and(|id| role_ids.contains(&id)))
    }

    /// Creates a user as `who`, audited. A `normal` user needs a password; an
    /// `automation` user must have none.
    pub async fn create_user(&self, who: &Actor, user: UserChange) -> Result<User, OutpostError> {
        let UserChange { fields, password, roles } = user;
        let password_hash = match (fields.user_type.as_str(), password) {
            ("automation", Some(_)) => return Err(tokens_only()),
            ("automation", None) => String::new(),
            (_, None) => return Err(OutpostError::invalid("'password' is required")),
            (_, Some(password)) => hash(password).await?,
        };
        let roles = roles.unwrap_or_default();
        let created = match self.store.create_user_with(&fields, &password_hash).await {
            Ok(user) => user,
            Err(e) if e.is_unique_violation() => {
                return Err(OutpostError::conflict(format!("a user named '{}' exists already", fields.username)));
            }
            Err(e) => return Err(e.into()),
        };
        self.store.set_user_roles(created.id, &roles).await?;
        self.auth.forget();
        self.audit.record_change(who, AuditObject::user(&created), None, Some(&user_fields(&created, &roles))).await;
        Ok(created)
    }

    /// Changes a user as `who`, audited (a new password as a masked `password` record).
    /// The last active administrator cannot lose the role or be disabled.
    pub async fn update_user(&self, who: &Actor, before: &User, change: UserChange) -> Result<User, OutpostError> {
        let UserChange { fields, password, roles } = change;
        if before.username == ADMIN_USER && fields.username != before.username {
            return Err(OutpostError::invalid(format!("the bootstrap user '{ADMIN_USER}' cannot be renamed")));
        }
        let roles_before = self.store.user_role_ids(before.id).await?;
        let roles = roles.unwrap_or_else(|| roles_before.clone());
        if password.is_some() && fields.user_type == "automation" {
            return Err(tokens_only());
        }
        let still_admin = fields.is_active && self.includes_administrator(&roles).await?;
        self.keep_an_administrator(before.id, still_admin).await?;
        let password_hash = match password {
            Some(password) => Some(hash(password).await?),
            None => None,
        };
        let after = match self.store.update_user(before.id, &fields).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(OutpostError::not_found(format!("user {} not found", before.id))),
            Err(e) if e.is_unique_violation() => {
                return Err(OutpostError::conflict(format!("a user named '{}' exists already", fields.username)));
            }
            Err(e) => return Err(e.into()),
        };
        if roles != roles_before {
            self.store.set_user_roles(after.id, &roles).await?;
        }
        if let Some(password_hash) = &password_hash {
            self.store.set_password_hash(after.id, password_hash).await?;
        }
        self.auth.forget();
        let object = AuditObject::user(&after);
        let (old, new) = (user_fields(before, &roles_before), user_fields(&after, &roles));
        self.audit.record_change(who, object.clone(), Some(&old), Some(&new)).await;
        if password_hash.is_some() {
            self.audit.record_field(who, object, "password", Some(MASK), Some(MASK), "password changed").await;
        }
        Ok(after)
    }

    /// Disables a user as `who` (SOAR's soft delete), audited: it then signs in with
    /// nothing. The last active administrator cannot be disabled.
    pub async fn disable_user(&self, who: &Actor, before: &User) -> Result<User, OutpostError> {
        self.keep_an_administrator(before.id, false).await?;
        let roles = self.store.user_role_ids(before.id).await?;
        let fields = UserFields {
            username: before.username.clone(),
            email: before.email.clone(),
            first_name: before.first_name.clone(),
            last_name: before.last_name.clone(),
            is_active: false,
            user_type: before.user_type.clone(),
        };
        let after = self
            .store
            .update_user(before.id, &fields)
            .await?
            .ok_or_else(|| OutpostError::not_found(format!("user {} not found", before.id)))?;
        self.auth.forget();
        let (old, new) = (user_fields(before, &roles), user_fields(&after, &roles));
        self.audit.record_change(who, AuditObject::user(&after), Some(&old), Some(&new)).await;
        Ok(after)
    }

    /// Issues a `ph-auth-token` for an active user as `who`, audited; it expires after
    /// `expires_in_days` (checked by [`check_token_days`]) or never. Answers the token
    /// and its key, which is shown this once.
    pub async fn issue_token(
        &self,
        who: &Actor,
        user: &User,
        label: &str,
        expires_in_days: Option<i64>,
    ) -> Result<(Token, String), OutpostError> {
        if !user.is_active {
            return Err(OutpostError::precondition(format!(
                "user '{}' is disabled; enable it before issuing tokens",
                user.username
            )));
        }
        let key = auth::new_token();
        let expires_ms = expires_in_days.map(|d| now_ms() + d * 24 * 3600 * 1000);
        let token = self.store.add_token_expiring(user.id, &auth::token_hash(&key), label, expires_ms).await?;
        let issued = format!("token {} issued", token.id);
        self.audit.record_field(who, AuditObject::user(user), "token", None, Some(&issued), "token issued").await;
        Ok((token, key))
    }

    /// Revokes one of a user's live tokens as `who`, audited.
    pub async fn revoke_token(&self, who: &Actor, user: &User, token_id: i64) -> Result<(), OutpostError> {
        if !self.store.revoke_token(user.id, token_id).await? {
            return Err(OutpostError::not_found(format!("user '{}' has no live token {token_id}", user.username)));
        }
        self.auth.forget();
        let (active, revoked) = (format!("token {token_id} active"), format!("token {token_id} revoked"));
        let object = AuditObject::user(user);
        self.audit.record_field(who, object, "token", Some(&active), Some(&revoked), "token revoked").await;
        Ok(())
    }

    /// Revokes every live token of a user as `who`, audited when there was one; answers
    /// how many.
    pub async fn revoke_tokens(&self, who: &Actor, user: &User) -> Result<u64, OutpostError> {
        let n = self.store.revoke_all_tokens(user.id).await?;
        self.auth.forget();
        if n > 0 {
            let revoked = format!("{n} tokens revoked");
            self.audit
                .record_field(who, AuditObject::user(user), "token", None, Some(&revoked), "tokens revoked")
                .await;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_passwords_types_and_lifetimes_name_the_culprit() {
        assert!(check_username("a:b").unwrap_err().message.contains("without ':'"));
        assert!(check_username("42").unwrap_err().message.contains("cannot be a number"));
        assert_eq!(check_username(" bob ").unwrap(), "bob");
        assert!(check_password("short").unwrap_err().message.contains("8 to 1024"));
        assert!(check_user_type("robot").unwrap_err().message.contains("'type' must be one of normal, automation"));
        assert_eq!(check_user_type(" Automation ").unwrap(), "automation");
        assert!(check_token_days(0).unwrap_err().message.contains("between 1 and 3650, got 0"));
        assert_eq!(check_token_days(30).unwrap(), 30);
    }
}
