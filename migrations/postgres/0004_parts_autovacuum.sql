-- The parts table is a queue: a backlog of a million rows can drain in minutes. With the
-- default thresholds (20 % dead rows to vacuum, 10 % changed to analyze) the claim's index is
-- left full of dead entries and the planner's statistics say "nothing queued" while a new
-- backlog builds, and the claim degrades to a scan and sort (RELIABILITY.md, backlog). Vacuum and
-- analyze it after 1 % of its rows change.
ALTER TABLE parts SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_analyze_scale_factor = 0.01,
    autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE attempts SET (autovacuum_analyze_scale_factor = 0.02);
