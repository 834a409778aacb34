//! Sending a request the policy allows: resolve and check the address, connect to the
//! checked address (never to the name again), TLS with SNI = the host name for https,
//! clamped timeouts and a capped response body; every step recorded in the journal.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::EgressConfig;
use super::address::{ResolveError, resolve_allowed};
use super::journal::{EgressRun, millis};
use super::policy::{Host, WebScheme, normalize_host};

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

pub(super) type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// Where a request goes, taken apart from its URI.
pub(super) struct Target {
    scheme: WebScheme,
    pub(super) host: Host,
    port: u16,
    pub(super) url: String,
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

pub(super) fn log_denied(run: &EgressRun, method: &str, url: &str, reason: &str) {
    tracing::warn!(task_id = %run.task_id, method = %method, url = %url, reason = %reason,
        "connector http request denied");
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

fn clamp(requested: Option<Duration>, max: Duration) -> Duration {
    requested.map_or(max, |r| r.min(max))
}

pub(super) async fn send(
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
}
