//! Roles and which users hold them. The three built-in roles are rows like any other;
//! their permissions come from code ([`crate::access::permissions`]), not from the row.

use std::collections::BTreeMap;

use outpost_proto::time::now_ms;

use super::{Arg, Listing, Row, Store, StoreResult, parse_json};
use crate::access::permissions::Grants;
use crate::listing::ListQuery;
use crate::store::args;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// What `/rest/role/<id>` and `roles` lists name.
    pub id: i64,
    /// Unique; what `/rest/role` and messages show.
    pub name: String,
    /// Says what the role is for.
    pub description: String,
    /// A custom role's permission names (built-in roles ignore this).
    pub permissions: Vec<String>,
    /// Administrator, Automation or Observer: fixed permissions, never disabled.
    pub builtin: bool,
    /// A disabled role grants nothing but keeps its members for re-enabling.
    pub is_active: bool,
    /// Shown as `create_time`.
    pub created_ms: i64,
    /// Shown as `update_time`.
    pub updated_ms: i64,
}

/// The writable fields of a role, already validated.
#[derive(Debug, Clone, Default)]
pub struct RoleFields {
    /// Unique among roles.
    pub name: String,
    /// Says what the role is for.
    pub description: String,
    /// Permission names, checked against [`crate::access::permissions::Permission`].
    pub permissions: Vec<String>,
    /// False disables the role.
    pub is_active: bool,
}

const ROLE_COLUMNS: &str = "id, name, description, permissions, builtin, is_active, created_ms, updated_ms";

