//! Outgoing HTTP for connectors: which requests an asset allows, where they may land,
//! and how they are sent.
//!
//! A connector reaches the network only through `wasi:http/outgoing-handler`. Every
//! request it makes arrives in [`EgressHooks::send_request`], which
//! 1. matches the request's scheme, host and port against the asset's egress patterns
//!    (`scheme://host[:port]`, see [`EgressRule`]); no match is a denial;
//! 2. resolves the host itself and refuses addresses a connector must never reach
//!    (loopback, private, link-local, metadata, ...; see [`forbidden_reason`]) unless
//!    the worker explicitly allows their range ([`EgressConfig::allow_cidrs`]);
//! 3. connects to the checked address (never to the name again, so a second DNS answer
//!    cannot swap in another address), speaks TLS with SNI = the host name for https,
//!    with clamped timeouts (the connect timeout is one budget for resolving,
//!    connecting and the handshake) and a capped response body.
//!
//! `wasi:http` does not follow redirects: a connector that follows a `Location` header
//! makes a new request, which passes through all of the above again. So a redirect to
//! a forbidden host or address is denied like any other request.
//!
//! Every request, allowed or not, is recorded in the run's [`Journal`] and logged.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use ipnet::IpNet;
use outpost_proto::v1::HttpExchange;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Outgoing-HTTP settings of one worker, the same for every asset it serves.
#[derive(Clone, Debug)]
pub struct EgressConfig {
    /// Address ranges a connector may reach although they are normally refused
    /// (loopback, RFC 1918, ...): e.g. the on-premises network a remote worker sits in,
    /// or `127.0.0.1/32` in tests.
    pub allow_cidrs: Vec<IpNet>,
    /// Longest wait for a connection, all of it: resolving the name, connecting (trying
    /// up to three addresses) and the TLS handshake. A connector may ask for less,
    /// never more.
    pub connect_timeout: Duration,
    /// Longest wait for the response head once the request is sent.
    pub first_byte_timeout: Duration,
    /// Longest silence between two chunks of a response body.
    pub between_bytes_timeout: Duration,
    /// Largest response body a connector may receive; a bigger one ends with
    /// `HTTP-response-body-size`.
    pub max_response_bytes: u64,
    /// Extra trust anchors for https besides the Mozilla roots (a private CA, or a
    /// test's self-signed certificate).
    pub extra_root_certificates: Vec<CertificateDer<'static>>,
    /// Records or replays the exchanges of requests the policy allowed (`outpost app
    /// test --record/--replay`); `None` on a worker, which always sends for real.
    pub tape: Option<crate::tape::Tape>,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            allow_cidrs: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            between_bytes_timeout: Duration::from_secs(30),
            max_response_bytes: 8 << 20,
            extra_root_certificates: Vec::new(),
            tape: None,
        }
    }
}

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
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
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
#[derive(Debug, Clone, Default)]
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

    /// The rules that survived parsing.
    pub fn rules(&self) -> &[EgressRule] {
        &self.rules
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

/// Network resources shared by every run of one worker: settings and the TLS client.
pub struct EgressNet {
    config: EgressConfig,
    tls: tokio_rustls::TlsConnector,
}

impl EgressNet {
    /// Builds the TLS client once (Mozilla roots plus the configured extra ones).
    pub fn new(config: EgressConfig) -> Result<Self, rustls::Error> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for cert in &config.extra_root_certificates {
            roots.add(cert.clone())?;
        }
        // An explicit provider: with both ring and aws-lc-rs compiled into the binary,
        // rustls cannot pick a process default by itself.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { config, tls: tokio_rustls::TlsConnector::from(Arc::new(tls)) })
    }

    /// The settings this was built from.
    pub fn config(&self) -> &EgressConfig {
        &self.config
    }
}

/// Bounds on what one run records, so a connector looping over requests cannot grow
/// the result without limit.
const MAX_RECORDED_EXCHANGES: usize = 1000;

