//! Resolutions: their phases, and who may do what to them. Pure rules,
//! tested without I/O.
//!
//! Phases: `drafting` → `tabled` → `voting` → `adopted` | `rejected`, and
//! `withdrawn` from any phase before a decision. While drafting, the sponsors
//! edit the text freely; once tabled it is frozen and changes only by
//! amendments.

pub mod routes;

use serde::{Deserialize, Serialize};

use crate::auth::{Actor, Role};
use crate::ids::{DelegationId, MeetingId, ResolutionId};

/// Where a resolution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The sponsors edit the text freely.
    Drafting,
    /// The text is frozen; it changes only through amendments.
    Tabled,
    /// The resolution is being voted on.
    Voting,
    /// Adopted by the meeting.
    Adopted,
    /// Rejected by the meeting.
    Rejected,
    /// Withdrawn by its sponsors or the presidency.
    Withdrawn,
}

impl Phase {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Drafting => "drafting",
            Phase::Tabled => "tabled",
            Phase::Voting => "voting",
            Phase::Adopted => "adopted",
            Phase::Rejected => "rejected",
            Phase::Withdrawn => "withdrawn",
        }
    }

    /// Reads a stored or submitted phase.
    pub fn parse(value: &str) -> Option<Phase> {
        match value {
            "drafting" => Some(Phase::Drafting),
            "tabled" => Some(Phase::Tabled),
            "voting" => Some(Phase::Voting),
            "adopted" => Some(Phase::Adopted),
            "rejected" => Some(Phase::Rejected),
            "withdrawn" => Some(Phase::Withdrawn),
            _ => None,
        }
    }

    /// Whether the resolution has been decided or withdrawn (no move out).
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Adopted | Phase::Rejected | Phase::Withdrawn)
    }
}

/// A resolution, without its body (the live document of the same id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    /// Its id, also its document's name on `/sync/`.
    pub id: ResolutionId,
    /// The meeting it belongs to.
    pub meeting_id: MeetingId,
    /// "Combating trafficking in persons in the Americas".
    pub title: String,
    /// Where it stands.
    pub phase: Phase,
    /// The delegations that sponsor it.
    pub sponsors: Vec<DelegationId>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last change of its record (not its body).
    pub updated_at: i64,
    /// When proposed amendments are tabled automatically (unix milliseconds).
    #[serde(default)]
    pub amendment_deadline: Option<i64>,
}

impl Resolution {
    /// Whether `delegation` sponsors this resolution.
    pub fn is_sponsor(&self, delegation: Option<&DelegationId>) -> bool {
        delegation.is_some_and(|delegation| self.sponsors.contains(delegation))
    }
}

/// Why a phase change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhaseError {
    /// The move does not exist (adopted → drafting, tabled → tabled…).
    #[error("a resolution cannot go from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
    NoSuchMove {
        /// Where it is.
        from: Phase,
        /// Where it was asked to go.
        to: Phase,
    },
    /// The move exists, but not for this person.
    #[error("your role may not move a resolution from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
    NotAllowed {
        /// Where it is.
        from: Phase,
        /// Where it was asked to go.
        to: Phase,
    },
}

/// Who may make a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mover {
    /// The chair or the secretariat.
    Presidency,
    /// The presidency, or a delegate of a sponsoring delegation.
    PresidencyOrSponsor,
}

fn mover(from: Phase, to: Phase) -> Option<Mover> {
    use Phase::*;
    match (from, to) {
        (Drafting, Tabled) => Some(Mover::Presidency),
        // Sent back to the drafters.
        (Tabled, Drafting) => Some(Mover::Presidency),
        (Tabled, Voting) => Some(Mover::Presidency),
        // A vote suspended.
        (Voting, Tabled) => Some(Mover::Presidency),
        (Voting, Adopted) | (Voting, Rejected) => Some(Mover::Presidency),
        (Drafting, Withdrawn) | (Tabled, Withdrawn) => Some(Mover::PresidencyOrSponsor),
        _ => None,
    }
}

/// The phase state machine: may `actor` move `resolution` to `to`?
pub fn check_transition(
    actor: Actor<'_>,
    resolution: &Resolution,
    to: Phase,
) -> Result<(), PhaseError> {
    let from = resolution.phase;
    let Some(mover) = mover(from, to) else {
        return Err(PhaseError::NoSuchMove { from, to });
    };
    let allowed = actor.role.can_preside()
        || (mover == Mover::PresidencyOrSponsor
            && actor.role == Role::Delegate
            && resolution.is_sponsor(actor.delegation));
    if allowed {
        Ok(())
    } else {
        Err(PhaseError::NotAllowed { from, to })
    }
}

/// Every move that exists from `from` (for the interface to offer).
pub fn moves_from(from: Phase) -> Vec<Phase> {
    use Phase::*;
    [Drafting, Tabled, Voting, Adopted, Rejected, Withdrawn]
        .into_iter()
        .filter(|&to| mover(from, to).is_some())
        .collect()
}

/// May `actor` change the text of `resolution` directly (not by amendment)?
/// Only while drafting: the secretariat, and the delegates of its sponsors.
pub fn may_edit_body(actor: Actor<'_>, resolution: &Resolution) -> bool {
    resolution.phase == Phase::Drafting
        && (actor.role == Role::Secretariat
            || (actor.role == Role::Delegate && resolution.is_sponsor(actor.delegation)))
}

/// May `actor` change the title and sponsors of `resolution`? The
/// secretariat at any time before a decision; sponsors while drafting.
pub fn may_edit_record(actor: Actor<'_>, resolution: &Resolution) -> bool {
    (actor.role == Role::Secretariat && !resolution.phase.is_final())
        || may_edit_body(actor, resolution)
}

