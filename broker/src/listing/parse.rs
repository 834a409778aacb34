//! Parsing the listing language from the `(key, value)` pairs clients send.

use outpost_proto::OutpostError;

use super::{Condition, Filter, Kind, ListQuery, MAX_UNPAGED, Order, Value};
use crate::store::Page;
use crate::store::collections::Collection;

/// Largest `page_size` a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 1000;
/// Most values one `__in` list may hold.
pub const MAX_IN_VALUES: usize = 1000;
/// The lookups `_filter_<field>__<lookup>` knows.
pub const LOOKUPS: &[&str] = &["in", "icontains", "gt", "lt", "gte", "lte", "isnull"];

/// A value as a client wrote it, before it meets its field's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string.
    Quoted(String),
    /// An unquoted word or number, kept as written.
    Bare(String),
    Bool(bool),
    Null,
}

/// Parses the listing parameters of a request against a collection's whitelist.
/// Parameters that are not about listing (`pretty`, `include_expensive`, anything
/// unknown) are ignored, as SOAR ignores them.
pub fn parse<'a>(
    collection: &'static Collection,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ListQuery, OutpostError> {
    let mut query = ListQuery::new(collection);
    let mut sort = None;
    let mut order = None;
    for (key, value) in params {
        match key {
            "page" => query.page.page = non_negative("page", value)?,
            "page_size" => {
                let size = non_negative("page_size", value)?;
                if size > MAX_PAGE_SIZE {
                    return Err(OutpostError::invalid(format!(
                        "'page_size' is at most {MAX_PAGE_SIZE}, got {size}; use 0 for everything (up to {MAX_UNPAGED} items)"
                    )));
                }
                query.page.page_size = size;
            }
            "sort" => sort = Some(value),
            "order" => order = Some(value),
            _ => {
                if let Some(filter) = key.strip_prefix("_filter_") {
                    query.filters.push(parse_filter(collection, key, filter, value)?);
                }
            }
        }
    }
    if let Some(sort) = sort.map(|s| unquote(s.trim())).filter(|s| !s.is_empty()) {
        query.sort = Some(collection.field(&sort).ok_or_else(|| {
            OutpostError::invalid(format!(
                "cannot sort {} on '{sort}' (sortable: {})",
                collection.what,
                collection.field_names()
            ))
        })?);
    }
    query.order = match order.map(|o| unquote(o.trim()).to_lowercase()).as_deref() {
        None | Some("") | Some("asc") => Order::Asc,
        Some("desc") => Order::Desc,
        Some(other) => return Err(OutpostError::invalid(format!("'order' must be asc or desc, got '{other}'"))),
    };
    Ok(query)
}

fn non_negative(field: &str, value: &str) -> Result<u64, OutpostError> {
    let value = unquote(value.trim());
    if value.is_empty() {
        return Ok(if field == "page_size" { Page::default().page_size } else { 0 });
    }
    value
        .parse::<u64>()
        .map_err(|_| OutpostError::invalid(format!("'{field}' must be a non-negative integer, got '{value}'")))
}

fn unquote(text: &str) -> String {
    match parse_literal(text) {
        Ok(Literal::Quoted(s)) => s,
        _ => text.to_string(),
    }
}

