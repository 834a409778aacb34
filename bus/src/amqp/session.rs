//! One connection to RabbitMQ with what hangs off it (a [`Session`]), the topology it
//! declares, and the supervisor that replaces it when it dies.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind, Event, ExchangeKind};
use outpost_proto::topology::Topology;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::{AmqpConfig, Outgoing};
use crate::retry::Backoff;
use crate::{BusError, BusResult};

/// How often the supervisor double-checks the connection state, in case lapin did not
/// report an error event.
const STATUS_CHECK: Duration = Duration::from_secs(1);
/// Longest wait for RabbitMQ to acknowledge a connection close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What every part of the bus shares: configuration, the current session, what to
/// re-declare after a reconnect.
pub(super) struct Shared {
    pub config: AmqpConfig,
    uri: AMQPUri,
    /// `host:port vhost 'name'`, without credentials, for logs.
    pub endpoint: String,
    /// The live session, or `None` while reconnecting.
    session: watch::Sender<Option<Arc<Session>>>,
    /// Segments declared through this bus, re-declared on every new session.
    segments: Mutex<BTreeSet<String>>,
    /// Cancelled by `close()`: ends every stream and the supervisor.
    pub closed: CancellationToken,
    /// Sessions opened so far.
    generation: AtomicU64,
}

impl Shared {
    /// Opens the first session and starts the supervisor; fails if RabbitMQ cannot be
    /// reached now.
    pub async fn connect(config: AmqpConfig, uri: AMQPUri) -> BusResult<Arc<Shared>> {
        let shared = Arc::new(Shared::new(config, uri));
        let opened = shared.open_session().await?;
        shared.publish_session(&opened.0, false);
        tokio::spawn(supervise(shared.clone(), Some(opened)));
        Ok(shared)
    }

    /// Starts the supervisor without waiting: it connects in the background, retrying
    /// with the reconnect back-off (and logging each failure) until RabbitMQ answers.
    pub fn start(config: AmqpConfig, uri: AMQPUri) -> Arc<Shared> {
        let shared = Arc::new(Shared::new(config, uri));
        tokio::spawn(supervise(shared.clone(), None));
        shared
    }

    /// Makes a new session the live one.
    fn publish_session(&self, session: &Arc<Session>, reconnected: bool) {
        self.session.send_replace(Some(session.clone()));
        if reconnected {
            tracing::info!(endpoint = %self.endpoint, generation = session.generation, "reconnected to rabbitmq");
        } else {
            tracing::info!(endpoint = %self.endpoint, prefix = %self.config.topology.prefix, "connected to rabbitmq");
        }
    }

    fn new(config: AmqpConfig, uri: AMQPUri) -> Shared {
        let endpoint = format!("{}:{} vhost '{}'", uri.authority.host, uri.authority.port, uri.vhost);
        Shared {
            config,
            uri,
            endpoint,
            session: watch::Sender::new(None),
            segments: Mutex::new(BTreeSet::new()),
            closed: CancellationToken::new(),
            generation: AtomicU64::new(0),
        }
    }

    /// The live session, if any.
    pub fn current(&self) -> Option<Arc<Session>> {
        self.session.borrow().as_ref().filter(|s| s.is_alive()).cloned()
    }

    /// Waits for a live session; `None` once the bus is closed.
    pub async fn wait_session(&self) -> Option<Arc<Session>> {
        let mut sessions = self.session.subscribe();
        loop {
            if self.closed.is_cancelled() {
                return None;
            }
            if let Some(session) = sessions.borrow_and_update().as_ref().filter(|s| s.is_alive()) {
                return Some(session.clone());
            }
            tokio::select! {
                _ = self.closed.cancelled() => return None,
                changed = sessions.changed() => changed.ok()?,
                // The supervisor notices a dead connection within a second; look again.
                _ = tokio::time::sleep(STATUS_CHECK) => {}
            }
        }
    }

