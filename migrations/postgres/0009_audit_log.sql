-- The audit log: one entry per change, written in the change's own transaction, and one per
-- refused attempt at a change. Entries outlive what they name (no foreign keys) and are deleted
-- only by the retention job.
CREATE TABLE audit_log (
    id              UUID PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    action          TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        UUID,
    token_id        UUID,
    organization_id UUID,
    target_type     TEXT,
    target_id       TEXT,
    ip              TEXT,
    user_agent      TEXT,
    request_id      TEXT,
    changes         JSONB NOT NULL
);
-- Ids are UUIDv7 made from `created_at`: ordering by id is ordering by time, across the
-- installation (the primary key) and per organization (this index), and retention deletes by id.
-- Each entry is written with its change, so it costs as few B-trees as it can.
CREATE INDEX audit_log_organization_idx ON audit_log (organization_id, id);
