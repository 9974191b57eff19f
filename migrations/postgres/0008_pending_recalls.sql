-- The sweeper asks every second, on every replica, which deliveries have a recall waiting for
-- their send to end (`recall_requested = 1`). Without an index that question read every
-- delivery retention keeps. The partial index holds only the few waiting ones, so inserting a
-- delivery (recall_requested = 0) adds nothing to it.
CREATE INDEX IF NOT EXISTS deliveries_recall_requested ON deliveries (id) WHERE recall_requested = 1;
