//! Turns the datasets listed in `datasets.tsv` (downloaded and verified by `../build.sh`
//! into `../target/datasets/`) into the tables `src/lookup.rs` embeds:
//!
//! - `ipv4.bin`: records of 5 bytes, `range start (u32, big-endian) | country index`;
//! - `ipv6.bin`: records of 17 bytes, `range start (u128, big-endian) | country index`;
//! - `countries.rs`: `COUNTRIES`, the array the index points into (255: no country).
//!
//! Records are sorted by start, cover the whole address space (the first starts at 0) and
//! never repeat a country twice in a row; an address belongs to the last record whose
//! start is not above it. The source CSVs hold some overlapping ranges (a range with
//! more specific ranges inside it, and a few that overlap partly): where ranges overlap,
//! the narrowest one wins. They also give countries to some special-purpose blocks (e.g.
//! `192.168.0.0/16`, `2001:2::/48`); the blocks in [`SPECIAL_PURPOSE`] never have a country.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// The country index of an address in no range.
const NO_COUNTRY: u8 = 255;

/// Blocks of the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and
/// successors) that are not globally reachable, plus multicast: no country owns them.
const SPECIAL_PURPOSE: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:2::/48",
    "2001:10::/28",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var("OUT_DIR")?);
    println!("cargo::rerun-if-changed=datasets.tsv");
    println!("cargo::rerun-if-env-changed=OUTPOST_DATASETS_DIR");
    let root = env::var_os("OUTPOST_DATASETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("../target/datasets"));

    let packages = package_dirs(&crate_dir.join("datasets.tsv"), &root)?;
    let ranges = &packages["@ip-location-db/geo-whois-asn-country"];
    let countries = &packages["countries-list"];

    let mut v4 = read_ranges(&ranges.join("geo-whois-asn-country-ipv4-num.csv"))?;
    let mut v6 = read_ranges(&ranges.join("geo-whois-asn-country-ipv6-num.csv"))?;
    for block in SPECIAL_PURPOSE {
        let (range, is_v6) = special_purpose(block)?;
        if is_v6 { &mut v6 } else { &mut v4 }.push(range);
    }
    v4.sort_by_key(|r| r.first);
    v6.sort_by_key(|r| r.first);

    // Country indexes follow the codes' sorted order, over the codes the ranges use.
    let mut codes: Vec<&str> = v4
        .iter()
        .chain(&v6)
        .filter(|r| !r.special)
        .map(|r| r.code.as_str())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    if codes.len() >= usize::from(NO_COUNTRY) {
        return Err(format!("{} country codes do not fit the table's u8 index", codes.len()).into());
    }
    let index: BTreeMap<&str, u8> = codes.iter().enumerate().map(|(i, c)| (*c, i as u8)).collect();

    fs::write(
        out.join("ipv4.bin"),
        encode(&flatten(&v4, u128::from(u32::MAX), &index), 4),
    )?;
    fs::write(out.join("ipv6.bin"), encode(&flatten(&v6, u128::MAX, &index), 16))?;
    fs::write(out.join("countries.rs"), countries_rs(&codes, countries)?)?;
    Ok(())
}

/// Where each package of `datasets.tsv` was unpacked.
fn package_dirs(list: &Path, root: &Path) -> Result<BTreeMap<String, PathBuf>, Error> {
    let mut dirs = BTreeMap::new();
    for line in fs::read_to_string(list)?.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(package), Some(version)) = (fields.next(), fields.next()) else {
            return Err(format!("{}: malformed line '{line}'", list.display()).into());
        };
        let base = package.rsplit('/').next().unwrap_or(package);
        let dir = root.join(format!("{base}-{version}")).join("package");
        if !dir.is_dir() {
            return Err(format!(
                "dataset {package}@{version} is missing from {}: run apps/build.sh, which downloads and verifies it",
                dir.display()
            )
            .into());
        }
        dirs.insert(package.to_string(), dir);
    }
    Ok(dirs)
}

struct Range {
    first: u128,
    last: u128,
    code: String,
    /// A special-purpose block: no country, whatever other ranges say.
    special: bool,
}

