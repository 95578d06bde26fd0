-- Attribution: the delegation an update's author belonged to when it was written.
alter table document_updates add column author_delegation text;

-- Versions: immutable, named points in a resolution's history. A version is a
-- position in the document's update log (every update is kept), so it costs a
-- row, not a copy of the document.
create table versions (
    id text primary key not null,
    resolution_id text not null references resolutions (id),
    number integer not null,
    name text not null,
    kind text not null check (kind in ('phase', 'checkpoint', 'named', 'restore', 'amendment')),
    reason text,
    seq integer not null, -- the last update of the log the version holds
    created_by text references accounts (id),
    created_at integer not null,
    unique (resolution_id, number)
);
