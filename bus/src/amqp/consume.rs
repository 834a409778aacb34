//! Consumer streams that outlive connections, the settle handle of an AMQP delivery,
//! and decoding.
//!
//! Each stream is fed by a task that owns one channel at a time: QoS, queue
//! declaration, `basic.consume`, then forwarding. When the channel or the connection
//! dies, the task waits for the supervisor's next session and does it all again, so the
//! stream handed out keeps yielding; it ends only when the bus closes.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Acker, Channel, Consumer};
use outpost_proto::topology::Topology;
use outpost_proto::v1::{Control, Heartbeat, Task, WorkerEvent};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::kind;
use super::session::{Session, Shared, declare_dead_queue, declare_results_queue};
use crate::retry::Backoff;
use crate::{BusError, BusResult, DeadTask, Delivery, DeliveryStream, Settle};

/// Longest wait when handing deliveries back after a stream was dropped.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a stream's messages come from.
pub(super) enum Source {
    /// A segment's task queue.
    Tasks(String),
    /// The results queue.
    Events,
    /// The dead-letter queue.
    Dead,
    /// A fresh exclusive queue bound to the control exchange.
    Control,
    /// A fresh exclusive queue bound to the heartbeat exchange.
    Heartbeats,
}

/// A subscription on one channel of one session.
struct Subscribed {
    channel: Channel,
    consumer: Consumer,
    queue: String,
}

/// Starts a stream: subscribes once now (so declaration errors reach the caller) and
/// hands the subscription to a task that keeps it alive across reconnects.
pub(super) async fn start<T: Decode>(
    shared: Arc<Shared>,
    source: Source,
    prefetch: u16,
) -> BusResult<DeliveryStream<T>> {
    let session = shared.current().ok_or_else(super::not_connected)?;
    let subscribed = subscribe(&shared, &session, &source, prefetch).await?;
    drop(session);
    // At most `prefetch` deliveries exist at once; buffering them all here lets the
    // reader take them without waking the forwarding task for each.
    let (tx, rx) = mpsc::channel(usize::from(prefetch.max(1)));
    tokio::spawn(run::<T>(shared, source, prefetch, subscribed, tx));
    Ok(ReceiverStream::new(rx).boxed())
}

async fn subscribe(shared: &Shared, session: &Session, source: &Source, prefetch: u16) -> BusResult<Subscribed> {
    let opened = async {
        let channel = session.channel().await?;
        let failed = |what: &str, e: lapin::Error| session.error(what, &e);
        // Per consumer, before it starts: RabbitMQ applies a QoS to consumers created
        // after it only.
        channel
            .basic_qos(prefetch.max(1), BasicQosOptions::default())
            .await
            .map_err(|e| failed("setting the prefetch", e))?;
        let topology = &shared.config.topology;
        let queue = match source {
            Source::Tasks(segment) => {
                // On channels of its own: a 406 there must not close this one.
                session.declare_task_queue(segment).await?;
                topology.task_queue(segment)
            }
            Source::Events => {
                declare_results_queue(&channel, topology)
                    .await
                    .map_err(|e| failed("declaring the results queue", e))?;
                topology.results_queue()
            }
            Source::Dead => {
                declare_dead_queue(&channel, topology)
                    .await
                    .map_err(|e| failed("declaring the dead-letter queue", e))?;
                topology.dead_letter_queue()
            }
            Source::Control => {
                let exchange = topology.control_exchange();
                broadcast_queue(&channel, &exchange, FieldTable::default())
                    .await
                    .map_err(|e| failed("subscribing", e))?
            }
            Source::Heartbeats => {
                let exchange = topology.heartbeat_exchange();
                let mut arguments = FieldTable::default();
                let ttl = shared.config.heartbeat_ttl.as_millis().min(i64::MAX as u128) as i64;
                arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
                broadcast_queue(&channel, &exchange, arguments).await.map_err(|e| failed("subscribing", e))?
            }
        };
        let consumer = channel
            .basic_consume(queue.clone().into(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .map_err(|e| failed("consuming", e))?;
        Ok(Subscribed { channel, consumer, queue })
    };
    match tokio::time::timeout(shared.config.confirm_timeout, opened).await {
        Ok(outcome) => outcome,
        Err(_) => Err(BusError::Timeout("subscribing to a queue".into())),
    }
}

/// A server-named queue that lives as long as this connection, bound to a fanout.
async fn broadcast_queue(channel: &Channel, exchange: &str, arguments: FieldTable) -> lapin::Result<String> {
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), options, arguments).await?;
    let name = queue.name().to_string();
    channel
        .queue_bind(name.clone().into(), exchange.into(), "".into(), QueueBindOptions::default(), FieldTable::default())
        .await?;
    Ok(name)
}

