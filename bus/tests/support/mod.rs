//! Running tests against the machine's RabbitMQ without stepping on anyone: every bus
//! gets a unique topology prefix, and its queues and exchanges are deleted afterwards.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use outpost_bus::amqp::{AmqpBus, AmqpConfig};
use outpost_bus::{Bus, BusResult, DeadTask, DeliveryStream, Subscription};
use outpost_proto::topology::Topology;
use outpost_proto::v1::{Control, Heartbeat, Task, WorkerEvent};

/// The RabbitMQ the tests use; `OUTPOST_TEST_AMQP_URL` overrides the local default.
/// Also shows the bus's logs when `RUST_LOG` asks for them.
pub fn amqp_url() -> String {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    std::env::var("OUTPOST_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A topology prefix no other test (or test run) uses.
pub fn unique_prefix(test: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("test-{test}-{}", &id[..12])
}

/// An `AmqpBus` on a fresh prefix that deletes its queues and exchanges when dropped.
pub async fn test_bus(delivery_limit: u32) -> Arc<dyn Bus> {
    let topology = Topology { prefix: unique_prefix("contract"), delivery_limit };
    let cleanup = Cleanup::new(amqp_url(), topology.prefix.clone());
    let config = AmqpConfig::new(amqp_url(), topology);
    let bus = AmqpBus::connect(config).await.unwrap_or_else(|e| panic!("rabbitmq at {}: {e}", amqp_url()));
    Arc::new(TestBus { bus: Some(bus), cleanup })
}

/// Deletes one prefix's topology when dropped (also when the test panicked).
pub struct Cleanup {
    url: String,
    prefix: String,
    segments: Mutex<BTreeSet<String>>,
}

impl Cleanup {
    pub fn new(url: String, prefix: String) -> Self {
        Cleanup { url, prefix, segments: Mutex::new(BTreeSet::new()) }
    }

    pub fn segment(&self, segment: &str) {
        self.segments.lock().unwrap().insert(segment.to_string());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        let segments: Vec<String> = self.segments.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        // Drop cannot await: use a runtime of our own on another thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let deleted =
                    tokio::time::timeout(Duration::from_secs(10), delete_topology(&url, &prefix, &segments)).await;
                if !matches!(deleted, Ok(Ok(()))) {
                    eprintln!("could not clean up rabbitmq topology '{prefix}': {deleted:?}");
                }
            })
        })
        .join();
    }
}

async fn delete_topology(url: &str, prefix: &str, segments: &[String]) -> lapin::Result<()> {
    let topology = Topology::with_prefix(prefix);
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let mut queues: Vec<String> = segments.iter().map(|s| topology.task_queue(s)).collect();
    queues.extend([topology.results_queue(), topology.dead_letter_queue()]);
    let exchanges = [
        topology.tasks_exchange(),
        topology.dead_letter_exchange(),
        topology.control_exchange(),
        topology.heartbeat_exchange(),
    ];
    // A channel per deletion: a refused one closes its channel.
    for queue in queues {
        let channel = connection.create_channel().await?;
        let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
    }
    for exchange in exchanges {
        let channel = connection.create_channel().await?;
        let _ = channel.exchange_delete(exchange.into(), ExchangeDeleteOptions::default()).await;
    }
    // Channels still closing make the close answer an error; the deletions are done.
    let _ = connection.close(200, "cleaned up".into()).await;
    Ok(())
}

/// An `AmqpBus` that remembers the segments it saw, to delete them afterwards.
pub struct TestBus {
    /// Dropped (closing the bus) before the topology is deleted, so no consumer
    /// re-declares a queue behind the cleanup.
    bus: Option<AmqpBus>,
    cleanup: Cleanup,
}

impl TestBus {
    fn bus(&self) -> &AmqpBus {
        self.bus.as_ref().expect("bus")
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        drop(self.bus.take());
    }
}

#[async_trait::async_trait]
impl Bus for TestBus {
    async fn declare_segment(&self, segment: &str) -> BusResult<()> {
        self.cleanup.segment(segment);
        self.bus().declare_segment(segment).await
    }
    async fn publish_task(&self, segment: &str, task: &Task) -> BusResult<()> {
        self.bus().publish_task(segment, task).await
    }
    async fn consume_tasks(&self, segment: &str, prefetch: u16) -> BusResult<DeliveryStream<Task>> {
        self.cleanup.segment(segment);
        self.bus().consume_tasks(segment, prefetch).await
    }
    async fn publish_event(&self, event: &WorkerEvent) -> BusResult<()> {
        self.bus().publish_event(event).await
    }
    async fn consume_events(&self, prefetch: u16) -> BusResult<DeliveryStream<WorkerEvent>> {
        self.bus().consume_events(prefetch).await
    }
    async fn consume_dead_tasks(&self) -> BusResult<DeliveryStream<DeadTask>> {
        self.bus().consume_dead_tasks().await
    }
    async fn publish_control(&self, control: &Control) -> BusResult<()> {
        self.bus().publish_control(control).await
    }
    async fn subscribe_control(&self) -> BusResult<Subscription<Control>> {
        self.bus().subscribe_control().await
    }
    async fn publish_heartbeat(&self, heartbeat: &Heartbeat) -> BusResult<()> {
        self.bus().publish_heartbeat(heartbeat).await
    }
    async fn subscribe_heartbeats(&self) -> BusResult<Subscription<Heartbeat>> {
        self.bus().subscribe_heartbeats().await
    }
    fn is_connected(&self) -> bool {
        self.bus().is_connected()
    }
    async fn close(&self) {
        self.bus().close().await
    }
}
