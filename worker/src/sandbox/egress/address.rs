//! Where a request may land: the host is resolved here, not by the connector, and every
//! address is judged before a connection is made. Loopback, private, link-local,
//! metadata and other special ranges are refused unless the worker allows the range.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

use super::policy::Host;

/// Why a connector may not reach `ip`, or `None` when it is an ordinary public address.
///
/// IPv4-mapped (`::ffff:127.0.0.1`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`)
/// addresses are judged by the IPv4 address they carry.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, d] = ip.octets();
    let reason = match (a, b, c, d) {
        (169, 254, 169, 254) | (100, 100, 100, 200) | (192, 0, 0, 192) => "cloud metadata",
        (0, ..) => "unspecified",
        (127, ..) => "loopback",
        (10, ..) | (172, 16..=31, ..) | (192, 168, ..) => "private",
        (100, 64..=127, ..) => "shared (CGNAT)",
        (169, 254, ..) => "link-local",
        (192, 0, 2, _) | (198, 51, 100, _) | (203, 0, 113, _) => "documentation",
        (192, 0, 0, _) | (192, 88, 99, _) => "reserved",
        (198, 18..=19, ..) => "benchmarking",
        (255, 255, 255, 255) => "broadcast",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("cloud metadata");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // NAT64 well-known prefix and 6to4: the packet ends up at the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded_v4(s[1], s[2]));
    }
    let reason = match s[0] {
        // ::/96 (IPv4-compatible, deprecated), ::/8 in general, 64:ff9b:1::/48 (local NAT64).
        0x0000 => "reserved",
        0x0064 if s[1] == 0xff9b => "reserved",
        0x0100 if s[1..4] == [0, 0, 0] => "reserved",
        // Teredo tunnels to an obfuscated IPv4 address; benchmarking; ORCHID.
        0x2001 if s[1] == 0 => "reserved",
        0x2001 if s[1] == 2 && s[2] == 0 => "benchmarking",
        0x2001 if (0x10..=0x2f).contains(&s[1]) => "reserved",
        0x2001 if s[1] == 0xdb8 => "documentation",
        0x3fff if s[1] < 0x1000 => "documentation",
        x if x & 0xfe00 == 0xfc00 => "private (unique local)",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "private (site-local)",
        x if x & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    };
    Some(reason)
}

/// Why a request was refused, as it appears in the result and in `HttpExchange.denied`.
fn address_denial(host: &Host, ip: IpAddr, reason: &str) -> String {
    match host {
        Host::Ip(_) => format!("{ip} is a {reason} address, not allowed for connectors"),
        Host::Name(name) => {
            format!("{name} resolves to {ip}, a {reason} address, not allowed for connectors")
        }
    }
}

/// Resolves `host` and keeps the addresses a connector may reach: public ones, and
/// refused ones inside `allow_cidrs`. `Err` carries the denial for the first refused
/// address when none is left.
pub async fn resolve_allowed(
    host: &Host,
    port: u16,
    allow_cidrs: &[IpNet],
    timeout: Duration,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let candidates: Vec<SocketAddr> = match host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
        Host::Name(name) => {
            let lookup = tokio::net::lookup_host((name.as_str(), port));
            match tokio::time::timeout(timeout, lookup).await {
                Err(_) => return Err(ResolveError::Timeout),
                Ok(Err(error)) => return Err(ResolveError::Lookup(error.to_string())),
                Ok(Ok(addrs)) => addrs.collect(),
            }
        }
    };
    check_addresses(host, candidates, allow_cidrs)
}