/// What one run did on the network: every request in order, and the first denial.
#[derive(Debug, Default)]
pub struct Journal {
    /// One entry per request, as `TaskResult.http` carries it.
    pub exchanges: Vec<HttpExchange>,
    /// `(url, reason)` of the first refused request: it decides the run's message.
    pub first_denial: Option<(String, String)>,
    /// Requests made after the journal was full (1000 entries), not recorded.
    pub unrecorded: u32,
}

/// The egress state of one run, shared between the store's hooks and the request
/// futures they spawn (which outlive a `&mut` borrow of the store).
pub struct EgressRun {
    net: Arc<EgressNet>,
    policy: EgressPolicy,
    journal: Mutex<Journal>,
    task_id: String,
}

impl EgressRun {
    /// The egress state for a task with these (already templated) patterns.
    pub fn new(net: Arc<EgressNet>, patterns: &[String], task_id: &str) -> Arc<Self> {
        Arc::new(Self {
            net,
            policy: EgressPolicy::parse(patterns),
            journal: Mutex::new(Journal::default()),
            task_id: task_id.to_string(),
        })
    }

    /// Takes what was recorded so far.
    pub fn take_journal(&self) -> Journal {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts an entry; `None` when the journal is full.
    fn begin(&self, method: &str, url: &str) -> Option<usize> {
        let mut journal = self.lock();
        if journal.exchanges.len() >= MAX_RECORDED_EXCHANGES {
            journal.unrecorded += 1;
            return None;
        }
        journal.exchanges.push(HttpExchange {
            method: method.to_string(),
            url: url.to_string(),
            ..HttpExchange::default()
        });
        Some(journal.exchanges.len() - 1)
    }

    pub(crate) fn update(&self, entry: Option<usize>, f: impl FnOnce(&mut HttpExchange)) {
        if let Some(index) = entry
            && let Some(exchange) = self.lock().exchanges.get_mut(index)
        {
            f(exchange);
        }
    }

    pub(crate) fn deny(&self, entry: Option<usize>, url: &str, reason: &str, started: Instant) {
        self.update(entry, |exchange| {
            exchange.denied = reason.to_string();
            exchange.duration_ms = millis(started.elapsed());
        });
        self.lock().first_denial.get_or_insert_with(|| (url.to_string(), reason.to_string()));
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The `WasiHttpHooks` of one run: every outgoing request of the connector goes
/// through [`WasiHttpHooks::send_request`] here.
pub struct EgressHooks {
    run: Arc<EgressRun>,
}

impl EgressHooks {
    pub fn new(run: Arc<EgressRun>) -> Self {
        Self { run }
    }
}

pub(crate) type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
pub(crate) type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// Where a request goes, taken apart from its URI.
pub(crate) struct Target {
    scheme: WebScheme,
    pub(crate) host: Host,
    port: u16,
    pub(crate) url: String,
}

impl Target {
    fn from_uri(uri: &http::Uri) -> Result<Self, String> {
        let scheme = uri.scheme_str().and_then(WebScheme::parse).ok_or_else(|| "unsupported scheme".to_string())?;
        let authority = uri.authority().ok_or_else(|| "missing host".to_string())?;
        if authority.as_str().contains('@') {
            return Err("user info in the URL is not allowed".into());
        }
        let host = normalize_host(authority.host()).map_err(|_| format!("invalid host {:?}", authority.host()))?;
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}://{host}:{port}{path}", scheme.as_str());
        Ok(Self { scheme, host, port, url })
    }
}

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let started = Instant::now();
        let run = self.run.clone();
        let method = request.method().to_string();
        let target = match Target::from_uri(request.uri()) {
            Ok(target) => target,
            Err(reason) => {
                let url = request.uri().to_string();
                let entry = run.begin(&method, &url);
                run.deny(entry, &url, &reason, started);
                log_denied(&run, &method, &url, &reason);
                return Box::new(async { Err(HttpError::HttpRequestDenied) });
            }
        };
        let entry = run.begin(&method, &target.url);
        if !run.policy.allows(target.scheme, &target.host, target.port) {
            let reason = "host not allowed for this asset";
            run.deny(entry, &target.url, reason, started);
            log_denied(&run, &method, &target.url, reason);
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        // The transport boundary: past the policy, a tape may answer instead of the network.
        if let Some(tape) = run.net.config.tape.clone() {
            return Box::new(async move { tape.send(&run, entry, &target, request, options, started).await });
        }
        Box::new(async move {
            let result = send(&run, entry, &target, request, options, started).await;
            if let Err(error) = &result {
                run.update(entry, |exchange| exchange.duration_ms = millis(started.elapsed()));
                tracing::info!(
                    task_id = %run.task_id, method = %method, host = %target.host,
                    status = 0u16, bytes = 0u64, duration_ms = millis(started.elapsed()),
                    %error, "connector http request failed"
                );
            }
            result
        })
    }
}

pub(crate) fn log_denied(run: &EgressRun, method: &str, url: &str, reason: &str) {
    tracing::warn!(task_id = %run.task_id, method = %method, url = %url, reason = %reason,
        "connector http request denied");
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

fn clamp(requested: Option<Duration>, max: Duration) -> Duration {
    requested.map_or(max, |r| r.min(max))
}

pub(crate) async fn send(
    run: &Arc<EgressRun>,
    entry: Option<usize>,
    target: &Target,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    started: Instant,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let config = &run.net.config;
    let method = request.method().to_string();
    let options = options.unwrap_or_default();
    let connect_timeout = clamp(options.connect_timeout, config.connect_timeout);
    let first_byte_timeout = clamp(options.first_byte_timeout, config.first_byte_timeout);
    let between_bytes_timeout =
        clamp(options.between_bytes_timeout, config.between_bytes_timeout).max(Duration::from_millis(1));

    // One budget for resolving, connecting and the TLS handshake, however many
    // addresses are tried.
    let connect_deadline = tokio::time::Instant::now() + connect_timeout;
    let addrs = match resolve_allowed(&target.host, target.port, &config.allow_cidrs, connect_timeout).await {
        Ok(addrs) => addrs,
        Err(ResolveError::Denied(reason)) => {
            run.deny(entry, &target.url, &reason, started);
            log_denied(run, &method, &target.url, &reason);
            return Err(HttpError::DestinationIpProhibited);
        }
        Err(ResolveError::Timeout) => return Err(HttpError::DnsTimeout),
        Err(ResolveError::Lookup(info)) => {
            return Err(HttpError::DnsError { rcode: Some(info), info_code: None });
        }
    };

    let tcp = connect_any(&addrs, connect_deadline).await?;
    let stream: Box<dyn Stream> = match target.scheme {
        WebScheme::Http => Box::new(tcp),
        WebScheme::Https => {
            let name = match &target.host {
                Host::Name(name) => ServerName::try_from(name.clone()).map_err(|_| HttpError::HttpRequestUriInvalid)?,
                Host::Ip(ip) => ServerName::from(*ip),
            };
            let tls = tokio::time::timeout_at(connect_deadline, run.net.tls.connect(name, tcp))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)?
                .map_err(HttpError::Tls)?;
            Box::new(tls)
        }
    };
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)).await?;
    // The connection runs as its own task; the handle aborts it when dropped, and
    // wasmtime keeps the handle in the run's resource table, so nothing outlives the run.
    let conn = wasmtime_wasi::runtime::spawn(conn);

    // On the wire the request line carries only the path (we are not talking to a proxy).
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() =
        http::Uri::builder().path_and_query(path).build().map_err(|_| HttpError::HttpRequestUriInvalid)?;

    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)??;
    let status = response.status().as_u16();
    run.update(entry, |exchange| exchange.status = u32::from(status));
    let max = config.max_response_bytes;
    let declared = response.body().size_hint().exact();
    if let Some(declared) = declared.filter(|&n| n > max) {
        run.update(entry, |exchange| exchange.duration_ms = millis(started.elapsed()));
        return Err(HttpError::HttpResponseBodySize(Some(declared)));
    }
    let response = response.map(|incoming| {
        CappedBody {
            incoming,
            max,
            seen: 0,
            idle: Box::pin(tokio::time::sleep(between_bytes_timeout)),
            between_bytes_timeout,
            run: run.clone(),
            entry,
            host: target.host.to_string(),
            method,
            status,
            started,
            finished: false,
        }
        .boxed_unsync()
    });
    let io: IoFuture = Box::new(async move { conn.await.map_err(HttpError::from) });
    Ok((response, io))
}

