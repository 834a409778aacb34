//! The audit trail (seed 002): append-only records, queried by time and by the seed's
//! object selections.

use super::{Row, Store, StoreResult, Tx};
use crate::store::args;

/// The source of records written by the broker's own audit calls.
pub const SOURCE_AUDIT: &str = "Audit";
/// The source of the record every action run leaves (AUDIT ID = the action run's id).
pub const SOURCE_ACTION_RUN: &str = "Action Run";

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// `Audit` or `Action Run`: with `audit_id`, the record's unique identifier.
    pub source: String,
    /// The row id for `Audit` records, the action run id for `Action Run` records.
    pub audit_id: i64,
    /// When it happened (Unix ms); `TIME`.
    pub time_ms: i64,
    /// Who acted; `None` for the broker itself and for unknown users failing to sign in.
    pub user_id: Option<i64>,
    /// The actor's name at the time, kept even if the user is renamed.
    pub username: String,
    /// The caller's address, `""` when unknown.
    pub ip: String,
    /// Which of the seed's selections the record belongs to: `ph_user`, `role`,
    /// `container`, `authentication` or `administration`.
    pub category: String,
    /// `OBJECT TYPE`: `ph_user`, `container`, `action`, `authentication`, ...
    pub object_type: String,
    /// `OBJECT ID`; `None` for events without one object.
    pub object_id: Option<i64>,
    /// `RELATED OBJECT TYPE`: `container` for action runs.
    pub related_type: Option<String>,
    /// `RELATED OBJECT ID`.
    pub related_id: Option<i64>,
    /// `NOTE`: what happened, as the seed words it (`login:Success`, `GET:/rest/...`).
    pub note: String,
    /// `CHANGED FIELD`, `""` when nothing changed.
    pub changed_field: String,
    /// Already masked where secret.
    pub old_value: Option<String>,
    /// Already masked where secret.
    pub new_value: Option<String>,
}

/// A record to write; the store assigns the id (and time when 0).
pub type NewAuditRecord = AuditRecord;

/// Which objects a query selects; several selections are OR-ed, none means everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `*`: every record of the kind.
    All,
    /// These ids.
    Ids(Vec<i64>),
    /// Nothing can match (e.g. playbooks, which Outpost does not have).
    Nothing,
}

/// An audit query, every part already validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    /// Inclusive.
    pub start_ms: i64,
    /// Exclusive.
    pub end_ms: i64,
    /// Oldest first when true (`sort=asc`).
    pub ascending: bool,
    /// Records done by these users, or about them.
    pub users: Option<Selection>,
    /// Changes to these roles, and the records of their current members: what they did
    /// and what was done to them (seed 002: the role acts like a group of users).
    pub roles: Option<Selection>,
    /// Records about these containers or related to them (action runs).
    pub containers: Option<Selection>,
    /// Playbooks: Outpost has none, so any selection matches nothing.
    pub playbooks: Option<Selection>,
    /// Sign-ins and refusals (`authentication=*`).
    pub authentication: bool,
    /// Apps, assets, settings, audit reads (`administration=*`).
    pub administration: bool,
    /// At most this many records after skipping `offset`; `None` = all.
    pub limit: Option<i64>,
    /// Records skipped before `limit` applies.
    pub offset: i64,
    /// Set for a reader who may not see users and roles (no `users_roles:view`): records
    /// about users and roles, and sign-in events but this user's own, are left out.
    pub people_hidden_from: Option<i64>,
}

const COLUMNS: &str = "id, source, source_id, time_ms, user_id, username, ip, category, object_type, object_id,
    related_type, related_id, note, changed_field, old_value, new_value";

fn record_from_row(row: &Row) -> StoreResult<AuditRecord> {
    let id = row.i64("id")?;
    Ok(AuditRecord {
        source: row.text("source")?,
        audit_id: row.opt_i64("source_id")?.unwrap_or(id),
        time_ms: row.i64("time_ms")?,
        user_id: row.opt_i64("user_id")?,
        username: row.text("username")?,
        ip: row.text("ip")?,
        category: row.text("category")?,
        object_type: row.text("object_type")?,
        object_id: row.opt_i64("object_id")?,
        related_type: row.opt_text("related_type")?,
        related_id: row.opt_i64("related_id")?,
        note: row.text("note")?,
        changed_field: row.text("changed_field")?,
        old_value: row.opt_text("old_value")?,
        new_value: row.opt_text("new_value")?,
    })
}

