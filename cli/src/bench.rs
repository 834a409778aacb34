//! `outpost bench`: what one action costs, against baselines measured in the same run.
//!
//! 1. The sandbox alone: compiling each connector in the apps folder once, loading its
//!    precompiled artifact (what a restarted worker does), and per parameter set a fresh
//!    store + instance + call of `qa` `echo`, against spawning a process per action
//!    (`/bin/true`, the floor of any process-per-action design).
//! 2. End to end, `N` parameter sets of `qa` `echo` through the real broker, store and
//!    workers: first on the in-process bus (SQLite), then on RabbitMQ.
//! 3. Raw RabbitMQ on the same node: confirmed publish + consume + ack of 300-byte
//!    persistent messages on a quorum queue. One parameter set costs Outpost two messages
//!    (a task and a result), so half this rate is the ceiling for step 2 on RabbitMQ.
//!
//! Figures are printed, never asserted: a noisy machine must not fail a build.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use outpost_broker::BrokerConfig;
use outpost_broker::access::audit::Actor;
use outpost_broker::catalog::assets::AssetInput;
use outpost_broker::catalog::containers::ContainerInput;
use outpost_broker::runs::dispatch::{RunAction, Target};
use outpost_bus::amqp::{AmqpBus, AmqpConfig};
use outpost_bus::{Bus, InProcessBus};
use outpost_proto::topology::Topology;
use outpost_worker::WorkerConfig;
use outpost_worker::app_cache::GrpcAppSource;
use outpost_worker::sandbox::{Context as RunContext, Invocation, Limits, Sandbox, SandboxConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Parameter sets per end-to-end run.
    #[arg(long, default_value_t = 2000)]
    pub params: usize,
    /// Sandbox iterations for the per-action figures.
    #[arg(long, default_value_t = 2000)]
    pub iterations: usize,
    /// Local workers in the end-to-end runs.
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Parameter sets each worker runs at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: u32,
    /// RabbitMQ for the AMQP runs; a unique name prefix keeps them apart, and their
    /// queues are deleted afterwards.
    #[arg(long, env = "OUTPOST_AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub amqp_url: String,
    /// Skip everything that needs RabbitMQ.
    #[arg(long)]
    pub no_amqp: bool,
    /// Folder of the sample bundles (`qa.tgz`, `qa.wasm`).
    #[arg(long, env = "OUTPOST_APPS_DIR", default_value = "apps/dist")]
    pub apps_dir: PathBuf,
}

/// One printed row.
struct Row {
    what: String,
    figure: String,
    note: String,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let qa = args.apps_dir.join("qa.wasm");
    if !qa.exists() {
        bail!("{} not found; build the apps with `bash apps/build.sh`", qa.display());
    }
    let mut rows = vec![];
    println!(
        "outpost bench {} — {} params per run, {} workers x {}",
        outpost_proto::VERSION,
        args.params,
        args.workers,
        args.concurrency
    );

    rows.extend(compile_costs(&args.apps_dir).await?);
    let (instance, call) = sandbox_costs(&std::fs::read(&qa)?, args.iterations).await?;
    let spawn = spawn_costs(args.iterations.min(500))?;
    let python = args.apps_dir.join("urlscan.wasm");
    if python.exists() {
        let iterations = args.iterations.min(300);
        let (instantiate, call) = sandbox_costs_of(&std::fs::read(&python)?, python_invocation, iterations).await?;
        rows.push(Row {
            what: "sandbox: fresh store + instantiate, Python".into(),
            figure: format!("{:.1} µs median", instantiate.0),
            note: format!("p99 {:.1} µs; urlscan (componentize-py, 18 MiB)", instantiate.1),
        });
        rows.push(Row {
            what: "sandbox: instantiate + call, Python".into(),
            figure: format!("{:.1} µs median", call.0),
            note: format!("p99 {:.1} µs; urlscan get report, refused id (no HTTP)", call.1),
        });
    }
    rows.push(Row {
        what: "sandbox: fresh store + instantiate".into(),
        figure: format!("{:.1} µs median", instance.0),
        note: format!("p99 {:.1} µs", instance.1),
    });
    rows.push(Row {
        what: "sandbox: instantiate + call qa echo".into(),
        figure: format!("{:.1} µs median", call.0),
        note: format!("p99 {:.1} µs", call.1),
    });
    rows.push(Row {
        what: "baseline: spawn /bin/true per action".into(),
        figure: format!("{:.1} µs median", spawn.0),
        note: format!("p99 {:.1} µs; sandbox call is {:.0}x cheaper", spawn.1, spawn.0 / call.0.max(0.001)),
    });

