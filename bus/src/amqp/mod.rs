//! The RabbitMQ bus (lapin 4): quorum queues, publisher confirms, manual acks,
//! dead-lettering, and a supervisor that survives RabbitMQ outages.
//!
//! # Topology (names from [`Topology`])
//! - `<p>.tasks`: durable direct exchange; `<p>.tasks.<segment>` quorum queues bound with
//!   the segment as routing key, with a delivery limit and at-least-once dead-lettering
//!   into `<p>.dlx` (fanout), which feeds the quorum queue `<p>.dead`;
//! - `<p>.results`: quorum queue of worker events, published through the default exchange;
//! - `<p>.control` and `<p>.heartbeats`: fanout exchanges; every subscription gets its own
//!   exclusive, auto-delete, server-named queue (heartbeat queues expire messages).
//!
//! A task queue that exists with other arguments (a worker whose `--delivery-limit`
//! differs from the broker's) is used as it is, with an error naming the argument,
//! rather than refused: see `Session::declare_task_queue`.
//!
//! # Reconnection
//! One connection at a time (a session); a supervisor task watches it and, when it
//! dies, reconnects with exponential back-off, re-declares the topology (including every
//! segment declared through this bus) and publishes the new session. [`AmqpBus::connect`]
//! needs RabbitMQ now; [`AmqpBus::start`] makes the first connection the same way as a
//! reconnection, in the background, for processes that start before RabbitMQ does. lapin's own
//! auto-recovery is off: each consumer stream is fed by its own task that re-opens its
//! channel, re-applies QoS, re-declares its queue and re-consumes on every new session,
//! so the stream handed out by `consume_*`/`subscribe_*` keeps yielding across outages
//! and ends only on [`Bus::close`].
//!
//! During an outage publishes fail fast with [`BusError::Unavailable`] (callers retry);
//! a publish caught by the outage before its confirm also answers `Unavailable`, and may
//! or may not have been stored (at-least-once). Deliveries taken before the outage can no
//! longer be settled (`ack` answers `Unavailable`); RabbitMQ redelivers them.
//!
//! `consume_*` and `subscribe_*` declare their queue and subscribe before they return,
//! so they answer `Unavailable` while disconnected (callers retry). Broadcasts sent while
//! a subscriber is disconnected are lost to it (its exclusive queue dies with the
//! connection). Every delivery in flight when a connection dies is returned by RabbitMQ,
//! which counts towards the delivery limit.
//!
//! # Settling
//! `ack` is `basic.ack`, `requeue` is `basic.nack` with requeue (on a quorum queue it
//! counts towards the delivery limit). A delivery dropped unsettled is nacked with
//! requeue from a spawned task. Each delivery holds a handle on its channel, so dropping
//! a stream cancels its consumer and requeues what was prefetched but not taken, while
//! deliveries already taken stay settleable until they are settled. Undecodable messages
//! are logged and rejected without requeue, never yielded: a task queue dead-letters them,
//! the results and dead-letter queues drop them.
//!
//! # Known RabbitMQ 3.10 trap
//! A quorum queue deleted while consumed and declared again within milliseconds (as the
//! broker's outbox does when a task comes back unroutable) keeps its consumers without
//! cancelling them, and their channels drop what it delivers. Remove a segment's queue
//! only once its workers are stopped.

mod consume;
mod session;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use lapin::uri::AMQPUri;
use outpost_proto::topology::{Topology, valid_segment};
use outpost_proto::v1::{Control, Heartbeat, Task, WorkerEvent};
use prost::Message;

use crate::{Bus, BusError, BusResult, DeadTask, DeliveryStream, Subscription};
use consume::Source;
use session::{Published, Shared};

