//! Distributed execution over RabbitMQ with real `outpost broker` and `outpost worker`
//! processes: segments, and nothing lost or stuck when workers, the broker or RabbitMQ
//! die. Each test has a topology prefix of its own on the machine's RabbitMQ
//! ([`AmqpScope`]), deleted when it ends.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use outpost_proto::time::now_ms;
use outpost_tests::amqp::{self, AmqpScope};
use outpost_tests::apps;
use outpost_tests::process::{Outpost, WorkerProcess, count_lines};
use outpost_tests::proxy::Proxy;
use outpost_tests::rest::{BlockingRest, assert_soar_error};
use serde_json::{Value, json};

/// Fast heartbeats so tests see workers come and go quickly.
fn worker_env() -> Vec<(&'static str, String)> {
    vec![("OUTPOST_HEARTBEAT_SECS", "1".into())]
}

/// Ten heartbeats of slack before a worker counts as gone: a busy machine may delay a
/// few, and no test here waits for a worker to go stale.
fn broker_env() -> Vec<(&'static str, String)> {
    vec![("OUTPOST_WORKER_STALE_SECS", "10".into())]
}

struct Setup {
    rest: BlockingRest,
    container: i64,
    qa: i64,
}

fn setup(broker: &Outpost) -> Setup {
    let rest = broker.rest();
    let qa = rest.app_id("QA");
    let container = rest.created("/rest/container", &json!({"name": "distributed"}))["id"].as_i64().unwrap();
    Setup { rest, container, qa }
}

impl Setup {
    fn asset(&self, name: &str, segment: Option<i64>) -> i64 {
        let mut body = json!({"name": name, "app": self.qa});
        if let Some(id) = segment {
            body["automation_broker_id"] = json!(id);
        }
        self.rest.created("/rest/asset", &body)["id"].as_i64().unwrap()
    }

    fn segment(&self, name: &str) -> i64 {
        self.rest.created("/rest/automation_proxy", &json!({"name": name}))["id"].as_i64().unwrap()
    }

    fn run(&self, action: &str, assets: &[i64], parameters: Vec<Value>) -> i64 {
        let answer = self.rest.created(
            "/rest/action_run",
            &json!({"action": action, "container_id": self.container, "targets": [{"app_id": self.qa, "assets": assets, "parameters": parameters}]}),
        );
        answer["action_run_id"].as_i64().unwrap()
    }

    fn app_runs(&self, run: i64) -> Vec<Value> {
        self.rest.ok(&format!("/rest/action_run/{run}/app_runs?page_size=0"))["data"].as_array().unwrap().clone()
    }

    fn results(&self, app_run: i64) -> Vec<Value> {
        self.rest.ok(&format!("/rest/app_run/{app_run}/action_result?page_size=0"))["data"].as_array().unwrap().clone()
    }

    /// Results recorded so far for an action run.
    fn recorded(&self, run: i64) -> usize {
        self.app_runs(run).iter().map(|a| self.results(a["id"].as_i64().unwrap()).len()).sum()
    }

    /// Every automation broker (segment), the default one included.
    fn proxies(&self) -> Vec<Value> {
        self.rest.ok("/rest/automation_proxy?page_size=0")["data"].as_array().unwrap().clone()
    }

    /// The workers the broker sees alive, from `/rest/automation_proxy`.
    fn workers(&self) -> Vec<Value> {
        self.proxies().iter().flat_map(|p| p["workers"].as_array().unwrap().clone()).collect()
    }

    /// One worker as the broker sees it, if alive.
    fn worker(&self, node_guid: &str) -> Option<Value> {
        self.workers().into_iter().find(|w| w["node_guid"] == node_guid)
    }