/// The most addresses of one name a request tries.
const MAX_ADDRESSES_TRIED: usize = 3;

/// Connects to the first of (up to three of) `addrs` that answers, all by `deadline`.
/// Each address gets an equal share of what is left, so one that never answers leaves
/// time for the next, and a refusal hands its unused share on.
async fn connect_any(addrs: &[SocketAddr], deadline: tokio::time::Instant) -> Result<TcpStream, HttpError> {
    let addrs = &addrs[..addrs.len().min(MAX_ADDRESSES_TRIED)];
    let mut last = HttpError::ConnectionRefused;
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Err(HttpError::ConnectionTimeout);
        }
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(1);
        match tokio::time::timeout(share, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(error)) => last = HttpError::Connect(error),
            Err(_) => last = HttpError::ConnectionTimeout,
        }
    }
    Err(last)
}

/// A response body that stops at the worker's size cap and its between-bytes timeout,
/// counts what the connector received, and logs the exchange once when it ends.
struct CappedBody {
    incoming: Incoming,
    max: u64,
    seen: u64,
    idle: Pin<Box<tokio::time::Sleep>>,
    between_bytes_timeout: Duration,
    run: Arc<EgressRun>,
    entry: Option<usize>,
    host: String,
    method: String,
    status: u16,
    started: Instant,
    finished: bool,
}