    pub fn remember_segment(&self, segment: &str) {
        self.segments.lock().expect("segments lock").insert(segment.to_string());
    }

    fn segments(&self) -> Vec<String> {
        self.segments.lock().expect("segments lock").iter().cloned().collect()
    }

    pub async fn close(&self) {
        self.closed.cancel();
        if let Some(session) = self.session.send_replace(None) {
            session.lost.cancel();
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "bus closed".into())).await;
        }
    }

    /// Connects, declares the topology (with every known segment) and readies publishing,
    /// all within the connect timeout.
    async fn open_session(&self) -> BusResult<(Arc<Session>, BoxStream<'static, Event>)> {
        let open = async {
            let properties =
                ConnectionProperties::default().with_connection_name(self.config.connection_name.clone().into());
            let unreachable = |e: lapin::Error| {
                BusError::Unavailable(format!("cannot connect to rabbitmq at {}: {e}", self.endpoint))
            };
            let tls = OwnedTLSConfig { identity: None, cert_chain: self.config.tls_ca_pem.clone() };
            let runtime = lapin::runtime::default_runtime().map_err(unreachable)?;
            let connection = Connection::connect_uri_with_config(self.uri.clone(), properties, tls, runtime)
                .await
                .map_err(unreachable)?;
            // Listen before anything can fail, so no error event is missed.
            let events = connection.events_listener().boxed();
            let session = Session {
                generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
                connection,
                topology: self.config.topology.clone(),
                publishers: Mutex::new(Vec::new()),
                publish_slots: Semaphore::new(self.config.publish_channels.max(1)),
                lost: CancellationToken::new(),
            };
            session.declare_topology(&self.segments()).await?;
            Ok((Arc::new(session), events))
        };
        match tokio::time::timeout(self.config.connect_timeout, open).await {
            Ok(outcome) => outcome,
            Err(_) => Err(BusError::Timeout(format!("connecting to rabbitmq at {}", self.endpoint))),
        }
    }
}

/// A connection that just opened, with its event listener.
type Opened = (Arc<Session>, BoxStream<'static, Event>);

/// Publishes each session and watches it; when it dies (or before the first one, when
/// started without a connection), connects again with exponential back-off until the
/// bus is closed.
async fn supervise(shared: Arc<Shared>, first: Option<Opened>) {
    // A first session was published by `connect` already.
    let mut connected_before = first.is_some();
    let mut current = first;
    loop {
        let (session, events) = match current.take() {
            Some(opened) => opened,
            None => {
                let Some((session, events)) = reconnect(&shared, connected_before).await else { return };
                if shared.closed.is_cancelled() {
                    let _ =
                        tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "bus closed".into())).await;
                    return;
                }
                shared.publish_session(&session, connected_before);
                connected_before = true;
                (session, events)
            }
        };
        let Some(reason) = watch_session(&shared, &session, events).await else { return };
        session.lost.cancel();
        shared.session.send_replace(None);
        tracing::warn!(endpoint = %shared.endpoint, reason = %reason, "lost the rabbitmq connection; reconnecting");
    }
}

/// Waits until the session dies and answers why; `None` once the bus is closed (the
/// connection then closed politely).
async fn watch_session(shared: &Shared, session: &Session, mut events: BoxStream<'static, Event>) -> Option<String> {
    let mut status = tokio::time::interval(STATUS_CHECK);
    loop {
        tokio::select! {
            biased;
            _ = shared.closed.cancelled() => {
                // Closed, or every handle dropped: leave RabbitMQ politely.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "bus closed".into())).await;
                return None;
            }
            _ = session.lost.cancelled() => return Some("an operation found the connection dead".to_string()),
            event = events.next() => match event {
                // lapin also reports channels RabbitMQ closed (a 404, a 406) here; their
                // owners open new ones, the connection is fine.
                Some(Event::Error(e)) if session.connection.status().connected() => {
                    tracing::debug!(error = %e, "rabbitmq closed a channel");
                }
                Some(Event::Error(e)) => return Some(e.to_string()),
                Some(_) => {}
                None => return Some("connection events ended".to_string()),
            },
            _ = status.tick() => if !session.connection.status().connected() {
                return Some("connection no longer open".to_string());
            },
        }
    }
}

