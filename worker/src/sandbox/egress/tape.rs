//! HTTP record and replay at the transport boundary of egress, for `outpost app test`.
//!
//! A [`Tape`] sits where a request the egress policy allowed would go to the network
//! ([`super`] consults it after the policy, so a request the asset does not
//! allow is denied exactly as on a worker, tape or not):
//!
//! - **record** sends the request for real (address checks, TLS and timeouts included)
//!   and keeps the exchange; [`Tape::save`] writes them to a file;
//! - **replay** answers from such a file and never touches the network. A request the
//!   file does not hold fails the connector's request and the run, with the request
//!   shown: `request to https://api.example.com:443/v1/x denied: not in the replay file
//!   tests/x.json: GET https://api.example.com/v1/x`.
//!
//! A request matches an exchange on its method, its URL (scheme, host, port, path and
//! query; a default port may be left out) and, when the exchange holds one, its body
//! (JSON bodies compare as values). The first exchange not yet used wins; once all that
//! match were used, the last one answers again, so a connector that polls keeps working.
//!
//! The file is JSON a person can write by hand:
//!
//! ```json
//! {"exchanges": [
//!   {"request": {"method": "GET", "url": "https://api.example.com/v1/ip/8.8.8.8"},
//!    "response": {"status": 200, "headers": {"content-type": "application/json"},
//!                 "json": {"ip": "8.8.8.8", "country": "US"}}}
//! ]}
//! ```
//!
//! A body is `json` (any JSON value), `body` (text) or `body_base64` (bytes). Request
//! headers are never kept (they carry API keys); the values of the asset's `password`
//! fields are written `********` wherever they appear in a URL or body, on record and
//! before matching on replay, so a tape holds no secret and still matches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use super::EgressRun;
use super::journal::millis;
use super::policy::normalize_host;
use super::transport::{self, IoFuture, Target, log_denied};

/// How a secret is written in a tape.
pub const REDACTED: &str = "********";

/// Headers a tape does not keep: they describe one connection, not the response.
const HOP_HEADERS: &[&str] = &["connection", "content-length", "keep-alive", "transfer-encoding", "set-cookie"];

/// The file `--record` writes and `--replay` reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeFile {
    /// In the order the connector made them.
    pub exchanges: Vec<Exchange>,
}

/// One request and the response it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub request: TapedRequest,
    pub response: TapedResponse,
}

/// What identifies a request: never its headers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapedRequest {
    pub method: String,
    /// As the connector wrote it; compared with default ports filled in.
    pub url: String,
    /// Absent: any body matches.
    #[serde(flatten)]
    pub body: Option<TapedBody>,
}

/// What answers a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapedResponse {
    pub status: u16,
    /// Lowercase names; several values of one header joined with `, `.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(flatten)]
    pub body: Option<TapedBody>,
}

/// A body in the form a person reads best.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TapedBody {
    /// A JSON document, compared as a value.
    Json(Value),
    /// UTF-8 text, compared exactly.
    Body(String),
    /// Anything else.
    BodyBase64(String),
}

impl TapedBody {
    /// The form of `bytes` a tape keeps: JSON when it parses as JSON (and says so, or
    /// looks like an object or a list), text when it is UTF-8, base64 otherwise.
    fn of(bytes: &[u8], content_type: Option<&str>) -> Option<TapedBody> {
        if bytes.is_empty() {
            return None;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Some(TapedBody::BodyBase64(base64::engine::general_purpose::STANDARD.encode(bytes)));
        };
        let says_json = content_type.is_some_and(|t| t.contains("json"));
        let looks_json = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
        match serde_json::from_str::<Value>(text) {
            Ok(value) if says_json || looks_json => Some(TapedBody::Json(value)),
            _ => Some(TapedBody::Body(text.to_string())),
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            TapedBody::Json(value) => Ok(value.to_string().into_bytes()),
            TapedBody::Body(text) => Ok(text.clone().into_bytes()),
            TapedBody::BodyBase64(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("body_base64 is not base64: {e}")),
        }
    }

    /// Whether a request's body is this one.
    fn matches(&self, bytes: &[u8]) -> bool {
        match self {
            TapedBody::Json(want) => serde_json::from_slice::<Value>(bytes).is_ok_and(|got| &got == want),
            other => other.bytes().is_ok_and(|want| want == bytes),
        }
    }
}

