-- The outbox. Times are unix milliseconds (BIGINT) so that the same code runs on SQLite and
-- tests can pass a fake clock; JSON is kept as TEXT for the same reason.

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    caller          TEXT NOT NULL,
    idempotency_key TEXT,
    body_hash       TEXT NOT NULL,
    priority        BIGINT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    response        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    not_before      BIGINT,
    expires_at      BIGINT NOT NULL,
    CONSTRAINT messages_idempotency UNIQUE (tenant, idempotency_key)
);
CREATE INDEX messages_tenant_created ON messages (tenant, created_at DESC, id DESC);
CREATE INDEX messages_created ON messages (created_at DESC, id DESC);
CREATE INDEX messages_finished ON messages (updated_at) WHERE status <> 'accepted';

CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    message_id        TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq               BIGINT NOT NULL,
    tenant            TEXT NOT NULL,
    channel           TEXT NOT NULL,
    kind              TEXT NOT NULL,
    native_type       TEXT NOT NULL,
    status            TEXT NOT NULL,
    truncated         BIGINT NOT NULL DEFAULT 0,
    failed_recipients TEXT NOT NULL DEFAULT '[]',
    context           TEXT NOT NULL DEFAULT '{}',
    last_error        TEXT,
    recall_requested  BIGINT NOT NULL DEFAULT 0,
    agent_result      TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);
CREATE INDEX deliveries_message ON deliveries (message_id, seq);
CREATE INDEX deliveries_channel_status ON deliveries (channel, status);
CREATE INDEX deliveries_awaiting ON deliveries (channel, status) WHERE status = 'awaiting_agent';

-- One upstream call. The hot queue: claimed by lane, priority and due time.
CREATE TABLE parts (
    id                 TEXT PRIMARY KEY,
    delivery_id        TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    message_id         TEXT NOT NULL,
    seq                BIGINT NOT NULL,
    op                 TEXT NOT NULL,
    lane               TEXT NOT NULL,
    interface          TEXT NOT NULL,
    channel            TEXT NOT NULL,
    tenant             TEXT NOT NULL,
    priority           BIGINT NOT NULL,
    status             TEXT NOT NULL,
    body               TEXT NOT NULL,
    recipients         TEXT NOT NULL DEFAULT '[]',
    depends_on         BIGINT,
    dependency_id      TEXT,
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    lease_owner        TEXT,
    lease_token        TEXT,
    lease_until        BIGINT,
    upstream_id        TEXT,
    last_error         TEXT,
    possible_duplicate BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX parts_claim ON parts (lane, priority, next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX parts_leased ON parts (lease_until) WHERE status = 'sending';
CREATE INDEX parts_due_expiry ON parts (expires_at) WHERE status IN ('queued', 'blocked');
CREATE INDEX parts_delivery ON parts (delivery_id, seq);

CREATE TABLE attempts (
    id                 BIGSERIAL PRIMARY KEY,
    part_id            TEXT NOT NULL,
    delivery_id        TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    at                 BIGINT NOT NULL,
    endpoint           TEXT NOT NULL,
    http_status        BIGINT,
    upstream_code      TEXT,
    upstream_message   TEXT,
    duration_ms        BIGINT NOT NULL,
    outcome            TEXT NOT NULL,
    possible_duplicate BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);

-- Known lanes (credential x interface), and who owns each ownership unit.
CREATE TABLE lanes (
    lane          TEXT PRIMARY KEY,
    channel       TEXT NOT NULL,
    credential    TEXT NOT NULL,
    interface     TEXT NOT NULL,
    unit          TEXT NOT NULL,
    paused_until  BIGINT NOT NULL DEFAULT 0,
    backoff_ms    BIGINT NOT NULL DEFAULT 0,
    rate_limited  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE lane_owners (
    unit        TEXT PRIMARY KEY,
    owner       TEXT,
    fence       BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE replicas (
    id         TEXT PRIMARY KEY,
    seen_until BIGINT NOT NULL
);

CREATE TABLE tokens (
    credential     TEXT PRIMARY KEY,
    token          TEXT,
    expires_at     BIGINT NOT NULL DEFAULT 0,
    refresh_at     BIGINT NOT NULL DEFAULT 0,
    fetch_owner    TEXT,
    fetch_until    BIGINT NOT NULL DEFAULT 0,
    rejected_code  TEXT,
    rejected_error TEXT,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE quota_days (
    credential TEXT NOT NULL,
    day        BIGINT NOT NULL,
    used       BIGINT NOT NULL DEFAULT 0,
    closed     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (credential, day)
);

CREATE TABLE seen_signatures (
    signature TEXT PRIMARY KEY,
    message   TEXT,
    seen_at   BIGINT NOT NULL
);
CREATE INDEX seen_signatures_age ON seen_signatures (seen_at);
