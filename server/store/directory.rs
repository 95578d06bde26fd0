//! The records around the live documents: meetings, delegations, accounts,
//! sessions, resolutions and the audit log.
//!
//! The SQL is written once, with `$N` placeholders that both SQLite and
//! PostgreSQL read, and compiled for each backend by [`impl_directory!`]:
//! two typed implementations, one text to review.

use async_trait::async_trait;

use super::StoreError;
use crate::amendments::{Amendment, Comment, Status, Vote, VoteResult};
use crate::audit::{AuditEvent, NewAuditEvent};
use crate::auth::{Account, Session, SignedIn};
use crate::ids::{AccountId, DelegationId, MeetingId, ResolutionId, SessionId};
use crate::meetings::{Delegation, Meeting};
use crate::resolutions::{Phase, Resolution};
use crate::versions::{Contributor, NewVersion, Version};

/// A new account, with its password already hashed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The account (its `id` chosen by the caller).
    pub account: Account,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// A session not yet expired (see [`Directory::unexpired_sessions`]).
#[derive(Debug, Clone)]
pub struct UnexpiredSession {
    /// The session and its account.
    pub signed_in: SignedIn,
    /// Revoked, or its account disabled: it no longer works.
    pub ended: bool,
}

/// A new session: the hash of its token, never the token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session.
    pub session: Session,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
}

