//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! ```ignore
//! let response = outpost_app::http::get("https://rdap.org/domain/example.com")
//!     .header("accept", "application/rdap+json")
//!     .send()?;
//! let record: serde_json::Value = response.json()?;
//! ```
//!
//! The host lets a request through only when the asset's egress policy allows its
//! scheme, host and port; otherwise [`send`](Request::send) fails with
//! [`Error::Denied`]. Blocking is fine: the export is synchronous and each parameter set
//! has an instance of its own, so waiting on a `wasi:io` pollable only parks this one.
//!
//! URLs in errors and in [`Response::url`] leave out the query string and any user
//! info, so an API key passed in a query never reaches a log or a result message.

use std::fmt;
use std::time::Duration;

pub use ::http::Method;
use ::http::Uri;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasi::http::outgoing_handler;
use wasi::http::types::{self as wasi_http, ErrorCode};
use wasi::io::streams::StreamError;

/// How long to wait for the TCP (and TLS) connection, unless set on the request.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the first byte of the response, unless set on the request.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait between two chunks of the response body, unless set on the request.
pub const DEFAULT_BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body read, unless set on the request.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// How many redirects are followed, unless set on the request.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;

/// Headers kept when a redirect leads to another origin: anything else may be a
/// credential meant for the first server only.
const HEADERS_KEPT_ACROSS_ORIGINS: &[&str] = &["accept", "accept-language", "user-agent"];

/// Largest chunk `blocking-write-and-flush` accepts.
const WRITE_CHUNK: usize = 4096;
/// Largest chunk asked of the response body stream at once.
const READ_CHUNK: u64 = 64 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{0}' is not an http or https URL")]
    InvalidUrl(String),
    #[error("invalid request header '{0}'")]
    InvalidHeader(String),
    #[error("request to {url} denied by the sandbox")]
    Denied { url: String },
    #[error("request to {url} timed out")]
    Timeout { url: String },
    #[error("response from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("too many redirects from {url}")]
    TooManyRedirects { url: String },
    #[error("request to {url} failed: {reason}")]
    Failed { url: String, reason: String },
    #[error("cannot encode the request body as JSON: {0}")]
    Encode(serde_json::Error),
    #[error("response from {url} is not the expected JSON: {error}")]
    Decode { url: String, error: serde_json::Error },
}

/// Starts a `GET` request.
pub fn get(url: impl Into<String>) -> Request {
    Request::new(Method::GET, url)
}

/// Starts a `POST` request.
pub fn post(url: impl Into<String>) -> Request {
    Request::new(Method::POST, url)
}

/// A request being built; nothing is sent until [`send`](Request::send).
#[derive(Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: Method,
    url: String,
    /// Names as given; sent lowercased, as HTTP/2 wants them.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
    between_bytes_timeout: Duration,
    max_response_bytes: usize,
    max_redirects: u32,
}