impl CappedBody {
    fn finish(&mut self) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let (seen, duration_ms) = (self.seen, millis(self.started.elapsed()));
        self.run.update(self.entry, |exchange| {
            exchange.bytes = seen;
            exchange.duration_ms = duration_ms;
        });
        tracing::info!(
            task_id = %self.run.task_id, method = %self.method, host = %self.host,
            status = self.status, bytes = seen, duration_ms, "connector http request"
        );
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                this.finish();
                Poll::Ready(Some(Err(HttpError::from(error))))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                }
                if this.seen > this.max {
                    this.finish();
                    return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(this.seen)))));
                }
                let deadline = tokio::time::Instant::now() + this.between_bytes_timeout;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.finish();
                    Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for CappedBody {
    fn drop(&mut self) {
        self.finish();
    }
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
        assert_eq!(policy.rules().len(), 1);
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
    /// (Linux drops the SYN), as one to a black-holed address does. Answers the
    /// address and what keeps the queue full.
    async fn black_hole() -> (SocketAddr, tokio::net::TcpListener, Vec<TcpStream>) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = vec![];
        while queued.len() < 16 {
            match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => queued.push(stream),
                _ => return (addr, listener, queued),
            }
        }
        panic!("the accept queue of {addr} never filled up");
    }

    #[tokio::test]
    async fn the_connect_timeout_is_one_budget_for_every_address_tried() {
        let (addr, _listener, _queued) = black_hole().await;
        let budget = Duration::from_millis(300);
        let started = Instant::now();
        let result = connect_any(&[addr, addr, addr, addr], tokio::time::Instant::now() + budget).await;
        let took = started.elapsed();
        assert!(matches!(result, Err(HttpError::ConnectionTimeout)), "{result:?}");
        assert!(took >= budget - Duration::from_millis(20), "gave up early, after {took:?}");
        // A budget per address would take about three budgets (900 ms) before the
        // fourth; a loaded machine is late by far less than that.
        assert!(took < budget + Duration::from_millis(400), "three addresses took {took:?} of a {budget:?} budget");
    }

    #[tokio::test]
    async fn an_address_that_never_answers_leaves_time_for_the_next() {
        let (hole, _listener, _queued) = black_hole().await;
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let reachable = open.local_addr().unwrap();
        let budget = Duration::from_millis(600);
        let started = Instant::now();
        let stream = connect_any(&[hole, reachable], tokio::time::Instant::now() + budget).await;
        assert_eq!(stream.expect("the second address answers").peer_addr().unwrap(), reachable);
        assert!(started.elapsed() < budget, "{:?}", started.elapsed());
    }

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
