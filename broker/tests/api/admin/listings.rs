//! The listing conventions on users, roles, tokens and app status.

use std::time::Duration;

use outpost_tests::broker::TestBroker;
use outpost_tests::fake_worker::{connectivity, fake_worker};
use outpost_tests::rest::Auth;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::app_and_asset;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_conventions_hold_on_users_roles_tokens_and_app_status() {
    let h = TestBroker::start_with(|_| {}).await;
    fake_worker(h.bus.clone(), connectivity);
    let mut users = vec![];
    for name in ["carol", "bob", "alice", "dave"] {
        users.push(h.user(name, &format!("{name}-password"), &["Observer"]).await.0);
    }
    let carol = users[0];
    h.call(Method::DELETE, &format!("/rest/ph_user/{}", users[3]), &Auth::admin(), None).await;
    for label in ["ci", "splunk", "old"] {
        h.post(&format!("/rest/ph_user/{carol}/token"), &Auth::admin(), json!({"label": label})).await;
    }
    let tokens = h.ok(&format!("/rest/ph_user/{carol}/token?page_size=0"), &Auth::admin()).await;
    let old = tokens["data"].as_array().unwrap().iter().find(|t| t["label"] == "old").unwrap()["id"].as_i64().unwrap();
    h.call(Method::DELETE, &format!("/rest/ph_user/{carol}/token/{old}"), &Auth::admin(), None).await;
    h.post(
        "/rest/role",
        &Auth::admin(),
        json!({"name": "Analysts", "permissions": ["containers:view"], "users": [carol]}),
    )
    .await;
    let (_, one) = app_and_asset(&h, "checker-one").await;
    let (_, two) = app_and_asset(&h, "checker-two").await;
    for asset in [one, two] {
        assert_eq!(
            h.post(&format!("/rest/asset/{asset}/test"), &Auth::admin(), json!({})).await.status,
            StatusCode::OK
        );
    }
    let mut done = json!(null);
    for _ in 0..100 {
        done = h.ok("/rest/app_status?_filter_status=\"success\"", &Auth::admin()).await;
        if done["count"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["count"], 2, "both connectivity tests succeeded within 10 s: {done}");

    // The envelope, paging and refusals, as on every other collection.
    for path in [
        "/rest/ph_user".to_string(),
        "/rest/role".into(),
        format!("/rest/ph_user/{carol}/token"),
        "/rest/app_status".into(),
    ] {
        let page = h.ok(&path, &Auth::admin()).await;
        let count = page["count"].as_u64().unwrap_or_else(|| panic!("{path}: {page}"));
        assert!(count > 1, "{path}: {page}");
        assert_eq!(page["num_pages"].as_u64().unwrap(), count.div_ceil(10), "{path}");
        assert_eq!(page["data"].as_array().unwrap().len() as u64, count.min(10), "{path}");
        let all = h.ok(&format!("{path}?page_size=0"), &Auth::admin()).await;
        assert_eq!((all["data"].as_array().unwrap().len() as u64, all["num_pages"].as_u64()), (count, Some(1)));
        let one = h.ok(&format!("{path}?page=1&page_size=1"), &Auth::admin()).await;
        assert_eq!((one["num_pages"].as_u64(), one["data"].as_array().unwrap().len()), (Some(count), 1), "{path}");
        assert_eq!(one["data"][0]["id"], all["data"][1]["id"], "{path}: pages follow the same order");
        let beyond = h.ok(&format!("{path}?page=50&page_size=3"), &Auth::admin()).await;
        assert_eq!((beyond["count"].as_u64(), beyond["data"].as_array().map(Vec::len)), (Some(count), Some(0)));
        let desc = h.ok(&format!("{path}?sort=id&order=desc&page_size=0"), &Auth::admin()).await;
        let ids =
            |v: &Value| v["data"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>();
        assert_eq!(ids(&desc), ids(&all).into_iter().rev().collect::<Vec<_>>(), "{path}");
        let first = all["data"][0]["id"].as_i64().unwrap();
        let filtered = h.ok(&format!("{path}?_filter_id={first}"), &Auth::admin()).await;
        assert_eq!((filtered["count"].as_u64(), ids(&filtered)), (Some(1), vec![first]), "{path}");
        assert_eq!(
            h.ok(&format!("{path}?_filter_id__gt={first}"), &Auth::admin()).await["count"].as_u64(),
            Some(count - 1)
        );
        assert_eq!(h.ok(&format!("{path}?_filter_id__lte={first}"), &Auth::admin()).await["count"].as_u64(), Some(1));
        for (query, culprit) in [
            ("page=-1", "'page' must be a non-negative integer, got '-1'"),
            ("page_size=many", "'page_size' must be a non-negative integer, got 'many'"),
            ("page_size=1001", "'page_size' is at most 1000"),
            ("_filter_colour=1", "(filterable: "),
            ("_filter_id__regex=1", "unknown lookup '__regex'"),
            ("_filter_id=\"abc\"", "expected an integer"),
            ("sort=colour", "(sortable: "),
            ("order=up", "'order' must be asc or desc, got 'up'"),
        ] {
            let reply = h.get(&format!("{path}?{query}"), &Auth::admin()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}?{query}: {}", reply.text);
            assert_eq!(reply.body["failed"], true);
            assert!(reply.body["message"].as_str().unwrap().contains(culprit), "{path}?{query}: {}", reply.text);
        }
    }

    // Users: the filter is no longer ignored; secrets stay out, and cannot be filtered on.
    let count = |path: String| {
        let h = &h;
        async move { h.ok(&path, &Auth::admin()).await["count"].as_u64().unwrap() }
    };
    let bob = h.ok("/rest/ph_user?_filter_username=\"bob\"", &Auth::admin()).await;
    assert_eq!((bob["count"].as_u64(), bob["data"][0]["username"].as_str()), (Some(1), Some("bob")));
    assert_eq!(count("/rest/ph_user?_filter_username__in=[\"alice\",\"carol\"]".into()).await, 2);
    assert_eq!(count("/rest/ph_user?_filter_username__icontains=\"AR\"".into()).await, 1);
    assert_eq!(count("/rest/ph_user?_filter_is_active=false".into()).await, 1);
    assert_eq!(count("/rest/ph_user?_filter_email__isnull=false".into()).await, 5);
    assert_eq!(count("/rest/ph_user?_filter_create_time__gte=\"2020-01-01T00:00:00Z\"".into()).await, 5);
    assert_eq!(count("/rest/ph_user?_filter_create_time__lt=\"2020-01-01T00:00:00Z\"".into()).await, 0);
    let sorted = h.ok("/rest/ph_user?sort=username&order=desc&page_size=2", &Auth::admin()).await;
    let names: Vec<&str> = sorted["data"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["dave", "carol"]);
    let all_users = h.get("/rest/ph_user?page_size=0&pretty", &Auth::admin()).await;
    assert!(!all_users.text.contains("argon2") && !all_users.text.contains("password"), "{}", all_users.text);
    let carol_shown = all_users.body["data"].as_array().unwrap().iter().find(|u| u["id"] == carol).unwrap().clone();
    assert_eq!(carol_shown["_pretty_roles"], json!(["Observer", "Analysts"]), "{carol_shown}");
    assert!(h.ok("/rest/ph_user", &Auth::admin()).await["data"][0].get("_pretty_roles").is_none());
    assert_eq!(h.ok(&format!("/rest/ph_user/{carol}?pretty"), &Auth::admin()).await["_pretty_roles"][1], "Analysts");
    for secret in ["_filter_password_hash=\"x\"", "_filter_password=\"x\"", "sort=password_hash"] {
        assert_eq!(h.get(&format!("/rest/ph_user?{secret}"), &Auth::admin()).await.status, StatusCode::BAD_REQUEST);
    }

    // Roles.
    let builtin = h.ok("/rest/role?_filter_builtin=true&sort=name&order=desc", &Auth::admin()).await;
    assert_eq!(builtin["count"], 3);
    assert_eq!(builtin["data"][0]["name"], "Observer");
    assert_eq!(count("/rest/role?_filter_name__icontains=\"analyst\"".into()).await, 1);
    let analysts = h.ok("/rest/role?_filter_name=\"Analysts\"&pretty", &Auth::admin()).await;
    assert_eq!(analysts["data"][0]["_pretty_users"], json!(["carol"]));

    // Tokens: the user's only, never a key or a hash.
    let path = format!("/rest/ph_user/{carol}/token");
    assert_eq!(count(format!("{path}?page_size=0")).await, 4, "the one from `user`, and three more");
    assert_eq!(count(format!("{path}?_filter_revoked_time__isnull=false")).await, 1);
    assert_eq!(count(format!("{path}?_filter_label__in=ci,splunk")).await, 2);
    let pretty = h.get(&format!("{path}?_filter_label=\"ci\"&pretty"), &Auth::admin()).await;
    assert_eq!(
        (pretty.body["count"].as_u64(), pretty.body["data"][0]["_pretty_user"].as_str()),
        (Some(1), Some("carol"))
    );
    assert!(!pretty.text.contains("hash"), "{}", pretty.text);
    assert_eq!(
        h.get(&format!("{path}?_filter_token_hash=\"x\""), &Auth::admin()).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(count(format!("/rest/ph_user/{}/token", users[1])).await, 1, "bob's own");

    // App status: the standard parameters and filters apply (seed 003).
    assert_eq!(count(format!("/rest/app_status?_filter_asset={two}")).await, 1);
    assert_eq!(count("/rest/app_status?_filter_status=\"failed\"".into()).await, 0);
    let backwards = h.ok("/rest/app_status?sort=asset&order=desc&pretty", &Auth::admin()).await;
    assert_eq!(
        (backwards["data"][0]["asset"].as_i64(), backwards["data"][0]["_pretty_asset"].as_str()),
        (Some(two), Some("checker-two"))
    );
}
