//! `/rest/audit` and the per-object audit endpoints (seed 002).
//!
//! - `format=json|csv`, `sort=desc|asc` (newest first by default);
//! - `start`/`end`: ISO 8601 date (midnight UTC) or date-time; `end` defaults to now,
//!   `start` to 30 days before `end`;
//! - on `/rest/audit` only: `user`, `role`, `container` (ids, names or `*`), `playbook`
//!   (Outpost has none: it matches nothing), `authentication=*`, `administration=*`
//!   (also the seed's spelling `admnistration`), `%1E`-separated lists, an empty value
//!   meaning `*`; no selection means everything, any selection limits to it. `tenant` is
//!   accepted: Outpost has no tenants, so every record applies to all of them and the
//!   filter keeps everything;
//! - `page`/`page_size` (optional, 0-based) slice the list, which stays a bare array.
//!
//! Every read of audit is itself audited before the query runs, so it shows in its own
//! answer and two successive reads differ.
//!
//! Users and roles are for readers holding `users_roles:view`: without it, `user` and
//! `role` answer 403 ([`crate::access::permissions::REST_PARAMETERS`]) and records about users
//! and roles, and other users' sign-ins, are left out of every answer.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use outpost_proto::OutpostError;
use outpost_proto::time::now_ms;
use utoipa::IntoParams;

use super::openapi::Routes;
use super::params::parse_when;
use super::render::{AuditRecordBody, Failure, records_csv};
use super::{ApiError, ApiResult, input};
use crate::Broker;
use crate::access::audit::AuditObject;
use crate::access::auth::Principal;
use crate::access::permissions;
use crate::store::audit_records::{AuditQuery, Selection};

pub fn routes(routes: Routes) -> Routes {
    routes
        .add(__path_all, all)
        .add(__path_of_user, of_user)
        .add(__path_of_user_alias, of_user_alias)
        .add(__path_of_role, of_role)
        .add(__path_of_container, of_container)
        .add(__path_of_playbook, of_playbook)
}

/// The default window: 30 days.
const DEFAULT_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;
/// The parameters every audit endpoint takes.
pub const COMMON: &[&str] = &["format", "sort", "start", "end", "page", "page_size"];
/// The selections only `/rest/audit` takes.
pub const SELECTIONS: &[&str] =
    &["user", "role", "container", "playbook", "authentication", "administration", "admnistration", "tenant"];

/// The parameters every audit endpoint takes ([`COMMON`]), for the OpenAPI document.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditDoc {
    /// `json` (default) or `csv` (the seed's columns, `text/csv`).
    format: Option<String>,
    /// `desc` (default: newest first) or `asc`.
    sort: Option<String>,
    /// ISO 8601 date (midnight UTC) or date-time; default 30 days before `end`.
    start: Option<String>,
    /// ISO 8601 date (midnight UTC) or date-time; default now.
    end: Option<String>,
    /// 0-based page of `page_size` records; the answer stays a bare array.
    page: Option<u64>,
    /// Records per page; left out or 0, every record of the window.
    page_size: Option<u64>,
}

/// The selections of `/rest/audit` ([`SELECTIONS`]), for the OpenAPI document. Values
/// are `%1E`-separated lists; `*` or an empty value means all. No selection means
/// everything; any selection limits the answer to it.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditSelectionDoc {
    /// Users by id or name: what they did and what was done to them.
    user: Option<String>,
    /// Roles by id or name.
    role: Option<String>,
    /// Containers by id or name.
    container: Option<String>,
    /// Playbooks: Outpost has none, so this matches nothing.
    playbook: Option<String>,
    /// `*`: sign-ins, sign-outs and denials.
    authentication: Option<String>,
    /// `*`: administration events (settings, retention, reads of the audit trail).
    administration: Option<String>,
    /// The seed's spelling of `administration`.
    admnistration: Option<String>,
    /// Tenant ids or names (not `*`): Outpost has no tenants, so every record applies to
    /// all of them and this keeps everything.
    tenant: Option<String>,
}
/// SOAR's list separator (ASCII record separator, `%1E` in a URL).
const SEPARATOR: char = '\u{1e}';

/// An audit request, parsed but with names not yet resolved to ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// `format=csv`.
    pub csv: bool,
    /// Window, order, paging and the star-only selections.
    pub query: AuditQuery,
    /// `end` was given; otherwise it is "now", taken when the query runs.
    pub explicit_end: bool,
    /// The raw `%1E`-separated values of each selection given.
    pub users: Option<Vec<String>>,
    /// The raw values of `role`.
    pub roles: Option<Vec<String>>,
    /// The raw values of `container`.
    pub containers: Option<Vec<String>>,
    /// The raw values of `playbook`.
    pub playbooks: Option<Vec<String>>,
}

