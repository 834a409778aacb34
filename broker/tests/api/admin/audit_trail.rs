//! The audit trail (seed 002): every filter the seed shows, as json and csv; who may
//! read which records; query strings that cannot be decoded.

use std::collections::HashSet;

use outpost_tests::broker::TestBroker;
use outpost_tests::fake_worker::{connectivity, fake_worker};
use outpost_tests::rest::Auth;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{SECRET_APIKEY, app_and_asset};

/// One audit record, from json or csv.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Rec {
    /// `AUDIT SOURCE`.
    source: String,
    /// `AUDIT ID`.
    id: i64,
    /// `USER ID`.
    user_id: Option<i64>,
    /// `OBJECT TYPE`.
    object_type: String,
    /// `OBJECT ID`.
    object_id: Option<i64>,
    /// `RELATED OBJECT TYPE`.
    related_type: String,
    /// `RELATED OBJECT ID`.
    related_id: Option<i64>,
    /// `NOTE`.
    note: String,
    /// `CHANGED FIELD`.
    field: String,
}

fn from_json(v: &Value) -> Rec {
    Rec {
        source: v["AUDIT SOURCE"].as_str().unwrap().into(),
        id: v["AUDIT ID"].as_i64().unwrap(),
        user_id: v["USER ID"].as_i64(),
        object_type: v["OBJECT TYPE"].as_str().unwrap().into(),
        object_id: v["OBJECT ID"].as_i64(),
        related_type: v["RELATED OBJECT TYPE"].as_str().unwrap_or("").into(),
        related_id: v["RELATED OBJECT ID"].as_i64(),
        note: v["NOTE"].as_str().unwrap().into(),
        field: v["CHANGED FIELD"].as_str().unwrap().into(),
    }
}

fn from_csv(text: &str) -> Vec<Rec> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, outpost_broker::rest::render::CSV_COLUMNS);
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let id = |i: usize| r[i].parse::<i64>().ok();
            Rec {
                source: r[0].into(),
                id: id(1).unwrap(),
                user_id: id(3),
                object_type: r[7].into(),
                object_id: id(6),
                related_type: r[8].into(),
                related_id: id(9),
                note: r[10].into(),
                field: r[11].into(),
            }
        })
        .collect()
}

/// Fetches an audit URL as json and as csv; both must hold records matching `filter`.
async fn both_formats(h: &TestBroker, url: &str, filter: impl Fn(&Rec) -> bool) -> Vec<Rec> {
    let json = h.ok(url, &Auth::admin()).await;
    let records: Vec<Rec> = json.as_array().unwrap_or_else(|| panic!("{url}: {json}")).iter().map(from_json).collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    let csv = h.get(&format!("{url}{sep}format=csv"), &Auth::admin()).await;
    assert_eq!(csv.status, StatusCode::OK, "{url}: {}", csv.text);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv_records = from_csv(&csv.text);
    for r in records.iter().chain(&csv_records) {
        assert!(filter(r), "{url}: {r:?} does not belong");
    }
    let json_keys: HashSet<_> = records.iter().map(|r| (r.source.clone(), r.id)).collect();
    let csv_keys: HashSet<_> = csv_records.iter().map(|r| (r.source.clone(), r.id)).collect();
    assert!(json_keys.is_subset(&csv_keys), "{url}: the csv read came later and holds at least as much");
    assert_eq!(json_keys.len(), records.len(), "{url}: (AUDIT SOURCE, AUDIT ID) is unique");
    records
}

