//! `outpost app build [DIR]`: the connector's component, `dist/<name>.wasm`.
//!
//! Rust: `cargo build --release --target wasm32-wasip2` (a target folder of its own,
//! or `CARGO_TARGET_DIR`). Python: componentize-py with the connector world, the
//! Python world and the SDK this binary carries (written to `target/outpost/`); the
//! component is rebuilt only when an input changed (the app's `.py` files, the SDK, the
//! WIT, componentize-py's version). A missing tool is named with the command that
//! installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::embedded::{self, COMPONENTIZE_PY_VERSION};
use super::project::{Lang, Project};

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The connector folder.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// componentize-py to build Python connectors with (default: `componentize-py` on
    /// the PATH, else `<DIR>/.venv/bin/componentize-py`).
    #[arg(long, env = "OUTPOST_COMPONENTIZE_PY")]
    pub componentize_py: Option<PathBuf>,
}

pub fn run(args: BuildArgs) -> anyhow::Result<()> {
    let project = Project::open(&args.dir)?;
    let out = project.component_path();
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new("dist")))?;
    match project.lang {
        Lang::Rust => build_rust(&project, &out)?,
        Lang::Python => build_python(&project, &out, args.componentize_py)?,
    }
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!("built {} ({})", out.display(), outpost_proto::size::human_bytes(size));
    Ok(())
}

fn build_rust(project: &Project, out: &Path) -> anyhow::Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Err(_) => bail!(
            "rustup is not installed: install Rust with https://rustup.rs, then `rustup target add wasm32-wasip2`"
        ),
        Ok(list) if !String::from_utf8_lossy(&list.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") => {
            bail!("the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2`")
        }
        Ok(_) => {}
    }
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| project.dir.join("target"));
    let status = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(project.dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .context("cannot run cargo: install Rust with https://rustup.rs")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    let artifact =
        target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", crate_name(project)?.replace('-', "_")));
    std::fs::copy(&artifact, out).with_context(|| format!("cargo built no {}", artifact.display()))?;
    Ok(())
}

/// The package name in `Cargo.toml`.
fn crate_name(project: &Project) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(project.dir.join("Cargo.toml"))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("name").map(str::trim_start).and_then(|l| l.strip_prefix('='))
        {
            return Ok(value.trim().trim_matches('"').to_string());
        }
    }
    bail!("{} has no [package] name", project.dir.join("Cargo.toml").display())
}

/// The componentize-py to use, or the command that installs it.
fn componentize_py(project: &Project, given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let candidates =
        given.into_iter().chain([PathBuf::from("componentize-py"), project.dir.join(".venv/bin/componentize-py")]);
    for candidate in candidates {
        if let Ok(output) = Command::new(&candidate).arg("--version").output()
            && output.status.success()
        {
            let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
            if !version.contains(COMPONENTIZE_PY_VERSION) {
                eprintln!("warning: {version} found; the SDK is tested with componentize-py {COMPONENTIZE_PY_VERSION}");
            }
            return Ok(candidate);
        }
    }
    bail!(
        "componentize-py is not installed: run `python3 -m venv .venv && .venv/bin/pip install \
         componentize-py=={COMPONENTIZE_PY_VERSION}` in {} (or put componentize-py on the PATH, or name it with \
         --componentize-py)",
        project.dir.display()
    )
}

fn build_python(project: &Project, out: &Path, given: Option<PathBuf>) -> anyhow::Result<()> {
    let tool = componentize_py(project, given)?;
    let work = project.dir.join("target").join("outpost");
    let (wit, python_wit, sdk) = (work.join("wit"), work.join("python-wit"), work.join("sdk"));
    embedded::write_tree(&wit, embedded::CONNECTOR_WIT)?;
    embedded::write_tree(&python_wit, embedded::PYTHON_WIT)?;
    embedded::write_tree(&sdk, embedded::PYTHON_SDK)?;

    let version = Command::new(&tool).arg("--version").output().map(|o| o.stdout).unwrap_or_default();
    let inputs = inputs_digest(&project.dir, &version)?;
    let stamp = work.join("inputs.sha256");
    if out.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == inputs) {
        println!("{} is up to date (no source changed)", out.display());
        return Ok(());
    }
    let mut command = Command::new(&tool);
    command.arg("-d").arg(&wit).arg("-d").arg(&python_wit).args(["-w", embedded::PYTHON_WORLD]);
    for name in embedded::PYTHON_INTERFACE_NAMES {
        command.args(["--import-interface-name", name]);
    }
    let partial = out.with_extension("wasm.part");
    command.args(["componentize", "app", "-p"]).arg(&project.dir).arg("-p").arg(&sdk).arg("-o").arg(&partial);
    let status = command.status().with_context(|| format!("cannot run {}", tool.display()))?;
    if !status.success() {
        bail!("componentize-py failed ({status}); its message is above");
    }
    std::fs::rename(&partial, out)?;
    std::fs::write(&stamp, inputs)?;
    Ok(())
}

/// sha256 over the app's `.py` files (by name and contents), the embedded SDK and WIT,
/// and the tool's version.
fn inputs_digest(dir: &Path, tool_version: &[u8]) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(tool_version);
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "py"))
        .collect();
    sources.sort();
    for source in sources {
        hasher.update(source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        hasher.update(std::fs::read(&source)?);
    }
    for (path, contents) in embedded::CONNECTOR_WIT.iter().chain(embedded::PYTHON_WIT).chain(embedded::PYTHON_SDK) {
        hasher.update(path);
        hasher.update(contents);
    }
    Ok(hex::encode(hasher.finalize()))
}
