-- Issue 6: roles, user types, token expiry, the audit trail and runtime settings.
-- Keep in step with ../sqlite/0003_users_roles_audit.sql.

-- Built-in roles have their permissions defined in code (permissions.rs); `permissions`
-- holds a custom role's permission names as a JSON list.
CREATE TABLE roles (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]',
    builtin BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users(id),
    role_id BIGINT NOT NULL REFERENCES roles(id),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles(role_id);

INSERT INTO roles (name, description, builtin, created_ms, updated_ms) VALUES
    ('Administrator', 'Everything, including users, roles, settings and audit.', TRUE, 0, 0),
    ('Automation', 'Runs and cancels actions; reads everything but users and roles.', TRUE, 0, 0),
    ('Observer', 'Reads everything; changes nothing.', TRUE, 0, 0);

INSERT INTO user_roles (user_id, role_id)
    SELECT u.id, r.id FROM users u, roles r WHERE u.username = 'admin' AND r.name = 'Administrator';

-- `normal` users sign in with a password or a token; `automation` users only with tokens.
ALTER TABLE users ADD COLUMN user_type TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE tokens ADD COLUMN expires_ms BIGINT;

-- The audit trail (seed 002). AUDIT ID is `id` for source 'Audit' and `source_id` (the
-- id in the source's own table, e.g. the action run) for other sources, so
-- (source, AUDIT ID) is unique. Rows are only ever inserted, and deleted by retention.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    source_id BIGINT,
    time_ms BIGINT NOT NULL,
    user_id BIGINT,
    username TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    -- What the seed's filters select on: ph_user, role, container, authentication or
    -- administration.
    category TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT,
    related_type TEXT,
    related_id BIGINT,
    note TEXT NOT NULL DEFAULT '',
    changed_field TEXT NOT NULL DEFAULT '',
    old_value TEXT,
    new_value TEXT,
    CHECK ((source = 'Audit') = (source_id IS NULL))
);
CREATE UNIQUE INDEX audit_log_source_id ON audit_log(source, source_id);
CREATE INDEX audit_log_time ON audit_log(time_ms);
CREATE INDEX audit_log_user ON audit_log(user_id, time_ms);
CREATE INDEX audit_log_object ON audit_log(object_type, object_id);
CREATE INDEX audit_log_related ON audit_log(related_type, related_id);

-- Settings changed at run time (`/rest/system_settings`), overriding the start-up
-- configuration, and internal markers such as the system container.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
