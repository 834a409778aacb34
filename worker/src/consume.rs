//! The consume loop: take a task, run it in a fresh sandbox, publish the result, and only
//! then acknowledge the task.
//!
//! - Prefetch equals the worker's concurrency, so a worker never hoards tasks others
//!   could run.
//! - A task of a cancelled action run is skipped (acknowledged without running); a
//!   running one is interrupted. The broker has already recorded the cancel.
//! - On shutdown the worker stops taking tasks, lets in-flight ones finish within the
//!   grace period, and hands back (requeues) whatever is still running after it.
//! - A task that runs longer than [`START_NOTICE_AFTER`] sends a start notice (an empty
//!   progress message), so the broker shows it `running`; short tasks cost one message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use outpost_bus::retry::{Backoff, until_ok};
use outpost_bus::{Bus, BusError, Delivery};
use outpost_proto::parameters::connector_parameter;
use outpost_proto::time::now_ms;
use outpost_proto::v1::{Progress, ResultStatus, Task, TaskResult, WorkerEvent, control, worker_event};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;
use crate::app_cache::AppCache;
use crate::sandbox::{Context, Invocation, Limits, Outcome, Sandbox, Status};

/// A task running longer than this tells the broker it started.
pub const START_NOTICE_AFTER: Duration = Duration::from_millis(500);
/// How long a cancelled action run is remembered, to skip its queued tasks.
const REMEMBER_CANCELS: Duration = Duration::from_secs(3600);

/// Counters the heartbeat reports.
#[derive(Default)]
pub struct Stats {
    pub in_flight: AtomicU32,
    pub completed: AtomicU64,
}

/// What the consume loop shares with its task handlers.
pub struct Consumer {
    pub config: WorkerConfig,
    pub node_guid: String,
    pub bus: Arc<dyn Bus>,
    pub sandbox: Arc<Sandbox>,
    pub apps: AppCache,
    pub stats: Stats,
    /// Action runs cancelled recently, with when we heard.
    cancelled: Mutex<HashMap<i64, Instant>>,
    /// Cancel tokens of running tasks (with their task ids), by action run.
    running: Mutex<HashMap<i64, Vec<(String, CancellationToken)>>>,
}

/// How a task ended for the bus.
enum Settle {
    /// The result is published; acknowledge.
    Ack,
    /// Hand the task back for another worker (shutdown, or a transient failure here).
    Requeue,
}

impl Consumer {
    pub fn new(
        config: WorkerConfig,
        node_guid: String,
        bus: Arc<dyn Bus>,
        sandbox: Arc<Sandbox>,
        apps: AppCache,
    ) -> Self {
        Consumer {
            config,
            node_guid,
            bus,
            sandbox,
            apps,
            stats: Stats::default(),
            cancelled: Mutex::default(),
            running: Mutex::default(),
        }
    }

    fn is_cancelled(&self, action_run_id: i64) -> bool {
        let mut cancelled = self.cancelled.lock().expect("cancel set");
        cancelled.retain(|_, at| at.elapsed() < REMEMBER_CANCELS);
        cancelled.contains_key(&action_run_id)
    }

    /// Remembers a cancel and interrupts the run's running tasks.
    pub fn cancel(&self, action_run_id: i64) {
        self.cancelled.lock().expect("cancel set").insert(action_run_id, Instant::now());
        if let Some(tokens) = self.running.lock().expect("running set").get(&action_run_id) {
            for (_, token) in tokens {
                token.cancel();
            }
        }
    }