/// Opens a session, retrying with jittered exponential back-off and logging each
/// failure; `None` once the bus is closed. Before the first session ever, the first
/// attempt is made at once.
async fn reconnect(shared: &Shared, connected_before: bool) -> Option<Opened> {
    let (min, max) = (shared.config.reconnect_min_backoff, shared.config.reconnect_max_backoff);
    // Jittered, so a fleet of workers does not reconnect in lockstep.
    let mut backoff = Backoff::new(min, max).jittered();
    if connected_before && !backoff.wait(&shared.closed).await {
        return None;
    }
    loop {
        match shared.open_session().await {
            Ok(opened) => return Some(opened),
            Err(e) => {
                let retry_in_ms = backoff.pause().as_millis() as u64;
                if connected_before {
                    tracing::warn!(endpoint = %shared.endpoint, error = %e, retry_in_ms, "reconnecting to rabbitmq failed");
                } else {
                    tracing::warn!(endpoint = %shared.endpoint, error = %e, retry_in_ms, "rabbitmq not reachable yet; retrying");
                }
                if !backoff.wait(&shared.closed).await {
                    return None;
                }
            }
        }
    }
}

/// The outcome of a confirmed publish.
pub(super) enum Published {
    /// RabbitMQ routed and stored the message.
    Confirmed,
    /// A mandatory message no queue took; RabbitMQ returned it.
    Returned,
}

/// One connection and the channels that publish on it.
pub(super) struct Session {
    /// 1 for the first connection, +1 per reconnect.
    pub generation: u64,
    pub connection: Connection,
    topology: Topology,
    /// Idle confirm-mode channels. Each carries one publish at a time: lapin hands a
    /// mandatory publish's return to whichever confirm it completes next, and assigns
    /// confirm tags outside the lock that orders frames, so sharing a channel between
    /// concurrent publishes can pair a message with another one's confirm or return.
    publishers: Mutex<Vec<Channel>>,
    /// Bounds publishes in flight, hence publisher channels.
    publish_slots: Semaphore,
    /// Cancelled when this connection is known dead; the supervisor then replaces it.
    lost: CancellationToken,
}

impl Session {
    pub fn is_alive(&self) -> bool {
        !self.lost.is_cancelled() && self.connection.status().connected()
    }

    /// Tells the supervisor if an error means the connection itself is gone.
    pub fn note_error(&self, error: &lapin::Error) {
        if !self.connection.status().connected() {
            tracing::debug!(error = %error, "operation failed on a dead connection");
            self.lost.cancel();
        }
    }

    /// Maps a lapin error to a bus error, noting a dead connection on the way.
    pub fn error(&self, what: &str, error: &lapin::Error) -> BusError {
        self.note_error(error);
        bus_error(what, error)
    }

    pub async fn channel(&self) -> BusResult<Channel> {
        self.connection.create_channel().await.map_err(|e| self.error("opening a channel", &e))
    }

