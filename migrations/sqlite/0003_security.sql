-- Whether a service account's own token may mint further tokens (owners and admins decide).
ALTER TABLE organizations ADD COLUMN service_accounts_can_mint_tokens INTEGER NOT NULL DEFAULT 0;

-- An invitation made by adding an existing account while member additions need consent: the
-- organization sees the invitee by id, not by email.
ALTER TABLE invitations ADD COLUMN invitee_id BLOB REFERENCES users (id) ON DELETE CASCADE;

-- Password reset (and claiming a provisioned account): single-use links sent to the address.
CREATE TABLE password_resets (
    id          BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  BLOB NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX password_resets_token_key ON password_resets (token_hash);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
