//! `outpost app pack [DIR]`: the installable bundle, `dist/<name>.tgz`, checked exactly
//! as the broker checks it at install.
//!
//! The bundle is a gzip-compressed tar of `<name>.json` and the component (named
//! `<name>.wasm`, or as the manifest's `outpost.component` says), entries sorted, owned
//! by 0:0 with mtime 0 and a gzip header without name or time: the same inputs give
//! the same bytes, as `apps/build.sh` makes them.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use outpost_proto::manifest::Manifest;

use super::project::Project;

#[derive(Debug, clap::Args)]
pub struct PackArgs {
    /// The connector folder (built with `outpost app build`).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// The bundle of a manifest and a component.
pub fn bundle(name: &str, manifest_bytes: &[u8], component: &[u8]) -> anyhow::Result<Vec<u8>> {
    let manifest = Manifest::parse(manifest_bytes).with_context(|| format!("{name}.json"))?;
    let component_name = manifest.outpost.component.clone().unwrap_or_else(|| format!("{name}.wasm"));
    let mut entries = [(format!("{name}.json"), manifest_bytes), (component_name, component)];
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let gzip = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gzip);
    for (path, contents) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(&path)?;
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, contents)?;
    }
    let mut gzip = tar.into_inner()?;
    gzip.flush()?;
    Ok(gzip.finish()?)
}

pub fn run(args: PackArgs) -> anyhow::Result<()> {
    let project = Project::open(&args.dir)?;
    let component = project.component()?;
    let bytes = bundle(&project.name, &project.manifest_bytes()?, &component)?;
    let checked = outpost_broker::catalog::bundle::read(&bytes).context("the bundle would be refused at install")?;
    let path = project.bundle_path();
    std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "packed {} ({}): {} {}, component sha256 {}",
        path.display(),
        outpost_proto::size::human_bytes(bytes.len() as u64),
        checked.manifest.name,
        checked.manifest.app_version,
        checked.digest
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{"appid": "6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d", "name": "T", "app_version": "1.0.0",
        "actions": [{"action": "echo", "identifier": "echo", "type": "generic"}]}"#;

    #[test]
    fn the_same_inputs_give_the_same_bytes_and_a_bad_manifest_is_refused() {
        let first = bundle("t", MANIFEST.as_bytes(), b"\0asm").unwrap();
        assert_eq!(first, bundle("t", MANIFEST.as_bytes(), b"\0asm").unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(first.as_slice()));
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, vec!["t.json", "t.wasm"]);
        let error = bundle("t", b"{\"appid\": 1}", b"\0asm").unwrap_err();
        assert!(format!("{error:#}").starts_with("t.json: invalid manifest"), "{error:#}");
    }
}