    let embedded = end_to_end(&args, Arc::new(InProcessBus::default())).await?;
    rows.push(Row {
        what: "end to end, in-process bus + SQLite".into(),
        figure: format!("{:.0} params/s", embedded),
        note: String::new(),
    });

    if !args.no_amqp {
        let prefix = format!("bench{}", uuid_like());
        let topology = Topology::with_prefix(&prefix);
        let bus = AmqpBus::connect(AmqpConfig::new(args.amqp_url.clone(), topology.clone()))
            .await
            .context("connecting to RabbitMQ")?;
        let bus: Arc<dyn Bus> = Arc::new(bus);
        let amqp = end_to_end(&args, bus.clone()).await;
        bus.close().await;
        let raw = raw_rabbitmq(&args.amqp_url, &format!("{prefix}.raw"), args.params.max(5000)).await;
        cleanup(&args.amqp_url, &topology, &format!("{prefix}.raw")).await;
        let (amqp, raw) = (amqp?, raw?);
        rows.push(Row {
            what: "end to end, RabbitMQ + SQLite".into(),
            figure: format!("{amqp:.0} params/s"),
            note: format!("{:.0}% of the 2-message ceiling", 100.0 * amqp / (raw / 2.0)),
        });
        rows.push(Row {
            what: "baseline: raw RabbitMQ confirmed publish+consume".into(),
            figure: format!("{raw:.0} msgs/s"),
            note: "quorum queue, 300 B, 256 in flight".into(),
        });
    }
    rows.push(Row { what: "peak resident memory of this process".into(), figure: peak_rss(), note: String::new() });

    println!();
    println!("{:<48} {:>20}  note", "measure", "figure");
    for row in rows {
        println!("{:<48} {:>20}  {}", row.what, row.figure, row.note);
    }
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// (median, p99) in microseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| micros(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    (at(0.5), at(0.99))
}

fn echo_invocation() -> Invocation {
    Invocation {
        action: "echo".into(),
        identifier: "echo".into(),
        parameter_json: r#"{"value":"bench","context":{"guid":"g","artifact_id":0,"parent_action_run":[]}}"#.into(),
        asset_config_json: "{}".into(),
        asset_id: 1,
        asset_name: "bench".into(),
        container_id: 1,
        action_run_id: 1,
        app_run_id: 1,
        context: RunContext { guid: "g".into(), ..RunContext::default() },
        limits: Limits::default(),
        egress: vec![],
        state_json: "{}".into(),
        progress: None,
        cancel: CancellationToken::new(),
        task_id: "1.0".into(),
    }
}

/// A Python connector's call that needs no network: urlscan's `get report` refuses an
/// id that is not a UUID (a `failed` result from the connector's own code).
fn python_invocation() -> Invocation {
    Invocation {
        action: "get report".into(),
        identifier: "get_report".into(),
        parameter_json: r#"{"id":"bench","context":{"guid":"g","artifact_id":0,"parent_action_run":[]}}"#.into(),
        asset_config_json: r#"{"base_url":"https://urlscan.io"}"#.into(),
        ..echo_invocation()
    }
}

/// (instantiate only, instantiate + call) as (median, p99) µs.
async fn sandbox_costs(wasm: &[u8], iterations: usize) -> anyhow::Result<((f64, f64), (f64, f64))> {
    sandbox_costs_of(wasm, echo_invocation, iterations).await
}