    fn wait_until(&self, what: &str, within: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn echo_params(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!({"index": i})).collect()
}

#[test]
fn two_segments_with_two_workers_each_run_only_their_own_tasks() {
    let amqp = AmqpScope::new(&["dmz"]);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let dmz = s.segment("dmz");
    assert_soar_error(&s.rest.post("/rest/automation_proxy", &json!({"name": "dmz"})), 409, "exists already");
    assert_soar_error(&s.rest.post("/rest/automation_proxy", &json!({"name": "no spaces"})), 400, "'name' must be");
    let inside = s.asset("qa-default", None);
    let outside = s.asset("qa-dmz", Some(dmz));
    let workers: Vec<WorkerProcess> = [("default", 0), ("default", 1), ("dmz", 2), ("dmz", 3)]
        .iter()
        .map(|(segment, i)| {
            WorkerProcess::start(&broker, &amqp.direct(), segment, dir.path().join(format!("w{i}")), &worker_env())
        })
        .collect();
    let guids = |segment: &str| -> BTreeSet<String> {
        workers.iter().filter(|w| w.segment == segment).map(|w| w.node_guid()).collect()
    };

    let run = s.run("echo", &[inside, outside], echo_params(20));
    let finished = s.rest.wait_action_run(run, Duration::from_secs(90));
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["message"], "40 actions succeeded");
    for app_run in s.app_runs(run) {
        let full = s.rest.ok(&format!("/rest/app_run/{}", app_run["id"]));
        let segment = if full["asset"] == outside { "dmz" } else { "default" };
        assert!(
            guids(segment).contains(full["node_guid"].as_str().unwrap()),
            "{segment} app run ran on {}",
            full["node_guid"]
        );
        assert_eq!(full["automation_broker"], if segment == "dmz" { json!(dmz) } else { Value::Null });
    }
    // Every task ran in its own segment: each segment's workers completed exactly its 20,
    // and each lists exactly its own two workers.
    s.wait_until("heartbeats counting 20 per segment from 2 workers each", Duration::from_secs(30), || {
        s.proxies().iter().all(|p| {
            let listed: BTreeSet<String> =
                p["workers"].as_array().unwrap().iter().map(|w| w["node_guid"].as_str().unwrap().into()).collect();
            let done: u64 = p["workers"].as_array().unwrap().iter().map(|w| w["completed"].as_u64().unwrap()).sum();
            done == 20 && p["worker_count"] == 2 && listed == guids(p["name"].as_str().unwrap())
        })
    });
    // The listing conventions of every collection.
    let only_dmz = s.rest.ok("/rest/automation_proxy?_filter_name=\"dmz\"");
    assert_eq!(only_dmz["count"], 1);
    let dmz_entry = &only_dmz["data"][0];
    assert_eq!((dmz_entry["id"].as_i64(), dmz_entry["type"].as_str()), (Some(dmz), Some("ACTION_BROKER")));
    assert_eq!(dmz_entry["last_seen_status"], "active");
    let by_name = s.rest.ok("/rest/automation_proxy?sort=name&order=desc&page_size=1");
    assert_eq!((by_name["count"].as_u64(), by_name["num_pages"].as_u64()), (Some(2), Some(2)));
    assert_eq!(by_name["data"][0]["name"], "dmz");
    assert_soar_error(&s.rest.get("/rest/automation_proxy?_filter_colour=1"), 400, "cannot filter automation brokers");
}

