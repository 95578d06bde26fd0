//! Amendments: proposals to change a tabled resolution, their formal wording
//! in the network's four languages, their lifecycle, votes, collisions and
//! voting order. Pure rules, tested without I/O; applying an adopted
//! amendment to the body is in `document::anchor`.

pub mod routes;

use serde::{Deserialize, Serialize};

use crate::auth::{Actor, Role};
use crate::document::BlockKind;
use crate::ids::{AccountId, DelegationId, ResolutionId};
use crate::meetings::VotingRule;
use crate::resolutions::{Phase, Resolution};

/// What an amendment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replace words with others.
    Replace,
    /// Insert words after some words.
    Insert,
    /// Delete words.
    Delete,
    /// Add a paragraph after one.
    AddParagraph,
    /// Delete a paragraph.
    DeleteParagraph,
    /// Move a paragraph to follow another.
    MoveParagraph,
    /// Change the title.
    Title,
}

impl Action {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Insert => "insert",
            Action::Delete => "delete",
            Action::AddParagraph => "add_paragraph",
            Action::DeleteParagraph => "delete_paragraph",
            Action::MoveParagraph => "move_paragraph",
            Action::Title => "title",
        }
    }

    /// Reads a stored action.
    pub fn parse(value: &str) -> Option<Action> {
        match value {
            "replace" => Some(Action::Replace),
            "insert" => Some(Action::Insert),
            "delete" => Some(Action::Delete),
            "add_paragraph" => Some(Action::AddParagraph),
            "delete_paragraph" => Some(Action::DeleteParagraph),
            "move_paragraph" => Some(Action::MoveParagraph),
            "title" => Some(Action::Title),
            _ => None,
        }
    }

    /// Whether it changes words inside a paragraph (and is anchored to them).
    pub fn is_words(self) -> bool {
        matches!(self, Action::Replace | Action::Insert | Action::Delete)
    }
}

/// Where an amendment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Proposed, not yet tabled.
    Proposed,
    /// Tabled: on the list for decision.
    Tabled,
    /// Put to the vote (open).
    Voting,
    /// Accepted by the sponsors as friendly, and applied.
    Accepted,
    /// Adopted by vote, and applied.
    Adopted,
    /// Rejected by vote.
    Rejected,
    /// Withdrawn by its author.
    Withdrawn,
    /// Moot: an amendment to the same words was adopted first.
    Fallen,
}

impl Status {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Tabled => "tabled",
            Status::Voting => "voting",
            Status::Accepted => "accepted",
            Status::Adopted => "adopted",
            Status::Rejected => "rejected",
            Status::Withdrawn => "withdrawn",
            Status::Fallen => "fallen",
        }
    }

    /// Reads a stored status.
    pub fn parse(value: &str) -> Option<Status> {
        match value {
            "proposed" => Some(Status::Proposed),
            "tabled" => Some(Status::Tabled),
            "voting" => Some(Status::Voting),
            "accepted" => Some(Status::Accepted),
            "adopted" => Some(Status::Adopted),
            "rejected" => Some(Status::Rejected),
            "withdrawn" => Some(Status::Withdrawn),
            "fallen" => Some(Status::Fallen),
            _ => None,
        }
    }

    /// Decided, withdrawn or fallen: it moves no more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Accepted
                | Status::Adopted
                | Status::Rejected
                | Status::Withdrawn
                | Status::Fallen
        )
    }

    /// Whether the amendment's change is now part of the text.
    pub fn is_applied(self) -> bool {
        matches!(self, Status::Accepted | Status::Adopted)
    }
}

