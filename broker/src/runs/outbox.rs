//! The outbox relay: publishes tasks the store holds unsent, then marks them sent.
//!
//! Tasks are written in the same transaction as their action run, so a broker that
//! crashes between commit and publish loses nothing: on restart the relay finds them
//! unsent and publishes them. A task may thus be published twice (crash after publish,
//! before marking); result ingestion is idempotent, so that is harmless.
//! `exec_delay_secs` is honoured here: a task is published only once due.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use outpost_bus::BusError;
use outpost_bus::retry::Backoff;
use outpost_proto::time::now_ms;
use tokio_util::sync::CancellationToken;

use crate::Broker;
use crate::store::runs::OutboxTask;

/// Tasks taken from the store per round.
const BATCH: i64 = 512;
/// Publishes awaiting their confirm at once.
const IN_FLIGHT: usize = 128;
/// Longest sleep between rounds when nothing is due; a new run wakes the relay at once.
const IDLE_POLL: Duration = Duration::from_secs(1);

pub async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        match relay_once(&broker).await {
            Ok(published) if published > 0 => {
                backoff.reset();
                continue;
            }
            Ok(_) => {
                backoff.reset();
                let wait = match broker.store.next_due().await {
                    Ok(Some(due)) => {
                        Duration::from_millis((due - now_ms()).clamp(0, IDLE_POLL.as_millis() as i64) as u64)
                    }
                    _ => IDLE_POLL,
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = broker.outbox_wakeup.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.pause().as_millis() as u64, "outbox relay paused");
                if !backoff.wait(&shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Publishes one batch of due tasks; answers how many went out.
async fn relay_once(broker: &Broker) -> Result<usize, String> {
    let due = broker.store.due_tasks(now_ms(), BATCH).await.map_err(|e| e.to_string())?;
    if due.is_empty() {
        return Ok(0);
    }
    let outcomes: Vec<(i64, Result<(), BusError>)> = futures::stream::iter(due)
        .map(|task| async move { (task.row_id, publish(broker, &task).await) })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut sent = vec![];
    let mut first_error = None;
    for (row_id, outcome) in outcomes {
        match outcome {
            Ok(()) => sent.push(row_id),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    broker.store.mark_sent(&sent).await.map_err(|e| e.to_string())?;
    match first_error {
        // Some went out: keep going, the failed ones are retried next round.
        Some(e) if sent.is_empty() => Err(e.to_string()),
        _ => Ok(sent.len()),
    }
}

async fn publish(broker: &Broker, outbox: &OutboxTask) -> Result<(), BusError> {
    match broker.bus.publish_task(&outbox.segment, &outbox.task).await {
        Err(BusError::Unroutable(segment)) => {
            // The segment's queue is missing (deleted by an operator, or a new segment):
            // declare it and try once more; if that fails too the error is reported.
            broker.bus.declare_segment(&segment).await?;
            let result = broker.bus.publish_task(&outbox.segment, &outbox.task).await;
            if let Err(e) = &result {
                tracing::error!(task_id = %outbox.task.task_id, segment = %segment, error = %e, "task unroutable");
            }
            result
        }
        other => other,
    }
}
