-- `GET /v1/channels` shows each lane's upstream calls in the last minute against its cap,
-- counted from the attempt log (every replica's calls). Without an index on the call time that
-- count would read the whole log, which keeps `retention.finished_days` of calls.
CREATE INDEX IF NOT EXISTS attempts_at ON attempts (at);