/// An amendment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Amendment {
    /// Its id.
    pub id: String,
    /// The resolution it amends.
    pub resolution_id: ResolutionId,
    /// Order of proposal (1, 2, …); its number in the text is computed.
    pub serial: i64,
    /// Who proposed it.
    pub author: AccountId,
    /// The author's delegation (the proposing delegation).
    pub delegation_id: Option<DelegationId>,
    /// What it does.
    pub action: Action,
    /// The paragraph it amends (for add: the one the new paragraph follows;
    /// none: at the very beginning).
    pub paragraph_id: Option<String>,
    /// For a move: the paragraph the moved one is to follow (none: first).
    pub target_id: Option<String>,
    /// For an added paragraph: its kind.
    pub new_kind: Option<BlockKind>,
    /// For an added sub-paragraph: its level.
    pub new_level: Option<u8>,
    /// The words it changes (replace, delete), or after which it inserts.
    pub old_text: Option<String>,
    /// The new words, paragraph or title.
    pub new_text: Option<String>,
    /// Where its words start: a Yjs relative position (v1 encoding).
    #[serde(skip)]
    pub anchor_start: Option<Vec<u8>>,
    /// Where its words end.
    #[serde(skip)]
    pub anchor_end: Option<Vec<u8>>,
    /// Why.
    pub rationale: Option<String>,
    /// Where it stands.
    pub status: Status,
    /// The vote's result, once closed.
    pub vote_result: Option<VoteResult>,
    /// Delegations that signed on as co-sponsors.
    #[serde(default)]
    pub supporters: Vec<DelegationId>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// A comment in a thread: on an amendment, on a paragraph, or a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comment {
    /// Its id.
    pub id: String,
    /// The resolution.
    pub resolution_id: ResolutionId,
    /// The amendment it discusses, if any.
    pub amendment_id: Option<String>,
    /// The paragraph it discusses, if any.
    pub paragraph_id: Option<String>,
    /// The comment it answers, if any.
    pub parent_id: Option<String>,
    /// Who wrote it.
    pub author: AccountId,
    /// Its text (empty once deleted).
    pub body: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When last edited.
    pub edited_at: Option<i64>,
    /// When deleted (the thread keeps its place).
    pub deleted_at: Option<i64>,
}

/// A delegation's vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// For.
    Yes,
    /// Against.
    No,
    /// Abstains.
    Abstain,
}

impl Vote {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Yes => "yes",
            Vote::No => "no",
            Vote::Abstain => "abstain",
        }
    }

    /// Reads a stored vote.
    pub fn parse(value: &str) -> Option<Vote> {
        match value {
            "yes" => Some(Vote::Yes),
            "no" => Some(Vote::No),
            "abstain" => Some(Vote::Abstain),
            _ => None,
        }
    }
}

/// A closed vote's count and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoteResult {
    /// Delegations for.
    pub yes: u32,
    /// Delegations against.
    pub no: u32,
    /// Delegations abstaining.
    pub abstain: u32,
    /// Delegations taking part in the meeting.
    pub delegations: u32,
    /// The rule applied.
    pub rule: VotingRule,
    /// Whether it passed.
    pub adopted: bool,
}

/// Applies the meeting's rule to a count.
pub fn decide(rule: VotingRule, yes: u32, no: u32, abstain: u32, delegations: u32) -> VoteResult {
    let adopted = match rule {
        VotingRule::MajorityOfVotesCast => yes > no,
        VotingRule::TwoThirdsOfVotesCast => yes > 0 && 3 * yes >= 2 * (yes + no),
        VotingRule::MajorityOfDelegations => 2 * yes > delegations,
    };
    VoteResult {
        yes,
        no,
        abstain,
        delegations,
        rule,
        adopted,
    }
}

/// Why a move was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    /// The move does not exist from where the amendment stands.
    #[error("an amendment cannot go from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
    NoSuchMove {
        /// Where it is.
        from: Status,
        /// Where it was asked to go.
        to: Status,
    },
    /// The move exists, but not for this person.
    #[error("you may not move this amendment from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
    NotAllowed {
        /// Where it is.
        from: Status,
        /// Where it was asked to go.
        to: Status,
    },
    /// The resolution is not tabled: amendments are decided only then.
    #[error("the resolution is not tabled")]
    NotTabled,
}

