-- Escalation and acknowledgement (contract §7).
-- An escalation step is a delivery of its message planned at ingress: `escalation_step` is the
-- step's index (NULL for the message's own targets) and `due_at` when its calls become due
-- (accept time + `after`). Its parts are ordinary queued outbox rows due then, so the claim and
-- lease machinery fires each step once, across restarts, kill -9 and replicas.
ALTER TABLE deliveries ADD COLUMN escalation_step BIGINT;
ALTER TABLE deliveries ADD COLUMN due_at BIGINT;
-- Why a delivery was cancelled by an event rather than by its own calls: `acknowledged` or
-- `resolved` for an escalation step that never fired.
ALTER TABLE deliveries ADD COLUMN cancel_reason TEXT;
-- Who acknowledged the message, and when (unix ms). The acknowledge link's token is an HMAC of
-- the message id with the server's secret, so it needs no column.
ALTER TABLE messages ADD COLUMN acknowledged_by TEXT;
ALTER TABLE messages ADD COLUMN acknowledged_at BIGINT;
-- Acknowledging and resolving look up the pending steps of a message.
CREATE INDEX IF NOT EXISTS deliveries_pending_steps ON deliveries (message_id)
    WHERE escalation_step IS NOT NULL AND status = 'queued';