/// Why a tape file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    #[error("cannot read the replay file {path}: {error}")]
    Read { path: PathBuf, error: String },
    #[error("the replay file {path} is not a tape: {error}")]
    Parse { path: PathBuf, error: String },
    #[error("cannot write the record file {path}: {error}")]
    Write { path: PathBuf, error: String },
}

#[derive(Debug)]
enum Mode {
    Record,
    Replay,
}

#[derive(Debug)]
struct Deck {
    mode: Mode,
    path: PathBuf,
    /// Values written [`REDACTED`] in the tape.
    secrets: Vec<String>,
    exchanges: Mutex<Vec<Exchange>>,
    /// Replay: which exchanges answered already.
    used: Mutex<Vec<bool>>,
}

/// A recorder or a player of HTTP exchanges; cheap to clone.
#[derive(Clone, Debug)]
pub struct Tape {
    deck: Arc<Deck>,
}

impl Tape {
    /// Records into `path` (written by [`Tape::save`]). `secrets` are the asset's
    /// password values, never written.
    pub fn record(path: impl Into<PathBuf>, secrets: Vec<String>) -> Tape {
        Tape::new(Mode::Record, path.into(), secrets, vec![])
    }

    /// Replays the exchanges of the file at `path`.
    pub fn replay(path: impl Into<PathBuf>, secrets: Vec<String>) -> Result<Tape, TapeError> {
        let path = path.into();
        let text =
            std::fs::read_to_string(&path).map_err(|e| TapeError::Read { path: path.clone(), error: e.to_string() })?;
        let file: TapeFile =
            serde_json::from_str(&text).map_err(|e| TapeError::Parse { path: path.clone(), error: e.to_string() })?;
        for (i, exchange) in file.exchanges.iter().enumerate() {
            let check = || -> Result<(), String> {
                normalize_url(&exchange.request.url)?;
                http::Method::from_bytes(exchange.request.method.as_bytes())
                    .map_err(|_| format!("method {:?} is not an HTTP method", exchange.request.method))?;
                http::StatusCode::from_u16(exchange.response.status)
                    .map_err(|_| format!("status {} is not an HTTP status", exchange.response.status))?;
                if let Some(body) = &exchange.response.body {
                    body.bytes()?;
                }
                Ok(())
            };
            check()
                .map_err(|error| TapeError::Parse { path: path.clone(), error: format!("exchange {i}: {error}") })?;
        }
        Ok(Tape::new(Mode::Replay, path, secrets, file.exchanges))
    }

    fn new(mode: Mode, path: PathBuf, secrets: Vec<String>, exchanges: Vec<Exchange>) -> Tape {
        let secrets = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        let used = vec![false; exchanges.len()];
        Tape { deck: Arc::new(Deck { mode, path, secrets, exchanges: Mutex::new(exchanges), used: Mutex::new(used) }) }
    }

    /// The file this tape records into or replays from.
    pub fn path(&self) -> &Path {
        &self.deck.path
    }

    /// Whether this tape records (else it replays).
    pub fn is_recording(&self) -> bool {
        matches!(self.deck.mode, Mode::Record)
    }

