-- Issue 4: an asset may set the deadline of its actions' parameter sets (seconds), an
-- Outpost extension field. NULL: the action's, then the app's, then the worker's maximum.
-- Keep in step with ../sqlite/0004_asset_timeout.sql.
ALTER TABLE assets ADD COLUMN timeout_secs BIGINT;
