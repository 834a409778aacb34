//! Plays the worker's part on an in-process bus, so dispatch, the outbox, ingestion and
//! assembly run for real without a sandbox: tasks are taken from the bus and results
//! (or progress) published back as a worker publishes them.

use std::sync::Arc;

use futures::StreamExt;
use outpost_bus::{Bus, InProcessBus};
use outpost_proto::time::now_ms;
use outpost_proto::v1::{Progress, ResultStatus, Task, TaskResult, WorkerEvent, worker_event};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The segment the fake worker serves.
const SEGMENT: &str = "default";

/// The node_guid the fake worker reports.
pub const NODE_GUID: &str = "ec05c5c5-0e22-4f3e-a48d-48a67f498dc3";

/// How long every fake run takes, so durations are not zero.
const RUN_MS: i64 = 5;

/// What the fake worker answers for one parameter set.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Success or failure of the parameter set.
    pub ok: bool,
    /// The result's message.
    pub message: String,
    /// The result's data items.
    pub data: Vec<Value>,
    /// The result's summary object.
    pub summary: Value,
}

impl Outcome {
    pub fn success(message: &str, data: Vec<Value>, summary: Value) -> Outcome {
        Outcome { ok: true, message: message.into(), data, summary }
    }

    pub fn failure(message: &str) -> Outcome {
        Outcome { ok: false, message: message.into(), data: vec![], summary: json!({}) }
    }
}

/// The parameter object of a task, as a connector sees it (`context` included).
pub fn parameter(task: &Task) -> Value {
    let context = task.context.clone().unwrap_or_default();
    let json = outpost_proto::parameters::connector_parameter(&task.parameter_json, &context)
        .unwrap_or_else(|e| panic!("a task's parameters are JSON: {e}"));
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("a task's parameters are JSON: {e}"))
}

/// The result event a worker publishes for `task`.
pub fn result_event(task: &Task, outcome: &Outcome) -> WorkerEvent {
    let started = now_ms();
    WorkerEvent {
        event: Some(worker_event::Event::Result(TaskResult {
            task_id: task.task_id.clone(),
            action_run_id: task.action_run_id,
            app_run_id: task.app_run_id,
            parameter_index: task.parameter_index,
            status: if outcome.ok { ResultStatus::Success } else { ResultStatus::Failed } as i32,
            message: outcome.message.clone(),
            data_json: outcome.data.iter().map(Value::to_string).collect(),
            summary_json: outcome.summary.to_string(),
            node_guid: NODE_GUID.into(),
            started_unix_ms: started,
            finished_unix_ms: started + RUN_MS,
            ..Default::default()
        })),
    }
}

/// The progress event a worker publishes while `task` runs (SOAR's `save_progress`).
pub fn progress_event(task: &Task, message: &str) -> WorkerEvent {
    WorkerEvent {
        event: Some(worker_event::Event::Progress(Progress {
            task_id: task.task_id.clone(),
            action_run_id: task.action_run_id,
            app_run_id: task.app_run_id,
            parameter_index: task.parameter_index,
            message: message.into(),
            node_guid: NODE_GUID.into(),
            unix_ms: now_ms(),
        })),
    }
}

/// Plays a worker of the default segment: every task gets `answer(task)`, published as a
/// result before the task is acknowledged, as a worker does. Stops with the bus.
pub fn fake_worker(bus: Arc<InProcessBus>, answer: impl Fn(&Task) -> Outcome + Send + 'static) {
    tokio::spawn(async move {
        let mut tasks = bus.consume_tasks(SEGMENT, 64).await.unwrap_or_else(|e| panic!("consume tasks: {e}"));
        while let Some(delivery) = tasks.next().await {
            let outcome = answer(&delivery.message);
            if bus.publish_event(&result_event(&delivery.message, &outcome)).await.is_err() {
                return;
            }
            let _ = delivery.ack().await;
        }
    });
}

/// Hands the test every task of the default segment (acknowledged), to answer by hand.
pub async fn take_tasks(bus: Arc<InProcessBus>) -> mpsc::UnboundedReceiver<Task> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = bus.consume_tasks(SEGMENT, 64).await.unwrap_or_else(|e| panic!("consume tasks: {e}"));
    tokio::spawn(async move {
        while let Some(delivery) = tasks.next().await {
            let task = delivery.message.clone();
            let _ = delivery.ack().await;
            if tx.send(task).is_err() {
                return;
            }
        }
    });
    rx
}

/// The QA connector's behaviour, as far as the tests need it: echo returns its parameter,
/// fail fails, anything else succeeds.
pub fn qa(task: &Task) -> Outcome {
    let parameter = parameter(task);
    match task.action.as_str() {
        "fail" => Outcome::failure(parameter["message"].as_str().unwrap_or("")),
        "echo" => {
            let keys = parameter.as_object().map_or(0, |object| object.len());
            Outcome::success("echoed", vec![parameter.clone()], json!({"keys": keys}))
        }
        _ => Outcome::success("done", vec![], json!({})),
    }
}

/// A connector whose connectivity test succeeds and whose other actions look things up.
pub fn connectivity(task: &Task) -> Outcome {
    let message = if task.identifier == "test_connectivity" { "Connectivity test succeeded" } else { "looked up" };
    Outcome::success(message, vec![], json!({}))
}
