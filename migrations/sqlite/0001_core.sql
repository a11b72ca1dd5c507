CREATE TABLE users (
    id                 BLOB PRIMARY KEY NOT NULL,
    username           TEXT NOT NULL,
    email              TEXT NOT NULL,
    name               TEXT,
    avatar_url         TEXT,
    company            TEXT,
    job_title          TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}',
    password_hash      TEXT,
    is_active          INTEGER NOT NULL DEFAULT 1,
    is_superuser       INTEGER NOT NULL DEFAULT 0,
    is_service_account INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE organizations (
    id            BLOB PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    slug          TEXT NOT NULL,
    description   TEXT,
    logo_url      TEXT,
    country_code  TEXT,
    status        TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    verified      INTEGER NOT NULL DEFAULT 0,
    owner_id      BLOB NOT NULL REFERENCES users (id),
    managed_by    TEXT NOT NULL DEFAULT '[]',
    metadata      TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (lower(slug));
CREATE INDEX organizations_owner_idx ON organizations (owner_id);

CREATE TABLE memberships (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);
CREATE INDEX memberships_org_joined_idx ON memberships (organization_id, created_at, user_id);

CREATE TABLE tokens (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    name            TEXT,
    token_hash      BLOB NOT NULL,
    organization_id BLOB REFERENCES organizations (id) ON DELETE CASCADE,
    expires_at      INTEGER,
    last_used_at    INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX tokens_hash_key ON tokens (token_hash);
CREATE INDEX tokens_user_idx ON tokens (user_id);
CREATE INDEX tokens_org_idx ON tokens (organization_id);
