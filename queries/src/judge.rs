//! Judging source rows (DESIGN §2): which rows are intake, which are
//! rejected and why, and the compact [`Dataset`] the KPIs read.

use std::collections::HashMap;

use crate::lookup::Interner;
use crate::model::{
    Agency, CancelReason, Channel, Dataset, Dossier, DossierRow, Evaluation, EvaluationRow,
    NO_PROCEDURE, OpenIdentity, Pause, Procedure, ProcedureTraits, Rating, RejectReason, Sector,
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
    let mut pauses: HashMap<&str, Vec<Pause>> = HashMap::new();
    for s in &rows.supplements {
        pauses
            .entry(s.dossier_code.as_str())
            .or_default()
            .push(Pause {
                start: s.requested_at,
                end: s.resumed_at,
            });
    }
    let apologised: std::collections::HashSet<&str> = rows
        .apologies
        .iter()
        .map(|a| a.dossier_code.as_str())
        .collect();
    // With every row at hand, the code's rank orders the dataset by code.
    let mut by_code: Vec<usize> = (0..rows.dossiers.len()).collect();
    by_code.sort_by(|a, b| rows.dossiers[*a].code.cmp(&rows.dossiers[*b].code));
    let mut builder =
        DatasetBuilder::new(&rows.agencies, &rows.sectors, &rows.procedures).keep_open_identities();
    for (rank, i) in by_code.into_iter().enumerate() {
        let row = &rows.dossiers[i];
        let code = row.code.as_str();
        let own = pauses.get(code).map_or(&[][..], Vec::as_slice);
        builder.dossier(
            rank as u64,
            row,
            own.iter().copied(),
            apologised.contains(code),
        );
    }
    for e in &rows.evaluations {
        builder.evaluation(e);
    }
    builder.finish()
}

/// Builds a [`Dataset`] from rows handed over one at a time: each is judged
/// and kept in compact form ([`Dossier`], 80 bytes, 88 with its key until
/// [`DatasetBuilder::finish`], plus 24 a pause) as it arrives, so a read of
/// ten million dossiers never holds their rows (about 350 bytes each with
/// their strings).
///
/// [`DatasetBuilder::finish`] hands over what was added since the last call
/// and keeps the catalogue and the codes seen, so one builder can also cut a
/// long read into batches.
#[derive(Debug)]
pub struct DatasetBuilder {
    catalogue_agencies: HashMap<String, Agency>,
    catalogue_sectors: HashMap<String, Sector>,
    /// Procedure code → (sector number, deadline_days, index in `procedure_traits`).
    procedures: crate::lookup::CodeMap<(u32, Option<f32>, u32)>,
    procedure_traits: Vec<ProcedureTraits>,
    agency_codes: Interner,
    sector_codes: Interner,
    /// Each intake dossier with the key of its code, which orders them.
    dossiers: Vec<(u64, Dossier)>,
    pauses: Vec<Pause>,
    evaluations: Vec<Evaluation>,
    rejected: HashMap<RejectReason, u64>,
    rows: usize,
    /// Identities of open dossiers with their keys, when kept; the dossier
    /// index is set by [`DatasetBuilder::finish`].
    open: Option<Vec<(u64, OpenIdentity)>>,
}