impl Request {
    /// Starts a request with any method.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            first_byte_timeout: DEFAULT_FIRST_BYTE_TIMEOUT,
            between_bytes_timeout: DEFAULT_BETWEEN_BYTES_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }

    /// Adds a header; a name may be given more than once.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, with `content-type: application/json`.
    pub fn json(self, value: &impl Serialize) -> Result<Request, Error> {
        let body = serde_json::to_vec(value).map_err(Error::Encode)?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Sets how long to wait for the connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Request {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long to wait for the first byte of the response.
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Request {
        self.first_byte_timeout = timeout;
        self
    }

    /// Sets how long to wait between two chunks of the response body.
    pub fn between_bytes_timeout(mut self, timeout: Duration) -> Request {
        self.between_bytes_timeout = timeout;
        self
    }

    /// Sets the largest response body read; a larger one fails with [`Error::TooLarge`].
    pub fn max_response_bytes(mut self, limit: usize) -> Request {
        self.max_response_bytes = limit;
        self
    }

    /// Sets how many redirects to follow; 0 returns the 3xx response itself.
    pub fn max_redirects(mut self, redirects: u32) -> Request {
        self.max_redirects = redirects;
        self
    }

    /// Sends the request and reads the whole response, following redirects.
    ///
    /// Any status is a response: check [`Response::status`]. Each redirect target must
    /// be allowed by the asset's egress policy too; a `303`, or a `301`/`302` answering a
    /// `POST`, is followed with a `GET` without body; headers other than `accept`,
    /// `accept-language` and `user-agent` are dropped when the redirect leaves the origin.
    pub fn send(mut self) -> Result<Response, Error> {
        let mut redirects = 0;
        loop {
            let target = Target::parse(&self.url)?;
            let response = self.send_once(&target)?;
            let location = match response.status {
                301 | 302 | 303 | 307 | 308 => response.header("location"),
                _ => None,
            };
            let Some(location) = location.filter(|_| self.max_redirects > 0) else {
                return Ok(response);
            };
            if redirects == self.max_redirects {
                return Err(Error::TooManyRedirects { url: target.shown });
            }
            redirects += 1;
            let next = Target::parse(&target.resolve(location))?;
            if response.status == 303 || (matches!(response.status, 301 | 302) && self.method == Method::POST) {
                self.method = Method::GET;
                self.body.clear();
                self.headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
            }
            if !next.same_origin(&target) {
                self.headers.retain(|(name, _)| {
                    HEADERS_KEPT_ACROSS_ORIGINS
                        .iter()
                        .any(|kept| name.eq_ignore_ascii_case(kept))
                });
            }
            self.url = next.url;
        }
    }

    fn send_once(&self, target: &Target) -> Result<Response, Error> {
        let failed = |reason: &str| Error::Failed {
            url: target.shown.clone(),
            reason: reason.to_string(),
        };

        let request = wasi_http::OutgoingRequest::new(self.wasi_headers()?);
        request
            .set_method(&wasi_method(&self.method))
            .map_err(|()| failed("invalid method"))?;
        request
            .set_scheme(Some(&target.scheme))
            .map_err(|()| failed("invalid scheme"))?;
        request
            .set_authority(Some(&target.authority))
            .map_err(|()| failed("invalid host"))?;
        request
            .set_path_with_query(Some(&target.path_and_query))
            .map_err(|()| failed("invalid path"))?;

        // A host may refuse to take a timeout; its own limits then apply.
        let options = wasi_http::RequestOptions::new();
        let _ = options.set_connect_timeout(Some(nanos(self.connect_timeout)));
        let _ = options.set_first_byte_timeout(Some(nanos(self.first_byte_timeout)));
        let _ = options.set_between_bytes_timeout(Some(nanos(self.between_bytes_timeout)));

        let body = request
            .body()
            .map_err(|()| failed("the request body was taken twice"))?;
        let future = outgoing_handler::handle(request, Some(options)).map_err(|code| target.error(code))?;
        if !self.body.is_empty() {
            let stream = body
                .write()
                .map_err(|()| failed("the request body stream was taken twice"))?;
            for chunk in self.body.chunks(WRITE_CHUNK) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| target.stream_error(e))?;
            }
        }
        wasi_http::OutgoingBody::finish(body, None).map_err(|code| target.error(code))?;

        let incoming = loop {
            match future.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(target.error(code)),
                Some(Err(())) => return Err(failed("the response was taken twice")),
                None => future.subscribe().block(),
            }
        };

        let status = incoming.status();
        let headers: Vec<(String, String)> = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let too_large = || Error::TooLarge {
            url: target.shown.clone(),
            limit: self.max_response_bytes,
        };
        let announced = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<u64>().ok());
        if announced.is_some_and(|len| len > self.max_response_bytes as u64) {
            return Err(too_large());
        }

        let body = incoming
            .consume()
            .map_err(|()| failed("the response body was taken twice"))?;
        let mut bytes = Vec::new();
        {
            let stream = body
                .stream()
                .map_err(|()| failed("the response body stream was taken twice"))?;
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    Ok(chunk) => {
                        if bytes.len() + chunk.len() > self.max_response_bytes {
                            return Err(too_large());
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(target.stream_error(e)),
                }
            }
        }
        // Trailers are not used; dropping the future discards them.
        drop(wasi_http::IncomingBody::finish(body));

        Ok(Response {
            status,
            headers,
            body: bytes,
            url: target.shown.clone(),
        })
    }

    fn wasi_headers(&self) -> Result<wasi_http::Fields, Error> {
        let mut list: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
            .collect();
        let has = |list: &[(String, Vec<u8>)], name: &str| list.iter().any(|(n, _)| n == name);
        if !has(&list, "user-agent") {
            list.push((
                "user-agent".into(),
                concat!("outpost-app/", env!("CARGO_PKG_VERSION")).into(),
            ));
        }
        if !self.body.is_empty() && !has(&list, "content-length") {
            list.push(("content-length".into(), self.body.len().to_string().into_bytes()));
        }
        wasi_http::Fields::from_list(&list).map_err(|e| {
            // Name the header without its value: the value may be a secret.
            let name = match e {
                wasi_http::HeaderError::Forbidden => "forbidden by the host",
                _ => "invalid name or value",
            };
            Error::InvalidHeader(name.to_string())
        })
    }
}

