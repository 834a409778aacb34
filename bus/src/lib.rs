//! Moving tasks and results between the broker and the workers.
//!
//! One trait, [`Bus`], with two implementations that pass the same contract tests
//! (`tests/contract.rs`):
//! - [`memory::InProcessBus`]: the embedded default of `outpost up`, no external service;
//! - [`amqp::AmqpBus`]: RabbitMQ (quorum queues, confirms, reconnection) for distributed runs.
//!
//! # Semantics every implementation keeps
//! - Tasks are routed to one queue per segment; publishing to a segment whose queue was
//!   never declared is [`BusError::Unroutable`], never silent.
//! - Every publish returns only once the bus has accepted the message (publisher
//!   confirms on AMQP).
//! - Tasks and worker events are delivered at least once. A [`Delivery`] must be settled:
//!   `ack` removes it, `requeue` hands it back, dropping it unsettled requeues it (as a
//!   closed AMQP channel does). A task returned more than the delivery limit is
//!   dead-lettered to the dead-task stream, never dropped.
//! - Control messages and heartbeats are broadcasts: best effort, no acknowledgement.
//!
//! # Layout
//! - [`memory`]: the in-process implementation.
//! - [`amqp`]: the RabbitMQ implementation (lapin): topology, confirmed publishing,
//!   consumer streams that survive reconnects, and the connection supervisor.
//! - [`retry`]: the one back-off every retry loop uses, here and in the broker and
//!   worker.

pub mod amqp;
pub mod memory;
pub mod retry;

use std::pin::Pin;

use futures::Stream;
use outpost_proto::v1::{Control, Heartbeat, Task, WorkerEvent};

pub use memory::InProcessBus;

/// Errors of bus operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The bus cannot be reached right now; the operation may be retried.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// No queue takes messages for this segment.
    #[error("no queue for segment '{0}': the task was returned unroutable")]
    Unroutable(String),
    /// The bus refused the message (negative publisher confirm).
    #[error("the bus refused the message: {0}")]
    Refused(String),
    /// An operation did not complete in time.
    #[error("bus operation timed out: {0}")]
    Timeout(String),
    /// A message on the bus could not be decoded.
    #[error("malformed message on the bus: {0}")]
    Decode(String),
    /// The bus was shut down.
    #[error("the bus is closed")]
    Closed,
}

pub type BusResult<T> = Result<T, BusError>;

/// A task that was dead-lettered after too many deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadTask {
    pub task: Task,
    /// How many times it was delivered before being given up on.
    pub deliveries: u32,
}

/// Settles a delivery; implemented by each bus.
#[async_trait::async_trait]
pub trait Settle: Send + Sync {
    async fn ack(&mut self) -> BusResult<()>;
    async fn requeue(&mut self) -> BusResult<()>;
}

/// A message taken from a queue, to be acknowledged once its effect is durable.
pub struct Delivery<T> {
    /// The decoded message.
    pub message: T,
    /// How many times this message was delivered before this delivery (0 the first time).
    pub previous_deliveries: u32,
    settle: Box<dyn Settle>,
}

impl<T> Delivery<T> {
    pub fn new(message: T, previous_deliveries: u32, settle: Box<dyn Settle>) -> Self {
        Delivery { message, previous_deliveries, settle }
    }

    /// Removes the message from its queue for good.
    pub async fn ack(mut self) -> BusResult<()> {
        self.settle.ack().await
    }

    /// Hands the message back to its queue; counts towards the delivery limit.
    pub async fn requeue(mut self) -> BusResult<()> {
        self.settle.requeue().await
    }

    /// Splits the message from its settle handle, to settle later.
    pub fn into_parts(self) -> (T, Acker) {
        (self.message, Acker(self.settle))
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Delivery<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("previous_deliveries", &self.previous_deliveries)
            .finish_non_exhaustive()
    }
}

/// The settle handle of a delivery whose message was taken out.
pub struct Acker(Box<dyn Settle>);

impl Acker {
    pub async fn ack(mut self) -> BusResult<()> {
        self.0.ack().await
    }
    pub async fn requeue(mut self) -> BusResult<()> {
        self.0.requeue().await
    }
}

/// Deliveries that must be settled. The stream ends only when the bus is closed; an
/// implementation that loses its connection resubscribes behind the stream.
pub type DeliveryStream<T> = Pin<Box<dyn Stream<Item = Delivery<T>> + Send>>;

/// Broadcast messages, no acknowledgement.
pub type Subscription<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// Moves tasks, results, control messages and heartbeats.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Declares (idempotently) the task queue of a segment, so tasks for it are kept until
    /// a worker of that segment takes them.
    async fn declare_segment(&self, segment: &str) -> BusResult<()>;

    /// Publishes a task to its segment's queue; returns once the bus has it.
    async fn publish_task(&self, segment: &str, task: &Task) -> BusResult<()>;

    /// Consumes the tasks of one segment with at most `prefetch` unsettled at once.
    async fn consume_tasks(&self, segment: &str, prefetch: u16) -> BusResult<DeliveryStream<Task>>;

    /// Publishes a result or progress message; returns once the bus has it.
    async fn publish_event(&self, event: &WorkerEvent) -> BusResult<()>;

    /// Consumes worker events (results and progress).
    async fn consume_events(&self, prefetch: u16) -> BusResult<DeliveryStream<WorkerEvent>>;

    /// Consumes tasks that were dead-lettered after too many deliveries.
    async fn consume_dead_tasks(&self) -> BusResult<DeliveryStream<DeadTask>>;

    /// Broadcasts a control message to every worker.
    async fn publish_control(&self, control: &Control) -> BusResult<()>;

    /// Receives control broadcasts from now on.
    async fn subscribe_control(&self) -> BusResult<Subscription<Control>>;

    /// Broadcasts a worker heartbeat.
    async fn publish_heartbeat(&self, heartbeat: &Heartbeat) -> BusResult<()>;

    /// Receives heartbeats from now on.
    async fn subscribe_heartbeats(&self) -> BusResult<Subscription<Heartbeat>>;

    /// Whether the bus is connected right now (for health reporting).
    fn is_connected(&self) -> bool;

    /// Stops every stream and refuses further operations.
    async fn close(&self);
}