fn append(slot: &mut Option<Vec<String>>, value: &str) {
    slot.get_or_insert_with(Vec::new).extend(value.split(SEPARATOR).map(|v| v.trim().to_string()));
}

fn star_only(field: &str, value: &str) -> Result<(), OutpostError> {
    if value.split(SEPARATOR).all(|v| matches!(v.trim(), "" | "*")) {
        Ok(())
    } else {
        Err(OutpostError::invalid(format!(
            "'{field}' only takes *: its events have no individual objects, got '{value}'"
        )))
    }
}

fn number(field: &str, value: &str) -> Result<i64, OutpostError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| OutpostError::invalid(format!("'{field}' must be a non-negative integer, got '{value}'")))
}

/// Parses the query string of an audit endpoint; `selections` is true on `/rest/audit`.
pub fn parse(pairs: &[(String, String)], selections: bool, now: i64) -> Result<Request, OutpostError> {
    let mut r = Request::default();
    let (mut start, mut end, mut page, mut page_size) = (None, None, None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "format" => {
                r.csv = match value.trim().to_lowercase().as_str() {
                    "json" | "" => false,
                    "csv" => true,
                    other => return Err(OutpostError::invalid(format!("'format' must be json or csv, got '{other}'"))),
                }
            }
            "sort" => {
                r.query.ascending = match value.trim().to_lowercase().as_str() {
                    "desc" | "" => false,
                    "asc" => true,
                    other => return Err(OutpostError::invalid(format!("'sort' must be desc or asc, got '{other}'"))),
                }
            }
            "start" => start = Some(parse_when("start", value)?),
            "end" => end = Some(parse_when("end", value)?),
            "page" => page = Some(number("page", value)?),
            "page_size" => page_size = Some(number("page_size", value)?),
            "user" if selections => append(&mut r.users, value),
            "role" if selections => append(&mut r.roles, value),
            "container" if selections => append(&mut r.containers, value),
            "playbook" if selections => append(&mut r.playbooks, value),
            "authentication" if selections => {
                star_only("authentication", value)?;
                r.query.authentication = true;
            }
            "administration" | "admnistration" if selections => {
                star_only("administration", value)?;
                r.query.administration = true;
            }
            "tenant" if selections => {
                // No tenants in Outpost: every record maps to all tenants, which the seed
                // says the filter keeps. Ids or names are still checked for shape.
                if value.split(SEPARATOR).all(|v| v.trim().is_empty() || v.trim() == "*") {
                    return Err(OutpostError::invalid(
                        "'tenant' takes tenant ids or names; * is not supported (leave it out)",
                    ));
                }
            }
            other => {
                let known = if selections { [COMMON, SELECTIONS].concat() } else { COMMON.to_vec() };
                return Err(OutpostError::invalid(format!(
                    "unknown parameter '{other}' (expected: {})",
                    known.join(", ")
                )));
            }
        }
    }
    r.explicit_end = end.is_some();
    let end = end.unwrap_or(now + 1);
    let start = start.unwrap_or(end.min(now + 1) - DEFAULT_WINDOW_MS);
    if start >= end {
        return Err(OutpostError::invalid("'start' must be before 'end'"));
    }
    r.query.start_ms = start;
    r.query.end_ms = end;
    if let Some(size) = page_size.filter(|s| *s > 0) {
        r.query.limit = Some(size);
        r.query.offset = page.unwrap_or(0).saturating_mul(size);
    }
    Ok(r)
}