impl fmt::Debug for Request {
    /// Header values are left out: they may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &shown_url(&self.url))
            .field(
                "headers",
                &self.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A response, its body read in full.
#[derive(Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The URL that answered, after redirects, without query or user info.
    url: String,
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers, in the order received (values decoded lossily as UTF-8).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, taken out of the response.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|error| Error::Decode {
            url: self.url.clone(),
            error,
        })
    }

    /// The URL that answered (after redirects), without query string or user info.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A URL split the way `wasi:http` wants it.
struct Target {
    url: String,
    scheme: wasi_http::Scheme,
    authority: String,
    path_and_query: String,
    /// What errors show: no query, no user info.
    shown: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, Error> {
        let invalid = || Error::InvalidUrl(shown_url(url));
        let uri: Uri = url.parse().map_err(|_| invalid())?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => wasi_http::Scheme::Https,
            Some(s) if s.eq_ignore_ascii_case("http") => wasi_http::Scheme::Http,
            _ => return Err(invalid()),
        };
        let authority = uri.authority().ok_or_else(invalid)?;
        // Credentials in a URL would go nowhere (wasi:http has no place for them) and
        // would leak into messages: refuse them.
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(invalid());
        }
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        Ok(Target {
            url: url.to_string(),
            scheme,
            authority: authority.as_str().to_string(),
            path_and_query,
            shown: shown_url(url),
        })
    }

    fn same_origin(&self, other: &Target) -> bool {
        let scheme = |t: &Target| matches!(t.scheme, wasi_http::Scheme::Https);
        scheme(self) == scheme(other) && self.authority.eq_ignore_ascii_case(&other.authority)
    }

    /// Resolves a `location` header against this URL.
    fn resolve(&self, location: &str) -> String {
        let scheme = match self.scheme {
            wasi_http::Scheme::Https => "https",
            _ => "http",
        };
        let lower = location.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            location.to_string()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("{scheme}://{rest}")
        } else if location.starts_with('/') {
            format!("{scheme}://{}{location}", self.authority)
        } else {
            let path = self.path_and_query.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{}{dir}{location}", self.authority)
        }
    }

    fn error(&self, code: ErrorCode) -> Error {
        let url = self.shown.clone();
        let reason = match code {
            // The host refuses a URL its egress policy does not allow, and an address
            // (loopback, private, metadata, ...) the worker does not allow.
            ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
                return Error::Denied { url };
            }
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => return Error::Timeout { url },
            ErrorCode::DnsTimeout => return Error::Timeout { url },
            ErrorCode::DnsError(_) => "dns lookup failed".to_string(),
            ErrorCode::DestinationNotFound | ErrorCode::DestinationUnavailable => "host not found".to_string(),
            ErrorCode::ConnectionRefused => "connection refused".to_string(),
            ErrorCode::ConnectionTerminated => "connection closed".to_string(),
            ErrorCode::TlsCertificateError | ErrorCode::TlsAlertReceived(_) | ErrorCode::TlsProtocolError => {
                "tls handshake failed".to_string()
            }
            other => format!("{other:?}"),
        };
        Error::Failed { url, reason }
    }

    fn stream_error(&self, error: StreamError) -> Error {
        match error {
            StreamError::Closed => Error::Failed {
                url: self.shown.clone(),
                reason: "connection closed".into(),
            },
            StreamError::LastOperationFailed(e) => match wasi_http::http_error_code(&e) {
                Some(code) => self.error(code),
                None => Error::Failed {
                    url: self.shown.clone(),
                    reason: e.to_debug_string(),
                },
            },
        }
    }
}

