//! The store contract of issue 6 (roles, users and tokens, the audit trail, settings and
//! system figures): the same cases against SQLite and PostgreSQL.

use outpost_broker::access::permissions::{Permission, Required};
use outpost_broker::listing::{ListQuery, Order, Value};
use outpost_broker::store::audit_records::{AuditQuery, AuditRecord, Selection};
use outpost_broker::store::collections::{APP_STATUSES, Collection, ROLES, TOKENS, USERS};
use outpost_broker::store::containers::ContainerFields;
use outpost_broker::store::roles::RoleFields;
use outpost_broker::store::runs::{NewActionRun, NewAppRun, NewParameterSet};
use outpost_broker::store::system::ActionRunFilter;
use outpost_broker::store::users::UserFields;
use outpost_broker::store::{Page, Store};
use outpost_proto::manifest::Manifest;
use outpost_proto::time::now_ms;
use outpost_proto::v1::{ResultStatus, Task, TaskResult};
use serde_json::json;

both_backends!(
    users_hold_roles_and_grants_are_the_union_of_active_roles,
    tokens_expire_and_are_revoked,
    audit_is_append_only_unique_selected_and_purged,
    a_roles_audit_holds_what_its_members_did_and_what_was_done_to_them,
    readers_without_users_roles_view_get_no_records_about_people,
    users_roles_and_tokens_list_with_filters_and_sorting,
    settings_connectivity_statuses_and_figures,
);

fn user(name: &str) -> UserFields {
    UserFields { username: name.into(), is_active: true, user_type: "normal".into(), ..Default::default() }
}

async fn users_hold_roles_and_grants_are_the_union_of_active_roles(store: Store) {
    let every_role = ListQuery::new(&ROLES).with_page(Page { page: 0, page_size: 0 });
    let roles = store.list_roles_by(&every_role).await.unwrap().data;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Administrator", "Automation", "Observer"]);
    assert!(roles.iter().all(|r| r.builtin && r.is_active));
    let observer = store.find_role("Observer").await.unwrap().unwrap();

    let ana = store.create_user_with(&user("ana"), "hash").await.unwrap();
    assert_eq!(ana.user_type, "normal");
    assert!(store.create_user_with(&user("ana"), "hash").await.unwrap_err().is_unique_violation());
    let custom = store
        .create_role(&RoleFields {
            name: "Auditors".into(),
            permissions: vec!["audit:view".into()],
            is_active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!custom.builtin);
    store.set_user_roles(ana.id, &[observer.id, custom.id]).await.unwrap();
    assert_eq!(store.user_role_ids(ana.id).await.unwrap(), vec![observer.id, custom.id]);
    assert_eq!(store.role_member_ids(custom.id).await.unwrap(), vec![ana.id]);
    let grants = store.grants(ana.id).await.unwrap();
    assert_eq!(grants.roles, ["Observer", "Auditors"]);
    assert!(grants.allows(Required::Permission(Permission::UsersRolesView)));
    assert!(!grants.allows(Required::Administrator));

    // A disabled role grants nothing.
    let fields = RoleFields {
        is_active: false,
        permissions: vec!["apps:edit".into()],
        ..RoleFields { name: "Auditors".into(), ..Default::default() }
    };
    let disabled = store.update_role(custom.id, &fields).await.unwrap().unwrap();
    assert!(!disabled.is_active);
    assert_eq!(store.grants(ana.id).await.unwrap().roles, ["Observer"]);
    store.set_role_members(custom.id, &[]).await.unwrap();
    assert!(store.role_member_ids(custom.id).await.unwrap().is_empty());

    // Administrators: the bootstrap admin is made by the broker, not the store.
    assert!(store.active_administrators().await.unwrap().is_empty());
    let admin_role = store.find_role("Administrator").await.unwrap().unwrap();
    store.grant_role(ana.id, admin_role.id).await.unwrap();
    store.grant_role(ana.id, admin_role.id).await.unwrap();
    assert_eq!(store.active_administrators().await.unwrap(), vec![ana.id]);
    assert!(store.grants(ana.id).await.unwrap().administrator);
    let off = UserFields { is_active: false, ..user("ana") };
    store.update_user(ana.id, &off).await.unwrap().unwrap();
    assert!(store.active_administrators().await.unwrap().is_empty(), "a disabled user is no administrator");

    let page = store.list_users(&ListQuery::new(&USERS).with_page(Page { page: 0, page_size: 1 })).await.unwrap();
    assert_eq!((page.count, page.num_pages, page.data.len()), (1, 1, 1));
    assert_eq!(store.count_rows("roles").await.unwrap(), 4);
}

async fn tokens_expire_and_are_revoked(store: Store) {
    let bob = store.create_user_with(&user("bob"), "hash").await.unwrap();
    let live = store.add_token_expiring(bob.id, "hash-live", "ci", None).await.unwrap();
    let expired = store.add_token_expiring(bob.id, "hash-expired", "old", Some(now_ms() - 1)).await.unwrap();
    assert_eq!(store.user_by_token_hash("hash-live").await.unwrap().unwrap().id, bob.id);
    assert!(store.user_by_token_hash("hash-expired").await.unwrap().is_none(), "expired tokens do not authenticate");
    let mut newest_first = ListQuery::new(&TOKENS).with_eq("user", Value::Int(bob.id));
    newest_first.order = Order::Desc;
    let listed = store.list_tokens_by(&newest_first).await.unwrap().data;
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![expired.id, live.id]);
    assert_eq!(listed[1].label, "ci");
    assert!(store.revoke_token(bob.id, live.id).await.unwrap());
    assert!(!store.revoke_token(bob.id, live.id).await.unwrap(), "a token is revoked once");
    assert!(store.user_by_token_hash("hash-live").await.unwrap().is_none());
    store.add_token_expiring(bob.id, "hash-2", "", Some(now_ms() + 60_000)).await.unwrap();
    assert_eq!(store.revoke_all_tokens(bob.id).await.unwrap(), 2, "the expired one counts: it was never revoked");
    assert!(store.user_by_token_hash("hash-2").await.unwrap().is_none());
}

