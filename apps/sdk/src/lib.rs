//! `outpost-app`: write Outpost connectors in Rust.
//!
//! A connector implements [`Connector`] and registers it with [`export_connector!`]; the
//! SDK turns the host's request into an [`Action`], hands the handler an
//! [`ActionResult`] to fill in, and turns an `Err` into a `failed` result carrying the
//! error's message. Everything a connector may ask of the host is a plain function here.
//!
//! ```ignore
//! use outpost_app::{Action, ActionResult, Connector, Result, Status};
//!
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
//!         #[derive(serde::Deserialize)]
//!         struct Params { name: String }
//!         let p: Params = action.params()?;
//!         result.add_data(serde_json::json!({ "greeting": format!("hello {}", p.name) }))?;
//!         result.set_status(Status::Success, "Greeted");
//!         Ok(())
//!     }
//! }
//!
//! outpost_app::export_connector!(Hello);
//! ```
//!
//! # Layout
//! - `action`: [`Action`], one parameter set of one action as the host sent it.
//! - `result`: [`ActionResult`] and [`Status`], SOAR's result builder.
//! - `host`: [`save_progress`], [`load_state`], [`save_state`] and [`sleep`].
//! - [`contains`]: checks for parameter values of SOAR's `contains` types.
//! - [`log`]: lines for the worker's log.
//! - [`http`]: a small blocking client over `wasi:http/outgoing-handler`.
//! - `export`: the glue behind [`export_connector!`].

// Lets the generated bindings name this crate as `::outpost_app` both here and inside
// connector crates, where the export macro expands.
extern crate self as outpost_app;

mod action;
pub mod contains;
mod export;
mod host;
pub mod http;
pub mod log;
mod result;

pub use action::{Action, Context};
pub use anyhow::{self, Error, Result, bail, ensure};
pub use host::{load_state, save_progress, save_state, sleep};
pub use result::{ActionResult, Status};

/// What a connector implements: one method that handles one parameter set.
///
/// Outpost instantiates the component afresh for every parameter set, so a connector
/// keeps nothing between calls except what it saves with [`save_state`].
pub trait Connector {
    /// Handles one parameter set of `action`, recording what it found in `result`.
    ///
    /// Returning `Ok(())` without calling [`ActionResult::set_status`] means success.
    /// Returning `Err(e)` marks the result `failed` with `e`'s message (its whole chain,
    /// `outer: inner`); data and summary added before the error are kept.
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()>;
}

/// The bindings wit-bindgen generates for `wit/connector.wit`.
///
/// Hidden: connector authors never see WIT types. `unsafe` is allowed here only,
/// because the generated code lifts and lowers values across the component boundary
/// with raw pointers into linear memory; no hand-written code in this SDK uses it.
#[doc(hidden)]
#[allow(unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "connector",
        path: "../wit",
        // `export_connector!` expands in the connector's crate and calls this macro
        // there, so it must be public and find its types through this crate.
        pub_export_macro: true,
        export_macro_name: "__export_connector_world",
        default_bindings_module: "::outpost_app::bindings",
        runtime_path: "::outpost_app::__private::wit_bindgen::rt",
    });
}

/// Items [`export_connector!`] needs from inside a connector crate. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::handle;
    pub use wit_bindgen;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_shows_the_qa_connector_verbatim() {
        let readme = include_str!("../README.md");
        let qa = include_str!("../../qa/src/lib.rs");
        assert!(
            readme.contains(&format!("```rust\n{qa}```")),
            "sdk/README.md must end with apps/qa/src/lib.rs, verbatim, in a rust code block"
        );
    }
}
