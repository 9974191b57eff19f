-- One alert's life (contract §6): messages of one tenant with one `alert.key` are one alert. The
-- insert transaction locks an alert's row (primary key order) and classifies each of its
-- messages against it: lead (sent, opens the dedup window), suppressed, replay, resolve.
CREATE TABLE IF NOT EXISTS alerts (
    tenant                  TEXT NOT NULL,
    alert_key               TEXT NOT NULL,
    -- `firing` or `resolved`; acknowledgement is shown from acknowledged_at.
    status                  TEXT NOT NULL,
    first_seen              BIGINT NOT NULL,
    last_seen               BIGINT NOT NULL,
    -- The message that went out and opened the current window (null before the first lead).
    lead_message_id         TEXT,
    window_start            BIGINT,
    window_until            BIGINT,
    dedup_window_ms         BIGINT NOT NULL,
    sent_count              BIGINT NOT NULL DEFAULT 0,
    suppressed_count        BIGINT NOT NULL DEFAULT 0,
    -- Suppressed in the current window while the digest slot below still holds an older
    -- window's digest (moved into the slot when that digest is made).
    suppressed_since_digest BIGINT NOT NULL DEFAULT 0,
    -- The pending digest (a row timer): due time, the window it summarises, its lead, count.
    digest_due_at           BIGINT,
    digest_window_start     BIGINT,
    digest_lead_id          TEXT,
    digest_count            BIGINT NOT NULL DEFAULT 0,
    -- A source's retry of one notification inside the window is a replay of this message.
    last_fingerprint        TEXT,
    last_fingerprint_at     BIGINT,
    last_fingerprint_message_id TEXT,
    -- Written by acknowledgement (escalation).
    acknowledged_by         TEXT,
    acknowledged_at         BIGINT,
    PRIMARY KEY (tenant, alert_key)
);
-- The digest loop asks every few hundred ms which digests are due: only pending ones are indexed.
CREATE INDEX IF NOT EXISTS alerts_digest_due ON alerts (digest_due_at) WHERE digest_due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS alerts_tenant_last_seen ON alerts (tenant, last_seen DESC);

ALTER TABLE messages ADD COLUMN IF NOT EXISTS alert_key TEXT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS alert_status TEXT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS suppressed_into TEXT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS template_error TEXT;
-- An alert's messages (GET /v1/alerts/{key}, resolve); partial, so messages without an alert
-- add nothing to it at ingress.
CREATE INDEX IF NOT EXISTS messages_alert ON messages (tenant, alert_key, id) WHERE alert_key IS NOT NULL;
