-- Amendments, their supporters, votes, and the comment threads.
alter table resolutions add column amendment_deadline integer; -- unix ms: proposed amendments are tabled then

create table amendments (
    id text primary key not null,
    resolution_id text not null references resolutions (id),
    serial integer not null, -- order of proposal
    author text not null references accounts (id),
    delegation_id text references delegations (id),
    action text not null check (action in ('replace', 'insert', 'delete', 'add_paragraph', 'delete_paragraph', 'move_paragraph', 'title')),
    paragraph_id text, -- the paragraph amended (or followed, for a new one)
    target_id text, -- a moved paragraph is to follow this one
    new_kind text,
    new_level integer,
    old_text text,
    new_text text,
    anchor_start blob, -- Yjs relative positions (yrs sticky indexes), v1 encoding
    anchor_end blob,
    rationale text,
    status text not null check (status in ('proposed', 'tabled', 'voting', 'accepted', 'adopted', 'rejected', 'withdrawn', 'fallen')),
    vote_result text, -- JSON
    created_at integer not null,
    updated_at integer not null,
    unique (resolution_id, serial)
);
create index amendments_by_resolution on amendments (resolution_id);

create table amendment_supporters (
    amendment_id text not null references amendments (id) on delete cascade,
    delegation_id text not null references delegations (id),
    account_id text not null references accounts (id),
    created_at integer not null,
    primary key (amendment_id, delegation_id)
);

create table amendment_votes (
    amendment_id text not null references amendments (id) on delete cascade,
    delegation_id text not null references delegations (id),
    vote text not null check (vote in ('yes', 'no', 'abstain')),
    account_id text not null references accounts (id),
    cast_at integer not null,
    primary key (amendment_id, delegation_id)
);

create table comments (
    id text primary key not null,
    resolution_id text not null references resolutions (id),
    amendment_id text references amendments (id),
    paragraph_id text,
    parent_id text references comments (id),
    author text not null references accounts (id),
    body text not null,
    created_at integer not null,
    edited_at integer,
    deleted_at integer
);
create index comments_by_resolution on comments (resolution_id);