fn record(
    source: &str,
    audit_id: i64,
    time_ms: i64,
    user_id: Option<i64>,
    category: &str,
    object: (&str, Option<i64>),
) -> AuditRecord {
    AuditRecord {
        source: source.into(),
        audit_id,
        time_ms,
        user_id,
        username: user_id.map(|u| format!("user{u}")).unwrap_or_default(),
        ip: "10.0.0.1".into(),
        category: category.into(),
        object_type: object.0.into(),
        object_id: object.1,
        related_type: None,
        related_id: None,
        note: String::new(),
        changed_field: String::new(),
        old_value: None,
        new_value: None,
    }
}

async fn audit_is_append_only_unique_selected_and_purged(store: Store) {
    let ana = store.create_user_with(&user("ana"), "h").await.unwrap();
    let bob = store.create_user_with(&user("bob"), "h").await.unwrap();
    let role =
        store.create_role(&RoleFields { name: "R".into(), is_active: true, ..Default::default() }).await.unwrap();
    store.set_user_roles(ana.id, &[role.id]).await.unwrap();
    let t = now_ms() - 10_000;
    let mut run = record("Action Run", 41, t + 1, Some(bob.id), "container", ("action", None));
    run.related_type = Some("container".into());
    run.related_id = Some(7);
    run.old_value = Some(String::new());
    store
        .append_audit(&[
            record("Audit", 0, t, Some(ana.id), "container", ("container", Some(7))),
            run.clone(),
            record("Audit", 0, t + 2, None, "authentication", ("authentication", None)),
            record("Audit", 0, t + 3, Some(bob.id), "administration", ("asset", Some(3))),
            record("Audit", 0, t + 4, Some(bob.id), "role", ("role", Some(role.id))),
            record("Audit", 0, t + 5, None, "ph_user", ("ph_user", Some(bob.id))),
        ])
        .await
        .unwrap();
    assert!(
        store.append_audit(&[run.clone()]).await.unwrap_err().is_unique_violation(),
        "(source, AUDIT ID) is unique"
    );
    let window = AuditQuery { start_ms: t - 1, end_ms: now_ms() + 1, ..Default::default() };
    let all = store.query_audit(&window).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].time_ms, t + 5, "newest first");
    let keys: std::collections::HashSet<_> = all.iter().map(|r| (r.source.clone(), r.audit_id)).collect();
    assert_eq!(keys.len(), 6);
    let action_run = all.iter().find(|r| r.source == "Action Run").unwrap();
    assert_eq!((action_run.audit_id, action_run.related_id, action_run.old_value.as_deref()), (41, Some(7), Some("")));

    let count = |q: AuditQuery| {
        let store = store.clone();
        async move { store.query_audit(&q).await.unwrap().iter().map(|r| r.time_ms - t).collect::<Vec<_>>() }
    };
    let ascending = AuditQuery { ascending: true, ..window.clone() };
    assert_eq!(count(ascending.clone()).await, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(
        count(AuditQuery { users: Some(Selection::Ids(vec![bob.id])), ..ascending.clone() }).await,
        vec![1, 3, 4, 5],
        "by bob or about bob"
    );
    assert_eq!(count(AuditQuery { users: Some(Selection::All), ..ascending.clone() }).await, vec![0, 1, 3, 4, 5]);
    assert_eq!(
        count(AuditQuery { roles: Some(Selection::Ids(vec![role.id])), ..ascending.clone() }).await,
        vec![0, 4],
        "the role and its members"
    );
    assert_eq!(count(AuditQuery { containers: Some(Selection::Ids(vec![7])), ..ascending.clone() }).await, vec![0, 1]);
    assert_eq!(count(AuditQuery { containers: Some(Selection::All), ..ascending.clone() }).await, vec![0, 1]);
    assert_eq!(count(AuditQuery { authentication: true, administration: true, ..ascending.clone() }).await, vec![2, 3]);
    assert!(count(AuditQuery { playbooks: Some(Selection::Nothing), ..ascending.clone() }).await.is_empty());
    assert!(count(AuditQuery { users: Some(Selection::Ids(vec![])), ..ascending.clone() }).await.is_empty());
    assert_eq!(
        count(AuditQuery { playbooks: Some(Selection::Nothing), authentication: true, ..ascending.clone() }).await,
        vec![2],
        "selections are OR-ed"
    );
    assert_eq!(count(AuditQuery { limit: Some(2), offset: 2, ..ascending.clone() }).await, vec![2, 3]);
    assert_eq!(
        count(AuditQuery { start_ms: t + 2, end_ms: t + 4, ..ascending.clone() }).await,
        vec![2, 3],
        "start inclusive, end exclusive"
    );

    assert_eq!(store.purge_audit(t + 3).await.unwrap(), 3);
    assert_eq!(count(ascending).await, vec![3, 4, 5]);
}

