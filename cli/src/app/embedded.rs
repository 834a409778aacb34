//! Files `outpost app` carries inside the binary, so it works from any folder: the
//! connector WIT, the Python SDK and its world (written out for each Python build), and
//! the templates `outpost app new` fills in.

/// (path under the build's `wit/` folder, contents): the connector world.
pub const CONNECTOR_WIT: &[(&str, &str)] = &[("connector.wit", include_str!("../../../apps/wit/connector.wit"))];

/// (path under the build's `python-wit/` folder, contents): the Python world, which adds
/// `wasi:http` to the connector world, and the WASI packages it names.
pub const PYTHON_WIT: &[(&str, &str)] = &[
    ("world.wit", include_str!("../../../apps/sdk-python/wit/world.wit")),
    ("deps/cli.wit", include_str!("../../../apps/sdk-python/wit/deps/cli.wit")),
    ("deps/clocks.wit", include_str!("../../../apps/sdk-python/wit/deps/clocks.wit")),
    ("deps/filesystem.wit", include_str!("../../../apps/sdk-python/wit/deps/filesystem.wit")),
    ("deps/http.wit", include_str!("../../../apps/sdk-python/wit/deps/http.wit")),
    ("deps/io.wit", include_str!("../../../apps/sdk-python/wit/deps/io.wit")),
    ("deps/random.wit", include_str!("../../../apps/sdk-python/wit/deps/random.wit")),
    ("deps/sockets.wit", include_str!("../../../apps/sdk-python/wit/deps/sockets.wit")),
];

/// (path under the build's `sdk/` folder, contents): the Python SDK.
pub const PYTHON_SDK: &[(&str, &str)] = &[
    ("outpost_app/__init__.py", include_str!("../../../apps/sdk-python/outpost_app/__init__.py")),
    ("outpost_app/result.py", include_str!("../../../apps/sdk-python/outpost_app/result.py")),
    ("outpost_app/http.py", include_str!("../../../apps/sdk-python/outpost_app/http.py")),
];

/// The world a Python connector is built for, and the names its bindings use.
pub const PYTHON_WORLD: &str = "outpost:python/python-connector@0.1.0";
pub const PYTHON_INTERFACE_NAMES: &[&str] =
    &["outpost:connector/types@0.1.0=types", "wasi:http/types@0.2.12=http_types"];

/// The componentize-py release the Python SDK is built and tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

pub mod templates {
    pub const RUST_CARGO_TOML: &str = include_str!("templates/rust/Cargo.toml");
    pub const RUST_LIB: &str = include_str!("templates/rust/lib.rs");
    pub const PYTHON_APP: &str = include_str!("templates/python/app.py");
    pub const PYTHON_TEST: &str = include_str!("templates/python/test_app.py");
    pub const MANIFEST: &str = include_str!("templates/common/manifest.json");
    pub const TAPE: &str = include_str!("templates/common/lookup_ip.json");
    pub const README: &str = include_str!("templates/common/README.md");
    pub const GITIGNORE: &str = include_str!("templates/common/gitignore");
}

/// Writes `files` under `dir`, creating folders; a file already holding the same bytes
/// is left alone (its time stays, so a build that compares times does not rerun).
pub fn write_tree(dir: &std::path::Path, files: &[(&str, &str)]) -> std::io::Result<()> {
    for (path, contents) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::read(&target).is_ok_and(|old| old == contents.as_bytes()) {
            continue;
        }
        std::fs::write(&target, contents)?;
    }
    Ok(())
}