    /// Runs until `shutdown`, then drains.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let concurrency = self.config.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency as usize));
        // Cancelled when the grace period is over: running tasks are then handed back.
        let abandon = CancellationToken::new();
        let segment = &self.config.segment;
        let subscribed = until_ok(
            &mut Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
            &shutdown,
            || self.bus.consume_tasks(segment, concurrency.min(u16::MAX as u32) as u16),
            |e, _| match e {
                // Not a passing outage: RabbitMQ says no (permissions, say). Loudly.
                BusError::Refused(_) => {
                    tracing::error!(error = %e, segment = %segment, "rabbitmq refuses this segment's task queue; retrying")
                }
                _ => tracing::warn!(error = %e, segment = %segment, "cannot consume tasks yet; retrying"),
            },
        )
        .await;
        let Some(mut tasks) = subscribed else { return };
        let mut handlers = tokio::task::JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => permit.expect("semaphore never closes"),
            };
            let delivery = tokio::select! {
                _ = shutdown.cancelled() => break,
                delivery = tasks.next() => match delivery {
                    Some(d) => d,
                    None => break,
                },
            };
            let me = self.clone();
            let abandon = abandon.clone();
            handlers.spawn(async move {
                me.handle(delivery, abandon).await;
                drop(permit);
            });
            // Reap finished handlers so the set does not grow.
            while handlers.try_join_next().is_some() {}
        }
        // Stop taking tasks: prefetched, unstarted deliveries go back with the stream.
        drop(tasks);
        while handlers.try_join_next().is_some() {}
        let in_flight = handlers.len();
        if in_flight > 0 {
            tracing::info!(in_flight, grace_secs = self.config.drain_grace.as_secs(), "draining in-flight tasks");
        }
        let drained =
            tokio::time::timeout(self.config.drain_grace, async { while handlers.join_next().await.is_some() {} })
                .await;
        if drained.is_err() {
            tracing::warn!(left = handlers.len(), "grace period over; handing back running tasks");
            abandon.cancel();
            while handlers.join_next().await.is_some() {}
        }
    }

    async fn handle(&self, delivery: Delivery<Task>, abandon: CancellationToken) {
        let (task, acker) = delivery.into_parts();
        let settle = if self.is_cancelled(task.action_run_id) {
            tracing::info!(task_id = %task.task_id, "skipped: its action run was cancelled");
            Settle::Ack
        } else {
            self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            let settle = self.execute(&task, abandon).await;
            self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            settle
        };
        let outcome = match settle {
            Settle::Ack => {
                self.stats.completed.fetch_add(1, Ordering::Relaxed);
                acker.ack().await
            }
            Settle::Requeue => acker.requeue().await,
        };
        if let Err(e) = outcome {
            // The bus redelivers an unsettled task; the broker keeps one result.
            tracing::warn!(task_id = %task.task_id, error = %e, "settling the task failed");
        }
    }

    async fn execute(&self, task: &Task, abandon: CancellationToken) -> Settle {
        let started = now_ms();
        let cancel = CancellationToken::new();
        // Tokens are kept by task id, so the finished task removes exactly its own.
        self.running
            .lock()
            .expect("running set")
            .entry(task.action_run_id)
            .or_default()
            .push((task.task_id.clone(), cancel.clone()));
        let outcome = self.run_in_sandbox(task, cancel.clone(), abandon.clone()).await;
        {
            let mut running = self.running.lock().expect("running set");
            if let Some(tokens) = running.get_mut(&task.action_run_id) {
                tokens.retain(|(task_id, _)| *task_id != task.task_id);
                if tokens.is_empty() {
                    running.remove(&task.action_run_id);
                }
            }
        }
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(settle) => return settle,
        };
        if abandon.is_cancelled() {
            // Interrupted by shutdown, not by the connector: let another worker run it.
            return Settle::Requeue;
        }
        if self.is_cancelled(task.action_run_id) {
            // The broker recorded the cancel already; this result would be ignored.
            tracing::info!(task_id = %task.task_id, "interrupted: its action run was cancelled");
            return Settle::Ack;
        }
        let result = self.result_of(task, outcome, started);
        let event = WorkerEvent { event: Some(worker_event::Event::Result(result)) };
        match self.publish_until_confirmed(&event, &abandon).await {
            true => Settle::Ack,
            false => Settle::Requeue,
        }
    }

    /// Runs the task; `Err` means it could not run here and should be settled as given.
    async fn run_in_sandbox(
        &self,
        task: &Task,
        cancel: CancellationToken,
        abandon: CancellationToken,
    ) -> Result<Outcome, Settle> {
        let Some(app) = task.app.as_ref() else {
            return Ok(failure("the task names no app; it cannot run"));
        };
        let prepared = match self.sandbox.prepared(&app.digest) {
            Some(p) => p,
            None => {
                let bytes = match self.apps.get(&app.digest).await {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        // Transient (broker unreachable) or not: give it back, the delivery
                        // limit decides when to stop trying.
                        tracing::warn!(task_id = %task.task_id, app = %app.name, error = %e, "component unavailable");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        return Err(Settle::Requeue);
                    }
                };
                match self.sandbox.prepare(&app.digest, &bytes).await {
                    Ok(p) => p,
                    Err(e) => return Ok(failure(&format!("app '{}' {} cannot run: {e}", app.name, app.version))),
                }
            }
        };
        let config = match self.config.bus_key.open(&task.sealed_asset_config) {
            Ok(plain) => String::from_utf8_lossy(&plain).into_owned(),
            Err(e) => {
                return Ok(failure(&format!(
                    "the worker cannot open the asset configuration ({e}); its bus key differs from the broker's"
                )));
            }
        };
        let context = task.context.clone().unwrap_or_default();
        let parameter_json = match connector_parameter(&task.parameter_json, &context) {
            Ok(json) => json,
            Err(e) => return Ok(failure(&e)),
        };
        let limits = task.limits.unwrap_or_default();
        let (progress_tx, progress_rx) = tokio::sync::mpsc::channel::<String>(32);
        let invocation = Invocation {
            action: task.action.clone(),
            identifier: task.identifier.clone(),
            parameter_json,
            asset_config_json: config,
            asset_id: task.asset_id,
            asset_name: task.asset_name.clone(),
            container_id: task.container_id,
            action_run_id: task.action_run_id,
            app_run_id: task.app_run_id,
            context: Context {
                guid: context.guid,
                artifact_id: context.artifact_id,
                parent_action_run: context.parent_action_run,
            },
            limits: Limits {
                memory_bytes: limits.memory_bytes,
                timeout: Duration::from_millis(limits.timeout_ms),
                max_result_bytes: limits.max_result_bytes,
            },
            egress: task.egress.clone(),
            state_json: task.state.as_ref().map(|s| s.json.clone()).unwrap_or_else(|| "{}".into()),
            progress: Some(progress_tx),
            cancel: cancel.clone(),
            task_id: task.task_id.clone(),
        };
        let forward = self.forward_progress(task, progress_rx);
        let interrupt = async {
            abandon.cancelled().await;
            cancel.cancel();
        };
        let run = self.sandbox.run(&prepared, invocation);
        let (outcome, ()) = tokio::select! {
            both = futures::future::join(run, forward) => both,
            _ = interrupt => return Err(Settle::Requeue),
        };
        Ok(outcome)
    }

    /// Forwards progress messages, plus a start notice once the task has run for a while.
    async fn forward_progress(&self, task: &Task, mut messages: tokio::sync::mpsc::Receiver<String>) {
        let notice = tokio::time::sleep(START_NOTICE_AFTER);
        tokio::pin!(notice);
        let mut noticed = false;
        loop {
            let message = tokio::select! {
                m = messages.recv() => match m {
                    Some(m) => {
                        // A real progress message also tells the broker the task started.
                        noticed = true;
                        m
                    }
                    None => return,
                },
                _ = &mut notice, if !noticed => {
                    noticed = true;
                    String::new()
                }
            };
            let progress = Progress {
                task_id: task.task_id.clone(),
                action_run_id: task.action_run_id,
                app_run_id: task.app_run_id,
                parameter_index: task.parameter_index,
                message,
                node_guid: self.node_guid.clone(),
                unix_ms: now_ms(),
            };
            let event = WorkerEvent { event: Some(worker_event::Event::Progress(progress)) };
            if let Err(e) = self.bus.publish_event(&event).await {
                // Progress is informational; the result is what must not be lost.
                tracing::debug!(task_id = %task.task_id, error = %e, "progress not published");
            }
        }
    }

    fn result_of(&self, task: &Task, outcome: Outcome, started: i64) -> TaskResult {
        TaskResult {
            task_id: task.task_id.clone(),
            action_run_id: task.action_run_id,
            app_run_id: task.app_run_id,
            parameter_index: task.parameter_index,
            status: match outcome.status {
                Status::Success => ResultStatus::Success,
                Status::Failed => ResultStatus::Failed,
            } as i32,
            message: outcome.message,
            data_json: outcome.data,
            summary_json: outcome.summary,
            exception_occured: outcome.exception,
            node_guid: self.node_guid.clone(),
            started_unix_ms: started,
            finished_unix_ms: now_ms(),
            saved_state_json: outcome.saved_state,
            state_version: task.state.as_ref().map(|s| s.version).unwrap_or(0),
            http: outcome.http,
            log_lines: outcome.log_lines,
        }
    }

    /// Publishes an event, retrying while the bus is down; false if the worker is being
    /// abandoned first (the task is then requeued, and its result recomputed elsewhere).
    async fn publish_until_confirmed(&self, event: &WorkerEvent, abandon: &CancellationToken) -> bool {
        until_ok(
            &mut Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            abandon,
            || self.bus.publish_event(event),
            |e, pause| {
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "publishing a result failed; retrying")
            },
        )
        .await
        .is_some()
    }
}

/// A failed outcome decided by the worker, not the connector.
fn failure(message: &str) -> Outcome {
    Outcome {
        status: Status::Failed,
        message: message.to_string(),
        data: vec![],
        summary: "{}".into(),
        exception: true,
        saved_state: None,
        http: vec![],
        log_lines: 0,
        duration: Duration::ZERO,
    }
}

/// Listens for control broadcasts (cancel) until `until`.
pub async fn listen_control(consumer: Arc<Consumer>, until: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let subscribed = until_ok(
            &mut backoff,
            &until,
            || consumer.bus.subscribe_control(),
            |e, _| tracing::warn!(error = %e, "cannot subscribe to control messages yet; retrying"),
        )
        .await;
        let Some(mut control) = subscribed else { return };
        loop {
            let message = tokio::select! {
                _ = until.cancelled() => return,
                m = control.next() => m,
            };
            match message {
                Some(message) => {
                    if let Some(control::Command::Cancel(cancel)) = message.command {
                        tracing::info!(action_run_id = cancel.action_run_id, reason = %cancel.reason, "cancel received");
                        consumer.cancel(cancel.action_run_id);
                    }
                }
                None => break,
            }
        }
    }
}
