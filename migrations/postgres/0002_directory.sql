-- Meetings, delegations, accounts, sessions, resolutions and the audit log.
create table meetings (
    id text primary key,
    title text not null,
    theme text,
    starts_on text, -- YYYY-MM-DD
    ends_on text,
    place text,
    languages text not null, -- comma-separated codes: en,es,fr,pt
    voting_rule text not null,
    created_at bigint not null
);

create table delegations (
    id text primary key,
    meeting_id text not null references meetings (id),
    name text not null,
    created_at bigint not null,
    unique (meeting_id, name)
);

create table accounts (
    id text primary key,
    email text not null unique, -- lowercase
    name text not null,
    role text not null check (role in ('secretariat', 'chair', 'delegate', 'observer')),
    delegation_id text references delegations (id),
    password_hash text not null, -- argon2id PHC string
    disabled boolean not null default false,
    created_at bigint not null
);

create table sessions (
    id text primary key,
    token_hash bytea not null unique, -- SHA-256 of the token; the token itself is never stored
    account_id text not null references accounts (id),
    created_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint
);
create index sessions_by_account on sessions (account_id);

create table resolutions (
    id text primary key,
    meeting_id text not null references meetings (id),
    title text not null,
    phase text not null check (phase in ('drafting', 'tabled', 'voting', 'adopted', 'rejected', 'withdrawn')),
    created_by text references accounts (id),
    created_at bigint not null,
    updated_at bigint not null
);
create index resolutions_by_meeting on resolutions (meeting_id);

create table resolution_sponsors (
    resolution_id text not null references resolutions (id) on delete cascade,
    delegation_id text not null references delegations (id),
    position integer not null,
    primary key (resolution_id, delegation_id)
);

create table audit_events (
    id bigserial primary key,
    at bigint not null,
    actor text,
    action text not null,
    target text,
    detail text not null -- JSON object
);
