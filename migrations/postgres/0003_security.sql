-- Whether a service account's own token may mint further tokens (owners and admins decide).
ALTER TABLE organizations ADD COLUMN service_accounts_can_mint_tokens BOOLEAN NOT NULL DEFAULT FALSE;

-- An invitation made by adding an existing account while member additions need consent: the
-- organization sees the invitee by id, not by email.
ALTER TABLE invitations ADD COLUMN invitee_id UUID REFERENCES users (id) ON DELETE CASCADE;

-- Password reset (and claiming a provisioned account): single-use links sent to the address.
CREATE TABLE password_resets (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  BYTEA NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX password_resets_token_key ON password_resets (token_hash);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
