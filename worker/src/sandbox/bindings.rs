//! Host bindings of the connector world (`apps/wit`, world `connector`).
//!
//! The `host` imports are synchronous: they only touch the run's own state, so they
//! need no fiber switch. `log` may trap (the line past the budget stops the connector).
//! The `handler` export is called asynchronously so the epoch callback can yield a busy
//! connector and a timeout can drop the call.

use super::Invocation;

wasmtime::component::bindgen!({
    path: "../apps/wit",
    world: "connector",
    imports: { "outpost:connector/host.log": trappable },
    exports: { default: async },
});

pub use outpost::connector::types::{ActionResult, Request, Status as WitStatus};

/// The interface every connector must export, as operators read it.
pub const HANDLER_INTERFACE: &str = "outpost:connector/handler@0.1.x";

/// Whether a component export name is a version of the handler this host can call:
/// `outpost:connector/handler@0.1.<patch>` (semver-compatible with what we built
/// against; pre-releases match only themselves, so they are refused).
pub fn is_handler_export(name: &str) -> bool {
    outpost_proto::abi::handler_version(name).is_some_and(outpost_proto::abi::handler_version_supported)
}

/// The WIT request record for one invocation.
pub fn request(inv: &Invocation) -> Request {
    Request {
        action: inv.action.clone(),
        identifier: inv.identifier.clone(),
        parameter: inv.parameter_json.clone(),
        asset_config: inv.asset_config_json.clone(),
        asset_id: inv.asset_id,
        asset_name: inv.asset_name.clone(),
        container_id: inv.container_id,
        action_run_id: inv.action_run_id,
        app_run_id: inv.app_run_id,
        context: outpost::connector::types::Context {
            guid: inv.context.guid.clone(),
            artifact_id: inv.context.artifact_id,
            parent_action_run: inv.context.parent_action_run.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::is_handler_export;

    #[test]
    fn handler_versions_are_matched_semver_compatibly() {
        assert!(is_handler_export("outpost:connector/handler@0.1.0"));
        assert!(is_handler_export("outpost:connector/handler@0.1.7"));
        assert!(!is_handler_export("outpost:connector/handler@0.2.0"));
        assert!(!is_handler_export("outpost:connector/handler@0.1.0-rc1"));
        assert!(!is_handler_export("outpost:connector/handler"));
        assert!(!is_handler_export("wasi:http/incoming-handler@0.2.0"));
    }
}
