//! The listing query language, shared by REST (query strings) and gRPC (`ListQuery`):
//!
//! - `page` (0-based) and `page_size` (default 10, at most [`MAX_PAGE_SIZE`]; `0` answers
//!   everything, up to [`MAX_UNPAGED`] items);
//! - `sort=<field>` and `order=asc|desc` (default: by id, ascending);
//! - `_filter_<field>=<value>` and `_filter_<field>__<lookup>=<value>` with the lookups
//!   `in`, `icontains`, `gt`, `lt`, `gte`, `lte` and `isnull`. Conditions are ANDed.
//!
//! Values are written as SOAR clients write them: quoted strings (`"whois domain"` or
//! `'whois domain'`), numbers, `true`/`false` and `null` (Python's `True`, `False` and
//! `None` too). A bare word is taken as a string. A list for `__in` is a JSON or Python
//! list (`["a","b"]`, `('a','b')`) or a plain comma list (`a,b` or `1,2`). Times are
//! ISO 8601 strings.
//!
//! Fields are the record's JSON names; each collection whitelists the ones it allows
//! ([`crate::store::collections`]), and anything else is refused with the allowed names.
//!
//! The store turns a parsed query into SQL ([`crate::store::collections`]); [`select`]
//! applies one in memory, with the
//! same meaning, to what the store cannot list (segments joined with the worker
//! registry).
//!
//! # Layout
//! This file holds the typed query; `parse` reads it from what clients send,
//! `select` applies it in memory.

mod parse;
mod select;

pub use parse::{LOOKUPS, Literal, MAX_IN_VALUES, MAX_PAGE_SIZE, parse, parse_list, parse_literal};
pub use select::{Listed, select};

use crate::store::Page;
use crate::store::collections::{Collection, Field};

/// What a field holds, which decides the values and lookups it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer (ids, counts).
    Int,
    /// Text; the only kind `__icontains` works on.
    Text,
    /// `true` or `false`.
    Bool,
    /// A timestamp, stored as Unix milliseconds and written by clients as ISO 8601.
    Time,
}

impl Kind {
    /// How error messages describe a value of this kind.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Int => "an integer",
            Kind::Text => "a string",
            Kind::Bool => "true or false",
            Kind::Time => "an ISO 8601 date-time",
        }
    }
}

/// A typed value of a condition, already checked against its field's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
    Bool(bool),
}

/// One `_filter_` lookup, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `_filter_f=v`.
    Eq(Value),
    /// `_filter_f__isnull=true|false`, and `_filter_f=null` (`IsNull(true)`).
    IsNull(bool),
    /// `_filter_f__in=[..]`; an empty list matches nothing.
    In(Vec<Value>),
    /// `_filter_f__icontains="x"`: case-insensitive substring (ASCII case on SQLite,
    /// Unicode on PostgreSQL).
    IContains(String),
    Gt(Value),
    Lt(Value),
    Gte(Value),
    Lte(Value),
}

/// A condition on one whitelisted field.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The field the condition is on (from the collection's whitelist).
    pub field: &'static Field,
    /// The lookup and its value(s).
    pub condition: Condition,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// Most items `page_size=0` (everything) answers; more is refused so a client pages instead.
pub const MAX_UNPAGED: u64 = 10_000;

/// Which items of a collection to answer, in which order.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The collection listed; the filters' fields belong to it.
    pub collection: &'static Collection,
    /// Conditions, all of which must hold.
    pub filters: Vec<Filter>,
    /// The field sorted on; `None` sorts on the collection's default.
    pub sort: Option<&'static Field>,
    /// The direction of the sort (and of the tie-breaker).
    pub order: Order,
    /// The slice answered.
    pub page: Page,
}

impl ListQuery {
    /// Everything of a collection, default order, first page of 10.
    pub fn new(collection: &'static Collection) -> Self {
        ListQuery { collection, filters: vec![], sort: None, order: Order::Asc, page: Page::default() }
    }

    /// Adds `field = value` (for nested routes such as `/rest/action_run/<id>/app_runs`).
    ///
    /// # Panics
    /// When the collection has no such field: that is a bug in the caller, not input.
    pub fn with_eq(mut self, field: &str, value: Value) -> Self {
        let field =
            self.collection.field(field).unwrap_or_else(|| panic!("{} has no field {field}", self.collection.what));
        self.filters.push(Filter { field, condition: Condition::Eq(value) });
        self
    }

    pub fn with_page(mut self, page: Page) -> Self {
        self.page = page;
        self
    }
}
