//! App bundles built inside a test: the tgz format the broker installs (any entries,
//! hostile ones included), base64 as `POST /rest/app` takes it, and the test apps whose
//! manifests have what the samples lack, all running on the real QA component.

use base64::Engine;
use serde_json::{Value, json};

use crate::apps;

/// One entry of a test bundle.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// A regular file: path, content.
    File(&'a str, &'a [u8]),
    /// A folder.
    Dir(&'a str),
    /// A symbolic link: path, target.
    Symlink(&'a str, &'a str),
    /// A hard link: path, target.
    HardLink(&'a str, &'a str),
}

/// A gzip-compressed tar of `entries`, written as they are: names are not checked, so
/// `../x` and `/etc/x` can be built (names up to 100 bytes).
pub fn tgz_of(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        let (path, content): (&str, &[u8]) = match *entry {
            Entry::File(path, content) => {
                header.set_entry_type(tar::EntryType::Regular);
                (path, content)
            }
            Entry::Dir(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                (path, &[])
            }
            Entry::Symlink(path, target) | Entry::HardLink(path, target) => {
                let kind =
                    if matches!(entry, Entry::Symlink(..)) { tar::EntryType::Symlink } else { tar::EntryType::Link };
                header.set_entry_type(kind);
                header.set_link_name(target).unwrap_or_else(|e| panic!("link target {target}: {e}"));
                (path, &[])
            }
        };
        header.set_size(content.len() as u64);
        // `set_path` refuses "..": write the name bytes directly to build hostile bundles.
        let name = header.as_old_mut().name.as_mut();
        assert!(path.len() <= name.len(), "test bundle entry names are at most {} bytes: {path}", name.len());
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, content).unwrap_or_else(|e| panic!("tar entry {path}: {e}"));
    }
    let gzip = builder.into_inner().unwrap_or_else(|e| panic!("tar: {e}"));
    gzip.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}

/// A gzip-compressed tar of regular files (`(path, content)`).
pub fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<Entry<'_>> = files.iter().map(|(path, content)| Entry::File(path, content)).collect();
    tgz_of(&entries)
}

/// Bundle bytes as `POST /rest/app` takes them: `{"app": "<base64>"}`.
pub fn encode(bundle: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bundle)
}

/// The GUID of the "Lookup" test app.
pub const LOOKUP_APPID: &str = "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0";

/// A manifest for a test app that runs on the QA component, with what the sample apps
/// lack: a `value_list`, a numeric parameter, defaults and a secret.
pub fn lookup_manifest(version: &str) -> Value {
    json!({
        "appid": LOOKUP_APPID,
        "name": "Lookup",
        "app_version": version,
        "product_vendor": "Outpost Tests",
        "product_name": "Lookup",
        "configuration": {
            "base_url": {"data_type": "string", "required": true, "order": 0},
            "token": {"data_type": "password", "required": false, "order": 1},
            "retries": {"data_type": "numeric", "default": 3, "order": 2}
        },
        "actions": [
            {"action": "test connectivity", "identifier": "test_connectivity", "type": "test", "parameters": {}},
            {"action": "lookup", "identifier": "echo", "type": "investigate", "read_only": true,
             "parameters": {
                "value": {"data_type": "string", "required": true, "primary": true},
                "number": {"data_type": "numeric", "default": 5},
                "blob": {"data_type": "string", "value_list": ["fast", "full"], "default": "fast"}
             }}
        ]
    })
}

/// The Lookup app's bundle, base64.
pub fn lookup_bundle(version: &str) -> String {
    let manifest = lookup_manifest(version).to_string();
    encode(&tgz(&[("lookup.json", manifest.as_bytes()), ("lookup.wasm", &apps::component("qa"))]))
}

/// The Checker app's bundle, base64: a test connectivity action, a lookup and a secret
/// (`apikey`) in its configuration.
pub fn checker_bundle(version: &str) -> String {
    let manifest = json!({
        "appid": "2b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        "name": "Checker",
        "app_version": version,
        "configuration": {"base_url": {"data_type": "string"}, "apikey": {"data_type": "password"}},
        "actions": [
            {"action": "test connectivity", "identifier": "test_connectivity", "type": "test"},
            {"action": "lookup", "identifier": "lookup", "type": "investigate",
             "parameters": {"ip": {"data_type": "string", "required": true}}}
        ]
    })
    .to_string();
    encode(&tgz(&[("checker.json", manifest.as_bytes()), ("checker.wasm", &apps::component("qa"))]))
}
