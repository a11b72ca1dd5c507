-- Custom roles of an organization. A membership's or an invitation's `role` is a built-in key
-- (owner, admin, member) or the key of one of these; `permissions` is the granted permission
-- names separated by spaces.
CREATE TABLE roles (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    permissions     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, key)
);
-- Counting a role's members and replacing a role reads the memberships by role.
CREATE INDEX memberships_role_idx ON memberships (organization_id, role);

-- Permissions registered by applications (`app:invoices:read`): for the whole installation
-- (organization_id NULL) or for one organization.
CREATE TABLE app_permissions (
    id              UUID PRIMARY KEY,
    organization_id UUID REFERENCES organizations (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    description     TEXT,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX app_permissions_installation_key ON app_permissions (key) WHERE organization_id IS NULL;
CREATE UNIQUE INDEX app_permissions_organization_key ON app_permissions (organization_id, key) WHERE organization_id IS NOT NULL;
