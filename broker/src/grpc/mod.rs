//! The gRPC API: `ActionService` (the typed twin of `/rest/action_run` and
//! `/rest/app_run`), `RegistryService` (apps, assets, containers, artifacts; see
//! [`catalog`]), `AppService` (component distribution to workers), the standard health
//! service and reflection. Lists take a `ListQuery` in REST's listing language.
//!
//! Clients authenticate with the same credentials as REST, sent as metadata
//! (`ph-auth-token` or `authorization: Basic ...`). Workers fetch components with the
//! worker token derived from the bus key (`outpost-worker-token`).
//!
//! One layer in front of every service ([`Guard`]) authenticates and checks the
//! method's permission from [`crate::access::permissions::GRPC`] (a method without a row is
//! Administrator-only): `Unauthenticated` or `PermissionDenied` otherwise. Handlers find
//! the caller in the request's extensions ([`Api::principal`]).

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

mod catalog;

use futures::Stream;
use outpost_proto::OutpostError;
use outpost_proto::time::{timestamp, timestamp_opt};
use outpost_proto::v1::action_service_server::{ActionService, ActionServiceServer};
use outpost_proto::v1::app_service_server::{AppService, AppServiceServer};
use outpost_proto::v1::registry_service_server::RegistryServiceServer;
use outpost_proto::v1::{self as pb, action_run_event};
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::Broker;
use crate::access::audit::Actor;
use crate::access::auth::Principal;
use crate::access::permissions::{self, Required};
use crate::catalog::bundle::MAX_BUNDLE_BYTES;
use crate::listing::{ListQuery, Value as FilterValue};
use crate::runs::dispatch::{RunAction, Target};
use crate::store::collections::{ACTION_RESULTS, ACTION_RUNS, APP_RUNS, Collection};
use crate::store::runs::{ActionResult, ActionRun, AppRun, Change};

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

pub fn action_run_pb(run: &ActionRun) -> pb::ActionRun {
    pb::ActionRun {
        id: run.id,
        action: run.action.clone(),
        name: run.name.clone(),
        status: run.status.as_str().into(),
        message: run.message.clone(),
        cancelled: run.cancelled.clone(),
        container: run.container_id,
        r#type: run.action_type.clone(),
        exec_delay_secs: run.exec_delay_secs,
        creator: run.creator,
        owner: run.owner,
        create_time: Some(timestamp(run.create_ms)),
        start_time: timestamp_opt(run.start_ms),
        close_time: timestamp_opt(run.close_ms),
        update_time: Some(timestamp(run.update_ms)),
        due_time: Some(timestamp(run.due_ms)),
        targets_json: run.targets.to_string(),
        version: run.version as i32,
        progress: run.progress.clone(),
        assign_time: Some(timestamp(run.assign_ms)),
    }
}

fn action_result_pb(result: &ActionResult) -> pb::ActionResult {
    pb::ActionResult {
        status: result.status.as_str().into(),
        message: result.message.clone(),
        data_json: result.data.to_string(),
        summary_json: result.summary.to_string(),
        parameter_json: result.parameter.to_string(),
    }
}

