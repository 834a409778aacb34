//! Users and their API tokens. Passwords are stored as argon2 hashes; tokens as
//! sha256 hashes, so a stolen database yields neither.

use outpost_proto::time::now_ms;

use super::{Row, Store, StoreResult};
use crate::args;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// An argon2 PHC string; never leaves the broker.
    pub password_hash: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const USER_COLUMNS: &str = "id, username, password_hash, email, first_name, last_name, is_active, created_ms, updated_ms";

fn user_from_row(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: row.i64("id")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        email: row.text("email")?,
        first_name: row.text("first_name")?,
        last_name: row.text("last_name")?,
        is_active: row.bool("is_active")?,
        created_ms: row.i64("created_ms")?,
        updated_ms: row.i64("updated_ms")?,
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
            .execute("UPDATE users SET password_hash = $1, updated_ms = $2 WHERE id = $3", args![password_hash, now_ms(), user_id])
            .await?;
        Ok(())
    }

    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let row =
            self.db.fetch_optional(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"), args![username]).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn get_user(&self, id: i64) -> StoreResult<Option<User>> {
        let row = self.db.fetch_optional(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), args![id]).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Stores a token (by its hash) for a user; answers the token's id.
    pub async fn add_token(&self, user_id: i64, token_hash: &str, label: &str) -> StoreResult<i64> {
        let row = self
            .db
            .fetch_one(
                "INSERT INTO tokens (user_id, token_hash, label, created_ms) VALUES ($1, $2, $3, $4) RETURNING id",
                args![user_id, token_hash, label, now_ms()],
            )
            .await?;
        Ok(row.i64("id")?)
    }

    /// The active user owning an unrevoked token with this hash.
    pub async fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let row = self
            .db
            .fetch_optional(
                "SELECT u.id, u.username, u.password_hash, u.email, u.first_name, u.last_name, u.is_active, u.created_ms,
                 u.updated_ms FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND t.revoked_ms IS NULL",
                args![token_hash],
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
