//! Applying a listing query in memory, with the store's meaning, to what the store cannot
//! list.

use std::cmp::Ordering;

use outpost_proto::OutpostError;

use super::{Condition, ListQuery, MAX_UNPAGED, Order, Value};
use crate::store::StoreError;

/// A record listed in memory: it answers the value of each field of its collection.
pub trait Listed {
    /// The value of the field of that name; `None` when it is null.
    fn value(&self, field: &str) -> Option<Value>;
}

/// Applies a listing query in memory as the store does in SQL: every filter holds; sort
/// on the field asked for (else the collection's default; nulls last ascending, first
/// descending; text by bytes), then on the tie-breaker field (a null one first), both in
/// the query's order; then the page. Answers the total count and the page; `page_size=0`
/// past [`MAX_UNPAGED`] items is refused, as the store refuses it.
pub fn select<T: Listed>(mut items: Vec<T>, query: &ListQuery) -> Result<(u64, Vec<T>), OutpostError> {
    let collection = query.collection;
    items.retain(|item| query.filters.iter().all(|f| holds(&f.condition, item.value(f.field.name).as_ref())));
    let sort = query.sort.map(|f| f.name).or(collection.default_sort);
    items.sort_by(|a, b| {
        let on_field = sort.map(|field| nulls_last(a.value(field), b.value(field))).unwrap_or(Ordering::Equal);
        let ordering = on_field.then_with(|| nulls_first(a.value(collection.tiebreak), b.value(collection.tiebreak)));
        if query.order == Order::Desc { ordering.reverse() } else { ordering }
    });
    let count = items.len() as u64;
    if query.page.page_size == 0 && count > MAX_UNPAGED {
        return Err(StoreError::TooMany { what: collection.what, count, max: MAX_UNPAGED }.into());
    }
    let (limit, offset) = query.page.limit_offset();
    let (limit, offset) = (usize::try_from(limit).unwrap_or(usize::MAX), usize::try_from(offset).unwrap_or(usize::MAX));
    let page = items.into_iter().skip(offset).take(limit).collect();
    Ok((count, page))
}

/// Text compares by bytes, as the SQL-backed collections do on both backends.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Text(a), Value::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Whether a field's value (`None`: null) meets a condition.
fn holds(condition: &Condition, value: Option<&Value>) -> bool {
    let Some(value) = value else { return matches!(condition, Condition::IsNull(true)) };
    let is = |wanted: &Value, ok: fn(Ordering) -> bool| compare(value, wanted).is_some_and(ok);
    match condition {
        Condition::IsNull(null) => !null,
        Condition::Eq(wanted) => value == wanted,
        Condition::In(wanted) => wanted.contains(value),
        Condition::IContains(text) => {
            matches!(value, Value::Text(v) if v.to_lowercase().contains(&text.to_lowercase()))
        }
        Condition::Gt(wanted) => is(wanted, Ordering::is_gt),
        Condition::Lt(wanted) => is(wanted, Ordering::is_lt),
        Condition::Gte(wanted) => is(wanted, Ordering::is_ge),
        Condition::Lte(wanted) => is(wanted, Ordering::is_le),
    }
}