    /// Publishes one message on an idle publisher channel and waits for its confirm.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        mandatory: bool,
        message: &Outgoing<'_>,
    ) -> BusResult<Published> {
        let _slot = self.publish_slots.acquire().await.map_err(|_| super::not_connected())?;
        let idle = self.publishers.lock().expect("publishers lock").pop();
        let channel = match idle {
            Some(channel) => channel,
            None => self.open_publisher().await?,
        };
        let mut properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/x-protobuf".into())
            .with_type(message.kind.into());
        if let Some(id) = message.id {
            properties = properties.with_message_id(id.into());
        }
        let options = BasicPublishOptions { mandatory, immediate: false };
        let confirmed = async {
            channel
                .basic_publish(exchange.into(), routing_key.into(), options, &message.payload, properties)
                .await?
                .await
        };
        // If this future is dropped (confirm timeout), the channel is dropped with it,
        // never reused with a confirm outstanding.
        let outcome = match confirmed.await {
            Ok(Confirmation::Ack(None)) => Ok(Published::Confirmed),
            Ok(Confirmation::Ack(Some(returned))) => {
                tracing::debug!(exchange, routing_key, reply = %returned.reply_text, "message returned");
                Ok(Published::Returned)
            }
            Ok(Confirmation::Nack(_)) => Err(BusError::Refused("rabbitmq nacked the message".into())),
            Ok(Confirmation::NotRequested) => {
                return Err(BusError::Refused("publisher confirms are off on this channel".into()));
            }
            Err(e) => {
                let error = self.error("publishing", &e);
                if is_not_found(&e) && self.is_alive() {
                    // An exchange was deleted under us (the channel is gone with it):
                    // declare the topology again so the caller's retry goes through.
                    tracing::warn!(exchange, error = %error, "exchange missing; declaring the topology again");
                    self.declare_topology(&[]).await?;
                    return Err(BusError::Unavailable(format!("{error}; declared again, retry")));
                }
                return Err(error);
            }
        };
        if channel.status().connected() {
            self.publishers.lock().expect("publishers lock").push(channel);
        }
        outcome
    }

    async fn open_publisher(&self) -> BusResult<Channel> {
        let channel = self.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.error("enabling publisher confirms", &e))?;
        Ok(channel)
    }

    /// Declares the exchanges, the results and dead-letter queues, and the given segments.
    pub async fn declare_topology(&self, segments: &[String]) -> BusResult<()> {
        let channel = self.channel().await?;
        declare_base(&channel, &self.topology).await.map_err(|e| self.error("declaring the topology", &e))?;
        drop(channel);
        for segment in segments {
            // One segment RabbitMQ refuses (e.g. no permission) must not keep every
            // other one, and the bus, down.
            if let Err(error) = self.declare_task_queue(segment).await {
                if !self.is_alive() {
                    return Err(error);
                }
                tracing::error!(segment = %segment, error = %error, "segment not re-declared");
            }
        }
        Ok(())
    }

    /// Declares a segment's task queue (see [`task_queue_arguments`]) and binds it.
    ///
    /// A queue that exists with other arguments (typically a worker whose
    /// `--delivery-limit` differs from the broker's) makes RabbitMQ answer 406 and close
    /// the channel. The queue is then used as it is, through a passive declaration on a
    /// fresh channel, and an error names the argument that differs: refusing it would
    /// leave the worker retrying forever, and the first declaration (usually the
    /// broker's) is the one in force anyway.
    pub async fn declare_task_queue(&self, segment: &str) -> BusResult<()> {
        let queue = self.topology.task_queue(segment);
        let mut channel = self.channel().await?;
        let declared =
            channel.queue_declare(queue.clone().into(), durable(), task_queue_arguments(&self.topology)).await;
        if let Err(e) = declared {
            let Some(reply) = precondition_failed(&e) else { return Err(self.error("declaring a segment", &e)) };
            tracing::error!(
                queue = %queue,
                argument = inequivalent_argument(&reply).unwrap_or("unknown"),
                delivery_limit = self.topology.delivery_limit,
                rabbitmq = %reply,
                "task queue exists with a different argument; using it as it is (align the setting with the broker's)"
            );
            channel = self.channel().await?;
            let passive = QueueDeclareOptions { passive: true, ..Default::default() };
            channel
                .queue_declare(queue.clone().into(), passive, FieldTable::default())
                .await
                .map_err(|e| self.error("declaring a segment", &e))?;
        }
        let exchange = self.topology.tasks_exchange();
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                segment.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| self.error("binding a segment", &e))
    }
}

