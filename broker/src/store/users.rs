//! Users and their API tokens. Passwords are stored as argon2 hashes; tokens as
//! sha256 hashes, so a stolen database yields neither.

use outpost_proto::time::now_ms;

use super::{Listing, Row, Store, StoreResult};
use crate::listing::ListQuery;
use crate::store::args;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// What `/rest/ph_user/<id>`, roles and audit records name.
    pub id: i64,
    /// Unique; the Basic sign-in name.
    pub username: String,
    /// An argon2 PHC string; never leaves the broker.
    pub password_hash: String,
    /// Contact details shown by `/rest/ph_user`.
    pub email: String,
    /// Shown by `/rest/ph_user`.
    pub first_name: String,
    /// Shown by `/rest/ph_user`.
    pub last_name: String,
    /// A disabled user signs in with nothing (SOAR's soft delete).
    pub is_active: bool,
    /// `normal` (password or token) or `automation` (tokens only, no password).
    pub user_type: String,
    /// Shown as `create_time`; the first user's is the install date.
    pub created_ms: i64,
    /// Shown as `update_time`.
    pub updated_ms: i64,
}

/// The writable fields of a user, already validated; the password goes separately.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    /// Unique; the Basic sign-in name.
    pub username: String,
    /// Contact details shown by `/rest/ph_user`.
    pub email: String,
    /// Shown by `/rest/ph_user`.
    pub first_name: String,
    /// Shown by `/rest/ph_user`.
    pub last_name: String,
    /// A disabled user signs in with nothing (SOAR's soft delete).
    pub is_active: bool,
    /// `normal` or `automation`.
    pub user_type: String,
}

/// An API token as listed: never the token itself, which only its owner saw once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What `/rest/ph_user/<id>`, roles and audit records name.
    pub id: i64,
    /// The token's owner: it acts as this user.
    pub user_id: i64,
    /// Says what the token is for ("splunk forwarder", "ci").
    pub label: String,
    /// Shown as `create_time`; the first user's is the install date.
    pub created_ms: i64,
    /// Set once revoked; a revoked token never authenticates again.
    pub revoked_ms: Option<i64>,
    /// After this the token no longer authenticates; `None` = never expires.
    pub expires_ms: Option<i64>,
}

const USER_COLUMNS: &str =
    "id, username, password_hash, email, first_name, last_name, is_active, user_type, created_ms, updated_ms";
const TOKEN_COLUMNS: &str = "id, user_id, label, created_ms, revoked_ms, expires_ms";

fn user_from_row(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: row.i64("id")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        email: row.text("email")?,
        first_name: row.text("first_name")?,
        last_name: row.text("last_name")?,
        is_active: row.bool("is_active")?,
        user_type: row.text("user_type")?,
        created_ms: row.i64("created_ms")?,
        updated_ms: row.i64("updated_ms")?,
    })
}

fn token_from_row(row: &Row) -> StoreResult<Token> {
    Ok(Token {
        id: row.i64("id")?,
        user_id: row.i64("user_id")?,
        label: row.text("label")?,
        created_ms: row.i64("created_ms")?,
        revoked_ms: row.opt_i64("revoked_ms")?,
        expires_ms: row.opt_i64("expires_ms")?,
    })
}

impl Store {
    pub async fn create_user(&self, username: &str, password_hash: &str) -> StoreResult<User> {
        let row = self
            .db
            .fetch_one(
                &format!(
                    "INSERT INTO users (username, password_hash, created_ms, updated_ms) VALUES ($1, $2, $3, $3)
                     RETURNING {USER_COLUMNS}"
                ),
                args![username, password_hash, now_ms()],
            )
            .await?;
        user_from_row(&row)
    }