async fn a_roles_audit_holds_what_its_members_did_and_what_was_done_to_them(store: Store) {
    let ana = store.create_user_with(&user("ana"), "h").await.unwrap();
    let bob = store.create_user_with(&user("bob"), "h").await.unwrap();
    let role =
        store.create_role(&RoleFields { name: "R".into(), is_active: true, ..Default::default() }).await.unwrap();
    store.set_user_roles(ana.id, &[role.id]).await.unwrap();
    let t = now_ms() - 10_000;
    store
        .append_audit(&[
            record("Audit", 0, t, Some(ana.id), "container", ("container", Some(7))),
            record("Audit", 0, t + 1, Some(bob.id), "ph_user", ("ph_user", Some(ana.id))),
            record("Audit", 0, t + 2, Some(bob.id), "ph_user", ("ph_user", Some(bob.id))),
            record("Audit", 0, t + 3, Some(bob.id), "role", ("role", Some(role.id))),
        ])
        .await
        .unwrap();
    let times = |q: AuditQuery| {
        let store = store.clone();
        async move { store.query_audit(&q).await.unwrap().iter().map(|r| r.time_ms - t).collect::<Vec<_>>() }
    };
    let window = AuditQuery { start_ms: t, end_ms: now_ms() + 1, ascending: true, ..Default::default() };
    let of_user = times(AuditQuery { users: Some(Selection::Ids(vec![ana.id])), ..window.clone() }).await;
    let of_role = times(AuditQuery { roles: Some(Selection::Ids(vec![role.id])), ..window.clone() }).await;
    assert_eq!(of_user, vec![0, 1], "what ana did and what bob did to her");
    assert_eq!(of_role, vec![0, 1, 3], "the role's changes and the union of its members' audits");
    assert_eq!(times(AuditQuery { roles: Some(Selection::All), ..window.clone() }).await, vec![0, 1, 3]);
    store.set_user_roles(ana.id, &[]).await.unwrap();
    assert_eq!(
        times(AuditQuery { roles: Some(Selection::Ids(vec![role.id])), ..window }).await,
        vec![3],
        "current members only"
    );
}

