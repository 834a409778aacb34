//! Result ingestion: reads worker events from the bus, records them in batches, and
//! acknowledges them only once the store has them.
//!
//! Results are recorded idempotently per (app run, parameter index), so a task that ran
//! twice (redelivery after a worker died) still yields one result. Dead-lettered tasks
//! are recorded as failed results with `exception_occured`, so their runs still close.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use outpost_bus::retry::{Backoff, until_ok};
use outpost_bus::{Acker, DeadTask, Delivery};
use outpost_proto::time::now_ms;
use outpost_proto::v1::{ResultStatus, TaskResult, WorkerEvent, worker_event};
use tokio_util::sync::CancellationToken;

use super::settle;
use crate::Broker;

/// Events recorded per transaction, at most.
const BATCH: usize = 256;
/// Events the broker holds unacknowledged.
const PREFETCH: u16 = 1024;

pub async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let subscribed = until_ok(
        &mut Backoff::fixed(Duration::from_secs(1)),
        &shutdown,
        || broker.bus.consume_events(PREFETCH),
        |e, _| tracing::warn!(error = %e, "cannot consume results yet; retrying"),
    )
    .await;
    let Some(events) = subscribed else { return };
    let mut batches = events.ready_chunks(BATCH);
    loop {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => return,
            batch = batches.next() => match batch {
                Some(batch) => batch,
                None => return,
            },
        };
        record(&broker, batch, &shutdown).await;
    }
}

async fn record(broker: &Broker, batch: Vec<Delivery<WorkerEvent>>, shutdown: &CancellationToken) {
    let mut results = vec![];
    let mut progress = vec![];
    let mut ackers = vec![];
    for delivery in batch {
        let (event, acker) = delivery.into_parts();
        ackers.push(acker);
        match event.event {
            Some(worker_event::Event::Result(result)) => results.push(result),
            Some(worker_event::Event::Progress(p)) => progress.push(p),
            None => tracing::warn!("empty worker event dropped"),
        }
    }
    // Not acknowledged, so nothing is lost: retry until the store is back, or leave the
    // events to RabbitMQ if the broker is stopping.
    let recorded = until_ok(
        &mut Backoff::new(Duration::from_millis(50), Duration::from_secs(5)),
        shutdown,
        || settle::record_results(&broker.store, &results),
        |e, _| tracing::warn!(error = %e, results = results.len(), "recording results failed; retrying"),
    )
    .await;
    let Some(changes) = recorded else { return };
    broker.watch.publish(changes);
    for p in progress {
        match settle::record_progress(&broker.store, p.app_run_id, p.parameter_index, &p.message, p.unix_ms).await {
            Ok(changes) => broker.watch.publish(changes),
            // Progress is informational: losing one is better than blocking results.
            Err(e) => tracing::warn!(task_id = %p.task_id, error = %e, "progress not recorded"),
        }
    }
    ack_all(ackers).await;
}

async fn ack_all(ackers: Vec<Acker>) {
    // All at once: acks need no answer from the bus, so there is no reason to send them
    // one round after another.
    for outcome in futures::future::join_all(ackers.into_iter().map(Acker::ack)).await {
        if let Err(e) = outcome {
            // The store has the result; a redelivery will be ignored as a duplicate.
            tracing::debug!(error = %e, "ack after recording failed");
        }
    }
}

/// Records every dead-lettered task as a failed result.
pub async fn run_dead_letters(broker: Arc<Broker>, shutdown: CancellationToken) {
    let subscribed = until_ok(
        &mut Backoff::fixed(Duration::from_secs(1)),
        &shutdown,
        || broker.bus.consume_dead_tasks(),
        |e, _| tracing::warn!(error = %e, "cannot consume dead letters yet; retrying"),
    )
    .await;
    let Some(mut dead) = subscribed else { return };
    loop {
        let delivery = tokio::select! {
            _ = shutdown.cancelled() => return,
            d = dead.next() => match d { Some(d) => d, None => return },
        };
        let (dead_task, acker) = delivery.into_parts();
        let result = abandoned(&dead_task);
        tracing::error!(task_id = %dead_task.task.task_id, deliveries = dead_task.deliveries, "task dead-lettered");
        let recorded = until_ok(
            &mut Backoff::fixed(Duration::from_secs(1)),
            &shutdown,
            || settle::record_results(&broker.store, std::slice::from_ref(&result)),
            |e, _| tracing::warn!(error = %e, "recording a dead-lettered task failed; retrying"),
        )
        .await;
        let Some(changes) = recorded else { return };
        broker.watch.publish(changes);
        let _ = acker.ack().await;
    }
}

/// The failed result recorded for a task nobody could finish.
pub fn abandoned(dead: &DeadTask) -> TaskResult {
    let task = &dead.task;
    TaskResult {
        task_id: task.task_id.clone(),
        action_run_id: task.action_run_id,
        app_run_id: task.app_run_id,
        parameter_index: task.parameter_index,
        status: ResultStatus::Failed as i32,
        message: format!(
            "the parameter set was abandoned after {} deliveries: every worker that took it died or gave it back",
            dead.deliveries
        ),
        summary_json: "{}".into(),
        exception_occured: true,
        finished_unix_ms: now_ms(),
        ..Default::default()
    }
}
