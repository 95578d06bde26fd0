//! Gathering what an export prints from the records and the document store:
//! shared by the HTTP routes and `plenary export`, which reads the database
//! directly. Replaying a document runs on a blocking thread.

use std::collections::HashMap;

use super::{
    Compilation, CompiledAmendment, Date, Heading, MeetingCollection, MeetingHeading,
    ResolutionText, VersionLabel, labels, language_code, parse_language,
};
use crate::amendments::Language;
use crate::document::Block;
use crate::ids::{MeetingId, ResolutionId, Seq};
use crate::meetings::Meeting;
use crate::resolutions::{Phase, Resolution};
use crate::store::directory::Directory;
use crate::store::{Store, StoreError, now_millis};
use crate::sync::crdt::Replica;
use crate::versions::Version;

/// Why the material of an export could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// No such resolution, meeting or version.
    #[error("{0}")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored document cannot be read back.
    #[error("reading the document: {0}")]
    Corrupt(String),
}

fn not_found(error: StoreError, what: String) -> GatherError {
    match error {
        StoreError::NotFound => GatherError::NotFound(what),
        other => GatherError::Store(other),
    }
}

/// Which text of a resolution to export.
#[derive(Debug, Clone)]
pub enum Reading {
    /// A recorded version.
    Version(Version),
    /// The live text, through this update (everything committed).
    Live(Seq),
}

/// The records an export reads.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// Meetings, delegations, resolutions, versions, amendments.
    pub directory: &'a dyn Directory,
    /// The documents.
    pub store: &'a dyn Store,
}

