-- The audit log: one entry per change, written in the change's own transaction, and one per
-- refused attempt at a change. Entries outlive what they name (no foreign keys) and are deleted
-- only by the retention job.
CREATE TABLE audit_log (
    id              BLOB PRIMARY KEY NOT NULL,
    created_at      INTEGER NOT NULL,
    action          TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        BLOB,
    token_id        BLOB,
    organization_id BLOB,
    target_type     TEXT,
    target_id       TEXT,
    ip              TEXT,
    user_agent      TEXT,
    request_id      TEXT,
    changes         TEXT NOT NULL
) WITHOUT ROWID;
-- Newest first, per organization and across the installation (ids are time-ordered BLOBv7).
CREATE INDEX audit_log_organization_idx ON audit_log (organization_id, id);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