#[test]
fn a_worker_killed_mid_task_is_replaced_and_one_result_is_recorded() {
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    // A short stale window, to see the dead worker leave the list.
    let broker =
        Outpost::broker(&amqp.direct(), dir.path().join("broker"), &[("OUTPOST_WORKER_STALE_SECS", "3".into())]);
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", "1".into()));
    let mut workers: Vec<Option<WorkerProcess>> = (0..2)
        .map(|i| Some(WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join(format!("w{i}")), &env)))
        .collect();
    let run = s.run("sleep", &[asset], vec![json!({"seconds": 4})]);

    // Find the worker holding the task, from its heartbeat, and kill it.
    let mut victim = None;
    s.wait_until("a worker to take the task", Duration::from_secs(30), || {
        victim =
            s.workers().into_iter().find(|w| w["in_flight"] == 1).map(|w| w["node_guid"].as_str().unwrap().to_string());
        victim.is_some()
    });
    let victim = victim.unwrap();
    let index = workers.iter().position(|w| w.as_ref().is_some_and(|w| w.node_guid() == victim)).unwrap();
    workers[index].take().unwrap().kill9();

    let finished = s.rest.wait_action_run(run, Duration::from_secs(90));
    assert_eq!(finished["status"], "success", "{finished}");
    let app_run = &s.app_runs(run)[0];
    let full = s.rest.ok(&format!("/rest/app_run/{}", app_run["id"]));
    assert_ne!(full["node_guid"], victim, "the surviving worker reran it");
    assert_eq!(full["result_summary"]["total_objects"], 1);
    assert_eq!(s.results(app_run["id"].as_i64().unwrap()).len(), 1, "exactly one result");
    // The dead worker leaves the segment's list, and stays in health as stopped.
    s.wait_until("the dead worker to leave /rest/automation_proxy", Duration::from_secs(30), || {
        s.worker(&victim).is_none()
    });
    assert_eq!(s.rest.ok("/rest/health")["status"][&victim], "stopped");
}

#[test]
fn a_broker_killed_between_commit_and_publish_loses_nothing() {
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let broker_dir = dir.path().join("broker");
    let broker = Outpost::broker(&amqp.direct(), broker_dir.clone(), &broker_env());
    let ports = broker.ports;
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let _worker = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join("w"), &worker_env());
    // The tasks are committed with the run but held in the store until due: killing the
    // broker now is killing it between commit and publish.
    let answer = s.rest.created(
        "/rest/action_run",
        &json!({"action": "echo", "container_id": s.container, "exec_delay_secs": 3,
                "targets": [{"app_id": s.qa, "assets": [asset], "parameters": echo_params(10)}]}),
    );
    let run = answer["action_run_id"].as_i64().unwrap();
    broker.kill9();
    // Restarted on the same data dir and ports (waits until REST answers).
    let broker = Outpost::broker_on(&amqp.direct(), broker_dir, &broker_env(), ports);
    let rest = broker.rest();
    let finished = rest.wait_action_run(run, Duration::from_secs(90));
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["message"], "10 actions succeeded");
    let app_run = rest.ok(&format!("/rest/action_run/{run}/app_runs"))["data"][0]["id"].as_i64().unwrap();
    assert_eq!(rest.ok(&format!("/rest/app_run/{app_run}/action_result?page_size=0"))["count"], 10);
}