/// The lifecycle: may `actor` (`is_author`: they proposed it) move
/// `amendment` of `resolution` to `to`? Adopted and rejected come only from
/// closing a vote ([`close_vote`]); fallen only from another's adoption.
pub fn check_move(
    actor: Actor<'_>,
    is_author: bool,
    amendment: &Amendment,
    resolution: &Resolution,
    to: Status,
) -> Result<(), MoveError> {
    let from = amendment.status;
    let presidency = actor.role.can_preside();
    let sponsor = actor.role == Role::Delegate && resolution.is_sponsor(actor.delegation);
    let allowed = match (from, to) {
        (Status::Proposed, Status::Tabled) => presidency,
        (Status::Proposed | Status::Tabled, Status::Withdrawn) => {
            is_author || actor.role == Role::Secretariat
        }
        (Status::Tabled, Status::Accepted) => sponsor || actor.role == Role::Secretariat,
        (Status::Tabled, Status::Voting) => presidency,
        (Status::Voting, Status::Tabled) => presidency,
        _ => return Err(MoveError::NoSuchMove { from, to }),
    };
    if matches!(to, Status::Accepted | Status::Voting) && resolution.phase != Phase::Tabled {
        return Err(MoveError::NotTabled);
    }
    if allowed {
        Ok(())
    } else {
        Err(MoveError::NotAllowed { from, to })
    }
}

/// May `actor` close the vote on `amendment`? The presidency, while voting.
pub fn close_vote(actor: Actor<'_>, amendment: &Amendment) -> Result<(), MoveError> {
    match (amendment.status, actor.role.can_preside()) {
        (Status::Voting, true) => Ok(()),
        (Status::Voting, false) => Err(MoveError::NotAllowed {
            from: Status::Voting,
            to: Status::Adopted,
        }),
        (from, _) => Err(MoveError::NoSuchMove {
            from,
            to: Status::Adopted,
        }),
    }
}

/// May `actor` propose amendments to `resolution`? Delegates and the
/// presidency, while the resolution is tabled.
pub fn may_propose(actor: Actor<'_>, resolution: &Resolution) -> Result<(), String> {
    if resolution.phase != Phase::Tabled {
        return Err(
            "amendments are proposed once the resolution is tabled (and before the vote)".into(),
        );
    }
    if actor.role == Role::Observer {
        return Err("observers do not propose amendments".into());
    }
    if actor.role == Role::Delegate && actor.delegation.is_none() {
        return Err("a delegate proposes for a delegation".into());
    }
    Ok(())
}

/// May a delegation vote (or sign on)? Delegates of the meeting's delegations.
pub fn may_vote(actor: Actor<'_>) -> bool {
    actor.role == Role::Delegate && actor.delegation.is_some()
}

/// Where an amendment sits in the current text, for ordering and collisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The amendment.
    pub id: String,
    /// What it does.
    pub action: Action,
    /// Index of the paragraph it concerns in the current body (-1: the title;
    /// for an added paragraph at the very beginning, -1 too).
    pub paragraph: i64,
    /// Its words' range in that paragraph (characters), for word actions.
    pub range: Option<(u32, u32)>,
    /// Whether it is still open (not final).
    pub open: bool,
    /// How far it departs from the text: what it removes plus what it adds.
    pub distance: u64,
}

/// Whether two amendments touch the same words or paragraph (so adopting one
/// makes the other moot).
pub fn collide(a: &Placement, b: &Placement) -> bool {
    if a.id == b.id {
        return false;
    }
    if a.action == Action::Title || b.action == Action::Title {
        return a.action == b.action;
    }
    if a.action == Action::AddParagraph || b.action == Action::AddParagraph {
        // Two new paragraphs at the same place compete; otherwise an added
        // paragraph collides with nothing.
        return a.action == b.action && a.paragraph == b.paragraph;
    }
    if a.paragraph != b.paragraph {
        return false;
    }
    match (a.range, b.range) {
        (Some((a_start, a_end)), Some((b_start, b_end))) => {
            // Overlapping words; an insertion point touching the other's words counts.
            a_start < b_end.max(b_start + 1) && b_start < a_end.max(a_start + 1)
        }
        // A paragraph-wide action and anything else on the same paragraph.
        _ => true,
    }
}

