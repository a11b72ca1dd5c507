-- Counts kept by the transactions that change them, so reading an organization counts nothing.
ALTER TABLE organizations ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN project_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN application_count BIGINT NOT NULL DEFAULT 0;
UPDATE organizations SET
    member_count = (SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
                    WHERE m.organization_id = organizations.id AND u.is_active),
    project_count = (SELECT COUNT(*) FROM projects p WHERE p.organization_id = organizations.id),
    application_count = (SELECT COUNT(*) FROM applications a WHERE a.organization_id = organizations.id);
