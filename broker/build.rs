//! Embeds the SQL migrations (`migrations/sqlite`, `migrations/postgres`) in the binary.
//!
//! sqlx's `migrate!` macro does the same, but it needs sqlx's `macros` feature, which
//! compiles sqlx and both database drivers (SQLite's C source included) a second time
//! for the proc-macro host: minutes of a cold build for one macro. This writes
//! `$OUT_DIR/migrations.rs`, the same list the macro would read (`<version>_<name>.sql`,
//! sorted by version), and `store::migrations` hands it to sqlx's `Migrator`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let mut out = String::new();
    for backend in ["sqlite", "postgres"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<(i64, String, String)> = vec![];
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let Some((version, rest)) = name.split_once('_') else { continue };
            let Some(description) = rest.strip_suffix(".sql") else { continue };
            assert!(
                !description.ends_with(".up") && !description.ends_with(".down"),
                "{name}: reversible migrations are not supported"
            );
            let version: i64 =
                version.parse().unwrap_or_else(|_| panic!("{name}: a migration's name starts with its version"));
            files.push((version, description.replace('_', " "), path.display().to_string()));
        }
        files.sort();
        writeln!(out, "pub const {}: &[(i64, &str, &str)] = &[", backend.to_uppercase()).ok();
        for (version, description, path) in files {
            writeln!(out, "    ({version}, {description:?}, include_str!({path:?})),").ok();
        }
        writeln!(out, "];").ok();
    }
    let target = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}