fn parse_filter(collection: &'static Collection, key: &str, spec: &str, raw: &str) -> Result<Filter, OutpostError> {
    let (name, lookup) = match spec.rsplit_once("__") {
        Some((name, lookup)) => {
            if !LOOKUPS.contains(&lookup) {
                return Err(OutpostError::invalid(format!(
                    "unknown lookup '__{lookup}' in '{key}' (lookups: {})",
                    LOOKUPS.iter().map(|l| format!("__{l}")).collect::<Vec<_>>().join(", ")
                )));
            }
            (name, Some(lookup))
        }
        None => (spec, None),
    };
    let field = collection.field(name).ok_or_else(|| {
        OutpostError::invalid(format!(
            "cannot filter {} on '{name}' (filterable: {})",
            collection.what,
            collection.field_names()
        ))
    })?;
    let bad = |why: String| OutpostError::invalid(format!("'{key}': {why}"));
    let scalar = |raw: &str| -> Result<Literal, OutpostError> { parse_literal(raw.trim()).map_err(bad) };
    let condition = match lookup {
        None => match scalar(raw)? {
            Literal::Null => Condition::IsNull(true),
            literal => Condition::Eq(typed(field.kind, literal).map_err(bad)?),
        },
        Some("isnull") => match scalar(raw)? {
            Literal::Bool(b) => Condition::IsNull(b),
            Literal::Bare(s) | Literal::Quoted(s) if s == "1" || s == "0" => Condition::IsNull(s == "1"),
            _ => return Err(bad("__isnull takes true or false".into())),
        },
        Some("icontains") => {
            if field.kind != Kind::Text {
                return Err(bad(format!(
                    "__icontains works on text fields; '{}' is {}",
                    field.name,
                    field.kind.describe()
                )));
            }
            match scalar(raw)? {
                Literal::Quoted(s) | Literal::Bare(s) => Condition::IContains(s),
                other => return Err(bad(format!("__icontains takes a string, got {}", describe(&other)))),
            }
        }
        Some("in") => {
            let items = parse_list(raw.trim()).map_err(bad)?;
            if items.len() > MAX_IN_VALUES {
                return Err(bad(format!("__in takes at most {MAX_IN_VALUES} values")));
            }
            Condition::In(items.into_iter().map(|l| typed(field.kind, l)).collect::<Result<_, _>>().map_err(bad)?)
        }
        Some(op) => {
            if field.kind == Kind::Bool {
                return Err(bad(format!("__{op} does not work on true/false fields")));
            }
            let value = match scalar(raw)? {
                Literal::Null => return Err(bad(format!("__{op} cannot compare with null; use __isnull"))),
                literal => typed(field.kind, literal).map_err(bad)?,
            };
            match op {
                "gt" => Condition::Gt(value),
                "lt" => Condition::Lt(value),
                "gte" => Condition::Gte(value),
                _ => Condition::Lte(value),
            }
        }
    };
    Ok(Filter { field, condition })
}

fn describe(literal: &Literal) -> String {
    match literal {
        Literal::Quoted(s) => format!("\"{s}\""),
        Literal::Bare(s) => s.clone(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".into(),
    }
}

/// Turns a literal into a value of the field's kind, or says why it cannot be one.
fn typed(kind: Kind, literal: Literal) -> Result<Value, String> {
    let wrong = |literal: &Literal| format!("expected {}, got {}", kind.describe(), describe(literal));
    match (kind, literal) {
        (_, Literal::Null) => Err("null is only allowed as `=null` or with __isnull".into()),
        (Kind::Text, Literal::Quoted(s) | Literal::Bare(s)) => Ok(Value::Text(s)),
        (Kind::Text, Literal::Bool(b)) => Ok(Value::Text(b.to_string())),
        (Kind::Int, Literal::Quoted(s) | Literal::Bare(s)) => {
            s.trim().parse::<i64>().map(Value::Int).map_err(|_| wrong(&Literal::Quoted(s.clone())))
        }
        (Kind::Bool, Literal::Bool(b)) => Ok(Value::Bool(b)),
        (Kind::Bool, Literal::Bare(s) | Literal::Quoted(s)) => match s.to_lowercase().as_str() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(wrong(&Literal::Quoted(s.clone()))),
        },
        (Kind::Time, Literal::Quoted(s) | Literal::Bare(s)) => {
            outpost_proto::time::parse_iso(&s).map(Value::Int).ok_or_else(|| wrong(&Literal::Quoted(s.clone())))
        }
        (_, literal) => Err(wrong(&literal)),
    }
}

/// Parses one value: a quoted string (with `\` escapes), `true`/`false`/`null` (and
/// Python's spellings), or a bare word.
pub fn parse_literal(text: &str) -> Result<Literal, String> {
    let Some(quote) = text.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return Ok(match text {
            "true" | "True" | "TRUE" => Literal::Bool(true),
            "false" | "False" | "FALSE" => Literal::Bool(false),
            "null" | "None" | "NULL" => Literal::Null,
            other => Literal::Bare(other.to_string()),
        });
    };
    let (value, rest) = quoted(text, quote)?;
    if !rest.trim().is_empty() {
        return Err(format!("unexpected text after the closing quote: '{}'", rest.trim()));
    }
    Ok(Literal::Quoted(value))
}

/// Reads a quoted string at the start of `text`; answers it and what follows.
fn quoted(text: &str, quote: char) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            c if c == quote => return Ok((value, &text[i + c.len_utf8()..])),
            c => value.push(c),
        }
    }
    Err(format!("unterminated string {text}"))
}