/// The range of a special-purpose block given as `address/prefix`, and whether it is IPv6.
fn special_purpose(block: &str) -> Result<(Range, bool), Error> {
    let (address, prefix) = block.split_once('/').ok_or("a block without prefix length")?;
    let prefix: u32 = prefix.parse()?;
    let (first, bits, is_v6) = match address.parse::<IpAddr>()? {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32, false),
        IpAddr::V6(v6) => (u128::from(v6), 128, true),
    };
    let host_bits = bits - prefix;
    let size_minus_one = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let range = Range {
        first,
        last: first | size_minus_one,
        code: String::new(),
        special: true,
    };
    Ok((range, is_v6))
}

/// Reads `first,last,country_code` lines (inclusive numeric ranges).
fn read_ranges(path: &Path) -> Result<Vec<Range>, Error> {
    println!("cargo::rerun-if-changed={}", path.display());
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(path)?;
    let mut ranges = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        let field = |i: usize| {
            record
                .get(i)
                .ok_or_else(|| format!("{}: short line {record:?}", path.display()))
        };
        let range = Range {
            first: field(0)?.parse()?,
            last: field(1)?.parse()?,
            code: field(2)?.to_string(),
            special: false,
        };
        if range.last < range.first || range.code.len() != 2 {
            return Err(format!("{}: bad line {record:?}", path.display()).into());
        }
        ranges.push(range);
    }
    Ok(ranges)
}

/// Cuts the space `0..=max` at every range boundary and gives each piece the country of
/// the narrowest range covering it (none inside a special-purpose block); then merges
/// neighbours with the same country. `ranges` must be sorted by start.
fn flatten(ranges: &[Range], max: u128, index: &BTreeMap<&str, u8>) -> Vec<(u128, u8)> {
    let mut cuts: Vec<u128> = vec![0];
    for r in ranges {
        cuts.push(r.first);
        if r.last < max {
            cuts.push(r.last + 1);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();

    // Ranges that started at or before the current cut: special-purpose blocks first,
    // then the narrowest (ties: the later line wins). Ranges that ended are dropped
    // lazily when they reach the top.
    let mut open: BinaryHeap<(bool, Reverse<u128>, usize)> = BinaryHeap::new();
    let mut next = 0;
    let mut table: Vec<(u128, u8)> = Vec::new();
    for cut in cuts {
        while next < ranges.len() && ranges[next].first <= cut {
            let range = &ranges[next];
            open.push((range.special, Reverse(range.last - range.first), next));
            next += 1;
        }
        while open.peek().is_some_and(|&(_, _, i)| ranges[i].last < cut) {
            open.pop();
        }
        let country = match open.peek() {
            Some(&(false, _, i)) => index[ranges[i].code.as_str()],
            _ => NO_COUNTRY,
        };
        if table.last().is_none_or(|&(_, last)| last != country) {
            table.push((cut, country));
        }
    }
    table
}

/// Serializes records as `start (width bytes, big-endian) | country index`.
fn encode(table: &[(u128, u8)], width: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(table.len() * (width + 1));
    for &(start, country) in table {
        bytes.extend_from_slice(&start.to_be_bytes()[16 - width..]);
        bytes.push(country);
    }
    bytes
}

/// The `COUNTRIES` array: for each code, what countries-list says about it. A code that
/// list does not know (e.g. `AN`, the dissolved Netherlands Antilles) keeps only its code.
fn countries_rs(codes: &[&str], dir: &Path) -> Result<String, Error> {
    let read = |name: &str| -> Result<serde_json::Value, Error> {
        let path = dir.join(name);
        println!("cargo::rerun-if-changed={}", path.display());
        Ok(serde_json::from_str(&fs::read_to_string(path)?)?)
    };
    let countries = read("countries.min.json")?;
    let continents = read("continents.min.json")?;
    let text = |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_str).map(str::to_string);

    let mut src = format!(
        "/// Generated by build.rs from countries-list.\nstatic COUNTRIES: [Country; {}] = [\n",
        codes.len()
    );
    for code in codes {
        let country = countries.get(*code);
        let name = text(country.and_then(|c| c.get("name")));
        let continent_code = text(country.and_then(|c| c.get("continent")));
        let continent_name = text(continent_code.as_deref().and_then(|c| continents.get(c)));
        writeln!(
            src,
            "    Country {{ iso_code: {code:?}, name: {name:?}, continent_code: {continent_code:?}, continent_name: {continent_name:?} }},"
        )?;
    }
    src.push_str("];\n");
    Ok(src)
}
