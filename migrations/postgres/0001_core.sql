CREATE TABLE users (
    id                 UUID PRIMARY KEY,
    username           TEXT NOT NULL,
    email              TEXT NOT NULL,
    name               TEXT,
    avatar_url         TEXT,
    company            TEXT,
    job_title          TEXT,
    metadata           JSONB NOT NULL DEFAULT '{}',
    password_hash      TEXT,
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    is_superuser       BOOLEAN NOT NULL DEFAULT FALSE,
    is_service_account BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE organizations (
    id            UUID PRIMARY KEY,
    name          TEXT NOT NULL,
    slug          TEXT NOT NULL,
    description   TEXT,
    logo_url      TEXT,
    country_code  TEXT,
    status        TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    verified      BOOLEAN NOT NULL DEFAULT FALSE,
    owner_id      UUID NOT NULL REFERENCES users (id),
    managed_by    JSONB NOT NULL DEFAULT '[]',
    metadata      JSONB NOT NULL DEFAULT '{}',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (lower(slug));
CREATE INDEX organizations_owner_idx ON organizations (owner_id);

CREATE TABLE memberships (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);
CREATE INDEX memberships_org_joined_idx ON memberships (organization_id, created_at, user_id);

CREATE TABLE tokens (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    name            TEXT,
    token_hash      BYTEA NOT NULL,
    organization_id UUID REFERENCES organizations (id) ON DELETE CASCADE,
    expires_at      BIGINT,
    last_used_at    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX tokens_hash_key ON tokens (token_hash);
CREATE INDEX tokens_user_idx ON tokens (user_id);
CREATE INDEX tokens_org_idx ON tokens (organization_id);
