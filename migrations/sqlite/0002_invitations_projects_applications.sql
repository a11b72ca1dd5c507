CREATE TABLE invitations (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL,
    token_hash      BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    inviter_id      BLOB REFERENCES users (id) ON DELETE SET NULL,
    expires_at      INTEGER NOT NULL,
    delivery        TEXT NOT NULL DEFAULT 'none',
    delivery_error  TEXT,
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
-- One open invitation per address and organization.
CREATE UNIQUE INDEX invitations_pending_key ON invitations (organization_id, lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_email_idx ON invitations (lower(email));
CREATE INDEX invitations_retry_idx ON invitations (delivery, next_attempt_at);

CREATE TABLE projects (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    slug            TEXT NOT NULL,
    description     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX projects_slug_key ON projects (organization_id, lower(slug));

CREATE TABLE project_members (
    project_id BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_idx ON project_members (user_id);

CREATE TABLE applications (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      BLOB REFERENCES projects (id) ON DELETE SET NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX applications_org_idx ON applications (organization_id);
CREATE INDEX projects_org_idx ON projects (organization_id);