/// How to reach RabbitMQ and how patient to be with it.
#[derive(Clone)]
pub struct AmqpConfig {
    /// `amqp://user:pass@host:5672/vhost`, or `amqps://` for TLS (rustls); the vhost is
    /// percent-encoded (`%2f` is `/`).
    pub url: String,
    /// Names of every exchange and queue, and the tasks' delivery limit.
    pub topology: Topology,
    /// Longest wait for one connection attempt, TLS, AMQP handshake and topology
    /// declaration included; lapin has a history of rare hangs there.
    pub connect_timeout: Duration,
    /// Longest wait for a publish to be confirmed, a delivery to be settled, or a
    /// declaration to be answered.
    pub confirm_timeout: Duration,
    /// First delay before reconnecting after the connection died.
    pub reconnect_min_backoff: Duration,
    /// The back-off doubles up to this, so an outage costs at most this much extra delay.
    pub reconnect_max_backoff: Duration,
    /// AMQP heartbeat negotiated with RabbitMQ (unless the URL sets `heartbeat=`): how
    /// fast a silently dead peer is noticed (about twice this).
    pub amqp_heartbeat: Duration,
    /// Publishes awaiting their confirm at once. Each has a channel of its own (opened on
    /// demand, then reused), so a mandatory publish's return is never mistaken for
    /// another's; callers beyond this wait for a free channel.
    pub publish_channels: usize,
    /// Time a heartbeat may wait in a subscriber's queue before RabbitMQ drops it, so a
    /// slow subscriber does not pile them up.
    pub heartbeat_ttl: Duration,
    /// Shown in RabbitMQ's connection list.
    pub connection_name: String,
    /// PEM certificates to trust for `amqps://` besides the platform's roots, for a
    /// RabbitMQ whose certificate comes from a private CA.
    pub tls_ca_pem: Option<String>,
}

impl AmqpConfig {
    /// Defaults that suit one laptop as well as a cluster.
    pub fn new(url: impl Into<String>, topology: Topology) -> Self {
        AmqpConfig {
            url: url.into(),
            topology,
            connect_timeout: Duration::from_secs(10),
            confirm_timeout: Duration::from_secs(10),
            reconnect_min_backoff: Duration::from_millis(100),
            reconnect_max_backoff: Duration::from_secs(5),
            amqp_heartbeat: Duration::from_secs(10),
            publish_channels: 128,
            heartbeat_ttl: Duration::from_secs(10),
            connection_name: "outpost".into(),
            tls_ca_pem: None,
        }
    }
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the password.
        let url = match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => format!("{}***{}", &self.url[..scheme + 3], &self.url[at..]),
            _ => self.url.clone(),
        };
        f.debug_struct("AmqpConfig")
            .field("url", &url)
            .field("topology", &self.topology)
            .field("connect_timeout", &self.connect_timeout)
            .field("confirm_timeout", &self.confirm_timeout)
            .field("reconnect_min_backoff", &self.reconnect_min_backoff)
            .field("reconnect_max_backoff", &self.reconnect_max_backoff)
            .field("amqp_heartbeat", &self.amqp_heartbeat)
            .field("publish_channels", &self.publish_channels)
            .field("heartbeat_ttl", &self.heartbeat_ttl)
            .field("connection_name", &self.connection_name)
            .field("tls_ca_pem", &self.tls_ca_pem.as_ref().map(|_| "..."))
            .finish()
    }
}

/// Prefetch of the dead-task stream.
const DEAD_PREFETCH: u16 = 64;
/// Prefetch of control and heartbeat subscriptions.
const BROADCAST_PREFETCH: u16 = 64;

/// The bus on RabbitMQ. Cloning shares the connection; the bus shuts down on
/// [`Bus::close`], or once every clone and every stream it handed out is dropped.
#[derive(Clone)]
pub struct AmqpBus {
    owner: Arc<Owner>,
}

/// Closes the bus when the last handle or stream goes away, so background tasks stop.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.closed.cancel();
    }
}

