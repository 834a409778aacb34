//! The store: everything the broker keeps, on SQLite (embedded default) or PostgreSQL.
//!
//! All SQL of the broker lives under this module; the rest of the broker calls typed
//! functions. Secrets (asset configuration) are sealed with the store key before they
//! are written.
//!
//! # Layout
//! - [`db`]: the two backends behind one query surface.
//! - [`apps`]: installed apps and their components.
//! - [`audit_records`]: audit records: appending, querying, purging.
//! - [`assets`]: assets and per-(app, asset) connector state.
//! - [`artifacts`]: artifacts (CEF records) inside containers.
//! - [`containers`]: containers (seed 004).
//! - [`collections`]: the listable collections and the SQL a listing query becomes.
//! - [`migrations`]: the schema migrations, embedded at build time.
//! - [`runs`]: action runs, app runs, the task outbox, results and the steps of settling.
//! - [`segments`]: automation brokers (segments).
//! - [`users`]: users and API tokens.
//! - [`roles`]: roles and who holds them.
//! - [`system`]: runtime settings, connectivity statuses, usage counters and statistics.

pub mod apps;
pub mod artifacts;
pub mod assets;
pub mod audit_records;
pub mod collections;
pub mod containers;
pub mod db;
pub mod migrations;
pub mod roles;
pub mod runs;
pub mod segments;
pub mod system;
pub mod users;

use outpost_proto::OutpostError;
use outpost_proto::seal::SealKey;

pub(crate) use db::args;
pub use db::{Arg, Db, Dialect, Row, Tx};

/// A failure of the store itself (not of the caller's input).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("store holds data it cannot read: {0}")]
    Corrupt(String),
    /// `page_size=0` (everything) on a collection larger than a response may hold.
    #[error("{count} {what} match, more than the {max} page_size=0 answers at once; page through them")]
    TooMany { what: &'static str, count: u64, max: u64 },
}

impl StoreError {
    /// True when a unique constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sql(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

impl From<StoreError> for OutpostError {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::Sql(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed) => {
                OutpostError::unavailable(format!("the store is unavailable: {err}"))
            }
            StoreError::TooMany { .. } => OutpostError::invalid(err.to_string()),
            _ => OutpostError::internal(err.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The broker's persistent state.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    /// Seals asset configurations at rest.
    key: SealKey,
}

/// Which slice of a collection to answer: SOAR's `page` (0-based) and `page_size`
/// (0 = everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u64,
    pub page_size: u64,
}

impl Default for Page {
    fn default() -> Self {
        Page { page: 0, page_size: 10 }
    }
}

impl Page {
    /// `LIMIT`/`OFFSET` for this page; `page_size` 0 means no limit. A page far beyond
    /// the end saturates instead of overflowing.
    pub fn limit_offset(&self) -> (i64, i64) {
        if self.page_size == 0 {
            (i64::MAX, 0)
        } else {
            let offset = self.page.saturating_mul(self.page_size).min(i64::MAX as u64);
            (self.page_size.min(i64::MAX as u64) as i64, offset as i64)
        }
    }

    /// SOAR's `num_pages` for `count` items.
    pub fn num_pages(&self, count: u64) -> u64 {
        if self.page_size == 0 { u64::from(count > 0) } else { count.div_ceil(self.page_size) }
    }
}

/// A page of a collection with its total count.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub count: u64,
    pub num_pages: u64,
    pub data: Vec<T>,
}

impl Store {
    /// Opens (and migrates) the store at `url`.
    pub async fn open(url: &str, key: SealKey) -> StoreResult<Store> {
        Ok(Store { db: Db::connect(url).await?, key })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> bool {
        self.db.ping().await
    }

    pub async fn close(&self) {
        self.db.close().await
    }

    fn seal_json(&self, value: &serde_json::Value) -> Vec<u8> {
        self.key.seal(value.to_string().as_bytes())
    }

    fn open_json(&self, sealed: &[u8]) -> StoreResult<serde_json::Value> {
        let plain = self.key.open(sealed).map_err(|e| StoreError::Corrupt(format!("sealed value: {e}")))?;
        serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(format!("sealed json: {e}")))
    }
}

/// Parses a JSON text column, reporting corruption instead of panicking.
pub(crate) fn parse_json(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("json column: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let p = Page { page: 2, page_size: 5 };
        assert_eq!(p.limit_offset(), (5, 10));
        assert_eq!(p.num_pages(11), 3);
        assert_eq!(p.num_pages(0), 0);
        let all = Page { page: 0, page_size: 0 };
        assert_eq!(all.limit_offset(), (i64::MAX, 0));
        assert_eq!(all.num_pages(7), 1);
        assert_eq!(all.num_pages(0), 0);
        assert_eq!(Page { page: u64::MAX, page_size: 10 }.limit_offset(), (10, i64::MAX));
    }
}