fn role_from_row(row: &Row) -> StoreResult<Role> {
    Ok(Role {
        id: row.i64("id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        permissions: serde_json::from_value(parse_json(&row.text("permissions")?)?).unwrap_or_default(),
        builtin: row.bool("builtin")?,
        is_active: row.bool("is_active")?,
        created_ms: row.i64("created_ms")?,
        updated_ms: row.i64("updated_ms")?,
    })
}

fn ids_from_rows(rows: &[Row], col: &str) -> StoreResult<Vec<i64>> {
    Ok(rows.iter().map(|r| r.i64(col)).collect::<Result<Vec<_>, _>>()?)
}

impl Store {
    /// Creates a custom role; a taken name is a unique violation.
    pub async fn create_role(&self, role: &RoleFields) -> StoreResult<Role> {
        let permissions = serde_json::to_string(&role.permissions).expect("strings serialize");
        let row = self
            .db
            .fetch_one(
                &format!(
                    "INSERT INTO roles (name, description, permissions, is_active, created_ms, updated_ms)
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING {ROLE_COLUMNS}"
                ),
                args![&role.name, &role.description, permissions, role.is_active, now_ms()],
            )
            .await?;
        role_from_row(&row)
    }

    /// Replaces a role's writable fields; `None` when it does not exist.
    pub async fn update_role(&self, id: i64, role: &RoleFields) -> StoreResult<Option<Role>> {
        let permissions = serde_json::to_string(&role.permissions).expect("strings serialize");
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "UPDATE roles SET name = $1, description = $2, permissions = $3, is_active = $4, updated_ms = $5
                     WHERE id = $6 RETURNING {ROLE_COLUMNS}"
                ),
                args![&role.name, &role.description, permissions, role.is_active, now_ms(), id],
            )
            .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    pub async fn get_role(&self, id: i64) -> StoreResult<Option<Role>> {
        let row = self.db.fetch_optional(&format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1"), args![id]).await?;
        row.as_ref().map(role_from_row).transpose()
    }

    /// Finds a role by numeric id or exact name.
    pub async fn find_role(&self, id_or_name: &str) -> StoreResult<Option<Role>> {
        if let Ok(id) = id_or_name.trim().parse::<i64>() {
            return self.get_role(id).await;
        }
        let row = self
            .db
            .fetch_optional(&format!("SELECT {ROLE_COLUMNS} FROM roles WHERE name = $1"), args![id_or_name.trim()])
            .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    /// A page of roles, filtered and sorted ([`super::collections::ROLES`]).
    pub async fn list_roles_by(&self, query: &ListQuery) -> StoreResult<Listing<Role>> {
        self.list(query, ROLE_COLUMNS, role_from_row).await
    }

    /// The ids of the roles a user holds (active or not).
    pub async fn user_role_ids(&self, user_id: i64) -> StoreResult<Vec<i64>> {
        let rows = self
            .db
            .fetch_all("SELECT role_id FROM user_roles WHERE user_id = $1 ORDER BY role_id", args![user_id])
            .await?;
        ids_from_rows(&rows, "role_id")
    }

    /// The ids of a role's members.
    pub async fn role_member_ids(&self, role_id: i64) -> StoreResult<Vec<i64>> {
        let rows = self
            .db
            .fetch_all("SELECT user_id FROM user_roles WHERE role_id = $1 ORDER BY user_id", args![role_id])
            .await?;
        ids_from_rows(&rows, "user_id")
    }

    /// The roles of several users at once, by user (a page of `/rest/ph_user`).
    pub async fn roles_of_users(&self, user_ids: &[i64]) -> StoreResult<BTreeMap<i64, Vec<i64>>> {
        self.memberships("user_id", "role_id", user_ids).await
    }

    /// The members of several roles at once, by role (a page of `/rest/role`).
    pub async fn members_of_roles(&self, role_ids: &[i64]) -> StoreResult<BTreeMap<i64, Vec<i64>>> {
        self.memberships("role_id", "user_id", role_ids).await
    }

    /// `user_roles` grouped by `key` for the given keys: one statement per chunk of ids,
    /// well below both backends' bind-parameter limits. Every key is in the answer.
    async fn memberships(&self, key: &str, value: &str, ids: &[i64]) -> StoreResult<BTreeMap<i64, Vec<i64>>> {
        let mut grouped: BTreeMap<i64, Vec<i64>> = ids.iter().map(|id| (*id, vec![])).collect();
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT {key}, {value} FROM user_roles WHERE {key} IN ({}) ORDER BY {key}, {value}",
                placeholders.join(", ")
            );
            let rows = self.db.fetch_all(&sql, chunk.iter().map(|id| Arg::from(*id)).collect()).await?;
            for row in &rows {
                grouped.entry(row.i64(key)?).or_default().push(row.i64(value)?);
            }
        }
        Ok(grouped)
    }

    /// Makes `role_ids` exactly the roles a user holds.
    pub async fn set_user_roles(&self, user_id: i64, role_ids: &[i64]) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.execute("DELETE FROM user_roles WHERE user_id = $1", args![user_id]).await?;
        for role_id in role_ids {
            tx.execute("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)", args![user_id, *role_id]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes `user_ids` exactly the members of a role.
    pub async fn set_role_members(&self, role_id: i64, user_ids: &[i64]) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.execute("DELETE FROM user_roles WHERE role_id = $1", args![role_id]).await?;
        for user_id in user_ids {
            tx.execute("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)", args![*user_id, role_id]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives a user a role if they lack it.
    pub async fn grant_role(&self, user_id: i64, role_id: i64) -> StoreResult<()> {
        self.db
            .execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT $1, $2
                 WHERE NOT EXISTS (SELECT 1 FROM user_roles WHERE user_id = $1 AND role_id = $2)",
                args![user_id, role_id],
            )
            .await?;
        Ok(())
    }

    /// What a user may do: the union of their active roles.
    pub async fn grants(&self, user_id: i64) -> StoreResult<Grants> {
        let rows = self
            .db
            .fetch_all(
                &format!(
                    "SELECT {} FROM roles r JOIN user_roles ur ON ur.role_id = r.id
                     WHERE ur.user_id = $1 AND r.is_active = $2 ORDER BY r.id",
                    ROLE_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ")
                ),
                args![user_id, true],
            )
            .await?;
        let roles = rows.iter().map(role_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Grants::of_roles(roles.iter().map(|r| (r.name.as_str(), r.builtin, &r.permissions[..]))))
    }

    /// Active users holding the active Administrator role.
    pub async fn active_administrators(&self) -> StoreResult<Vec<i64>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
                 WHERE r.name = 'Administrator' AND r.builtin = $1 AND u.is_active = $1 ORDER BY u.id",
                args![true],
            )
            .await?;
        ids_from_rows(&rows, "id")
    }
}
