//! `ActionService`: run, read, list, cancel and watch action runs, the typed twin of
//! `/rest/action_run` and `/rest/app_run`.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use outpost_proto::OutpostError;
use outpost_proto::time::{timestamp, timestamp_opt};
use outpost_proto::v1::action_service_server::ActionService;
use outpost_proto::v1::{self as pb, action_run_event};
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use super::{Api, list_query};
use crate::access::audit::Actor;
use crate::listing::Value as FilterValue;
use crate::runs::dispatch::{RunAction, Target};
use crate::runs::watch::Change;
use crate::store::collections::{ACTION_RESULTS, ACTION_RUNS, APP_RUNS};
use crate::store::runs::{ActionResult, ActionRun, AppRun};

fn action_run_pb(run: &ActionRun) -> pb::ActionRun {
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
            .run_action(
                &Actor::from(&who),
                RunAction {
                    action: r.action,
                    container_id: r.container_id,
                    name: r.name,
                    action_type: Some(r.r#type).filter(|t| !t.is_empty()),
                    exec_delay_secs: r.exec_delay_secs,
                    targets,
                },
            )
            .await?;
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
        let stopped = self.broker.cancel_action_run(&Actor::from(&who), id).await?;
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