impl Sources<'_> {
    /// A resolution.
    pub async fn resolution(&self, id: &str) -> Result<Resolution, GatherError> {
        self.directory
            .resolution(&ResolutionId(id.to_owned()))
            .await
            .map_err(|e| not_found(e, format!("no resolution {id}")))
    }

    /// A meeting.
    pub async fn meeting(&self, id: &str) -> Result<Meeting, GatherError> {
        self.directory
            .meeting(&MeetingId(id.to_owned()))
            .await
            .map_err(|e| not_found(e, format!("no meeting {id}")))
    }

    /// A version of `resolution`, named by its number (`3`) or its id.
    pub async fn version(
        &self,
        resolution: &Resolution,
        which: &str,
    ) -> Result<Version, GatherError> {
        let which = which.trim();
        let versions = self.directory.versions(&resolution.id).await?;
        versions
            .into_iter()
            .find(|version| {
                version.id == which
                    || which
                        .parse::<i64>()
                        .is_ok_and(|number| number == version.number)
            })
            .ok_or_else(|| {
                GatherError::NotFound(format!(
                    "resolution {} has no version {which}",
                    resolution.id
                ))
            })
    }

    /// The last committed update of a resolution's document, read from the
    /// store (the HTTP routes flush the live room first instead).
    pub async fn stored_seq(&self, resolution: &Resolution) -> Result<Seq, GatherError> {
        let document = resolution
            .id
            .document()
            .map_err(|e| GatherError::Corrupt(e.to_string()))?;
        Ok(self.store.last_seq(&document).await?)
    }

    /// The body of a resolution right after update `seq`.
    pub async fn body_at(
        &self,
        resolution: &Resolution,
        seq: Seq,
    ) -> Result<Vec<Block>, GatherError> {
        let document = resolution
            .id
            .document()
            .map_err(|e| GatherError::Corrupt(e.to_string()))?;
        let stored = self.store.load_through(&document, seq).await?;
        tokio::task::spawn_blocking(move || crate::versions::materialize(&stored))
            .await
            .map_err(|e| GatherError::Corrupt(e.to_string()))?
            .map_err(|e| GatherError::Corrupt(e.to_string()))
    }

    async fn replica_at(&self, resolution: &Resolution, seq: Seq) -> Result<Replica, GatherError> {
        let document = resolution
            .id
            .document()
            .map_err(|e| GatherError::Corrupt(e.to_string()))?;
        let stored = self.store.load_through(&document, seq).await?;
        tokio::task::spawn_blocking(move || Replica::load(&stored))
            .await
            .map_err(|e| GatherError::Corrupt(e.to_string()))?
            .map_err(|e| GatherError::Corrupt(e.to_string()))
    }

    /// The language of an export: the one asked for, else the meeting's
    /// first working language, else English.
    pub fn language(meeting: &Meeting, asked: Option<Language>) -> Language {
        asked
            .or_else(|| {
                meeting
                    .languages
                    .first()
                    .and_then(|code| parse_language(code))
            })
            .unwrap_or(Language::En)
    }

    fn meeting_heading(meeting: &Meeting) -> MeetingHeading {
        MeetingHeading {
            id: meeting.id.0.clone(),
            title: meeting.title.clone(),
            place: meeting.place.clone(),
            starts_on: meeting.starts_on.as_deref().and_then(Date::parse),
            ends_on: meeting.ends_on.as_deref().and_then(Date::parse),
        }
    }

    async fn sponsor_names(&self, resolution: &Resolution) -> Result<Vec<String>, GatherError> {
        let names: HashMap<String, String> = self
            .directory
            .delegations(&resolution.meeting_id)
            .await?
            .into_iter()
            .map(|delegation| (delegation.id.0, delegation.name))
            .collect();
        Ok(resolution
            .sponsors
            .iter()
            .map(|id| names.get(&id.0).cloned().unwrap_or_else(|| id.0.clone()))
            .collect())
    }

    /// A resolution's text as read at `reading`, with its heading.
    pub async fn resolution_text(
        &self,
        resolution: &Resolution,
        reading: Reading,
        language: Option<Language>,
    ) -> Result<ResolutionText, GatherError> {
        let meeting = self.meeting(&resolution.meeting_id.0).await?;
        let language = Self::language(&meeting, language);
        let (seq, date, version) = match reading {
            Reading::Version(version) => (
                Seq(version.seq),
                Date::from_millis(version.created_at),
                VersionLabel {
                    number: Some(version.number),
                    name: Some(version.name),
                },
            ),
            Reading::Live(seq) => (
                seq,
                Date::from_millis(now_millis()),
                VersionLabel {
                    number: None,
                    name: None,
                },
            ),
        };
        let blocks = self.body_at(resolution, seq).await?;
        let heading = Heading {
            id: resolution.id.0.clone(),
            meeting: Self::meeting_heading(&meeting),
            title: resolution.title.clone(),
            sponsors: self.sponsor_names(resolution).await?,
            phase: resolution.phase,
            date,
            created: Date::from_millis(resolution.created_at),
            version,
            language,
        };
        tokio::task::spawn_blocking(move || ResolutionText::new(heading, &blocks))
            .await
            .map_err(|e| GatherError::Corrupt(e.to_string()))
    }

    /// A meeting's adopted resolutions, each as its last version records it
    /// (the one made when it was adopted; an adopted text never changes).
    pub async fn meeting_collection(
        &self,
        meeting_id: &str,
        language: Option<Language>,
    ) -> Result<MeetingCollection, GatherError> {
        let meeting = self.meeting(meeting_id).await?;
        let language = Self::language(&meeting, language);
        let mut resolutions = Vec::new();
        let mut adopted: Vec<Resolution> = self
            .directory
            .resolutions(&meeting.id)
            .await?
            .into_iter()
            .filter(|resolution| resolution.phase == Phase::Adopted)
            .collect();
        adopted.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.0.cmp(&b.id.0)));
        for resolution in adopted {
            let reading = match self.directory.versions(&resolution.id).await?.pop() {
                Some(version) => Reading::Version(version),
                None => Reading::Live(self.stored_seq(&resolution).await?),
            };
            resolutions.push(
                self.resolution_text(&resolution, reading, Some(language))
                    .await?,
            );
        }
        Ok(MeetingCollection {
            meeting: Self::meeting_heading(&meeting),
            language,
            resolutions,
        })
    }

    /// The compilation of the amendments to a resolution, in text order,
    /// placed in the text read through `seq` (the live text).
    pub async fn compilation(
        &self,
        resolution: &Resolution,
        seq: Seq,
        language: Option<Language>,
    ) -> Result<Compilation, GatherError> {
        let text = self
            .resolution_text(resolution, Reading::Live(seq), language)
            .await?;
        let language = text.language;
        let amendments = self.directory.amendments(&resolution.id).await?;
        let mut votes = HashMap::new();
        for amendment in &amendments {
            let cast = self.directory.votes(&amendment.id).await?;
            if !cast.is_empty() {
                votes.insert(
                    amendment.id.clone(),
                    cast.into_iter().map(|(d, v)| (d.0, v)).collect::<Vec<_>>(),
                );
            }
        }
        let delegations: HashMap<String, String> = self
            .directory
            .delegations(&resolution.meeting_id)
            .await?
            .into_iter()
            .map(|delegation| (delegation.id.0, delegation.name))
            .collect();
        let accounts: HashMap<String, String> = self
            .directory
            .accounts()
            .await?
            .into_iter()
            .map(|account| (account.id.0, account.name))
            .collect();
        let replica = self.replica_at(resolution, seq).await?;
        let views = tokio::task::spawn_blocking(move || {
            crate::amendments::routes::views(amendments, &replica, &votes)
        })
        .await
        .map_err(|e| GatherError::Corrupt(e.to_string()))?;
        let labels = labels(language);
        let code = language_code(language);
        let compiled = views
            .into_iter()
            .map(|(view, _)| {
                let amendment = &view.amendment;
                let paragraph = if amendment.action == crate::amendments::Action::Title {
                    labels.parts[0].to_owned()
                } else {
                    match view.reference.as_deref().and_then(|r| r.split_once(' ')) {
                        Some(("preamble", rest)) => format!("{} {rest}", labels.parts[1]),
                        Some((_, rest)) => format!("{} {rest}", labels.parts[2]),
                        None => "—".to_owned(),
                    }
                };
                let name_of = |id: &str| {
                    delegations
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| id.to_owned())
                };
                CompiledAmendment {
                    number: view.number,
                    paragraph,
                    wording: view.wording.get(code).cloned().unwrap_or_default(),
                    proposed_by: match &amendment.delegation_id {
                        Some(delegation) => name_of(&delegation.0),
                        None => accounts
                            .get(&amendment.author.0)
                            .cloned()
                            .unwrap_or_else(|| amendment.author.0.clone()),
                    },
                    supporters: amendment.supporters.iter().map(|d| name_of(&d.0)).collect(),
                    status: amendment.status,
                    tally: view.tally.as_ref().map(|t| (t.yes, t.no, t.abstain)),
                    rationale: amendment.rationale.clone(),
                }
            })
            .collect();
        Ok(Compilation {
            resolution: text,
            amendments: compiled,
        })
    }
}
