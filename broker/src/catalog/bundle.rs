//! App bundles: what `POST /rest/app` and `outpost up` install.
//!
//! A bundle is a gzip-compressed tar whose root (or single top-level folder) holds the
//! SOAR-format manifest `<app>.json` and the component `<app>.wasm` (or the file named
//! by the manifest's `outpost.component`). Anything else in it is ignored.
//!
//! A bundle is refused, with the reason, when it is not gzip/tar, when an entry escapes
//! the bundle (absolute path, `..`, links), when it is larger than the limits, when the
//! manifest is missing or invalid, or when the component is missing, is not a valid
//! WebAssembly component, does not export `outpost:connector/handler@0.1.x`, or imports
//! anything outside the connector world.

use std::io::Read;

use outpost_proto::abi;
use outpost_proto::manifest::{MAX_MANIFEST_BYTES, Manifest};
use outpost_proto::size::human_bytes;
use sha2::{Digest, Sha256};

/// Largest compressed bundle accepted.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;
/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: u64 = 100 * 1024 * 1024;
/// Largest total of all entries, uncompressed (a zip-bomb guard).
pub const MAX_UNPACKED_BYTES: u64 = 160 * 1024 * 1024;
/// Most entries (files, folders and any other kind) a bundle may hold.
pub const MAX_ENTRIES: usize = 256;

/// A checked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    pub component: Vec<u8>,
    /// Lowercase hex sha256 of the component.
    pub digest: String,
    /// The connector ABI version the component exports, e.g. `0.1.0`.
    pub abi_version: String,
}

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid app bundle: {0}")]
pub struct BundleError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, BundleError> {
    Err(BundleError(message.into()))
}

/// Refuses a bundle larger than [`MAX_BUNDLE_BYTES`], before anything else is read.
pub fn check_size(len: usize) -> Result<(), BundleError> {
    if len > MAX_BUNDLE_BYTES {
        return refuse(format!(
            "the bundle is {len} bytes, more than the {} allowed",
            human_bytes(MAX_BUNDLE_BYTES as u64)
        ));
    }
    Ok(())
}

