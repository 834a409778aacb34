//! The sample bundles `apps/build.sh` makes install: valid manifests, components that
//! implement the connector world and import nothing outside it.

use std::path::PathBuf;

fn dist() -> PathBuf {
    let dir = std::env::var_os("OUTPOST_APPS_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../apps/dist"));
    assert!(dir.join("qa.tgz").exists(), "{} holds no bundles: run `bash apps/build.sh`", dir.display());
    dir
}

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
        let bytes = std::fs::read(dist().join(file)).unwrap();
        let bundle = outpost_broker::bundle::read(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(bundle.abi_version, "0.1.0", "{file}");
        assert!(bundle.manifest.name.eq_ignore_ascii_case(name), "{file} is named {}", bundle.manifest.name);
        for action in actions {
            assert!(bundle.manifest.action(action).is_some(), "{file} lacks action '{action}'");
        }
        assert_eq!(bundle.digest.len(), 64);
    }
}
