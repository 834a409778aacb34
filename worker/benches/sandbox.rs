//! What the sandbox costs: compiling each connector in the dist folder, loading its
//! precompiled artifact, and per parameter set a fresh store + instantiation (+ call
//! of `qa`'s `echo`).
//!
//! `cargo bench -p outpost-worker --bench sandbox` (needs `bash apps/build.sh`, or
//! `OUTPOST_APPS_DIST`; `OUTPOST_BENCH_ITERATIONS` overrides the 2000 iterations).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use outpost_worker::sandbox::{Context, Invocation, Limits, Sandbox, SandboxConfig, Status};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

fn dist_dir() -> PathBuf {
    std::env::var_os("OUTPOST_APPS_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../apps/dist"))
}

fn sandbox(cache_dir: &std::path::Path) -> Sandbox {
    Sandbox::new(SandboxConfig { concurrency: 4, cache_dir: cache_dir.to_path_buf(), ..SandboxConfig::default() })
        .expect("sandbox")
}

fn echo() -> Invocation {
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
        context: Context { guid: "g".into(), ..Context::default() },
        limits: Limits::default(),
        egress: Vec::new(),
        state_json: "{}".into(),
        progress: None,
        cancel: CancellationToken::new(),
        task_id: "1.0".into(),
    }
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

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let dist = dist_dir();
    let mut apps: Vec<PathBuf> = std::fs::read_dir(&dist)
        .unwrap_or_else(|e| panic!("{}: {e}: run `bash apps/build.sh` first", dist.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    apps.sort();
    assert!(!apps.is_empty(), "no .wasm in {}: run `bash apps/build.sh` first", dist.display());

    println!("{:<14} {:>10} {:>14} {:>16}", "component", "size KiB", "compile ms", "precompiled ms");
    for path in &apps {
        let wasm = std::fs::read(path).unwrap();
        let digest = hex::encode(Sha256::digest(&wasm));
        let cache = tempfile::tempdir().unwrap();
        let fresh = sandbox(cache.path());
        let started = Instant::now();
        fresh.prepare(&digest, &wasm).await.expect("compile");
        let compile = started.elapsed();
        assert_eq!(fresh.stats().compiled, 1);
        let restarted = sandbox(cache.path());
        let started = Instant::now();
        restarted.prepare(&digest, &wasm).await.expect("load");
        let load = started.elapsed();
        assert_eq!(restarted.stats().loaded_precompiled, 1);
        let name = path.file_stem().unwrap().to_string_lossy();
        println!(
            "{:<14} {:>10} {:>14.1} {:>16.2}",
            name,
            wasm.len() / 1024,
            compile.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e3
        );
    }

    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    drop(sandbox(cache.path()));
    println!("\nSandbox::new (engine, pool, linker, TLS roots): {:.1} ms", started.elapsed().as_secs_f64() * 1e3);

    let iterations: usize = std::env::var("OUTPOST_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let wasm = std::fs::read(dist.join("qa.wasm")).expect("qa.wasm");
    let cache = tempfile::tempdir().unwrap();
    let sandbox = sandbox(cache.path());
    let qa = sandbox.prepare(&hex::encode(Sha256::digest(&wasm)), &wasm).await.unwrap();
    for _ in 0..100 {
        sandbox.instantiate(&qa).await.unwrap();
        sandbox.run(&qa, echo()).await;
    }
    let mut instantiate = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        sandbox.instantiate(&qa).await.unwrap();
        instantiate.push(started.elapsed());
    }
    let mut call = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let outcome = sandbox.run(&qa, echo()).await;
        call.push(started.elapsed());
        assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    }
    println!();
    println!("qa, {iterations} iterations        median µs    p99 µs");
    for (what, samples) in [("store + instantiate", instantiate), ("store + instantiate + echo", call)] {
        let (median, p99) = percentiles(samples);
        println!("{what:<28} {median:>10.1} {p99:>9.1}");
    }
}
