//! Failed sign-ins: slowed down, locked, audited (also after the lock ends).

use std::time::Duration;

use outpost_tests::broker::TestBroker;
use outpost_tests::rest::Auth;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locks_refusals_are_recorded_soon_after_it_ends_without_another_sign_in() {
    let h = TestBroker::start_with(|_| {}).await;
    h.user("frank", "frank-password", &["Observer"]).await;
    let wrong = Auth::Basic("frank".into(), "not-his-password".into());
    for _ in 0..outpost_broker::access::auth::FREE_FAILURES_PER_USER {
        assert_eq!(h.get("/rest/version", &wrong).await.status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..7 {
        assert_eq!(h.get("/rest/version", &wrong).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    // Nobody signs in afterwards: the broker's own sweep records the refusals.
    let store = &h.broker.store;
    let query = outpost_broker::store::audit_records::AuditQuery {
        end_ms: i64::MAX,
        authentication: true,
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let records = store.query_audit(&query).await.unwrap();
        if let Some(record) = records.iter().find(|r| r.note.contains("refused")) {
            assert_eq!(record.note, "login:Locked:refused:7");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no refusal record: {records:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_are_slowed_down_and_audited() {
    let h = TestBroker::start_with(|_| {}).await;
    let (erin, _) = h.user("erin", "erin-password", &["Observer"]).await;
    let wrong = Auth::Basic("erin".into(), "not-her-password".into());
    for _ in 0..outpost_broker::access::auth::FREE_FAILURES_PER_USER {
        let reply = h.get("/rest/version", &wrong).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
        assert_eq!(reply.body["message"], "invalid user name or password");
    }
    let right = Auth::Basic("erin".into(), "erin-password".into());
    let locked = h.get("/rest/version", &right).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.text);
    assert_eq!(locked.body["failed"], true);
    assert!(locked.body["message"].as_str().unwrap().contains("too many failed sign-ins for 'erin'"));
    let wait: u64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait));
    // Hammering the locked name is refused without flooding the trail.
    for _ in 1..50 {
        assert_eq!(h.get("/rest/version", &wrong).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    assert_eq!(h.get("/rest/version", &right).await.status, StatusCode::OK, "the lock is temporary");

    let audit = h.ok(&format!("/rest/audit?user={erin}&authentication=*"), &Auth::admin()).await;
    let notes: Vec<&str> = audit.as_array().unwrap().iter().map(|r| r["NOTE"].as_str().unwrap()).collect();
    assert_eq!(notes.iter().filter(|n| **n == "login:Failed").count(), 5, "{notes:?}");
    assert!(notes.contains(&"login:Locked:1s"), "{notes:?}");
    assert!(notes.contains(&"login:Success"), "{notes:?}");
    let refused: Vec<&Value> =
        audit.as_array().unwrap().iter().filter(|r| r["NOTE"].as_str().unwrap().contains("refused")).collect();
    assert_eq!(refused.len(), 1, "one record for the lock, however many attempts it refused: {notes:?}");
    assert_eq!(refused[0]["NOTE"], "login:Locked:refused:50");
    assert_eq!((refused[0]["USER ID"].as_i64(), refused[0]["USER"].as_str()), (Some(erin), Some("erin")));
    assert_eq!(refused[0]["IP ADDRESS"], "127.0.0.1");
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["IP ADDRESS"] == "127.0.0.1" || r["NOTE"].as_str().unwrap().starts_with("GET:"))
    );

    // Guessing across names from one address locks the address.
    for i in 0..outpost_broker::access::auth::FREE_FAILURES_PER_SOURCE {
        h.get("/rest/version", &Auth::Basic(format!("ghost{i}"), "x".into())).await;
    }
    let address = h.get("/rest/version", &Auth::Basic("someone".into(), "x".into())).await;
    assert_eq!(address.status, StatusCode::TOO_MANY_REQUESTS);
}
