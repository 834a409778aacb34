//! Listing collections: SOAR's paging, sorting and `_filter_<field>[__<lookup>]`
//! conditions turned into SQL, once for every collection and both backends.
//!
//! Each collection declares the fields clients may filter and sort on ([`Field`]), each
//! mapped to a fixed SQL expression written in this file. Client input never reaches the
//! SQL text: field names are looked up in the whitelist, and every value is a bound
//! argument (`$N`, which SQLite and PostgreSQL both accept).
//!
//! The text syntax clients write (`_filter_action="whois domain"`, `__in=[1,2]`) is parsed
//! by [`crate::listing`]; this module takes the typed result.

use std::collections::HashMap;

use super::{Arg, Dialect, Listing, Row, Store, StoreError, StoreResult};
use crate::listing::{Condition, Filter, Kind, ListQuery, MAX_UNPAGED, Order, Value};
use crate::store::args;

/// A field clients may filter and sort on.
#[derive(Debug)]
pub struct Field {
    /// The name clients use: the record's JSON field name (`_filter_<name>`, `sort=<name>`).
    pub name: &'static str,
    /// The SQL expression it maps to; a constant of this file, never client input.
    pub sql: &'static str,
    /// Decides which values and lookups are accepted.
    pub kind: Kind,
    /// Whether the column may hold NULL; sorting then puts NULLs last when ascending and
    /// first when descending, the same on both backends.
    pub nullable: bool,
}

/// A listable collection: its table and its whitelist.
#[derive(Debug)]
pub struct Collection {
    /// What messages call it, e.g. "action runs".
    pub what: &'static str,
    /// The table rows come from, or a derived table (a constant of this file).
    pub table: &'static str,
    /// A condition every listing of this collection applies ("" for none).
    pub base: &'static str,
    /// The fields clients may filter and sort on.
    pub fields: &'static [Field],
    /// The field sorted on when the client names none (`None`: the tie-breaker only).
    pub default_sort: Option<&'static str>,
    /// The unique SQL column that orders rows with equal sort values, so pages never
    /// overlap or skip rows.
    pub tiebreak: &'static str,
}

impl Collection {
    /// The whitelisted field of that name.
    pub fn field(&'static self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The names clients may use, for error messages.
    pub fn field_names(&self) -> String {
        self.fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
    }
}

/// The `WHERE` clause, binding values into `args`.
fn where_sql(query: &ListQuery, dialect: Dialect, args: &mut Vec<Arg>) -> String {
    let mut parts: Vec<String> = vec![];
    if !query.collection.base.is_empty() {
        parts.push(query.collection.base.to_string());
    }
    for filter in &query.filters {
        parts.push(filter_sql(filter, dialect, args));
    }
    if parts.is_empty() { String::new() } else { format!("WHERE {}", parts.join(" AND ")) }
}

/// The `ORDER BY` list: the sort field, then the tie-breaker, in one direction.
fn order_sql(query: &ListQuery, dialect: Dialect) -> String {
    let dir = order_direction(query.order);
    let tiebreak = query.collection.tiebreak;
    let field = query.sort.or_else(|| query.collection.default_sort.and_then(|name| query.collection.field(name)));
    let Some(field) = field.filter(|f| f.sql != tiebreak) else {
        return format!("{tiebreak} {dir}");
    };
    let mut sql = String::new();
    if field.nullable {
        sql.push_str(&format!("({} IS NULL) {dir}, ", field.sql));
    }
    sql.push_str(field.sql);
    // PostgreSQL sorts text by the database's locale, SQLite by bytes: sort by bytes on both.
    if field.kind == Kind::Text && dialect == Dialect::Postgres {
        sql.push_str(" COLLATE \"C\"");
    }
    format!("{sql} {dir}, {tiebreak} {dir}")
}

/// `ASC` or `DESC`.
fn order_direction(order: Order) -> &'static str {
    match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    }
}

/// A condition's value as a bound argument.
fn arg(value: &Value) -> Arg {
    match value {
        Value::Int(v) => Arg::I64(Some(*v)),
        Value::Text(v) => Arg::Text(Some(v.clone())),
        Value::Bool(v) => Arg::Bool(*v),
    }
}

fn bind(args: &mut Vec<Arg>, arg: Arg) -> String {
    args.push(arg);
    format!("${}", args.len())
}

