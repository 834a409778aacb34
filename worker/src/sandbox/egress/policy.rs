//! Which destinations an asset allows: its egress patterns (`scheme://host[:port]`),
//! parsed once per run, and request hosts validated and normalized the same way, so a
//! pattern and a request compare like for like.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an egress pattern was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("missing scheme (expected http:// or https://)")]
    MissingScheme,
    #[error("unsupported scheme {0:?} (expected http or https)")]
    Scheme(String),
    #[error("user info is not allowed in an egress pattern")]
    UserInfo,
    #[error("invalid host {0:?}")]
    Host(String),
    #[error("a wildcard must be the first label and cover at least two labels, as in *.example.com")]
    Wildcard,
    #[error("invalid port {0:?}")]
    Port(String),
}

/// The scheme part of a pattern or a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebScheme {
    Http,
    Https,
}

impl WebScheme {
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            _ => None,
        }
    }

    pub(super) fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// The host part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// One host name, lowercase, without a trailing dot.
    Name(String),
    /// `*.example.com`: any subdomain of `example.com`, not `example.com` itself.
    Subdomains(String),
    /// An IP literal (`10.1.2.3`, `[2001:db8::1]`).
    Ip(IpAddr),
}

/// One allowed destination: `scheme://host[:port]`.
///
/// The port defaults to the scheme's (80, 443); `*` allows any port. A full URL
/// (`https://rdap.example.org:8443/path?q`, as a templated `{{ base_url }}` gives) is
/// accepted and only its scheme, host and port count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRule {
    pub scheme: WebScheme,
    pub host: HostPattern,
    /// `None` allows any port.
    pub port: Option<u16>,
}

impl EgressRule {
    /// Parses one pattern; see the type's documentation for the syntax.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let pattern = pattern.trim();
        let (scheme, rest) = pattern.split_once("://").ok_or(PatternError::MissingScheme)?;
        let scheme = WebScheme::parse(scheme).ok_or_else(|| PatternError::Scheme(scheme.to_string()))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(PatternError::UserInfo);
        }
        let (host, port) = split_authority(authority).ok_or_else(|| PatternError::Host(authority.to_string()))?;
        let port = match port {
            None => Some(scheme.default_port()),
            Some("*") => None,
            Some(p) => Some(parse_port(p).ok_or_else(|| PatternError::Port(p.to_string()))?),
        };
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            let suffix = normalize_host(suffix).map_err(|_| PatternError::Wildcard)?;
            match suffix {
                Host::Name(name) if name.contains('.') => HostPattern::Subdomains(name),
                _ => return Err(PatternError::Wildcard),
            }
        } else if host.contains('*') {
            return Err(PatternError::Wildcard);
        } else {
            match normalize_host(host).map_err(|_| PatternError::Host(host.to_string()))? {
                Host::Name(name) => HostPattern::Name(name),
                Host::Ip(ip) => HostPattern::Ip(ip),
            }
        };
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: WebScheme, host: &Host, port: u16) -> bool {
        if self.scheme != scheme || self.port.is_some_and(|p| p != port) {
            return false;
        }
        match (&self.host, host) {
            (HostPattern::Name(want), Host::Name(got)) => want == got,
            (HostPattern::Subdomains(suffix), Host::Name(got)) => {
                got.strip_suffix(suffix.as_str()).is_some_and(|head| head.len() > 1 && head.ends_with('.'))
            }
            (HostPattern::Ip(want), Host::Ip(got)) => want.to_canonical() == got.to_canonical(),
            _ => false,
        }
    }
}

/// The destinations one task may reach: its asset's patterns, parsed once per run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    rules: Vec<EgressRule>,
}

impl EgressPolicy {
    /// Parses the task's patterns; invalid ones are skipped with a warning, so a typo
    /// narrows egress instead of failing the task. No patterns means no egress at all.
    pub fn parse(patterns: &[String]) -> Self {
        let rules = patterns
            .iter()
            .filter_map(|pattern| match EgressRule::parse(pattern) {
                Ok(rule) => Some(rule),
                Err(error) => {
                    tracing::warn!(pattern = %pattern, %error, "ignoring invalid egress pattern");
                    None
                }
            })
            .collect();
        Self { rules }
    }

    /// Whether a request to `scheme://host:port` matches one of the rules.
    pub fn allows(&self, scheme: WebScheme, host: &Host, port: u16) -> bool {
        self.rules.iter().any(|rule| rule.allows(scheme, host, port))
    }
}

/// A request's host, validated and normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name: lowercase ASCII labels, no trailing dot.
    Name(String),
    /// An IP literal in standard notation.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Validates a host as written in a URL or a pattern.
///
/// Only standard dotted-quad IPv4, bracketed IPv6 and RFC 1123 names are accepted.
/// Names that a resolver would read as a number (`2130706433`, `0x7f.1`, `127.1`,
/// `0177.0.0.1`) are refused: they are the usual way to smuggle an address past a
/// name-based check.
pub fn normalize_host(host: &str) -> Result<Host, InvalidHost> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(InvalidHost)?;
        return inner.parse::<Ipv6Addr>().map(|ip| Host::Ip(IpAddr::V6(ip))).map_err(|_| InvalidHost);
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() || host.len() > 253 {
        return Err(InvalidHost);
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let labels: Vec<&str> = host.split('.').collect();
    let valid_label = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !labels.iter().all(valid_label) {
        return Err(InvalidHost);
    }
    // WHATWG's "ends in a number": such a host is an IPv4 address in some notation.
    let last = labels.last().copied().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        return Err(InvalidHost);
    }
    Ok(Host::Name(host))
}