impl DatasetBuilder {
    pub fn new(agencies: &[Agency], sectors: &[Sector], procedures: &[Procedure]) -> Self {
        let catalogue = procedures;
        let mut agency_codes = Interner::default();
        for a in agencies {
            agency_codes.intern(&a.code);
        }
        let mut sector_codes = Interner::default();
        for s in sectors {
            sector_codes.intern(&s.code);
        }
        // A code listed twice keeps its last entry (as it always did for the
        // deadline); traits are sorted by code so that indices do not depend
        // on the order the engine returned the catalogue in.
        let mut procedures: crate::lookup::CodeMap<(u32, Option<f32>, u32)> = procedures
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let sector = sector_codes.intern(&p.sector_code);
                (
                    p.code.clone(),
                    (sector, p.deadline_days.map(|d| d as f32), i as u32),
                )
            })
            .collect();
        let mut codes: Vec<&String> = procedures.keys().collect();
        codes.sort_unstable();
        let order: Vec<(String, u32)> = codes
            .into_iter()
            .map(|c| (c.clone(), procedures[c].2))
            .collect();
        let mut procedure_traits = Vec::with_capacity(order.len());
        for (number, (code, input)) in order.into_iter().enumerate() {
            let p = &catalogue[input as usize];
            procedure_traits.push(ProcedureTraits {
                code: code.clone(),
                online_full: p.online_level.trim() == "full",
                has_fee: p.has_fee,
            });
            if let Some(entry) = procedures.get_mut(&code) {
                entry.2 = number as u32;
            }
        }
        // A code listed twice keeps its first entry, as a lookup by code would.
        let mut catalogue_agencies = HashMap::new();
        for a in agencies {
            catalogue_agencies
                .entry(a.code.clone())
                .or_insert_with(|| a.clone());
        }
        let mut catalogue_sectors = HashMap::new();
        for s in sectors {
            catalogue_sectors
                .entry(s.code.clone())
                .or_insert_with(|| s.clone());
        }
        DatasetBuilder {
            catalogue_agencies,
            catalogue_sectors,
            procedures,
            procedure_traits,
            agency_codes,
            sector_codes,
            dossiers: Vec::new(),
            pauses: Vec::new(),
            evaluations: Vec::new(),
            rejected: HashMap::new(),
            rows: 0,
            open: None,
        }
    }

    /// Also keep the code, procedure and status of every open dossier
    /// ([`Dataset::open`]), for the worklist. Open dossiers are a small part
    /// of a source, so memory stays flat; the exporter does not ask.
    pub fn keep_open_identities(mut self) -> Self {
        self.open = Some(Vec::new());
        self
    }

    /// Knows these agency and sector codes, as if dossiers of them had been
    /// added: a dataset read with summed days knows the days' codes.
    pub fn know_codes(&mut self, agencies: &[String], sectors: &[String]) {
        for a in agencies {
            self.agency_codes.intern(a);
        }
        for s in sectors {
            self.sector_codes.intern(s);
        }
    }

    /// Rows added since the last [`DatasetBuilder::finish`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Judges a dossier row; `key` orders the dataset [`DatasetBuilder::finish`]
    /// makes (it must not depend on the order rows arrive in: a hash of the
    /// code, or the code's rank),
    /// `pauses` are its supplement intervals in any order.
    pub fn dossier(
        &mut self,
        key: u64,
        row: &DossierRow,
        pauses: impl Iterator<Item = Pause>,
        has_apology: bool,
    ) {
        self.rows += 1;
        let stage = match judge_dossier(row) {
            Verdict::Intake(stage) => stage,
            Verdict::NotIntake => return,
            Verdict::Rejected(reason) => {
                *self.rejected.entry(reason).or_default() += 1;
                return;
            }
        };
        let received = row.received_at.expect("judged: intake has received_at");
        let first = self.pauses.len();
        self.pauses.extend(pauses);
        self.pauses[first..].sort_unstable_by_key(|p| (p.start, p.end));
        let ended = match stage {
            Stage::Open { .. } => None,
            Stage::Resolved => row.finished_at,
            // A cancelled dossier with neither date ends when it was received:
            // it must end somewhere, and that keeps it out of "pending".
            Stage::Cancelled(_) => Some(row.finished_at.or(row.updated_at).unwrap_or(received)),
        };
        let (sector, deadline_days, procedure) =
            match self.procedures.get(row.procedure_code.as_str()) {
                Some(known) => *known,
                None => (self.sector_codes.intern(UNKNOWN_SECTOR), None, NO_PROCEDURE),
            };
        let dossier = Dossier {
            agency: self.agency_codes.intern(&row.agency_code),
            sector,
            procedure,
            channel: Channel::from_code(row.channel),
            stage,
            received,
            due: row.due_at,
            ended,
            deadline_days,
            digitized: row.digitized,
            e_result: row.e_result,
            paid_online: row.paid_online,
            has_apology,
            pauses: (first as u32, self.pauses.len() as u32),
        };
        if let (Some(open), Stage::Open { .. }) = (&mut self.open, stage) {
            open.push((
                key,
                OpenIdentity {
                    dossier: self.dossiers.len() as u32,
                    code: row.code.as_str().into(),
                    procedure: row.procedure_code.as_str().into(),
                    status: row.status as u8,
                },
            ));
        }
        self.dossiers.push((key, dossier));
    }

    pub fn evaluation(&mut self, row: &EvaluationRow) {
        self.rows += 1;
        match Rating::parse(row.rating.trim()) {
            Some(rating) => self.evaluations.push(Evaluation {
                agency: self.agency_codes.intern(&row.agency_code),
                rating,
                evaluated_at: row.evaluated_at,
            }),
            None => {
                *self
                    .rejected
                    .entry(RejectReason::UnknownRating)
                    .or_default() += 1
            }
        }
    }

    /// The dataset of the rows added since the last call. Its agency and
    /// sector lists hold every code seen so far (and the catalogue's),
    /// sorted; its dossiers are in order of their keys.
    pub fn finish(&mut self) -> Dataset {
        self.finish_ordered(true)
    }

    /// [`DatasetBuilder::finish`] with the dossiers in the order they were
    /// added: for sums, which every order gives alike. The sort was a
    /// twentieth of a full read of the exporter.
    pub fn finish_for_sums(&mut self) -> Dataset {
        self.finish_ordered(false)
    }

    fn finish_ordered(&mut self, by_key: bool) -> Dataset {
        self.rows = 0;
        let (agency_codes, agency_number) = sorted(&self.agency_codes);
        let (sector_codes, sector_number) = sorted(&self.sector_codes);
        let mut dossiers = std::mem::take(&mut self.dossiers);
        let mut open: Vec<(u64, OpenIdentity)> =
            self.open.as_mut().map(std::mem::take).unwrap_or_default();
        if by_key {
            // In place: at ten million dossiers a second copy is 800 MB.
            dossiers.sort_unstable_by_key(|(k, _)| *k);
            index_by_key(&dossiers, &mut open);
        }
        let dossiers: Vec<Dossier> = dossiers
            .into_iter()
            .map(|(_, mut d)| {
                d.agency = agency_number[d.agency as usize];
                d.sector = sector_number[d.sector as usize];
                d
            })
            .collect();
        let mut evaluations = std::mem::take(&mut self.evaluations);
        for e in &mut evaluations {
            e.agency = agency_number[e.agency as usize];
        }
        let rejected = std::mem::take(&mut self.rejected);
        Dataset {
            agencies: agency_codes
                .iter()
                .map(|c| self.catalogue_agencies.get(c).cloned())
                .collect(),
            agency_codes,
            sectors: sector_codes
                .iter()
                .map(|c| self.catalogue_sectors.get(c).cloned())
                .collect(),
            sector_codes,
            procedures: self.procedure_traits.clone(),
            dossiers,
            pauses: std::mem::take(&mut self.pauses),
            evaluations,
            open: open.into_iter().map(|(_, identity)| identity).collect(),
            rejected: RejectReason::ALL
                .iter()
                .map(|r| (*r, rejected.get(r).copied().unwrap_or(0)))
                .collect(),
        }
    }
}

