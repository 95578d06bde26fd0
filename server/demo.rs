//! `plenary serve --demo`: a real meeting in one command. On an empty
//! database it sets up the 7th Annual Meeting of the Network of Women
//! Parliamentarians of the Americas (theme: human trafficking), a dozen
//! delegations, an account per role, and a draft resolution to work on.

use crate::app::AppState;
use crate::auth::Role;
use crate::auth::routes::{NewUser, create_account};
use crate::document::{self, Block, BlockKind, Inline};
use crate::error::ApiError;
use crate::ids::{AccountId, DelegationId, MeetingId, ResolutionId};
use crate::meetings::{Delegation, Meeting, VotingRule};
use crate::resolutions::{Phase, Resolution};
use crate::store::now_millis;

/// The delegations of the demo meeting.
pub const DELEGATIONS: [&str; 12] = [
    "Argentina",
    "Brazil",
    "Canada",
    "Chile",
    "Colombia",
    "Costa Rica",
    "Haiti",
    "Jamaica",
    "Mexico",
    "Paraguay",
    "Peru",
    "Uruguay",
];

/// An account the demo created, to print once.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// Its role.
    pub role: Role,
    /// Its delegation's name, for a delegate.
    pub delegation: Option<String>,
    /// Sign-in address.
    pub email: String,
    /// Its random password (shown once, never stored in clear).
    pub password: String,
}

/// What the demo set up.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The meeting.
    pub meeting: MeetingId,
    /// The draft resolution.
    pub resolution: ResolutionId,
    /// The accounts, with their passwords.
    pub accounts: Vec<DemoAccount>,
}

fn random_password() -> String {
    crate::ids::random_id()
}

fn preamble(opening: &str, rest: &str) -> Block {
    Block::new(
        BlockKind::Preamble,
        vec![Inline::italic(opening), Inline::plain(rest)],
    )
}

fn operative(opening: &str, rest: &str) -> Block {
    Block::new(
        BlockKind::Operative,
        vec![Inline::italic(opening), Inline::plain(rest)],
    )
}

fn point(level: u8, text: &str) -> Block {
    Block::subparagraph(level, vec![Inline::plain(text)])
}

/// The body of the demo's draft resolution.
pub fn trafficking_resolution() -> Vec<Block> {
    vec![
        preamble(
            "Recalling",
            " the Protocol to Prevent, Suppress and Punish Trafficking in Persons, Especially Women and Children, supplementing the United Nations Convention against Transnational Organized Crime (the Palermo Protocol, 2000),",
        ),
        preamble(
            "Recalling also",
            " the Inter-American Convention on the Prevention, Punishment and Eradication of Violence against Women (the Convention of Belém do Pará, 1994),",
        ),
        preamble(
            "Deeply concerned",
            " that women and girls are the majority of the detected victims of trafficking in persons in the Americas, and that most of them are exploited sexually,",
        ),
        preamble(
            "Noting with concern",
            " that traffickers increasingly use digital platforms to recruit, advertise and control their victims,",
        ),
        preamble(
            "Recognizing",
            " the essential role of parliaments in adopting legislation, approving budgets and overseeing the action of governments against trafficking in persons,",
        ),
        preamble(
            "Affirming",
            " that victims of trafficking are holders of rights and must never be punished for offences they were compelled to commit as a direct result of having been trafficked,",
        ),
        operative(
            "Urges",
            " the parliaments of the Americas that have not yet done so to ratify the Palermo Protocol and to bring their national legislation into line with it;",
        ),
        operative(
            "Calls upon",
            " member parliaments to criminalize every form of trafficking in persons, with penalties proportionate to the gravity of the crime, including:",
        ),
        point(
            1,
            "trafficking for sexual exploitation, forced labour or services, servitude and the removal of organs;",
        ),
        point(
            1,
            "the knowing use of the services of a victim of trafficking;",
        ),
        operative(
            "Encourages",
            " parliaments to allocate sufficient resources in national budgets for the identification, protection and assistance of victims, including:",
        ),
        point(
            1,
            "safe shelter, medical and psychological care, and legal aid in a language they understand;",
        ),
        point(
            1,
            "residence permits for foreign victims, whether or not they testify, in particular:",
        ),
        point(2, "for victims who are children;"),
        point(
            2,
            "for victims at risk of reprisals in their country of origin;",
        ),
        operative(
            "Recommends",
            " that each parliament establish a committee or a rapporteur to monitor the implementation of anti-trafficking laws and national action plans;",
        ),
        operative(
            "Invites",
            " technology companies to cooperate with national authorities in detecting and removing content used to recruit or exploit victims, with due respect for the right to privacy;",
        ),
        operative(
            "Decides",
            " to remain seized of the matter and to review progress at its next annual meeting.",
        ),
    ]
}