async fn readers_without_users_roles_view_get_no_records_about_people(store: Store) {
    let ana = store.create_user_with(&user("ana"), "h").await.unwrap();
    let bot = store.create_user_with(&user("bot"), "h").await.unwrap();
    let t = now_ms() - 10_000;
    let mut denied = record("Audit", 0, t + 5, Some(bot.id), "authentication", ("authorization", None));
    denied.note = "users_roles:view:Failed".into();
    store
        .append_audit(&[
            record("Audit", 0, t, Some(ana.id), "container", ("container", Some(7))),
            record("Audit", 0, t + 1, Some(ana.id), "ph_user", ("ph_user", Some(bot.id))),
            record("Audit", 0, t + 2, Some(ana.id), "role", ("role", Some(3))),
            record("Audit", 0, t + 3, Some(ana.id), "authentication", ("authentication", None)),
            record("Audit", 0, t + 4, None, "authentication", ("authentication", None)),
            denied,
            record("Audit", 0, t + 6, Some(bot.id), "authentication", ("authentication", None)),
            record("Audit", 0, t + 7, Some(ana.id), "administration", ("asset", Some(1))),
        ])
        .await
        .unwrap();
    let times = |q: AuditQuery| {
        let store = store.clone();
        async move { store.query_audit(&q).await.unwrap().iter().map(|r| r.time_ms - t).collect::<Vec<_>>() }
    };
    let window = AuditQuery { start_ms: t, end_ms: now_ms() + 1, ascending: true, ..Default::default() };
    assert_eq!(times(window.clone()).await, vec![0, 1, 2, 3, 4, 5, 6, 7]);
    let hidden = AuditQuery { people_hidden_from: Some(bot.id), ..window.clone() };
    assert_eq!(times(hidden.clone()).await, vec![0, 5, 6, 7], "no user or role records, only bot's own sign-ins");
    assert_eq!(times(AuditQuery { authentication: true, ..hidden }).await, vec![5, 6]);
}

