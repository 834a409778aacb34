//! Throughput of `AmqpBus` against raw lapin, in the same run, on a quorum queue, with
//! N 300-byte tasks: publishing alone (confirms awaited, up to 256 in flight), consuming
//! alone (prefetch 200, one ack per message), then both at once.
//!
//! `cargo bench -p outpost-bus --bench amqp_throughput [-- <tasks>]`; the RabbitMQ is
//! `OUTPOST_BENCH_AMQP_URL`, by default the local one.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, PublisherConfirm};
use outpost_bus::amqp::{AmqpBus, AmqpConfig};
use outpost_bus::{Bus, DeliveryStream};
use outpost_proto::topology::Topology;
use outpost_proto::v1::Task;
use prost::Message;

const IN_FLIGHT: usize = 256;
const PREFETCH: u16 = 200;
const TASK_BYTES: usize = 300;

/// Time taken by each phase.
struct Run {
    publish: Duration,
    consume: Duration,
    both: Duration,
}

fn main() {
    let url =
        std::env::var("OUTPOST_BENCH_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let tasks: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("bench-{}", &id[..12]);
        let raw = raw_lapin(&url, &prefix, tasks).await;
        let bus = through_the_bus(&url, &prefix, tasks).await;
        cleanup(&url, &prefix).await;
        println!(
            "{tasks} tasks of {TASK_BYTES} B, quorum queue, {IN_FLIGHT} confirms in flight \
             ({} publisher channels for the bus), prefetch {PREFETCH}, msg/s:",
            channels()
        );
        println!("{:>10}  {:>8}  {:>8}  {:>12}", "", "publish", "consume", "both at once");
        report("raw lapin", tasks, &raw);
        report("AmqpBus", tasks, &bus);
    });
}

/// `OUTPOST_BENCH_PUBLISH_CHANNELS` caps the bus's publishes in flight below 256.
fn channels() -> usize {
    std::env::var("OUTPOST_BENCH_PUBLISH_CHANNELS").ok().and_then(|c| c.parse().ok()).unwrap_or(IN_FLIGHT)
}

fn report(name: &str, tasks: u32, run: &Run) {
    let rate = |d: Duration| f64::from(tasks) / d.as_secs_f64();
    println!("{name:>10}  {:>8.0}  {:>8.0}  {:>12.0}", rate(run.publish), rate(run.consume), rate(run.both));
}

fn task(n: u32) -> Task {
    let mut task = Task {
        task_id: format!("1.{n}"),
        app_run_id: 1,
        parameter_index: n,
        action: "echo".into(),
        ..Default::default()
    };
    let padding = TASK_BYTES.saturating_sub(task.encoded_len() + 3);
    task.parameter_json = "x".repeat(padding);
    task
}

async fn through_the_bus(url: &str, prefix: &str, tasks: u32) -> Run {
    let mut config = AmqpConfig::new(url, Topology::with_prefix(prefix));
    // Each publish in flight has a channel of its own.
    config.publish_channels = channels();
    let bus = AmqpBus::connect(config).await.expect("connect");
    bus.declare_segment("bench").await.expect("declare");
    let payloads: Vec<Task> = (0..tasks).map(task).collect();
    let publish_all = || {
        futures::stream::iter(&payloads)
            .map(|task| {
                let bus = &bus;
                async move { bus.publish_task("bench", task).await.expect("publish") }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect::<()>()
    };
    async fn consume_all(mut stream: DeliveryStream<Task>, tasks: u32) -> DeliveryStream<Task> {
        for _ in 0..tasks {
            stream.next().await.expect("stream open").ack().await.expect("ack");
        }
        stream
    }

    let started = Instant::now();
    publish_all().await;
    let publish = started.elapsed();

    let stream = bus.consume_tasks("bench", PREFETCH).await.expect("consume");
    let started = Instant::now();
    let stream = consume_all(stream, tasks).await;
    let consume = started.elapsed();

    let started = Instant::now();
    let consumer = tokio::spawn(consume_all(stream, tasks));
    publish_all().await;
    drop(consumer.await.expect("consumer"));
    let both = started.elapsed();
    bus.close().await;
    Run { publish, consume, both }
}

async fn raw_lapin(url: &str, prefix: &str, tasks: u32) -> Run {
    let connection = Connection::connect(url, ConnectionProperties::default()).await.expect("connect");
    let queue = format!("{prefix}.raw");
    let publisher = connection.create_channel().await.expect("channel");
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    publisher.queue_declare(queue.clone().into(), durable, arguments).await.expect("declare");
    publisher.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    let payloads: Vec<Vec<u8>> = (0..tasks).map(|n| task(n).encode_to_vec()).collect();
    let publish_all = async |publisher: &Channel| {
        let mut confirms: FuturesUnordered<PublisherConfirm> = FuturesUnordered::new();
        for payload in &payloads {
            if confirms.len() >= IN_FLIGHT {
                assert!(confirms.next().await.expect("pending").expect("confirm").is_ack());
            }
            let properties = BasicProperties::default().with_delivery_mode(2);
            let confirm = publisher
                .basic_publish("".into(), queue.clone().into(), BasicPublishOptions::default(), payload, properties)
                .await
                .expect("publish");
            confirms.push(confirm);
        }
        while let Some(confirm) = confirms.next().await {
            assert!(confirm.expect("confirm").is_ack());
        }
    };
    async fn consume_all(mut consumer: Consumer, tasks: u32) -> Consumer {
        for _ in 0..tasks {
            let delivery = consumer.next().await.expect("consumer open").expect("delivery");
            delivery.acker.ack(Default::default()).await.expect("ack");
        }
        consumer
    }

    let started = Instant::now();
    publish_all(&publisher).await;
    let publish = started.elapsed();

    let consuming = connection.create_channel().await.expect("channel");
    consuming.basic_qos(PREFETCH, BasicQosOptions::default()).await.expect("qos");
    let consumer = consuming
        .basic_consume(queue.clone().into(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .expect("consume");
    let started = Instant::now();
    let consumer = consume_all(consumer, tasks).await;
    let consume = started.elapsed();

    let started = Instant::now();
    let consumer = tokio::spawn(consume_all(consumer, tasks));
    publish_all(&publisher).await;
    drop(consumer.await.expect("consumer"));
    let both = started.elapsed();

    // Not `expect`: lapin 4.12 may trip over the cancel-ok of the consumer dropped above
    // racing RabbitMQ's own cancel, and close the connection.
    let _ = publisher.queue_delete(queue.clone().into(), QueueDeleteOptions::default()).await;
    let _ = connection.close(200, "done".into()).await;
    Run { publish, consume, both }
}

async fn cleanup(url: &str, prefix: &str) {
    let topology = Topology::with_prefix(prefix);
    let connection = Connection::connect(url, ConnectionProperties::default()).await.expect("connect");
    let queues =
        [format!("{prefix}.raw"), topology.task_queue("bench"), topology.results_queue(), topology.dead_letter_queue()];
    for queue in queues {
        let channel = connection.create_channel().await.expect("channel");
        let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
    }
    for exchange in [
        topology.tasks_exchange(),
        topology.dead_letter_exchange(),
        topology.control_exchange(),
        topology.heartbeat_exchange(),
    ] {
        let channel = connection.create_channel().await.expect("channel");
        let _ = channel.exchange_delete(exchange.into(), ExchangeDeleteOptions::default()).await;
    }
    let _ = connection.close(200, "done".into()).await;
}
