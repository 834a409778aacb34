//! The in-process bus: `outpost up`'s default, with the same delivery semantics as
//! RabbitMQ quorum queues (at-least-once, prefetch, requeue on drop, delivery limit,
//! dead-lettering).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use outpost_proto::topology::DEFAULT_DELIVERY_LIMIT;
use outpost_proto::v1::{Control, Heartbeat, Task, WorkerEvent};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;

use crate::{Bus, BusError, BusResult, DeadTask, Delivery, DeliveryStream, Settle, Subscription};

/// A bus that lives inside one process.
#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

struct Inner {
    /// Returns beyond which a task is dead-lettered.
    delivery_limit: u32,
    /// One queue per declared segment.
    segments: Mutex<HashMap<String, Arc<Queue<Task>>>>,
    events: Arc<Queue<WorkerEvent>>,
    dead: Arc<Queue<DeadTask>>,
    control: broadcast::Sender<Control>,
    heartbeats: broadcast::Sender<Heartbeat>,
    /// Cancelled when the bus closes; ends every stream.
    closed: CancellationToken,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(DEFAULT_DELIVERY_LIMIT)
    }
}

impl InProcessBus {
    pub fn new(delivery_limit: u32) -> Self {
        let dead = Arc::new(Queue::new(None, u32::MAX));
        InProcessBus {
            inner: Arc::new(Inner {
                delivery_limit,
                segments: Mutex::new(HashMap::new()),
                events: Arc::new(Queue::new(None, u32::MAX)),
                dead,
                control: broadcast::channel(1024).0,
                heartbeats: broadcast::channel(1024).0,
                closed: CancellationToken::new(),
            }),
        }
    }

    fn check_open(&self) -> BusResult<()> {
        if self.inner.closed.is_cancelled() { Err(BusError::Closed) } else { Ok(()) }
    }

    fn segment(&self, segment: &str) -> Option<Arc<Queue<Task>>> {
        self.inner.segments.lock().expect("segments lock").get(segment).cloned()
    }
}

/// Something a queue can dead-letter into.
trait DeadLetter<T>: Send + Sync {
    fn dead_letter(&self, message: T, deliveries: u32);
}

impl DeadLetter<Task> for Queue<DeadTask> {
    fn dead_letter(&self, task: Task, deliveries: u32) {
        self.push(DeadTask { task, deliveries }, 0);
    }
}

struct Entry<T> {
    message: T,
    /// Deliveries so far.
    deliveries: u32,
}

struct QueueState<T> {
    ready: VecDeque<Entry<T>>,
}

struct Queue<T> {
    state: Mutex<QueueState<T>>,
    notify: Notify,
    dead_letter: Option<Arc<dyn DeadLetter<T>>>,
    /// Returns allowed before dead-lettering.
    limit: u32,
}

impl<T: Send + 'static> Queue<T> {
    fn new(dead_letter: Option<Arc<dyn DeadLetter<T>>>, limit: u32) -> Self {
        Queue { state: Mutex::new(QueueState { ready: VecDeque::new() }), notify: Notify::new(), dead_letter, limit }
    }

    fn push(&self, message: T, deliveries: u32) {
        self.state.lock().expect("queue lock").ready.push_back(Entry { message, deliveries });
        self.notify.notify_one();
    }

    /// Puts a returned message back at the head, or dead-letters it past the limit.
    fn give_back(&self, message: T, deliveries: u32) {
        if deliveries > self.limit
            && let Some(dlx) = &self.dead_letter
        {
            dlx.dead_letter(message, deliveries);
            return;
        }
        self.state.lock().expect("queue lock").ready.push_front(Entry { message, deliveries });
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<Entry<T>> {
        self.state.lock().expect("queue lock").ready.pop_front()
    }
}

/// The settle handle of an in-process delivery. Unsettled on drop means requeue.
struct MemorySettle<T: Send + 'static> {
    queue: Arc<Queue<T>>,
    entry: Option<Entry<T>>,
    _permit: OwnedSemaphorePermit,
}

#[async_trait::async_trait]
impl<T: Send + Sync + 'static> Settle for MemorySettle<T> {
    async fn ack(&mut self) -> BusResult<()> {
        self.entry.take();
        Ok(())
    }
    async fn requeue(&mut self) -> BusResult<()> {
        if let Some(entry) = self.entry.take() {
            self.queue.give_back(entry.message, entry.deliveries);
        }
        Ok(())
    }
}

impl<T: Send + 'static> Drop for MemorySettle<T> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.queue.give_back(entry.message, entry.deliveries);
        }
    }
}