impl std::fmt::Debug for AmqpBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpBus")
            .field("endpoint", &self.shared().endpoint)
            .field("prefix", &self.shared().config.topology.prefix)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl AmqpBus {
    /// Connects and declares the topology. Fails if RabbitMQ cannot be reached now or
    /// refuses the topology; once connected, the bus reconnects by itself.
    pub async fn connect(config: AmqpConfig) -> BusResult<AmqpBus> {
        let uri = parse_url(&config)?;
        let shared = Shared::connect(config, uri).await?;
        Ok(AmqpBus { owner: Arc::new(Owner { shared }) })
    }

    /// Answers at once and connects in the background, retrying with the reconnect
    /// back-off and logging each failure until RabbitMQ answers, for processes that may
    /// start before RabbitMQ is reachable (Kubernetes, systemd). Until then every
    /// operation answers [`BusError::Unavailable`], as during an outage; see
    /// [`AmqpBus::wait_connected`]. Fails only on an invalid URL.
    pub fn start(config: AmqpConfig) -> BusResult<AmqpBus> {
        let uri = parse_url(&config)?;
        let shared = Shared::start(config, uri);
        Ok(AmqpBus { owner: Arc::new(Owner { shared }) })
    }

    /// Waits until the bus is connected; [`BusError::Closed`] if it is closed first.
    pub async fn wait_connected(&self) -> BusResult<()> {
        self.shared().wait_session().await.map(|_| ()).ok_or(BusError::Closed)
    }

    /// The names this bus declares and uses.
    pub fn topology(&self) -> &Topology {
        &self.shared().config.topology
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }

    fn check_open(&self) -> BusResult<()> {
        if self.shared().closed.is_cancelled() { Err(BusError::Closed) } else { Ok(()) }
    }

    /// Publishes with a confirm, within the confirm timeout.
    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        mandatory: bool,
        message: Outgoing<'_>,
    ) -> BusResult<Published> {
        self.check_open()?;
        let shared = self.shared();
        let session = shared.current().ok_or_else(not_connected)?;
        let published = session.publish(exchange, routing_key, mandatory, &message);
        match tokio::time::timeout(shared.config.confirm_timeout, published).await {
            Ok(outcome) => outcome,
            Err(_) => {
                Err(BusError::Timeout(format!("no publisher confirm within {:?}", shared.config.confirm_timeout)))
            }
        }
    }

    /// Ends the stream on close, and keeps the bus open while the stream is in use.
    fn guard<T: Send + 'static>(
        &self,
        stream: Pin<Box<dyn Stream<Item = T> + Send>>,
    ) -> Pin<Box<dyn Stream<Item = T> + Send>> {
        let closed = self.shared().closed.clone().cancelled_owned();
        KeepAlive { inner: stream.take_until(closed).boxed(), _owner: self.owner.clone() }.boxed()
    }

    async fn subscribe<T: consume::Decode>(&self, source: Source) -> BusResult<Subscription<T>> {
        self.check_open()?;
        let deliveries = consume::start::<T>(self.shared().clone(), source, BROADCAST_PREFETCH).await?;
        // Broadcasts are best effort: taken off the queue as soon as they are handed over.
        let messages = deliveries.then(|delivery| async move {
            let (message, acker) = delivery.into_parts();
            let _ = acker.ack().await;
            message
        });
        Ok(self.guard(messages.boxed()))
    }
}

/// A message ready to publish.
pub(crate) struct Outgoing<'a> {
    /// The `type` property: the protobuf message's full name.
    kind: &'static str,
    /// The `message-id` property, when the message has a natural one.
    id: Option<&'a str>,
    payload: Vec<u8>,
}

impl<'a> Outgoing<'a> {
    fn new<M: Message>(kind: &'static str, id: Option<&'a str>, message: &M) -> Self {
        Outgoing { kind, id, payload: message.encode_to_vec() }
    }
}

/// Protobuf full names, sent as the `type` property and checked on receipt.
pub(crate) mod kind {
    pub const TASK: &str = "outpost.v1.Task";
    pub const WORKER_EVENT: &str = "outpost.v1.WorkerEvent";
    pub const CONTROL: &str = "outpost.v1.Control";
    pub const HEARTBEAT: &str = "outpost.v1.Heartbeat";
}

fn not_connected() -> BusError {
    BusError::Unavailable("not connected to rabbitmq; reconnecting".into())
}

fn check_segment(segment: &str) -> BusResult<()> {
    if valid_segment(segment) { Ok(()) } else { Err(BusError::Refused(format!("invalid segment name '{segment}'"))) }
}

fn parse_url(config: &AmqpConfig) -> BusResult<AMQPUri> {
    // The URL carries credentials: never echo it back.
    let mut uri: AMQPUri =
        config.url.parse().map_err(|e| BusError::Unavailable(format!("invalid rabbitmq url: {e}")))?;
    if uri.query.heartbeat.is_none() {
        uri.query.heartbeat = Some(config.amqp_heartbeat.as_secs().clamp(1, u64::from(u16::MAX)) as u16);
    }
    Ok(uri)
}

/// Keeps the bus alive while a stream it handed out is in use.
struct KeepAlive<S> {
    inner: S,
    _owner: Arc<Owner>,
}

impl<S: Stream + Unpin> Stream for KeepAlive<S> {
    type Item = S::Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

#[async_trait::async_trait]
impl Bus for AmqpBus {
    async fn declare_segment(&self, segment: &str) -> BusResult<()> {
        self.check_open()?;
        check_segment(segment)?;
        let shared = self.shared();
        let Some(session) = shared.current() else {
            // Declared with the topology as soon as a session opens.
            shared.remember_segment(segment);
            return Err(not_connected());
        };
        match tokio::time::timeout(shared.config.confirm_timeout, session.declare_task_queue(segment)).await {
            Ok(Ok(())) => {
                shared.remember_segment(segment);
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BusError::Timeout(format!("declaring segment '{segment}'"))),
        }
    }