#[test]
fn cutting_rabbitmq_mid_run_loses_and_duplicates_nothing() {
    let amqp = AmqpScope::new(&[]);
    let proxy = Proxy::start(&amqp::upstream());
    let via_proxy = amqp.via(proxy.port);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&via_proxy, dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let workers: Vec<WorkerProcess> = (0..2)
        .map(|i| WorkerProcess::start(&broker, &via_proxy, "default", dir.path().join(format!("w{i}")), &worker_env()))
        .collect();
    // About 0.1 s each on 2 workers running 4 at a time: some 6 s of work, so a cut once
    // 50 are recorded falls in the middle of the run. Each lasts a distinct number of
    // microseconds, which tells its results apart.
    let seconds = |i: i64| (100_000 + i) as f64 / 1e6;
    let parameters: Vec<Value> = (0..500).map(|i| json!({"seconds": seconds(i)})).collect();
    let run = s.run("sleep", &[asset], parameters);
    s.wait_until("some results before the cut", Duration::from_secs(60), || s.recorded(run) >= 50);
    proxy.cut();
    let at_cut = s.recorded(run);
    assert!(at_cut < 500, "the cut came mid-run: {at_cut} of 500 recorded");
    // Both sides lost RabbitMQ and failed to get it back while it was away; the workers
    // held finished results they could not hand in.
    let lost_everywhere = || {
        std::iter::once(broker.log())
            .chain(workers.iter().map(WorkerProcess::log))
            .all(|log| log.contains("lost the rabbitmq connection") && log.contains("reconnecting to rabbitmq failed"))
    };
    s.wait_until("broker and workers to notice the outage", Duration::from_secs(30), lost_everywhere);
    s.wait_until("a worker to hold a result through the outage", Duration::from_secs(30), || {
        workers.iter().any(|w| w.log().contains("publishing a result failed"))
    });
    let during = s.recorded(run);
    eprintln!("500 parameter sets: {at_cut} recorded at the cut, {during} when rabbitmq came back");
    assert!(during < 500, "{during} of 500 recorded while rabbitmq was away");
    proxy.restore();

    let finished = s.rest.wait_action_run(run, Duration::from_secs(180));
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["message"], "500 actions succeeded");
    let app_run = s.app_runs(run)[0]["id"].as_i64().unwrap();
    let results = s.results(app_run);
    assert_eq!(results.len(), 500, "every parameter set recorded once");
    let indexes: BTreeSet<i64> =
        results.iter().map(|r| (r["parameter"]["seconds"].as_f64().unwrap() * 1e6).round() as i64 - 100_000).collect();
    assert_eq!(indexes, (0..500).collect(), "500 distinct parameter sets, each once");
    // Both sides came back on their own: reconnected, and their consumers resubscribed.
    assert!(broker.log().contains("reconnected to rabbitmq"), "broker log:\n{}", broker.log());
    for worker in &workers {
        let log = worker.log();
        assert!(log.contains("reconnected to rabbitmq") && log.contains("consumer resubscribed"), "worker log:\n{log}");
    }
}

#[test]
fn a_parameter_set_that_kills_every_worker_is_dead_lettered_and_recorded_failed() {
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut limit = broker_env();
    limit.push(("OUTPOST_DELIVERY_LIMIT", "1".into()));
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &limit);
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_DELIVERY_LIMIT", "1".into()));
    let run = s.run("sleep", &[asset], vec![json!({"seconds": 30})]);
    // The poison is played by the test: no connector can kill its worker (a trap fails
    // only its own sandbox), so every worker that takes this 30 s `sleep` is SIGKILLed as
    // soon as its heartbeat shows it in flight, as a process-killing task would do.
    // With a delivery limit of 1, RabbitMQ gives up after the second delivery.
    let mut kills = 0;
    for i in 0..6 {
        let worker = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join(format!("w{i}")), &env);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut took = false;
        while Instant::now() < deadline {
            if s.worker(&worker.node_guid()).is_some_and(|w| w["in_flight"] == 1) {
                took = true;
                break;
            }
            let status = s.rest.ok(&format!("/rest/action_run/{run}"))["status"].clone();
            if status == "failed" || status == "success" {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        worker.kill9();
        if !took {
            break;
        }
        kills += 1;
    }
    assert_eq!(kills, 2, "delivered limit + 1 times, then dead-lettered");
    let finished = s.rest.wait_action_run(run, Duration::from_secs(60));
    assert_eq!(finished["status"], "failed", "{finished}");
    let app_run_id = s.app_runs(run)[0]["id"].as_i64().unwrap();
    let app_run = s.rest.ok(&format!("/rest/app_run/{app_run_id}"));
    assert_eq!(app_run["exception_occured"], true);
    let abandoned =
        "the parameter set was abandoned after 2 deliveries: every worker that took it died or gave it back";
    let result = &s.results(app_run_id)[0];
    assert_eq!((result["status"].as_str(), result["message"].as_str()), (Some("failed"), Some(abandoned)));
    // The result itself carries exception_occured (REST shows it on the app run only).
    let rows = broker.parameter_rows(app_run_id);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].status.as_deref(), rows[0].message.as_deref()), (Some("failed"), Some(abandoned)));
    assert!(rows[0].exception_occured, "{rows:?}");
}