/// Why forwarding stopped.
enum Ended {
    /// The bus closed.
    Closed,
    /// Nobody reads the stream any more.
    Dropped,
    /// The channel or the connection died, or RabbitMQ cancelled the consumer.
    Lost(String),
}

/// Forwards deliveries, re-subscribing after every interruption, until the bus closes or
/// the stream is dropped.
async fn run<T: Decode>(
    shared: Arc<Shared>,
    source: Source,
    prefetch: u16,
    first: Subscribed,
    tx: mpsc::Sender<Delivery<T>>,
) {
    let mut subscribed = Some(first);
    let mut backoff = Backoff::new(shared.config.reconnect_min_backoff, shared.config.reconnect_max_backoff);
    loop {
        let current = match subscribed.take() {
            Some(current) => current,
            None => {
                let session = tokio::select! {
                    _ = tx.closed() => return,
                    session = async {
                        backoff.wait_unless(std::future::pending::<()>()).await;
                        shared.wait_session().await
                    } => match session {
                        Some(session) => session,
                        None => return,
                    },
                };
                match subscribe(&shared, &session, &source, prefetch).await {
                    Ok(current) => {
                        tracing::info!(queue = %current.queue, generation = session.generation, "consumer resubscribed");
                        backoff.reset();
                        current
                    }
                    Err(e) => {
                        let retry_in_ms = backoff.pause().as_millis() as u64;
                        tracing::warn!(error = %e, retry_in_ms, "resubscribing failed");
                        continue;
                    }
                }
            }
        };
        let queue = current.queue.clone();
        match forward(&shared, current, &tx).await {
            Ended::Closed | Ended::Dropped => return,
            Ended::Lost(reason) => {
                tracing::warn!(queue = %queue, reason = %reason, "consumer interrupted; resubscribing")
            }
        }
    }
}

async fn forward<T: Decode>(shared: &Shared, subscribed: Subscribed, tx: &mpsc::Sender<Delivery<T>>) -> Ended {
    let Subscribed { channel, mut consumer, queue } = subscribed;
    let settle_timeout = shared.config.confirm_timeout;
    // Made once, not per delivery: each registers a waiter.
    let closed = shared.closed.cancelled();
    let dropped = tx.closed();
    tokio::pin!(closed, dropped);
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut closed => return Ended::Closed,
            _ = &mut dropped => {
                hand_back(&channel, &mut consumer).await;
                return Ended::Dropped;
            }
            next = consumer.next() => next,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => return Ended::Lost(e.to_string()),
            None => return Ended::Lost("consumer cancelled".into()),
        };
        let mut settle =
            AmqpSettle { acker: Some(delivery.acker.clone()), channel: Some(channel.clone()), timeout: settle_timeout };
        let message = match T::decode(&delivery, &shared.config.topology) {
            Ok(message) => message,
            Err(e) => {
                // Never yielded: rejected without requeue, so a task queue dead-letters it.
                tracing::error!(queue = %queue, error = %e, "undecodable message rejected");
                let _ = settle.settle(Settlement::Reject).await;
                continue;
            }
        };
        let delivery = Delivery::new(message, previous_deliveries(&delivery), Box::new(settle));
        // The buffer holds `prefetch` deliveries, so it is full only if QoS is not in effect.
        let delivery = match tx.try_send(delivery) {
            Ok(()) => continue,
            Err(mpsc::error::TrySendError::Full(delivery)) => delivery,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                // The delivery came back with the error and was dropped: requeued.
                hand_back(&channel, &mut consumer).await;
                return Ended::Dropped;
            }
        };
        tokio::select! {
            _ = &mut closed => return Ended::Closed,
            sent = tx.send(delivery) => if sent.is_err() {
                hand_back(&channel, &mut consumer).await;
                return Ended::Dropped;
            },
        }
    }
}