    async fn publish_task(&self, segment: &str, task: &Task) -> BusResult<()> {
        let exchange = self.topology().tasks_exchange();
        let message = Outgoing::new(kind::TASK, Some(&task.task_id), task);
        match self.publish(&exchange, segment, true, message).await? {
            Published::Confirmed => Ok(()),
            Published::Returned => Err(BusError::Unroutable(segment.to_string())),
        }
    }

    async fn consume_tasks(&self, segment: &str, prefetch: u16) -> BusResult<DeliveryStream<Task>> {
        self.check_open()?;
        check_segment(segment)?;
        let source = Source::Tasks(segment.to_string());
        let stream = consume::start::<Task>(self.shared().clone(), source, prefetch).await?;
        self.shared().remember_segment(segment);
        Ok(self.guard(stream))
    }

    async fn publish_event(&self, event: &WorkerEvent) -> BusResult<()> {
        let queue = self.topology().results_queue();
        let message = || Outgoing::new(kind::WORKER_EVENT, None, event);
        // Through the default exchange, mandatory: a deleted results queue must not eat
        // results silently. Re-declare it once and retry.
        if let Published::Confirmed = self.publish("", &queue, true, message()).await? {
            return Ok(());
        }
        tracing::warn!(queue = %queue, "results queue missing; declaring the topology again");
        let shared = self.shared();
        let session = shared.current().ok_or_else(not_connected)?;
        match tokio::time::timeout(shared.config.confirm_timeout, session.declare_topology(&[])).await {
            Ok(declared) => declared?,
            Err(_) => return Err(BusError::Timeout("declaring the topology again".into())),
        }
        match self.publish("", &queue, true, message()).await? {
            Published::Confirmed => Ok(()),
            Published::Returned => Err(BusError::Unroutable(queue)),
        }
    }

    async fn consume_events(&self, prefetch: u16) -> BusResult<DeliveryStream<WorkerEvent>> {
        self.check_open()?;
        let stream = consume::start::<WorkerEvent>(self.shared().clone(), Source::Events, prefetch).await?;
        Ok(self.guard(stream))
    }

    async fn consume_dead_tasks(&self) -> BusResult<DeliveryStream<DeadTask>> {
        self.check_open()?;
        let stream = consume::start::<DeadTask>(self.shared().clone(), Source::Dead, DEAD_PREFETCH).await?;
        Ok(self.guard(stream))
    }

    async fn publish_control(&self, control: &Control) -> BusResult<()> {
        let exchange = self.topology().control_exchange();
        // No subscriber is not an error (there may be no worker yet): not mandatory.
        self.publish(&exchange, "", false, Outgoing::new(kind::CONTROL, None, control)).await.map(|_| ())
    }

    async fn subscribe_control(&self) -> BusResult<Subscription<Control>> {
        self.subscribe(Source::Control).await
    }

    async fn publish_heartbeat(&self, heartbeat: &Heartbeat) -> BusResult<()> {
        let exchange = self.topology().heartbeat_exchange();
        self.publish(&exchange, "", false, Outgoing::new(kind::HEARTBEAT, None, heartbeat)).await.map(|_| ())
    }

    async fn subscribe_heartbeats(&self) -> BusResult<Subscription<Heartbeat>> {
        self.subscribe(Source::Heartbeats).await
    }

    fn is_connected(&self) -> bool {
        !self.shared().closed.is_cancelled() && self.shared().current().is_some()
    }

    async fn close(&self) {
        self.shared().close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_the_password() {
        let config = AmqpConfig::new("amqps://outpost:s3cret@rabbit.example:5671/prod", Topology::default());
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("amqps://***@rabbit.example:5671/prod"), "{shown}");
    }

    #[test]
    fn the_url_gets_a_heartbeat_unless_it_names_one() {
        let config = AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f", Topology::default());
        assert_eq!(parse_url(&config).unwrap().query.heartbeat, Some(10));
        let config = AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=30", Topology::default());
        assert_eq!(parse_url(&config).unwrap().query.heartbeat, Some(30));
        assert!(parse_url(&AmqpConfig::new("not a url", Topology::default())).is_err());
    }
}
