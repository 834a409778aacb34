//! Every role against every route of the REST permission table, a route missing from the
//! table (Administrator only), and the same rules over gRPC.

use outpost_broker::access::permissions::REST;
use outpost_tests::broker::TestBroker;
use outpost_tests::grpc;
use outpost_tests::rest::{Auth, Rest};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::app_and_asset;

/// Who is calling, for the expectations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Who {
    Anonymous,
    NoRole,
    Observer,
    Automation,
    Administrator,
}

/// The words, independent of the table: Administrator everything; Automation
/// runs and cancels actions and reads everything but users; Observer reads; everyone
/// signed in reads system information (seed 003).
fn allowed(who: Who, method: &str, path: &str) -> bool {
    let system = [
        "/rest/version",
        "/rest/system_info",
        "/rest/license",
        "/rest/health",
        "/rest/app_status",
        "/rest/widget_data",
        "/rest/openapi.json",
    ]
    .iter()
    .any(|p| path == *p || path.starts_with(&format!("{p}/")))
        || (method == "GET" && path == "/rest/system_settings");
    let users = path.starts_with("/rest/ph_user") || path.starts_with("/rest/user/") || path.starts_with("/rest/role");
    match who {
        Who::Anonymous => false,
        Who::NoRole => system,
        Who::Observer => method == "GET",
        Who::Automation => {
            (method == "GET" && !users)
                || (method == "POST"
                    && ["/rest/action_run", "/rest/action_run/{id}", "/rest/asset/{id}/test"].contains(&path))
        }
        Who::Administrator => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_meets_every_route_of_the_permission_table() {
    let h = TestBroker::start_with(|_| {}).await;
    let (_, observer) = h.user("olga", "observer-password", &["Observer"]).await;
    let (_, automation) = h.user("auto", "automation-password", &["Automation"]).await;
    let (_, second_admin) = h.user("root2", "administrator-password", &["Administrator"]).await;
    let (_, no_role) = h.user("nobody", "nobody-password", &[]).await;
    let (victim, _) = h.user("victim", "victim-password", &[]).await;
    let role = h
        .post("/rest/role", &Auth::admin(), json!({"name": "Sacrificial", "permissions": ["apps:view"]}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let container = h.container("permissions").await;
    let (app, asset) = app_and_asset(&h, "perm-asset").await;

    let principals = [
        (Who::Anonymous, Auth::None),
        (Who::NoRole, no_role),
        (Who::Observer, observer.clone()),
        (Who::Automation, automation.clone()),
        (Who::Administrator, second_admin),
    ];
    let mut checked = 0;
    for rule in REST {
        let path = rule
            .path
            .replace("/rest/ph_user/{id}", &format!("/rest/ph_user/{victim}"))
            .replace("/rest/user/{id}", &format!("/rest/user/{victim}"))
            .replace("/rest/role/{id}", &format!("/rest/role/{role}"))
            .replace("/rest/container/{id}", &format!("/rest/container/{container}"))
            .replace("/rest/asset/{id}", &format!("/rest/asset/{asset}"))
            .replace("/rest/app/{id}", &format!("/rest/app/{app}"))
            .replace("{token_id}", "999999")
            .replace("{name}", "top_playbooks_actions")
            .replace("{id}", "999999");
        assert!(!path.contains('{'), "{path}");
        for (who, auth) in &principals {
            let method = Method::from_bytes(rule.method.as_bytes()).unwrap();
            let body = (rule.method == "POST").then(|| json!({}));
            let reply = h.call(method, &path, auth, body).await;
            let context = format!("{who:?} {} {path}: {} {}", rule.method, reply.status, reply.text);
            if *who == Who::Anonymous {
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{context}");
                assert_eq!(reply.body["failed"], true, "{context}");
            } else if allowed(*who, rule.method, rule.path) {
                assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&reply.status), "{context}");
                assert!(!reply.status.is_server_error(), "{context}");
            } else {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{context}");
                assert_eq!(reply.body["failed"], true, "{context}");
                assert!(reply.body["message"].as_str().unwrap().contains("may not"), "{context}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, REST.len() * 5);

    // Denials are audited as the seed shows them: `<permission>:Failed`.
    let denied = h.ok("/rest/audit?authentication=*", &Auth::admin()).await;
    let notes: Vec<&str> = denied.as_array().unwrap().iter().filter_map(|r| r["NOTE"].as_str()).collect();
    assert!(notes.contains(&"users_roles:view:Failed"), "{notes:?}");
    assert!(notes.contains(&"containers:edit:Failed"), "{notes:?}");

    // A route without a row in the table is Administrator-only.
    let extra = axum::Router::new().route("/rest/unlisted", axum::routing::get(|| async { "reached" }));
    let app = outpost_broker::rest::router_with(h.broker.clone(), extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = h.shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .unwrap()
    });
    let unlisted = |auth: Auth| async move {
        Rest::new(&format!("http://{addr}"), auth).call(Method::GET, "/rest/unlisted", None).await.status
    };
    assert_eq!(unlisted(observer.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(unlisted(automation.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(unlisted(Auth::None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(unlisted(Auth::admin()).await, StatusCode::OK);

    // gRPC: the same table, the same answers.
    use outpost_proto::v1::action_service_client::ActionServiceClient;
    use outpost_proto::v1::{CancelActionRunRequest, GetActionRunRequest};
    let mut client = ActionServiceClient::new(grpc::channel(&h.grpc_url).await);
    let with = |auth: &Auth, id: i64| {
        let mut request = tonic::Request::new(GetActionRunRequest { id });
        if let Auth::Token(t) = auth {
            request.metadata_mut().insert("ph-auth-token", t.parse().unwrap());
        }
        request
    };
    fn code<T>(r: Result<T, tonic::Status>) -> Option<tonic::Code> {
        r.err().map(|s| s.code())
    }
    assert_eq!(code(client.get_action_run(with(&Auth::None, 999_999)).await), Some(tonic::Code::Unauthenticated));
    assert_eq!(code(client.get_action_run(with(&principals[1].1, 999_999)).await), Some(tonic::Code::PermissionDenied));
    assert_eq!(code(client.get_action_run(with(&observer, 999_999)).await), Some(tonic::Code::NotFound));
    let cancel = |auth: &Auth| {
        let mut request = tonic::Request::new(CancelActionRunRequest { id: 999_999 });
        if let Auth::Token(t) = auth {
            request.metadata_mut().insert("ph-auth-token", t.parse().unwrap());
        }
        request
    };
    assert_eq!(code(client.cancel_action_run(cancel(&observer)).await), Some(tonic::Code::PermissionDenied));
    assert_eq!(code(client.cancel_action_run(cancel(&automation)).await), Some(tonic::Code::NotFound));
    let channel = grpc::channel(&h.grpc_url).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await;
    assert!(serving.is_ok(), "the standard health check needs no credentials: {serving:?}");
}
