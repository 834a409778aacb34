//! The two SQL backends behind one small query surface.
//!
//! Every query of the store is written once, with `$1`-style placeholders that both
//! SQLite and PostgreSQL accept, and runs on either backend through [`Db`] and [`Tx`].
//! Typed column access goes through [`Row`]. This replaces sqlx's `Any` driver, whose
//! placeholders and lossy type mapping break on PostgreSQL: each backend keeps its own
//! native driver and types, and the migrations differ per backend
//! (`migrations/sqlite`, `migrations/postgres`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Row as _, Sqlite, SqlitePool, Transaction};

/// A bind argument.
#[derive(Debug, Clone)]
pub enum Arg {
    I64(Option<i64>),
    Text(Option<String>),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::I64(v)
    }
}
impl From<u32> for Arg {
    fn from(v: u32) -> Self {
        Arg::I64(Some(i64::from(v)))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// Builds a `Vec<Arg>` from values of mixed types (for the store's own queries).
macro_rules! args {
    () => { Vec::<$crate::store::db::Arg>::new() };
    ($($value:expr),+ $(,)?) => { vec![$($crate::store::db::Arg::from($value)),+] };
}
pub(crate) use args;

/// Which SQL dialect a statement runs on, for the few places that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection pool on one of the backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on one of the backends. Dropped without `commit`, it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A result row on one of the backends.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::I64(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
            };
        }
        q
    }};
}

macro_rules! on_backend {
    ($self:expr, $conn:ident => $body:expr) => {
        match $self {
            Db::Sqlite($conn) => $body,
            Db::Postgres($conn) => $body,
        }
    };
}

impl Db {
    /// Opens the store named by `url`: `sqlite://<path>` or `postgres://...`, and runs
    /// its migrations.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        let db = Self::connect_unmigrated(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Opens a connection pool without touching the schema (administration, tests).
    pub async fn connect_unmigrated(url: &str) -> Result<Db, sqlx::Error> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool =
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
            Db::Postgres(pool)
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            // WAL allows readers beside the one writer; writes queue on SQLite's lock
            // with a busy timeout instead of failing.
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
            Db::Sqlite(pool)
        };
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pool) => super::migrations::SQLITE.migrator().await?.run(pool).await?,
            Db::Postgres(pool) => super::migrations::POSTGRES.migrator().await?.run(pool).await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock upgrading read locks.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Runs a statement; answers the number of rows it touched.
    pub async fn execute(&self, sql: &str, args: Vec<Arg>) -> Result<u64, sqlx::Error> {
        on_backend!(self, pool => Ok(bind_all!(sqlx::query(sql), args).execute(pool).await?.rows_affected()))
    }

    pub async fn fetch_all(&self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => {
                Ok(bind_all!(sqlx::query(sql), args).fetch_all(pool).await?.into_iter().map(Row::Sqlite).collect())
            }
            Db::Postgres(pool) => {
                Ok(bind_all!(sqlx::query(sql), args).fetch_all(pool).await?.into_iter().map(Row::Postgres).collect())
            }
        }
    }

    pub async fn fetch_optional(&self, sql: &str, args: Vec<Arg>) -> Result<Option<Row>, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => Ok(bind_all!(sqlx::query(sql), args).fetch_optional(pool).await?.map(Row::Sqlite)),
            Db::Postgres(pool) => Ok(bind_all!(sqlx::query(sql), args).fetch_optional(pool).await?.map(Row::Postgres)),
        }
    }

    pub async fn fetch_one(&self, sql: &str, args: Vec<Arg>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(sql, args).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// Whether the store answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.fetch_one("SELECT 1 AS one", vec![]).await.is_ok()
    }

    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await)
    }
}

impl Tx {
    pub async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => Ok(bind_all!(sqlx::query(sql), args).execute(&mut **tx).await?.rows_affected()),
            Tx::Postgres(tx) => Ok(bind_all!(sqlx::query(sql), args).execute(&mut **tx).await?.rows_affected()),
        }
    }

    pub async fn fetch_all(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => {
                Ok(bind_all!(sqlx::query(sql), args).fetch_all(&mut **tx).await?.into_iter().map(Row::Sqlite).collect())
            }
            Tx::Postgres(tx) => Ok(bind_all!(sqlx::query(sql), args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect()),
        }
    }

    pub async fn fetch_optional(&mut self, sql: &str, args: Vec<Arg>) -> Result<Option<Row>, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => Ok(bind_all!(sqlx::query(sql), args).fetch_optional(&mut **tx).await?.map(Row::Sqlite)),
            Tx::Postgres(tx) => {
                Ok(bind_all!(sqlx::query(sql), args).fetch_optional(&mut **tx).await?.map(Row::Postgres))
            }
        }
    }

    pub async fn fetch_one(&mut self, sql: &str, args: Vec<Arg>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(sql, args).await?.ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

macro_rules! get {
    ($self:expr, $ty:ty, $col:expr) => {
        match $self {
            Row::Sqlite(r) => r.try_get::<$ty, _>($col),
            Row::Postgres(r) => r.try_get::<$ty, _>($col),
        }
    };
}

impl Row {
    pub fn i64(&self, col: &str) -> Result<i64, sqlx::Error> {
        get!(self, i64, col)
    }
    pub fn opt_i64(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        get!(self, Option<i64>, col)
    }
    pub fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        get!(self, String, col)
    }
    pub fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        get!(self, Option<String>, col)
    }
    pub fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error> {
        get!(self, Vec<u8>, col)
    }
    pub fn bool(&self, col: &str) -> Result<bool, sqlx::Error> {
        get!(self, bool, col)
    }
    pub fn opt_bool(&self, col: &str) -> Result<Option<bool>, sqlx::Error> {
        get!(self, Option<bool>, col)
    }
}