/// Points each identity at its dossier once the dossiers are sorted by key:
/// both lists are walked in key order. A key held twice (a code listed twice)
/// pairs its open rows in turn.
fn index_by_key(dossiers: &[(u64, Dossier)], open: &mut [(u64, OpenIdentity)]) {
    open.sort_unstable_by_key(|(k, identity)| (*k, identity.dossier));
    let mut i = 0;
    for (key, identity) in open.iter_mut() {
        while i < dossiers.len()
            && (dossiers[i].0 < *key || !matches!(dossiers[i].1.stage, Stage::Open { .. }))
        {
            i += 1;
        }
        identity.dossier = i as u32;
        i += 1;
    }
}

/// The interned codes sorted, and each code's number in that order.
fn sorted(codes: &Interner) -> (Vec<String>, Vec<u32>) {
    let mut order: Vec<u32> = (0..codes.codes().len() as u32).collect();
    order.sort_unstable_by(|a, b| codes.get(*a).cmp(codes.get(*b)));
    let mut number = vec![0; order.len()];
    for (n, i) in order.iter().enumerate() {
        number[*i as usize] = n as u32;
    }
    let sorted = order.iter().map(|i| codes.get(*i).to_owned()).collect();
    (sorted, number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builder's documentation gives this cost per dossier.
    #[test]
    fn a_dossier_is_80_bytes() {
        assert_eq!(std::mem::size_of::<Dossier>(), 80);
        assert_eq!(std::mem::size_of::<Pause>(), 24);
    }

    fn row(code: &str, agency: &str, procedure: &str, status: i64) -> DossierRow {
        DossierRow {
            code: code.into(),
            agency_code: agency.into(),
            procedure_code: procedure.into(),
            status,
            received_at: Some(100),
            finished_at: (status >= 9).then_some(200),
            ..DossierRow::default()
        }
    }

    /// A long read is cut into batches: each batch's dataset holds its own
    /// rows only, and numbers the codes of all batches so far in sorted order.
    #[test]
    fn each_finish_hands_over_its_own_rows_with_every_code_sorted() {
        let procedure = Procedure {
            code: "P1".into(),
            name: "P1".into(),
            sector_code: "S1".into(),
            deadline_days: Some(5.0),
            online_level: "full".into(),
            has_fee: None,
        };
        let mut builder = DatasetBuilder::new(&[], &[], &[procedure]);
        let pause = |start| Pause {
            start,
            end: Some(start + 10),
        };
        builder.dossier(
            1,
            &row("A", "Z-agency", "P1", 10),
            [pause(150), pause(120)].into_iter(),
            true,
        );
        builder.dossier(
            2,
            &row("B", "Z-agency", "P1", 12),
            std::iter::empty(),
            false,
        );
        builder.evaluation(&EvaluationRow {
            dossier_code: None,
            agency_code: "Z-agency".into(),
            evaluated_at: None,
            rating: "bad".into(),
        });
        assert_eq!(builder.rows(), 3);
        let first = builder.finish();
        assert_eq!(builder.rows(), 0);
        assert_eq!(first.agency_codes, ["Z-agency"]);
        assert_eq!(first.dossiers.len(), 1);
        assert_eq!(
            first.pauses_of(&first.dossiers[0]),
            [pause(120), pause(150)]
        );
        assert!(first.dossiers[0].has_apology);
        assert_eq!(first.dossiers[0].deadline_days, Some(5.0));
        assert_eq!(first.rejected_count(RejectReason::UnknownStatus), 1);
        assert_eq!(first.rejected_count(RejectReason::UnknownRating), 1);

        // A code that sorts first arrives later: every number moves.
        builder.dossier(
            9,
            &row("C", "A-agency", "P-unknown", 4),
            std::iter::empty(),
            false,
        );
        builder.dossier(3, &row("D", "Z-agency", "P1", 9), std::iter::empty(), false);
        let second = builder.finish();
        assert_eq!(second.agency_codes, ["A-agency", "Z-agency"]);
        assert_eq!(second.sector_codes, ["S1", UNKNOWN_SECTOR]);
        let agencies: Vec<&str> = second
            .dossiers
            .iter()
            .map(|d| second.agency_codes[d.agency as usize].as_str())
            .collect();
        assert_eq!(
            agencies,
            ["Z-agency", "A-agency"],
            "ordered by key, 3 before 9"
        );
        assert_eq!(
            second.sector_codes[second.dossiers[1].sector as usize],
            UNKNOWN_SECTOR
        );
        assert!(second.dossiers.iter().all(|d| d.pauses == (0, 0)));
        assert_eq!(second.rejected_count(RejectReason::UnknownStatus), 0);
    }

    /// For sums the dossiers stay in the order they came, each with its own
    /// codes and pauses: the same dossiers as the ordered dataset.
    #[test]
    fn a_dataset_for_sums_keeps_the_order_rows_came_in() {
        let pause = |start| Pause {
            start,
            end: Some(start + 10),
        };
        let add = |builder: &mut DatasetBuilder| {
            builder.dossier(
                9,
                &row("C", "B-agency", "P", 9),
                [pause(150)].into_iter(),
                true,
            );
            builder.dossier(3, &row("D", "A-agency", "P", 4), std::iter::empty(), false);
            builder.dossier(
                5,
                &row("E", "C-agency", "P", 9),
                [pause(120)].into_iter(),
                false,
            );
        };
        let mut builder = DatasetBuilder::new(&[], &[], &[]);
        add(&mut builder);
        let ordered = builder.finish();
        add(&mut builder);
        let for_sums = builder.finish_for_sums();
        let seen = |ds: &Dataset| -> Vec<(String, Vec<Pause>, bool)> {
            ds.dossiers
                .iter()
                .map(|d| {
                    let agency = ds.agency_codes[d.agency as usize].clone();
                    (agency, ds.pauses_of(d).to_vec(), d.has_apology)
                })
                .collect()
        };
        let agencies =
            |ds: &Dataset| -> Vec<String> { seen(ds).into_iter().map(|s| s.0).collect() };
        assert_eq!(agencies(&for_sums), ["B-agency", "A-agency", "C-agency"]);
        assert_eq!(agencies(&ordered), ["A-agency", "C-agency", "B-agency"]);
        let by_agency = |ds: &Dataset| {
            let mut all = seen(ds);
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        };
        assert_eq!(by_agency(&for_sums), by_agency(&ordered));
        assert_eq!(seen(&for_sums)[0].1, [pause(150)]);
    }

    #[test]
    fn a_code_listed_twice_in_the_catalogue_keeps_its_first_entry() {
        let agency = |name: &str| Agency {
            code: "A".into(),
            name: name.into(),
            parent_code: None,
            level: "province".into(),
        };
        let sector = |name: &str| Sector {
            code: "S".into(),
            name: name.into(),
        };
        let dataset = DatasetBuilder::new(
            &[agency("first"), agency("second")],
            &[sector("first"), sector("second")],
            &[],
        )
        .finish();
        assert_eq!(dataset.agency_codes, ["A"]);
        assert_eq!(dataset.agencies, [Some(agency("first"))]);
        assert_eq!(dataset.sectors, [Some(sector("first"))]);
    }
}