    pub async fn set_password_hash(&self, user_id: i64, password_hash: &str) -> StoreResult<()> {
        self.db
            .execute(
                "UPDATE users SET password_hash = $1, updated_ms = $2 WHERE id = $3",
                args![password_hash, now_ms(), user_id],
            )
            .await?;
        Ok(())
    }

    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let row = self
            .db
            .fetch_optional(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"), args![username])
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn get_user(&self, id: i64) -> StoreResult<Option<User>> {
        let row = self.db.fetch_optional(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), args![id]).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Stores a token (by its hash) for a user, working until `expires_ms` (`None`:
    /// forever); answers it.
    pub async fn add_token_expiring(
        &self,
        user_id: i64,
        token_hash: &str,
        label: &str,
        expires_ms: Option<i64>,
    ) -> StoreResult<Token> {
        let row = self
            .db
            .fetch_one(
                &format!(
                    "INSERT INTO tokens (user_id, token_hash, label, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)
                     RETURNING {TOKEN_COLUMNS}"
                ),
                args![user_id, token_hash, label, now_ms(), expires_ms],
            )
            .await?;
        token_from_row(&row)
    }

    /// Revokes every live token of a user; answers how many.
    pub async fn revoke_all_tokens(&self, user_id: i64) -> StoreResult<u64> {
        Ok(self
            .db
            .execute(
                "UPDATE tokens SET revoked_ms = $1 WHERE user_id = $2 AND revoked_ms IS NULL",
                args![now_ms(), user_id],
            )
            .await?)
    }

    /// Creates a user with every field; a taken name is a unique violation.
    pub async fn create_user_with(&self, user: &UserFields, password_hash: &str) -> StoreResult<User> {
        let row = self
            .db
            .fetch_one(
                &format!(
                    "INSERT INTO users (username, password_hash, email, first_name, last_name, is_active, user_type,
                     created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {USER_COLUMNS}"
                ),
                args![
                    &user.username,
                    password_hash,
                    &user.email,
                    &user.first_name,
                    &user.last_name,
                    user.is_active,
                    &user.user_type,
                    now_ms()
                ],
            )
            .await?;
        user_from_row(&row)
    }

    /// Replaces a user's writable fields; `None` when the user does not exist.
    pub async fn update_user(&self, id: i64, user: &UserFields) -> StoreResult<Option<User>> {
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "UPDATE users SET username = $1, email = $2, first_name = $3, last_name = $4, is_active = $5,
                     user_type = $6, updated_ms = $7 WHERE id = $8 RETURNING {USER_COLUMNS}"
                ),
                args![
                    &user.username,
                    &user.email,
                    &user.first_name,
                    &user.last_name,
                    user.is_active,
                    &user.user_type,
                    now_ms(),
                    id
                ],
            )
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// A page of users, filtered and sorted ([`super::collections::USERS`]).
    pub async fn list_users(&self, query: &ListQuery) -> StoreResult<Listing<User>> {
        self.list(query, USER_COLUMNS, user_from_row).await
    }

    /// A page of tokens, filtered and sorted ([`super::collections::TOKENS`]; a user's are
    /// `with_eq("user", ..)`).
    pub async fn list_tokens_by(&self, query: &ListQuery) -> StoreResult<Listing<Token>> {
        self.list(query, TOKEN_COLUMNS, token_from_row).await
    }

    /// The active user owning an unrevoked token with this hash.
    pub async fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let row = self
            .db
            .fetch_optional(
                "SELECT u.id, u.username, u.password_hash, u.email, u.first_name, u.last_name, u.is_active, u.user_type,
                 u.created_ms, u.updated_ms FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND t.revoked_ms IS NULL AND (t.expires_ms IS NULL OR t.expires_ms > $2)",
                args![token_hash, now_ms()],
            )
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn revoke_token(&self, user_id: i64, token_id: i64) -> StoreResult<bool> {
        let n = self
            .db
            .execute(
                "UPDATE tokens SET revoked_ms = $1 WHERE id = $2 AND user_id = $3 AND revoked_ms IS NULL",
                args![now_ms(), token_id, user_id],
            )
            .await?;
        Ok(n > 0)
    }
}
