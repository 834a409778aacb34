//! The connectors `bash apps/build.sh` builds, as the worker's tests find them.

use std::path::PathBuf;

/// The folder holding the built connectors (`OUTPOST_APPS_DIST`, or `apps/dist`).
pub fn dist_dir() -> PathBuf {
    std::env::var_os("OUTPOST_APPS_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../apps/dist"))
}

/// A built connector's bytes; a missing one fails the test and says how to build it.
pub fn component(app: &str) -> Vec<u8> {
    let path = dist_dir().join(format!("{app}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{} is missing ({e}): run `bash apps/build.sh` first (or set OUTPOST_APPS_DIST)", path.display())
    })
}

/// Precompiled artifacts shared by tests that do not measure compilation, across test
/// processes too (nextest runs one per test).
pub fn shared_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("outpost-worker-sandbox-cache")
}
