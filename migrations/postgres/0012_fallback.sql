-- Fallback (contract §7): a target's fallback, resolved at ingress, rides on its delivery
-- (`fallback`, JSON: the fallback target and the map primary native id -> fallback native
-- id); a fallback delivery names the delivery it stands in for (`fallback_of`).
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS fallback TEXT;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS fallback_of TEXT;
-- A delivery that ended so that its fallback is due. Written in the same transaction as the
-- final status; the fallback loop plans the fallback delivery and deletes the row in one
-- transaction, so each fallback is added exactly once across replicas and crashes.
CREATE TABLE IF NOT EXISTS pending_fallbacks (
    delivery_id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    -- `whole`: the delivery failed or expired; `people`: it was sent but directory people
    -- among its recipients were refused.
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