#[test]
fn cancel_in_the_middle_of_a_200_parameter_run_skips_the_queued_ones() {
    const CONCURRENCY: usize = 2;
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", CONCURRENCY.to_string()));
    let worker = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join("w"), &env);
    let run = s.run("sleep", &[asset], (0..200).map(|_| json!({"seconds": 0.2})).collect());
    s.wait_until("20 results", Duration::from_secs(60), || s.recorded(run) >= 20);
    let answer = s.rest.post(&format!("/rest/action_run/{run}"), &json!({"cancel": true}));
    assert_eq!(answer.0, 200, "{answer:?}");
    assert_eq!(answer.1["cancelled"], true);
    let finished = s.rest.ok(&format!("/rest/action_run/{run}"));
    assert_eq!(finished["status"], "failed");
    assert_eq!(finished["cancelled"], "cancelled by admin");
    let app_run = s.app_runs(run)[0]["id"].as_i64().unwrap();
    let results = s.results(app_run);
    assert_eq!(results.len(), 200, "every parameter set is recorded: finished or cancelled");
    let kept = results.iter().filter(|r| r["status"] == "success").count();
    assert!((20..200).contains(&kept), "{kept} finished results kept");
    assert!(
        results.iter().filter(|r| r["status"] != "success").all(|r| r["message"] == "Cancelled: cancelled by admin"),
        "the rest are recorded cancelled"
    );

    // The worker skips every queued task of the run without running it. Only those it
    // had started before it heard the cancel are not skipped: at most the ones running
    // (CONCURRENCY) and ones whose results were on their way to the broker.
    let slack = 3 * CONCURRENCY;
    let skipped = || worker.log_count("skipped: its action run was cancelled");
    s.wait_until("the worker to skip the run's queued tasks", Duration::from_secs(60), || {
        kept + skipped() + slack >= 200
    });
    eprintln!("200 parameter sets: {kept} kept, {} skipped by the worker", skipped());
    assert!(skipped() >= 100, "{} skipped, {kept} kept", skipped());
    assert!(kept + skipped() <= 200, "{} skipped, {kept} kept: a task ran twice", skipped());
    s.wait_until("the worker to be idle", Duration::from_secs(30), || {
        s.worker(&worker.node_guid()).is_some_and(|w| w["in_flight"] == 0)
    });
    // Late results are ignored: nothing changed.
    assert_eq!(s.results(app_run), results);
    assert_soar_error(
        &s.rest.post(&format!("/rest/action_run/{run}"), &json!({"cancel": true})),
        400,
        "already finished",
    );
}

#[test]
fn cancel_over_grpc_interrupts_a_running_sandbox() {
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", "1".into()));
    let worker = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join("w"), &env);
    let guid = worker.node_guid();
    let run = s.run("sleep", &[asset], vec![json!({"seconds": 60})]);
    s.wait_until("the sandbox to run", Duration::from_secs(30), || {
        s.worker(&guid).is_some_and(|w| w["in_flight"] == 1)
    });

    let cancelled_at = Instant::now();
    let answer = broker.cancel_over_grpc(run).expect("CancelActionRun succeeds");
    assert!(answer.cancelled, "{answer:?}");
    assert_eq!(answer.message, format!("action run {run} cancelled; 1 parameter sets stopped, finished results kept"));
    // The sandbox stops long before its 60 s: the worker is free again.
    s.wait_until("the sandbox to be interrupted", Duration::from_secs(20), || {
        s.worker(&guid).is_some_and(|w| w["in_flight"] == 0)
    });
    assert!(cancelled_at.elapsed() < Duration::from_secs(20));
    s.wait_until("the worker to say so", Duration::from_secs(10), || {
        worker.log().contains("interrupted: its action run was cancelled")
    });
    let finished = s.rest.ok(&format!("/rest/action_run/{run}"));
    assert_eq!(
        (finished["status"].as_str(), finished["cancelled"].as_str()),
        (Some("failed"), Some("cancelled by admin"))
    );
    let result = &s.results(s.app_runs(run)[0]["id"].as_i64().unwrap())[0];
    assert_eq!(
        (result["status"].as_str(), result["message"].as_str()),
        (Some("failed"), Some("Cancelled: cancelled by admin"))
    );
    // Its only slot is free: the next run goes through at once.
    let next = s.run("echo", &[asset], echo_params(1));
    assert_eq!(s.rest.wait_action_run(next, Duration::from_secs(30))["status"], "success");

    let again = broker.cancel_over_grpc(run).unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition, "{again:?}");
    assert!(again.message().contains("has already finished"), "{}", again.message());
}

