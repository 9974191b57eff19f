-- parts_claim_tenant (0003) serves every claim that parts_claim did; parts_claim only cost an
-- index entry per inserted part. (The Postgres migration of the same number also drops the
-- foreign keys on the ingest path; SQLite cannot drop a constraint without rebuilding the
-- table, and its single writer is not where ingress throughput is decided.)
DROP INDEX IF EXISTS parts_claim;
-- A message's id carries its accept time, so the listing filters a time range on the id
-- (reads.rs) and newest-first is id order: (tenant, id) serves a tenant's listing in its order,
-- the primary key serves an admin's, and neither created_at index is needed. No query filters
-- deliveries on (channel, status) alone (stats filter on created_at), so that index goes too.
DROP INDEX IF EXISTS messages_created;
DROP INDEX IF EXISTS messages_tenant_created;
CREATE INDEX IF NOT EXISTS messages_tenant_id ON messages (tenant, id);
DROP INDEX IF EXISTS deliveries_channel_status;
