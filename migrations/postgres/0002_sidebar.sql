-- The Juzi sidebar (contract §5). A waiting delivery names its chat (`chat:<wxChatId>` or
-- `contact:<wxUserId>`, with `@<botId>` when the target names a bot) so the sidebar finds the
-- open chat's messages by index; OAuth `state` values are kept server-side until used once.
-- Additive only: an older binary ignores the column and the table (forward-compatible).

ALTER TABLE deliveries ADD COLUMN chat_key TEXT;
CREATE INDEX deliveries_chat_waiting ON deliveries (channel, chat_key) WHERE status = 'awaiting_agent';

CREATE TABLE oauth_states (
    state      TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_age ON oauth_states (created_at);
