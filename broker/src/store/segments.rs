//! Automation brokers: SOAR's name for the remote component that runs an asset's
//! actions inside another network segment. In Outpost each one is a segment, served by
//! the workers started with `--segment <name>`.

use outpost_proto::time::now_ms;

use super::{Row, Store, StoreResult};
use crate::store::args;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub created_ms: i64,
}

fn segment_from_row(row: &Row) -> StoreResult<Segment> {
    Ok(Segment { id: row.i64("id")?, name: row.text("name")?, created_ms: row.i64("created_ms")? })
}

impl Store {
    /// Creates a segment; a taken name is a unique violation.
    pub async fn create_segment(&self, name: &str) -> StoreResult<Segment> {
        let row = self
            .db
            .fetch_one(
                "INSERT INTO automation_brokers (name, created_ms) VALUES ($1, $2) RETURNING id, name, created_ms",
                args![name, now_ms()],
            )
            .await?;
        segment_from_row(&row)
    }

    pub async fn get_segment(&self, id: i64) -> StoreResult<Option<Segment>> {
        let row = self
            .db
            .fetch_optional("SELECT id, name, created_ms FROM automation_brokers WHERE id = $1", args![id])
            .await?;
        row.as_ref().map(segment_from_row).transpose()
    }

    pub async fn list_segments(&self) -> StoreResult<Vec<Segment>> {
        let rows =
            self.db.fetch_all("SELECT id, name, created_ms FROM automation_brokers ORDER BY id", args![]).await?;
        rows.iter().map(segment_from_row).collect()
    }
}
