//! `outpost app new <name>`: a connector folder that builds, tests offline, validates
//! and packs as generated.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::embedded::templates;
use super::project::Lang;

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The connector's name: lowercase letters, digits, `-` and `_`, starting with a
    /// letter. It names the folder, the manifest (`<name>.json`) and the bundle.
    pub name: String,
    /// The language of the connector.
    #[arg(long, value_enum, default_value = "rust")]
    pub lang: Lang,
    /// Where to create the folder `<name>` (default: here).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The Rust SDK (`apps/sdk` of an Outpost checkout) the new Cargo.toml depends on;
    /// by default the one of the checkout this binary was built from.
    #[arg(long, env = "OUTPOST_SDK_DIR")]
    pub sdk: Option<PathBuf>,
}

/// Checks a connector name.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !starts_well || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        bail!("'{name}' is not a connector name: use lowercase letters, digits, '-' and '_', starting with a letter");
    }
    if name.len() > 64 {
        bail!("'{name}' is longer than 64 characters");
    }
    Ok(())
}

pub fn run(args: NewArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let dir = args.dir.join(&args.name);
    if dir.exists() {
        bail!("{} already exists; choose another name or --dir", dir.display());
    }
    let appid = uuid::Uuid::new_v4().to_string();
    let fill = |text: &str, lang: &str, unit_tests: &str, sdk: &str| {
        text.replace("{{name}}", &args.name)
            .replace("{{appid}}", &appid)
            .replace("{{lang}}", lang)
            .replace("{{unit_tests}}", unit_tests)
            .replace("{{sdk}}", sdk)
    };
    let mut files: Vec<(String, String)> = vec![
        (format!("{}.json", args.name), fill(templates::MANIFEST, "", "", "")),
        ("tests/lookup_ip.json".into(), templates::TAPE.to_string()),
        (".gitignore".into(), templates::GITIGNORE.to_string()),
    ];
    match args.lang {
        Lang::Rust => {
            let sdk = match &args.sdk {
                Some(sdk) => sdk.clone(),
                None => default_sdk()?,
            };
            let sdk = std::fs::canonicalize(&sdk)
                .with_context(|| format!("the Rust SDK is not at {} (give its folder with --sdk)", sdk.display()))?;
            let sdk = sdk.display().to_string();
            files.push(("Cargo.toml".into(), fill(templates::RUST_CARGO_TOML, "", "", &sdk)));
            files.push(("src/lib.rs".into(), fill(templates::RUST_LIB, "", "", "")));
            let unit = "Its pure logic has unit tests: `cargo test --target x86_64-unknown-linux-gnu`.";
            files.push(("README.md".into(), fill(templates::README, "Rust", unit, "")));
        }
        Lang::Python => {
            files.push(("app.py".into(), fill(templates::PYTHON_APP, "", "", "")));
            files.push(("test_app.py".into(), templates::PYTHON_TEST.to_string()));
            let unit = "Its pure logic has unit tests: `PYTHONPATH=target/outpost/sdk python3 -m unittest` \
                        after a build (the build writes the SDK there).";
            files.push(("README.md".into(), fill(templates::README, "Python", unit, "")));
        }
    }
    for (path, contents) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, contents).with_context(|| format!("cannot write {}", target.display()))?;
    }
    println!("created {} ({:?} connector, appid {appid})", dir.display(), args.lang);
    println!("next: cd {} && outpost app build", dir.display());
    Ok(())
}

/// The Rust SDK of the checkout this binary was built from.
fn default_sdk() -> anyhow::Result<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/sdk");
    if sdk.join("Cargo.toml").is_file() {
        return Ok(sdk);
    }
    bail!("the Rust SDK is not at {} (this binary moved from its checkout): give its folder with --sdk", sdk.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["hello", "ip-lookup", "vt_v3", "a1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Hello", "1abc", "-x", "a b", "../evil", "é", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