/// May `actor` create a resolution sponsored by `sponsors`? The presidency;
/// a delegate only for a resolution its own delegation sponsors.
pub fn may_create(actor: Actor<'_>, sponsors: &[DelegationId]) -> bool {
    actor.role.can_preside()
        || (actor.role == Role::Delegate
            && actor
                .delegation
                .is_some_and(|delegation| sponsors.contains(delegation)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolution(phase: Phase) -> Resolution {
        Resolution {
            id: ResolutionId("r".into()),
            meeting_id: MeetingId("m".into()),
            title: "Trafficking in persons".into(),
            phase,
            sponsors: vec![DelegationId("mexico".into())],
            created_at: 0,
            updated_at: 0,
            amendment_deadline: None,
        }
    }

    const ALL: [Phase; 6] = [
        Phase::Drafting,
        Phase::Tabled,
        Phase::Voting,
        Phase::Adopted,
        Phase::Rejected,
        Phase::Withdrawn,
    ];

    fn actor(role: Role, delegation: Option<&DelegationId>) -> Actor<'_> {
        Actor { role, delegation }
    }

    #[test]
    fn the_presidency_drives_the_phases() {
        let chair = actor(Role::Chair, None);
        let secretariat = actor(Role::Secretariat, None);
        for who in [chair, secretariat] {
            assert_eq!(
                check_transition(who, &resolution(Phase::Drafting), Phase::Tabled),
                Ok(())
            );
            assert_eq!(
                check_transition(who, &resolution(Phase::Tabled), Phase::Voting),
                Ok(())
            );
            assert_eq!(
                check_transition(who, &resolution(Phase::Voting), Phase::Adopted),
                Ok(())
            );
            assert_eq!(
                check_transition(who, &resolution(Phase::Voting), Phase::Rejected),
                Ok(())
            );
            assert_eq!(
                check_transition(who, &resolution(Phase::Tabled), Phase::Drafting),
                Ok(())
            );
        }
    }

    #[test]
    fn decided_resolutions_stay_decided() {
        let secretariat = actor(Role::Secretariat, None);
        for from in [Phase::Adopted, Phase::Rejected, Phase::Withdrawn] {
            assert!(moves_from(from).is_empty());
            for to in ALL {
                assert_eq!(
                    check_transition(secretariat, &resolution(from), to),
                    Err(PhaseError::NoSuchMove { from, to })
                );
            }
        }
        assert!(matches!(
            check_transition(secretariat, &resolution(Phase::Drafting), Phase::Adopted),
            Err(PhaseError::NoSuchMove { .. })
        ));
    }

    #[test]
    fn sponsors_may_only_withdraw() {
        let mexico = DelegationId("mexico".into());
        let peru = DelegationId("peru".into());
        let sponsor = actor(Role::Delegate, Some(&mexico));
        let other = actor(Role::Delegate, Some(&peru));
        assert_eq!(
            check_transition(sponsor, &resolution(Phase::Drafting), Phase::Withdrawn),
            Ok(())
        );
        assert_eq!(
            check_transition(sponsor, &resolution(Phase::Tabled), Phase::Withdrawn),
            Ok(())
        );
        assert!(matches!(
            check_transition(sponsor, &resolution(Phase::Drafting), Phase::Tabled),
            Err(PhaseError::NotAllowed { .. })
        ));
        assert!(matches!(
            check_transition(other, &resolution(Phase::Drafting), Phase::Withdrawn),
            Err(PhaseError::NotAllowed { .. })
        ));
        let observer = actor(Role::Observer, None);
        for from in ALL {
            for to in moves_from(from) {
                assert!(check_transition(observer, &resolution(from), to).is_err());
            }
        }
    }

    #[test]
    fn only_sponsors_and_the_secretariat_edit_a_draft() {
        let mexico = DelegationId("mexico".into());
        let peru = DelegationId("peru".into());
        let draft = resolution(Phase::Drafting);
        assert!(may_edit_body(actor(Role::Delegate, Some(&mexico)), &draft));
        assert!(may_edit_body(actor(Role::Secretariat, None), &draft));
        assert!(!may_edit_body(actor(Role::Delegate, Some(&peru)), &draft));
        assert!(!may_edit_body(actor(Role::Chair, None), &draft));
        assert!(!may_edit_body(actor(Role::Observer, None), &draft));
        for phase in [Phase::Tabled, Phase::Voting, Phase::Adopted] {
            assert!(!may_edit_body(
                actor(Role::Secretariat, None),
                &resolution(phase)
            ));
            assert!(!may_edit_body(
                actor(Role::Delegate, Some(&mexico)),
                &resolution(phase)
            ));
        }
        assert!(may_edit_record(
            actor(Role::Secretariat, None),
            &resolution(Phase::Tabled)
        ));
        assert!(!may_edit_record(
            actor(Role::Delegate, Some(&mexico)),
            &resolution(Phase::Tabled)
        ));
    }

    #[test]
    fn who_may_create() {
        let mexico = DelegationId("mexico".into());
        let peru = DelegationId("peru".into());
        assert!(may_create(
            actor(Role::Chair, None),
            std::slice::from_ref(&peru)
        ));
        assert!(may_create(
            actor(Role::Delegate, Some(&mexico)),
            &[mexico.clone(), peru.clone()]
        ));
        assert!(!may_create(actor(Role::Delegate, Some(&mexico)), &[peru]));
        assert!(!may_create(actor(Role::Observer, None), &[mexico]));
        for phase in ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
    }
}
