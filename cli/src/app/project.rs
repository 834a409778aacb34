//! A connector as `outpost app` finds it: a folder (Rust or Python sources, the
//! manifest, `dist/`) or a bundle file.
//!
//! A connector folder holds its manifest `<name>.json` at the root (the one `.json`
//! file there) and either a `Cargo.toml` (Rust) or an `app.py` (Python). Builds go to
//! `dist/<name>.wasm`, bundles to `dist/<name>.tgz`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use outpost_proto::manifest::Manifest;

/// The language a connector folder is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
}

/// A connector folder.
#[derive(Debug)]
pub struct Project {
    /// The folder.
    pub dir: PathBuf,
    /// `<name>.json`'s stem: names the component and the bundle.
    pub name: String,
    pub lang: Lang,
    /// The manifest file.
    pub manifest_path: PathBuf,
}

impl Project {
    /// Reads a connector folder, saying what is missing when it is not one.
    pub fn open(dir: &Path) -> anyhow::Result<Project> {
        if !dir.is_dir() {
            bail!("{} is not a folder (a connector folder or a .tgz bundle was expected)", dir.display());
        }
        let lang = if dir.join("Cargo.toml").is_file() {
            Lang::Rust
        } else if dir.join("app.py").is_file() {
            Lang::Python
        } else {
            bail!(
                "{} is not a connector folder: it has neither a Cargo.toml (Rust) nor an app.py (Python); \
                 `outpost app new <name>` makes one",
                dir.display()
            );
        };
        let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        manifests.sort();
        let manifest_path = match manifests.as_slice() {
            [one] => one.clone(),
            [] => bail!("{} holds no manifest (<name>.json, SOAR's app JSON)", dir.display()),
            several => bail!(
                "{} holds several .json files ({}); a connector folder holds one, its manifest",
                dir.display(),
                several
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let name = manifest_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Project { dir: dir.to_path_buf(), name, lang, manifest_path })
    }

    /// The manifest's bytes.
    pub fn manifest_bytes(&self) -> anyhow::Result<Vec<u8>> {
        std::fs::read(&self.manifest_path).with_context(|| format!("cannot read {}", self.manifest_path.display()))
    }

    /// Where `outpost app build` puts the component.
    pub fn component_path(&self) -> PathBuf {
        self.dir.join("dist").join(format!("{}.wasm", self.name))
    }

    /// Where `outpost app pack` puts the bundle.
    pub fn bundle_path(&self) -> PathBuf {
        self.dir.join("dist").join(format!("{}.tgz", self.name))
    }

    /// The built component, or a message saying to build it.
    pub fn component(&self) -> anyhow::Result<Vec<u8>> {
        let path = self.component_path();
        std::fs::read(&path).with_context(|| {
            format!("{} is not built yet: run `outpost app build {}`", path.display(), self.dir.display())
        })
    }
}

/// A manifest and a component, from a folder (built) or a bundle file.
pub struct Loaded {
    pub manifest: Manifest,
    /// The manifest as JSON, unknown keys included.
    pub manifest_json: serde_json::Value,
    pub component: Vec<u8>,
    /// What was read, for messages.
    pub source: String,
}

/// Loads `path`: a connector folder (its manifest and built component) or a `.tgz`
/// bundle (checked exactly as the broker checks it at install).
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    if path.is_dir() {
        let project = Project::open(path)?;
        let bytes = project.manifest_bytes()?;
        let manifest = Manifest::parse(&bytes).with_context(|| project.manifest_path.display().to_string())?;
        let manifest_json = serde_json::from_slice(&bytes)?;
        let component = project.component()?;
        return Ok(Loaded { manifest, manifest_json, component, source: project.dir.display().to_string() });
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bundle = outpost_broker::catalog::bundle::read(&bytes).with_context(|| path.display().to_string())?;
    let manifest_json = serde_json::to_value(&bundle.manifest)?;
    Ok(Loaded {
        manifest: bundle.manifest,
        manifest_json,
        component: bundle.component,
        source: path.display().to_string(),
    })
}

/// Where compiled components are cached between runs of `outpost app test` and
/// `validate` (compiling a Python component takes seconds): `OUTPOST_CACHE_DIR`, else
/// `~/.cache/outpost/compiled`, else a folder in the temp dir.
pub fn compile_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("OUTPOST_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("outpost").join("compiled"),
        None => std::env::temp_dir().join("outpost-compiled"),
    }
}