/// Escapes `LIKE` wildcards so a client's `%` or `_` matches itself.
fn like_pattern(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

fn filter_sql(filter: &Filter, dialect: Dialect, args: &mut Vec<Arg>) -> String {
    let col = filter.field.sql;
    // Text compares by bytes on both backends, as it sorts.
    let collate = if filter.field.kind == Kind::Text && dialect == Dialect::Postgres { " COLLATE \"C\"" } else { "" };
    let compare =
        |op: &str, value: &Value, args: &mut Vec<Arg>| format!("{col}{collate} {op} {}", bind(args, arg(value)));
    match &filter.condition {
        Condition::Eq(value) => format!("{col} = {}", bind(args, arg(value))),
        Condition::IsNull(true) => format!("{col} IS NULL"),
        Condition::IsNull(false) => format!("{col} IS NOT NULL"),
        Condition::In(values) if values.is_empty() => "1 = 0".into(),
        Condition::In(values) => {
            let placeholders: Vec<String> = values.iter().map(|v| bind(args, arg(v))).collect();
            format!("{col} IN ({})", placeholders.join(", "))
        }
        Condition::IContains(text) => {
            format!("LOWER({col}) LIKE LOWER({}) ESCAPE '\\'", bind(args, Arg::Text(Some(like_pattern(text)))))
        }
        Condition::Gt(value) => compare(">", value, args),
        Condition::Lt(value) => compare("<", value, args),
        Condition::Gte(value) => compare(">=", value, args),
        Condition::Lte(value) => compare("<=", value, args),
    }
}

impl Store {
    /// Counts and fetches one page of a collection. `columns` and `from_row` say how a
    /// row becomes a record.
    pub(crate) async fn list<T>(
        &self,
        query: &ListQuery,
        columns: &str,
        from_row: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Listing<T>> {
        let table = query.collection.table;
        let mut args = vec![];
        let filter = where_sql(query, self.db.dialect(), &mut args);
        let count =
            self.db.fetch_one(&format!("SELECT COUNT(*) AS n FROM {table} {filter}"), args.clone()).await?.i64("n")?;
        let count = count.max(0) as u64;
        if query.page.page_size == 0 && count > MAX_UNPAGED {
            return Err(StoreError::TooMany { what: query.collection.what, count, max: MAX_UNPAGED });
        }
        let (limit, offset) = query.page.limit_offset();
        let data = if offset as u64 >= count {
            vec![]
        } else {
            let order = order_sql(query, self.db.dialect());
            let limit = bind(&mut args, Arg::I64(Some(limit)));
            let offset = bind(&mut args, Arg::I64(Some(offset)));
            let sql = format!("SELECT {columns} FROM {table} {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
            self.db.fetch_all(&sql, args).await?.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?
        };
        Ok(Listing { count, num_pages: query.page.num_pages(count), data })
    }

    /// The display names of objects by id, for `_pretty_*` fields. Unknown ids are absent.
    pub async fn names(&self, kind: Named, ids: impl IntoIterator<Item = i64>) -> StoreResult<HashMap<i64, String>> {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let (table, column) = kind.table_and_column();
        let mut names = HashMap::new();
        // Well under SQLite's limit on bound variables.
        for chunk in ids.chunks(500) {
            let mut args = vec![];
            let placeholders: Vec<String> = chunk.iter().map(|id| bind(&mut args, Arg::I64(Some(*id)))).collect();
            let sql = format!("SELECT id, {column} AS name FROM {table} WHERE id IN ({})", placeholders.join(", "));
            for row in self.db.fetch_all(&sql, args).await? {
                names.insert(row.i64("id")?, row.text("name")?);
            }
        }
        Ok(names)
    }

    /// Whether an artifact exists and belongs to a container (for `context.artifact_id`).
    pub async fn artifact_in_container(&self, artifact_id: i64, container_id: i64) -> StoreResult<bool> {
        let row = self
            .db
            .fetch_optional(
                "SELECT id FROM artifacts WHERE id = $1 AND container_id = $2",
                args![artifact_id, container_id],
            )
            .await?;
        Ok(row.is_some())
    }
}

/// Objects whose names `_pretty_*` fields show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Named {
    User,
    Container,
    Asset,
    App,
    Segment,
    ActionRun,
    Role,
}

impl Named {
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            Named::User => ("users", "username"),
            Named::Container => ("containers", "name"),
            Named::Asset => ("assets", "name"),
            Named::App => ("apps", "name"),
            Named::Segment => ("automation_brokers", "name"),
            Named::ActionRun => ("action_runs", "name"),
            Named::Role => ("roles", "name"),
        }
    }
}

const fn field(name: &'static str, sql: &'static str, kind: Kind) -> Field {
    Field { name, sql, kind, nullable: false }
}

const fn nullable(name: &'static str, sql: &'static str, kind: Kind) -> Field {
    Field { name, sql, kind, nullable: true }
}

use Kind::{Bool, Int, Text, Time};

