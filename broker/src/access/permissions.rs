//! Who may do what: the one table of permissions for every REST route and gRPC method.
//!
//! A route's requirement is looked up here by (HTTP method, route template) — the
//! template as the router declares it, e.g. `/rest/action_run/{id}` — and checked once,
//! in the REST auth middleware ([`crate::rest`]) and the gRPC auth layer
//! ([`crate::grpc`]). Handlers never check permissions themselves. A route or method
//! without a row here is **Administrator-only**: adding an endpoint without deciding who
//! may call it cannot open it to everyone.
//!
//! A few query parameters take more than their route ([`REST_PARAMETERS`]), checked in
//! the same place; and audit records about users and roles are shown only to readers
//! holding [`PEOPLE_IN_AUDIT`].
//!
//! Permission names follow SOAR's `<object>:<verb>` (its audit log shows denials as
//! `containers:view:Failed`).

use std::collections::BTreeSet;

use http::Method;

/// One thing a role may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    ContainersView,
    ContainersEdit,
    ActionsView,
    /// Run and cancel actions, test asset connectivity.
    ActionsExecute,
    AssetsView,
    AssetsEdit,
    AppsView,
    AppsEdit,
    UsersRolesView,
    /// Users, roles and tokens.
    UsersRolesEdit,
    AuditView,
    /// Runtime settings (`/rest/system_settings`).
    SystemEdit,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::ContainersView,
        Permission::ContainersEdit,
        Permission::ActionsView,
        Permission::ActionsExecute,
        Permission::AssetsView,
        Permission::AssetsEdit,
        Permission::AppsView,
        Permission::AppsEdit,
        Permission::UsersRolesView,
        Permission::UsersRolesEdit,
        Permission::AuditView,
        Permission::SystemEdit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::ContainersView => "containers:view",
            Permission::ContainersEdit => "containers:edit",
            Permission::ActionsView => "actions:view",
            Permission::ActionsExecute => "actions:execute",
            Permission::AssetsView => "assets:view",
            Permission::AssetsEdit => "assets:edit",
            Permission::AppsView => "apps:view",
            Permission::AppsEdit => "apps:edit",
            Permission::UsersRolesView => "users_roles:view",
            Permission::UsersRolesEdit => "users_roles:edit",
            Permission::AuditView => "audit:view",
            Permission::SystemEdit => "system:edit",
        }
    }

    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.iter().copied().find(|p| p.name() == name.trim())
    }
}

/// What calling a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Nothing: the standard gRPC health check, for probes.
    Public,
    /// The worker token, checked by the handler (`AppService.FetchApp`).
    Worker,
    /// Any signed-in user (seed 003: system information needs no special permission).
    Authenticated,
    Permission(Permission),
    /// The Administrator role; also what every route without a row requires.
    Administrator,
}

impl Required {
    /// How a denial names what was missing: SOAR's `containers:view`, or `administrator`.
    pub fn name(self) -> &'static str {
        match self {
            Required::Permission(p) => p.name(),
            Required::Administrator => "administrator",
            Required::Public | Required::Worker | Required::Authenticated => "authenticated",
        }
    }
}

use Permission as P;
use Required::{Authenticated, Permission as Needs};

/// One row of the REST table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// `GET`, `POST` or `DELETE` (`HEAD` is checked as `GET`).
    pub method: &'static str,
    /// The route template exactly as the router declares it.
    pub path: &'static str,
    /// What the caller must hold.
    pub required: Required,
}

const fn rule(method: &'static str, path: &'static str, required: Required) -> Rule {
    Rule { method, path, required }
}

