-- The live documents: a compacted state plus an append-only log of updates.
create table documents (
    id text primary key not null,
    -- yrs v1 update holding every update through snapshot_seq; null when none yet
    snapshot blob,
    snapshot_seq integer not null default 0,
    created_at integer not null, -- unix milliseconds
    updated_at integer not null
);

create table document_updates (
    document_id text not null references documents (id) on delete cascade,
    seq integer not null,
    data blob not null, -- a yrs v1 update exactly as it was applied
    author text,
    created_at integer not null,
    primary key (document_id, seq)
) without rowid;