#[test]
fn a_segment_without_workers_waits_then_completes_when_one_joins() {
    let amqp = AmqpScope::new(&["lonely"]);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let lonely = s.segment("lonely");
    let asset = s.asset("qa-lonely", Some(lonely));
    let run = s.run("echo", &[asset], echo_params(3));
    s.wait_until("the run to say why it waits", Duration::from_secs(20), || {
        let r = s.rest.ok(&format!("/rest/action_run/{run}"));
        r["status"] == "pending" && r["message"].as_str().unwrap().contains("waiting for a worker in segment 'lonely'")
    });
    let _worker = WorkerProcess::start(&broker, &amqp.direct(), "lonely", dir.path().join("w"), &worker_env());
    let finished = s.rest.wait_action_run(run, Duration::from_secs(60));
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["message"], "3 actions succeeded");
}

#[test]
fn a_worker_with_another_delivery_limit_runs_its_segment_and_says_what_differs() {
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    // The broker declares the queue with the default limit (5) at start-up.
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_DELIVERY_LIMIT", "3".into()));
    let worker = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join("w"), &env);
    let run = s.run("echo", &[asset], echo_params(3));
    assert_eq!(s.rest.wait_action_run(run, Duration::from_secs(60))["status"], "success");
    let log = worker.log();
    assert!(
        log.contains("task queue exists with a different argument") && log.contains("x-delivery-limit"),
        "worker log:\n{log}"
    );
}