/// Every REST route and what it takes. New endpoints add a row; without one they are
/// Administrator-only.
pub const REST: &[Rule] = &[
    // Seed 003: system information, for every signed-in user.
    rule("GET", "/rest/version", Authenticated),
    rule("GET", "/rest/openapi.json", Authenticated),
    rule("GET", "/rest/system_info", Authenticated),
    rule("GET", "/rest/license", Authenticated),
    rule("GET", "/rest/health", Authenticated),
    rule("GET", "/rest/app_status", Authenticated),
    rule("GET", "/rest/widget_data", Authenticated),
    rule("GET", "/rest/widget_data/{name}", Authenticated),
    rule("GET", "/rest/system_settings", Authenticated),
    rule("POST", "/rest/system_settings", Needs(P::SystemEdit)),
    // Seeds 000/001: action runs.
    rule("POST", "/rest/action_run", Needs(P::ActionsExecute)),
    rule("GET", "/rest/action_run", Needs(P::ActionsView)),
    rule("GET", "/rest/action_run/{id}", Needs(P::ActionsView)),
    rule("POST", "/rest/action_run/{id}", Needs(P::ActionsExecute)),
    rule("GET", "/rest/action_run/{id}/app_runs", Needs(P::ActionsView)),
    rule("GET", "/rest/app_run", Needs(P::ActionsView)),
    rule("GET", "/rest/app_run/{id}", Needs(P::ActionsView)),
    rule("GET", "/rest/app_run/{id}/action_result", Needs(P::ActionsView)),
    // Containers, assets, apps.
    rule("POST", "/rest/container", Needs(P::ContainersEdit)),
    rule("GET", "/rest/container", Needs(P::ContainersView)),
    rule("GET", "/rest/container/{id}", Needs(P::ContainersView)),
    rule("POST", "/rest/container/{id}", Needs(P::ContainersEdit)),
    rule("GET", "/rest/container/{id}/artifacts", Needs(P::ContainersView)),
    rule("POST", "/rest/artifact", Needs(P::ContainersEdit)),
    rule("GET", "/rest/artifact", Needs(P::ContainersView)),
    rule("GET", "/rest/artifact/{id}", Needs(P::ContainersView)),
    rule("POST", "/rest/asset", Needs(P::AssetsEdit)),
    rule("GET", "/rest/asset", Needs(P::AssetsView)),
    rule("GET", "/rest/asset/{id}", Needs(P::AssetsView)),
    // Changes the asset, or (SOAR's way, `{"test_connectivity": true}`) runs its test;
    // callers who may run actions but not edit assets use `/rest/asset/{id}/test`.
    rule("POST", "/rest/asset/{id}", Needs(P::AssetsEdit)),
    rule("DELETE", "/rest/asset/{id}", Needs(P::AssetsEdit)),
    rule("POST", "/rest/asset/{id}/test", Needs(P::ActionsExecute)),
    // Automation brokers (segments) bind assets to where they run.
    rule("GET", "/rest/automation_proxy", Needs(P::AssetsView)),
    rule("GET", "/rest/automation_proxy/{id}", Needs(P::AssetsView)),
    rule("POST", "/rest/automation_proxy", Needs(P::AssetsEdit)),
    rule("GET", "/rest/app", Needs(P::AppsView)),
    rule("POST", "/rest/app", Needs(P::AppsEdit)),
    rule("GET", "/rest/app/{id}", Needs(P::AppsView)),
    // Users, roles, tokens.
    rule("GET", "/rest/ph_user", Needs(P::UsersRolesView)),
    rule("POST", "/rest/ph_user", Needs(P::UsersRolesEdit)),
    rule("GET", "/rest/ph_user/{id}", Needs(P::UsersRolesView)),
    rule("POST", "/rest/ph_user/{id}", Needs(P::UsersRolesEdit)),
    rule("DELETE", "/rest/ph_user/{id}", Needs(P::UsersRolesEdit)),
    rule("GET", "/rest/ph_user/{id}/token", Needs(P::UsersRolesView)),
    rule("POST", "/rest/ph_user/{id}/token", Needs(P::UsersRolesEdit)),
    rule("DELETE", "/rest/ph_user/{id}/token", Needs(P::UsersRolesEdit)),
    rule("DELETE", "/rest/ph_user/{id}/token/{token_id}", Needs(P::UsersRolesEdit)),
    rule("GET", "/rest/role", Needs(P::UsersRolesView)),
    rule("POST", "/rest/role", Needs(P::UsersRolesEdit)),
    rule("GET", "/rest/role/{id}", Needs(P::UsersRolesView)),
    rule("POST", "/rest/role/{id}", Needs(P::UsersRolesEdit)),
    rule("DELETE", "/rest/role/{id}", Needs(P::UsersRolesEdit)),
    // Seed 002: audit. A user's or role's audit is about users.
    rule("GET", "/rest/audit", Needs(P::AuditView)),
    rule("GET", "/rest/ph_user/{id}/audit", Needs(P::UsersRolesView)),
    rule("GET", "/rest/user/{id}/audit", Needs(P::UsersRolesView)),
    rule("GET", "/rest/role/{id}/audit", Needs(P::UsersRolesView)),
    rule("GET", "/rest/container/{id}/audit", Needs(P::AuditView)),
    rule("GET", "/rest/playbook/{id}/audit", Needs(P::AuditView)),
];

/// Query parameters that take more than their route: `(method, route, parameter, what
/// it takes)`. Selecting users or roles in `/rest/audit` is reading users, which the
/// route's `audit:view` alone does not allow (issue 6: Automation reads everything but
/// users).
pub const REST_PARAMETERS: &[(&str, &str, &str, Required)] = &[
    ("GET", "/rest/audit", "user", Needs(P::UsersRolesView)),
    ("GET", "/rest/audit", "role", Needs(P::UsersRolesView)),
];

