-- Ingress writes a message, its deliveries and their parts in one transaction, and the sweeper
-- deletes all three explicitly (outbox/sweep.rs), so the two foreign keys on that path guard
-- nothing the store does not already guarantee; they cost a row-locking lookup of the parent per
-- inserted row (about a quarter of a 1,000-message batch insert: BENCHMARKS.md, batch ingress).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_message_id_fkey;
ALTER TABLE parts DROP CONSTRAINT IF EXISTS parts_delivery_id_fkey;
-- parts_claim_tenant (0003) serves every claim, and the per-lane depth reads, that parts_claim
-- did; parts_claim only cost an index entry per inserted part. Dropping an index never breaks an
-- older binary's SQL (forward-compatible, docs/operations.md).
DROP INDEX IF EXISTS parts_claim;
-- A message's id carries its accept time, so the listing filters a time range on the id
-- (reads.rs) and newest-first is id order: (tenant, id) serves a tenant's listing in its order,
-- the primary key serves an admin's, and neither created_at index is needed. No query filters
-- deliveries on (channel, status) alone (stats filter on created_at), so that index goes too.
DROP INDEX IF EXISTS messages_created;
DROP INDEX IF EXISTS messages_tenant_created;
CREATE INDEX IF NOT EXISTS messages_tenant_id ON messages (tenant, id);
DROP INDEX IF EXISTS deliveries_channel_status;
