//! The gRPC API: `ActionService` (the typed twin of `/rest/action_run` and
//! `/rest/app_run`), `RegistryService` (apps, assets, containers, artifacts; see
//! `catalog`), `AppService` (component distribution to workers), the standard health
//! service and reflection. Lists take a `ListQuery` in REST's listing language.
//!
//! Clients authenticate with the same credentials as REST, sent as metadata
//! (`ph-auth-token` or `authorization: Basic ...`). Workers fetch components with the
//! worker token derived from the bus key (`outpost-worker-token`).
//!
//! One layer in front of every service ([`Guard`]) authenticates and checks the
//! method's permission from [`crate::access::permissions::GRPC`] (a method without a row is
//! Administrator-only): `Unauthenticated` or `PermissionDenied` otherwise. Handlers find
//! the caller in the request's extensions (`Api::principal`).
//!
//! # Layout
//! This file holds serving, the [`Guard`] and the shared [`Api`]; each service has its
//! own file: `actions`, `catalog`, `apps`.

mod actions;
mod apps;
mod catalog;

use std::pin::Pin;
use std::sync::Arc;

use outpost_proto::OutpostError;
use outpost_proto::v1::action_service_server::ActionServiceServer;
use outpost_proto::v1::app_service_server::AppServiceServer;
use outpost_proto::v1::registry_service_server::RegistryServiceServer;
use outpost_proto::v1::{self as pb};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Status};

use crate::Broker;
use crate::access::auth::Principal;
use crate::access::permissions::{self, Required};
use crate::catalog::bundle::MAX_BUNDLE_BYTES;
use crate::listing::ListQuery;
use crate::store::collections::Collection;
use crate::store::runs::ActionRun;

/// Metadata key a worker presents to fetch components.
pub const WORKER_TOKEN_HEADER: &str = "outpost-worker-token";
/// Size of one `AppChunk`.
const CHUNK: usize = 256 * 1024;

/// Serves gRPC until `shutdown`.
pub async fn serve(broker: Arc<Broker>, listener: tokio::net::TcpListener, shutdown: CancellationToken) {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<ActionServiceServer<Api>>().await;
    health_reporter.set_serving::<AppServiceServer<Api>>().await;
    health_reporter.set_serving::<RegistryServiceServer<Api>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection = match reflection {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "gRPC reflection unavailable");
            return;
        }
    };
    let api = Api { broker: broker.clone() };
    let result = tonic::transport::Server::builder()
        .layer(Guard { broker })
        .add_service(health)
        .add_service(reflection)
        .add_service(ActionServiceServer::new(api.clone()))
        .add_service(RegistryServiceServer::new(api.clone()).max_decoding_message_size(MAX_BUNDLE_BYTES + 64 * 1024))
        .add_service(AppServiceServer::new(api).max_encoding_message_size(4 * CHUNK))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "gRPC server stopped");
    }
}

/// Authenticates every gRPC call and checks its method's permission before any service
/// sees it (see the module doc).
#[derive(Clone)]
pub struct Guard {
    /// Authenticates, checks and audits.
    broker: Arc<Broker>,
}

impl<S> tower::Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded { inner, broker: self.broker.clone() }
    }
}

/// A service behind [`Guard`].
#[derive(Clone)]
pub struct Guarded<S> {
    /// The services behind the guard.
    inner: S,
    /// Authenticates, checks and audits.
    broker: Arc<Broker>,
}

type GuardFuture<E> = Pin<Box<dyn std::future::Future<Output = Result<http::Response<tonic::body::Body>, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Guarded<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = GuardFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was made ready is the one to call; keep a fresh one for next time.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let broker = self.broker.clone();
        Box::pin(async move {
            let method = request.uri().path().to_string();
            let required = permissions::grpc_required(&method);
            if matches!(required, Required::Public | Required::Worker) {
                return inner.call(request).await;
            }
            let ip = request
                .extensions()
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(|c| c.remote_addr())
                .map(|a| a.ip());
            let (token, authorization) = {
                let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                (header("ph-auth-token"), header("authorization"))
            };
            let principal = match broker.auth.authenticate_from(token.as_deref(), authorization.as_deref(), ip).await {
                Ok(principal) => principal,
                Err(denied) => return Ok(Status::from(denied.error).into_http()),
            };
            if !principal.grants.allows(required) {
                broker.audit.record_denied(&principal, required.name()).await;
                let message =
                    format!("user '{}' may not call {method}: it needs '{}'", principal.username, required.name());
                return Ok(Status::from(OutpostError::forbidden(message)).into_http());
            }
            request.extensions_mut().insert(principal);
            inner.call(request).await
        })
    }
}

#[derive(Clone)]
pub struct Api {
    /// Authenticates, checks and audits.
    broker: Arc<Broker>,
}

impl Api {
    /// The caller, as [`Guard`] authenticated it.
    async fn principal<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        if let Some(principal) = request.extensions().get::<Principal>() {
            return Ok(principal.clone());
        }
        // Not behind the guard (never in `serve`): authenticate here rather than let anyone in.
        let meta = |key: &str| request.metadata().get(key).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(self.broker.auth.authenticate(meta("ph-auth-token").as_deref(), meta("authorization").as_deref()).await?)
    }

    async fn action_run(&self, id: i64) -> Result<ActionRun, Status> {
        self.broker
            .store
            .get_action_run(id)
            .await
            .map_err(OutpostError::from)?
            .ok_or_else(|| OutpostError::not_found(format!("action run {id} not found")).into())
    }
}

/// A `ListQuery` message in REST's listing language, checked against a collection.
fn list_query(collection: &'static Collection, query: Option<pb::ListQuery>) -> Result<ListQuery, OutpostError> {
    let q = query.unwrap_or_default();
    let mut pairs: Vec<(String, String)> = vec![("page".into(), q.page.to_string())];
    if let Some(size) = q.page_size {
        pairs.push(("page_size".into(), size.to_string()));
    }
    pairs.push(("sort".into(), q.sort));
    pairs.push(("order".into(), q.order));
    for (key, value) in q.filters {
        let key = key.strip_prefix("_filter_").unwrap_or(&key).to_string();
        pairs.push((format!("_filter_{key}"), value));
    }
    crate::listing::parse(collection, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}