#[test]
fn a_broker_and_a_worker_started_before_rabbitmq_wait_for_it() {
    let amqp = AmqpScope::new(&[]);
    let proxy = Proxy::start(&amqp::upstream());
    proxy.cut();
    let via_proxy = amqp.via(proxy.port);
    let dir = tempfile::tempdir().unwrap();
    // The broker serves REST without RabbitMQ; runs wait in its store.
    let broker = Outpost::broker(&via_proxy, dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    assert_eq!(s.rest.ok("/rest/health")["status"]["bus"], "stopped");
    let asset = s.asset("qa", None);
    let run = s.run("echo", &[asset], echo_params(3));
    // The worker waits, retrying with back-off and saying so each time.
    let mut worker = WorkerProcess::spawn(&broker, &via_proxy, "default", dir.path().join("w"), &worker_env());
    s.wait_until("the worker to retry", Duration::from_secs(30), || {
        worker.log_count("rabbitmq not reachable yet") >= 3
    });
    assert!(worker.is_running(), "the worker waits instead of exiting:\n{}", worker.log());
    assert!(!worker.log().contains("serving segment"));
    assert_eq!(s.rest.ok(&format!("/rest/action_run/{run}"))["status"], "pending");
    proxy.restore();
    worker.wait_serving(Duration::from_secs(30));
    let finished = s.rest.wait_action_run(run, Duration::from_secs(60));
    assert_eq!(finished["status"], "success", "{finished}");
    let log = broker.log();
    assert!(count_lines(&log, "rabbitmq not reachable yet") >= 1 && log.contains("connected to rabbitmq"), "{log}");
    assert_eq!(s.rest.ok("/rest/health")["status"]["bus"], "running");
}

#[test]
fn a_worker_without_the_bus_key_says_where_it_expected_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(apps::outpost_bin())
        .args(["worker", "--segment", "dmz", "--concurrency", "2", "--data-dir"])
        .arg(dir.path())
        .env_remove("OUTPOST_BUS_KEY_FILE")
        .env("OUTPOST_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")
        .output()
        .expect("outpost runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("no bus key at {}", dir.path().join("bus.key").display())), "{stderr}");
}

#[test]
fn sigterm_hands_back_a_task_longer_than_the_grace() {
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", "1".into()));
    env.push(("OUTPOST_DRAIN_GRACE_SECS", "1".into()));
    let first = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join("w1"), &env);
    let first_guid = first.node_guid();
    let run = s.run("sleep", &[asset], vec![json!({"seconds": 6})]);
    s.wait_until("the worker to take the task", Duration::from_secs(30), || {
        s.worker(&first_guid).is_some_and(|w| w["in_flight"] == 1)
    });
    let status = first.stop();
    assert!(status.success(), "worker exits cleanly on SIGTERM: {status}");
    // The grace (1 s) was shorter than the task (6 s): it went back to the queue.
    let second = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join("w2"), &env);
    let finished = s.rest.wait_action_run(run, Duration::from_secs(60));
    assert_eq!(finished["status"], "success", "{finished}");
    let app_run = s.app_runs(run)[0]["id"].as_i64().unwrap();
    assert_eq!(s.rest.ok(&format!("/rest/app_run/{app_run}"))["node_guid"], second.node_guid());
    assert_eq!(s.results(app_run).len(), 1, "recorded once");
}

#[test]
fn sigterm_lets_a_task_shorter_than_the_grace_finish_while_heartbeats_go_on() {
    let amqp = AmqpScope::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&amqp.direct(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", "1".into()));
    env.push(("OUTPOST_DRAIN_GRACE_SECS", "40".into()));
    let worker = WorkerProcess::start(&broker, &amqp.direct(), "default", dir.path().join("w"), &env);
    let guid = worker.node_guid();
    // Long enough for several heartbeats (one a second) after SIGTERM even when the
    // machine is loaded; the grace is far longer still.
    let run = s.run("sleep", &[asset], vec![json!({"seconds": 8})]);
    s.wait_until("the worker to take the task", Duration::from_secs(30), || {
        s.worker(&guid).is_some_and(|w| w["in_flight"] == 1)
    });
    let terminated_ms = now_ms();
    let terminated = Instant::now();
    worker.terminate();
    // While it drains, the broker keeps hearing from it: alive, draining, one in flight.
    let mut draining_beats = BTreeSet::new();
    s.wait_until("two heartbeats from the draining worker", Duration::from_secs(15), || {
        if let Some(w) = s.worker(&guid).filter(|w| w["draining"] == true && w["in_flight"] == 1) {
            draining_beats.insert(w["last_seen"].as_str().unwrap().to_string());
        }
        draining_beats.len() >= 2
    });
    let status = worker.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "worker exits cleanly once drained: {status}");
    assert!(terminated.elapsed() < Duration::from_secs(25), "it left once drained, not after the 40 s grace");
    let finished = s.rest.wait_action_run(run, Duration::from_secs(10));
    assert_eq!(finished["status"], "success", "{finished}");
    let app_run = s.app_runs(run)[0]["id"].as_i64().unwrap();
    let rows = broker.parameter_rows(app_run);
    assert_eq!(rows.len(), 1, "recorded once: {rows:?}");
    assert_eq!(rows[0].node_guid.as_deref(), Some(guid.as_str()), "finished on the draining worker");
    assert!(rows[0].finished_ms.unwrap() > terminated_ms, "finished after SIGTERM: {rows:?}");
}
