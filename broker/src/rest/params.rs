//! The query string of REST reads: listing parameters (see [`crate::listing`]) and the
//! flags `pretty` and `include_expensive`.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use outpost_proto::OutpostError;
use utoipa::IntoParams;

use super::ApiError;
use crate::listing::ListQuery;
use crate::store::collections::Collection;

/// Every query parameter of a request, decoded, in order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The `(key, value)` pairs as sent; repeated keys stay repeated.
    pairs: Vec<(String, String)>,
    /// `?pretty`: add `_pretty_*` fields.
    pub pretty: bool,
    /// `?include_expensive`: add `result_data` to app run lists.
    pub include_expensive: bool,
}

impl Params {
    /// The listing query for a collection.
    pub fn list(&self, collection: &'static Collection) -> Result<ListQuery, ApiError> {
        Ok(crate::listing::parse(collection, self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?)
    }
}

/// A flag is on when present (`?pretty`, `?pretty=true`), off with `false` or `0`.
fn flag(pairs: &[(String, String)], name: &str) -> bool {
    pairs.iter().rev().find(|(k, _)| k == name).is_some_and(|(_, v)| {
        let v = v.trim().trim_matches(['"', '\'']).to_lowercase();
        v != "false" && v != "0"
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| OutpostError::invalid(format!("malformed query string: {}", e.body_text())))?;
        Ok(Params { pretty: flag(&pairs, "pretty"), include_expensive: flag(&pairs, "include_expensive"), pairs })
    }
}

/// The listing parameters, for the OpenAPI document (`_filter_` parameters are open-ended
/// and described in the operation's text).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListingDoc {
    /// 0-based page number; default 0.
    page: Option<u64>,
    /// Items per page; default 10, at most 1000; 0 answers everything (up to 10000 items).
    page_size: Option<u64>,
    /// A field to sort on (the collection's filterable fields); default: id.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    /// Present: add `_pretty_*` fields with the names of what ids refer to.
    pretty: Option<bool>,
}

/// `include_expensive`, for the OpenAPI document of app run lists.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExpensiveDoc {
    /// Present: add every app run's `result_data`.
    include_expensive: Option<bool>,
}

/// `pretty`, for the OpenAPI document of single reads.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PrettyDoc {
    /// Present: add `_pretty_*` fields with the names of what ids refer to.
    pretty: Option<bool>,
}

/// `page` and `page_size`, for the OpenAPI document of paged-only lists.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageDoc {
    /// 0-based page number; default 0.
    page: Option<u64>,
    /// Items per page; default 10, at most 1000; 0 answers everything (up to 10000 items).
    page_size: Option<u64>,
}

/// How the `_filter_` parameters work, for operation descriptions.
pub const FILTER_HELP: &str = "Filter with `_filter_<field>=<value>` (strings quoted: `_filter_status=\"failed\"`; \
numbers, `true`/`false`, `null`) and lookups `__in` (`[\"a\",\"b\"]` or `a,b`), `__icontains`, `__gt`, `__lt`, \
`__gte`, `__lte`, `__isnull=true|false`. Times are ISO 8601. Unknown fields are refused with the allowed ones.";

/// Parses `start`/`end`: an ISO 8601 date (midnight UTC) or date-time (UTC unless it
/// says otherwise). A `+` offset that arrived unencoded reads as a space; it is taken
/// back.
pub fn parse_when(field: &str, text: &str) -> Result<i64, OutpostError> {
    let text = text.trim();
    let mut candidate = text.to_string();
    if candidate.len() > 19 && candidate[19..].contains(' ') {
        let at = 19 + candidate[19..].rfind(' ').unwrap_or(0);
        candidate.replace_range(at..at + 1, "+");
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&candidate.replacen(' ', "T", 1)) {
        return Ok(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&candidate, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(&candidate, "%Y-%m-%dT%H:%M:%S%.f%#z") {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(&candidate, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis());
    }
    Err(OutpostError::invalid(format!(
        "'{field}' must be an ISO 8601 date or date-time (e.g. 2017-07-07 or 2017-07-06T23:59:59Z), got '{text}'"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(flag(&pairs(&[("pretty", "")]), "pretty"));
        assert!(flag(&pairs(&[("pretty", "true")]), "pretty"));
        assert!(!flag(&pairs(&[("pretty", "false")]), "pretty"));
        assert!(!flag(&pairs(&[("pretty", "0")]), "pretty"));
        assert!(!flag(&pairs(&[]), "pretty"));
    }
}
