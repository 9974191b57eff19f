-- The people-and-groups directory (contract §7), one per tenant: a person's id on each channel
-- kind, and named groups of people. Kept over the API (scope admin) and seeded from the
-- gateway config ([people.ID], [groups]) into the tenant `default`.
CREATE TABLE IF NOT EXISTS directory_people (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    welink TEXT,
    wecom TEXT,
    workid TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);
-- `members` is a JSON array of person ids of the same tenant.
CREATE TABLE IF NOT EXISTS directory_groups (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    members TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);
-- Which directory person each native recipient of a delivery stands for (JSON object
-- native id -> person id), written at ingress when the target named people or groups, so a
-- fallback can map the failed recipients. NULL when the target named none.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS people TEXT;
