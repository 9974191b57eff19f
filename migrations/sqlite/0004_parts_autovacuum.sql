-- Postgres tunes autovacuum for the parts queue here; SQLite has no autovacuum thresholds to
-- tune. Kept so both backends count the same migrations.
SELECT 1;
