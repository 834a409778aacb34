//! Distributed execution over RabbitMQ with real `outpost broker` and `outpost worker`
//! processes: segments, and nothing lost or stuck when workers, the broker or RabbitMQ
//! die. Each test has a RabbitMQ vhost of its own.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use outpost_tests::{Outpost, Proxy, Rest, Vhost, WorkerProcess, assert_soar_error};
use serde_json::{Value, json};

/// Fast heartbeats so tests see workers come and go quickly.
fn worker_env() -> Vec<(&'static str, String)> {
    vec![("OUTPOST_HEARTBEAT_SECS", "1".into())]
}

fn broker_env() -> Vec<(&'static str, String)> {
    vec![("OUTPOST_WORKER_STALE_SECS", "4".into())]
}

struct Setup {
    rest: Rest,
    container: i64,
    qa: i64,
}

fn setup(broker: &Outpost) -> Setup {
    let rest = broker.rest();
    let apps = rest.ok("/rest/app");
    let qa = apps["data"].as_array().unwrap().iter().find(|a| a["name"] == "QA").expect("qa installed")["id"]
        .as_i64()
        .unwrap();
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

    /// The workers the broker sees, by node_guid, from `/rest/automation_proxy`.
    fn workers(&self) -> Vec<Value> {
        let proxies = self.rest.ok("/rest/automation_proxy");
        proxies["data"].as_array().unwrap().iter().flat_map(|p| p["workers"].as_array().unwrap().clone()).collect()
    }

    fn wait_until(&self, what: &str, within: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn echo_params(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!({"index": i})).collect()
}

#[test]
fn two_segments_with_two_workers_each_run_only_their_own_tasks() {
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&vhost.url(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let dmz = s.segment("dmz");
    assert_soar_error(&s.rest.post("/rest/automation_proxy", &json!({"name": "dmz"})), 409, "exists already");
    assert_soar_error(&s.rest.post("/rest/automation_proxy", &json!({"name": "no spaces"})), 400, "'name' must be");
    let inside = s.asset("qa-default", None);
    let outside = s.asset("qa-dmz", Some(dmz));
    let workers: Vec<WorkerProcess> = [("default", 0), ("default", 1), ("dmz", 2), ("dmz", 3)]
        .iter()
        .map(|(segment, i)| {
            WorkerProcess::start(&broker, &vhost.url(), segment, dir.path().join(format!("w{i}")), &worker_env())
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
    // Every task ran in its own segment: each segment's workers completed exactly its 20.
    s.wait_until("heartbeats counting 20 per segment", Duration::from_secs(30), || {
        let proxies = s.rest.ok("/rest/automation_proxy");
        proxies["data"].as_array().unwrap().iter().all(|p| {
            let done: u64 = p["workers"].as_array().unwrap().iter().map(|w| w["completed"].as_u64().unwrap()).sum();
            done == 20
        })
    });
    let proxies = s.rest.ok("/rest/automation_proxy");
    let dmz_entry = proxies["data"].as_array().unwrap().iter().find(|p| p["name"] == "dmz").unwrap().clone();
    assert_eq!(dmz_entry["type"], "ACTION_BROKER");
    assert_eq!(dmz_entry["last_seen_status"], "active");
    assert_eq!(dmz_entry["worker_count"], 2);
}

#[test]
fn a_worker_killed_mid_task_is_replaced_and_one_result_is_recorded() {
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&vhost.url(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", "1".into()));
    let mut workers: Vec<Option<WorkerProcess>> = (0..2)
        .map(|i| Some(WorkerProcess::start(&broker, &vhost.url(), "default", dir.path().join(format!("w{i}")), &env)))
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
}

#[test]
fn a_broker_killed_between_commit_and_publish_loses_nothing() {
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let broker_dir = dir.path().join("broker");
    let broker = Outpost::broker(&vhost.url(), broker_dir.clone(), &broker_env());
    let ports = broker.ports;
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let _worker = WorkerProcess::start(&broker, &vhost.url(), "default", dir.path().join("w"), &worker_env());
    // The tasks are committed with the run but held in the store until due: killing the
    // broker now is killing it between commit and publish.
    let answer = s.rest.created(
        "/rest/action_run",
        &json!({"action": "echo", "container_id": s.container, "exec_delay_secs": 3,
                "targets": [{"app_id": s.qa, "assets": [asset], "parameters": echo_params(10)}]}),
    );
    let run = answer["action_run_id"].as_i64().unwrap();
    broker.kill9();
    std::thread::sleep(Duration::from_secs(1));
    let broker = Outpost::broker_on(&vhost.url(), broker_dir, &broker_env(), ports);
    let rest = broker.rest();
    let finished = rest.wait_action_run(run, Duration::from_secs(90));
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["message"], "10 actions succeeded");
    let app_run = rest.ok(&format!("/rest/action_run/{run}/app_runs"))["data"][0]["id"].as_i64().unwrap();
    assert_eq!(rest.ok(&format!("/rest/app_run/{app_run}/action_result?page_size=0"))["count"], 10);
}

#[test]
fn cutting_rabbitmq_mid_run_loses_and_duplicates_nothing() {
    let vhost = Vhost::new();
    let proxy = Proxy::start("127.0.0.1:5672");
    let amqp = vhost.url_via(proxy.port);
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&amqp, dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let _workers: Vec<WorkerProcess> = (0..2)
        .map(|i| WorkerProcess::start(&broker, &amqp, "default", dir.path().join(format!("w{i}")), &worker_env()))
        .collect();
    let run = s.run("echo", &[asset], echo_params(500));
    s.wait_until("some results before the cut", Duration::from_secs(60), || s.recorded(run) >= 50);
    proxy.cut();
    std::thread::sleep(Duration::from_secs(5));
    proxy.restore();
    let finished = s.rest.wait_action_run(run, Duration::from_secs(180));
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["message"], "500 actions succeeded");
    let app_run = s.app_runs(run)[0]["id"].as_i64().unwrap();
    let results = s.results(app_run);
    assert_eq!(results.len(), 500, "every parameter set recorded once");
    let indexes: BTreeSet<i64> = results.iter().map(|r| r["parameter"]["index"].as_i64().unwrap()).collect();
    assert_eq!(indexes.len(), 500);
}

#[test]
fn a_parameter_set_that_kills_every_worker_is_dead_lettered_and_recorded_failed() {
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let mut limit = broker_env();
    limit.push(("OUTPOST_DELIVERY_LIMIT", "1".into()));
    let broker = Outpost::broker(&vhost.url(), dir.path().join("broker"), &limit);
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_DELIVERY_LIMIT", "1".into()));
    let run = s.run("sleep", &[asset], vec![json!({"seconds": 30})]);
    // Each worker that takes the task dies with it (SIGKILL), until RabbitMQ gives up.
    let mut kills = 0;
    for i in 0..6 {
        let worker = WorkerProcess::start(&broker, &vhost.url(), "default", dir.path().join(format!("w{i}")), &env);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut took = false;
        while Instant::now() < deadline {
            if s.workers().iter().any(|w| w["node_guid"] == worker.node_guid() && w["in_flight"] == 1) {
                took = true;
                break;
            }
            let status = s.rest.ok(&format!("/rest/action_run/{run}"))["status"].clone();
            if status == "failed" || status == "success" {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        worker.kill9();
        if !took {
            break;
        }
        kills += 1;
    }
    assert!(kills >= 2, "the task was delivered {kills} times");
    let finished = s.rest.wait_action_run(run, Duration::from_secs(60));
    assert_eq!(finished["status"], "failed", "{finished}");
    let app_run = s.rest.ok(&format!("/rest/app_run/{}", s.app_runs(run)[0]["id"]));
    assert_eq!(app_run["exception_occured"], true);
    let result = &app_run["result_data"][0];
    assert!(result["message"].as_str().unwrap().contains("abandoned after"), "{result}");
}

#[test]
fn cancel_in_the_middle_of_a_200_parameter_run() {
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&vhost.url(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", "2".into()));
    let worker = WorkerProcess::start(&broker, &vhost.url(), "default", dir.path().join("w"), &env);
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
    // Late results are ignored: nothing changes afterwards.
    std::thread::sleep(Duration::from_secs(3));
    let later = s.results(app_run);
    assert_eq!(later.iter().filter(|r| r["status"] == "success").count(), kept);
    assert!(worker.log().contains("its action run was cancelled") || kept + 2 >= 200, "queued tasks were skipped");
    assert_soar_error(
        &s.rest.post(&format!("/rest/action_run/{run}"), &json!({"cancel": true})),
        400,
        "already finished",
    );
}

#[test]
fn a_segment_without_workers_waits_then_completes_when_one_joins() {
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&vhost.url(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let lonely = s.segment("lonely");
    let asset = s.asset("qa-lonely", Some(lonely));
    let run = s.run("echo", &[asset], echo_params(3));
    s.wait_until("the run to say why it waits", Duration::from_secs(20), || {
        let r = s.rest.ok(&format!("/rest/action_run/{run}"));
        r["status"] == "pending" && r["message"].as_str().unwrap().contains("waiting for a worker in segment 'lonely'")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.rest.ok(&format!("/rest/action_run/{run}"))["status"], "pending", "not failed while waiting");
    let _worker = WorkerProcess::start(&broker, &vhost.url(), "lonely", dir.path().join("w"), &worker_env());
    let finished = s.rest.wait_action_run(run, Duration::from_secs(60));
    assert_eq!(finished["status"], "success", "{finished}");
    assert_eq!(finished["message"], "3 actions succeeded");
}

#[test]
fn sigterm_drains_in_flight_tasks_and_hands_back_the_rest() {
    let vhost = Vhost::new();
    let dir = tempfile::tempdir().unwrap();
    let broker = Outpost::broker(&vhost.url(), dir.path().join("broker"), &broker_env());
    let s = setup(&broker);
    let asset = s.asset("qa", None);
    let mut env = worker_env();
    env.push(("OUTPOST_CONCURRENCY", "1".into()));
    env.push(("OUTPOST_DRAIN_GRACE_SECS", "1".into()));
    let first = WorkerProcess::start(&broker, &vhost.url(), "default", dir.path().join("w1"), &env);
    let run = s.run("sleep", &[asset], vec![json!({"seconds": 6})]);
    s.wait_until("the worker to take the task", Duration::from_secs(30), || {
        s.workers().iter().any(|w| w["in_flight"] == 1)
    });
    let status = first.stop();
    assert!(status.success(), "worker exits cleanly on SIGTERM: {status}");
    // The grace (1 s) was shorter than the task (6 s): it went back to the queue.
    let second = WorkerProcess::start(&broker, &vhost.url(), "default", dir.path().join("w2"), &env);
    let finished = s.rest.wait_action_run(run, Duration::from_secs(60));
    assert_eq!(finished["status"], "success", "{finished}");
    let full = s.rest.ok(&format!("/rest/app_run/{}", s.app_runs(run)[0]["id"]));
    assert_eq!(full["node_guid"], second.node_guid());
}
