//! `ph-auth-token` tokens: issued, used, listed, revoked, and audited.

use outpost_tests::broker::TestBroker;
use outpost_tests::rest::Auth;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_issued_used_listed_and_revoked() {
    let h = TestBroker::start_with(|_| {}).await;
    let (dave, token) = h.user("dave", "dave-password", &["Observer"]).await;
    let Auth::Token(key) = token.clone() else { unreachable!() };
    assert_eq!(h.get("/rest/version", &token).await.status, StatusCode::OK);
    assert_eq!(h.get("/rest/version", &token).await.status, StatusCode::OK);

    let listed = h.ok(&format!("/rest/ph_user/{dave}/token"), &Auth::admin()).await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["data"][0]["status"], "active");
    assert!(!listed.to_string().contains(&key), "the token is never shown again");
    let stored: Vec<String> = h
        .broker
        .store
        .db()
        .fetch_all("SELECT token_hash FROM tokens", vec![])
        .await
        .unwrap()
        .iter()
        .map(|r| r.text("token_hash").unwrap())
        .collect();
    assert!(stored.iter().all(|t| t != &key && t.len() == 64), "tokens are stored hashed");

    let second = h
        .post(&format!("/rest/ph_user/{dave}/token"), &Auth::admin(), json!({"label": "ci", "expires_in_days": 30}))
        .await;
    assert!(second.body["expires_on"].as_str().is_some());
    let second_token = Auth::Token(second.body["key"].as_str().unwrap().to_string());
    let token_id = listed["data"][0]["id"].as_i64().unwrap();
    let revoked = h.call(Method::DELETE, &format!("/rest/ph_user/{dave}/token/{token_id}"), &Auth::admin(), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let refused = h.get("/rest/version", &token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a revoked token stops at once");
    assert_eq!(refused.body["failed"], true);
    assert_eq!(h.get("/rest/version", &second_token).await.status, StatusCode::OK);
    assert_eq!(
        h.call(Method::DELETE, &format!("/rest/ph_user/{dave}/token/{token_id}"), &Auth::admin(), None).await.status,
        StatusCode::NOT_FOUND
    );
    let all = h.call(Method::DELETE, &format!("/rest/ph_user/{dave}/token"), &Auth::admin(), None).await;
    assert_eq!(all.body["revoked"], 1);
    assert_eq!(h.get("/rest/version", &second_token).await.status, StatusCode::UNAUTHORIZED);

    // Automation users sign in with tokens only.
    let bot = h
        .post(
            "/rest/ph_user",
            &Auth::admin(),
            json!({"username": "bot", "type": "automation", "roles": ["Automation"]}),
        )
        .await;
    let bot = bot.body["id"].as_i64().unwrap();
    let bot_token = Auth::Token(
        h.post(&format!("/rest/ph_user/{bot}/token"), &Auth::admin(), json!({})).await.body["key"]
            .as_str()
            .unwrap()
            .into(),
    );
    assert_eq!(h.get("/rest/action_run/1", &bot_token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        h.get("/rest/version", &Auth::Basic("bot".into(), String::new())).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Token use is audited once per window, failures always; issue and revoke as changes.
    let audit = h.ok(&format!("/rest/audit?user={dave}&authentication=*"), &Auth::admin()).await;
    let notes: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}",
                r["NOTE"].as_str().unwrap(),
                r["CHANGED FIELD"].as_str().unwrap(),
                r["USER"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(notes.iter().filter(|n| n.starts_with("token:Success||dave")).count(), 2, "{notes:?}");
    assert!(notes.iter().filter(|n| n.starts_with("token:Failed")).count() >= 2, "{notes:?}");
    assert!(notes.iter().any(|n| n == "dave:token issued|token|admin"), "{notes:?}");
    assert!(notes.iter().any(|n| n == "dave:token revoked|token|admin"), "{notes:?}");
    assert!(!audit.to_string().contains(&key));
}
