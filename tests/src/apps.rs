//! Where the things a test runs are: the workspace, the `outpost` binary, the sample
//! apps `bash apps/build.sh` builds (bundles and components), the component fixtures
//! kept as text, and the precompiled-artifact cache tests share.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The bundles and components every suite expects in the dist folder.
const SAMPLES: [&str; 10] = [
    "qa.tgz",
    "geoip.tgz",
    "whois.tgz",
    "reputation.tgz",
    "hostile.tgz",
    "qa.wasm",
    "geoip.wasm",
    "whois.wasm",
    "reputation.wasm",
    "hostile.wasm",
];

/// The workspace root.
pub fn workspace() -> PathBuf {
    let kit = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    kit.parent().map(PathBuf::from).unwrap_or(kit)
}

/// Cargo's target folder: `CARGO_TARGET_DIR`, or the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

/// The `outpost` binary: `OUTPOST_BIN`, or the workspace's debug build.
pub fn outpost_bin() -> PathBuf {
    let path = std::env::var_os("OUTPOST_BIN").map(PathBuf::from).unwrap_or_else(|| target_dir().join("debug/outpost"));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p outpost` first (the README's test command does)",
        path.display()
    );
    path
}

/// The folder of built apps: `OUTPOST_APPS_DIST`, or `apps/dist`. Every sample must be
/// there: a missing one fails the test rather than skipping it.
pub fn dist() -> PathBuf {
    let dir = std::env::var_os("OUTPOST_APPS_DIST").map(PathBuf::from).unwrap_or_else(|| workspace().join("apps/dist"));
    for sample in SAMPLES {
        assert!(
            dir.join(sample).exists(),
            "{} lacks {sample}: run `bash apps/build.sh` first (the README's test command does), or set \
             OUTPOST_APPS_DIST",
            dir.display()
        );
    }
    dir
}

/// A sample app's bundle (`<app>.tgz`) as built.
pub fn bundle(app: &str) -> Vec<u8> {
    read(dist().join(format!("{app}.tgz")))
}

/// A sample app's component (`<app>.wasm`), e.g. the QA connector's, a real one.
pub fn component(app: &str) -> Vec<u8> {
    read(dist().join(format!("{app}.wasm")))
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lowercase hex sha256, as the broker and workers name components.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `apps/hostile/foreign-import.wat` as a component: a correct handler that also
/// imports `evil:fs/files@1.0.0`, outside the connector world.
pub fn foreign_import() -> Vec<u8> {
    fixture(include_str!("../../apps/hostile/foreign-import.wat"))
}

/// `apps/hostile/handler-only.wat` as a component: the same without that import, a valid
/// connector whose handler traps.
pub fn handler_only() -> Vec<u8> {
    fixture(include_str!("../../apps/hostile/handler-only.wat"))
}

fn fixture(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("the fixture is not valid component text: {e}"))
}

/// Precompiled artifacts shared by tests that do not measure compilation, across test
/// processes too (nextest runs one per test): compiling each sample once per run is
/// enough.
pub fn compile_cache_dir() -> PathBuf {
    target_dir().join("tmp/outpost-sandbox-cache")
}