    /// The exchanges recorded so far (or held for replay).
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.deck.exchanges).clone()
    }

    /// Writes what was recorded to the file, pretty-printed. Does nothing when replaying.
    pub fn save(&self) -> Result<(), TapeError> {
        if !self.is_recording() {
            return Ok(());
        }
        let file = TapeFile { exchanges: self.exchanges() };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|e| TapeError::Write { path: self.deck.path.clone(), error: e.to_string() })?;
        text.push('\n');
        std::fs::write(&self.deck.path, text)
            .map_err(|e| TapeError::Write { path: self.deck.path.clone(), error: e.to_string() })
    }

    fn redact(&self, text: &str) -> String {
        self.deck.secrets.iter().fold(text.to_string(), |text, secret| text.replace(secret.as_str(), REDACTED))
    }

    fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) if !self.deck.secrets.is_empty() => self.redact(text).into_bytes(),
            _ => bytes.to_vec(),
        }
    }

    /// Answers a request the egress policy allowed: for real and kept (record), or
    /// from the tape (replay).
    pub(super) async fn send(
        &self,
        run: &Arc<EgressRun>,
        entry: Option<usize>,
        target: &Target,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        started: Instant,
    ) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        let method = parts.method.to_string();
        let url = self.redact(&parts.uri.to_string());
        match self.deck.mode {
            Mode::Replay => self.answer(run, entry, target, &method, &url, &body, started),
            Mode::Record => {
                let request = http::Request::from_parts(parts, full(body.clone()));
                let (response, io) = transport::send(run, entry, target, request, options, started).await?;
                let (parts, response_body) = response.into_parts();
                // The connection task lives as long as `io`: keep it while reading.
                let response_body = response_body.collect().await?.to_bytes();
                let headers = kept_headers(&parts.headers);
                let content_type = headers.get("content-type").map(String::as_str);
                let exchange = Exchange {
                    request: TapedRequest {
                        method: method.clone(),
                        url,
                        body: TapedBody::of(&self.redact_bytes(&body), None),
                    },
                    response: TapedResponse {
                        status: parts.status.as_u16(),
                        body: TapedBody::of(&self.redact_bytes(&response_body), content_type),
                        headers,
                    },
                };
                lock(&self.deck.exchanges).push(exchange);
                Ok((http::Response::from_parts(parts, full(response_body)), io))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        run: &Arc<EgressRun>,
        entry: Option<usize>,
        target: &Target,
        method: &str,
        url: &str,
        body: &[u8],
        started: Instant,
    ) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
        let body = self.redact_bytes(body);
        let Some(exchange) = self.find(method, url, &body) else {
            let shown = match std::str::from_utf8(&body) {
                Ok("") => String::new(),
                Ok(text) => format!(" with body {}", egress_snippet(text)),
                Err(_) => format!(" with a {}-byte body", body.len()),
            };
            let reason = format!("not in the replay file {}: {method} {url}{shown}", self.deck.path.display());
            run.deny(entry, &target.url, &reason, started);
            log_denied(run, method, &target.url, &reason);
            return Err(HttpError::HttpRequestDenied);
        };
        let response = &exchange.response;
        let bytes = response.body.as_ref().map(TapedBody::bytes).transpose().unwrap_or_default().unwrap_or_default();
        let mut builder = http::Response::builder().status(response.status);
        for (name, value) in &response.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if matches!(response.body, Some(TapedBody::Json(_))) && !response.headers.contains_key("content-type") {
            builder = builder.header("content-type", "application/json");
        }
        let status = response.status;
        let length = bytes.len() as u64;
        let built = builder.body(full(Bytes::from(bytes))).map_err(|_| HttpError::HttpProtocolError)?;
        run.update(entry, |e| {
            e.status = u32::from(status);
            e.bytes = length;
            e.duration_ms = millis(started.elapsed());
        });
        tracing::info!(method = %method, host = %target.host, status, bytes = length, "connector http request replayed");
        let io: IoFuture = Box::new(async { Ok(()) });
        Ok((built, io))
    }

    /// The exchange answering a request: the first unused match, else the last match.
    fn find(&self, method: &str, url: &str, body: &[u8]) -> Option<Exchange> {
        let wanted = normalize_url(url).ok()?;
        let exchanges = lock(&self.deck.exchanges);
        let mut used = lock(&self.deck.used);
        let matching: Vec<usize> = exchanges
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.request.method.eq_ignore_ascii_case(method)
                    && normalize_url(&e.request.url).is_ok_and(|u| u == wanted)
                    && e.request.body.as_ref().is_none_or(|b| b.matches(body))
            })
            .map(|(i, _)| i)
            .collect();
        let pick = matching.iter().copied().find(|&i| !used[i]).or(matching.last().copied())?;
        used[pick] = true;
        Some(exchanges[pick].clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn full(bytes: Bytes) -> WasiBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

fn kept_headers(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str().to_ascii_lowercase();
        if HOP_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        kept.entry(name).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    kept
}

/// At most 200 characters of a body, for a message.
fn egress_snippet(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// `scheme://host:port/path?query`, lowercase scheme and host, the default port filled in.
pub fn normalize_url(url: &str) -> Result<String, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let scheme = uri.scheme_str().map(str::to_ascii_lowercase).ok_or_else(|| format!("{url:?} has no scheme"))?;
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        other => return Err(format!("{url:?} has scheme {other:?}, not http or https")),
    };
    let authority = uri.authority().ok_or_else(|| format!("{url:?} has no host"))?;
    let host = normalize_host(authority.host()).map_err(|_| format!("{url:?} has an invalid host"))?;
    let port = authority.port_u16().unwrap_or(default_port);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Ok(format!("{scheme}://{host}:{port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_compare_with_default_ports_and_lowercase_hosts() {
        assert_eq!(normalize_url("https://API.example.com/v1?q=1").unwrap(), "https://api.example.com:443/v1?q=1");
        assert_eq!(normalize_url("http://example.com").unwrap(), "http://example.com:80/");
        assert_eq!(normalize_url("http://example.com:8080/x").unwrap(), "http://example.com:8080/x");
        for bad in ["", "example.com/x", "ftp://example.com/", "https://", "https://exa mple.com/"] {
            assert!(normalize_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bodies_keep_the_form_a_person_reads_best() {
        assert_eq!(TapedBody::of(b"", None), None);
        assert_eq!(TapedBody::of(br#"{"a":1}"#, None), Some(TapedBody::Json(serde_json::json!({"a": 1}))));
        assert_eq!(TapedBody::of(b"42", Some("application/json")), Some(TapedBody::Json(serde_json::json!(42))));
        assert_eq!(TapedBody::of(b"42", Some("text/plain")), Some(TapedBody::Body("42".into())));
        assert_eq!(TapedBody::of(&[0xff, 0x00], None), Some(TapedBody::BodyBase64("/wA=".into())));
        assert!(TapedBody::Json(serde_json::json!({"a": 1, "b": 2})).matches(br#"{"b": 2, "a": 1}"#));
        assert!(!TapedBody::Body("x".into()).matches(b"y"));
    }

    #[test]
    fn a_tape_file_round_trips_and_bad_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"exchanges": [{"request": {"method": "GET", "url": "https://api.example.com/x"},
                "response": {"status": 200, "json": {"ok": true}}}]}"#,
        )
        .unwrap();
        let tape = Tape::replay(&good, vec![]).unwrap();
        assert_eq!(tape.exchanges()[0].response.body, Some(TapedBody::Json(serde_json::json!({"ok": true}))));
        for (text, expected) in [
            ("{not json", "is not a tape"),
            (r#"{"exchanges": [], "extra": 1}"#, "unknown field `extra`"),
            (
                r#"{"exchanges": [{"request": {"method": "GET", "url": "nope"}, "response": {"status": 200}}]}"#,
                "exchange 0: \"nope\" has no scheme",
            ),
            (
                r#"{"exchanges": [{"request": {"method": "GET", "url": "https://a.example/"}, "response": {"status": 1000}}]}"#,
                "status 1000 is not an HTTP status",
            ),
            (
                r#"{"exchanges": [{"request": {"method": "GET", "url": "https://a.example/"}, "response": {"status": 200, "body_base64": "***"}}]}"#,
                "body_base64 is not base64",
            ),
        ] {
            let bad = dir.path().join("bad.json");
            std::fs::write(&bad, text).unwrap();
            let error = Tape::replay(&bad, vec![]).unwrap_err().to_string();
            assert!(error.contains(expected), "{error} should contain {expected}");
        }
        let missing = Tape::replay(dir.path().join("missing.json"), vec![]).unwrap_err().to_string();
        assert!(missing.starts_with("cannot read the replay file"), "{missing}");
    }

    #[test]
    fn secrets_are_redacted_and_matching_takes_unused_exchanges_first() {
        let exchange = |n: u16| Exchange {
            request: TapedRequest { method: "GET".into(), url: "https://a.example/x?key=********".into(), body: None },
            response: TapedResponse { status: n, headers: BTreeMap::new(), body: None },
        };
        let tape = Tape::new(Mode::Replay, "t.json".into(), vec!["s3cret".into()], vec![exchange(200), exchange(201)]);
        let url = tape.redact("https://a.example:443/x?key=s3cret");
        assert_eq!(url, "https://a.example:443/x?key=********");
        let statuses: Vec<u16> =
            (0..3).map(|_| tape.find("get", &url, b"").map(|e| e.response.status).unwrap_or(0)).collect();
        assert_eq!(statuses, vec![200, 201, 201]);
        assert!(tape.find("POST", &url, b"").is_none());
        assert!(tape.find("GET", "https://a.example/y", b"").is_none());
    }
}
