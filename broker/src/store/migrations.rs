//! The store's schema migrations, embedded at build time (see `build.rs`) and run by
//! sqlx's `Migrator`: the same versions, descriptions and checksums as sqlx's
//! `migrate!` macro gives, so databases migrated by either are the same to sqlx.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// One backend's migrations as `(version, description, sql)`, by version.
#[derive(Debug, Clone, Copy)]
pub struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

/// `migrations/sqlite`.
pub const SQLITE: Embedded = Embedded(embedded::SQLITE);
/// `migrations/postgres`.
pub const POSTGRES: Embedded = Embedded(embedded::POSTGRES);

impl Embedded {
    pub fn migrations(self) -> Vec<Migration> {
        self.0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    // sqlx's opt-out of the migration transaction, as its file reader has it.
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect()
    }

    pub async fn migrator(self) -> Result<Migrator, MigrateError> {
        Migrator::new(self).await
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sqlx's own reader (the one `migrate!` uses) finds in the folder.
    async fn from_folder(backend: &str) -> Vec<Migration> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
        Migrator::new(dir).await.expect("the migrations folder reads").migrations.into_owned()
    }

    #[tokio::test]
    async fn embedded_migrations_are_what_sqlx_reads_from_the_folder() {
        for (backend, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let folder = from_folder(backend).await;
            let ours = embedded.migrations();
            assert!(!ours.is_empty(), "{backend}: no migrations embedded");
            assert_eq!(ours.len(), folder.len(), "{backend}");
            for (a, b) in ours.iter().zip(&folder) {
                assert_eq!((a.version, &a.description, &a.checksum), (b.version, &b.description, &b.checksum));
                assert_eq!(a.no_tx, b.no_tx);
            }
        }
    }
}
