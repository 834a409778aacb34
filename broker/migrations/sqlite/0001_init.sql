-- Outpost's store, SQLite flavour. Times are Unix milliseconds; JSON is TEXT.
-- Keep in step with ../postgres/0001_init.sql: the same tables, columns and meaning.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    is_active INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);

CREATE TABLE automation_brokers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);

CREATE TABLE app_components (
    digest TEXT PRIMARY KEY,
    component BLOB NOT NULL,
    size INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE apps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    appid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    app_version TEXT NOT NULL,
    manifest TEXT NOT NULL,
    digest TEXT NOT NULL REFERENCES app_components(digest),
    known_versions TEXT NOT NULL DEFAULT '[]',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE assets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    description TEXT NOT NULL DEFAULT '',
    -- The configuration as JSON, sealed with the store key (secrets encrypted at rest).
    configuration BLOB NOT NULL,
    automation_broker_id INTEGER REFERENCES automation_brokers(id),
    tags TEXT NOT NULL DEFAULT '[]',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Connector state per (app, asset): SOAR's save_state/load_state. Last writer wins.
CREATE TABLE asset_state (
    app_id INTEGER NOT NULL,
    asset_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, asset_id)
);

CREATE TABLE containers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT 'events',
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'new',
    severity TEXT NOT NULL DEFAULT 'medium',
    sensitivity TEXT NOT NULL DEFAULT 'amber',
    source_data_identifier TEXT NOT NULL,
    owner_id INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    data TEXT NOT NULL DEFAULT '{}',
    kill_chain TEXT NOT NULL DEFAULT '',
    asset_id INTEGER,
    ingest_app_id INTEGER,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    create_ms INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    due_ms INTEGER,
    close_ms INTEGER,
    update_ms INTEGER NOT NULL,
    artifact_update_ms INTEGER,
    artifact_count INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE action_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    container_id INTEGER NOT NULL REFERENCES containers(id),
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    cancelled TEXT NOT NULL DEFAULT '',
    creator INTEGER,
    owner INTEGER,
    exec_delay_secs INTEGER NOT NULL DEFAULT 0,
    targets TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '',
    create_ms INTEGER NOT NULL,
    assign_ms INTEGER NOT NULL,
    start_ms INTEGER,
    close_ms INTEGER,
    update_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX action_runs_container ON action_runs(container_id);
CREATE INDEX action_runs_status ON action_runs(status);

CREATE TABLE app_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action_run_id INTEGER NOT NULL REFERENCES action_runs(id),
    asset_id INTEGER NOT NULL REFERENCES assets(id),
    app_id INTEGER NOT NULL REFERENCES apps(id),
    app_name TEXT NOT NULL,
    app_version TEXT NOT NULL,
    action TEXT NOT NULL,
    container_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    exception_occured INTEGER NOT NULL DEFAULT 0,
    -- Parameter sets in this app run; it is done when this many results are recorded.
    total INTEGER NOT NULL,
    node_guid TEXT,
    automation_broker_id INTEGER,
    effective_user INTEGER,
    result_summary TEXT NOT NULL DEFAULT '{}',
    extra_data TEXT NOT NULL DEFAULT '[]',
    start_ms INTEGER,
    end_ms INTEGER,
    update_ms INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX app_runs_action_run ON app_runs(action_run_id);

-- One row per parameter set of an app run: the outbox (sent_ms) and, once a result
-- arrives, the result. (app_run_id, parameter_index) is the idempotency key.
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_run_id INTEGER NOT NULL REFERENCES app_runs(id),
    action_run_id INTEGER NOT NULL,
    parameter_index INTEGER NOT NULL,
    segment TEXT NOT NULL,
    parameter TEXT NOT NULL,
    -- The encoded bus Task (asset configuration sealed), state filled in at publish time.
    payload BLOB NOT NULL,
    due_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    skipped INTEGER NOT NULL DEFAULT 0,
    -- The result, NULL until it arrives.
    status TEXT,
    message TEXT,
    data TEXT,
    summary TEXT,
    exception_occured INTEGER,
    node_guid TEXT,
    started_ms INTEGER,
    finished_ms INTEGER,
    progress TEXT,
    UNIQUE (app_run_id, parameter_index)
);
CREATE INDEX tasks_unsent ON tasks(due_ms) WHERE sent_ms IS NULL AND skipped = 0;
CREATE INDEX tasks_action_run ON tasks(action_run_id);
