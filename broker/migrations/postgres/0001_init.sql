-- Outpost's store, PostgreSQL flavour. Times are Unix milliseconds; JSON is TEXT.
-- Keep in step with ../sqlite/0001_init.sql: the same tables, columns and meaning.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

CREATE TABLE automation_brokers (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);

CREATE TABLE app_components (
    digest TEXT PRIMARY KEY,
    component BYTEA NOT NULL,
    size BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE apps (
    id BIGSERIAL PRIMARY KEY,
    appid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    app_version TEXT NOT NULL,
    manifest TEXT NOT NULL,
    digest TEXT NOT NULL REFERENCES app_components(digest),
    known_versions TEXT NOT NULL DEFAULT '[]',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE assets (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    app_id BIGINT NOT NULL REFERENCES apps(id),
    description TEXT NOT NULL DEFAULT '',
    -- The configuration as JSON, sealed with the store key (secrets encrypted at rest).
    configuration BYTEA NOT NULL,
    automation_broker_id BIGINT REFERENCES automation_brokers(id),
    tags TEXT NOT NULL DEFAULT '[]',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- Connector state per (app, asset): SOAR's save_state/load_state. Last writer wins.
CREATE TABLE asset_state (
    app_id BIGINT NOT NULL,
    asset_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, asset_id)
);

CREATE TABLE containers (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT 'events',
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'new',
    severity TEXT NOT NULL DEFAULT 'medium',
    sensitivity TEXT NOT NULL DEFAULT 'amber',
    source_data_identifier TEXT NOT NULL,
    owner_id BIGINT,
    tags TEXT NOT NULL DEFAULT '[]',
    data TEXT NOT NULL DEFAULT '{}',
    kill_chain TEXT NOT NULL DEFAULT '',
    asset_id BIGINT,
    ingest_app_id BIGINT,
    custom_fields TEXT NOT NULL DEFAULT '{}',
    create_ms BIGINT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT,
    due_ms BIGINT,
    close_ms BIGINT,
    update_ms BIGINT NOT NULL,
    artifact_update_ms BIGINT,
    artifact_count BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE action_runs (
    id BIGSERIAL PRIMARY KEY,
    action TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    container_id BIGINT NOT NULL REFERENCES containers(id),
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    cancelled TEXT NOT NULL DEFAULT '',
    creator BIGINT,
    owner BIGINT,
    exec_delay_secs BIGINT NOT NULL DEFAULT 0,
    targets TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '',
    create_ms BIGINT NOT NULL,
    assign_ms BIGINT NOT NULL,
    start_ms BIGINT,
    close_ms BIGINT,
    update_ms BIGINT NOT NULL,
    due_ms BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX action_runs_container ON action_runs(container_id);
CREATE INDEX action_runs_status ON action_runs(status);

CREATE TABLE app_runs (
    id BIGSERIAL PRIMARY KEY,
    action_run_id BIGINT NOT NULL REFERENCES action_runs(id),
    asset_id BIGINT NOT NULL REFERENCES assets(id),
    app_id BIGINT NOT NULL REFERENCES apps(id),
    app_name TEXT NOT NULL,
    app_version TEXT NOT NULL,
    action TEXT NOT NULL,
    container_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    exception_occured BOOLEAN NOT NULL DEFAULT FALSE,
    -- Parameter sets in this app run; it is done when this many results are recorded.
    total BIGINT NOT NULL,
    node_guid TEXT,
    automation_broker_id BIGINT,
    effective_user BIGINT,
    result_summary TEXT NOT NULL DEFAULT '{}',
    extra_data TEXT NOT NULL DEFAULT '[]',
    start_ms BIGINT,
    end_ms BIGINT,
    update_ms BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX app_runs_action_run ON app_runs(action_run_id);

-- One row per parameter set of an app run: the outbox (sent_ms) and, once a result
-- arrives, the result. (app_run_id, parameter_index) is the idempotency key.
CREATE TABLE tasks (
    id BIGSERIAL PRIMARY KEY,
    app_run_id BIGINT NOT NULL REFERENCES app_runs(id),
    action_run_id BIGINT NOT NULL,
    parameter_index BIGINT NOT NULL,
    segment TEXT NOT NULL,
    parameter TEXT NOT NULL,
    -- The encoded bus Task (asset configuration sealed), state filled in at publish time.
    payload BYTEA NOT NULL,
    due_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    skipped BOOLEAN NOT NULL DEFAULT FALSE,
    -- The result, NULL until it arrives.
    status TEXT,
    message TEXT,
    data TEXT,
    summary TEXT,
    exception_occured BOOLEAN,
    node_guid TEXT,
    started_ms BIGINT,
    finished_ms BIGINT,
    progress TEXT,
    UNIQUE (app_run_id, parameter_index)
);
CREATE INDEX tasks_unsent ON tasks(due_ms) WHERE sent_ms IS NULL AND skipped = FALSE;
CREATE INDEX tasks_action_run ON tasks(action_run_id);
