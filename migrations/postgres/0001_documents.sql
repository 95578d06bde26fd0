-- The live documents: a compacted state plus an append-only log of updates.
create table documents (
    id text primary key,
    -- yrs v1 update holding every update through snapshot_seq; null when none yet
    snapshot bytea,
    snapshot_seq bigint not null default 0,
    created_at bigint not null, -- unix milliseconds
    updated_at bigint not null
);

create table document_updates (
    document_id text not null references documents (id) on delete cascade,
    seq bigint not null,
    data bytea not null, -- a yrs v1 update exactly as it was applied
    author text,
    created_at bigint not null,
    primary key (document_id, seq)
);