/// `/rest/action_run`.
pub static ACTION_RUNS: Collection = Collection {
    what: "action runs",
    table: "action_runs",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("action", "action", Text),
        field("name", "name", Text),
        field("type", "type", Text),
        field("container", "container_id", Int),
        field("status", "status", Text),
        field("message", "message", Text),
        field("cancelled", "cancelled", Text),
        nullable("creator", "creator", Int),
        nullable("owner", "owner", Int),
        field("exec_delay_secs", "exec_delay_secs", Int),
        field("create_time", "create_ms", Time),
        field("assign_time", "assign_ms", Time),
        nullable("start_time", "start_ms", Time),
        nullable("close_time", "close_ms", Time),
        field("update_time", "update_ms", Time),
        field("due_time", "due_ms", Time),
        field("version", "version", Int),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/app_run` and `/rest/action_run/<id>/app_runs`.
pub static APP_RUNS: Collection = Collection {
    what: "app runs",
    table: "app_runs",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("action", "action", Text),
        field("action_run", "action_run_id", Int),
        field("asset", "asset_id", Int),
        field("app", "app_id", Int),
        field("app_name", "app_name", Text),
        field("app_version", "app_version", Text),
        field("container", "container_id", Int),
        field("status", "status", Text),
        field("message", "message", Text),
        field("exception_occured", "exception_occured", Bool),
        nullable("node_guid", "node_guid", Text),
        nullable("automation_broker", "automation_broker_id", Int),
        nullable("effective_user", "effective_user", Int),
        nullable("start_time", "start_ms", Time),
        nullable("end_time", "end_ms", Time),
        field("version", "version", Int),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/app_run/<id>/action_result`: recorded results, by parameter index.
pub static ACTION_RESULTS: Collection = Collection {
    what: "action results",
    table: "tasks",
    base: "status IS NOT NULL",
    fields: &[field("app_run", "app_run_id", Int), field("status", "status", Text), field("message", "message", Text)],
    default_sort: None,
    tiebreak: "parameter_index",
};

/// `/rest/app`.
pub static APPS: Collection = Collection {
    what: "apps",
    table: "apps",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("appid", "appid", Text),
        field("name", "name", Text),
        field("app_version", "app_version", Text),
        field("product_vendor", "product_vendor", Text),
        field("product_name", "product_name", Text),
        field("create_time", "created_ms", Time),
        field("update_time", "updated_ms", Time),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/asset`.
pub static ASSETS: Collection = Collection {
    what: "assets",
    table: "assets",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("name", "name", Text),
        field("app", "app_id", Int),
        field("description", "description", Text),
        nullable("automation_broker_id", "automation_broker_id", Int),
        field("create_time", "created_ms", Time),
        field("update_time", "updated_ms", Time),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/container`.
pub static CONTAINERS: Collection = Collection {
    what: "containers",
    table: "containers",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("name", "name", Text),
        field("label", "label", Text),
        field("description", "description", Text),
        field("status", "status", Text),
        field("severity", "severity", Text),
        field("sensitivity", "sensitivity", Text),
        field("source_data_identifier", "source_data_identifier", Text),
        nullable("owner_id", "owner_id", Int),
        field("kill_chain", "kill_chain", Text),
        nullable("asset", "asset_id", Int),
        nullable("ingest_app_id", "ingest_app_id", Int),
        field("create_time", "create_ms", Time),
        field("start_time", "start_ms", Time),
        nullable("end_time", "end_ms", Time),
        nullable("due_time", "due_ms", Time),
        nullable("close_time", "close_ms", Time),
        field("container_update_time", "update_ms", Time),
        nullable("artifact_update_time", "artifact_update_ms", Time),
        field("artifact_count", "artifact_count", Int),
        field("version", "version", Int),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/artifact` and `/rest/container/<id>/artifacts`.
pub static ARTIFACTS: Collection = Collection {
    what: "artifacts",
    table: "artifacts",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("container", "container_id", Int),
        field("name", "name", Text),
        field("label", "label", Text),
        field("description", "description", Text),
        field("type", "type", Text),
        field("severity", "severity", Text),
        field("source_data_identifier", "source_data_identifier", Text),
        nullable("owner_id", "owner_id", Int),
        field("create_time", "create_ms", Time),
        field("update_time", "update_ms", Time),
        field("start_time", "start_ms", Time),
        nullable("end_time", "end_ms", Time),
        field("version", "version", Int),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/ph_user`: never the password hash.
pub static USERS: Collection = Collection {
    what: "users",
    table: "users",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("username", "username", Text),
        field("email", "email", Text),
        field("first_name", "first_name", Text),
        field("last_name", "last_name", Text),
        field("type", "user_type", Text),
        field("is_active", "is_active", Bool),
        field("create_time", "created_ms", Time),
        field("update_time", "updated_ms", Time),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/role`.
pub static ROLES: Collection = Collection {
    what: "roles",
    table: "roles",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("name", "name", Text),
        field("description", "description", Text),
        field("builtin", "builtin", Bool),
        field("is_active", "is_active", Bool),
        field("create_time", "created_ms", Time),
        field("update_time", "updated_ms", Time),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/ph_user/<id>/token`: never the token hash.
pub static TOKENS: Collection = Collection {
    what: "tokens",
    table: "tokens",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("user", "user_id", Int),
        field("label", "label", Text),
        field("create_time", "created_ms", Time),
        nullable("expires_on", "expires_ms", Time),
        nullable("revoked_time", "revoked_ms", Time),
    ],
    default_sort: None,
    tiebreak: "id",
};

/// `/rest/app_status`: the latest `test connectivity` app run of each asset, with what
/// its answer shows.
pub static APP_STATUSES: Collection = Collection {
    what: "connectivity tests",
    table: "(SELECT ar.id, ar.app_id, ar.app_name, ar.asset_id, COALESCE(a.name, '') AS asset_name,
             ar.action_run_id, r.create_ms, ar.status,
             COALESCE((SELECT t.message FROM tasks t WHERE t.app_run_id = ar.id ORDER BY t.parameter_index LIMIT 1), '')
                 AS result_message
             FROM app_runs ar JOIN action_runs r ON r.id = ar.action_run_id LEFT JOIN assets a ON a.id = ar.asset_id
             WHERE ar.id IN (SELECT MAX(latest.id) FROM app_runs latest JOIN action_runs lr ON lr.id = latest.action_run_id
                             WHERE lr.type = 'test' GROUP BY latest.asset_id)) app_status",
    base: "",
    fields: &[
        field("id", "id", Int),
        field("app", "app_id", Int),
        field("asset", "asset_id", Int),
        field("status", "status", Text),
        field("create_time", "create_ms", Time),
    ],
    default_sort: Some("asset"),
    tiebreak: "id",
};

/// Every collection, for checks that must hold for all of them.
pub static COLLECTIONS: &[&Collection] = &[
    &ACTION_RUNS,
    &APP_RUNS,
    &ACTION_RESULTS,
    &APPS,
    &ASSETS,
    &CONTAINERS,
    &ARTIFACTS,
    &USERS,
    &ROLES,
    &TOKENS,
    &APP_STATUSES,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_never_spliced() {
        let hostile = "x'; DROP TABLE action_runs; --";
        let mut q = ListQuery::new(&ACTION_RUNS);
        q.filters.push(Filter {
            field: ACTION_RUNS.field("name").unwrap(),
            condition: Condition::Eq(Value::Text(hostile.into())),
        });
        q.filters.push(Filter {
            field: ACTION_RUNS.field("action").unwrap(),
            condition: Condition::IContains("50%_off".into()),
        });
        q.filters.push(Filter {
            field: ACTION_RUNS.field("id").unwrap(),
            condition: Condition::In(vec![Value::Int(1), Value::Int(2)]),
        });
        let mut args = vec![];
        let sql = where_sql(&q, Dialect::Sqlite, &mut args);
        assert_eq!(sql, "WHERE name = $1 AND LOWER(action) LIKE LOWER($2) ESCAPE '\\' AND id IN ($3, $4)");
        assert!(!sql.contains("DROP"));
        assert!(matches!(&args[1], Arg::Text(Some(p)) if p == "%50\\%\\_off%"));
    }

    #[test]
    fn ordering_is_stable_and_backend_neutral() {
        let mut q = ListQuery::new(&ACTION_RUNS);
        assert_eq!(order_sql(&q, Dialect::Sqlite), "id ASC");
        q.sort = ACTION_RUNS.field("close_time");
        q.order = Order::Desc;
        assert_eq!(order_sql(&q, Dialect::Sqlite), "(close_ms IS NULL) DESC, close_ms DESC, id DESC");
        q.sort = ACTION_RUNS.field("name");
        q.order = Order::Asc;
        assert_eq!(order_sql(&q, Dialect::Postgres), "name COLLATE \"C\" ASC, id ASC");
        let results = ListQuery::new(&ACTION_RESULTS);
        let mut args = vec![];
        assert_eq!(where_sql(&results, Dialect::Postgres, &mut args), "WHERE status IS NOT NULL");
        let mut q = ListQuery::new(&ACTION_RUNS);
        let name = ACTION_RUNS.field("name").unwrap();
        q.filters.push(Filter { field: name, condition: Condition::Gt(Value::Text("m".into())) });
        assert_eq!(where_sql(&q, Dialect::Postgres, &mut args), "WHERE name COLLATE \"C\" > $1");
        assert_eq!(order_sql(&results, Dialect::Sqlite), "parameter_index ASC");
    }

    #[test]
    fn whitelists_are_well_formed() {
        for c in COLLECTIONS {
            let mut names: Vec<&str> = c.fields.iter().map(|f| f.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{} lists a field twice", c.what);
            assert!(c.fields.iter().all(|f| !f.name.contains("__")), "{}: '__' separates lookups", c.what);
            if let Some(default) = c.default_sort {
                assert!(c.field(default).is_some());
            }
        }
    }
}