fn consume<T: Clone + Send + Sync + 'static>(
    inner: Arc<Inner>,
    queue: Arc<Queue<T>>,
    prefetch: u16,
) -> DeliveryStream<T> {
    let permits = Arc::new(Semaphore::new(usize::from(prefetch.max(1))));
    let stream = futures::stream::unfold((inner, queue, permits), |(inner, queue, permits)| async move {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.ok()?,
            _ = inner.closed.cancelled() => return None,
        };
        loop {
            if inner.closed.is_cancelled() {
                return None;
            }
            let popped = {
                // Register for a wake-up before looking, so a push between the look and
                // the wait is not missed.
                let notified = queue.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                match queue.pop() {
                    Some(entry) => Some(entry),
                    None => {
                        tokio::select! {
                            _ = notified => {}
                            _ = inner.closed.cancelled() => return None,
                        }
                        None
                    }
                }
            };
            if let Some(mut entry) = popped {
                let previous = entry.deliveries;
                entry.deliveries += 1;
                let message = entry.message.clone();
                let settle = MemorySettle { queue: queue.clone(), entry: Some(entry), _permit: permit };
                let delivery = Delivery::new(message, previous, Box::new(settle));
                return Some((delivery, (inner, queue, permits)));
            }
        }
    });
    stream.boxed()
}

fn subscription<T: Clone + Send + 'static>(inner: &Inner, rx: broadcast::Receiver<T>) -> Subscription<T> {
    // A lagging subscriber skips what it missed: broadcasts are best effort.
    let closed = inner.closed.clone().cancelled_owned();
    BroadcastStream::new(rx).filter_map(|m| async move { m.ok() }).take_until(closed).boxed()
}

#[async_trait::async_trait]
impl Bus for InProcessBus {
    async fn declare_segment(&self, segment: &str) -> BusResult<()> {
        self.check_open()?;
        let dead: Arc<dyn DeadLetter<Task>> = self.inner.dead.clone();
        self.inner
            .segments
            .lock()
            .expect("segments lock")
            .entry(segment.to_string())
            .or_insert_with(|| Arc::new(Queue::new(Some(dead), self.inner.delivery_limit)));
        Ok(())
    }

    async fn publish_task(&self, segment: &str, task: &Task) -> BusResult<()> {
        self.check_open()?;
        let queue = self.segment(segment).ok_or_else(|| BusError::Unroutable(segment.to_string()))?;
        queue.push(task.clone(), 0);
        Ok(())
    }

    async fn consume_tasks(&self, segment: &str, prefetch: u16) -> BusResult<DeliveryStream<Task>> {
        self.check_open()?;
        self.declare_segment(segment).await?;
        let queue = self.segment(segment).ok_or_else(|| BusError::Unroutable(segment.to_string()))?;
        Ok(consume(self.inner.clone(), queue, prefetch))
    }

    async fn publish_event(&self, event: &WorkerEvent) -> BusResult<()> {
        self.check_open()?;
        self.inner.events.push(event.clone(), 0);
        Ok(())
    }

    async fn consume_events(&self, prefetch: u16) -> BusResult<DeliveryStream<WorkerEvent>> {
        self.check_open()?;
        Ok(consume(self.inner.clone(), self.inner.events.clone(), prefetch))
    }

    async fn consume_dead_tasks(&self) -> BusResult<DeliveryStream<DeadTask>> {
        self.check_open()?;
        Ok(consume(self.inner.clone(), self.inner.dead.clone(), 64))
    }

    async fn publish_control(&self, control: &Control) -> BusResult<()> {
        self.check_open()?;
        // No subscriber is not an error: there may be no worker yet.
        let _ = self.inner.control.send(control.clone());
        Ok(())
    }

    async fn subscribe_control(&self) -> BusResult<Subscription<Control>> {
        self.check_open()?;
        Ok(subscription(&self.inner, self.inner.control.subscribe()))
    }

    async fn publish_heartbeat(&self, heartbeat: &Heartbeat) -> BusResult<()> {
        self.check_open()?;
        let _ = self.inner.heartbeats.send(heartbeat.clone());
        Ok(())
    }

    async fn subscribe_heartbeats(&self) -> BusResult<Subscription<Heartbeat>> {
        self.check_open()?;
        Ok(subscription(&self.inner, self.inner.heartbeats.subscribe()))
    }

    fn is_connected(&self) -> bool {
        !self.inner.closed.is_cancelled()
    }

    async fn close(&self) {
        self.inner.closed.cancel();
    }
}