/// The address filter of [`resolve_allowed`], apart from name resolution.
pub fn check_addresses(
    host: &Host,
    candidates: Vec<SocketAddr>,
    allow_cidrs: &[IpNet],
) -> Result<Vec<SocketAddr>, ResolveError> {
    let mut first_denial = None;
    let mut allowed = Vec::new();
    for addr in candidates {
        let ip = addr.ip().to_canonical();
        let explicitly_allowed = allow_cidrs.iter().any(|net| net.contains(&ip));
        match forbidden_reason(ip) {
            Some(reason) if !explicitly_allowed => {
                first_denial.get_or_insert_with(|| address_denial(host, ip, reason));
            }
            _ => allowed.push(SocketAddr::new(ip, addr.port())),
        }
    }
    match (allowed.is_empty(), first_denial) {
        (false, _) => Ok(allowed),
        (true, Some(denial)) => Err(ResolveError::Denied(denial)),
        (true, None) => Err(ResolveError::Lookup("no addresses".into())),
    }
}

/// How resolving a request's host went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Denied(String),
    #[error("name lookup failed: {0}")]
    Lookup(String),
    #[error("name lookup timed out")]
    Timeout,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::egress::policy::normalize_host;

    fn name(host: &str) -> Host {
        normalize_host(host).unwrap()
    }

    #[test]
    fn classifier_refuses_internal_ipv4() {
        for (ip, reason) in [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "cloud metadata"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("198.18.0.1", "benchmarking"),
        ] {
            assert_eq!(forbidden_reason(ip.parse().unwrap()), Some(reason), "{ip}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "93.184.216.34"] {
            assert_eq!(forbidden_reason(public.parse().unwrap()), None, "{public}");
        }
    }

    #[test]
    fn classifier_refuses_internal_ipv6_and_embedded_ipv4() {
        for (ip, reason) in [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:7f00:1", "loopback"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("::ffff:10.0.0.1", "private"),
            ("::127.0.0.1", "reserved"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "cloud metadata"),
            ("2002:7f00:1::", "loopback"),
            ("2002:c0a8:101::1", "private"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fd12:3456::1", "private (unique local)"),
            ("fc00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "private (site-local)"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "reserved"),
            ("100::1", "reserved"),
        ] {
            assert_eq!(forbidden_reason(ip.parse().unwrap()), Some(reason), "{ip}");
        }
        for public in ["2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert_eq!(forbidden_reason(public.parse().unwrap()), None, "{public}");
        }
    }

    #[test]
    fn allow_cidrs_let_chosen_ranges_through_even_when_mapped() {
        let loopback: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let host = name("localhost");
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        let other: SocketAddr = "127.0.0.2:80".parse().unwrap();
        assert_eq!(check_addresses(&host, vec![v4], &loopback), Ok(vec![v4]));
        assert_eq!(check_addresses(&host, vec![mapped], &loopback), Ok(vec![v4]));
        assert!(matches!(check_addresses(&host, vec![other], &loopback), Err(ResolveError::Denied(_))));
        let denied = check_addresses(&host, vec![v4], &[]).unwrap_err();
        assert_eq!(
            denied,
            ResolveError::Denied(
                "localhost resolves to 127.0.0.1, a loopback address, not allowed for connectors".into()
            )
        );
    }

    #[test]
    fn public_addresses_survive_next_to_private_ones() {
        let host = name("mixed.example.com");
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let private: SocketAddr = "10.0.0.1:443".parse().unwrap();
        assert_eq!(check_addresses(&host, vec![private, public], &[]), Ok(vec![public]));
    }

    /// A loopback listener whose accept queue is full: a further connect to it hangs

    #[tokio::test]
    async fn resolver_numeric_tricks_still_land_on_the_classifier() {
        // Even if a numeric trick got past host validation, the resolved address is
        // what is checked. getaddrinfo accepts these without any DNS traffic.
        for trick in ["2130706433", "0x7f.1", "127.1", "0177.0.0.1"] {
            let host = Host::Name(trick.to_string());
            let result = resolve_allowed(&host, 80, &[], Duration::from_secs(2)).await;
            match result {
                Err(ResolveError::Denied(reason)) => assert!(reason.contains("loopback"), "{trick}: {reason}"),
                // A resolver that refuses the notation is fine too.
                Err(ResolveError::Lookup(_)) => {}
                other => panic!("{trick}: {other:?}"),
            }
        }
    }
}
