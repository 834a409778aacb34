//! Tests on the machine's RabbitMQ without stepping on anyone: every test gets a
//! topology prefix of its own ([`AmqpScope`]) whose queues and exchanges are deleted
//! when it ends, also when it panicked. Cheaper than a vhost of its own: no
//! `rabbitmqctl`, which costs one to two seconds a call on a busy machine.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use outpost_bus::amqp::{AmqpBus, AmqpConfig};
use outpost_bus::{Bus, BusResult, DeadTask, DeliveryStream, Subscription};
use outpost_proto::topology::Topology;
use outpost_proto::v1::{Control, Heartbeat, Task, WorkerEvent};

/// The machine's RabbitMQ when `OUTPOST_TEST_AMQP_URL` does not name another.
const LOCAL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The RabbitMQ the tests use: `OUTPOST_TEST_AMQP_URL`, or the local one. Also shows
/// the bus's logs in a test's output when `RUST_LOG` asks for them.
pub fn url() -> String {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    std::env::var("OUTPOST_TEST_AMQP_URL").unwrap_or_else(|_| LOCAL.into())
}

/// `host:port` of that RabbitMQ, for a [`crate::proxy::Proxy`] in front of it.
pub fn upstream() -> String {
    let uri: lapin::uri::AMQPUri = url().parse().unwrap_or_else(|e| panic!("the test AMQP url: {e}"));
    format!("{}:{}", uri.authority.host, uri.authority.port)
}

/// The test URL pointed at `127.0.0.1:<port>` instead, e.g. a proxy's.
pub fn url_via(port: u16) -> String {
    let url = url();
    let upstream = upstream();
    assert!(url.contains(&upstream), "the test AMQP url must name its port explicitly: {url}");
    url.replacen(&upstream, &format!("127.0.0.1:{port}"), 1)
}

/// Where a process reaches RabbitMQ, and the topology prefix it uses there.
#[derive(Debug, Clone)]
pub struct Amqp {
    /// `OUTPOST_AMQP_URL` of the process.
    pub url: String,
    /// `OUTPOST_AMQP_PREFIX` of the process.
    pub prefix: String,
}

impl Amqp {
    /// The env that points an `outpost` process at it.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [("OUTPOST_AMQP_URL", self.url.clone()), ("OUTPOST_AMQP_PREFIX", self.prefix.clone())]
    }
}

/// A topology prefix of its own for one test, deleted when dropped.
///
/// Declare it before the buses and processes using it, so it is dropped after them and
/// nothing declares a queue again behind the clean-up.
pub struct AmqpScope {
    /// The prefix of every queue and exchange of this test.
    pub topology: Topology,
    /// Segments whose task queues to delete; `default` is always one.
    segments: Mutex<BTreeSet<String>>,
}

impl AmqpScope {
    /// A fresh prefix; `segments` names the segments the test uses besides `default`.
    pub fn new(segments: &[&str]) -> AmqpScope {
        let scope = AmqpScope {
            topology: Topology::with_prefix(crate::unique("outpost-test-")),
            segments: Mutex::new(BTreeSet::new()),
        };
        for segment in ["default"].iter().chain(segments) {
            scope.add_segment(segment);
        }
        scope
    }

    /// The prefix, as `OUTPOST_AMQP_PREFIX` takes it.
    pub fn prefix(&self) -> &str {
        &self.topology.prefix
    }

    /// The same topology with another delivery limit.
    pub fn topology_with_limit(&self, delivery_limit: u32) -> Topology {
        Topology { delivery_limit, ..self.topology.clone() }
    }

    /// Deletes `segment`'s task queue too at the end.
    pub fn add_segment(&self, segment: &str) {
        self.segments.lock().unwrap_or_else(|e| e.into_inner()).insert(segment.to_string());
    }

    /// RabbitMQ directly.
    pub fn direct(&self) -> Amqp {
        Amqp { url: url(), prefix: self.prefix().to_string() }
    }

    /// RabbitMQ through a local port, e.g. a [`crate::proxy::Proxy`]'s.
    pub fn via(&self, port: u16) -> Amqp {
        Amqp { url: url_via(port), prefix: self.prefix().to_string() }
    }

    async fn delete(url: &str, topology: &Topology, segments: &[String]) -> lapin::Result<()> {
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
}

impl Drop for AmqpScope {
    fn drop(&mut self) {
        let url = url();
        let topology = self.topology.clone();
        let segments: Vec<String> = self.segments.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        // Drop cannot await, and may run inside a test's runtime: use a runtime of our
        // own on a thread of its own.
        let cleaned = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                match tokio::time::timeout(Duration::from_secs(10), Self::delete(&url, &topology, &segments)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".to_string()),
                }
            })
        })
        .join();
        if !matches!(cleaned, Ok(Ok(()))) {
            eprintln!("could not clean up rabbitmq topology '{}': {cleaned:?}", self.topology.prefix);
        }
    }
}

/// An [`AmqpBus`] on its own scope: it records the segments it is asked about, and
/// deletes its topology when the last handle is dropped (the bus closes first, so no
/// consumer declares a queue again behind the clean-up).
pub struct TestBus {
    /// Dropped before `scope`.
    bus: Option<AmqpBus>,
    scope: AmqpScope,
}

/// An [`AmqpBus`] on a fresh scope of the test RabbitMQ, with `delivery_limit`.
pub async fn test_bus(delivery_limit: u32) -> Arc<dyn Bus> {
    let scope = AmqpScope::new(&[]);
    let config = AmqpConfig::new(url(), scope.topology_with_limit(delivery_limit));
    let bus = AmqpBus::connect(config).await.unwrap_or_else(|e| panic!("rabbitmq at {}: {e}", url()));
    Arc::new(TestBus { bus: Some(bus), scope })
}

impl TestBus {
    fn bus(&self) -> &AmqpBus {
        self.bus.as_ref().expect("the bus is taken only when dropped")
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
        self.scope.add_segment(segment);
        self.bus().declare_segment(segment).await
    }
    async fn publish_task(&self, segment: &str, task: &Task) -> BusResult<()> {
        self.bus().publish_task(segment, task).await
    }
    async fn consume_tasks(&self, segment: &str, prefetch: u16) -> BusResult<DeliveryStream<Task>> {
        self.scope.add_segment(segment);
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