/// RabbitMQ's reply text when it refused a declaration as inequivalent (406).
fn precondition_failed(error: &lapin::Error) -> Option<String> {
    match error.kind() {
        ErrorKind::ProtocolError(amqp) if amqp.get_id() == 406 => Some(amqp.get_message().to_string()),
        _ => None,
    }
}

/// The argument a 406 names: RabbitMQ says `inequivalent arg 'x-delivery-limit' for
/// queue '...' in vhost '...': received ... but current is ...`.
fn inequivalent_argument(reply: &str) -> Option<&str> {
    let rest = &reply[reply.find("inequivalent arg '")? + "inequivalent arg '".len()..];
    rest.find('\'').map(|end| &rest[..end])
}

/// Maps a lapin error: RabbitMQ refusing an operation (403 access refused, 404 not
/// found, 405 locked, 406 precondition failed) is `Refused`; anything else is a
/// transport problem worth retrying.
pub(super) fn bus_error(what: &str, error: &lapin::Error) -> BusError {
    match error.kind() {
        ErrorKind::ProtocolError(amqp) if matches!(amqp.get_id(), 403..=406) => {
            BusError::Refused(format!("{what}: {}", amqp.get_message()))
        }
        _ => BusError::Unavailable(format!("{what}: {error}")),
    }
}

fn is_not_found(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(amqp) if amqp.get_id() == 404)
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions { durable: true, ..Default::default() }
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), text("quorum"));
    arguments
}

/// A segment's task queue: quorum, a delivery limit, and at-least-once dead-lettering.
///
/// RabbitMQ 3.10 quorum queues support `x-dead-letter-strategy: at-least-once`, which
/// keeps a dead-lettered message in the source queue until the dead-letter queue has
/// confirmed it (the default, at-most-once, can lose it on a leader change). It requires
/// `x-overflow: reject-publish`; with no length limit that never rejects anything.
pub(super) fn task_queue_arguments(topology: &Topology) -> FieldTable {
    let mut arguments = quorum();
    arguments.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(i64::from(topology.delivery_limit)));
    arguments.insert("x-dead-letter-exchange".into(), text(&topology.dead_letter_exchange()));
    arguments.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    arguments.insert("x-overflow".into(), text("reject-publish"));
    arguments
}

async fn declare_base(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
    let exchange = ExchangeDeclareOptions { durable: true, ..Default::default() };
    let exchanges = [
        (topology.tasks_exchange(), ExchangeKind::Direct),
        (topology.dead_letter_exchange(), ExchangeKind::Fanout),
        (topology.control_exchange(), ExchangeKind::Fanout),
        (topology.heartbeat_exchange(), ExchangeKind::Fanout),
    ];
    for (name, kind) in exchanges {
        channel.exchange_declare(name.into(), kind, exchange, FieldTable::default()).await?;
    }
    declare_results_queue(channel, topology).await?;
    declare_dead_queue(channel, topology).await
}

pub(super) async fn declare_results_queue(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
    channel.queue_declare(topology.results_queue().into(), durable(), quorum()).await.map(|_| ())
}

pub(super) async fn declare_dead_queue(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
    let queue = topology.dead_letter_queue();
    channel.queue_declare(queue.clone().into(), durable(), quorum()).await?;
    let exchange = topology.dead_letter_exchange();
    channel
        .queue_bind(queue.into(), exchange.into(), "".into(), QueueBindOptions::default(), FieldTable::default())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_406_names_the_argument_that_differs() {
        let reply = "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'outpost.tasks.dmz' in \
                     vhost '/': received the value '3' of type 'signedint' but current is the value '5' of type \
                     'signedint'";
        assert_eq!(inequivalent_argument(reply), Some("x-delivery-limit"));
        assert_eq!(inequivalent_argument("PRECONDITION_FAILED - something else"), None);
        assert_eq!(inequivalent_argument("inequivalent arg 'unterminated"), None);
    }
}