/// Reads and checks a bundle.
pub fn read(bytes: &[u8]) -> Result<Bundle, BundleError> {
    check_size(bytes.len())?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return refuse("not a gzip-compressed tar archive");
    }
    let mut files: Vec<(String, Vec<u8>)> = vec![];
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive.entries().map_err(|e| BundleError(format!("unreadable archive: {e}")))?;
    let mut unpacked = 0u64;
    for (count, entry) in entries.enumerate() {
        // Every entry counts, folders included: millions of empty headers compress to
        // little and would otherwise all be walked.
        if count >= MAX_ENTRIES {
            return refuse(format!("the bundle holds more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(|e| BundleError(format!("unreadable archive: {e}")))?;
        let path =
            entry.path().map_err(|e| BundleError(format!("bad entry name: {e}")))?.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        if path.starts_with('/') || path.split(['/', '\\']).any(|part| part == "..") {
            return refuse(format!("entry '{path}' escapes the bundle"));
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return refuse(format!("entry '{path}' is a link; bundles hold plain files only"));
        }
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname()
        {
            continue;
        }
        if !kind.is_file() {
            return refuse(format!("entry '{path}' is not a plain file"));
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        unpacked = unpacked.saturating_add(size);
        if unpacked > MAX_UNPACKED_BYTES {
            return refuse(format!("the bundle holds more than {} unpacked", human_bytes(MAX_UNPACKED_BYTES)));
        }
        let mut content = Vec::with_capacity(size.min(MAX_COMPONENT_BYTES) as usize);
        entry
            .by_ref()
            .take(MAX_UNPACKED_BYTES)
            .read_to_end(&mut content)
            .map_err(|e| BundleError(format!("unreadable entry '{path}': {e}")))?;
        files.push((path.trim_start_matches("./").to_string(), content));
    }
    let files = strip_common_folder(files);

    let jsons: Vec<&(String, Vec<u8>)> =
        files.iter().filter(|(p, _)| p.ends_with(".json") && !p.contains('/')).collect();
    let wasms: Vec<&(String, Vec<u8>)> =
        files.iter().filter(|(p, _)| p.ends_with(".wasm") && !p.contains('/')).collect();
    let manifest_file = match jsons.as_slice() {
        [] => return refuse("no manifest (<app>.json) at the bundle's root"),
        [one] => *one,
        several => {
            // Several JSON files: the manifest is the one named like the component.
            let stems: Vec<&str> = wasms.iter().map(|(p, _)| p.trim_end_matches(".wasm")).collect();
            match several.iter().find(|(p, _)| stems.contains(&p.trim_end_matches(".json"))) {
                Some(found) => *found,
                None => return refuse("several .json files at the root and none named like the component"),
            }
        }
    };
    if manifest_file.1.len() > MAX_MANIFEST_BYTES {
        return refuse(format!(
            "manifest '{}' is {} bytes, more than the {} allowed",
            manifest_file.0,
            manifest_file.1.len(),
            human_bytes(MAX_MANIFEST_BYTES as u64)
        ));
    }
    let manifest = Manifest::parse(&manifest_file.1).map_err(|e| BundleError(format!("{}: {e}", manifest_file.0)))?;
    let component_name = match &manifest.outpost.component {
        Some(name) => name.clone(),
        None => match wasms.as_slice() {
            [one] => one.0.clone(),
            [] => return refuse("no component (.wasm) at the bundle's root"),
            _ => return refuse("several .wasm files and the manifest names none in outpost.component"),
        },
    };
    let Some((_, component)) = files.iter().find(|(p, _)| *p == component_name) else {
        return refuse(format!("component '{component_name}' named by the manifest is not in the bundle"));
    };
    if component.len() as u64 > MAX_COMPONENT_BYTES {
        return refuse(format!(
            "component '{component_name}' is {} bytes, more than the {} allowed",
            component.len(),
            human_bytes(MAX_COMPONENT_BYTES)
        ));
    }
    let abi_version = check_component(component)?;
    let digest = hex::encode(Sha256::digest(component));
    Ok(Bundle { manifest, component: component.clone(), digest, abi_version })
}

/// Bundles made with `tar czf x.tgz myapp/` hold everything under one folder: look
/// inside it.
fn strip_common_folder(files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let first = files.first().and_then(|(p, _)| p.split_once('/').map(|(dir, _)| dir.to_string()));
    match first {
        Some(dir) if files.iter().all(|(p, _)| p.starts_with(&format!("{dir}/"))) => {
            files.into_iter().map(|(p, c)| (p[dir.len() + 1..].to_string(), c)).collect()
        }
        _ => files,
    }
}

/// The imports a connector may have, as an operator reads them:
/// `outpost:connector/host@0.1.x, …, wasi:cli/*@0.2.x, …`.
fn allowed_imports() -> String {
    let shown: Vec<String> = abi::ALLOWED_IMPORTS
        .iter()
        .map(|prefix| match prefix.strip_suffix('/') {
            Some(package) => format!("{package}/*@0.2.x"),
            None => format!("{prefix}x"),
        })
        .collect();
    shown.join(", ")
}

/// Validates a component and checks it against the connector world; answers the ABI
/// version its handler export implements.
pub fn check_component(bytes: &[u8]) -> Result<String, BundleError> {
    if !wasmparser::Parser::is_component(bytes) {
        return refuse(if wasmparser::Parser::is_core_wasm(bytes) {
            "the .wasm file is a core module, not a component (build for wasm32-wasip2 or run `wasm-tools component new`)"
        } else {
            "the .wasm file is not WebAssembly"
        });
    }
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator.validate_all(bytes).map_err(|e| BundleError(format!("invalid component: {e}")))?;

    let mut imports = vec![];
    let mut exports = vec![];
    let mut depth = 0usize;
    let mut needs = Needs::default();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| BundleError(format!("invalid component: {e}")))?;
        match payload {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| BundleError(format!("invalid component: {e}")))?;
                    imports.push(import.name.name.to_string());
                }
            }
            wasmparser::Payload::InstanceSection(reader) => needs.count_instances(reader)?,
            wasmparser::Payload::MemorySection(reader) => needs.memories += reader.count(),
            wasmparser::Payload::TableSection(reader) => needs.tables += reader.count(),
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| BundleError(format!("invalid component: {e}")))?;
                    exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    needs.check()?;
    if let Some(bad) = imports.iter().find(|name| !abi::import_allowed(name)) {
        return refuse(format!(
            "the component imports '{bad}', which is outside the outpost:connector world (it may import: {})",
            allowed_imports()
        ));
    }
    let Some(version) = exports.iter().find_map(|name| abi::handler_version(name)) else {
        return refuse(format!(
            "the component does not export {}@{} (it exports: {})",
            abi::HANDLER_INTERFACE,
            outpost_proto::CONNECTOR_ABI,
            if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
        ));
    };
    if !abi::handler_version_supported(version) {
        return refuse(format!(
            "the component implements {}@{version}, but this Outpost runs {}",
            abi::HANDLER_INTERFACE,
            outpost_proto::CONNECTOR_ABI
        ));
    }
    Ok(version.to_string())
}

/// What a component needs of a worker's pooling allocator slot.
#[derive(Default)]
struct Needs {
    core_instances: u32,
    memories: u32,
    tables: u32,
}

