//! Judging source rows (DESIGN §2): which rows are intake, which are
//! rejected and why, and the compact [`Dataset`] the KPIs read.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::model::{
    CancelReason, Channel, Dataset, Dossier, DossierRow, Evaluation, Pause, Rating, RejectReason,
    SourceRows, Stage,
};

/// Sector label for dossiers whose procedure is not in the catalogue.
pub const UNKNOWN_SECTOR: &str = "unknown";

/// What a dossier row amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Intake(Stage),
    /// Status 1 (registered) or 3 (not accepted): never received, never rejected.
    NotIntake,
    Rejected(RejectReason),
}

/// The one place that decides whether a dossier row counts (DESIGN §2).
pub fn judge_dossier(row: &DossierRow) -> Verdict {
    let stage = match row.status {
        1 | 3 => return Verdict::NotIntake,
        2 | 4 => Stage::Open {
            waiting_on_citizen: false,
        },
        5 | 6 => Stage::Open {
            waiting_on_citizen: true,
        },
        7 => Stage::Cancelled(CancelReason::Withdrawn),
        8 => Stage::Cancelled(CancelReason::Stopped),
        9 | 10 => Stage::Resolved,
        _ => return Verdict::Rejected(RejectReason::UnknownStatus),
    };
    let Some(received) = row.received_at else {
        return Verdict::Rejected(RejectReason::MissingReceivedAt);
    };
    if stage == Stage::Resolved && row.finished_at.is_none() {
        return Verdict::Rejected(RejectReason::MissingFinishedAt);
    }
    if row.finished_at.is_some_and(|f| f < received) {
        return Verdict::Rejected(RejectReason::EndedBeforeReceived);
    }
    Verdict::Intake(stage)
}

/// Turns source rows into the indexed dataset. Never fails: rows that cannot
/// be judged are counted in [`Dataset::rejected`].
pub fn build_dataset(rows: SourceRows) -> Dataset {
    let mut rejected: HashMap<RejectReason, u64> = HashMap::new();

    let procedures: HashMap<&str, (&str, Option<f64>)> = rows
        .procedures
        .iter()
        .map(|p| (p.code.as_str(), (p.sector_code.as_str(), p.deadline_days)))
        .collect();

    let mut intake: Vec<(&DossierRow, Stage)> = Vec::with_capacity(rows.dossiers.len());
    for row in &rows.dossiers {
        match judge_dossier(row) {
            Verdict::Intake(stage) => intake.push((row, stage)),
            Verdict::NotIntake => {}
            Verdict::Rejected(reason) => *rejected.entry(reason).or_default() += 1,
        }
    }
    // Sources return rows in any order; sorting by code makes every sum,
    // and so every /metrics body, identical whichever engine served them.
    intake.sort_unstable_by(|a, b| a.0.code.cmp(&b.0.code));

    let mut evaluations = Vec::with_capacity(rows.evaluations.len());
    let mut evaluation_agencies = Vec::new();
    for e in &rows.evaluations {
        match Rating::parse(e.rating.trim()) {
            Some(rating) => {
                evaluations.push((e, rating));
                evaluation_agencies.push(e.agency_code.as_str());
            }
            None => *rejected.entry(RejectReason::UnknownRating).or_default() += 1,
        }
    }

    let agency_codes: Vec<String> = rows
        .agencies
        .iter()
        .map(|a| a.code.as_str())
        .chain(intake.iter().map(|(d, _)| d.agency_code.as_str()))
        .chain(evaluation_agencies)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let agency_index: HashMap<&str, u32> = agency_codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let agencies = agency_codes
        .iter()
        .map(|c| rows.agencies.iter().find(|a| &a.code == c).cloned())
        .collect();

    let sector_of = |procedure: &str| {
        procedures
            .get(procedure)
            .map_or(UNKNOWN_SECTOR, |(sector, _)| *sector)
    };
    let sector_codes: Vec<String> = rows
        .sectors
        .iter()
        .map(|s| s.code.as_str())
        .chain(rows.procedures.iter().map(|p| p.sector_code.as_str()))
        .chain(intake.iter().map(|(d, _)| sector_of(&d.procedure_code)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let sector_index: HashMap<&str, u32> = sector_codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let sectors = sector_codes
        .iter()
        .map(|c| rows.sectors.iter().find(|s| &s.code == c).cloned())
        .collect();

    let mut pauses_by_dossier: HashMap<&str, Vec<Pause>> = HashMap::new();
    for s in &rows.supplements {
        pauses_by_dossier
            .entry(s.dossier_code.as_str())
            .or_default()
            .push(Pause {
                start: s.requested_at,
                end: s.resumed_at,
            });
    }
    let apologised: HashSet<&str> = rows
        .apologies
        .iter()
        .map(|a| a.dossier_code.as_str())
        .collect();

    let mut pauses = Vec::new();
    let dossiers = intake
        .iter()
        .map(|(row, stage)| {
            let received = row.received_at.expect("judged: intake has received_at");
            let first = pauses.len() as u32;
            if let Some(list) = pauses_by_dossier.get_mut(row.code.as_str()) {
                list.sort_unstable_by_key(|p| (p.start, p.end));
                pauses.extend_from_slice(list);
            }
            let ended = match stage {
                Stage::Open { .. } => None,
                Stage::Resolved => row.finished_at,
                // A cancelled dossier with neither date ends when it was received:
                // it must end somewhere, and that keeps it out of "pending".
                Stage::Cancelled(_) => Some(row.finished_at.or(row.updated_at).unwrap_or(received)),
            };
            Dossier {
                agency: agency_index[row.agency_code.as_str()],
                sector: sector_index[sector_of(&row.procedure_code)],
                channel: Channel::from_code(row.channel),
                stage: *stage,
                received,
                due: row.due_at,
                ended,
                deadline_days: procedures
                    .get(row.procedure_code.as_str())
                    .and_then(|(_, d)| *d),
                digitized: row.digitized,
                e_result: row.e_result,
                has_apology: apologised.contains(row.code.as_str()),
                pauses: (first, pauses.len() as u32),
            }
        })
        .collect();

    let evaluations = evaluations
        .into_iter()
        .map(|(e, rating)| Evaluation {
            agency: agency_index[e.agency_code.as_str()],
            rating,
            evaluated_at: e.evaluated_at,
        })
        .collect();

    Dataset {
        agency_codes,
        agencies,
        sector_codes,
        sectors,
        dossiers,
        pauses,
        evaluations,
        rejected: RejectReason::ALL
            .iter()
            .map(|r| (*r, rejected.get(r).copied().unwrap_or(0)))
            .collect(),
    }
}
