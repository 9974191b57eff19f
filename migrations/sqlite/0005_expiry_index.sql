-- The sweeper's expiry index must not be able to serve the claim. With the old predicate
-- (status IN ('queued', 'blocked')) it could, and after a backlog drained and was analyzed the
-- planner chose it plus a sort for every claim (p99 634 ms at 500,000 queued: RELIABILITY.md,
-- backlog). Its predicate now also names the ops the sweeper expires, which the claim does not
-- filter on, so only the claim indexes can serve a claim.
DROP INDEX IF EXISTS parts_due_expiry;
CREATE INDEX parts_due_expiry_send ON parts (expires_at)
    WHERE status IN ('queued', 'blocked') AND op IN ('send', 'upload');