/// Who sees the audit records about users and roles (their changes and reads, other
/// users' sign-ins) wherever audit is read; others get the trail without them.
pub const PEOPLE_IN_AUDIT: Required = Needs(P::UsersRolesView);

/// Every gRPC method (`/<package>.<Service>/<Method>`) and what it takes. A method
/// without a row is Administrator-only.
pub const GRPC: &[(&str, Required)] = &[
    ("/outpost.v1.ActionService/RunAction", Needs(P::ActionsExecute)),
    ("/outpost.v1.ActionService/CancelActionRun", Needs(P::ActionsExecute)),
    ("/outpost.v1.ActionService/GetActionRun", Needs(P::ActionsView)),
    ("/outpost.v1.ActionService/WatchActionRun", Needs(P::ActionsView)),
    ("/outpost.v1.ActionService/ListActionRuns", Needs(P::ActionsView)),
    ("/outpost.v1.ActionService/ListAppRuns", Needs(P::ActionsView)),
    ("/outpost.v1.ActionService/GetAppRun", Needs(P::ActionsView)),
    ("/outpost.v1.ActionService/ListActionResults", Needs(P::ActionsView)),
    ("/outpost.v1.AppService/FetchApp", Required::Worker),
    ("/outpost.v1.RegistryService/ListApps", Needs(P::AppsView)),
    ("/outpost.v1.RegistryService/GetApp", Needs(P::AppsView)),
    ("/outpost.v1.RegistryService/InstallApp", Needs(P::AppsEdit)),
    ("/outpost.v1.RegistryService/ListAssets", Needs(P::AssetsView)),
    ("/outpost.v1.RegistryService/GetAsset", Needs(P::AssetsView)),
    ("/outpost.v1.RegistryService/CreateAsset", Needs(P::AssetsEdit)),
    ("/outpost.v1.RegistryService/UpdateAsset", Needs(P::AssetsEdit)),
    ("/outpost.v1.RegistryService/DeleteAsset", Needs(P::AssetsEdit)),
    ("/outpost.v1.RegistryService/ListContainers", Needs(P::ContainersView)),
    ("/outpost.v1.RegistryService/GetContainer", Needs(P::ContainersView)),
    ("/outpost.v1.RegistryService/CreateContainer", Needs(P::ContainersEdit)),
    ("/outpost.v1.RegistryService/UpdateContainer", Needs(P::ContainersEdit)),
    ("/outpost.v1.RegistryService/CreateArtifact", Needs(P::ContainersEdit)),
    ("/outpost.v1.RegistryService/ListArtifacts", Needs(P::ContainersView)),
    ("/grpc.health.v1.Health/Check", Required::Public),
    ("/grpc.health.v1.Health/Watch", Required::Public),
    ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Authenticated),
];

/// What a REST route requires; Administrator when the table has no row for it.
pub fn rest_required(method: &Method, route: &str) -> Required {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    REST.iter().find(|r| r.method == method && r.path == route).map(|r| r.required).unwrap_or(Required::Administrator)
}

/// Whether any query parameter of a REST route requires more than the route itself.
pub fn rest_guards_parameters(method: &Method, route: &str) -> bool {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    REST_PARAMETERS.iter().any(|(m, r, ..)| *m == method && *r == route)
}

/// What a query parameter of a REST route requires beyond the route itself, if anything.
pub fn rest_parameter_required(method: &Method, route: &str, parameter: &str) -> Option<Required> {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    REST_PARAMETERS.iter().find(|(m, r, p, _)| *m == method && *r == route && *p == parameter).map(|(.., req)| *req)
}

/// What a gRPC method requires; Administrator when the table has no row for it.
pub fn grpc_required(path: &str) -> Required {
    GRPC.iter().find(|(p, _)| *p == path).map(|(_, r)| *r).unwrap_or(Required::Administrator)
}

/// The built-in roles, which cannot be renamed, re-permissioned or disabled.
pub const ADMINISTRATOR: &str = "Administrator";
pub const AUTOMATION: &str = "Automation";
pub const OBSERVER: &str = "Observer";
pub const BUILTIN_ROLES: &[&str] = &[ADMINISTRATOR, AUTOMATION, OBSERVER];