/// Stops the consumer and requeues what RabbitMQ already pushed to it. The channel stays
/// open while deliveries handed out earlier are unsettled (their settle handles hold it),
/// so they can still be acknowledged.
async fn hand_back(channel: &Channel, consumer: &mut Consumer) {
    let cancel = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default());
    let _ = tokio::time::timeout(CANCEL_TIMEOUT, cancel).await;
    while let Ok(Some(Ok(delivery))) = tokio::time::timeout(CANCEL_TIMEOUT, consumer.next()).await {
        let _ = delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
    }
}

#[derive(Clone, Copy)]
enum Settlement {
    Ack,
    Requeue,
    Reject,
}

/// Settles one AMQP delivery. Dropped unsettled, it requeues the message (from a spawned
/// task); outside a runtime, or if that fails, the message returns when its channel
/// closes.
struct AmqpSettle {
    acker: Option<Acker>,
    /// Keeps the delivery's channel open until it is settled: closing it would requeue
    /// every delivery still being worked on.
    channel: Option<Channel>,
    timeout: Duration,
}

impl AmqpSettle {
    async fn settle(&mut self, how: Settlement) -> BusResult<()> {
        let Some(acker) = self.acker.take() else { return Ok(()) };
        let settled = tokio::time::timeout(self.timeout, async {
            match how {
                Settlement::Ack => acker.ack(Default::default()).await,
                Settlement::Requeue => acker.nack(BasicNackOptions { requeue: true, multiple: false }).await,
                Settlement::Reject => acker.reject(BasicRejectOptions { requeue: false }).await,
            }
        })
        .await;
        self.channel.take();
        match settled {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(BusError::Unavailable(
                "the delivery's channel closed before it was settled; rabbitmq redelivers it".into(),
            )),
            Ok(Err(e)) => Err(BusError::Unavailable(format!("settling a delivery: {e}"))),
            Err(_) => Err(BusError::Timeout("settling a delivery".into())),
        }
    }
}

#[async_trait::async_trait]
impl Settle for AmqpSettle {
    async fn ack(&mut self) -> BusResult<()> {
        self.settle(Settlement::Ack).await
    }
    async fn requeue(&mut self) -> BusResult<()> {
        self.settle(Settlement::Requeue).await
    }
}

impl Drop for AmqpSettle {
    fn drop(&mut self) {
        let Some(acker) = self.acker.take() else { return };
        if !acker.usable() {
            return;
        }
        let channel = self.channel.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
                drop(channel);
            });
        }
    }
}

/// Turns an AMQP delivery into a bus message.
pub(super) trait Decode: Sized + Send + 'static {
    fn decode(delivery: &AmqpDelivery, topology: &Topology) -> Result<Self, String>;
}

fn decode<M: Message + Default>(delivery: &AmqpDelivery, expected: &str) -> Result<M, String> {
    if let Some(kind) = delivery.properties.kind()
        && kind.as_str() != expected
    {
        return Err(format!("got a {kind} where a {expected} belongs"));
    }
    M::decode(delivery.data.as_slice()).map_err(|e| format!("{expected}: {e}"))
}

macro_rules! decode_as {
    ($($message:ty => $kind:expr),*) => {$(
        impl Decode for $message {
            fn decode(delivery: &AmqpDelivery, _: &Topology) -> Result<Self, String> {
                decode(delivery, $kind)
            }
        }
    )*};
}

decode_as!(Task => kind::TASK, WorkerEvent => kind::WORKER_EVENT, Control => kind::CONTROL, Heartbeat => kind::HEARTBEAT);

impl Decode for DeadTask {
    fn decode(delivery: &AmqpDelivery, topology: &Topology) -> Result<Self, String> {
        Ok(DeadTask { task: decode(delivery, kind::TASK)?, deliveries: dead_deliveries(delivery, topology) })
    }
}

/// Deliveries before this one: quorum queues count returns in `x-delivery-count`;
/// classic queues only say whether it was delivered before.
fn previous_deliveries(delivery: &AmqpDelivery) -> u32 {
    header_number(delivery, "x-delivery-count").map(clamp_u32).unwrap_or(u32::from(delivery.redelivered))
}

