-- SSO: an organization's email domains (verified once proven, by one organization at most), its
-- OpenID Connect providers, the single-use states of sign-ins under way, the identities each
-- provider has linked to users, and the provider a session came from.
CREATE TABLE organization_domains (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain          TEXT NOT NULL,
    -- What the well-known file must hold.
    token           TEXT NOT NULL,
    verified_at     INTEGER,
    -- `http` (the well-known file) or `superuser`.
    verified_by     TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (organization_id, domain)
);
CREATE UNIQUE INDEX organization_domains_verified_key ON organization_domains (domain)
    WHERE verified_at IS NOT NULL;

CREATE TABLE sso_providers (
    id               BLOB PRIMARY KEY NOT NULL,
    organization_id  BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    issuer           TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    -- ChaCha20-Poly1305 under the installation's key: a 12-byte nonce, then the ciphertext.
    client_secret    BLOB NOT NULL,
    scopes           TEXT NOT NULL,
    domains          TEXT NOT NULL,
    force_sso        INTEGER NOT NULL,
    jit_provisioning INTEGER NOT NULL,
    default_role     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX sso_providers_organization_idx ON sso_providers (organization_id, id);

-- A provider's domains, one per row, for home-realm discovery.
CREATE TABLE sso_provider_domains (
    provider_id BLOB NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    PRIMARY KEY (provider_id, domain)
);
CREATE INDEX sso_provider_domains_domain_idx ON sso_provider_domains (domain);

CREATE TABLE sso_states (
    state_hash  BLOB PRIMARY KEY NOT NULL,
    provider_id BLOB NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    return_to   TEXT,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE sso_identities (
    provider_id BLOB NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    subject     TEXT NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (provider_id, subject)
);

-- A session from a provider, and the tokens minted from it; deleting the provider ends them.
ALTER TABLE tokens ADD COLUMN sso_provider_id BLOB REFERENCES sso_providers (id) ON DELETE CASCADE;
CREATE INDEX tokens_sso_provider_idx ON tokens (sso_provider_id) WHERE sso_provider_id IS NOT NULL;
