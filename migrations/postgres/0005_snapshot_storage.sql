-- A document's snapshot is stored out of line without compression. pglz, the
-- default, compressed every snapshot written: a fifth of PostgreSQL's time
-- under a saturating load (perf, 2026-12-06), for a value rewritten at every
-- compaction and read once per load. New values only; existing ones stay as
-- they are until their next compaction.
alter table documents alter column snapshot set storage external;
