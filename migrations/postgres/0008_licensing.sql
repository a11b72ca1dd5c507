-- An owner may deactivate their organization: it can be read and nothing else changes until an
-- owner reactivates it. Independent of a superuser's `status`.
ALTER TABLE organizations ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;

-- Licenses issued by superusers. The key is shown once and kept only as its SHA-256 hash. An
-- organization holds at most one license and a license belongs to at most one organization; the
-- plan in force is decided when read (started, not expired, not revoked), so an expiry needs no
-- job.
CREATE TABLE licenses (
    id              UUID PRIMARY KEY,
    key_hash        BYTEA NOT NULL,
    key_hint        TEXT NOT NULL,
    name            TEXT,
    plan            TEXT NOT NULL,
    seats           BIGINT,
    features        JSONB NOT NULL,
    trial           BOOLEAN NOT NULL,
    max_deployments BIGINT,
    starts_at       BIGINT NOT NULL,
    expires_at      BIGINT,
    revoked_at      BIGINT,
    organization_id UUID REFERENCES organizations (id) ON DELETE SET NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX licenses_key_hash_key ON licenses (key_hash);
CREATE UNIQUE INDEX licenses_organization_key ON licenses (organization_id);
CREATE INDEX licenses_plan_idx ON licenses (plan);

-- Self-hosted installations running under a license; `token_hash` authenticates heartbeats.
CREATE TABLE deployments (
    id           UUID PRIMARY KEY,
    license_id   UUID NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hostname     TEXT NOT NULL,
    version      TEXT NOT NULL,
    token_hash   BYTEA NOT NULL,
    last_seen_at BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX deployments_token_key ON deployments (token_hash);
CREATE INDEX deployments_license_idx ON deployments (license_id);
