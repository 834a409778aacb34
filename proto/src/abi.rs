//! What a connector component may import and must export.
//!
//! The broker checks this when an app is installed; the worker links exactly these
//! interfaces. A component importing anything else is refused with the import named.

use crate::CONNECTOR_ABI;

/// Interface name prefixes a connector may import (any `0.2.x` of WASI).
///
/// WASI is linked with nothing granted (no files, environment, arguments, sockets), and
/// `wasi:http/outgoing-handler` only reaches the hosts the asset allows.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "outpost:connector/host@0.1.",
    "outpost:connector/types@0.1.",
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/types@0.2.",
    "wasi:http/outgoing-handler@0.2.",
];

/// Core module instances one connector component may create. Each slot of a worker's
/// pooling allocator is sized for this many: a Rust connector has a handful (its module
/// and the canonical-ABI shims), a componentize-py (Python) one about 20, and 38 when
/// built with `--stub-wasi`. The broker refuses, at install, a component that needs more.
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
/// Linear memories one connector component may define (an interpreter brings a few).
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 4;
/// Function tables one connector component may define.
pub const MAX_TABLES_PER_COMPONENT: u32 = 16;

/// The interface every connector exports, without its version.
pub const HANDLER_INTERFACE: &str = "outpost:connector/handler";

/// Whether a component may import this (versioned) interface name.
pub fn import_allowed(name: &str) -> bool {
    ALLOWED_IMPORTS.iter().any(|prefix| {
        name.starts_with(prefix) && (!prefix.starts_with("wasi:") || prefix.contains('@') || name.contains("@0.2."))
    })
}

/// The ABI version of a handler export name, e.g. `outpost:connector/handler@0.1.0` → `0.1.0`.
pub fn handler_version(export_name: &str) -> Option<&str> {
    export_name.strip_prefix(HANDLER_INTERFACE)?.strip_prefix('@')
}

/// Whether this build of Outpost can run a handler of that version: same major, and
/// for 0.x the same minor (semver compatibility as wasmtime links it).
pub fn handler_version_supported(version: &str) -> bool {
    let ours: Vec<&str> = CONNECTOR_ABI.split('.').collect();
    let theirs: Vec<&str> = version.split('.').collect();
    if theirs.len() != 3 || theirs.iter().any(|p| p.parse::<u64>().is_err()) {
        return false;
    }
    if ours[0] == "0" { theirs[0] == "0" && theirs[1] == ours[1] } else { theirs[0] == ours[0] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_imports() {
        assert!(import_allowed("outpost:connector/host@0.1.0"));
        assert!(import_allowed("wasi:cli/environment@0.2.6"));
        assert!(import_allowed("wasi:http/outgoing-handler@0.2.0"));
        assert!(!import_allowed("wasi:cli/environment@0.3.0"));
        assert!(!import_allowed("wasi:http/incoming-handler@0.2.0"));
        assert!(!import_allowed("acme:evil/syscalls@1.0.0"));
        assert!(!import_allowed("outpost:connector/host@0.2.0"));
    }

    #[test]
    fn handler_versions() {
        assert_eq!(handler_version("outpost:connector/handler@0.1.0"), Some("0.1.0"));
        assert_eq!(handler_version("outpost:connector/host@0.1.0"), None);
        assert!(handler_version_supported("0.1.0"));
        assert!(handler_version_supported("0.1.7"));
        assert!(!handler_version_supported("0.2.0"));
        assert!(!handler_version_supported("0.1.0-rc1"));
        assert!(!handler_version_supported("1.0"));
    }
}
