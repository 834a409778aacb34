//! RabbitMQ outages and other failures, made without touching the machine's shared node:
//! the bus talks to RabbitMQ through a TCP proxy inside the test, which can sever every
//! connection and refuse new ones for a while; queues and exchanges are deleted under it;
//! garbage is published next to real tasks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use outpost_bus::amqp::{AmqpBus, AmqpConfig};
use outpost_bus::{Bus, BusError};
use outpost_proto::topology::Topology;
use outpost_proto::v1::Task;
use outpost_tests::amqp::{self, AmqpScope};
use outpost_tests::proxy::Proxy;

/// Tasks published through the outage.
const TASKS: u32 = 400;
/// How long RabbitMQ stays unreachable.
const OUTAGE: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(10);

fn task(n: u32) -> Task {
    Task { task_id: format!("1.{n}"), app_run_id: 1, parameter_index: n, action: "echo".into(), ..Default::default() }
}

async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_published_and_consumed_through_an_outage_are_all_delivered_and_streams_keep_working() {
    let scope = AmqpScope::new(&["main", "qos"]);
    let proxy = Proxy::start(&amqp::upstream());
    // Every outage returns the deliveries in flight, which counts towards the limit.
    let mut config = AmqpConfig::new(amqp::url_via(proxy.port), scope.topology_with_limit(20));
    config.reconnect_max_backoff = Duration::from_secs(1);
    config.confirm_timeout = Duration::from_secs(5);
    let bus = Arc::new(AmqpBus::connect(config).await.unwrap());
    let started = Instant::now();
    bus.declare_segment("main").await.unwrap();
    let tasks = bus.consume_tasks("main", 8).await.unwrap();
    let mut qos = bus.consume_tasks("qos", 2).await.unwrap();
    let mut dead = bus.consume_dead_tasks().await.unwrap();

    // Publishes like the broker's outbox: what fails is retried.
    let published = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU32::new(0));
    let publisher = tokio::spawn({
        let (bus, published, refused) = (bus.clone(), published.clone(), refused.clone());
        async move {
            let publish = |n: u32| {
                let (bus, published, refused) = (bus.clone(), published.clone(), refused.clone());
                async move {
                    loop {
                        match bus.publish_task("main", &task(n)).await {
                            Ok(()) => break,
                            Err(BusError::Unavailable(_) | BusError::Timeout(_)) => {
                                refused.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            Err(e) => panic!("publishing task {n}: {e}"),
                        }
                    }
                    published.fetch_add(1, Ordering::SeqCst);
                }
            };
            // A few in flight at a time, paced so the outage falls in the middle.
            futures::stream::iter(0..TASKS)
                .then(|n| async move {
                    tokio::time::sleep(Duration::from_millis(4)).await;
                    n
                })
                .map(publish)
                .buffer_unordered(8)
                .collect::<()>()
                .await;
        }
    });

    // Consumes like a worker, from the one stream taken before the outage.
    let received = Arc::new(AtomicU32::new(0));
    let restored = Arc::new(AtomicBool::new(false));
    let consumer = tokio::spawn({
        let (received, restored) = (received.clone(), restored.clone());
        async move {
            let mut tasks = tasks;
            let mut deliveries: BTreeMap<u32, u32> = BTreeMap::new();
            let mut acked = vec![false; TASKS as usize];
            let (mut failed_acks, mut after_restore) = (0u32, 0u32);
            while acked.iter().any(|a| !a) {
                let delivery = tokio::time::timeout(Duration::from_secs(30), tasks.next())
                    .await
                    .expect("deliveries keep coming")
                    .expect("the stream stays open");
                let n = delivery.message.parameter_index;
                *deliveries.entry(n).or_default() += 1;
                received.fetch_add(1, Ordering::SeqCst);
                if restored.load(Ordering::SeqCst) {
                    after_restore += 1;
                }
                // Slower than the publisher, so deliveries are in hand when the cut comes.
                tokio::time::sleep(Duration::from_millis(6)).await;
                match delivery.ack().await {
                    Ok(()) => acked[n as usize] = true,
                    // Taken before the outage: RabbitMQ delivers it again.
                    Err(_) => failed_acks += 1,
                }
            }
            (deliveries, failed_acks, after_restore)
        }
    });

    eventually("a third of the tasks published and a quarter consumed", || {
        published.load(Ordering::SeqCst) >= TASKS / 3 && received.load(Ordering::SeqCst) >= TASKS / 4
    })
    .await;
    proxy.cut();
    eventually("the bus to notice", || !bus.is_connected()).await;
    let cut_at = published.load(Ordering::SeqCst);
    tokio::time::sleep(OUTAGE).await;
    assert!(refused.load(Ordering::SeqCst) > 0, "publishes fail while rabbitmq is away");
    proxy.restore();
    restored.store(true, Ordering::SeqCst);
    eventually("the bus to reconnect", || bus.is_connected()).await;

    let (deliveries, failed_acks, after_restore) =
        tokio::time::timeout(Duration::from_secs(60), consumer).await.expect("every task acknowledged").unwrap();
    publisher.await.unwrap();
    let duplicates: u32 = deliveries.values().map(|d| d - 1).sum();
    eprintln!(
        "{TASKS} tasks: cut after {cut_at} published; {} publish attempts refused; {duplicates} duplicate deliveries; \
         {failed_acks} acks failed; {after_restore} deliveries after the restore; {} connections; {:?}",
        refused.load(Ordering::SeqCst),
        proxy.forwarded(),
        started.elapsed()
    );
    assert_eq!(deliveries.len(), TASKS as usize, "every task delivered");
    assert!(after_restore > 0, "the stream taken before the outage kept yielding after it");
    assert!(proxy.forwarded() >= 2, "the bus reconnected after the outage: {} connections", proxy.forwarded());
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), dead.next()).await {
        panic!("nothing is dead-lettered, got {:?}", d.message);
    }

    // The other stream taken before the outage still holds its prefetch of 2.
    for n in 0..3 {
        bus.publish_task("qos", &task(n)).await.unwrap();
    }
    let first = tokio::time::timeout(WAIT, qos.next()).await.unwrap().unwrap();
    let second = tokio::time::timeout(WAIT, qos.next()).await.unwrap().unwrap();
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(500), qos.next()).await {
        panic!("prefetch 2 exceeded after the reconnect: got {:?}", d.message);
    }
    first.ack().await.unwrap();
    let third = tokio::time::timeout(WAIT, qos.next()).await.unwrap().unwrap();
    second.ack().await.unwrap();
    third.ack().await.unwrap();

    bus.close().await;
    assert!(tokio::time::timeout(WAIT, qos.next()).await.unwrap().is_none(), "streams end on close");
}