/// Parses a list: `["a","b"]`, `('a', 'b')`, `[1, 2]` or a bare comma list `a,b`.
pub fn parse_list(text: &str) -> Result<Vec<Literal>, String> {
    let inner = match (text.chars().next(), text.chars().last()) {
        (Some('['), Some(']')) | (Some('('), Some(')')) if text.len() >= 2 => &text[1..text.len() - 1],
        (Some('[') | Some('('), _) => return Err(format!("unterminated list {text}")),
        _ => text,
    };
    let mut items = vec![];
    let mut rest = inner.trim_start();
    if rest.trim().is_empty() {
        return Ok(items);
    }
    loop {
        let (item, after) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let (value, after) = quoted(rest, q)?;
                (Literal::Quoted(value), after)
            }
            _ => {
                let end = rest.find(',').unwrap_or(rest.len());
                (parse_literal(rest[..end].trim())?, &rest[end..])
            }
        };
        if matches!(&item, Literal::Bare(s) if s.is_empty()) {
            return Err(format!("empty item in list {text}"));
        }
        items.push(item);
        let after = after.trim_start();
        match after.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None if after.is_empty() => return Ok(items),
            None => return Err(format!("expected ',' between list items, got '{after}'")),
        }
        if rest.is_empty() {
            // A trailing comma, as Python allows: `('a',)`.
            return Ok(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::collections::{ACTION_RUNS, APP_RUNS, CONTAINERS};

    fn q(collection: &'static Collection, params: &[(&str, &str)]) -> Result<ListQuery, String> {
        parse(collection, params.iter().copied()).map_err(|e| e.message)
    }

    fn only_condition(collection: &'static Collection, key: &str, value: &str) -> Condition {
        let query = q(collection, &[(key, value)]).unwrap();
        assert_eq!(query.filters.len(), 1);
        query.filters[0].condition.clone()
    }

    #[test]
    fn literals() {
        assert_eq!(parse_literal("\"whois domain\""), Ok(Literal::Quoted("whois domain".into())));
        assert_eq!(parse_literal("'it\\'s'"), Ok(Literal::Quoted("it's".into())));
        assert_eq!(parse_literal("5"), Ok(Literal::Bare("5".into())));
        assert_eq!(parse_literal("True"), Ok(Literal::Bool(true)));
        assert_eq!(parse_literal("None"), Ok(Literal::Null));
        assert!(parse_literal("\"open").unwrap_err().contains("unterminated"));
        assert!(parse_literal("\"a\" b").unwrap_err().contains("after the closing quote"));
    }

    #[test]
    fn lists() {
        let strings = |l: Vec<Literal>| l.into_iter().map(|i| describe(&i)).collect::<Vec<_>>();
        assert_eq!(strings(parse_list("[\"a\",\"b, c\"]").unwrap()), ["\"a\"", "\"b, c\""]);
        assert_eq!(strings(parse_list("('a', 'b',)").unwrap()), ["\"a\"", "\"b\""]);
        assert_eq!(strings(parse_list("1,2, 3").unwrap()), ["1", "2", "3"]);
        assert_eq!(parse_list("[]").unwrap(), vec![]);
        assert!(parse_list("[1,,2]").unwrap_err().contains("empty item"));
        assert!(parse_list("[1, 2").unwrap_err().contains("unterminated list"));
        assert!(parse_list("[\"a\" \"b\"]").unwrap_err().contains("expected ','"));
    }

    #[test]
    fn filters_are_typed_by_field() {
        assert_eq!(
            only_condition(&ACTION_RUNS, "_filter_action", "\"whois domain\""),
            Condition::Eq(Value::Text("whois domain".into()))
        );
        assert_eq!(only_condition(&APP_RUNS, "_filter_action_run", "5"), Condition::Eq(Value::Int(5)));
        assert_eq!(
            only_condition(&APP_RUNS, "_filter_status", "\"failed\""),
            Condition::Eq(Value::Text("failed".into()))
        );
        assert_eq!(only_condition(&APP_RUNS, "_filter_exception_occured", "true"), Condition::Eq(Value::Bool(true)));
        assert_eq!(only_condition(&ACTION_RUNS, "_filter_creator", "null"), Condition::IsNull(true));
        assert_eq!(only_condition(&ACTION_RUNS, "_filter_close_time__isnull", "False"), Condition::IsNull(false));
        assert_eq!(
            only_condition(&ACTION_RUNS, "_filter_id__in", "[1, \"2\"]"),
            Condition::In(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(
            only_condition(&ACTION_RUNS, "_filter_status__in", "pending,running"),
            Condition::In(vec![Value::Text("pending".into()), Value::Text("running".into())])
        );
        assert_eq!(
            only_condition(&ACTION_RUNS, "_filter_name__icontains", "'GEO'"),
            Condition::IContains("GEO".into())
        );
        assert_eq!(only_condition(&ACTION_RUNS, "_filter_id__gte", "3"), Condition::Gte(Value::Int(3)));
        assert_eq!(
            only_condition(&ACTION_RUNS, "_filter_create_time__lt", "\"2016-01-15T22:15:58.062000Z\""),
            Condition::Lt(Value::Int(1_452_896_158_062))
        );
    }

    #[test]
    fn bad_filters_name_the_culprit() {
        let err = q(&ACTION_RUNS, &[("_filter_colour", "1")]).unwrap_err();
        assert!(err.starts_with("cannot filter action runs on 'colour' (filterable: id, action, name,"), "{err}");
        let err = q(&ACTION_RUNS, &[("_filter_name__regex", "x")]).unwrap_err();
        assert!(
            err.starts_with("unknown lookup '__regex' in '_filter_name__regex' (lookups: __in, __icontains,"),
            "{err}"
        );
        assert_eq!(
            q(&ACTION_RUNS, &[("_filter_id", "abc")]).unwrap_err(),
            "'_filter_id': expected an integer, got \"abc\""
        );
        assert!(
            q(&ACTION_RUNS, &[("_filter_id__icontains", "1")])
                .unwrap_err()
                .contains("__icontains works on text fields")
        );
        assert!(q(&ACTION_RUNS, &[("_filter_id__gt", "null")]).unwrap_err().contains("use __isnull"));
        assert!(
            q(&ACTION_RUNS, &[("_filter_id__isnull", "maybe")]).unwrap_err().contains("__isnull takes true or false")
        );
        assert!(q(&ACTION_RUNS, &[("_filter_name", "\"x")]).unwrap_err().contains("unterminated"));
        assert!(q(&APP_RUNS, &[("_filter_exception_occured__gt", "true")]).unwrap_err().contains("true/false fields"));
        assert!(q(&ACTION_RUNS, &[("_filter_create_time", "yesterday")]).unwrap_err().contains("ISO 8601"));
        let many = format!("[{}]", (0..=MAX_IN_VALUES).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
        assert!(q(&ACTION_RUNS, &[("_filter_id__in", many.as_str())]).unwrap_err().contains("at most"));
    }

    #[test]
    fn paging_and_sorting() {
        let query =
            q(&CONTAINERS, &[("page", "2"), ("page_size", "5"), ("sort", "name"), ("order", "desc"), ("pretty", "")])
                .unwrap();
        assert_eq!(query.page, Page { page: 2, page_size: 5 });
        assert_eq!(query.sort.unwrap().name, "name");
        assert_eq!(query.order, Order::Desc);
        assert_eq!(q(&CONTAINERS, &[]).unwrap().page, Page { page: 0, page_size: 10 });
        assert_eq!(q(&CONTAINERS, &[("page_size", "0")]).unwrap().page.page_size, 0);
        assert_eq!(q(&CONTAINERS, &[("sort", "\"id\"")]).unwrap().sort.unwrap().name, "id");
        assert!(
            q(&CONTAINERS, &[("page", "-1")]).unwrap_err().contains("'page' must be a non-negative integer, got '-1'")
        );
        assert!(
            q(&CONTAINERS, &[("page_size", "ten")]).unwrap_err().contains("'page_size' must be a non-negative integer")
        );
        assert!(q(&CONTAINERS, &[("page_size", "1001")]).unwrap_err().contains("'page_size' is at most 1000"));
        assert!(
            q(&CONTAINERS, &[("sort", "colour")])
                .unwrap_err()
                .starts_with("cannot sort containers on 'colour' (sortable: id,")
        );
        assert_eq!(
            q(&CONTAINERS, &[("order", "sideways")]).unwrap_err(),
            "'order' must be asc or desc, got 'sideways'"
        );
    }
}
