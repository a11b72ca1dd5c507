-- The owners of an organization, counted under its lock by every change that could leave it
-- without one: a partial index, so that the count reads the owners only, not every membership.
CREATE INDEX memberships_owners_idx ON memberships (organization_id) WHERE role = 'owner';