fn id_list(ids: &[i64]) -> String {
    // Ids are parsed integers, so inlining them is safe and keeps one statement per query.
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// The WHERE condition of one selection; `None` when it cannot match anything.
fn condition(kind: &str, selection: &Selection) -> Option<String> {
    let ids = match selection {
        Selection::Nothing => return None,
        Selection::Ids(ids) if ids.is_empty() => return None,
        Selection::Ids(ids) => Some(id_list(ids)),
        Selection::All => None,
    };
    Some(match (kind, ids) {
        ("user", None) => "(user_id IS NOT NULL OR category = 'ph_user')".into(),
        ("user", Some(ids)) => format!("(user_id IN ({ids}) OR (object_type = 'ph_user' AND object_id IN ({ids})))"),
        ("role", None) => "(category = 'role' OR user_id IN (SELECT user_id FROM user_roles)
            OR (object_type = 'ph_user' AND object_id IN (SELECT user_id FROM user_roles)))"
            .into(),
        ("role", Some(ids)) => format!(
            "((object_type = 'role' AND object_id IN ({ids}))
            OR user_id IN (SELECT user_id FROM user_roles WHERE role_id IN ({ids}))
            OR (object_type = 'ph_user' AND object_id IN (SELECT user_id FROM user_roles WHERE role_id IN ({ids}))))"
        ),
        ("container", None) => "(category = 'container')".into(),
        ("container", Some(ids)) => format!(
            "((object_type = 'container' AND object_id IN ({ids})) OR (related_type = 'container' AND related_id IN ({ids})))"
        ),
        _ => return None,
    })
}

async fn insert(tx: &mut Tx, r: &NewAuditRecord) -> StoreResult<()> {
    let source_id = (r.source != SOURCE_AUDIT).then_some(r.audit_id);
    let time = if r.time_ms == 0 { outpost_proto::time::now_ms() } else { r.time_ms };
    tx.execute(
        "INSERT INTO audit_log (source, source_id, time_ms, user_id, username, ip, category, object_type, object_id,
         related_type, related_id, note, changed_field, old_value, new_value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        args![
            &r.source,
            source_id,
            time,
            r.user_id,
            &r.username,
            &r.ip,
            &r.category,
            &r.object_type,
            r.object_id,
            r.related_type.clone(),
            r.related_id,
            &r.note,
            &r.changed_field,
            r.old_value.clone(),
            r.new_value.clone()
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// Appends records in one transaction. A record of a non-`Audit` source whose
    /// (source, AUDIT ID) exists already is a unique violation.
    pub async fn append_audit(&self, records: &[NewAuditRecord]) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        for record in records {
            insert(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The records a query selects, newest first unless `ascending`.
    pub async fn query_audit(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        let mut selections: Vec<Option<String>> = vec![];
        let mut any = false;
        for (kind, selection) in
            [("user", &q.users), ("role", &q.roles), ("container", &q.containers), ("playbook", &q.playbooks)]
        {
            if let Some(selection) = selection {
                any = true;
                selections.push(condition(kind, selection));
            }
        }
        if q.authentication {
            any = true;
            selections.push(Some("category = 'authentication'".into()));
        }
        if q.administration {
            any = true;
            selections.push(Some("category = 'administration'".into()));
        }
        let objects = if any {
            let matching: Vec<String> = selections.into_iter().flatten().collect();
            if matching.is_empty() { " AND 1 = 0".to_string() } else { format!(" AND ({})", matching.join(" OR ")) }
        } else {
            String::new()
        };
        let mut values = args![q.start_ms, q.end_ms, q.limit.unwrap_or(i64::MAX), q.offset.max(0)];
        let hidden = match q.people_hidden_from {
            Some(reader) => {
                values.push(reader.into());
                format!(
                    " AND NOT (object_type IN ('ph_user', 'role') OR category IN ('ph_user', 'role')
                     OR (category = 'authentication' AND (user_id IS NULL OR user_id <> ${})))",
                    values.len()
                )
            }
            None => String::new(),
        };
        let order = if q.ascending { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE time_ms >= $1 AND time_ms < $2{objects}{hidden}
             ORDER BY time_ms {order}, id {order} LIMIT $3 OFFSET $4"
        );
        let rows = self.db.fetch_all(&sql, values).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// The ids of the containers with this exact name (names need not be unique).
    pub async fn container_ids_named(&self, name: &str) -> StoreResult<Vec<i64>> {
        let rows = self.db.fetch_all("SELECT id FROM containers WHERE name = $1 ORDER BY id", args![name]).await?;
        Ok(rows.iter().map(|r| r.i64("id")).collect::<Result<Vec<_>, _>>()?)
    }

    /// Deletes records older than `before_ms` (retention); answers how many.
    pub async fn purge_audit(&self, before_ms: i64) -> StoreResult<u64> {
        Ok(self.db.execute("DELETE FROM audit_log WHERE time_ms < $1", args![before_ms]).await?)
    }
}
