//! Users and roles managed over REST, and the rule that an administrator always remains.

use outpost_tests::broker::TestBroker;
use outpost_tests::rest::Auth;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_roles_are_managed_and_the_last_administrator_is_kept() {
    let h = TestBroker::start_with(|_| {}).await;
    let users = h.ok("/rest/ph_user", &Auth::admin()).await;
    assert_eq!(users["count"], 1);
    assert_eq!(users["data"][0]["username"], "admin");
    assert_eq!(users["data"][0]["roles"], json!([1]), "the bootstrap admin holds the Administrator role");
    assert!(users["data"][0].get("password").is_none() && !users.to_string().contains("argon2"));
    let roles = h.ok("/rest/role", &Auth::admin()).await;
    assert_eq!(roles["count"], 3);
    assert_eq!(roles["data"][1]["name"], "Automation");
    assert!(roles["data"][1]["permissions"].as_array().unwrap().contains(&json!("actions:execute")));

    // Bad input names the culprit.
    let bad = |body: Value, culprit: &'static str| {
        let h = &h;
        async move {
            let reply = h.post("/rest/ph_user", &Auth::admin(), body).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
            assert!(reply.body["message"].as_str().unwrap().contains(culprit), "{}", reply.text);
        }
    };
    bad(json!({"username": "x"}), "'password' is required").await;
    bad(json!({"username": "x", "password": "short"}), "'password'").await;
    bad(json!({"username": "x", "password": "long-enough", "colour": 1}), "unknown field 'colour'").await;
    bad(json!({"username": "bot", "type": "automation", "password": "long-enough"}), "tokens only").await;
    let missing_role = h
        .post("/rest/ph_user", &Auth::admin(), json!({"username": "x", "password": "long-enough", "roles": ["Nope"]}))
        .await;
    assert_eq!(missing_role.status, StatusCode::NOT_FOUND);
    assert!(missing_role.body["message"].as_str().unwrap().contains("'roles[0]': role 'Nope' not found"));

    let (carol, _) = h.user("carol", "carol-password", &["Observer"]).await;
    let duplicate =
        h.post("/rest/ph_user", &Auth::admin(), json!({"username": "carol", "password": "carol-password"})).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let carol_auth = Auth::Basic("carol".into(), "carol-password".into());
    assert_eq!(h.get("/rest/container/1", &carol_auth).await.status, StatusCode::NOT_FOUND, "an observer reads");
    // Roles change what a user may do at once.
    let reply = h
        .post(
            &format!("/rest/ph_user/{carol}"),
            &Auth::admin(),
            json!({"roles": ["Automation"], "first_name": "Carol"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(h.get("/rest/ph_user", &carol_auth).await.status, StatusCode::FORBIDDEN);
    let shown = h.ok(&format!("/rest/ph_user/{carol}"), &Auth::admin()).await;
    assert_eq!((shown["first_name"].as_str(), shown["roles"].clone()), (Some("Carol"), json!([2])));
    // A new password works at once; the old one does not.
    h.post(&format!("/rest/ph_user/{carol}"), &Auth::admin(), json!({"password": "carol-new-password"})).await;
    assert_eq!(h.get("/rest/version", &carol_auth).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.get("/rest/version", &Auth::Basic("carol".into(), "carol-new-password".into())).await.status,
        StatusCode::OK
    );
    // Disabling (SOAR's DELETE is a soft delete).
    let reply = h.call(Method::DELETE, &format!("/rest/ph_user/{carol}"), &Auth::admin(), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(h.ok(&format!("/rest/ph_user/{carol}"), &Auth::admin()).await["is_active"], false);
    let disabled = h.get("/rest/version", &Auth::Basic("carol".into(), "carol-new-password".into())).await;
    assert_eq!(disabled.status, StatusCode::UNAUTHORIZED);
    assert!(disabled.body["message"].as_str().unwrap().contains("disabled"));

    // Custom roles: permissions by name; built-in roles keep theirs.
    let reply = h
        .post(
            "/rest/role",
            &Auth::admin(),
            json!({"name": "Auditors", "permissions": ["audit:view"], "users": ["carol"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let auditors = reply.body["id"].as_i64().unwrap();
    let unknown = h.post("/rest/role", &Auth::admin(), json!({"name": "X", "permissions": ["root"]})).await;
    assert!(unknown.body["message"].as_str().unwrap().starts_with("'permissions[0]': unknown permission 'root'"));
    let builtin = h.post("/rest/role/1", &Auth::admin(), json!({"permissions": []})).await;
    assert_eq!(builtin.status, StatusCode::BAD_REQUEST);
    assert!(builtin.body["message"].as_str().unwrap().contains("built in"));
    assert_eq!(h.call(Method::DELETE, "/rest/role/3", &Auth::admin(), None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.call(Method::DELETE, &format!("/rest/role/{auditors}"), &Auth::admin(), None).await.status,
        StatusCode::OK
    );
    assert_eq!(h.ok(&format!("/rest/role/{auditors}"), &Auth::admin()).await["is_active"], false);
    assert_eq!(h.get("/rest/role/999", &Auth::admin()).await.status, StatusCode::NOT_FOUND);
    assert!(
        h.get("/rest/role/abc", &Auth::admin()).await.body["message"].as_str().unwrap().contains("not a valid role id")
    );

    // The last active administrator cannot be disabled or demoted.
    let last = h.call(Method::DELETE, "/rest/ph_user/1", &Auth::admin(), None).await;
    assert_eq!(last.status, StatusCode::BAD_REQUEST);
    assert!(last.body["message"].as_str().unwrap().contains("last active administrator"));
    assert_eq!(h.post("/rest/ph_user/1", &Auth::admin(), json!({"roles": []})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.post("/rest/role/1", &Auth::admin(), json!({"users": []})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.post("/rest/ph_user/1", &Auth::admin(), json!({"username": "root"})).await.status,
        StatusCode::BAD_REQUEST
    );
}