/// [`sandbox_costs`] for any connector and call; a call that ends with the sandbox's
/// exception (not the connector's own result) stops the bench.
async fn sandbox_costs_of(
    wasm: &[u8],
    invocation: fn() -> Invocation,
    iterations: usize,
) -> anyhow::Result<((f64, f64), (f64, f64))> {
    let cache = tempfile_dir("sandbox")?;
    let sandbox = Sandbox::new(SandboxConfig { concurrency: 4, cache_dir: cache, ..SandboxConfig::default() })?;
    let digest = outpost_worker::app_cache::sha256_hex(wasm);
    let app = sandbox.prepare(&digest, wasm).await?;
    // Warm up the pool's slots and the allocator before measuring.
    for _ in 0..100 {
        sandbox.instantiate(&app).await?;
        sandbox.run(&app, invocation()).await;
    }
    let bar = progress(iterations as u64 * 2, "sandbox");
    let mut instantiate = Vec::with_capacity(iterations);
    let mut call = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        sandbox.instantiate(&app).await?;
        instantiate.push(started.elapsed());
        bar.inc(1);
    }
    for _ in 0..iterations {
        let started = Instant::now();
        let outcome = sandbox.run(&app, invocation()).await;
        call.push(started.elapsed());
        if outcome.exception {
            bail!("the bench's call failed in the sandbox: {}", outcome.message);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((percentiles(instantiate), percentiles(call)))
}

/// Per connector: a cold compile, then loading the precompiled artifact in a second
/// sandbox on the same cache, as a restarted worker does. Creating each sandbox (engine,
/// pooling allocator, linker, epoch ticker) is timed apart from both and reported as one
/// more row, since a worker pays it once, not per app.
async fn compile_costs(apps_dir: &std::path::Path) -> anyhow::Result<Vec<Row>> {
    let mut apps: Vec<PathBuf> = std::fs::read_dir(apps_dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    apps.sort();
    let mut rows = vec![];
    let mut setups = vec![];
    let mut timed_sandbox = |config: SandboxConfig| -> anyhow::Result<Sandbox> {
        let started = Instant::now();
        let sandbox = Sandbox::new(config)?;
        setups.push(started.elapsed());
        Ok(sandbox)
    };
    for path in apps {
        let wasm = std::fs::read(&path)?;
        let digest = outpost_worker::app_cache::sha256_hex(&wasm);
        let cache = tempfile_dir("compile")?;
        let config = SandboxConfig { concurrency: 1, cache_dir: cache.clone(), ..SandboxConfig::default() };
        let cold = timed_sandbox(config.clone())?;
        let started = Instant::now();
        cold.prepare(&digest, &wasm).await?;
        let compile = started.elapsed();
        drop(cold);
        let restarted = timed_sandbox(config)?;
        let started = Instant::now();
        restarted.prepare(&digest, &wasm).await?;
        let load = started.elapsed();
        let _ = std::fs::remove_dir_all(&cache);
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        rows.push(Row {
            what: format!("compile {name} ({} KiB)", wasm.len() / 1024),
            figure: format!("{:.0} ms", compile.as_secs_f64() * 1e3),
            note: format!("precompiled load {:.1} ms", load.as_secs_f64() * 1e3),
        });
    }
    if !setups.is_empty() {
        let count = setups.len();
        let (median, _) = percentiles(setups.clone());
        let slowest = setups.iter().max().copied().unwrap_or_default();
        rows.insert(
            0,
            Row {
                what: "sandbox set-up: engine, pool, linker, ticker".into(),
                figure: format!("{:.1} ms median", median / 1e3),
                note: format!(
                    "slowest {:.1} ms of {count}; once per worker, not in compile times",
                    slowest.as_secs_f64() * 1e3
                ),
            },
        );
    }
    Ok(rows)
}

fn spawn_costs(iterations: usize) -> anyhow::Result<(f64, f64)> {
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let status = std::process::Command::new("/bin/true").status().context("spawning /bin/true")?;
        samples.push(started.elapsed());
        if !status.success() {
            bail!("/bin/true failed");
        }
    }
    Ok(percentiles(samples))
}

/// Parameter sets per second through broker, store, bus and workers.
async fn end_to_end(args: &BenchArgs, bus: Arc<dyn Bus>) -> anyhow::Result<f64> {
    let shutdown = CancellationToken::new();
    let data_dir = tempfile_dir("e2e")?;
    let mut config = BrokerConfig::new(&data_dir);
    config.rest_addr = "127.0.0.1:0".parse()?;
    config.grpc_addr = "127.0.0.1:0".parse()?;
    config.admin_password = Some(outpost_broker::access::auth::new_token());
    config.bundles = vec![args.apps_dir.join("qa.tgz")];
    let running = outpost_broker::start(config, bus.clone(), shutdown.clone()).await?;
    let broker = running.broker.clone();
    let grpc = format!("http://{}", running.grpc_addr);
    let mut workers = vec![];
    for i in 0..args.workers.max(1) {
        let mut worker = WorkerConfig::new(data_dir.join(format!("w{i}")), broker.bus_key.clone());
        worker.concurrency = args.concurrency.max(1);
        let source = Arc::new(GrpcAppSource::new(grpc.clone(), broker.bus_key.derive_token("outpost-worker")));
        workers.push(outpost_worker::start(worker, bus.clone(), source, shutdown.clone()).await?);
    }
    let app = broker.store.find_app("98ef88a4-33f3-41d9-9581-f88b0f15d7cf").await?.context("qa installed")?;
    let bench = Actor::system();
    let asset = broker
        .create_asset(
            &bench,
            AssetInput { name: Some("bench".into()), app: Some(app.id.to_string()), ..Default::default() },
        )
        .await?;
    let container = broker
        .create_container(
            &bench,
            ContainerInput { name: Some("bench".into()), status: Some("new".into()), ..Default::default() },
        )
        .await?;
    let run = |n: usize| RunAction {
        action: "echo".into(),
        container_id: container.id,
        name: "bench".into(),
        targets: vec![Target {
            app_id: app.id.to_string(),
            assets: vec![asset.id.to_string()],
            parameters: (0..n).map(|i| json!({"index": i}).as_object().cloned().unwrap_or_default()).collect(),
        }],
        ..Default::default()
    };
    // Warm-up: compile the component and fill the workers' caches.
    let warm = broker.run_action(&bench, run(args.workers as usize * 4)).await?;
    wait_done(&broker, warm, None).await?;

    let bar = progress(args.params as u64, "end to end");
    let started = Instant::now();
    let id = broker.run_action(&bench, run(args.params)).await?;
    wait_done(&broker, id, Some(&bar)).await?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let ok = broker.store.get_action_run(id).await?.context("run")?;
    if ok.status.as_str() != "success" {
        bail!("bench run ended {}: {}", ok.status, ok.message);
    }
    shutdown.cancel();
    for w in workers {
        w.wait().await;
    }
    running.wait().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(args.params as f64 / elapsed.as_secs_f64())
}

async fn wait_done(broker: &outpost_broker::Broker, id: i64, bar: Option<&ProgressBar>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let run = broker.store.get_action_run(id).await?.context("run")?;
        if run.status.is_final() {
            return Ok(());
        }
        if let Some(bar) = bar {
            let recorded = recorded(broker, id).await.unwrap_or(0);
            bar.set_position(recorded);
        }
        if Instant::now() > deadline {
            bail!("bench run {id} did not finish within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn recorded(broker: &outpost_broker::Broker, id: i64) -> anyhow::Result<u64> {
    Ok(broker.store.recorded_results(id).await?)
}

/// Confirmed publish + consume + ack through lapin alone, on a quorum queue.
async fn raw_rabbitmq(url: &str, queue: &str, n: usize) -> anyhow::Result<f64> {
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
        QueueDeclareOptions,
    };
    use lapin::types::{AMQPValue, FieldTable};
    let connection = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await?;
    let publish = connection.create_channel().await?;
    publish.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    publish.queue_declare(queue.into(), QueueDeclareOptions { durable: true, ..Default::default() }, arguments).await?;
    let consume = connection.create_channel().await?;
    consume.basic_qos(200, BasicQosOptions::default()).await?;
    let mut consumer = consume
        .basic_consume(queue.into(), "bench".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;
    let payload = vec![b'x'; 300];
    let bar = progress(n as u64, "raw RabbitMQ");
    let started = Instant::now();
    let consumed = tokio::spawn(async move {
        let mut count = 0usize;
        while count < n {
            match consumer.next().await {
                Some(Ok(delivery)) => {
                    delivery.ack(BasicAckOptions::default()).await?;
                    count += 1;
                }
                Some(Err(e)) => return Err(anyhow::Error::from(e)),
                None => bail!("consumer ended"),
            }
        }
        Ok(())
    });
    let properties = lapin::BasicProperties::default().with_delivery_mode(2);
    futures::stream::iter(0..n)
        .map(|_| {
            let (publish, payload, properties) = (&publish, &payload, properties.clone());
            async move {
                publish
                    .basic_publish("".into(), queue.into(), BasicPublishOptions::default(), payload, properties)
                    .await?
                    .await?;
                Ok::<(), lapin::Error>(())
            }
        })
        .buffer_unordered(256)
        .for_each(|r| {
            if let Err(e) = r {
                tracing::warn!(error = %e, "raw publish failed");
            }
            bar.inc(1);
            async {}
        })
        .await;
    consumed.await??;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let _ = connection.close(200, "bench done".into()).await;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Deletes what the AMQP runs declared.
async fn cleanup(url: &str, topology: &Topology, raw_queue: &str) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(connection) = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await else { return };
    let Ok(channel) = connection.create_channel().await else { return };
    for queue in
        [topology.task_queue("default"), topology.results_queue(), topology.dead_letter_queue(), raw_queue.to_string()]
    {
        let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    }
    for exchange in [
        topology.tasks_exchange(),
        topology.dead_letter_exchange(),
        topology.control_exchange(),
        topology.heartbeat_exchange(),
    ] {
        let _ = channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await;
    }
    let _ = connection.close(200, "bench cleanup".into()).await;
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}

fn tempfile_dir(what: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("outpost-bench-{what}-{}", uuid_like()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn uuid_like() -> String {
    format!("{:x}{:x}", std::process::id(), Instant::now().elapsed().as_nanos() ^ outpost_proto::time::now_ms() as u128)
}

/// VmHWM from /proc: the most memory this process held at once.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