async fn users_roles_and_tokens_list_with_filters_and_sorting(store: Store) {
    let mut ids = vec![];
    for name in ["carol", "bob", "alice"] {
        ids.push(store.create_user_with(&user(name), "argon2-hash").await.unwrap().id);
    }
    let off = store.create_user_with(&UserFields { is_active: false, ..user("dave") }, "h").await.unwrap();
    let query = |collection: &'static Collection, params: &[(&str, &str)]| {
        outpost_broker::listing::parse(collection, params.iter().copied()).unwrap()
    };
    let names = |listing: outpost_broker::store::Listing<outpost_broker::store::users::User>| {
        listing.data.iter().map(|u| u.username.clone()).collect::<Vec<_>>()
    };
    let bob = store.list_users(&query(&USERS, &[("_filter_username", "\"bob\"")])).await.unwrap();
    assert_eq!((bob.count, names(bob)), (1, vec!["bob".to_string()]));
    let sorted = store.list_users(&query(&USERS, &[("sort", "username"), ("order", "desc")])).await.unwrap();
    assert_eq!(names(sorted), ["dave", "carol", "bob", "alice"]);
    let active = store.list_users(&query(&USERS, &[("_filter_is_active", "false")])).await.unwrap();
    assert_eq!(active.data[0].id, off.id);
    let some = store.list_users(&query(&USERS, &[("_filter_username__in", "[\"alice\",\"carol\"]")])).await.unwrap();
    assert_eq!(some.count, 2);
    assert!(outpost_broker::listing::parse(&USERS, [("_filter_password_hash", "\"x\"")]).is_err());

    let roles = store.list_roles_by(&query(&ROLES, &[("_filter_name__icontains", "\"AUTO\"")])).await.unwrap();
    assert_eq!(roles.data.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Automation"]);
    let builtin =
        store.list_roles_by(&query(&ROLES, &[("_filter_builtin", "true"), ("page_size", "2")])).await.unwrap();
    assert_eq!((builtin.count, builtin.num_pages, builtin.data.len()), (3, 2, 2));

    let live = store.add_token_expiring(off.id, "hash-a", "ci", None).await.unwrap();
    let gone = store.add_token_expiring(off.id, "hash-b", "old", None).await.unwrap();
    store.add_token_expiring(ids[0], "hash-c", "someone else's", None).await.unwrap();
    store.revoke_token(off.id, gone.id).await.unwrap();
    let of_dave = |params: &[(&str, &str)]| query(&TOKENS, params).with_eq("user", Value::Int(off.id));
    let all = store.list_tokens_by(&of_dave(&[])).await.unwrap();
    assert_eq!(all.data.iter().map(|t| t.id).collect::<Vec<_>>(), vec![live.id, gone.id]);
    let unrevoked = store.list_tokens_by(&of_dave(&[("_filter_revoked_time__isnull", "true")])).await.unwrap();
    assert_eq!(unrevoked.data.iter().map(|t| t.id).collect::<Vec<_>>(), vec![live.id]);
    let labelled = store.list_tokens_by(&of_dave(&[("_filter_label", "'old'")])).await.unwrap();
    assert_eq!(labelled.data[0].id, gone.id);
}