/// Sets up the demo meeting on an empty database. `with_secretariat`: also
/// create a secretariat account (not needed when one comes from
/// `PLENARY_ADMIN_EMAIL`).
pub async fn seed(state: &AppState, with_secretariat: bool) -> Result<Demo, ApiError> {
    let now = now_millis();
    let meeting = Meeting {
        id: MeetingId::generate(),
        title: "7th Annual Meeting of the Network of Women Parliamentarians of the Americas".into(),
        theme: Some("Human trafficking".into()),
        starts_on: Some("2026-12-02".into()),
        ends_on: Some("2026-12-04".into()),
        place: Some("Mexico City, Mexico".into()),
        languages: vec!["en".into(), "es".into(), "fr".into(), "pt".into()],
        voting_rule: VotingRule::MajorityOfVotesCast,
        created_at: now,
    };
    state.directory().create_meeting(&meeting).await?;
    let mut delegations: Vec<Delegation> = Vec::new();
    for name in DELEGATIONS {
        let delegation = Delegation {
            id: DelegationId::generate(),
            meeting_id: meeting.id.clone(),
            name: name.into(),
            created_at: now,
        };
        state.directory().create_delegation(&delegation).await?;
        delegations.push(delegation);
    }
    let delegation = |name: &str| {
        delegations
            .iter()
            .find(|delegation| delegation.name == name)
            .map(|delegation| delegation.id.clone())
    };

    let mut people: Vec<(Role, Option<&str>, &str, &str)> = vec![
        (
            Role::Chair,
            None,
            "chair@plenary.example",
            "María Fernanda Ruiz",
        ),
        (
            Role::Delegate,
            Some("Mexico"),
            "mexico@plenary.example",
            "Claudia Hernández",
        ),
        (
            Role::Delegate,
            Some("Brazil"),
            "brazil@plenary.example",
            "Ana Paula Souza",
        ),
        (
            Role::Delegate,
            Some("Canada"),
            "canada@plenary.example",
            "Élise Tremblay",
        ),
        (
            Role::Delegate,
            Some("Peru"),
            "peru@plenary.example",
            "Rosa Quispe",
        ),
        (
            Role::Observer,
            None,
            "observer@plenary.example",
            "Observer (press)",
        ),
    ];
    if with_secretariat {
        people.insert(
            0,
            (
                Role::Secretariat,
                None,
                "secretariat@plenary.example",
                "Secretariat",
            ),
        );
    }
    let mut accounts = Vec::new();
    let mut creator: Option<AccountId> = None;
    for (role, delegation_name, email, name) in people {
        let password = random_password();
        let account = create_account(
            state,
            NewUser {
                email: email.into(),
                name: name.into(),
                password: password.clone(),
                role,
                delegation_id: delegation_name.and_then(delegation),
            },
            None,
        )
        .await?;
        if creator.is_none() || role == Role::Secretariat {
            creator = Some(account.id.clone());
        }
        accounts.push(DemoAccount {
            role,
            delegation: delegation_name.map(str::to_owned),
            email: email.into(),
            password,
        });
    }

    let sponsors: Vec<DelegationId> = ["Mexico", "Brazil", "Canada"]
        .into_iter()
        .filter_map(delegation)
        .collect();
    let resolution = Resolution {
        id: ResolutionId::generate(),
        meeting_id: meeting.id.clone(),
        title: "Preventing and combating trafficking in persons, especially women and girls, in the Americas".into(),
        phase: Phase::Drafting,
        sponsors,
        created_at: now,
        updated_at: now,
        amendment_deadline: None,
    };
    let creator = creator.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no demo account")))?;
    state
        .directory()
        .create_resolution(
            &resolution,
            &creator,
            &document::body_update(&trafficking_resolution()),
        )
        .await?;
    Ok(Demo {
        meeting: meeting.id,
        resolution: resolution.id,
        accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_resolution_reads_back_whole() {
        let blocks = document::read_update(&document::body_update(&trafficking_resolution()))
            .expect("reads");
        assert_eq!(
            blocks
                .iter()
                .filter(|b| b.kind == BlockKind::Preamble)
                .count(),
            6
        );
        assert_eq!(
            blocks
                .iter()
                .filter(|b| b.kind == BlockKind::Operative)
                .count(),
            6
        );
        assert!(blocks.iter().any(|b| b.level == 2));
        assert!(blocks[1].text().contains("Belém do Pará"));
        assert!(blocks.iter().all(|b| b.problems.is_empty()));
    }
}