/// How many times a dead-lettered task was delivered before RabbitMQ gave up on it.
///
/// RabbitMQ 3.10 does not carry the source queue's `x-delivery-count` over to the
/// dead-letter queue; the latest `x-death` entry says why the task died instead. Past
/// the delivery limit it was delivered `limit + 1` times; rejected (undecodable), once.
fn dead_deliveries(delivery: &AmqpDelivery, topology: &Topology) -> u32 {
    let reason = latest_death_reason(delivery);
    match reason.as_deref() {
        Some("delivery_limit") => topology.delivery_limit.saturating_add(1),
        Some("rejected") => 1,
        Some(_) => 0,
        None => header_number(delivery, "x-delivery-count").map(clamp_u32).unwrap_or(0),
    }
}

fn latest_death_reason(delivery: &AmqpDelivery) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    let AMQPValue::FieldArray(deaths) = headers.inner().get("x-death")? else { return None };
    // RabbitMQ puts the most recent death first.
    let AMQPValue::FieldTable(latest) = deaths.as_slice().first()? else { return None };
    match latest.inner().get("reason")? {
        AMQPValue::LongString(reason) => Some(String::from_utf8_lossy(reason.as_bytes()).into_owned()),
        AMQPValue::ShortString(reason) => Some(reason.as_str().to_string()),
        _ => None,
    }
}

fn clamp_u32(n: i64) -> u32 {
    n.clamp(0, i64::from(u32::MAX)) as u32
}

fn header_number(delivery: &AmqpDelivery, name: &str) -> Option<i64> {
    number(delivery.properties.headers().as_ref()?.inner().get(name)?)
}

fn number(value: &AMQPValue) -> Option<i64> {
    Some(match value {
        AMQPValue::ShortShortInt(n) => i64::from(*n),
        AMQPValue::ShortShortUInt(n) => i64::from(*n),
        AMQPValue::ShortInt(n) => i64::from(*n),
        AMQPValue::ShortUInt(n) => i64::from(*n),
        AMQPValue::LongInt(n) => i64::from(*n),
        AMQPValue::LongUInt(n) => i64::from(*n),
        AMQPValue::LongLongInt(n) => *n,
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok()?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use lapin::BasicProperties;
    use lapin::types::{FieldArray, ShortString};

    use super::*;

    fn delivery(redelivered: bool, headers: FieldTable) -> AmqpDelivery {
        let mut delivery = AmqpDelivery::mock(1, "".into(), "q".into(), redelivered, vec![]);
        delivery.properties = BasicProperties::default().with_headers(headers);
        delivery
    }

    fn death(reason: &str) -> FieldTable {
        let mut entry = FieldTable::default();
        entry.insert("count".into(), AMQPValue::LongLongInt(1));
        entry.insert("reason".into(), AMQPValue::LongString(reason.into()));
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from("x-death"),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(entry)])),
        );
        headers
    }

    #[test]
    fn previous_deliveries_come_from_the_quorum_count_or_the_redelivered_flag() {
        let mut counted = FieldTable::default();
        counted.insert("x-delivery-count".into(), AMQPValue::LongLongInt(3));
        assert_eq!(previous_deliveries(&delivery(true, counted)), 3);
        assert_eq!(previous_deliveries(&delivery(true, FieldTable::default())), 1);
        assert_eq!(previous_deliveries(&delivery(false, FieldTable::default())), 0);
    }

    #[test]
    fn a_task_dead_past_the_limit_was_delivered_limit_plus_one_times() {
        let topology = Topology { prefix: "t".into(), delivery_limit: 4 };
        assert_eq!(dead_deliveries(&delivery(false, death("delivery_limit")), &topology), 5);
        assert_eq!(dead_deliveries(&delivery(false, death("rejected")), &topology), 1);
        assert_eq!(dead_deliveries(&delivery(false, death("expired")), &topology), 0);
    }

    #[test]
    fn a_message_of_another_type_is_not_decoded() {
        let task = Task { task_id: "1.0".into(), ..Default::default() };
        let mut delivery = AmqpDelivery::mock(1, "".into(), "q".into(), false, task.encode_to_vec());
        delivery.properties = BasicProperties::default().with_type(kind::HEARTBEAT.into());
        assert!(<Task as Decode>::decode(&delivery, &Topology::default()).is_err());
        delivery.properties = BasicProperties::default().with_type(kind::TASK.into());
        assert_eq!(<Task as Decode>::decode(&delivery, &Topology::default()).unwrap(), task);
    }
}
