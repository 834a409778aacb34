-- The complete REST API (issue 5), SQLite flavour.
-- Keep in step with ../postgres/0002_rest.sql: the same tables, columns and meaning.

-- Apps: the manifest's vendor and product as columns, so listings filter and sort on them
-- and assets find their app by them.
ALTER TABLE apps ADD COLUMN product_vendor TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN product_name TEXT NOT NULL DEFAULT '';
UPDATE apps SET
    product_vendor = COALESCE(json_extract(manifest, '$.product_vendor'), ''),
    product_name = COALESCE(json_extract(manifest, '$.product_name'), '');

-- Artifacts: the CEF records inside a container, so an action run's
-- context.artifact_id can refer to something real.
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    container_id INTEGER NOT NULL REFERENCES containers(id),
    name TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL DEFAULT 'medium',
    -- Given by the ingesting source, or a generated GUID; unique within a container,
    -- which is how a re-ingested artifact is recognised.
    source_data_identifier TEXT NOT NULL,
    cef TEXT NOT NULL DEFAULT '{}',
    cef_types TEXT NOT NULL DEFAULT '{}',
    data TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',
    owner_id INTEGER,
    create_ms INTEGER NOT NULL,
    update_ms INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (container_id, source_data_identifier)
);

-- Listings filter on these.
CREATE INDEX app_runs_status ON app_runs(status);
CREATE INDEX app_runs_asset ON app_runs(asset_id);
CREATE INDEX app_runs_container ON app_runs(container_id);
CREATE INDEX containers_status ON containers(status);
