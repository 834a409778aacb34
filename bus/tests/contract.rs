//! The bus contract: every `Bus` implementation must pass these same tests.
//!
//! Each implementation module below provides `async fn bus() -> Arc<dyn Bus>` that returns
//! a fresh, isolated bus whose task queues have a delivery limit of 2.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use outpost_bus::{Bus, BusError};
use outpost_proto::v1::{CancelActionRun, Control, Heartbeat, Progress, Task, WorkerEvent, control, worker_event};

const WAIT: Duration = Duration::from_secs(10);

fn task(n: u32) -> Task {
    Task { task_id: format!("1.{n}"), app_run_id: 1, parameter_index: n, action: "echo".into(), ..Default::default() }
}

async fn next<T>(stream: &mut (impl futures::Stream<Item = T> + Unpin)) -> T {
    tokio::time::timeout(WAIT, stream.next()).await.expect("a message within 10 s").expect("stream still open")
}

async fn nothing<T: std::fmt::Debug>(stream: &mut (impl futures::Stream<Item = T> + Unpin)) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
        panic!("expected no message, got {m:?}");
    }
}

pub async fn unroutable_task_is_an_error(bus: Arc<dyn Bus>) {
    let err = bus.publish_task("nobody-listens", &task(0)).await.unwrap_err();
    assert_eq!(err, BusError::Unroutable("nobody-listens".into()));
}

pub async fn task_is_delivered_once_when_acked(bus: Arc<dyn Bus>) {
    bus.declare_segment("alpha").await.unwrap();
    bus.publish_task("alpha", &task(7)).await.unwrap();
    let mut tasks = bus.consume_tasks("alpha", 4).await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, task(7));
    assert_eq!(delivery.previous_deliveries, 0);
    delivery.ack().await.unwrap();
    nothing(&mut tasks).await;
}

pub async fn unsettled_task_comes_back(bus: Arc<dyn Bus>) {
    bus.declare_segment("beta").await.unwrap();
    bus.publish_task("beta", &task(1)).await.unwrap();
    let mut tasks = bus.consume_tasks("beta", 1).await.unwrap();
    let first = next(&mut tasks).await;
    first.requeue().await.unwrap();
    let second = next(&mut tasks).await;
    assert_eq!(second.message, task(1));
    assert!(second.previous_deliveries >= 1, "redelivery is counted");
    second.ack().await.unwrap();
}

pub async fn dropped_task_comes_back(bus: Arc<dyn Bus>) {
    bus.declare_segment("zeta").await.unwrap();
    bus.publish_task("zeta", &task(4)).await.unwrap();
    let mut tasks = bus.consume_tasks("zeta", 1).await.unwrap();
    drop(next(&mut tasks).await);
    let again = next(&mut tasks).await;
    assert_eq!(again.message, task(4));
    assert!(again.previous_deliveries >= 1, "redelivery is counted");
    again.ack().await.unwrap();
}

pub async fn dropped_stream_hands_back_its_tasks_and_keeps_taken_ones_settleable(bus: Arc<dyn Bus>) {
    bus.declare_segment("eta").await.unwrap();
    for n in 0..3 {
        bus.publish_task("eta", &task(n)).await.unwrap();
    }
    let mut tasks = bus.consume_tasks("eta", 8).await.unwrap();
    let taken = next(&mut tasks).await;
    // A worker that stops taking tasks drops its stream, then finishes what it holds.
    drop(tasks);
    let mut others = bus.consume_tasks("eta", 8).await.unwrap();
    let mut rest = vec![next(&mut others).await, next(&mut others).await];
    rest.sort_by_key(|d| d.message.parameter_index);
    let indexes: Vec<u32> = rest.iter().map(|d| d.message.parameter_index).collect();
    assert!(!indexes.contains(&taken.message.parameter_index), "the task being worked on stays taken");
    taken.ack().await.unwrap();
    for delivery in rest {
        delivery.ack().await.unwrap();
    }
    nothing(&mut others).await;
}

pub async fn task_returned_past_the_limit_is_dead_lettered(bus: Arc<dyn Bus>) {
    bus.declare_segment("gamma").await.unwrap();
    let mut dead = bus.consume_dead_tasks().await.unwrap();
    bus.publish_task("gamma", &task(3)).await.unwrap();
    let mut tasks = bus.consume_tasks("gamma", 1).await.unwrap();
    // Limit 2: returned three times, the third return dead-letters it.
    for _ in 0..3 {
        next(&mut tasks).await.requeue().await.unwrap();
    }
    nothing(&mut tasks).await;
    let dead_task = next(&mut dead).await;
    assert_eq!(dead_task.message.task, task(3));
    assert!(dead_task.message.deliveries >= 3, "{} deliveries", dead_task.message.deliveries);
    dead_task.ack().await.unwrap();
}