/// The permissions of a built-in role (Administrator holds them all and more: see
/// [`Grants::administrator`]).
pub fn builtin_permissions(role: &str) -> Option<Vec<Permission>> {
    let views = [P::ContainersView, P::ActionsView, P::AssetsView, P::AppsView, P::AuditView];
    match role {
        ADMINISTRATOR => Some(Permission::ALL.to_vec()),
        // "Run and cancel actions, read everything but users."
        AUTOMATION => Some([&views[..], &[P::ActionsExecute]].concat()),
        // "Read only": every view, users and roles included.
        OBSERVER => Some([&views[..], &[P::UsersRolesView]].concat()),
        _ => None,
    }
}

/// What a signed-in user may do: the union of their active roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Holds the Administrator role: everything, including routes without a table row.
    pub administrator: bool,
    /// The permissions of every active role held.
    pub permissions: BTreeSet<Permission>,
    /// The names of the active roles held, for messages and `/rest/ph_user`.
    pub roles: Vec<String>,
}

impl Grants {
    /// The grants of a set of active roles, each `(name, builtin, custom permissions)`.
    pub fn of_roles<'a>(roles: impl IntoIterator<Item = (&'a str, bool, &'a [String])>) -> Grants {
        let mut grants = Grants::default();
        for (name, builtin, custom) in roles {
            grants.roles.push(name.to_string());
            if builtin {
                grants.administrator |= name == ADMINISTRATOR;
                grants.permissions.extend(builtin_permissions(name).unwrap_or_default());
            } else {
                grants.permissions.extend(custom.iter().filter_map(|p| Permission::parse(p)));
            }
        }
        grants
    }

    pub fn allows(&self, required: Required) -> bool {
        match required {
            Required::Public | Required::Worker | Required::Authenticated => true,
            Required::Permission(p) => self.administrator || self.permissions.contains(&p),
            Required::Administrator => self.administrator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_routes_and_methods_are_administrator_only() {
        assert_eq!(rest_required(&Method::GET, "/rest/something_new"), Required::Administrator);
        assert_eq!(rest_required(&Method::DELETE, "/rest/container/{id}"), Required::Administrator);
        assert_eq!(grpc_required("/outpost.v1.RegistryService/ListWorkers"), Required::Administrator);
        assert_eq!(rest_required(&Method::HEAD, "/rest/version"), Required::Authenticated);
        assert_eq!(rest_parameter_required(&Method::GET, "/rest/audit", "role"), Some(Needs(P::UsersRolesView)));
        assert_eq!(rest_parameter_required(&Method::GET, "/rest/audit", "container"), None);
        assert!(rest_guards_parameters(&Method::GET, "/rest/audit"));
        assert!(rest_guards_parameters(&Method::HEAD, "/rest/audit"));
        assert!(!rest_guards_parameters(&Method::GET, "/rest/container"));
        assert!(!rest_guards_parameters(&Method::POST, "/rest/audit"));
        let automation = Grants::of_roles([(AUTOMATION, true, &[][..])]);
        assert!(!automation.allows(PEOPLE_IN_AUDIT), "automation reads everything but users");
        let observer = Grants::of_roles([(OBSERVER, true, &[][..])]);
        assert!(!observer.allows(Required::Administrator));
        let admin = Grants::of_roles([(ADMINISTRATOR, true, &[][..])]);
        assert!(admin.allows(Required::Administrator));
    }

    #[test]
    fn builtin_roles_match_the_issue() {
        let automation = Grants::of_roles([(AUTOMATION, true, &[][..])]);
        assert!(automation.allows(Needs(P::ActionsExecute)));
        assert!(automation.allows(Needs(P::ContainersView)));
        assert!(!automation.allows(Needs(P::UsersRolesView)));
        assert!(!automation.allows(Needs(P::ContainersEdit)));
        let observer = Grants::of_roles([(OBSERVER, true, &[][..])]);
        assert!(observer.allows(Needs(P::UsersRolesView)));
        assert!(!observer.allows(Needs(P::ActionsExecute)));
        assert!(Permission::ALL.iter().all(|p| !p.name().ends_with(":execute") || *p == P::ActionsExecute));
        assert!(observer.permissions.iter().all(|p| p.name().ends_with(":view")), "observers only read");
    }

    #[test]
    fn custom_roles_hold_named_permissions_and_never_administrator() {
        let custom = ["audit:view".to_string(), "bogus".to_string()];
        let grants = Grants::of_roles([("Auditor", false, &custom[..])]);
        assert!(grants.allows(Needs(P::AuditView)));
        assert!(!grants.allows(Required::Administrator));
        assert_eq!(grants.permissions.len(), 1);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(*p));
        }
    }

    #[test]
    fn every_rule_is_unique() {
        for (i, a) in REST.iter().enumerate() {
            assert!(
                REST[i + 1..].iter().all(|b| (a.method, a.path) != (b.method, b.path)),
                "{} {} twice",
                a.method,
                a.path
            );
        }
    }
}