/// `url` without query string, fragment or user info, for messages.
fn shown_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

fn wasi_method(method: &Method) -> wasi_http::Method {
    match *method {
        Method::GET => wasi_http::Method::Get,
        Method::HEAD => wasi_http::Method::Head,
        Method::POST => wasi_http::Method::Post,
        Method::PUT => wasi_http::Method::Put,
        Method::DELETE => wasi_http::Method::Delete,
        Method::CONNECT => wasi_http::Method::Connect,
        Method::OPTIONS => wasi_http::Method::Options,
        Method::TRACE => wasi_http::Method::Trace,
        Method::PATCH => wasi_http::Method::Patch,
        ref other => wasi_http::Method::Other(other.as_str().to_string()),
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_show_queries_or_credentials() {
        assert_eq!(
            shown_url("https://user:pw@api.example.com/v1/x?key=secret"),
            "https://api.example.com/v1/x"
        );
        assert_eq!(shown_url("https://api.example.com"), "https://api.example.com");
        assert_eq!(shown_url("not a url#frag"), "not a url");
    }

    #[test]
    fn redirect_locations_resolve_against_the_current_url() {
        let base = Target::parse("https://rdap.org/domain/example.com?x=1").unwrap();
        assert_eq!(
            base.resolve("https://rdap.verisign.com/com/v1/domain/example.com"),
            "https://rdap.verisign.com/com/v1/domain/example.com"
        );
        assert_eq!(base.resolve("//other.org/a"), "https://other.org/a");
        assert_eq!(base.resolve("/help"), "https://rdap.org/help");
        assert_eq!(base.resolve("other.com"), "https://rdap.org/domain/other.com");
        assert!(base.same_origin(&Target::parse("https://RDAP.org/x").unwrap()));
        assert!(!base.same_origin(&Target::parse("http://rdap.org/x").unwrap()));
    }

    #[test]
    fn a_refused_url_or_address_reads_as_denied_by_the_sandbox() {
        let target = Target::parse("http://localhost:8080/x?key=secret").unwrap();
        for code in [ErrorCode::HttpRequestDenied, ErrorCode::DestinationIpProhibited] {
            assert_eq!(
                target.error(code).to_string(),
                "request to http://localhost:8080/x denied by the sandbox"
            );
        }
    }

    #[test]
    fn only_http_urls_without_credentials_are_accepted() {
        assert!(Target::parse("ftp://example.com/").is_err());
        assert!(Target::parse("https://user:pw@example.com/").is_err());
        assert!(Target::parse("example.com/path").is_err());
        let t = Target::parse("http://example.com:8080").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path_and_query.as_str()),
            ("example.com:8080", "/")
        );
    }
}
