//! Meetings of the network and the delegations taking part.

pub mod routes;

use serde::{Deserialize, Serialize};

use crate::ids::{DelegationId, MeetingId};

/// How an amendment or a resolution is decided (a meeting setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VotingRule {
    /// More yes than no among the votes cast (abstentions do not count).
    #[default]
    MajorityOfVotesCast,
    /// At least two thirds of the votes cast are yes.
    TwoThirdsOfVotesCast,
    /// More yes than half of the delegations taking part.
    MajorityOfDelegations,
}

impl VotingRule {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            VotingRule::MajorityOfVotesCast => "majority_of_votes_cast",
            VotingRule::TwoThirdsOfVotesCast => "two_thirds_of_votes_cast",
            VotingRule::MajorityOfDelegations => "majority_of_delegations",
        }
    }

    /// Reads a stored rule.
    pub fn parse(value: &str) -> Option<VotingRule> {
        match value {
            "majority_of_votes_cast" => Some(VotingRule::MajorityOfVotesCast),
            "two_thirds_of_votes_cast" => Some(VotingRule::TwoThirdsOfVotesCast),
            "majority_of_delegations" => Some(VotingRule::MajorityOfDelegations),
            _ => None,
        }
    }
}

/// The working languages a meeting may use.
pub const LANGUAGES: [&str; 4] = ["en", "es", "fr", "pt"];

/// A meeting of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Meeting {
    /// Its id.
    pub id: MeetingId,
    /// "7th Annual Meeting of the Network of Women Parliamentarians of the Americas".
    pub title: String,
    /// "Human trafficking".
    pub theme: Option<String>,
    /// First day, `YYYY-MM-DD`.
    pub starts_on: Option<String>,
    /// Last day, `YYYY-MM-DD`.
    pub ends_on: Option<String>,
    /// City and country.
    pub place: Option<String>,
    /// Working languages, as codes from `en`, `es`, `fr`, `pt`.
    pub languages: Vec<String>,
    /// How votes are decided.
    pub voting_rule: VotingRule,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A delegation (a country's parliament) at a meeting. One vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delegation {
    /// Its id.
    pub id: DelegationId,
    /// The meeting it takes part in.
    pub meeting_id: MeetingId,
    /// "Mexico", "Parliament of Canada".
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Checks a date written `YYYY-MM-DD` (a real calendar day).
pub fn validate_date(field: &'static str, value: &str) -> Result<(), crate::auth::Invalid> {
    let invalid = || crate::auth::Invalid::new(field, "is not a date written YYYY-MM-DD");
    let parts: Vec<&str> = value.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return Err(invalid());
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return Err(invalid());
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        year.parse::<u32>(),
        month.parse::<u32>(),
        day.parse::<u32>(),
    ) else {
        return Err(invalid());
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(invalid()),
    };
    if day == 0 || day > days {
        return Err(invalid());
    }
    Ok(())
}

/// Checks the working languages: known codes, no repeats, at least one.
pub fn validate_languages(languages: &[String]) -> Result<(), crate::auth::Invalid> {
    if languages.is_empty() {
        return Err(crate::auth::Invalid::new(
            "languages",
            "names at least one language",
        ));
    }
    for (index, language) in languages.iter().enumerate() {
        if !LANGUAGES.contains(&language.as_str()) {
            return Err(crate::auth::Invalid::new(
                "languages",
                format!("{language:?} is not one of en, es, fr, pt"),
            ));
        }
        if languages[..index].contains(language) {
            return Err(crate::auth::Invalid::new(
                "languages",
                format!("{language} is repeated"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_days() {
        assert!(validate_date("starts_on", "2026-11-27").is_ok());
        assert!(validate_date("starts_on", "2024-02-29").is_ok());
        assert!(validate_date("starts_on", "2026-02-29").is_err());
        assert!(validate_date("starts_on", "2026-13-01").is_err());
        assert!(validate_date("starts_on", "27/11/2026").is_err());
    }

    #[test]
    fn languages_are_the_networks_four() {
        let ok: Vec<String> = vec!["en".into(), "es".into()];
        assert!(validate_languages(&ok).is_ok());
        assert!(validate_languages(&[]).is_err());
        assert!(validate_languages(&["de".into()]).is_err());
        assert!(validate_languages(&["en".into(), "en".into()]).is_err());
        for rule in [
            VotingRule::MajorityOfVotesCast,
            VotingRule::TwoThirdsOfVotesCast,
            VotingRule::MajorityOfDelegations,
        ] {
            assert_eq!(VotingRule::parse(rule.as_str()), Some(rule));
        }
    }
}