pub async fn prefetch_bounds_unsettled_deliveries(bus: Arc<dyn Bus>) {
    bus.declare_segment("delta").await.unwrap();
    for n in 0..3 {
        bus.publish_task("delta", &task(n)).await.unwrap();
    }
    let mut tasks = bus.consume_tasks("delta", 2).await.unwrap();
    let a = next(&mut tasks).await;
    let b = next(&mut tasks).await;
    nothing(&mut tasks).await;
    a.ack().await.unwrap();
    let c = next(&mut tasks).await;
    assert_eq!(c.message.parameter_index, 2);
    b.ack().await.unwrap();
    c.ack().await.unwrap();
}

pub async fn segments_are_isolated(bus: Arc<dyn Bus>) {
    bus.declare_segment("east").await.unwrap();
    bus.declare_segment("west").await.unwrap();
    bus.publish_task("east", &task(1)).await.unwrap();
    let mut west = bus.consume_tasks("west", 4).await.unwrap();
    nothing(&mut west).await;
    let mut east = bus.consume_tasks("east", 4).await.unwrap();
    next(&mut east).await.ack().await.unwrap();
}

pub async fn events_reach_the_broker(bus: Arc<dyn Bus>) {
    let mut events = bus.consume_events(16).await.unwrap();
    let progress = WorkerEvent {
        event: Some(worker_event::Event::Progress(Progress {
            task_id: "9.0".into(),
            message: "half way".into(),
            ..Default::default()
        })),
    };
    bus.publish_event(&progress).await.unwrap();
    let delivery = next(&mut events).await;
    assert_eq!(delivery.message, progress);
    delivery.ack().await.unwrap();
}

pub async fn control_and_heartbeats_are_broadcast(bus: Arc<dyn Bus>) {
    let mut a = bus.subscribe_control().await.unwrap();
    let mut b = bus.subscribe_control().await.unwrap();
    let mut beats = bus.subscribe_heartbeats().await.unwrap();
    // Subscriptions on a remote bus become effective asynchronously.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cancel = Control {
        command: Some(control::Command::Cancel(CancelActionRun { action_run_id: 5, reason: "test".into() })),
    };
    bus.publish_control(&cancel).await.unwrap();
    assert_eq!(next(&mut a).await, cancel);
    assert_eq!(next(&mut b).await, cancel);
    let beat = Heartbeat { node_guid: "n1".into(), segment: "default".into(), concurrency: 2, ..Default::default() };
    bus.publish_heartbeat(&beat).await.unwrap();
    assert_eq!(next(&mut beats).await, beat);
}

pub async fn closed_bus_refuses_work(bus: Arc<dyn Bus>) {
    bus.declare_segment("omega").await.unwrap();
    let mut tasks = bus.consume_tasks("omega", 1).await.unwrap();
    bus.close().await;
    assert!(tokio::time::timeout(WAIT, tasks.next()).await.expect("stream ends").is_none());
    assert!(bus.publish_task("omega", &task(0)).await.is_err());
    assert!(!bus.is_connected());
}

/// Generates one `#[tokio::test]` per contract case for a bus factory.
macro_rules! contract {
    ($factory:path) => {
        contract!(@cases $factory,
            unroutable_task_is_an_error,
            task_is_delivered_once_when_acked,
            unsettled_task_comes_back,
            dropped_task_comes_back,
            dropped_stream_hands_back_its_tasks_and_keeps_taken_ones_settleable,
            task_returned_past_the_limit_is_dead_lettered,
            prefetch_bounds_unsettled_deliveries,
            segments_are_isolated,
            events_reach_the_broker,
            control_and_heartbeats_are_broadcast,
            closed_bus_refuses_work
        );
    };
    (@cases $factory:path, $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                super::$case($factory().await).await;
            }
        )*
    };
}

mod in_process {
    use super::*;

    async fn bus() -> Arc<dyn Bus> {
        Arc::new(outpost_bus::InProcessBus::new(2))
    }

    contract!(bus);
}

/// Against the machine's RabbitMQ (`OUTPOST_TEST_AMQP_URL` overrides it): each case gets
/// its own topology prefix, deleted afterwards.
mod amqp {
    use super::*;

    async fn bus() -> Arc<dyn Bus> {
        outpost_tests::amqp::test_bus(2).await
    }

    contract!(bus);
}