fn manifest() -> Manifest {
    Manifest::parse(
        json!({
            "appid": "1b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
            "name": "Checker",
            "app_version": "1.0.0",
            "actions": [
                {"action": "test connectivity", "identifier": "test_connectivity", "type": "test"},
                {"action": "lookup", "identifier": "lookup", "type": "investigate"}
            ]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

async fn settings_connectivity_statuses_and_figures(store: Store) {
    assert_eq!(store.setting("base_url").await.unwrap(), None);
    store.set_setting("base_url", "https://a").await.unwrap();
    store.set_setting("base_url", "https://b").await.unwrap();
    assert_eq!(store.setting("base_url").await.unwrap().as_deref(), Some("https://b"));

    let (app, _) = store.install_app(&manifest(), &"d".repeat(64), b"component").await.unwrap();
    let mut assets = vec![];
    for name in ["one", "two"] {
        let asset = outpost_broker::store::assets::NewAsset {
            name: name.into(),
            app_id: app.id,
            description: String::new(),
            configuration: Default::default(),
            automation_broker_id: None,
            tags: vec![],
            timeout_secs: None,
        };
        assets.push(store.create_asset(&asset).await.unwrap());
    }
    let container = store
        .create_container(&ContainerFields {
            name: "system".into(),
            label: "ops".into(),
            status: "new".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let run = |action: &str, kind: &str, asset_id: i64| NewActionRun {
        action: action.into(),
        name: format!("{action} run"),
        action_type: kind.into(),
        container_id: container.id,
        creator: Some(1),
        exec_delay_secs: 0,
        targets: json!([]),
        app_runs: vec![NewAppRun {
            asset_id,
            app_id: app.id,
            app_name: "Checker".into(),
            app_version: "1.0.0".into(),
            segment: "default".into(),
            automation_broker_id: None,
            task: Task { action: action.into(), ..Default::default() },
            parameters: vec![NewParameterSet { parameters: Default::default(), context: Default::default() }],
        }],
    };
    let before = now_ms() - 1;
    store.create_action_run(&run("test connectivity", "test", assets[0].id)).await.unwrap();
    store.create_action_run(&run("test connectivity", "test", assets[0].id)).await.unwrap();
    store.create_action_run(&run("test connectivity", "test", assets[1].id)).await.unwrap();
    store.create_action_run(&run("lookup", "investigate", assets[1].id)).await.unwrap();
    let due = store.due_tasks(now_ms(), 10).await.unwrap();
    let results: Vec<TaskResult> = due
        .iter()
        .map(|t| TaskResult {
            task_id: t.task.task_id.clone(),
            action_run_id: t.task.action_run_id,
            app_run_id: t.task.app_run_id,
            parameter_index: t.task.parameter_index,
            status: ResultStatus::Success as i32,
            message: "Connectivity test succeeded".into(),
            summary_json: "{}".into(),
            started_unix_ms: now_ms(),
            finished_unix_ms: now_ms(),
            ..Default::default()
        })
        .collect();
    outpost_broker::runs::settle::record_results(&store, &results[1..]).await.unwrap();

    let statuses = store.app_statuses(&ListQuery::new(&APP_STATUSES)).await.unwrap();
    assert_eq!(statuses.count, 2, "one per asset: the latest test");
    let first = &statuses.data[0];
    assert_eq!(
        (first.asset_name.as_str(), first.app_name.as_str(), first.status.as_str()),
        ("one", "Checker", "success")
    );
    assert_eq!(first.result_message, "Connectivity test succeeded");
    assert_eq!(first.id, due[1].task.app_run_id, "the latest of asset one's two tests");
    let page =
        store.app_statuses(&ListQuery::new(&APP_STATUSES).with_page(Page { page: 1, page_size: 1 })).await.unwrap();
    assert_eq!((page.count, page.num_pages, page.data[0].asset_name.as_str()), (2, 2, "two"));
    let query =
        |params: &[(&str, &str)]| outpost_broker::listing::parse(&APP_STATUSES, params.iter().copied()).unwrap();
    let failed = store.app_statuses(&query(&[("_filter_status", "\"failed\"")])).await.unwrap();
    assert_eq!(failed.count, 0, "filters apply: both latest tests succeeded");
    let by_asset = store.app_statuses(&query(&[("_filter_asset", &first.asset_id.to_string())])).await.unwrap();
    assert_eq!((by_asset.count, by_asset.data[0].asset_name.as_str()), (1, "one"));
    let backwards = store.app_statuses(&query(&[("sort", "asset"), ("order", "desc")])).await.unwrap();
    assert_eq!(backwards.data[0].asset_name, "two");

    let filter = ActionRunFilter { start_ms: before, end_ms: now_ms() + 1, ..Default::default() };
    let stats = store.action_stats(&filter, 10).await.unwrap();
    assert_eq!(stats[0].action, "test connectivity");
    assert_eq!(stats[0].total, 3);
    assert!(stats[0].average_duration_secs.is_some());
    assert_eq!((stats[1].action.as_str(), stats[1].total), ("lookup", 1));
    let labelled = ActionRunFilter { label: Some("elsewhere".into()), ..filter.clone() };
    assert!(store.action_stats(&labelled, 10).await.unwrap().is_empty());
    let by_user = ActionRunFilter { user_id: Some(1), label: Some("OPS".into()), ..filter.clone() };
    assert_eq!(store.action_run_times(&by_user).await.unwrap().len(), 4);
    assert_eq!(store.runs_since(before).await.unwrap(), (4, 4));
    assert_eq!(store.count_rows("assets").await.unwrap(), 2);
    assert!(store.count_rows("tasks").await.is_err(), "only known counters");
    assert!(store.store_bytes().await.unwrap().unwrap() > 0);
}
