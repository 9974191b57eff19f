-- Fair claim across tenants within a lane (issue 5): the claim lists the lane's tenants with a
-- loose index scan and takes each tenant's best due parts by range scan, both on this index.
-- Additive only: an older binary keeps using parts_claim (forward-compatible).
CREATE INDEX parts_claim_tenant ON parts (lane, tenant, priority, next_attempt_at, id) WHERE status = 'queued';