/// Records of the meeting, one implementation per database.
#[async_trait]
pub trait Directory: Send + Sync + std::fmt::Debug + 'static {
    /// Number of accounts (zero on a fresh database).
    async fn count_accounts(&self) -> Result<i64, StoreError>;
    /// Creates an account; [`StoreError::Conflict`] if the email is taken.
    async fn create_account(&self, new: &NewAccount) -> Result<(), StoreError>;
    /// One account.
    async fn account(&self, id: &AccountId) -> Result<Account, StoreError>;
    /// An account and its password hash, by (normalised) email.
    async fn account_by_email(&self, email: &str) -> Result<(Account, String), StoreError>;
    /// Every account, by name.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Saves an account's name, role, delegation and disabled flag.
    async fn update_account(&self, account: &Account) -> Result<(), StoreError>;
    /// Replaces an account's password hash.
    async fn set_password(&self, id: &AccountId, password_hash: &str) -> Result<(), StoreError>;

    /// Stores a new session.
    async fn create_session(&self, new: &NewSession) -> Result<(), StoreError>;
    /// The live session of a token hash (not revoked, not expired at `now`,
    /// its account not disabled), with its account and the name of its
    /// delegation, in one read: every request and every websocket asks.
    async fn session(&self, token_hash: &[u8], now: i64) -> Result<SignedIn, StoreError>;
    /// Every session not expired at `now`, with its account as it is now
    /// (as [`Directory::session`] reads one) and whether it ended early
    /// (revoked, or its account disabled): what a node that may have missed
    /// the other nodes' notices checks its open websockets against.
    async fn unexpired_sessions(&self, now: i64) -> Result<Vec<UnexpiredSession>, StoreError>;
    /// Revokes one session.
    async fn revoke_session(&self, id: &SessionId, now: i64) -> Result<(), StoreError>;
    /// Revokes every live session of an account; returns their ids.
    async fn revoke_sessions_of(
        &self,
        account: &AccountId,
        now: i64,
    ) -> Result<Vec<SessionId>, StoreError>;

    /// Creates a meeting.
    async fn create_meeting(&self, meeting: &Meeting) -> Result<(), StoreError>;
    /// One meeting.
    async fn meeting(&self, id: &MeetingId) -> Result<Meeting, StoreError>;
    /// Every meeting, newest first.
    async fn meetings(&self) -> Result<Vec<Meeting>, StoreError>;
    /// Saves a meeting's fields.
    async fn update_meeting(&self, meeting: &Meeting) -> Result<(), StoreError>;

    /// Creates a delegation; [`StoreError::Conflict`] if the meeting has one of that name.
    async fn create_delegation(&self, delegation: &Delegation) -> Result<(), StoreError>;
    /// One delegation.
    async fn delegation(&self, id: &DelegationId) -> Result<Delegation, StoreError>;
    /// The delegations of a meeting, by name.
    async fn delegations(&self, meeting: &MeetingId) -> Result<Vec<Delegation>, StoreError>;

    /// Creates a resolution and, in the same transaction, its live document
    /// with `body` (a yrs update) as its first update: the skeleton is
    /// written once, by the server, never by a first client.
    async fn create_resolution(
        &self,
        resolution: &Resolution,
        created_by: &AccountId,
        body: &[u8],
    ) -> Result<(), StoreError>;
    /// One resolution with its sponsors.
    async fn resolution(&self, id: &ResolutionId) -> Result<Resolution, StoreError>;
    /// The resolutions of a meeting, oldest first.
    async fn resolutions(&self, meeting: &MeetingId) -> Result<Vec<Resolution>, StoreError>;
    /// Saves a resolution's title and sponsors.
    async fn update_resolution(&self, resolution: &Resolution) -> Result<(), StoreError>;
    /// Moves a resolution from `from` to `to`; [`StoreError::Conflict`] if it
    /// is no longer in `from` (someone else moved it first).
    async fn set_phase(
        &self,
        id: &ResolutionId,
        from: Phase,
        to: Phase,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Records a version with the next number of its resolution.
    async fn create_version(&self, new: &NewVersion, now: i64) -> Result<Version, StoreError>;
    /// The versions of a resolution, oldest first.
    async fn versions(&self, resolution: &ResolutionId) -> Result<Vec<Version>, StoreError>;
    /// One version of a resolution.
    async fn version(&self, resolution: &ResolutionId, id: &str) -> Result<Version, StoreError>;
    /// Who wrote the updates `after < seq <= through` of a document.
    async fn contributors(
        &self,
        document: &str,
        after: i64,
        through: i64,
    ) -> Result<Vec<Contributor>, StoreError>;

    /// Records an amendment with the next serial of its resolution; returns it.
    async fn create_amendment(&self, amendment: &Amendment) -> Result<Amendment, StoreError>;
    /// One amendment, with its supporters.
    async fn amendment(&self, id: &str) -> Result<Amendment, StoreError>;
    /// The amendments of a resolution, in order of proposal, with supporters.
    async fn amendments(&self, resolution: &ResolutionId) -> Result<Vec<Amendment>, StoreError>;
    /// Moves an amendment from `from` to `to` (with a vote result when a
    /// vote closes); [`StoreError::Conflict`] if it is no longer in `from`.
    async fn set_amendment_status(
        &self,
        id: &str,
        from: Status,
        to: Status,
        result: Option<&VoteResult>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Signs a delegation on as supporter (or off).
    async fn set_supporter(
        &self,
        amendment: &str,
        delegation: &DelegationId,
        account: &AccountId,
        support: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Records (or changes) a delegation's vote.
    async fn cast_vote(
        &self,
        amendment: &str,
        delegation: &DelegationId,
        vote: Vote,
        account: &AccountId,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The votes cast on an amendment: (delegation, vote).
    async fn votes(&self, amendment: &str) -> Result<Vec<(DelegationId, Vote)>, StoreError>;
    /// Stores a comment.
    async fn create_comment(&self, comment: &Comment) -> Result<(), StoreError>;
    /// One comment.
    async fn comment(&self, id: &str) -> Result<Comment, StoreError>;
    /// The comments of a resolution (on it, its paragraphs and amendments), oldest first.
    async fn comments(&self, resolution: &ResolutionId) -> Result<Vec<Comment>, StoreError>;
    /// Edits a comment's text.
    async fn edit_comment(&self, id: &str, body: &str, now: i64) -> Result<(), StoreError>;
    /// Deletes a comment (its replies stay; it reads as deleted).
    async fn delete_comment(&self, id: &str, now: i64) -> Result<(), StoreError>;

    /// Appends to the audit log.
    async fn record(&self, event: &NewAuditEvent, now: i64) -> Result<(), StoreError>;
    /// The newest audit events, before `before` (an event id) if given.
    async fn audit(&self, limit: i64, before: Option<i64>) -> Result<Vec<AuditEvent>, StoreError>;
}

/// SQL shared by both backends.
pub(crate) mod sql {
    pub const COUNT_ACCOUNTS: &str = "select count(*) from accounts";
    pub const INSERT_ACCOUNT: &str = "insert into accounts (id, email, name, role, delegation_id, password_hash, disabled, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const SELECT_ACCOUNT: &str = "select id, email, name, role, delegation_id, disabled, created_at from accounts where id = $1";
    pub const SELECT_ACCOUNT_BY_EMAIL: &str = "select id, email, name, role, delegation_id, disabled, created_at, password_hash from accounts where email = $1";
    pub const SELECT_ACCOUNTS: &str = "select id, email, name, role, delegation_id, disabled, created_at from accounts order by name, email";
    pub const UPDATE_ACCOUNT: &str =
        "update accounts set name = $2, role = $3, delegation_id = $4, disabled = $5 where id = $1";
    pub const UPDATE_PASSWORD: &str = "update accounts set password_hash = $2 where id = $1";

    pub const INSERT_SESSION: &str = "insert into sessions (id, token_hash, account_id, created_at, expires_at) values ($1, $2, $3, $4, $5)";
    /// Sessions with their accounts and delegation names, as
    /// `signed_in_from_row` reads them: `select_sessions!(extra columns, where)`.
    macro_rules! select_sessions {
        ($columns:literal, $where:literal) => {
            concat!(
                "select s.id as session_id, s.created_at as session_created_at, s.expires_at, \
                 a.id, a.email, a.name, a.role, a.delegation_id, a.disabled, a.created_at, \
                 d.name as delegation_name",
                $columns,
                " from sessions s join accounts a on a.id = s.account_id \
                 left join delegations d on d.id = a.delegation_id where ",
                $where
            )
        };
    }
    pub const SELECT_SESSION: &str = select_sessions!(
        "",
        "s.token_hash = $1 and s.revoked_at is null and s.expires_at > $2 and not a.disabled"
    );
    pub const SELECT_UNEXPIRED_SESSIONS: &str = select_sessions!(
        ", (s.revoked_at is not null or a.disabled) as ended",
        "s.expires_at > $1"
    );
    pub const REVOKE_SESSION: &str =
        "update sessions set revoked_at = $2 where id = $1 and revoked_at is null";
    pub const REVOKE_SESSIONS_OF: &str = "update sessions set revoked_at = $2 where account_id = $1 and revoked_at is null and expires_at > $2 returning id";

    pub const INSERT_MEETING: &str = "insert into meetings (id, title, theme, starts_on, ends_on, place, languages, voting_rule, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    pub const SELECT_MEETING: &str = "select id, title, theme, starts_on, ends_on, place, languages, voting_rule, created_at from meetings where id = $1";
    pub const SELECT_MEETINGS: &str = "select id, title, theme, starts_on, ends_on, place, languages, voting_rule, created_at from meetings order by created_at desc, id";
    pub const UPDATE_MEETING: &str = "update meetings set title = $2, theme = $3, starts_on = $4, ends_on = $5, place = $6, languages = $7, voting_rule = $8 where id = $1";

    pub const INSERT_DELEGATION: &str =
        "insert into delegations (id, meeting_id, name, created_at) values ($1, $2, $3, $4)";
    pub const SELECT_DELEGATION: &str =
        "select id, meeting_id, name, created_at from delegations where id = $1";
    pub const SELECT_DELEGATIONS: &str = "select id, meeting_id, name, created_at from delegations where meeting_id = $1 order by name";

    pub const INSERT_RESOLUTION: &str = "insert into resolutions (id, meeting_id, title, phase, created_by, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7)";
    pub const INSERT_SPONSOR: &str = "insert into resolution_sponsors (resolution_id, delegation_id, position) values ($1, $2, $3)";
    pub const DELETE_SPONSORS: &str = "delete from resolution_sponsors where resolution_id = $1";
    pub const INSERT_DOCUMENT: &str =
        "insert into documents (id, created_at, updated_at) values ($1, $2, $2)";
    pub const INSERT_FIRST_UPDATE: &str = "insert into document_updates (document_id, seq, data, author, created_at) values ($1, 1, $2, $3, $4)";
    /// A resolution and its sponsors in one read (one row per sponsor, or one
    /// row with a null sponsor): one round trip, and of one moment.
    pub const SELECT_RESOLUTION: &str = "select r.id, r.meeting_id, r.title, r.phase, r.created_at, r.updated_at, r.amendment_deadline, \
         s.delegation_id as sponsor \
         from resolutions r left join resolution_sponsors s on s.resolution_id = r.id \
         where r.id = $1 order by s.position";
    pub const SELECT_RESOLUTIONS: &str = "select id, meeting_id, title, phase, created_at, updated_at, amendment_deadline from resolutions where meeting_id = $1 order by created_at, id";
    pub const SELECT_MEETING_SPONSORS: &str = "select s.resolution_id, s.delegation_id from resolution_sponsors s join resolutions r on r.id = s.resolution_id where r.meeting_id = $1 order by s.resolution_id, s.position";
    pub const UPDATE_RESOLUTION: &str =
        "update resolutions set title = $2, updated_at = $3, amendment_deadline = $4 where id = $1";
    pub const UPDATE_PHASE: &str =
        "update resolutions set phase = $3, updated_at = $4 where id = $1 and phase = $2";

    pub const INSERT_VERSION: &str = "insert into versions (id, resolution_id, number, name, kind, reason, seq, created_by, created_at) \
         select $1, $2, coalesce(max(number), 0) + 1, $3, $4, $5, $6, $7, $8 from versions where resolution_id = $2 returning number";
    pub const SELECT_VERSIONS: &str = "select id, resolution_id, number, name, kind, reason, seq, created_by, created_at from versions where resolution_id = $1 order by number";
    pub const SELECT_VERSION: &str = "select id, resolution_id, number, name, kind, reason, seq, created_by, created_at from versions where resolution_id = $1 and id = $2";
    pub const SELECT_CONTRIBUTORS: &str = "select distinct u.author, u.author_delegation, a.name as account_name, d.name as delegation_name \
         from document_updates u join accounts a on a.id = u.author left join delegations d on d.id = u.author_delegation \
         where u.document_id = $1 and u.seq > $2 and u.seq <= $3 order by account_name";
    pub const INSERT_AMENDMENT: &str = "insert into amendments (id, resolution_id, serial, author, delegation_id, action, paragraph_id, target_id, new_kind, new_level, old_text, new_text, anchor_start, anchor_end, rationale, status, created_at, updated_at) \
         select $1, $2, coalesce(max(serial), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16 from amendments where resolution_id = $2 returning serial";
    /// An amendment and its supporters in one read, as [`SELECT_RESOLUTION`].
    pub const SELECT_AMENDMENT: &str = "select a.id, a.resolution_id, a.serial, a.author, a.delegation_id, a.action, a.paragraph_id, a.target_id, a.new_kind, a.new_level, a.old_text, a.new_text, a.anchor_start, a.anchor_end, a.rationale, a.status, a.vote_result, a.created_at, a.updated_at, \
         s.delegation_id as supporter \
         from amendments a left join amendment_supporters s on s.amendment_id = a.id \
         where a.id = $1 order by s.created_at, s.delegation_id";
    pub const SELECT_AMENDMENTS: &str = "select id, resolution_id, serial, author, delegation_id, action, paragraph_id, target_id, new_kind, new_level, old_text, new_text, anchor_start, anchor_end, rationale, status, vote_result, created_at, updated_at from amendments where resolution_id = $1 order by serial";
    pub const SELECT_RESOLUTION_SUPPORTERS: &str = "select s.amendment_id, s.delegation_id from amendment_supporters s join amendments a on a.id = s.amendment_id where a.resolution_id = $1 order by s.created_at, s.delegation_id";
    pub const UPDATE_AMENDMENT_STATUS: &str = "update amendments set status = $3, vote_result = coalesce($4, vote_result), updated_at = $5 where id = $1 and status = $2";
    pub const INSERT_SUPPORTER: &str = "insert into amendment_supporters (amendment_id, delegation_id, account_id, created_at) values ($1, $2, $3, $4) on conflict (amendment_id, delegation_id) do nothing";
    pub const DELETE_SUPPORTER: &str =
        "delete from amendment_supporters where amendment_id = $1 and delegation_id = $2";
    pub const UPSERT_VOTE: &str = "insert into amendment_votes (amendment_id, delegation_id, vote, account_id, cast_at) values ($1, $2, $3, $4, $5) \
         on conflict (amendment_id, delegation_id) do update set vote = excluded.vote, account_id = excluded.account_id, cast_at = excluded.cast_at";
    pub const SELECT_VOTES: &str = "select delegation_id, vote from amendment_votes where amendment_id = $1 order by delegation_id";
    pub const INSERT_COMMENT: &str = "insert into comments (id, resolution_id, amendment_id, paragraph_id, parent_id, author, body, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const SELECT_COMMENT: &str = "select id, resolution_id, amendment_id, paragraph_id, parent_id, author, body, created_at, edited_at, deleted_at from comments where id = $1";
    pub const SELECT_COMMENTS: &str = "select id, resolution_id, amendment_id, paragraph_id, parent_id, author, body, created_at, edited_at, deleted_at from comments where resolution_id = $1 order by created_at, id";
    pub const UPDATE_COMMENT: &str =
        "update comments set body = $2, edited_at = $3 where id = $1 and deleted_at is null";
    pub const DELETE_COMMENT: &str =
        "update comments set body = '', deleted_at = $2 where id = $1 and deleted_at is null";
    pub const INSERT_AUDIT: &str =
        "insert into audit_events (at, actor, action, target, detail) values ($1, $2, $3, $4, $5)";
    pub const SELECT_AUDIT: &str = "select id, at, actor, action, target, detail from audit_events where id < $2 order by id desc limit $1";
}

/// Maps "no row" to [`StoreError::NotFound`] and unique violations to
/// [`StoreError::Conflict`].
pub(crate) fn map_error(error: sqlx::Error, conflict: &str) -> StoreError {
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        error if super::is_unique_violation(&error) => StoreError::Conflict(conflict.to_owned()),
        error => StoreError::Database(error),
    }
}

/// Reads a role or phase column, refusing values the code does not know.
pub(crate) fn decode_enum<T>(value: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| {
        StoreError::Database(sqlx::Error::Decode(
            format!("unknown stored value {value:?}").into(),
        ))
    })
}

/// Implements [`Directory`] for a backend whose struct has a `pool` field.
/// The body is the same for both; only the row and pool types differ.
macro_rules! impl_directory {
    ($store:ty, $row:ty) => {
        use $crate::store::directory::{UnexpiredSession, decode_enum, map_error, sql};

        fn account_from_row(row: &$row) -> Result<Account, sqlx::Error> {
            let role: String = row.try_get("role")?;
            Ok(Account {
                id: AccountId(row.try_get("id")?),
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                role: decode_enum(&role, Role::parse)
                    .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?,
                delegation_id: row
                    .try_get::<Option<String>, _>("delegation_id")?
                    .map(DelegationId),
                disabled: row.try_get("disabled")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn signed_in_from_row(row: &$row) -> Result<SignedIn, StoreError> {
            let account = account_from_row(row)?;
            let session = Session {
                id: SessionId(row.try_get("session_id")?),
                account_id: account.id.clone(),
                created_at: row.try_get("session_created_at")?,
                expires_at: row.try_get("expires_at")?,
            };
            Ok(SignedIn {
                session,
                account,
                delegation_name: row.try_get("delegation_name")?,
            })
        }

        fn meeting_from_row(row: &$row) -> Result<Meeting, sqlx::Error> {
            let languages: String = row.try_get("languages")?;
            let rule: String = row.try_get("voting_rule")?;
            Ok(Meeting {
                id: MeetingId(row.try_get("id")?),
                title: row.try_get("title")?,
                theme: row.try_get("theme")?,
                starts_on: row.try_get("starts_on")?,
                ends_on: row.try_get("ends_on")?,
                place: row.try_get("place")?,
                languages: languages
                    .split(',')
                    .filter(|code| !code.is_empty())
                    .map(str::to_owned)
                    .collect(),
                voting_rule: VotingRule::parse(&rule).unwrap_or_default(),
                created_at: row.try_get("created_at")?,
            })
        }

        fn delegation_from_row(row: &$row) -> Result<Delegation, sqlx::Error> {
            Ok(Delegation {
                id: DelegationId(row.try_get("id")?),
                meeting_id: MeetingId(row.try_get("meeting_id")?),
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn resolution_from_row(
            row: &$row,
            sponsors: Vec<DelegationId>,
        ) -> Result<Resolution, sqlx::Error> {
            let phase: String = row.try_get("phase")?;
            Ok(Resolution {
                id: ResolutionId(row.try_get("id")?),
                meeting_id: MeetingId(row.try_get("meeting_id")?),
                title: row.try_get("title")?,
                phase: decode_enum(&phase, Phase::parse)
                    .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?,
                sponsors,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                amendment_deadline: row.try_get("amendment_deadline")?,
            })
        }

        fn version_from_row(row: &$row) -> Result<Version, sqlx::Error> {
            let kind: String = row.try_get("kind")?;
            Ok(Version {
                id: row.try_get("id")?,
                resolution_id: ResolutionId(row.try_get("resolution_id")?),
                number: row.try_get::<i32, _>("number").map(i64::from)?,
                name: row.try_get("name")?,
                kind: decode_enum(&kind, VersionKind::parse)
                    .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?,
                reason: row.try_get("reason")?,
                seq: row.try_get("seq")?,
                created_by: row
                    .try_get::<Option<String>, _>("created_by")?
                    .map(AccountId),
                created_at: row.try_get("created_at")?,
            })
        }

        /// A record read with its delegations in one query, a left join
        /// giving one row per delegation (or one row whose `column` is null):
        /// the record's row, and the delegations in the rows' order.
        fn with_delegations<'r>(
            rows: &'r [$row],
            column: &str,
        ) -> Result<(&'r $row, Vec<DelegationId>), StoreError> {
            let first = rows.first().ok_or(StoreError::NotFound)?;
            let mut delegations = Vec::with_capacity(rows.len());
            for row in rows {
                if let Some(id) = row.try_get::<Option<String>, _>(column)? {
                    delegations.push(DelegationId(id));
                }
            }
            Ok((first, delegations))
        }

        fn amendment_from_row(
            row: &$row,
            supporters: Vec<DelegationId>,
        ) -> Result<Amendment, sqlx::Error> {
            let decode = |e: StoreError| sqlx::Error::Decode(e.to_string().into());
            let action: String = row.try_get("action")?;
            let status: String = row.try_get("status")?;
            let new_kind: Option<String> = row.try_get("new_kind")?;
            let vote_result: Option<String> = row.try_get("vote_result")?;
            Ok(Amendment {
                id: row.try_get("id")?,
                resolution_id: ResolutionId(row.try_get("resolution_id")?),
                serial: row.try_get::<i32, _>("serial").map(i64::from)?,
                author: AccountId(row.try_get("author")?),
                delegation_id: row
                    .try_get::<Option<String>, _>("delegation_id")?
                    .map(DelegationId),
                action: decode_enum(&action, AmendmentAction::parse).map_err(decode)?,
                paragraph_id: row.try_get("paragraph_id")?,
                target_id: row.try_get("target_id")?,
                new_kind: new_kind
                    .as_deref()
                    .and_then(crate::document::BlockKind::from_tag),
                new_level: row
                    .try_get::<Option<i32>, _>("new_level")?
                    .and_then(|l| u8::try_from(l).ok()),
                old_text: row.try_get("old_text")?,
                new_text: row.try_get("new_text")?,
                anchor_start: row.try_get("anchor_start")?,
                anchor_end: row.try_get("anchor_end")?,
                rationale: row.try_get("rationale")?,
                status: decode_enum(&status, Status::parse).map_err(decode)?,
                vote_result: vote_result
                    .as_deref()
                    .and_then(|json| serde_json::from_str(json).ok()),
                supporters,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn comment_from_row(row: &$row) -> Result<Comment, sqlx::Error> {
            Ok(Comment {
                id: row.try_get("id")?,
                resolution_id: ResolutionId(row.try_get("resolution_id")?),
                amendment_id: row.try_get("amendment_id")?,
                paragraph_id: row.try_get("paragraph_id")?,
                parent_id: row.try_get("parent_id")?,
                author: AccountId(row.try_get("author")?),
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
                edited_at: row.try_get("edited_at")?,
                deleted_at: row.try_get("deleted_at")?,
            })
        }

        #[async_trait::async_trait]
        impl Directory for $store {
            async fn create_amendment(
                &self,
                amendment: &Amendment,
            ) -> Result<Amendment, StoreError> {
                let mut attempt = 0;
                loop {
                    let inserted = sqlx::query_scalar::<_, i32>(sql::INSERT_AMENDMENT)
                        .bind(&amendment.id)
                        .bind(amendment.resolution_id.as_str())
                        .bind(amendment.author.as_str())
                        .bind(amendment.delegation_id.as_ref().map(|d| d.as_str()))
                        .bind(amendment.action.as_str())
                        .bind(&amendment.paragraph_id)
                        .bind(&amendment.target_id)
                        .bind(amendment.new_kind.map(|kind| kind.tag()))
                        .bind(amendment.new_level.map(i32::from))
                        .bind(&amendment.old_text)
                        .bind(&amendment.new_text)
                        .bind(amendment.anchor_start.as_deref())
                        .bind(amendment.anchor_end.as_deref())
                        .bind(&amendment.rationale)
                        .bind(amendment.status.as_str())
                        .bind(amendment.created_at)
                        .fetch_one(&self.pool)
                        .await;
                    match inserted {
                        Ok(serial) => {
                            let mut created = amendment.clone();
                            created.serial = i64::from(serial);
                            return Ok(created);
                        }
                        Err(error) if super::is_unique_violation(&error) && attempt < 5 => {
                            attempt += 1
                        }
                        Err(error) => return Err(map_error(error, "amendment exists")),
                    }
                }
            }

            async fn amendment(&self, id: &str) -> Result<Amendment, StoreError> {
                let rows = sqlx::query(sql::SELECT_AMENDMENT)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
                let (row, supporters) = with_delegations(&rows, "supporter")?;
                Ok(amendment_from_row(row, supporters)?)
            }

            async fn amendments(
                &self,
                resolution: &ResolutionId,
            ) -> Result<Vec<Amendment>, StoreError> {
                let rows = sqlx::query(sql::SELECT_AMENDMENTS)
                    .bind(resolution.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let supporter_rows = sqlx::query(sql::SELECT_RESOLUTION_SUPPORTERS)
                    .bind(resolution.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let mut supporters: std::collections::HashMap<String, Vec<DelegationId>> =
                    Default::default();
                for row in &supporter_rows {
                    supporters
                        .entry(row.try_get("amendment_id")?)
                        .or_default()
                        .push(DelegationId(row.try_get("delegation_id")?));
                }
                rows.iter()
                    .map(|row| {
                        let id: String = row.try_get("id")?;
                        Ok(amendment_from_row(
                            row,
                            supporters.remove(&id).unwrap_or_default(),
                        )?)
                    })
                    .collect()
            }

            async fn set_amendment_status(
                &self,
                id: &str,
                from: Status,
                to: Status,
                result: Option<&VoteResult>,
                now: i64,
            ) -> Result<(), StoreError> {
                let result = result.map(|result| serde_json::to_string(result).unwrap_or_default());
                let done = sqlx::query(sql::UPDATE_AMENDMENT_STATUS)
                    .bind(id)
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .bind(result)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Conflict(format!(
                        "the amendment is no longer {}",
                        from.as_str()
                    )));
                }
                Ok(())
            }

            async fn set_supporter(
                &self,
                amendment: &str,
                delegation: &DelegationId,
                account: &AccountId,
                support: bool,
                now: i64,
            ) -> Result<(), StoreError> {
                if support {
                    sqlx::query(sql::INSERT_SUPPORTER)
                        .bind(amendment)
                        .bind(delegation.as_str())
                        .bind(account.as_str())
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                } else {
                    sqlx::query(sql::DELETE_SUPPORTER)
                        .bind(amendment)
                        .bind(delegation.as_str())
                        .execute(&self.pool)
                        .await?;
                }
                Ok(())
            }

            async fn cast_vote(
                &self,
                amendment: &str,
                delegation: &DelegationId,
                vote: Vote,
                account: &AccountId,
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(sql::UPSERT_VOTE)
                    .bind(amendment)
                    .bind(delegation.as_str())
                    .bind(vote.as_str())
                    .bind(account.as_str())
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn votes(
                &self,
                amendment: &str,
            ) -> Result<Vec<(DelegationId, Vote)>, StoreError> {
                let rows = sqlx::query(sql::SELECT_VOTES)
                    .bind(amendment)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let vote: String = row.try_get("vote")?;
                        Ok((
                            DelegationId(row.try_get("delegation_id")?),
                            decode_enum(&vote, Vote::parse)?,
                        ))
                    })
                    .collect()
            }

            async fn create_comment(&self, comment: &Comment) -> Result<(), StoreError> {
                sqlx::query(sql::INSERT_COMMENT)
                    .bind(&comment.id)
                    .bind(comment.resolution_id.as_str())
                    .bind(&comment.amendment_id)
                    .bind(&comment.paragraph_id)
                    .bind(&comment.parent_id)
                    .bind(comment.author.as_str())
                    .bind(&comment.body)
                    .bind(comment.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_error(e, "comment exists"))?;
                Ok(())
            }

            async fn comment(&self, id: &str) -> Result<Comment, StoreError> {
                let row = sqlx::query(sql::SELECT_COMMENT)
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, ""))?;
                Ok(comment_from_row(&row)?)
            }

            async fn comments(
                &self,
                resolution: &ResolutionId,
            ) -> Result<Vec<Comment>, StoreError> {
                let rows = sqlx::query(sql::SELECT_COMMENTS)
                    .bind(resolution.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(comment_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn edit_comment(&self, id: &str, body: &str, now: i64) -> Result<(), StoreError> {
                let done = sqlx::query(sql::UPDATE_COMMENT)
                    .bind(id)
                    .bind(body)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn delete_comment(&self, id: &str, now: i64) -> Result<(), StoreError> {
                let done = sqlx::query(sql::DELETE_COMMENT)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn create_version(
                &self,
                new: &NewVersion,
                now: i64,
            ) -> Result<Version, StoreError> {
                // Two recorders may pick the same next number at once; the
                // unique key refuses one, which simply tries again.
                let mut attempt = 0;
                loop {
                    let id = crate::ids::random_id();
                    let inserted = sqlx::query_scalar::<_, i32>(sql::INSERT_VERSION)
                        .bind(&id)
                        .bind(new.resolution_id.as_str())
                        .bind(&new.name)
                        .bind(new.kind.as_str())
                        .bind(&new.reason)
                        .bind(new.seq)
                        .bind(new.created_by.as_ref().map(|a| a.as_str()))
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await;
                    match inserted {
                        Ok(number) => {
                            return Ok(Version {
                                id,
                                resolution_id: new.resolution_id.clone(),
                                number: i64::from(number),
                                name: new.name.clone(),
                                kind: new.kind,
                                reason: new.reason.clone(),
                                seq: new.seq,
                                created_by: new.created_by.clone(),
                                created_at: now,
                            });
                        }
                        Err(error) if super::is_unique_violation(&error) && attempt < 5 => {
                            attempt += 1
                        }
                        Err(error) => return Err(map_error(error, "version number taken")),
                    }
                }
            }

            async fn versions(
                &self,
                resolution: &ResolutionId,
            ) -> Result<Vec<Version>, StoreError> {
                let rows = sqlx::query(sql::SELECT_VERSIONS)
                    .bind(resolution.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(version_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn version(
                &self,
                resolution: &ResolutionId,
                id: &str,
            ) -> Result<Version, StoreError> {
                let row = sqlx::query(sql::SELECT_VERSION)
                    .bind(resolution.as_str())
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, ""))?;
                Ok(version_from_row(&row)?)
            }

            async fn contributors(
                &self,
                document: &str,
                after: i64,
                through: i64,
            ) -> Result<Vec<Contributor>, StoreError> {
                let rows = sqlx::query(sql::SELECT_CONTRIBUTORS)
                    .bind(document)
                    .bind(after)
                    .bind(through)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(Contributor {
                            account_id: AccountId(row.try_get("author")?),
                            name: row.try_get("account_name")?,
                            delegation_id: row
                                .try_get::<Option<String>, _>("author_delegation")?
                                .map(DelegationId),
                            delegation_name: row.try_get("delegation_name")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            async fn count_accounts(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar(sql::COUNT_ACCOUNTS)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn create_account(&self, new: &NewAccount) -> Result<(), StoreError> {
                let account = &new.account;
                sqlx::query(sql::INSERT_ACCOUNT)
                    .bind(account.id.as_str())
                    .bind(&account.email)
                    .bind(&account.name)
                    .bind(account.role.as_str())
                    .bind(account.delegation_id.as_ref().map(|d| d.as_str()))
                    .bind(&new.password_hash)
                    .bind(account.disabled)
                    .bind(account.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_error(e, "an account with this email exists"))?;
                Ok(())
            }

            async fn account(&self, id: &AccountId) -> Result<Account, StoreError> {
                let row = sqlx::query(sql::SELECT_ACCOUNT)
                    .bind(id.as_str())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, ""))?;
                Ok(account_from_row(&row)?)
            }

            async fn account_by_email(&self, email: &str) -> Result<(Account, String), StoreError> {
                let row = sqlx::query(sql::SELECT_ACCOUNT_BY_EMAIL)
                    .bind(email)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, ""))?;
                Ok((account_from_row(&row)?, row.try_get("password_hash")?))
            }

            async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
                let rows = sqlx::query(sql::SELECT_ACCOUNTS)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(account_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
                let done = sqlx::query(sql::UPDATE_ACCOUNT)
                    .bind(account.id.as_str())
                    .bind(&account.name)
                    .bind(account.role.as_str())
                    .bind(account.delegation_id.as_ref().map(|d| d.as_str()))
                    .bind(account.disabled)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn set_password(
                &self,
                id: &AccountId,
                password_hash: &str,
            ) -> Result<(), StoreError> {
                let done = sqlx::query(sql::UPDATE_PASSWORD)
                    .bind(id.as_str())
                    .bind(password_hash)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn create_session(&self, new: &NewSession) -> Result<(), StoreError> {
                sqlx::query(sql::INSERT_SESSION)
                    .bind(new.session.id.as_str())
                    .bind(&new.token_hash[..])
                    .bind(new.session.account_id.as_str())
                    .bind(new.session.created_at)
                    .bind(new.session.expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_error(e, "session exists"))?;
                Ok(())
            }

            async fn session(&self, token_hash: &[u8], now: i64) -> Result<SignedIn, StoreError> {
                let row = sqlx::query(sql::SELECT_SESSION)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, ""))?;
                signed_in_from_row(&row)
            }

            async fn unexpired_sessions(
                &self,
                now: i64,
            ) -> Result<Vec<UnexpiredSession>, StoreError> {
                let rows = sqlx::query(sql::SELECT_UNEXPIRED_SESSIONS)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(UnexpiredSession {
                            signed_in: signed_in_from_row(row)?,
                            ended: row.try_get("ended")?,
                        })
                    })
                    .collect()
            }

            async fn revoke_session(&self, id: &SessionId, now: i64) -> Result<(), StoreError> {
                sqlx::query(sql::REVOKE_SESSION)
                    .bind(id.as_str())
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn revoke_sessions_of(
                &self,
                account: &AccountId,
                now: i64,
            ) -> Result<Vec<SessionId>, StoreError> {
                let ids: Vec<String> = sqlx::query_scalar(sql::REVOKE_SESSIONS_OF)
                    .bind(account.as_str())
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(ids.into_iter().map(SessionId).collect())
            }

            async fn create_meeting(&self, meeting: &Meeting) -> Result<(), StoreError> {
                sqlx::query(sql::INSERT_MEETING)
                    .bind(meeting.id.as_str())
                    .bind(&meeting.title)
                    .bind(&meeting.theme)
                    .bind(&meeting.starts_on)
                    .bind(&meeting.ends_on)
                    .bind(&meeting.place)
                    .bind(meeting.languages.join(","))
                    .bind(meeting.voting_rule.as_str())
                    .bind(meeting.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_error(e, "meeting exists"))?;
                Ok(())
            }

            async fn meeting(&self, id: &MeetingId) -> Result<Meeting, StoreError> {
                let row = sqlx::query(sql::SELECT_MEETING)
                    .bind(id.as_str())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, ""))?;
                Ok(meeting_from_row(&row)?)
            }

            async fn meetings(&self) -> Result<Vec<Meeting>, StoreError> {
                let rows = sqlx::query(sql::SELECT_MEETINGS)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(meeting_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn update_meeting(&self, meeting: &Meeting) -> Result<(), StoreError> {
                let done = sqlx::query(sql::UPDATE_MEETING)
                    .bind(meeting.id.as_str())
                    .bind(&meeting.title)
                    .bind(&meeting.theme)
                    .bind(&meeting.starts_on)
                    .bind(&meeting.ends_on)
                    .bind(&meeting.place)
                    .bind(meeting.languages.join(","))
                    .bind(meeting.voting_rule.as_str())
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn create_delegation(&self, delegation: &Delegation) -> Result<(), StoreError> {
                sqlx::query(sql::INSERT_DELEGATION)
                    .bind(delegation.id.as_str())
                    .bind(delegation.meeting_id.as_str())
                    .bind(&delegation.name)
                    .bind(delegation.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        map_error(e, "the meeting already has a delegation of this name")
                    })?;
                Ok(())
            }

            async fn delegation(&self, id: &DelegationId) -> Result<Delegation, StoreError> {
                let row = sqlx::query(sql::SELECT_DELEGATION)
                    .bind(id.as_str())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_error(e, ""))?;
                Ok(delegation_from_row(&row)?)
            }

            async fn delegations(
                &self,
                meeting: &MeetingId,
            ) -> Result<Vec<Delegation>, StoreError> {
                let rows = sqlx::query(sql::SELECT_DELEGATIONS)
                    .bind(meeting.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(delegation_from_row)
                    .collect::<Result<_, _>>()?)
            }

            async fn create_resolution(
                &self,
                resolution: &Resolution,
                created_by: &AccountId,
                body: &[u8],
            ) -> Result<(), StoreError> {
                let mut transaction = self.pool.begin().await?;
                sqlx::query(sql::INSERT_RESOLUTION)
                    .bind(resolution.id.as_str())
                    .bind(resolution.meeting_id.as_str())
                    .bind(&resolution.title)
                    .bind(resolution.phase.as_str())
                    .bind(created_by.as_str())
                    .bind(resolution.created_at)
                    .bind(resolution.updated_at)
                    .execute(&mut *transaction)
                    .await
                    .map_err(|e| map_error(e, "resolution exists"))?;
                for (position, sponsor) in resolution.sponsors.iter().enumerate() {
                    sqlx::query(sql::INSERT_SPONSOR)
                        .bind(resolution.id.as_str())
                        .bind(sponsor.as_str())
                        .bind(position as i32)
                        .execute(&mut *transaction)
                        .await
                        .map_err(|e| {
                            map_error(e, "a delegation is listed twice among the sponsors")
                        })?;
                }
                sqlx::query(sql::INSERT_DOCUMENT)
                    .bind(resolution.id.as_str())
                    .bind(resolution.created_at)
                    .execute(&mut *transaction)
                    .await
                    .map_err(|e| map_error(e, "a document of this name exists"))?;
                sqlx::query(sql::INSERT_FIRST_UPDATE)
                    .bind(resolution.id.as_str())
                    .bind(body)
                    .bind(created_by.as_str())
                    .bind(resolution.created_at)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn resolution(&self, id: &ResolutionId) -> Result<Resolution, StoreError> {
                let rows = sqlx::query(sql::SELECT_RESOLUTION)
                    .bind(id.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let (row, sponsors) = with_delegations(&rows, "sponsor")?;
                Ok(resolution_from_row(row, sponsors)?)
            }

            async fn resolutions(
                &self,
                meeting: &MeetingId,
            ) -> Result<Vec<Resolution>, StoreError> {
                let rows = sqlx::query(sql::SELECT_RESOLUTIONS)
                    .bind(meeting.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let sponsor_rows = sqlx::query(sql::SELECT_MEETING_SPONSORS)
                    .bind(meeting.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let mut sponsors: std::collections::HashMap<String, Vec<DelegationId>> =
                    Default::default();
                for row in &sponsor_rows {
                    sponsors
                        .entry(row.try_get("resolution_id")?)
                        .or_default()
                        .push(DelegationId(row.try_get("delegation_id")?));
                }
                rows.iter()
                    .map(|row| {
                        let id: String = row.try_get("id")?;
                        Ok(resolution_from_row(
                            row,
                            sponsors.remove(&id).unwrap_or_default(),
                        )?)
                    })
                    .collect()
            }

            async fn update_resolution(&self, resolution: &Resolution) -> Result<(), StoreError> {
                let mut transaction = self.pool.begin().await?;
                let done = sqlx::query(sql::UPDATE_RESOLUTION)
                    .bind(resolution.id.as_str())
                    .bind(&resolution.title)
                    .bind(resolution.updated_at)
                    .bind(resolution.amendment_deadline)
                    .execute(&mut *transaction)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(sql::DELETE_SPONSORS)
                    .bind(resolution.id.as_str())
                    .execute(&mut *transaction)
                    .await?;
                for (position, sponsor) in resolution.sponsors.iter().enumerate() {
                    sqlx::query(sql::INSERT_SPONSOR)
                        .bind(resolution.id.as_str())
                        .bind(sponsor.as_str())
                        .bind(position as i32)
                        .execute(&mut *transaction)
                        .await
                        .map_err(|e| {
                            map_error(e, "a delegation is listed twice among the sponsors")
                        })?;
                }
                transaction.commit().await?;
                Ok(())
            }

            async fn set_phase(
                &self,
                id: &ResolutionId,
                from: Phase,
                to: Phase,
                now: i64,
            ) -> Result<(), StoreError> {
                let done = sqlx::query(sql::UPDATE_PHASE)
                    .bind(id.as_str())
                    .bind(from.as_str())
                    .bind(to.as_str())
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Conflict(format!(
                        "the resolution is no longer {}",
                        from.as_str()
                    )));
                }
                Ok(())
            }

            async fn record(&self, event: &NewAuditEvent, now: i64) -> Result<(), StoreError> {
                sqlx::query(sql::INSERT_AUDIT)
                    .bind(now)
                    .bind(event.actor.as_ref().map(|a| a.as_str()))
                    .bind(event.action)
                    .bind(&event.target)
                    .bind(event.detail.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit(
                &self,
                limit: i64,
                before: Option<i64>,
            ) -> Result<Vec<AuditEvent>, StoreError> {
                let rows = sqlx::query(sql::SELECT_AUDIT)
                    .bind(limit)
                    .bind(before.unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let detail: String = row.try_get("detail")?;
                        Ok(AuditEvent {
                            id: row.try_get("id")?,
                            at: row.try_get("at")?,
                            actor: row.try_get::<Option<String>, _>("actor")?.map(AccountId),
                            action: row.try_get("action")?,
                            target: row.try_get("target")?,
                            detail: serde_json::from_str(&detail)
                                .unwrap_or(serde_json::Value::Null),
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use impl_directory;

#[allow(unused_imports)]
pub(crate) use self::imports::*;

/// What the macro's expansion refers to, for the backends to import at once.
pub(crate) mod imports {
    pub use super::{Directory, NewAccount, NewSession};
    pub use crate::amendments::{
        Action as AmendmentAction, Amendment, Comment, Status, Vote, VoteResult,
    };
    pub use crate::audit::{AuditEvent, NewAuditEvent};
    pub use crate::auth::{Account, Role, Session, SignedIn};
    pub use crate::ids::{AccountId, DelegationId, MeetingId, ResolutionId, SessionId};
    pub use crate::meetings::{Delegation, Meeting, VotingRule};
    pub use crate::resolutions::{Phase, Resolution};
    pub use crate::versions::{Contributor, NewVersion, Version, VersionKind};
}
