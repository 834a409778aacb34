//! Roles, their permissions and their members: the rules every change follows.
//!
//! - The built-in roles (Administrator, Automation, Observer) keep their names,
//!   permissions and active state; only their members and description change.
//! - Custom roles hold permission names from [`Permission`]; disabling one makes it grant
//!   nothing and keeps its members for re-enabling.
//! - The Administrator role keeps at least one active member
//!   ([`Broker::keep_an_administrator`]).
//! - Every change is audited as `who`'s, and clears the remembered sign-ins.

use outpost_proto::OutpostError;

use crate::Broker;
use crate::access::audit::{Actor, AuditObject, role_fields};
use crate::access::permissions::{ADMINISTRATOR, Permission};
use crate::store::roles::{Role, RoleFields};

/// Checks a role name; answers it trimmed.
pub fn check_role_name(name: &str) -> Result<String, OutpostError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(OutpostError::invalid("'name' must be 1 to 100 printable characters"));
    }
    if name.parse::<i64>().is_ok() {
        return Err(OutpostError::invalid("'name' cannot be a number: roles are found by id or name"));
    }
    Ok(name.to_string())
}

/// Checks permission names; answers them sorted, without repeats.
pub fn check_permissions(names: &[String]) -> Result<Vec<String>, OutpostError> {
    let mut out: Vec<String> = vec![];
    for (i, name) in names.iter().enumerate() {
        let Some(p) = Permission::parse(name) else {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
            return Err(OutpostError::invalid(format!(
                "'permissions[{i}]': unknown permission '{name}' (known: {})",
                known.join(", ")
            )));
        };
        if !out.iter().any(|n| n == p.name()) {
            out.push(p.name().to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// What a role becomes.
#[derive(Debug, Clone)]
pub struct RoleChange {
    /// The fields it has afterwards ([`check_role_name`], [`check_permissions`]).
    pub fields: RoleFields,
    /// Whether the client named the permissions at all (a built-in role refuses that).
    pub permissions_given: bool,
    /// Its members afterwards, by user id; `None` keeps them.
    pub members: Option<Vec<i64>>,
}

impl Broker {
    /// A role by id.
    pub async fn role(&self, id: i64) -> Result<Role, OutpostError> {
        self.store.get_role(id).await?.ok_or_else(|| OutpostError::not_found(format!("role {id} not found")))
    }

    /// User ids for user ids or names as a client gave them (`field` names them in
    /// errors, e.g. `users`), sorted and without repeats.
    pub async fn user_ids(&self, field: &str, keys: &[String]) -> Result<Vec<i64>, OutpostError> {
        let mut ids = vec![];
        for (i, key) in keys.iter().enumerate() {
            let user = match key.parse::<i64>() {
                Ok(id) => self.store.get_user(id).await?,
                Err(_) => self.store.user_by_name(key).await?,
            };
            let user =
                user.ok_or_else(|| OutpostError::not_found(format!("'{field}[{i}]': user '{key}' not found")))?;
            if !ids.contains(&user.id) {
                ids.push(user.id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Creates a custom role with its members as `who`, audited.
    pub async fn create_role(&self, who: &Actor, fields: RoleFields, members: Vec<i64>) -> Result<Role, OutpostError> {
        let role = match self.store.create_role(&fields).await {
            Ok(role) => role,
            Err(e) if e.is_unique_violation() => {
                return Err(OutpostError::conflict(format!("a role named '{}' exists already", fields.name)));
            }
            Err(e) => return Err(e.into()),
        };
        self.store.set_role_members(role.id, &members).await?;
        self.auth.forget();
        self.audit.record_change(who, AuditObject::role(&role), None, Some(&role_fields(&role, &members))).await;
        Ok(role)
    }

    /// Changes a role as `who`, audited. A built-in role changes only its members and
    /// description; the Administrator role keeps an active member.
    pub async fn update_role(&self, who: &Actor, before: &Role, change: RoleChange) -> Result<Role, OutpostError> {
        let RoleChange { fields, permissions_given, members } = change;
        if before.builtin && (fields.name != before.name || permissions_given || !fields.is_active) {
            return Err(OutpostError::invalid(format!(
                "role '{}' is built in: only its 'users' and 'description' can change",
                before.name
            )));
        }
        let members_before = self.store.role_member_ids(before.id).await?;
        let members = members.unwrap_or_else(|| members_before.clone());
        if before.builtin && before.name == ADMINISTRATOR {
            for removed in members_before.iter().filter(|id| !fields.is_active || !members.contains(id)) {
                self.keep_an_administrator(*removed, false).await?;
            }
        }
        let after = match self.store.update_role(before.id, &fields).await {
            Ok(Some(role)) => role,
            Ok(None) => return Err(OutpostError::not_found(format!("role {} not found", before.id))),
            Err(e) if e.is_unique_violation() => {
                return Err(OutpostError::conflict(format!("a role named '{}' exists already", fields.name)));
            }
            Err(e) => return Err(e.into()),
        };
        if members != members_before {
            self.store.set_role_members(after.id, &members).await?;
        }
        self.auth.forget();
        let (old, new) = (role_fields(before, &members_before), role_fields(&after, &members));
        self.audit.record_change(who, AuditObject::role(&after), Some(&old), Some(&new)).await;
        Ok(after)
    }

    /// Disables a custom role as `who`, audited: it then grants nothing, and keeps its
    /// members.
    pub async fn disable_role(&self, who: &Actor, before: &Role) -> Result<Role, OutpostError> {
        if before.builtin {
            return Err(OutpostError::invalid(format!("role '{}' is built in and cannot be disabled", before.name)));
        }
        let members = self.store.role_member_ids(before.id).await?;
        let fields = RoleFields {
            name: before.name.clone(),
            description: before.description.clone(),
            permissions: before.permissions.clone(),
            is_active: false,
        };
        let after = self
            .store
            .update_role(before.id, &fields)
            .await?
            .ok_or_else(|| OutpostError::not_found(format!("role {} not found", before.id)))?;
        self.auth.forget();
        let (old, new) = (role_fields(before, &members), role_fields(&after, &members));
        self.audit.record_change(who, AuditObject::role(&after), Some(&old), Some(&new)).await;
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_checked_by_name() {
        let given = ["audit:view", "containers:view", "audit:view"].map(String::from);
        assert_eq!(check_permissions(&given).unwrap(), vec!["audit:view", "containers:view"]);
        let unknown = check_permissions(&["root".to_string()]).unwrap_err().message;
        assert!(unknown.starts_with("'permissions[0]': unknown permission 'root'"), "{unknown}");
        assert!(check_role_name("7").is_err());
        assert_eq!(check_role_name(" Auditor ").unwrap(), "Auditor");
    }
}