impl Needs {
    fn count_instances(&mut self, reader: wasmparser::InstanceSectionReader<'_>) -> Result<(), BundleError> {
        for instance in reader {
            let instance = instance.map_err(|e| BundleError(format!("invalid component: {e}")))?;
            if matches!(instance, wasmparser::Instance::Instantiate { .. }) {
                self.core_instances += 1;
            }
        }
        Ok(())
    }

    /// Refuses a component that could not be instantiated in a worker's slot, naming
    /// what it needs against what a slot holds.
    fn check(&self) -> Result<(), BundleError> {
        for (what, needs, limit) in [
            ("core module instances", self.core_instances, abi::MAX_CORE_INSTANCES_PER_COMPONENT),
            ("linear memories", self.memories, abi::MAX_MEMORIES_PER_COMPONENT),
            ("tables", self.tables, abi::MAX_TABLES_PER_COMPONENT),
        ] {
            if needs > limit {
                return refuse(format!(
                    "the component creates {needs} {what}; a worker's sandbox holds at most {limit} per \
                     connector, so it could never run (a componentize-py build needs about 20, 38 with --stub-wasi)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_imports_read_as_versions() {
        assert_eq!(
            allowed_imports(),
            "outpost:connector/host@0.1.x, outpost:connector/types@0.1.x, wasi:cli/*@0.2.x, wasi:io/*@0.2.x, \
             wasi:clocks/*@0.2.x, wasi:random/*@0.2.x, wasi:filesystem/*@0.2.x, wasi:sockets/*@0.2.x, \
             wasi:http/types@0.2.x, wasi:http/outgoing-handler@0.2.x"
        );
    }

    fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // set_path refuses "..", so write the name bytes directly to build hostile bundles.
            let name = header.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    const MANIFEST: &str = r#"{"appid": "6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d", "name": "T", "app_version": "1.0.0",
        "actions": [{"action": "echo", "identifier": "echo", "type": "generic"}]}"#;

    fn err(bytes: &[u8]) -> String {
        read(bytes).unwrap_err().0
    }

    #[test]
    fn refuses_what_is_not_a_bundle() {
        assert!(err(b"hello").contains("not a gzip"));
        let mut garbage = vec![0x1f, 0x8b];
        garbage.extend_from_slice(b"garbage");
        assert!(err(&garbage).contains("unreadable archive"));
        assert_eq!(
            err(&vec![0x1f; MAX_BUNDLE_BYTES + 1]),
            "the bundle is 67108865 bytes, more than the 64 MiB allowed"
        );
    }

    #[test]
    fn refuses_path_traversal_and_missing_parts() {
        assert!(err(&tgz(&[("../evil.json", MANIFEST.as_bytes())])).contains("escapes the bundle"));
        assert!(err(&tgz(&[("/etc/passwd", b"x")])).contains("escapes the bundle"));
        assert!(err(&tgz(&[("app.wasm", b"\0asm")])).contains("no manifest"));
        assert!(err(&tgz(&[("app.json", b"{\"appid\": 1}")])).contains("app.json: invalid manifest"));
        assert!(err(&tgz(&[("app.json", MANIFEST.as_bytes())])).contains("no component"));
    }

    #[test]
    fn refuses_a_component_with_more_core_instances_than_a_worker_slot_holds() {
        let instances: String = (0..=abi::MAX_CORE_INSTANCES_PER_COMPONENT)
            .map(|i| format!("(core instance $i{i} (instantiate $m))"))
            .collect();
        let text = format!("(component (core module $m) {instances})");
        let component = wat::parse_str(&text).unwrap();
        let message = check_component(&component).unwrap_err().0;
        assert_eq!(
            message,
            format!(
                "the component creates {} core module instances; a worker's sandbox holds at most {} per connector, \
                 so it could never run (a componentize-py build needs about 20, 38 with --stub-wasi)",
                abi::MAX_CORE_INSTANCES_PER_COMPONENT + 1,
                abi::MAX_CORE_INSTANCES_PER_COMPONENT
            )
        );
    }

    #[test]
    fn refuses_components_that_are_not_connectors() {
        let core_module = b"\0asm\x01\0\0\0";
        assert!(err(&tgz(&[("app.json", MANIFEST.as_bytes()), ("app.wasm", core_module)])).contains("core module"));
        assert!(err(&tgz(&[("app.json", MANIFEST.as_bytes()), ("app.wasm", b"not wasm")])).contains("not WebAssembly"));
        // An empty component: valid, but it exports no handler.
        let empty_component = b"\0asm\x0d\0\x01\0";
        let message = err(&tgz(&[("t/app.json", MANIFEST.as_bytes()), ("t/app.wasm", empty_component)]));
        assert!(message.contains("does not export outpost:connector/handler@0.1.0"), "{message}");
    }
}