/// A host that is neither a standard IP literal nor an RFC 1123 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid host")]
pub struct InvalidHost;

/// Splits `host[:port]` / `[v6][:port]`; `None` when the shape is wrong.
fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Some((host, None)),
            rest => Some((host, Some(rest.strip_prefix(':')?))),
        };
    }
    match authority.split_once(':') {
        None if !authority.is_empty() => Some((authority, None)),
        Some((host, port)) if !host.is_empty() && !port.contains(':') => Some((host, Some(port))),
        _ => None,
    }
}

fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str) -> EgressRule {
        EgressRule::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    fn name(host: &str) -> Host {
        normalize_host(host).unwrap()
    }

    #[test]
    fn patterns_parse_scheme_host_and_port() {
        assert_eq!(
            rule("https://api.example.com"),
            EgressRule { scheme: WebScheme::Https, host: HostPattern::Name("api.example.com".into()), port: Some(443) }
        );
        assert_eq!(rule("http://x.example.com").port, Some(80));
        assert_eq!(rule("http://x.example.com:*").port, None);
        assert_eq!(rule("HTTPS://API.Example.COM.:8443").host, HostPattern::Name("api.example.com".into()));
        assert_eq!(rule("https://rdap.example.org:8443/path/x?q=1#f").port, Some(8443));
        assert_eq!(rule("https://*.example.com").host, HostPattern::Subdomains("example.com".into()));
        assert_eq!(rule("http://10.0.0.5:8080").host, HostPattern::Ip("10.0.0.5".parse().unwrap()));
        assert_eq!(rule("http://[2001:db8::1]:8080").host, HostPattern::Ip("2001:db8::1".parse().unwrap()));
        assert_eq!(rule("  https://example.com  ").scheme, WebScheme::Https);
    }

    #[test]
    fn garbage_patterns_are_rejected() {
        for bad in [
            "",
            "example.com",
            "//example.com",
            "ftp://example.com",
            "file:///etc/passwd",
            "gopher://example.com:70",
            "https://",
            "https://:443",
            "https://user:pw@example.com",
            "https://example.com@evil.com",
            "https://*",
            "https://*.com",
            "https://a.*.example.com",
            "https://ex*ample.com",
            "https://**.example.com",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:-1",
            "https://example.com:+80",
            "https://example.com:80:80",
            "https://example.com:",
            "https://exa mple.com",
            "https://exa_mple.com",
            "https://-example.com",
            "https://xn--.com.",
            "https://2130706433",
            "https://0x7f.1",
            "https://127.1",
            "https://0177.0.0.1",
            "https://[::1",
            "https://[not-v6]",
            "https://[::1]x",
            "https://::1",
            "https://{{ base_url }}",
            "https://ex%61mple.com",
            "https://example.com\u{0}.evil.com",
            "https://éxample.com",
        ] {
            assert!(EgressRule::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn policy_ignores_invalid_patterns_and_empty_means_nothing() {
        let policy = EgressPolicy::parse(&["garbage".into(), "https://ok.example.com".into()]);
        assert_eq!(policy, EgressPolicy::parse(&["https://ok.example.com".into()]), "only the valid pattern counts");
        assert!(policy.allows(WebScheme::Https, &name("ok.example.com"), 443));
        let none = EgressPolicy::parse(&[]);
        assert!(!none.allows(WebScheme::Https, &name("ok.example.com"), 443));
    }

    #[test]
    fn matching_respects_scheme_port_and_subdomains() {
        let policy = EgressPolicy::parse(&[
            "https://api.example.com".into(),
            "http://*.corp.example:*".into(),
            "https://[2001:db8::1]".into(),
        ]);
        let allows = |scheme, host: &str, port| policy.allows(scheme, &name(host), port);
        assert!(allows(WebScheme::Https, "api.example.com", 443));
        assert!(allows(WebScheme::Https, "API.EXAMPLE.COM.", 443));
        assert!(!allows(WebScheme::Http, "api.example.com", 80));
        assert!(!allows(WebScheme::Https, "api.example.com", 8443));
        assert!(!allows(WebScheme::Https, "x.api.example.com", 443));
        assert!(!allows(WebScheme::Https, "api.example.com.evil.com", 443));
        assert!(!allows(WebScheme::Https, "evilapi.example.com", 443));
        assert!(allows(WebScheme::Http, "a.corp.example", 1234));
        assert!(allows(WebScheme::Http, "a.b.corp.example", 80));
        assert!(!allows(WebScheme::Http, "corp.example", 80));
        assert!(!allows(WebScheme::Http, "xcorp.example", 80));
        assert!(allows(WebScheme::Https, "[2001:db8:0:0::1]", 443));
        assert!(!allows(WebScheme::Https, "[2001:db8::2]", 443));
    }

    #[test]
    fn hosts_that_resolvers_read_as_numbers_are_invalid() {
        for trick in
            ["2130706433", "0x7f000001", "0x7f.1", "127.1", "127.0.1", "0177.0.0.1", "017700000001", "1.2.3.4.5", "a.1"]
        {
            assert!(normalize_host(trick).is_err(), "{trick} should be refused");
        }
        assert_eq!(normalize_host("127.0.0.1"), Ok(Host::Ip("127.0.0.1".parse().unwrap())));
        assert_eq!(normalize_host("1password.com"), Ok(Host::Name("1password.com".into())));
        assert_eq!(normalize_host("0x.example"), Ok(Host::Name("0x.example".into())));
    }
}