/// Groups of colliding open amendments, in text order, each group in voting
/// order: the one furthest from the original text first.
pub fn voting_list(placements: &[Placement]) -> Vec<Vec<String>> {
    let open: Vec<&Placement> = placements.iter().filter(|p| p.open).collect();
    let mut group_of: Vec<usize> = (0..open.len()).collect();
    fn find(groups: &mut [usize], i: usize) -> usize {
        let mut root = i;
        while groups[root] != root {
            root = groups[root];
        }
        groups[i] = root;
        root
    }
    for i in 0..open.len() {
        for j in i + 1..open.len() {
            if collide(open[i], open[j]) {
                let (a, b) = (find(&mut group_of, i), find(&mut group_of, j));
                group_of[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<&Placement>> = Default::default();
    for (i, placement) in open.iter().enumerate() {
        let root = find(&mut group_of, i);
        groups.entry(root).or_default().push(placement);
    }
    let mut ordered: Vec<Vec<&Placement>> = groups.into_values().collect();
    for group in &mut ordered {
        group.sort_by(|a, b| b.distance.cmp(&a.distance).then(a.id.cmp(&b.id)));
    }
    ordered.sort_by_key(|group| {
        group
            .iter()
            .map(|p| (p.paragraph, p.range.map_or(0, |r| r.0)))
            .min()
            .unwrap_or((i64::MAX, 0))
    });
    ordered
        .into_iter()
        .map(|group| group.into_iter().map(|p| p.id.clone()).collect())
        .collect()
}

/// A language of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// English.
    En,
    /// Spanish.
    Es,
    /// French.
    Fr,
    /// Portuguese.
    Pt,
}

impl Language {
    /// All four.
    pub const ALL: [Language; 4] = [Language::En, Language::Es, Language::Fr, Language::Pt];
}

/// A paragraph as the wording names it: its kind, number and, for a
/// sub-paragraph, the operative paragraph it belongs to ("3 (b)").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParagraphName {
    /// Preambular, operative or sub-paragraph (named with its operative).
    pub kind: BlockKind,
    /// "3", "2", "3 (b)".
    pub number: String,
}

/// The three forms a paragraph's name takes in a language: "in …", "… "
/// (as an object) and "after …".
fn forms(language: Language, name: &ParagraphName) -> (String, String, String) {
    let n = &name.number;
    let operative = !matches!(name.kind, BlockKind::Preamble);
    match language {
        Language::En => {
            let noun = if operative {
                format!("operative paragraph {n}")
            } else {
                format!("preambular paragraph {n}")
            };
            (format!("In {noun}"), noun.clone(), format!("After {noun}"))
        }
        Language::Es => {
            let noun = if operative {
                format!("párrafo {n} de la parte dispositiva")
            } else {
                format!("párrafo {n} del preámbulo")
            };
            (
                format!("En el {noun}"),
                format!("el {noun}"),
                format!("Después del {noun}"),
            )
        }
        Language::Fr => {
            if operative {
                let noun = format!("paragraphe {n} du dispositif");
                (
                    format!("Au {noun}"),
                    format!("le {noun}"),
                    format!("Après le {noun}"),
                )
            } else {
                let noun = format!("alinéa {n} du préambule");
                (
                    format!("À l'{noun}"),
                    format!("l'{noun}"),
                    format!("Après l'{noun}"),
                )
            }
        }
        Language::Pt => {
            let noun = if operative {
                format!("parágrafo operativo {n}")
            } else {
                format!("parágrafo preambular {n}")
            };
            (
                format!("No {noun}"),
                format!("o {noun}"),
                format!("Após o {noun}"),
            )
        }
    }
}

fn quote(language: Language, text: &str) -> String {
    match language {
        Language::En | Language::Pt => format!("\u{201c}{text}\u{201d}"),
        Language::Es => format!("«{text}»"),
        Language::Fr => format!("« {text} »"),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The formal wording of an amendment ("In operative paragraph 3, replace
/// the words "X" with "Y"."). `paragraph` names the paragraph it amends
/// (or follows); `target` the one a moved paragraph is to follow.
pub fn wording(
    language: Language,
    amendment: &Amendment,
    paragraph: Option<&ParagraphName>,
    target: Option<&ParagraphName>,
) -> String {
    let old = amendment.old_text.as_deref().unwrap_or_default();
    let new = amendment.new_text.as_deref().unwrap_or_default();
    let q = |text: &str| quote(language, text);
    let unknown = ParagraphName {
        kind: BlockKind::Operative,
        number: "?".into(),
    };
    let (in_p, the_p, after_p) = forms(language, paragraph.unwrap_or(&unknown));
    use Language::*;
    let sentence = match (amendment.action, language) {
        (Action::Replace, En) => format!("{in_p}, replace the words {} with {}.", q(old), q(new)),
        (Action::Replace, Es) => format!(
            "{in_p}, sustitúyanse las palabras {} por {}.",
            q(old),
            q(new)
        ),
        (Action::Replace, Fr) => format!("{in_p}, remplacer les mots {} par {}.", q(old), q(new)),
        (Action::Replace, Pt) => {
            format!("{in_p}, substituir as palavras {} por {}.", q(old), q(new))
        }
        (Action::Insert, En) => format!("{in_p}, after the words {}, insert {}.", q(old), q(new)),
        (Action::Insert, Es) => format!(
            "{in_p}, después de las palabras {}, insértese {}.",
            q(old),
            q(new)
        ),
        (Action::Insert, Fr) => format!("{in_p}, après les mots {}, insérer {}.", q(old), q(new)),
        (Action::Insert, Pt) => format!("{in_p}, após as palavras {}, inserir {}.", q(old), q(new)),
        (Action::Delete, En) => format!("{in_p}, delete the words {}.", q(old)),
        (Action::Delete, Es) => format!("{in_p}, suprímanse las palabras {}.", q(old)),
        (Action::Delete, Fr) => format!("{in_p}, supprimer les mots {}.", q(old)),
        (Action::Delete, Pt) => format!("{in_p}, suprimir as palavras {}.", q(old)),
        (Action::AddParagraph, _) if paragraph.is_none() => match language {
            En => format!(
                "At the beginning, insert a new paragraph reading: {}.",
                q(new)
            ),
            Es => format!("Al principio, insértese un nuevo párrafo: {}.", q(new)),
            Fr => format!("Au début, insérer un nouveau paragraphe : {}.", q(new)),
            Pt => format!("No início, inserir um novo parágrafo: {}.", q(new)),
        },
        (Action::AddParagraph, En) => {
            format!("{after_p}, insert a new paragraph reading: {}.", q(new))
        }
        (Action::AddParagraph, Es) => format!("{after_p}, insértese un nuevo párrafo: {}.", q(new)),
        (Action::AddParagraph, Fr) => {
            format!("{after_p}, insérer un nouveau paragraphe : {}.", q(new))
        }
        (Action::AddParagraph, Pt) => format!("{after_p}, inserir um novo parágrafo: {}.", q(new)),
        (Action::DeleteParagraph, En) => format!("Delete {the_p}."),
        (Action::DeleteParagraph, Es) => format!("Suprímase {the_p}."),
        (Action::DeleteParagraph, Fr) => format!("Supprimer {the_p}."),
        (Action::DeleteParagraph, Pt) => format!("Suprimir {the_p}."),
        (Action::MoveParagraph, _) => {
            let to = target.map(|target| forms(language, target).1);
            match (language, to) {
                (En, Some(to)) => format!("Move {the_p} to follow {to}."),
                // "el párrafo …" after "de" contracts to "del párrafo …".
                (Es, Some(to)) => format!("Trasládese {the_p} a continuación d{to}."),
                (Fr, Some(to)) => format!("Déplacer {the_p} après {to}."),
                (Pt, Some(to)) => format!("Deslocar {the_p} para depois d{to}."),
                (En, None) => format!("Move {the_p} to the beginning."),
                (Es, None) => format!("Trasládese {the_p} al principio."),
                (Fr, None) => format!("Déplacer {the_p} au début."),
                (Pt, None) => format!("Deslocar {the_p} para o início."),
            }
        }
        (Action::Title, En) => format!("Amend the title to read as follows: {}.", q(new)),
        (Action::Title, Es) => format!("Modifíquese el título para que diga: {}.", q(new)),
        (Action::Title, Fr) => format!("Modifier le titre comme suit : {}.", q(new)),
        (Action::Title, Pt) => format!("Alterar o título para: {}.", q(new)),
    };
    capitalize(&sentence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MeetingId;

    fn amendment(action: Action, old: Option<&str>, new: Option<&str>) -> Amendment {
        Amendment {
            id: "a1".into(),
            resolution_id: ResolutionId("r".into()),
            serial: 1,
            author: AccountId("ana".into()),
            delegation_id: Some(DelegationId("mx".into())),
            action,
            paragraph_id: Some("p3".into()),
            target_id: None,
            new_kind: None,
            new_level: None,
            old_text: old.map(str::to_owned),
            new_text: new.map(str::to_owned),
            anchor_start: None,
            anchor_end: None,
            rationale: None,
            status: Status::Proposed,
            vote_result: None,
            supporters: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    fn operative(n: &str) -> ParagraphName {
        ParagraphName {
            kind: BlockKind::Operative,
            number: n.into(),
        }
    }

    #[test]
    fn formal_wording_in_four_languages() {
        let replace = amendment(
            Action::Replace,
            Some("review"),
            Some("review and harmonize"),
        );
        assert_eq!(
            wording(Language::En, &replace, Some(&operative("3")), None),
            "In operative paragraph 3, replace the words \u{201c}review\u{201d} with \u{201c}review and harmonize\u{201d}."
        );
        assert_eq!(
            wording(Language::Es, &replace, Some(&operative("3")), None),
            "En el párrafo 3 de la parte dispositiva, sustitúyanse las palabras «review» por «review and harmonize»."
        );
        assert_eq!(
            wording(Language::Fr, &replace, Some(&operative("3")), None),
            "Au paragraphe 3 du dispositif, remplacer les mots « review » par « review and harmonize »."
        );
        let preamble = ParagraphName {
            kind: BlockKind::Preamble,
            number: "2".into(),
        };
        let delete = amendment(Action::Delete, Some("in particular"), None);
        assert_eq!(
            wording(Language::Fr, &delete, Some(&preamble), None),
            "À l'alinéa 2 du préambule, supprimer les mots « in particular »."
        );
        assert_eq!(
            wording(Language::Pt, &delete, Some(&preamble), None),
            "No parágrafo preambular 2, suprimir as palavras \u{201c}in particular\u{201d}."
        );
        let drop = amendment(Action::DeleteParagraph, None, None);
        assert_eq!(
            wording(Language::En, &drop, Some(&operative("6")), None),
            "Delete operative paragraph 6."
        );
        assert_eq!(
            wording(Language::Es, &drop, Some(&operative("6")), None),
            "Suprímase el párrafo 6 de la parte dispositiva."
        );
        let moved = amendment(Action::MoveParagraph, None, None);
        assert_eq!(
            wording(
                Language::En,
                &moved,
                Some(&operative("7")),
                Some(&operative("2"))
            ),
            "Move operative paragraph 7 to follow operative paragraph 2."
        );
        assert_eq!(
            wording(
                Language::Es,
                &moved,
                Some(&operative("7")),
                Some(&operative("2"))
            ),
            "Trasládese el párrafo 7 de la parte dispositiva a continuación del párrafo 2 de la parte dispositiva."
        );
        let title = amendment(Action::Title, None, Some("On trafficking"));
        assert_eq!(
            wording(Language::Fr, &title, None, None),
            "Modifier le titre comme suit : « On trafficking »."
        );
    }

    #[test]
    fn the_rule_decides() {
        assert!(decide(VotingRule::MajorityOfVotesCast, 5, 4, 3, 12).adopted);
        assert!(!decide(VotingRule::MajorityOfVotesCast, 4, 4, 4, 12).adopted);
        assert!(decide(VotingRule::TwoThirdsOfVotesCast, 6, 3, 0, 12).adopted);
        assert!(!decide(VotingRule::TwoThirdsOfVotesCast, 5, 3, 0, 12).adopted);
        assert!(!decide(VotingRule::MajorityOfDelegations, 6, 0, 6, 12).adopted);
        assert!(decide(VotingRule::MajorityOfDelegations, 7, 5, 0, 12).adopted);
    }

    #[test]
    fn the_lifecycle() {
        let mexico = DelegationId("mx".into());
        let peru = DelegationId("pe".into());
        let resolution = Resolution {
            id: ResolutionId("r".into()),
            meeting_id: MeetingId("m".into()),
            title: "t".into(),
            phase: Phase::Tabled,
            sponsors: vec![mexico.clone()],
            created_at: 0,
            updated_at: 0,
            amendment_deadline: None,
        };
        let chair = Actor {
            role: Role::Chair,
            delegation: None,
        };
        let sponsor = Actor {
            role: Role::Delegate,
            delegation: Some(&mexico),
        };
        let other = Actor {
            role: Role::Delegate,
            delegation: Some(&peru),
        };
        let mut a = amendment(Action::Replace, Some("x"), Some("y"));
        assert!(check_move(chair, false, &a, &resolution, Status::Tabled).is_ok());
        assert!(matches!(
            check_move(other, false, &a, &resolution, Status::Tabled),
            Err(MoveError::NotAllowed { .. })
        ));
        assert!(check_move(other, true, &a, &resolution, Status::Withdrawn).is_ok());
        assert!(matches!(
            check_move(chair, false, &a, &resolution, Status::Voting),
            Err(MoveError::NoSuchMove { .. })
        ));
        a.status = Status::Tabled;
        assert!(check_move(sponsor, false, &a, &resolution, Status::Accepted).is_ok());
        assert!(check_move(other, false, &a, &resolution, Status::Accepted).is_err());
        assert!(check_move(chair, false, &a, &resolution, Status::Voting).is_ok());
        assert!(matches!(
            check_move(chair, false, &a, &resolution, Status::Adopted),
            Err(MoveError::NoSuchMove { .. })
        ));
        a.status = Status::Voting;
        assert!(close_vote(chair, &a).is_ok());
        assert!(close_vote(sponsor, &a).is_err());
        a.status = Status::Adopted;
        for to in [Status::Tabled, Status::Withdrawn, Status::Voting] {
            assert!(check_move(chair, true, &a, &resolution, to).is_err());
        }
        let mut drafting = resolution.clone();
        drafting.phase = Phase::Drafting;
        assert!(may_propose(other, &drafting).is_err());
        assert!(may_propose(other, &resolution).is_ok());
        assert!(
            may_propose(
                Actor {
                    role: Role::Observer,
                    delegation: None
                },
                &resolution
            )
            .is_err()
        );
    }

    fn placement(
        id: &str,
        action: Action,
        paragraph: i64,
        range: Option<(u32, u32)>,
        distance: u64,
    ) -> Placement {
        Placement {
            id: id.into(),
            action,
            paragraph,
            range,
            open: true,
            distance,
        }
    }

    #[test]
    fn collisions_and_voting_order() {
        let a = placement("a", Action::Replace, 2, Some((10, 20)), 12);
        let b = placement("b", Action::Delete, 2, Some((15, 25)), 10);
        let c = placement("c", Action::Replace, 2, Some((30, 35)), 3);
        let d = placement("d", Action::DeleteParagraph, 2, None, 1000);
        let e = placement("e", Action::Insert, 0, Some((5, 9)), 4);
        assert!(collide(&a, &b));
        assert!(!collide(&a, &c));
        assert!(collide(&c, &d));
        assert!(!collide(&e, &a));
        let list = voting_list(&[a, b, c, d, e]);
        assert_eq!(
            list,
            vec![
                vec!["e".to_owned()],
                vec!["d".into(), "a".into(), "b".into(), "c".into()]
            ]
        );
    }
}
