//! The install checks of bundles, without a broker: the sample bundles `apps/build.sh`
//! makes pass them (valid manifests, components that implement the connector world and
//! import nothing outside it), and the bundles that must not: a foreign import, a zip
//! bomb, links, too many entries, too many bytes.

use outpost_tests::apps;
use outpost_tests::bundle::{Entry, tgz_of};

#[test]
fn every_sample_bundle_passes_the_install_checks() {
    for (file, name, actions) in [
        ("qa.tgz", "QA", vec!["test connectivity", "echo", "sleep", "fail", "crash"]),
        ("geoip.tgz", "GeoIP", vec!["test connectivity", "geolocate ip"]),
        ("whois.tgz", "WHOIS RDAP", vec!["test connectivity", "whois domain", "whois ip"]),
        (
            "reputation.tgz",
            "Reputation",
            vec!["file reputation", "url reputation", "ip reputation", "domain reputation"],
        ),
        ("hostile.tgz", "Hostile", vec!["spin", "recurse", "grow memory", "snoop"]),
    ] {
        let bytes = std::fs::read(apps::dist().join(file)).unwrap();
        let bundle = outpost_broker::catalog::bundle::read(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(bundle.abi_version, "0.1.0", "{file}");
        assert!(bundle.manifest.name.eq_ignore_ascii_case(name), "{file} is named {}", bundle.manifest.name);
        for action in actions {
            assert!(bundle.manifest.action(action).is_some(), "{file} lacks action '{action}'");
        }
        assert_eq!(bundle.digest.len(), 64);
    }
}

const MANIFEST: &str = r#"{"appid": "6e2c3d0a-8f1b-4c5e-9a7d-2b4f6e8a0c1d", "name": "T", "app_version": "1.0.0",
    "actions": [{"action": "echo", "identifier": "echo", "type": "generic"}]}"#;

/// The refusal of a bundle, as `POST /rest/app` words it.
fn refusal(bundle: &[u8]) -> String {
    outpost_broker::catalog::bundle::read(bundle).expect_err("the bundle is refused").to_string()
}

#[test]
fn a_component_importing_outside_the_world_is_refused_naming_the_import() {
    let component = apps::foreign_import();
    let message = refusal(&tgz_of(&[Entry::File("t.json", MANIFEST.as_bytes()), Entry::File("t.wasm", &component)]));
    assert_eq!(
        message,
        "invalid app bundle: the component imports 'evil:fs/files@1.0.0', which is outside the outpost:connector \
         world (it may import: outpost:connector/host@0.1.x, outpost:connector/types@0.1.x, wasi:cli/*@0.2.x, \
         wasi:io/*@0.2.x, wasi:clocks/*@0.2.x, wasi:random/*@0.2.x, wasi:filesystem/*@0.2.x, wasi:sockets/*@0.2.x, \
         wasi:http/types@0.2.x, wasi:http/outgoing-handler@0.2.x)"
    );
    // Without that import the same component is a valid connector.
    let clean = apps::handler_only();
    let bundle = outpost_broker::catalog::bundle::read(&tgz_of(&[
        Entry::File("t.json", MANIFEST.as_bytes()),
        Entry::File("t.wasm", &clean),
    ]))
    .expect("the fixture without its import is a connector");
    assert_eq!(bundle.abi_version, "0.1.0");
}

#[test]
fn a_bundle_that_unpacks_past_160_mib_is_refused() {
    // Zeros compress a thousandfold: well under the 64 MiB compressed limit.
    let zeros = vec![0u8; 81 << 20];
    let bomb = tgz_of(&[
        Entry::File("t.json", MANIFEST.as_bytes()),
        Entry::File("a.bin", &zeros),
        Entry::File("b.bin", &zeros),
    ]);
    assert!(bomb.len() < 1 << 20, "{} bytes compressed", bomb.len());
    assert_eq!(refusal(&bomb), "invalid app bundle: the bundle holds more than 160 MiB unpacked");
}

#[test]
fn links_are_refused_naming_the_entry() {
    for link in [Entry::Symlink("t.wasm", "/etc/passwd"), Entry::HardLink("t.wasm", "t.json")] {
        assert_eq!(
            refusal(&tgz_of(&[Entry::File("t.json", MANIFEST.as_bytes()), link])),
            "invalid app bundle: entry 't.wasm' is a link; bundles hold plain files only"
        );
    }
}

#[test]
fn more_than_256_entries_are_refused_folders_included() {
    let names: Vec<String> = (0..257).map(|i| format!("f{i}.txt")).collect();
    let mut files: Vec<Entry<'_>> = names.iter().map(|n| Entry::File(n, b"x")).collect();
    files.insert(0, Entry::File("t.json", MANIFEST.as_bytes()));
    assert_eq!(refusal(&tgz_of(&files)), "invalid app bundle: the bundle holds more than 256 entries");

    let dirs: Vec<String> = (0..300).map(|i| format!("d{i}/")).collect();
    let folders: Vec<Entry<'_>> = dirs.iter().map(|d| Entry::Dir(d)).collect();
    assert_eq!(refusal(&tgz_of(&folders)), "invalid app bundle: the bundle holds more than 256 entries");
}

#[test]
fn an_oversized_bundle_is_refused_before_it_is_read() {
    assert_eq!(
        refusal(&vec![0x1f; outpost_broker::catalog::bundle::MAX_BUNDLE_BYTES + 1]),
        "invalid app bundle: the bundle is 67108865 bytes, more than the 64 MiB allowed"
    );
}