fn app_run_pb(run: &AppRun, results: &[ActionResult]) -> pb::AppRun {
    pb::AppRun {
        id: run.id,
        action: run.action.clone(),
        action_run: run.action_run_id,
        asset: run.asset_id,
        app: run.app_id,
        app_name: run.app_name.clone(),
        app_version: run.app_version.clone(),
        container: run.container_id,
        status: run.status.as_str().into(),
        message: run.message.clone(),
        exception_occured: run.exception_occured,
        start_time: timestamp_opt(run.start_ms),
        end_time: timestamp_opt(run.end_ms),
        node_guid: run.node_guid.clone().unwrap_or_default(),
        automation_broker: run.automation_broker_id,
        effective_user: run.effective_user,
        result_summary_json: run.result_summary.to_string(),
        result_data: results.iter().map(action_result_pb).collect(),
        extra_data_json: run.extra_data.to_string(),
        version: run.version as i32,
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::ActionRunEvent, Status>> + Send>>;
type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::AppChunk, Status>> + Send>>;

#[tonic::async_trait]
impl ActionService for Api {
    async fn run_action(
        &self,
        request: Request<pb::RunActionRequest>,
    ) -> Result<Response<pb::RunActionResponse>, Status> {
        let who = self.principal(&request).await?;
        let r = request.into_inner();
        let mut targets = vec![];
        for (i, t) in r.targets.into_iter().enumerate() {
            let parameters = t
                .parameters_json
                .iter()
                .enumerate()
                .map(|(p, text)| match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(m)) => Ok(m),
                    _ => Err(OutpostError::invalid(format!("targets[{i}].parameters_json[{p}] is not a JSON object"))),
                })
                .collect::<Result<Vec<Map<String, Value>>, _>>()?;
            if t.app_id.trim().is_empty() {
                return Err(OutpostError::invalid(format!("targets[{i}].app_id is required")).into());
            }
            targets.push(Target { app_id: t.app_id, assets: t.assets, parameters });
        }
        let id = self
            .broker
            .run_action(RunAction {
                action: r.action,
                container_id: r.container_id,
                name: r.name,
                action_type: Some(r.r#type).filter(|t| !t.is_empty()),
                exec_delay_secs: r.exec_delay_secs,
                targets,
                creator: Some(who.user_id),
            })
            .await?;
        self.broker.audit_action_run(&Actor::from(&who), id).await;
        Ok(Response::new(pb::RunActionResponse { action_run_id: id, message: "New action queued.".into() }))
    }

    async fn get_action_run(
        &self,
        request: Request<pb::GetActionRunRequest>,
    ) -> Result<Response<pb::ActionRun>, Status> {
        self.principal(&request).await?;
        let run = self.action_run(request.get_ref().id).await?;
        Ok(Response::new(action_run_pb(&run)))
    }

    async fn list_action_runs(
        &self,
        request: Request<pb::ListActionRunsRequest>,
    ) -> Result<Response<pb::ListActionRunsResponse>, Status> {
        self.principal(&request).await?;
        let query = list_query(&ACTION_RUNS, request.into_inner().query)?;
        let listing = self.broker.store.list_action_runs(&query).await.map_err(OutpostError::from)?;
        Ok(Response::new(pb::ListActionRunsResponse {
            count: listing.count,
            num_pages: listing.num_pages,
            data: listing.data.iter().map(action_run_pb).collect(),
        }))
    }

    async fn cancel_action_run(
        &self,
        request: Request<pb::CancelActionRunRequest>,
    ) -> Result<Response<pb::CancelActionRunResponse>, Status> {
        let who = self.principal(&request).await?;
        let id = request.get_ref().id;
        let stopped = self.broker.cancel_action_run(id, &who.username).await?;
        self.broker.audit_cancel(&Actor::from(&who), id).await;
        Ok(Response::new(pb::CancelActionRunResponse {
            cancelled: true,
            message: format!("action run {id} cancelled; {stopped} parameter sets stopped, finished results kept"),
        }))
    }

    async fn list_app_runs(
        &self,
        request: Request<pb::ListAppRunsRequest>,
    ) -> Result<Response<pb::ListAppRunsResponse>, Status> {
        self.principal(&request).await?;
        let r = request.into_inner();
        let mut query = list_query(&APP_RUNS, r.query)?;
        if r.action_run_id != 0 {
            self.action_run(r.action_run_id).await?;
            query = query.with_eq("action_run", FilterValue::Int(r.action_run_id));
        }
        let store = &self.broker.store;
        let listing = store.list_app_runs(&query).await.map_err(OutpostError::from)?;
        let mut results = if r.include_expensive {
            let ids: Vec<i64> = listing.data.iter().map(|run| run.id).collect();
            store.results_of_app_runs(&ids).await.map_err(OutpostError::from)?
        } else {
            Default::default()
        };
        let data =
            listing.data.iter().map(|run| app_run_pb(run, &results.remove(&run.id).unwrap_or_default())).collect();
        Ok(Response::new(pb::ListAppRunsResponse { count: listing.count, num_pages: listing.num_pages, data }))
    }

    async fn get_app_run(&self, request: Request<pb::GetAppRunRequest>) -> Result<Response<pb::AppRun>, Status> {
        self.principal(&request).await?;
        let id = request.get_ref().id;
        let store = &self.broker.store;
        let run = store
            .get_app_run(id)
            .await
            .map_err(OutpostError::from)?
            .ok_or_else(|| OutpostError::not_found(format!("app run {id} not found")))?;
        let results = store.results_of(id).await.map_err(OutpostError::from)?;
        Ok(Response::new(app_run_pb(&run, &results)))
    }

    async fn list_action_results(
        &self,
        request: Request<pb::ListActionResultsRequest>,
    ) -> Result<Response<pb::ListActionResultsResponse>, Status> {
        self.principal(&request).await?;
        let r = request.into_inner();
        let store = &self.broker.store;
        if store.get_app_run(r.app_run_id).await.map_err(OutpostError::from)?.is_none() {
            return Err(OutpostError::not_found(format!("app run {} not found", r.app_run_id)).into());
        }
        let query = list_query(&ACTION_RESULTS, r.query)?.with_eq("app_run", FilterValue::Int(r.app_run_id));
        let listing = store.list_action_results(&query).await.map_err(OutpostError::from)?;
        Ok(Response::new(pb::ListActionResultsResponse {
            count: listing.count,
            num_pages: listing.num_pages,
            data: listing.data.iter().map(action_result_pb).collect(),
        }))
    }

    type WatchActionRunStream = EventStream;

    async fn watch_action_run(
        &self,
        request: Request<pb::WatchActionRunRequest>,
    ) -> Result<Response<Self::WatchActionRunStream>, Status> {
        self.principal(&request).await?;
        let id = request.get_ref().id;
        // Subscribe before reading, so no change between the read and the subscription
        // is missed.
        let mut changes = self.broker.watch.subscribe();
        let first = self.action_run(id).await?;
        // App runs already finished are part of the snapshot, not changes.
        let mut reported = self.finished_app_runs(id).await?;
        let api = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            let done = first.status.is_final();
            let snapshot = pb::ActionRunEvent {
                action_run: Some(action_run_pb(&first)),
                change: Some(action_run_event::Change::Snapshot(true)),
            };
            if tx.send(Ok(snapshot)).await.is_err() || done {
                return;
            }
            loop {
                let change = tokio::select! {
                    _ = tx.closed() => return,
                    change = changes.recv() => change,
                    // A safety net: re-read now and then, should a notification be lost.
                    _ = tokio::time::sleep(Duration::from_secs(5)) => Err(RecvError::Lagged(0)),
                };
                let change = match change {
                    Ok(change) if change.action_run_id() != id => continue,
                    Ok(change) => change,
                    // Changes were skipped: the run as it is now tells whether it is done.
                    Err(RecvError::Lagged(_)) => match api.action_run(id).await {
                        Ok(run) if run.status.is_final() => Change::ActionRunDone { action_run_id: id },
                        Ok(_) => continue,
                        Err(status) => {
                            let _ = tx.send(Err(status)).await;
                            return;
                        }
                    },
                    Err(RecvError::Closed) => return,
                };
                if let Change::AppRunDone { app_run_id, .. } = change
                    && !reported.insert(app_run_id)
                {
                    continue;
                }
                // The run is done only when the store says so, and only after every app
                // run's finish was sent: a skipped or batched notification (a cancel
                // closes every app run at once) must not cut the stream short.
                let finished = matches!(change, Change::ActionRunDone { .. });
                let mut events = vec![];
                if finished {
                    match api.finished_app_runs(id).await {
                        Ok(all) => {
                            for app_run_id in all.difference(&reported) {
                                events.push(
                                    api.event_for(
                                        id,
                                        Change::AppRunDone { action_run_id: id, app_run_id: *app_run_id },
                                    )
                                    .await,
                                );
                            }
                            reported = all;
                        }
                        Err(status) => events.push(Err(status)),
                    }
                }
                events.push(api.event_for(id, change).await);
                for event in events {
                    let failed = event.is_err();
                    if tx.send(event).await.is_err() || failed {
                        return;
                    }
                }
                if finished {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}

impl Api {
    /// The ids of the run's app runs that reached a final status.
    async fn finished_app_runs(&self, id: i64) -> Result<BTreeSet<i64>, Status> {
        Ok(self.broker.store.finished_app_run_ids(id).await.map_err(OutpostError::from)?)
    }

    async fn event_for(&self, id: i64, change: Change) -> Result<pb::ActionRunEvent, Status> {
        let run = action_run_pb(&self.action_run(id).await?);
        let change = match change {
            Change::Progress { app_run_id, parameter_index, message, .. } => {
                action_run_event::Change::Progress(pb::ProgressChange { app_run_id, parameter_index, message })
            }
            Change::AppRunDone { app_run_id, .. } => {
                let store = &self.broker.store;
                let app_run = store.get_app_run(app_run_id).await.map_err(OutpostError::from)?;
                match app_run {
                    Some(app_run) => {
                        let results = store.results_of(app_run_id).await.map_err(OutpostError::from)?;
                        action_run_event::Change::AppRunDone(app_run_pb(&app_run, &results))
                    }
                    None => action_run_event::Change::Status(true),
                }
            }
            Change::Started { .. } | Change::ActionRunDone { .. } => action_run_event::Change::Status(true),
        };
        Ok(pb::ActionRunEvent { action_run: Some(run), change: Some(change) })
    }
}

#[tonic::async_trait]
impl AppService for Api {
    type FetchAppStream = ChunkStream;

    async fn fetch_app(&self, request: Request<pb::FetchAppRequest>) -> Result<Response<Self::FetchAppStream>, Status> {
        let presented = request.metadata().get(WORKER_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !same_secret(presented, &self.broker.bus_key.derive_token("outpost-worker")) {
            return Err(OutpostError::unauthenticated(
                "fetching components needs the worker token (a worker with the broker's bus key)",
            )
            .into());
        }
        let digest = request.get_ref().digest.trim().to_lowercase();
        if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(OutpostError::invalid(format!("'{digest}' is not a sha256 digest")).into());
        }
        let bytes = self
            .broker
            .store
            .component(&digest)
            .await
            .map_err(OutpostError::from)?
            .ok_or_else(|| OutpostError::not_found(format!("no component with digest {digest}")))?;
        let total = bytes.len() as u64;
        let chunks: Vec<Result<pb::AppChunk, Status>> = bytes
            .chunks(CHUNK)
            .enumerate()
            .map(|(i, c)| Ok(pb::AppChunk { data: c.to_vec(), total_size: if i == 0 { total } else { 0 } }))
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }
}

/// Compares two secrets in time that does not depend on where they differ (`subtle`).
/// Their sha256 digests are compared, which all have one length, so not even the
/// secret's length shows.
fn same_secret(presented: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let (a, b) = (Sha256::digest(presented.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.as_slice().ct_eq(b.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_same_secret_is_the_same() {
        assert!(same_secret("worker-token", "worker-token"));
        assert!(!same_secret("worker-tokeN", "worker-token"));
        assert!(!same_secret("worker", "worker-token"));
        assert!(!same_secret("", "worker-token"));
    }
}