/// Resolves the values of one selection: `*` or empty → all; numbers are ids; other
/// values are names looked up by `by_name` (an unknown name matches nothing).
async fn resolve<F, Fut>(values: &Option<Vec<String>>, by_name: F) -> Result<Option<Selection>, OutpostError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<i64>, OutpostError>>,
{
    let Some(values) = values else { return Ok(None) };
    if values.iter().any(|v| v.is_empty() || v == "*") {
        return Ok(Some(Selection::All));
    }
    let mut ids = vec![];
    for value in values {
        match value.parse::<i64>() {
            Ok(id) => ids.push(id),
            Err(_) => ids.extend(by_name(value.clone()).await?),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(Some(Selection::Ids(ids)))
}

async fn resolve_all(broker: &Broker, r: &Request) -> Result<AuditQuery, OutpostError> {
    let store = &broker.store;
    let mut q = r.query.clone();
    q.users = resolve(&r.users, |name| async move {
        Ok(store.user_by_name(&name).await?.map(|u| vec![u.id]).unwrap_or_default())
    })
    .await?;
    q.roles =
        resolve(
            &r.roles,
            |name| async move { Ok(store.find_role(&name).await?.map(|r| vec![r.id]).unwrap_or_default()) },
        )
        .await?;
    q.containers = resolve(&r.containers, |name| async move { Ok(store.container_ids_named(&name).await?) }).await?;
    q.playbooks = r.playbooks.as_ref().map(|_| Selection::Nothing);
    Ok(q)
}

fn pairs(query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> Result<Vec<(String, String)>, OutpostError> {
    query.map(|Query(p)| p).map_err(|e| OutpostError::invalid(format!("malformed query string: {}", e.body_text())))
}

fn note(uri: &axum::http::Uri) -> String {
    format!("GET:{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path()))
}

/// Records the read, runs the query and answers json or csv. A reader who may not see
/// users and roles gets the records without them ([`permissions::PEOPLE_IN_AUDIT`]).
async fn answer(
    broker: &Broker,
    who: &Principal,
    read_of: AuditObject,
    note: &str,
    request: Request,
    query: AuditQuery,
) -> ApiResult<Response> {
    broker.audit.record_read(who, read_of, note).await;
    let mut query = query;
    query.people_hidden_from = (!who.grants.allows(permissions::PEOPLE_IN_AUDIT)).then_some(who.user_id);
    if !request.explicit_end {
        // Up to now, the read just recorded included.
        query.end_ms = now_ms() + 1;
    }
    let records = broker.store.query_audit(&query).await?;
    if request.csv {
        let body = records_csv(&records).map_err(|e| OutpostError::internal(format!("csv rendering failed: {e}")))?;
        let mut response = body.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        return Ok(response);
    }
    Ok(Json(records.iter().map(AuditRecordBody::from).collect::<Vec<_>>()).into_response())
}

/// Audit records of everything, or of the selected objects and categories (seed 002).
/// Reading the audit trail is itself audited, before the query runs.
#[utoipa::path(get, path = "/rest/audit", tag = "audit", params(AuditDoc, AuditSelectionDoc),
    responses((status = 200, description = "the records, newest first unless `sort=asc`",
        content((Vec<AuditRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Failure)))]
pub async fn all(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    uri: axum::http::Uri,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request = parse(&pairs(query)?, true, now_ms())?;
    let query = resolve_all(&broker, &request).await?;
    // A query naming exactly one user, role or container is a read of that object (the
    // seed: `/rest/audit?user=1` is `/rest/ph_user/1/audit`); anything else reads the
    // audit trail as such, an administration event.
    let single = |s: &Option<Selection>| match s {
        Some(Selection::Ids(ids)) if ids.len() == 1 => Some(ids[0]),
        _ => None,
    };
    let chosen = [
        query.users.is_some(),
        query.roles.is_some(),
        query.containers.is_some(),
        query.playbooks.is_some(),
        query.authentication,
        query.administration,
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let read_of = match (chosen, single(&query.users), single(&query.roles), single(&query.containers)) {
        (1, Some(id), _, _) => AuditObject::User { id, name: String::new() },
        (1, _, Some(id), _) => AuditObject::Role { id, name: String::new() },
        (1, _, _, Some(id)) => AuditObject::Container { id, name: String::new() },
        _ => AuditObject::Audit,
    };
    answer(&broker, &who, read_of, &note(&uri), request, query).await
}

/// Audit records of a user: what it did and what was done to it (seed 002).
#[utoipa::path(get, path = "/rest/ph_user/{id}/audit", tag = "audit", params(("id" = i64, Path), AuditDoc),
    responses((status = 200, description = "the records, newest first unless `sort=asc`",
        content((Vec<AuditRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn of_user(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request = parse(&pairs(query)?, false, now_ms())?;
    let user = broker.user(input::id(&id, "user")?).await?;
    let mut query = request.query.clone();
    query.users = Some(Selection::Ids(vec![user.id]));
    answer(&broker, &who, AuditObject::user(&user), &note(&uri), request, query).await
}

/// `/rest/ph_user/{id}/audit` at the seed's other spelling.
#[utoipa::path(get, path = "/rest/user/{id}/audit", tag = "audit", params(("id" = i64, Path), AuditDoc),
    responses((status = 200, description = "the records, newest first unless `sort=asc`",
        content((Vec<AuditRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn of_user_alias(
    state: State<Arc<Broker>>,
    who: Extension<Principal>,
    id: Path<String>,
    uri: axum::http::Uri,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    of_user(state, who, id, uri, query).await
}

/// Audit records of a role: changes to it and the events of its current members
/// (seed 002).
#[utoipa::path(get, path = "/rest/role/{id}/audit", tag = "audit", params(("id" = i64, Path), AuditDoc),
    responses((status = 200, description = "the records, newest first unless `sort=asc`",
        content((Vec<AuditRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn of_role(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request = parse(&pairs(query)?, false, now_ms())?;
    let role = broker.role(input::id(&id, "role")?).await?;
    let mut query = request.query.clone();
    query.roles = Some(Selection::Ids(vec![role.id]));
    answer(&broker, &who, AuditObject::role(&role), &note(&uri), request, query).await
}

/// Audit records of a container: changes to it and the actions run on it (seed 002).
#[utoipa::path(get, path = "/rest/container/{id}/audit", tag = "audit", params(("id" = i64, Path), AuditDoc),
    responses((status = 200, description = "the records, newest first unless `sort=asc`",
        content((Vec<AuditRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Failure), (status = 404, body = Failure)))]
pub async fn of_container(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request = parse(&pairs(query)?, false, now_ms())?;
    let id = input::id(&id, "container")?;
    let container = broker
        .store
        .get_container(id)
        .await?
        .ok_or_else(|| OutpostError::not_found(format!("container {id} not found")))?;
    let mut query = request.query.clone();
    query.containers = Some(Selection::Ids(vec![container.id]));
    answer(&broker, &who, AuditObject::container(&container), &note(&uri), request, query).await
}

/// Outpost has no playbooks: any playbook's audit is empty (its read is still audited,
/// as an administration event, so it never shows here).
#[utoipa::path(get, path = "/rest/playbook/{id}/audit", tag = "audit", params(("id" = i64, Path), AuditDoc),
    responses((status = 200, description = "always no records",
        content((Vec<AuditRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Failure)))]
pub async fn of_playbook(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request = parse(&pairs(query)?, false, now_ms())?;
    input::id(&id, "playbook")?;
    let mut query = request.query.clone();
    query.playbooks = Some(Selection::Nothing);
    answer(&broker, &who, AuditObject::Audit, &note(&uri), request, query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Result<Request, String> {
        let pairs: Vec<(String, String)> = text
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.replace("%1E", "\u{1e}").replace("%20", " ")),
                None => (p.to_string(), String::new()),
            })
            .collect();
        parse(&pairs, true, 1_700_000_000_000).map_err(|e| e.message)
    }

    #[test]
    fn the_seed_examples_parse() {
        let r = q("").unwrap();
        assert_eq!((r.query.start_ms, r.query.end_ms), (1_700_000_000_001 - DEFAULT_WINDOW_MS, 1_700_000_000_001));
        assert_eq!(q("user=1").unwrap().users, Some(vec!["1".into()]));
        assert_eq!(q("playbook=*").unwrap().playbooks, Some(vec!["*".into()]));
        let r = q("authentication=*&administration=*").unwrap();
        assert!(r.query.authentication && r.query.administration && r.users.is_none());
        assert_eq!(q("user=1%1E2").unwrap().users, Some(vec!["1".into(), "2".into()]));
        let r = q("container&admnistration&tenant=4%1E2").unwrap();
        assert_eq!(r.containers, Some(vec![String::new()]));
        assert!(r.query.administration);
        assert!(q("format=csv").unwrap().csv);
        assert!(q("sort=asc").unwrap().query.ascending);
        let r = q("end=2017-07-07&sort=asc").unwrap();
        assert_eq!(r.query.end_ms, 1_499_385_600_000);
        assert_eq!(r.query.start_ms, 1_499_385_600_000 - DEFAULT_WINDOW_MS, "start defaults to 30 days before end");
    }

    #[test]
    fn times_and_mistakes() {
        assert_eq!(parse_when("end", "2017-07-06T23:59:59.999999Z").unwrap(), 1_499_385_599_999);
        assert_eq!(parse_when("end", "2017-07-06T23:59:59").unwrap(), 1_499_385_599_000);
        assert_eq!(parse_when("end", "2017-07-07 01:00:00 01:00").unwrap(), 1_499_385_600_000, "a '+' sent unencoded");
        assert_eq!(parse_when("end", "2017-07-07T02:00:00+02:00").unwrap(), 1_499_385_600_000);
        assert!(parse_when("start", "yesterday").unwrap_err().message.contains("'start'"));
        assert!(q("format=xml").unwrap_err().contains("'format' must be json or csv"));
        assert!(q("sort=up").unwrap_err().contains("'sort'"));
        assert!(q("authentication=5").unwrap_err().contains("only takes *"));
        assert!(q("usr=1").unwrap_err().starts_with("unknown parameter 'usr'"));
        assert!(q("start=2017-07-07&end=2017-07-01").unwrap_err().contains("before 'end'"));
        assert!(q("tenant=*").unwrap_err().contains("'tenant'"));
        let r = q("page=2&page_size=5").unwrap();
        assert_eq!((r.query.limit, r.query.offset), (Some(5), 10));
        assert!(
            parse(&[("user".into(), "1".into())], false, 0).unwrap_err().message.contains("unknown parameter 'user'")
        );
    }
}
