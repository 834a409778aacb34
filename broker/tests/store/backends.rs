//! Runs a store case against both backends: SQLite in a temp dir, and PostgreSQL in a
//! fresh database on the machine's server (trust auth), dropped at the end of the case.

use std::future::Future;

use outpost_broker::store::{Store, db::Db};
use outpost_proto::seal::SealKey;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub async fn with_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    case(Store::open(&url, SealKey::generate()).await.unwrap()).await;
}

pub async fn with_postgres<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = outpost_tests::unique("outpost_store_");
    let admin = Db::connect_unmigrated(PG_ADMIN).await.expect("the machine's PostgreSQL at 127.0.0.1:5432");
    admin.execute(&format!("CREATE DATABASE {name}"), vec![]).await.unwrap();
    let store = Store::open(&format!("postgres://postgres@127.0.0.1:5432/{name}"), SealKey::generate()).await.unwrap();
    case(store.clone()).await;
    store.close().await;
    admin.execute(&format!("DROP DATABASE {name} WITH (FORCE)"), vec![]).await.unwrap();
}

/// One `#[tokio::test]` per case and backend, in modules `sqlite` and `postgres` of the
/// module that lists the cases.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() { $crate::backends::with_sqlite(super::$case).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() { $crate::backends::with_postgres(super::$case).await; })*
        }
    };
}