/// Without the audit reads themselves, which differ between two calls by design, and
/// sign-ins, which a long test may renew between two calls.
fn without_reads(records: &[Rec]) -> HashSet<Rec> {
    records.iter().filter(|r| !r.note.starts_with("GET:") && r.object_type != "authentication").cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_answers_every_query_the_seed_shows() {
    let h = TestBroker::start_with(|_| {}).await;
    fake_worker(h.bus.clone(), connectivity);
    let (ana, ana_token) = h.user("ana", "ana-password-secret", &["Observer"]).await;
    let (bot, bot_token) = h.user("bot", "bot-password-secret", &["Automation"]).await;
    let analysts = h
        .post(
            "/rest/role",
            &Auth::admin(),
            json!({"name": "Analysts", "permissions": ["containers:view"], "users": [ana]}),
        )
        .await;
    let analysts = analysts.body["id"].as_i64().unwrap();
    let (app, asset) = app_and_asset(&h, "geo").await;
    let alpha = h.container("alpha").await;
    let beta = h.container("beta").await;
    let run = h
        .post("/rest/action_run", &bot_token, json!({"action": "lookup", "container_id": alpha, "targets": [{"app_id": app, "assets": [asset], "parameters": [{"ip": "8.8.8.8"}]}]}))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    let run_id = run.body["action_run_id"].as_i64().unwrap();
    assert_eq!(h.get(&format!("/rest/container/{alpha}"), &ana_token).await.status, StatusCode::OK);
    assert_eq!(h.post("/rest/container", &ana_token, json!({"name": "nope"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.get("/rest/version", &Auth::Basic("ana".into(), "wrong-password".into())).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.post("/rest/system_settings", &Auth::admin(), json!({"base_url": "https://soar.example.com"})).await.status,
        StatusCode::OK
    );

    // The record shape: the seed's keys in the seed's order.
    let all = h.ok("/rest/audit", &Auth::admin()).await;
    let keys: Vec<&str> = all[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "AUDIT ID",
            "AUDIT SOURCE",
            "CHANGED FIELD",
            "IP ADDRESS",
            "NEW VALUE",
            "NOTE",
            "OBJECT ID",
            "OBJECT TYPE",
            "OLD VALUE",
            "RELATED OBJECT ID",
            "RELATED OBJECT TYPE",
            "TIME",
            "USER",
            "USER ID"
        ]
    );
    assert_eq!(all[0]["NOTE"], "GET:/rest/audit", "reading audit is audited, in its own answer");
    let action_run = all.as_array().unwrap().iter().find(|r| r["AUDIT SOURCE"] == "Action Run").unwrap();
    assert_eq!(action_run["AUDIT ID"], run_id);
    assert_eq!(action_run["NOTE"], "user initiated lookup action");
    assert_eq!((action_run["OBJECT TYPE"].as_str(), action_run["OBJECT ID"].as_str()), (Some("action"), Some("")));
    assert_eq!(
        (action_run["RELATED OBJECT TYPE"].as_str(), action_run["RELATED OBJECT ID"].as_i64()),
        (Some("container"), Some(alpha))
    );
    assert_eq!((action_run["USER"].as_str(), action_run["IP ADDRESS"].as_str()), (Some("bot"), Some("127.0.0.1")));
    assert!(all[0]["TIME"].as_str().unwrap().ends_with('Z'));
    // Secrets never show; changes of secret fields show masked.
    for text in [all.to_string(), h.get("/rest/audit?format=csv", &Auth::admin()).await.text] {
        assert!(!text.contains(SECRET_APIKEY) && !text.contains("ana-password-secret") && !text.contains("argon2"));
    }
    let secret = all.as_array().unwrap().iter().find(|r| r["CHANGED FIELD"] == "configuration.apikey").unwrap();
    assert_eq!((secret["NEW VALUE"].as_str(), secret["OBJECT TYPE"].as_str()), (Some("********"), Some("asset")));

    // Two successive reads differ: the first is in the second.
    let first = h.ok("/rest/audit", &Auth::admin()).await;
    let second = h.ok("/rest/audit", &Auth::admin()).await;
    assert!(second.as_array().unwrap().len() > first.as_array().unwrap().len());
    assert_eq!(second[1]["AUDIT ID"], first[0]["AUDIT ID"]);

    // Each pair of the seed answers alike (but for the reads they record).
    let by_user =
        |id: i64| move |r: &Rec| r.user_id == Some(id) || (r.object_type == "ph_user" && r.object_id == Some(id));
    let a = both_formats(&h, "/rest/audit?user=1", by_user(1)).await;
    let b = both_formats(&h, "/rest/user/1/audit", by_user(1)).await;
    let c = both_formats(&h, "/rest/ph_user/1/audit", by_user(1)).await;
    assert_eq!(without_reads(&a), without_reads(&b));
    assert_eq!(without_reads(&b), without_reads(&c));
    assert!(c[0].note == "GET:/rest/ph_user/1/audit" && c[0].object_type == "ph_user" && c[0].object_id == Some(1));

    // A role is a group of users: its audit is its own changes and the union of its
    // current members' audits, what they did and what was done to them.
    let by_role = |role: i64, members: Vec<i64>| {
        move |r: &Rec| {
            (r.object_type == "role" && r.object_id == Some(role))
                || members.contains(&r.user_id.unwrap_or(0))
                || (r.object_type == "ph_user" && members.contains(&r.object_id.unwrap_or(0)))
        }
    };
    let a = both_formats(&h, &format!("/rest/audit?role={analysts}"), by_role(analysts, vec![ana])).await;
    let b = both_formats(&h, &format!("/rest/role/{analysts}/audit"), by_role(analysts, vec![ana])).await;
    assert_eq!(without_reads(&a), without_reads(&b));
    assert!(
        a.iter().any(|r| r.user_id == Some(ana) && r.note == "containers:edit:Failed"),
        "a role's audit holds its members' events"
    );
    let ana_audit = both_formats(&h, &format!("/rest/ph_user/{ana}/audit"), by_user(ana)).await;
    let done_to_ana: HashSet<Rec> = without_reads(&ana_audit).into_iter().filter(|r| r.user_id != Some(ana)).collect();
    assert!(done_to_ana.iter().any(|r| r.note == "ana:created" && r.user_id == Some(1)), "{done_to_ana:?}");
    assert!(
        done_to_ana.is_subset(&without_reads(&b)),
        "what was done to a member is in the role's audit, as in the member's own"
    );

    for url in [
        "/rest/audit?playbook=1",
        "/rest/playbook/1/audit",
        "/rest/audit?playbook=*",
        "/rest/playbook/59/audit?sort=asc",
    ] {
        assert!(both_formats(&h, url, |_| false).await.is_empty(), "{url}: outpost has no playbooks");
    }

    let in_container = |id: i64| {
        move |r: &Rec| {
            (r.object_type == "container" && r.object_id == Some(id))
                || (r.related_type == "container" && r.related_id == Some(id))
        }
    };
    let a = both_formats(&h, &format!("/rest/audit?container={alpha}"), in_container(alpha)).await;
    let b = both_formats(&h, &format!("/rest/container/{alpha}/audit"), in_container(alpha)).await;
    assert_eq!(without_reads(&a), without_reads(&b));
    assert!(a.iter().any(|r| r.source == "Action Run" && r.id == run_id));
    assert!(
        a.iter().any(|r| r.note == format!("GET:/rest/container/{alpha}") && r.user_id == Some(ana)),
        "reads of a container are audited"
    );
    let by_name = both_formats(&h, "/rest/audit?container=alpha", in_container(alpha)).await;
    assert_eq!(without_reads(&by_name), without_reads(&a));
    assert!(
        both_formats(&h, &format!("/rest/audit?container={beta}"), in_container(beta))
            .await
            .iter()
            .any(|r| r.field == "name")
    );

    let categories = |r: &Rec| {
        ["authentication", "authorization", "asset", "app", "system_settings", "audit"]
            .contains(&r.object_type.as_str())
    };
    let events = both_formats(&h, "/rest/audit?authentication=*&administration=*", categories).await;
    let notes: Vec<&str> = events.iter().map(|r| r.note.as_str()).collect();
    for expected in ["login:Failed", "containers:edit:Failed", "token:Success", "system settings:updated"] {
        assert!(notes.contains(&expected), "{expected} in {notes:?}");
    }
    assert!(events.iter().any(|r| r.object_type == "system_settings" && r.field == "base_url"));

    let either = |r: &Rec| by_user(ana)(r) || by_user(bot)(r);
    let both = both_formats(&h, &format!("/rest/audit?user={ana}%1E{bot}"), either).await;
    assert!(both.iter().any(|r| r.user_id == Some(ana)) && both.iter().any(|r| r.user_id == Some(bot)));
    let by_names = both_formats(&h, "/rest/audit?user=ana%1Ebot", either).await;
    assert_eq!(without_reads(&by_names), without_reads(&both));

    let container_or_admin = |r: &Rec| {
        categories(r) && r.object_type != "authentication" && r.object_type != "authorization"
            || r.object_type == "container"
            || r.related_type == "container"
            || r.object_type == "action_run"
    };
    let mixed = both_formats(&h, "/rest/audit?container&admnistration&tenant=4%1E2", container_or_admin).await;
    assert!(mixed.iter().any(|r| r.object_type == "container") && mixed.iter().any(|r| r.object_type == "asset"));

    // The seed's csv example, byte for byte in its header.
    let csv = h.get(&format!("/rest/role/{analysts}/audit?format=csv"), &Auth::admin()).await;
    assert!(csv.text.starts_with("AUDIT SOURCE,AUDIT ID,TIME,USER ID,USER,IP ADDRESS,OBJECT ID,OBJECT TYPE,RELATED OBJECT TYPE,RELATED OBJECT ID,NOTE,CHANGED FIELD,OLD VALUE,NEW VALUE\n"));
    assert!(csv.text.lines().nth(1).unwrap().contains("+00:00,"));

    // Time windows and order.
    assert!(
        both_formats(&h, &format!("/rest/container/{alpha}/audit?end=2017-07-07&sort=asc"), |_| true).await.is_empty()
    );
    let ascending = h.ok(&format!("/rest/container/{alpha}/audit?sort=asc"), &Auth::admin()).await;
    let times: Vec<&str> = ascending.as_array().unwrap().iter().map(|r| r["TIME"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]) && times.len() >= 3, "{times:?}");
    assert!(
        h.ok("/rest/audit?start=2000-01-01&end=2000-01-02T00:00:00Z", &Auth::admin())
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let windowed = h.ok(&format!("/rest/audit?start={yesterday}&end={tomorrow}&sort=asc"), &Auth::admin()).await;
    assert!(windowed.as_array().unwrap().len() > 10);
    let paged = h.ok("/rest/audit?page=0&page_size=2", &Auth::admin()).await;
    assert_eq!(paged.as_array().unwrap().len(), 2);

    // Mistakes answer SOAR errors naming the culprit; the trail is append-only.
    for (url, status, culprit) in [
        ("/rest/audit?format=xml", 400, "'format'"),
        ("/rest/audit?sort=sideways", 400, "'sort'"),
        ("/rest/audit?start=yesterday", 400, "'start'"),
        ("/rest/audit?authentication=5", 400, "only takes *"),
        ("/rest/audit?usr=1", 400, "unknown parameter 'usr'"),
        ("/rest/container/1/audit?user=1", 400, "unknown parameter 'user'"),
        ("/rest/ph_user/99999/audit", 404, "user 99999 not found"),
        ("/rest/role/99999/audit", 404, "role 99999 not found"),
        ("/rest/container/99999/audit", 404, "container 99999 not found"),
        ("/rest/ph_user/x/audit", 400, "not a valid user id"),
    ] {
        let reply = h.get(url, &Auth::admin()).await;
        assert_eq!(reply.status.as_u16(), status, "{url}: {}", reply.text);
        assert_eq!(reply.body["failed"], true);
        assert!(reply.body["message"].as_str().unwrap().contains(culprit), "{url}: {}", reply.text);
    }
    for method in [Method::POST, Method::DELETE, Method::PUT] {
        assert_eq!(
            h.call(method, "/rest/audit", &Auth::admin(), Some(json!({}))).await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    // A member who leaves a role takes their events out of its audit.
    h.post(&format!("/rest/role/{analysts}"), &Auth::admin(), json!({"users": []})).await;
    let after = both_formats(&h, &format!("/rest/role/{analysts}/audit"), by_role(analysts, vec![])).await;
    assert!(after.iter().all(|r| r.user_id != Some(ana)));
    assert!(after.iter().all(|r| !(r.object_type == "ph_user" && r.object_id == Some(ana))));
    assert!(after.iter().any(|r| r.field == "users"), "the membership change is a change to the role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automation_reads_the_audit_trail_but_not_users_and_roles() {
    let h = TestBroker::start_with(|_| {}).await;
    let (ana, _) = h.user("ana", "ana-password", &["Observer"]).await;
    let (bot, bot_token) = h.user("bot", "bot-password", &["Automation"]).await;
    let reply = h
        .post(&format!("/rest/ph_user/{ana}"), &Auth::admin(), json!({"email": "ana@example.com", "first_name": "Ana"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    h.post("/rest/role", &Auth::admin(), json!({"name": "Analysts", "users": [ana]})).await;
    h.get("/rest/version", &Auth::Basic("ana".into(), "wrong-password".into())).await;
    h.ok(&format!("/rest/ph_user/{ana}"), &Auth::admin()).await;
    let container = h.container("case").await;
    assert_eq!(h.get(&format!("/rest/container/{container}"), &bot_token).await.status, StatusCode::OK);

    // The administrator sees everything, people included.
    let everything = h.ok("/rest/audit", &Auth::admin()).await.to_string();
    for needle in ["ana@example.com", "\"ph_user\"", "\"role\"", "login:Failed"] {
        assert!(everything.contains(needle), "{needle} in {everything}");
    }

    // Selecting users or roles is reading users: 403, audited, json or csv.
    for url in [
        "/rest/audit?user=1",
        &format!("/rest/audit?user={ana}&format=csv"),
        "/rest/audit?role=*",
        "/rest/audit?container&role=2&format=csv",
    ] {
        let reply = h.get(url, &bot_token).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{url}: {}", reply.text);
        assert_eq!(reply.body["failed"], true, "{url}");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains("may not use") && message.contains("'users_roles:view'"), "{url}: {message}");
    }
    let denials = h.ok(&format!("/rest/audit?user={bot}&authentication=*"), &Auth::admin()).await;
    assert!(denials.as_array().unwrap().iter().any(|r| r["NOTE"] == "users_roles:view:Failed"), "{denials}");

    // Everything else, without the records about users and roles or others' sign-ins.
    let people = |r: &Rec| {
        ["ph_user", "role"].contains(&r.object_type.as_str())
            || (["authentication", "authorization"].contains(&r.object_type.as_str()) && r.user_id != Some(bot))
    };
    for url in ["/rest/audit", "/rest/audit?authentication=*&administration=*", "/rest/audit?container"] {
        let json = h.ok(url, &bot_token).await;
        let csv = h.get(&format!("{url}{}format=csv", if url.contains('?') { '&' } else { '?' }), &bot_token).await;
        assert_eq!(csv.status, StatusCode::OK, "{url}: {}", csv.text);
        let records: Vec<Rec> = json.as_array().unwrap().iter().map(from_json).chain(from_csv(&csv.text)).collect();
        assert!(!records.is_empty(), "{url}");
        for r in &records {
            assert!(!people(r), "{url}: {r:?} is about people");
        }
        for text in [json.to_string(), csv.text] {
            assert!(!text.contains("ana@example.com") && !text.contains("Analysts"), "{url}: {text}");
        }
    }
    let own = h.ok("/rest/audit?authentication=*", &bot_token).await;
    let notes: Vec<&str> = own.as_array().unwrap().iter().map(|r| r["NOTE"].as_str().unwrap()).collect();
    assert!(notes.contains(&"token:Success") && notes.contains(&"users_roles:view:Failed"), "its own: {notes:?}");
    let trail = h.ok("/rest/audit", &bot_token).await;
    assert!(
        trail.as_array().unwrap().iter().any(|r| r["NOTE"] == format!("GET:/rest/container/{container}")),
        "the rest of the trail is there"
    );
    assert!(trail.as_array().unwrap().iter().any(|r| r["NOTE"] == "case:created" && r["CHANGED FIELD"] == "name"));
    // The container audit is open to it and never held people.
    assert_eq!(h.get(&format!("/rest/container/{container}/audit"), &bot_token).await.status, StatusCode::OK);
    // An Observer holds users_roles:view: everything.
    let observer = Auth::Basic("ana".into(), "ana-password".into());
    assert_eq!(h.get("/rest/audit?user=1", &observer).await.status, StatusCode::OK);
    assert!(h.ok("/rest/audit", &observer).await.to_string().contains("ana@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_query_string_that_cannot_be_decoded_is_refused_before_its_parameters_are_checked() {
    let h = TestBroker::start_with(|_| {}).await;
    let (_, bot_token) = h.user("bot", "bot-password", &["Automation"]).await;
    // `user` needs users_roles:view on /rest/audit: a spelling the check cannot read is
    // refused for everyone, rather than let through unchecked.
    for (url, auth) in [
        ("/rest/audit?us%FFer=1", &bot_token),
        ("/rest/audit?user=%FF", &bot_token),
        ("/rest/audit?container&user=%C3", &Auth::admin()),
    ] {
        let reply = h.get(url, auth).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}: {}", reply.text);
        assert_eq!(
            reply.body,
            json!({"failed": true, "message": "malformed query string: a parameter is not UTF-8 once percent-decoded"}),
            "{url}"
        );
    }
    // A route without parameter rules leaves its query string to its handler, as before.
    assert_eq!(h.get("/rest/container?x=%FF", &Auth::admin()).await.status, StatusCode::OK);
}