#[tokio::test]
async fn connecting_to_an_unreachable_rabbitmq_fails_fast() {
    let port = outpost_tests::free_port();
    let config = AmqpConfig::new(format!("amqp://guest:guest@127.0.0.1:{port}/%2f"), Topology::with_prefix("unused"));
    let started = Instant::now();
    let err = AmqpBus::connect(config).await.unwrap_err();
    assert!(matches!(err, BusError::Unavailable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn tls_to_a_plain_port_fails_without_hanging() {
    // Both rustls providers are compiled in; the binaries install ring at start-up.
    outpost_tests::install_crypto();
    let url = format!("amqps://guest:guest@{}/%2f", amqp::upstream());
    let mut config = AmqpConfig::new(url, Topology::with_prefix("unused"));
    config.connect_timeout = Duration::from_secs(3);
    config.tls_ca_pem = Some(String::new());
    let started = Instant::now();
    let err = AmqpBus::connect(config).await.unwrap_err();
    assert!(matches!(err, BusError::Unavailable(_) | BusError::Timeout(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_bus_started_before_rabbitmq_is_reachable_connects_once_it_is() {
    let scope = AmqpScope::new(&["main"]);
    let proxy = Proxy::start(&amqp::upstream());
    proxy.cut();
    let mut config = AmqpConfig::new(amqp::url_via(proxy.port), scope.topology_with_limit(2));
    config.reconnect_max_backoff = Duration::from_millis(500);
    let bus = AmqpBus::start(config).expect("a valid url is enough to start");
    assert!(!bus.is_connected());
    // Declared while unreachable: remembered, and declared with the first session.
    assert!(matches!(bus.declare_segment("main").await, Err(BusError::Unavailable(_))));
    assert!(matches!(bus.consume_tasks("main", 1).await, Err(BusError::Unavailable(_))));
    // Several attempts fail meanwhile; none ends the bus.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!bus.is_connected());
    proxy.restore();
    tokio::time::timeout(WAIT, bus.wait_connected()).await.expect("connects once rabbitmq answers").unwrap();
    bus.publish_task("main", &task(7)).await.expect("the segment was declared with the first session");
    let mut tasks = bus.consume_tasks("main", 1).await.unwrap();
    let delivery = tokio::time::timeout(WAIT, tasks.next()).await.expect("a task").expect("stream open");
    assert_eq!(delivery.message, task(7));
    delivery.ack().await.unwrap();
    assert_eq!(proxy.forwarded(), 1, "the first connection is not a reconnect");
    bus.close().await;
    assert!(matches!(bus.wait_connected().await, Err(BusError::Closed)));
}

#[tokio::test]
async fn a_task_queue_declared_with_another_delivery_limit_is_used_as_it_is() {
    // The broker declared the queue with its limit (2); a worker configured with 7 must
    // still consume it instead of failing with 406 forever.
    let (broker, _saboteur, _scope) = bus_and_saboteur().await;
    broker.declare_segment("main").await.unwrap();
    let topology = Topology { prefix: broker.topology().prefix.clone(), delivery_limit: 7 };
    let worker = AmqpBus::connect(AmqpConfig::new(amqp::url(), topology)).await.unwrap();
    worker.declare_segment("main").await.expect("the existing queue is accepted");
    let mut tasks = worker.consume_tasks("main", 4).await.expect("the existing queue is consumed");
    broker.publish_task("main", &task(4)).await.unwrap();
    let delivery = tokio::time::timeout(WAIT, tasks.next()).await.expect("a task").expect("stream open");
    assert_eq!(delivery.message, task(4));
    delivery.ack().await.unwrap();
    worker.close().await;
    broker.close().await;
}

/// A bus on a fresh prefix straight to RabbitMQ, and a plain lapin channel to break things.
async fn bus_and_saboteur() -> (AmqpBus, lapin::Channel, AmqpScope) {
    let scope = AmqpScope::new(&["main"]);
    let bus = AmqpBus::connect(AmqpConfig::new(amqp::url(), scope.topology_with_limit(2))).await.unwrap();
    let connection = lapin::Connection::connect(&amqp::url(), Default::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    (bus, channel, scope)
}

/// Publishes as the broker's outbox does: an unroutable segment is declared, and what
/// fails is retried.
async fn publish_until_accepted(bus: &AmqpBus, segment: &str, task: &Task) {
    let deadline = Instant::now() + WAIT;
    loop {
        match bus.publish_task(segment, task).await {
            Ok(()) => return,
            Err(BusError::Unroutable(_)) => bus.declare_segment(segment).await.unwrap(),
            Err(e) => assert!(Instant::now() < deadline, "still failing: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_consumer_outlives_its_queue_being_deleted() {
    let (bus, saboteur, _scope) = bus_and_saboteur().await;
    let mut tasks = bus.consume_tasks("main", 4).await.unwrap();
    saboteur.queue_delete(bus.topology().task_queue("main").into(), Default::default()).await.unwrap();
    // RabbitMQ cancels the consumer; the stream's task declares the queue again. (Had
    // someone declared it again within a few milliseconds, RabbitMQ 3.10 would not cancel
    // the consumer but hand it the new queue's messages, which its channel then drops.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish_until_accepted(&bus, "main", &task(1)).await;
    let delivery = tokio::time::timeout(WAIT, tasks.next()).await.expect("a task").expect("stream open");
    assert_eq!(delivery.message, task(1));
    delivery.ack().await.unwrap();
    bus.close().await;
}

#[tokio::test]
async fn publishing_recovers_from_a_deleted_exchange() {
    let (bus, saboteur, _scope) = bus_and_saboteur().await;
    let mut tasks = bus.consume_tasks("main", 4).await.unwrap();
    saboteur.exchange_delete(bus.topology().tasks_exchange().into(), Default::default()).await.unwrap();
    let err = bus.publish_task("main", &task(2)).await.unwrap_err();
    assert!(matches!(err, BusError::Unavailable(_)), "{err}");
    // The exchange is back, its binding is not: the outbox declares the segment again.
    publish_until_accepted(&bus, "main", &task(2)).await;
    let delivery = tokio::time::timeout(WAIT, tasks.next()).await.expect("a task").expect("stream open");
    assert_eq!(delivery.message, task(2));
    delivery.ack().await.unwrap();
    bus.close().await;
}

#[tokio::test]
async fn undecodable_tasks_are_dead_lettered_and_never_yielded() {
    let (bus, saboteur, _scope) = bus_and_saboteur().await;
    let mut tasks = bus.consume_tasks("main", 4).await.unwrap();
    let exchange = bus.topology().tasks_exchange();
    let garbage = [0xff_u8, 0xff, 0xff, 0xff];
    saboteur
        .basic_publish(exchange.into(), "main".into(), Default::default(), &garbage, Default::default())
        .await
        .unwrap();
    bus.publish_task("main", &task(3)).await.unwrap();
    let delivery = tokio::time::timeout(WAIT, tasks.next()).await.expect("a task").expect("stream open");
    assert_eq!(delivery.message, task(3));
    delivery.ack().await.unwrap();
    // The garbage went to the dead-letter queue, rejected without requeue.
    let dead = bus.topology().dead_letter_queue();
    let deadline = Instant::now() + WAIT;
    let message = loop {
        if let Some(message) = saboteur.basic_get(dead.clone().into(), Default::default()).await.unwrap() {
            break message;
        }
        assert!(Instant::now() < deadline, "the garbage reaches the dead-letter queue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(message.delivery.data, garbage);
    bus.close().await;
}
