//! The JSON shapes of SOAR's records, field for field as the seeds document them.
//!
//! Every response body is a typed struct deriving both `Serialize` (what is sent) and
//! `ToSchema` (what `/rest/openapi.json` documents), so the document cannot drift from
//! the responses. Fields always present are `required` in the schema, `null`able ones
//! included; `_pretty_*` fields appear only with `?pretty`.

//!
//! # Layout
//! This file holds what every resource shares (the list envelope, `_pretty_*` names,
//! the generic answers); each resource's shapes are in their own file:
//! `action_runs`, `app_runs`, `containers`, `artifacts`, `assets`, `apps`,
//! `automation_proxy`, `system`, `health`, `users`, `roles`, `audit_records`.

mod action_runs;
mod app_runs;
mod apps;
mod artifacts;
mod assets;
mod audit_records;
mod automation_proxy;
mod containers;
mod health;
mod roles;
mod system;
mod users;

use std::collections::HashMap;

use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use crate::store::collections::Named;
use crate::store::{Listing, Store, StoreResult};

pub use crate::catalog::assets::{MASK, masked};
pub use action_runs::*;
pub use app_runs::*;
pub use apps::*;
pub use artifacts::*;
pub use assets::*;
pub use audit_records::*;
pub use automation_proxy::*;
pub use containers::*;
pub use health::*;
pub use roles::*;
pub use system::*;
pub use users::*;

/// SOAR's list envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListBody<T: ToSchema> {
    /// How many items match, on every page.
    pub count: u64,
    /// How many pages of `page_size` items that makes (1 for `page_size=0`, 0 when empty).
    pub num_pages: u64,
    /// The items of the requested page.
    pub data: Vec<T>,
}

impl<T: ToSchema> ListBody<T> {
    pub fn new<S>(listing: &Listing<S>, render: impl Fn(&S) -> T) -> Self {
        ListBody { count: listing.count, num_pages: listing.num_pages, data: listing.data.iter().map(render).collect() }
    }
}

/// A `_pretty_*` field: left out without `?pretty`; with it, the name of what the id
/// refers to, or null.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Pretty {
    #[default]
    Off,
    Name(Option<String>),
}

impl Pretty {
    pub fn is_off(&self) -> bool {
        *self == Pretty::Off
    }
}

impl Serialize for Pretty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Pretty::Off => serializer.serialize_none(),
            Pretty::Name(name) => name.serialize(serializer),
        }
    }
}

/// Names of the objects records refer to, fetched in one query per kind for a whole page.
#[derive(Debug, Default)]
pub struct Names {
    /// Whether `_pretty_*` fields are wanted.
    pub pretty: bool,
    /// id → name, per kind of object.
    names: HashMap<Named, HashMap<i64, String>>,
}

impl Names {
    /// Fetches the names of `ids` per kind when `pretty` is on; otherwise nothing.
    pub async fn fetch(
        store: &Store,
        pretty: bool,
        wanted: impl IntoIterator<Item = (Named, Vec<i64>)>,
    ) -> StoreResult<Names> {
        let mut names = Names { pretty, names: HashMap::new() };
        if !pretty {
            return Ok(names);
        }
        for (kind, ids) in wanted {
            let found = store.names(kind, ids).await?;
            names.names.entry(kind).or_default().extend(found);
        }
        Ok(names)
    }

    /// Like [`Names::fetch`], but fetches regardless of `pretty` (for fields that always
    /// show a name, such as a container's `owner`).
    pub async fn fetch_always(
        store: &Store,
        pretty: bool,
        wanted: impl IntoIterator<Item = (Named, Vec<i64>)>,
    ) -> StoreResult<Names> {
        let mut names = Names::fetch(store, true, wanted).await?;
        names.pretty = pretty;
        Ok(names)
    }

    /// The name of an object, if known.
    pub fn name(&self, kind: Named, id: Option<i64>) -> Option<String> {
        id.and_then(|id| self.names.get(&kind)?.get(&id).cloned())
    }

    /// The `_pretty_*` value for an id.
    pub fn pretty(&self, kind: Named, id: Option<i64>) -> Pretty {
        if self.pretty { Pretty::Name(self.name(kind, id)) } else { Pretty::Off }
    }
}

/// `{"failed": true, "message": ...}`: every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct Failure {
    /// Always true.
    pub failed: bool,
    /// What went wrong, naming the culprit.
    pub message: String,
}

/// `{"success": true, "id": N}`: a creation or update.
#[derive(Debug, Serialize, ToSchema)]
pub struct Saved {
    /// Always true.
    pub success: bool,
    /// The id of the object created or changed.
    pub id: i64,
}

impl Saved {
    pub fn new(id: i64) -> Self {
        Saved { success: true, id }
    }
}

/// The answer to a `DELETE`: an asset deleted, a user or role disabled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Always true.
    pub success: bool,
    /// The id of the deleted object.
    pub id: i64,
    /// What was deleted.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked() {
        let config = json!({"base_url": "https://x", "apikey": "s3cret", "unset": null});
        let shown = masked(config.as_object().unwrap(), &["apikey", "unset"]);
        assert_eq!(shown, json!({"base_url": "https://x", "apikey": MASK, "unset": null}));
    }

    #[test]
    fn pretty_fields_show_only_when_asked() {
        #[derive(Serialize)]
        struct Shape {
            /// The field under test.
            #[serde(rename = "_pretty_x", skip_serializing_if = "Pretty::is_off")]
            x: Pretty,
        }
        assert_eq!(serde_json::to_value(Shape { x: Pretty::Off }).unwrap(), json!({}));
        assert_eq!(serde_json::to_value(Shape { x: Pretty::Name(None) }).unwrap(), json!({"_pretty_x": null}));
        assert_eq!(
            serde_json::to_value(Shape { x: Pretty::Name(Some("a".into())) }).unwrap(),
            json!({"_pretty_x": "a"})
        );
    }
}