/// Ascending order on a sort field: nulls last, as the SQL-backed collections sort.
fn nulls_last(a: Option<Value>, b: Option<Value>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => compare(&a, &b).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Ascending order on the tie-breaker: a null one (SOAR's default automation broker has
/// no id) first.
fn nulls_first(a: Option<Value>, b: Option<Value>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => compare(&a, &b).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::{Kind, parse};
    use crate::store::collections::{Collection, Field};

    fn q(collection: &'static Collection, params: &[(&str, &str)]) -> Result<ListQuery, String> {
        parse(collection, params.iter().copied()).map_err(|e| e.message)
    }

    /// A record listed in memory: an optional id, a name and an optional size.
    struct Row(Option<i64>, &'static str, Option<i64>);

    impl Listed for Row {
        fn value(&self, field: &str) -> Option<Value> {
            match field {
                "id" => self.0.map(Value::Int),
                "name" => Some(Value::Text(self.1.into())),
                "size" => self.2.map(Value::Int),
                _ => None,
            }
        }
    }

    static ROWS: Collection = Collection {
        what: "rows",
        table: "",
        base: "",
        fields: &[
            Field { name: "id", sql: "", kind: Kind::Int, nullable: true },
            Field { name: "name", sql: "", kind: Kind::Text, nullable: false },
            Field { name: "size", sql: "", kind: Kind::Int, nullable: true },
        ],
        default_sort: None,
        tiebreak: "id",
    };

    fn rows() -> Vec<Row> {
        vec![
            Row(Some(2), "beta", Some(5)),
            Row(None, "alpha", None),
            Row(Some(1), "Gamma", Some(5)),
            Row(Some(3), "delta", Some(1)),
        ]
    }

    fn selected(params: &[(&str, &str)]) -> Result<(u64, Vec<&'static str>), String> {
        let query = q(&ROWS, params)?;
        let (count, page) = select(rows(), &query).map_err(|e| e.message)?;
        Ok((count, page.into_iter().map(|r| r.1).collect()))
    }

    #[test]
    fn in_memory_listing_filters_like_the_store() {
        assert_eq!(selected(&[("_filter_size", "5")]).unwrap().1, ["Gamma", "beta"]);
        assert_eq!(selected(&[("_filter_size__isnull", "true")]).unwrap().1, ["alpha"]);
        assert_eq!(selected(&[("_filter_size", "null")]).unwrap().1, ["alpha"]);
        assert_eq!(selected(&[("_filter_size__gte", "5")]).unwrap().1, ["Gamma", "beta"]);
        assert_eq!(selected(&[("_filter_size__lt", "5")]).unwrap().1, ["delta"], "a null is never less");
        assert_eq!(selected(&[("_filter_name__icontains", "'A'")]).unwrap().1.len(), 4);
        assert_eq!(selected(&[("_filter_name__icontains", "'gam'")]).unwrap().1, ["Gamma"]);
        assert_eq!(selected(&[("_filter_id__in", "[3,1]")]).unwrap().1, ["Gamma", "delta"]);
        assert_eq!(selected(&[("_filter_id__in", "[]")]).unwrap(), (0, vec![]));
        assert_eq!(selected(&[("_filter_size", "5"), ("_filter_name", "beta")]).unwrap(), (1, vec!["beta"]));
    }

    #[test]
    fn in_memory_listing_sorts_and_pages_like_the_store() {
        // By the tie-breaker, a null one first.
        assert_eq!(selected(&[]).unwrap(), (4, vec!["alpha", "Gamma", "beta", "delta"]));
        assert_eq!(selected(&[("order", "desc")]).unwrap().1, ["delta", "beta", "Gamma", "alpha"]);
        // Text by bytes: upper case first.
        assert_eq!(selected(&[("sort", "name")]).unwrap().1, ["Gamma", "alpha", "beta", "delta"]);
        // Nulls last ascending, first descending; equal values by the tie-breaker.
        assert_eq!(selected(&[("sort", "size")]).unwrap().1, ["delta", "Gamma", "beta", "alpha"]);
        assert_eq!(selected(&[("sort", "size"), ("order", "desc")]).unwrap().1, ["alpha", "beta", "Gamma", "delta"]);
        assert_eq!(selected(&[("page_size", "3"), ("page", "1")]).unwrap(), (4, vec!["delta"]));
        assert_eq!(selected(&[("page", "5")]).unwrap(), (4, vec![]));
        let many: Vec<Row> = (0..=MAX_UNPAGED as i64).map(|i| Row(Some(i), "x", None)).collect();
        let everything = q(&ROWS, &[("page_size", "0")]).unwrap();
        let refused = select(many, &everything).map(|(count, _)| count).unwrap_err();
        assert_eq!(
            refused.message,
            "10001 rows match, more than the 10000 page_size=0 answers at once; page through them"
        );
    }
}
