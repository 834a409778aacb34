//! What the audit records about changes: old and new values with secrets masked, app
//! installs and upgrades once each, and retention.

use std::time::Duration;

use outpost_proto::time::now_ms;
use outpost_tests::apps;
use outpost_tests::broker::TestBroker;
use outpost_tests::rest::Auth;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{SECRET_APIKEY, app_and_asset};

/// `(CHANGED FIELD, OLD VALUE, NEW VALUE)` of the records of one object with one note.
fn changes(audit: &Value, object_type: &str, id: i64, note: &str) -> Vec<(String, Value, Value)> {
    let mut out: Vec<(String, Value, Value)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["OBJECT TYPE"] == object_type && r["OBJECT ID"] == id && r["NOTE"] == note)
        .map(|r| (r["CHANGED FIELD"].as_str().unwrap().to_string(), r["OLD VALUE"].clone(), r["NEW VALUE"].clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_show_old_and_new_values_with_secrets_masked() {
    let h = TestBroker::start_with(|_| {}).await;
    let (ana, _) = h.user("ana", "ana-first-password", &["Observer"]).await;
    let reply = h
        .post(
            &format!("/rest/ph_user/{ana}"),
            &Auth::admin(),
            json!({"email": "ana@example.com", "roles": ["Automation"], "password": "ana-second-password"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let role = h
        .post(
            "/rest/role",
            &Auth::admin(),
            json!({"name": "Analysts", "description": "one", "permissions": ["containers:view"]}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let reply = h
        .post(
            &format!("/rest/role/{role}"),
            &Auth::admin(),
            json!({"description": "two", "permissions": ["audit:view"], "users": [ana]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let container = h.container("case").await;
    let reply = h
        .post(&format!("/rest/container/{container}"), &Auth::admin(), json!({"severity": "high", "status": "open"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (app, asset) = app_and_asset(&h, "geo").await;
    let reply = h
        .post(
            &format!("/rest/asset/{asset}"),
            &Auth::admin(),
            json!({"configuration": {"base_url": "https://y", "apikey": "another-s3cret"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let run = h
        .post(
            "/rest/action_run",
            &Auth::admin(),
            json!({"action": "lookup", "container_id": container, "exec_delay_secs": 600,
            "targets": [{"app_id": app, "assets": [asset], "parameters": [{"ip": "1.1.1.1"}]}]}),
        )
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    let run_id = run.body["action_run_id"].as_i64().unwrap();
    let cancel = h.post(&format!("/rest/action_run/{run_id}"), &Auth::admin(), json!({"cancel": true})).await;
    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.text);

    let audit = h.ok("/rest/audit?page_size=0", &Auth::admin()).await;
    let s = |v: &str| json!(v);
    assert_eq!(
        changes(&audit, "ph_user", ana, "ana:updated"),
        [("email".into(), s(""), s("ana@example.com")), ("roles".into(), s("[3]"), s("[2]"))]
    );
    assert_eq!(
        changes(&audit, "ph_user", ana, "ana:password changed"),
        [("password".into(), s("********"), s("********"))],
        "a password change shows, its values never"
    );
    assert_eq!(
        changes(&audit, "role", role, "Analysts:updated"),
        [
            ("description".into(), s("one"), s("two")),
            ("permissions".into(), s("[\"containers:view\"]"), s("[\"audit:view\"]")),
            ("users".into(), s("[]"), s(&format!("[{ana}]"))),
        ]
    );
    assert_eq!(
        changes(&audit, "container", container, "case:updated"),
        [("severity".into(), s("medium"), s("high")), ("status".into(), s("new"), s("open"))]
    );
    assert_eq!(
        changes(&audit, "asset", asset, "geo:updated"),
        [
            ("configuration.apikey".into(), s("********"), s("********")),
            ("configuration.base_url".into(), s("https://x"), s("https://y")),
        ]
    );
    let cancelled = changes(&audit, "action_run", run_id, &format!("{}:cancelled", "user initiated lookup action"));
    assert_eq!(cancelled, [("cancelled".into(), s(""), s("cancelled by admin"))]);
    let record = audit.as_array().unwrap().iter().find(|r| r["OBJECT TYPE"] == "action_run").unwrap();
    assert_eq!(
        (record["RELATED OBJECT TYPE"].as_str(), record["RELATED OBJECT ID"].as_i64()),
        (Some("container"), Some(container))
    );
    let text = format!("{audit}{}", h.get("/rest/audit?format=csv", &Auth::admin()).await.text);
    for secret in [SECRET_APIKEY, "another-s3cret", "ana-first-password", "ana-second-password", "argon2"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_installs_and_upgrades_are_audited_once() {
    let qa_bundle = apps::dist().join("qa.tgz");
    let h = TestBroker::start_with(|c| c.bundles = vec![qa_bundle.clone()]).await;
    let app_records = |audit: &Value, name: &str| -> Vec<(String, Value, Value, Value)> {
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["OBJECT TYPE"] == "app" && r["NOTE"].as_str().unwrap().starts_with(&format!("{name}:")))
            .map(|r| {
                (
                    r["NOTE"].as_str().unwrap().to_string(),
                    r["CHANGED FIELD"].clone(),
                    r["NEW VALUE"].clone(),
                    r["USER ID"].clone(),
                )
            })
            .collect()
    };
    let audit = h.ok("/rest/audit?administration=*", &Auth::admin()).await;
    let started = app_records(&audit, "QA");
    assert_eq!(
        started.iter().filter(|r| r.1 == "app_version").count(),
        1,
        "a bundle installed at start is audited once, as the broker's: {started:?}"
    );
    assert!(started.iter().all(|r| r.0 == "QA:created" && r.3.is_null()));

    let app = h.checker("1.0.0").await;
    assert_eq!(h.checker("1.1.0").await, app, "an upgrade keeps the id");
    assert_eq!(h.checker("1.1.0").await, app);
    let audit = h.ok("/rest/audit?administration=*", &Auth::admin()).await;
    let mut checker = app_records(&audit, "Checker");
    checker.reverse();
    let fields: Vec<(&str, &str)> = checker.iter().map(|r| (r.0.as_str(), r.1.as_str().unwrap())).collect();
    assert_eq!(
        fields,
        [
            ("Checker:created", "name"),
            ("Checker:created", "appid"),
            ("Checker:created", "app_version"),
            ("Checker:created", "digest"),
            ("Checker:upgraded", "app_version"),
        ],
        "an unchanged re-install records nothing"
    );
    assert!(checker.iter().all(|r| r.3 == 1), "by the administrator");
    let upgraded = audit.as_array().unwrap().iter().find(|r| r["NOTE"] == "Checker:upgraded").unwrap();
    assert_eq!((upgraded["OLD VALUE"].as_str(), upgraded["NEW VALUE"].as_str()), (Some("1.0.0"), Some("1.1.0")));
    assert_eq!(upgraded["OBJECT ID"], app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_records_on_its_interval() {
    use outpost_broker::store::audit_records::AuditRecord;
    let h = TestBroker::start_with(|c| c.audit_retention_days = 1).await;
    let broker = h.broker.clone();
    let old = |note: &str, days_ago: i64| AuditRecord {
        source: "Audit".into(),
        audit_id: 0,
        time_ms: now_ms() - days_ago * 24 * 3600 * 1000,
        user_id: None,
        username: String::new(),
        ip: String::new(),
        category: "administration".into(),
        object_type: "system_settings".into(),
        object_id: None,
        related_type: None,
        related_id: None,
        note: note.into(),
        changed_field: String::new(),
        old_value: None,
        new_value: None,
    };
    broker.store.append_audit(&[old("three days old", 3), old("recent", 0)]).await.unwrap();
    let loop_stop = h.shutdown.child_token();
    let retention = tokio::spawn(outpost_broker::access::audit::retention::run_retention_every(
        broker.clone(),
        loop_stop.clone(),
        Duration::from_millis(50),
    ));
    let window = format!(
        "/rest/audit?administration=*&start={}",
        (chrono::Utc::now() - chrono::Duration::days(10)).format("%Y-%m-%d")
    );
    let notes = |audit: Value| {
        audit.as_array().unwrap().iter().map(|r| r["NOTE"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let until_gone = |note: &'static str| {
        let (h, window) = (&h, window.clone());
        async move {
            for _ in 0..100 {
                let now = notes(h.ok(&window, &Auth::admin()).await);
                if !now.iter().any(|n| n == note) {
                    return now;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("{note} was never purged");
        }
    };
    let after = until_gone("three days old").await;
    assert!(after.iter().any(|n| n == "recent"), "recent records stay: {after:?}");
    assert!(after.iter().any(|n| n == "retention:purged 1 records older than 1 days"), "{after:?}");
    // It keeps running on its interval.
    broker.store.append_audit(&[old("two days old", 2)]).await.unwrap();
    let after = until_gone("two days old").await;
    assert_eq!(after.iter().filter(|n| n.starts_with("retention:purged 1 records")).count(), 2, "{after:?}");
    loop_stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), retention).await.unwrap().unwrap();
}
