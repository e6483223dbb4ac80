//! Incremental refresh: after one full read, a refresh reads only the
//! dossiers whose `updated_at` moved.
//!
//! A full read ([`Ledger::load`]) splits the source in two:
//!
//! - *settled* rows: ended (resolved or cancelled), received, ended and last
//!   updated more than [`SETTLE_AFTER`] ago. Closed history does not change,
//!   so their contribution to every series is summed once, in batches, into
//!   a partial [`Snapshot`], and the rows are dropped. Evaluations older
//!   than the same cut are settled the same way.
//! - *live* rows: everything else — open dossiers, whose state moves with the
//!   clock, and whatever was received, ended or touched recently. They are
//!   kept in compact form ([`LiveDossier`]: 72 bytes, 80 with its key,
//!   plus 16 a pause and 20 to 34 of index; see [`LiveSet`]). Those whose
//!   state moves with the clock are recomputed on every refresh; the
//!   contribution of the others is summed, and taken out again when one of
//!   them changes.
//!
//! An incremental refresh ([`Ledger::refresh`]) re-reads the dossiers updated
//! since the last one seen (less [`OVERLAP`], which absorbs clock skew,
//! transactions that commit late and a zone the server reads differently),
//! with their supplements and apologies, replaces them among the live rows,
//! re-reads the recent evaluations, and adds the live snapshot to the settled
//! one. The result equals a full recompute; the tests hold it to that.
//!
//! Memory is therefore the settled snapshot (it grows with the number of
//! series, not of dossiers) plus the live rows (open dossiers and about
//! [`SETTLE_AFTER`] of activity). During a full read add the supplements
//! (24 bytes each) and the apologies (8 bytes each), each with 5 to 10 bytes of
//! index, held until the read ends.
//!
//! When an incremental refresh cannot be exact it says so
//! ([`Refresh::FullReadNeeded`]) and the caller reads everything again:
//! - a changed dossier that is not live and was not received after the cut:
//!   an edit to settled history, whose old contribution is inside the sums;
//! - the report periods changed (a new month began).
//!
//! What `updated_at` cannot show is caught by the scheduled full read
//! (`full_resync_interval`): deleted rows, a supplement, apology or
//! evaluation written without touching its dossier's `updated_at`, an
//! evaluation inserted with an old `evaluated_at`, and a settled dossier
//! edited back to status 1 or 3 (not intake, so it looks new).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::calendar::WorkCalendar;
use crate::classify::Judge;
use crate::daily::{DailySums, Frame};
use crate::judge::{DatasetBuilder, Verdict, judge_dossier};
use crate::lookup::{Apologies, Interner, NONE, PauseOf, Pauses, key, pauses_and_apologies, some};
use crate::model::{
    Dataset, DossierRow, EvaluationRow, Pause, SECONDS_PER_DAY, SourceRows, Stage, Ts, datetime_of,
};
use crate::report::{PeriodConvention, PeriodName};
use crate::shard::AgencyFilter;
use crate::snapshot::{Snapshot, current_periods};
use crate::source::{RowKind, Source, SourceError, SqlFiles, query_body};

/// How long a dossier must have been ended and untouched before its
/// contribution is settled. Long enough that the usual late steps (the
/// result returned days after it was signed, an apology, a correction) land
/// while the dossier is still live — a later one costs a full read; short
/// enough that the live dossiers of a 10-million-dossier source (open ones
/// and a month of activity, about 450,000) fit the memory budget.
pub const SETTLE_AFTER: i64 = 30 * SECONDS_PER_DAY;

/// How often a full read replaces the incremental refreshes (which read
/// only rows whose `updated_at` moved), in both services.
pub const DEFAULT_FULL_RESYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// How far before the last `updated_at` seen a refresh starts reading.
pub const OVERLAP: i64 = SECONDS_PER_DAY;

/// Rows are summed this many at a time: settled ones during a full read,
/// live ones on every refresh. Each batch is held as full rows (about 300
/// bytes a dossier) while it is computed, so this bounds a read's transient
/// memory (about 5 MB); a batch costs one merge of the series (about 1 ms).
const SETTLE_BATCH: usize = 16_384;

/// The outcome of an incremental refresh: the exporter's [`Snapshot`], or
/// the chart service's [`Frame`].
// One value a refresh, moved once: boxing the snapshot would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Refresh<T = Snapshot> {
    /// The data as of now, and how many changed dossiers were read.
    Done { snapshot: T, changed: usize },
    /// The refresh cannot be exact; read everything again. Why, for the log.
    FullReadNeeded(String),
}

impl<T> Refresh<T> {
    /// What a finished refresh gives, made into something else.
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Refresh<U> {
        match self {
            Refresh::Done { snapshot, changed } => Refresh::Done {
                snapshot: f(snapshot),
                changed,
            },
            Refresh::FullReadNeeded(why) => Refresh::FullReadNeeded(why),
        }
    }
}

/// What a ledger sums of settled and fixed dossiers: the exporter's
/// [`Snapshot`] (the series of the current report periods) or the chart
/// service's [`DailySums`] (days, for any period). Both add and subtract,
/// so one mechanism — settle in batches, take a changed dossier's old
/// contribution out — serves both.
pub trait Aggregate: Clone + Send + Sized + 'static {
    /// The sums are of the current report periods: a new period needs a
    /// full read. Days need none.
    const OF_CURRENT_PERIODS: bool;
    /// The ledger keeps the codes of the live dossiers that move with the
    /// clock, for the worklist (the exporter lists none).
    const KEEPS_OPEN_CODES: bool;
    fn of(judge: &Judge<'_>, now: Ts, convention: PeriodConvention) -> Self;
    fn absorb(&mut self, other: &Self);
    fn remove(&mut self, other: &Self);
    /// Adds one batch of many ([`SETTLE_BATCH`] rows each). An aggregate
    /// may hold batches apart until [`Aggregate::seal`], which the ledger
    /// calls after the last one.
    fn absorb_batch(&mut self, judge: &Judge<'_>, now: Ts, convention: PeriodConvention) {
        self.absorb(&Self::of(judge, now, convention));
    }
    fn seal(&mut self) {}

    fn empty(calendar: &WorkCalendar, now: Ts, convention: PeriodConvention) -> Self {
        Self::of(&Judge::new(&Dataset::default(), calendar), now, convention)
    }
}

impl Aggregate for Snapshot {
    const OF_CURRENT_PERIODS: bool = true;
    const KEEPS_OPEN_CODES: bool = false;
    fn of(judge: &Judge<'_>, now: Ts, convention: PeriodConvention) -> Self {
        Snapshot::compute(judge, now, convention)
    }
    fn absorb(&mut self, other: &Self) {
        Snapshot::absorb(self, other);
    }
    fn remove(&mut self, other: &Self) {
        Snapshot::remove(self, other);
    }
}

impl Aggregate for DailySums {
    const OF_CURRENT_PERIODS: bool = false;
    const KEEPS_OPEN_CODES: bool = true;
    fn of(judge: &Judge<'_>, _: Ts, _: PeriodConvention) -> Self {
        DailySums::of(judge)
    }
    fn absorb(&mut self, other: &Self) {
        DailySums::absorb(self, other);
    }
    fn remove(&mut self, other: &Self) {
        DailySums::remove(self, other);
    }
    fn absorb_batch(&mut self, judge: &Judge<'_>, _: Ts, _: PeriodConvention) {
        self.stage(judge, |_| true, |_| true);
    }
    fn seal(&mut self) {
        DailySums::seal(self);
    }
}

/// The codes of the live dossiers that move with the clock, when the
/// aggregate asks for them ([`Aggregate::KEEPS_OPEN_CODES`]).
#[derive(Debug, Default)]
struct OpenCodes(Option<HashMap<u64, Box<str>>>);

impl OpenCodes {
    fn kept(keep: bool) -> OpenCodes {
        OpenCodes(keep.then(HashMap::new))
    }

    /// Records (or forgets) the code of the live dossier `k`.
    fn note(&mut self, k: u64, dossier: &LiveDossier, code: &str) {
        if let Some(codes) = &mut self.0 {
            if dossier.fixed {
                codes.remove(&k);
            } else {
                codes.insert(k, code.into());
            }
        }
    }

    fn get(&self, k: u64) -> String {
        self.0
            .as_ref()
            .and_then(|c| c.get(&k))
            .map_or_else(String::new, |c| c.to_string())
    }
}

/// The state kept between refreshes.
#[derive(Debug)]
pub struct Ledger<A = Snapshot> {
    convention: PeriodConvention,
    filter: AgencyFilter,
    /// Agencies, sectors and procedures as of the last full read.
    catalogue: SourceRows,
    /// Procedure and agency codes of the live dossiers.
    codes: Interner,
    open_codes: OpenCodes,
    /// Everything settled, summed (shared with the frames handed out).
    settled: Arc<A>,
    live: LiveSet,
    /// The live dossiers whose contribution no longer depends on the clock
    /// (ended, rejected, not intake), summed: a refresh recomputes only the
    /// others, and takes a changed dossier's old contribution out of here.
    fixed: Arc<A>,
    /// Rows ended, received and updated before this instant may settle.
    cut: Ts,
    /// The latest `updated_at` read (never after the clock).
    watermark: Ts,
    periods: [(PeriodName, NaiveDate, NaiveDate); 3],
}

impl Ledger<Snapshot> {
    /// Reads the whole source: the ledger for later refreshes and the
    /// snapshot as of `now`.
    pub async fn load(
        source: &Source,
        files: &SqlFiles,
        calendar: &WorkCalendar,
        convention: PeriodConvention,
        filter: &AgencyFilter,
        now: Ts,
    ) -> Result<(Ledger, Snapshot), SourceError> {
        let (ledger, recent_evaluations) =
            Ledger::read(source, files, calendar, convention, filter, now).await?;
        let snapshot = ledger.snapshot(calendar, now, recent_evaluations);
        Ok((ledger, snapshot))
    }

    /// Reads what changed since the last read and returns the snapshot as of
    /// `now`, or says that only a full read can be exact.
    pub async fn refresh(
        &mut self,
        source: &Source,
        files: &SqlFiles,
        calendar: &WorkCalendar,
        now: Ts,
    ) -> Result<Refresh, SourceError> {
        let update = self.update(source, files, calendar, now).await?;
        Ok(update.map(|recent_evaluations| self.snapshot(calendar, now, recent_evaluations)))
    }

    /// The live dossiers that depend on the clock, computed as of `now`,
    /// plus the fixed and settled sums.
    fn snapshot(
        &self,
        calendar: &WorkCalendar,
        now: Ts,
        recent_evaluations: Vec<EvaluationRow>,
    ) -> Snapshot {
        let moving = self.live.iter().filter(|(_, d)| !d.fixed);
        let mut snapshot = self.compute(moving, recent_evaluations, calendar, now);
        snapshot.absorb(&self.fixed);
        snapshot.absorb(&self.settled);
        snapshot
    }
}

impl Ledger<DailySums> {
    /// Reads the whole source: the ledger for later refreshes and the
    /// chart service's frame as of `now`.
    pub async fn load_frame(
        source: &Source,
        files: &SqlFiles,
        calendar: &WorkCalendar,
        convention: PeriodConvention,
        filter: &AgencyFilter,
        now: Ts,
    ) -> Result<(Ledger<DailySums>, Frame), SourceError> {
        let (ledger, recent_evaluations) =
            Ledger::read(source, files, calendar, convention, filter, now).await?;
        let frame = ledger.frame(recent_evaluations);
        Ok((ledger, frame))
    }

    /// Reads what changed since the last read and returns the frame as of
    /// `now`, or says that only a full read can be exact.
    pub async fn refresh_frame(
        &mut self,
        source: &Source,
        files: &SqlFiles,
        calendar: &WorkCalendar,
        now: Ts,
    ) -> Result<Refresh<Frame>, SourceError> {
        let update = self.update(source, files, calendar, now).await?;
        Ok(update.map(|recent_evaluations| self.frame(recent_evaluations)))
    }

    /// Entries of the summed days, settled and fixed, by map
    /// ([`DailySums::entries_by_map`]).
    pub fn summed_entries(&self) -> [usize; 4] {
        let [a, b] = [&self.settled, &self.fixed].map(|s| s.entries_by_map());
        std::array::from_fn(|i| a[i] + b[i])
    }

    /// The live dossiers that move with the clock (and the recent
    /// evaluations) individual, the rest summed by day.
    fn frame(&self, recent_evaluations: Vec<EvaluationRow>) -> Frame {
        let catalogue = &self.catalogue;
        let dataset = cpu_bound(|| {
            let mut batch = DatasetBuilder::new(
                &catalogue.agencies,
                &catalogue.sectors,
                &catalogue.procedures,
            )
            .keep_open_identities();
            // The view reads the sums through the dataset's codes.
            for sums in [&self.settled, &self.fixed] {
                batch.know_codes(sums.agency_codes(), sums.sector_codes());
            }
            for (k, d) in self.live.iter().filter(|(_, d)| !d.fixed) {
                let row = d.row(self.open_codes.get(*k), &self.codes);
                batch.dossier(*k, &row, d.pauses(), d.flags & APOLOGY != 0);
            }
            for e in &recent_evaluations {
                batch.evaluation(e);
            }
            batch.finish()
        });
        Frame {
            dataset,
            sums: vec![Arc::clone(&self.settled), Arc::clone(&self.fixed)],
        }
    }
}

impl<A: Aggregate> Ledger<A> {
    /// A full read: the ledger and the evaluations too recent to settle.
    async fn read(
        source: &Source,
        files: &SqlFiles,
        calendar: &WorkCalendar,
        convention: PeriodConvention,
        filter: &AgencyFilter,
        now: Ts,
    ) -> Result<(Ledger<A>, Vec<EvaluationRow>), SourceError> {
        let zone = calendar.timezone();
        let agency_condition = filter.sql_condition("agency_code", source.dialect());
        let of_dossiers = agency_condition
            .as_deref()
            .map(|c| dossiers_where(files, c));

        let mut catalogue = SourceRows::default();
        source.catalogue(files, zone, &mut catalogue).await?;
        catalogue.agencies.retain(|a| filter.matches(&a.code));

        let (pauses, apologies) =
            pauses_and_apologies(source, files, zone, of_dossiers.as_deref()).await?;

        let cut = now - SETTLE_AFTER;
        let sorter = Sorter {
            pauses,
            apologies,
            cut,
            now,
            convention,
            calendar: calendar.clone(),
            settled: A::empty(calendar, now, convention),
            batch: DatasetBuilder::new(&[], &[], &catalogue.procedures),
            live: LiveSet::default(),
            codes: Interner::default(),
            open_codes: OpenCodes::kept(A::KEEPS_OPEN_CODES),
            recent_evaluations: Vec::new(),
        };
        // The CPUs this thread may use (its affinity, a cgroup's quota).
        let on_its_own_thread = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        let mut hand_over = Handover::new(sorter, source.refills_rows(), on_its_own_thread)?;

        let mut watermark = NONE;
        let read = async {
            source
                .stream_dossiers_reusing(files, zone, agency_condition.as_deref(), &mut |row| {
                    if filter.matches(&row.agency_code) {
                        watermark = watermark.max(row.updated_at.unwrap_or(NONE));
                        hand_over.dossier(row)
                    } else {
                        Some(row)
                    }
                })
                .await?;
            hand_over.flush();
            source
                .stream_evaluations(files, zone, agency_condition.as_deref(), &mut |e| {
                    if filter.matches(&e.agency_code) {
                        hand_over.evaluation(e);
                    }
                })
                .await?;
            hand_over.flush();
            Ok::<(), SourceError>(())
        }
        .await;
        // The sorting ends (its thread, if any, is joined) whether the read
        // succeeded or not.
        let sorted = hand_over.finish();
        read?;
        let Sorted {
            settled,
            live,
            codes,
            open_codes,
            recent_evaluations,
        } = sorted;

        let mut ledger = Ledger {
            convention,
            filter: filter.clone(),
            catalogue,
            codes,
            open_codes,
            fixed: Arc::new(A::empty(calendar, now, convention)),
            settled: Arc::new(settled),
            live,
            cut,
            watermark: watermark.min(now),
            periods: current_periods(now, convention),
        };
        ledger.live.index.shrink_to_fit();
        ledger.fixed = Arc::new(ledger.compute(
            ledger.live.iter().filter(|(_, d)| d.fixed),
            Vec::new(),
            calendar,
            now,
        ));
        Ok((ledger, recent_evaluations))
    }

    /// Applies what changed since the last read; returns the evaluations too
    /// recent to settle, or says that only a full read can be exact.
    async fn update(
        &mut self,
        source: &Source,
        files: &SqlFiles,
        calendar: &WorkCalendar,
        now: Ts,
    ) -> Result<Refresh<Vec<EvaluationRow>>, SourceError> {
        if A::OF_CURRENT_PERIODS && current_periods(now, self.convention) != self.periods {
            return Ok(Refresh::FullReadNeeded(
                "a new report period began".to_owned(),
            ));
        }
        let zone = calendar.timezone();
        let agency_condition = self.filter.sql_condition("agency_code", source.dialect());
        // Never before cut + OVERLAP: whatever the server makes of the
        // literal, no settled row is read back.
        let since = (self.watermark - OVERLAP).max(self.cut + OVERLAP);
        let mut changed_condition = format!("updated_at >= {}", literal(since));
        if let Some(agencies) = &agency_condition {
            changed_condition = format!("({changed_condition}) AND ({agencies})");
        }

        let mut changed = Vec::new();
        let filter = &self.filter;
        source
            .stream_dossiers(files, zone, Some(&changed_condition), &mut |row| {
                if filter.matches(&row.agency_code) {
                    changed.push(row);
                }
            })
            .await?;
        for row in &changed {
            let is_new = matches!(judge_dossier(row), Verdict::NotIntake)
                || row.received_at.is_some_and(|r| r >= self.cut);
            if !is_new && self.live.get(key(&row.code)).is_none() {
                return Ok(Refresh::FullReadNeeded(format!(
                    "dossier {} changed after it had settled",
                    row.code
                )));
            }
        }

        let of_changed = dossiers_where(files, &changed_condition);
        let (pauses, apologies) =
            pauses_and_apologies(source, files, zone, Some(&of_changed)).await?;

        let mut recent_evaluations = Vec::new();
        let mut evaluation_condition = format!("evaluated_at >= {}", literal(self.cut - OVERLAP));
        if let Some(agencies) = &agency_condition {
            evaluation_condition = format!("({evaluation_condition}) AND ({agencies})");
        }
        let cut = self.cut;
        source
            .stream_evaluations(files, zone, Some(&evaluation_condition), &mut |e| {
                // The condition reads a little more than needed; the cut is
                // applied here, on the decoded local time.
                if filter.matches(&e.agency_code) && e.evaluated_at.is_some_and(|t| t >= cut) {
                    recent_evaluations.push(e);
                }
            })
            .await?;

        let count = changed.len();
        let mut replaced = Vec::new();
        let mut added = Vec::new();
        for row in changed {
            self.watermark = self.watermark.max(row.updated_at.unwrap_or(NONE).min(now));
            let k = key(&row.code);
            let apology = apologies.contains(k);
            let dossier = LiveDossier::new(&row, pauses.of(k), apology, now, &mut self.codes);
            if self.live.get(k) == Some(&dossier) {
                // Re-read through the overlap, unchanged: nothing to redo.
                continue;
            }
            self.open_codes.note(k, &dossier, &row.code);
            if dossier.fixed {
                added.push((k, dossier.clone()));
            }
            if let Some(old) = self.live.insert(k, dossier)
                && old.fixed
            {
                replaced.push((k, old));
            }
        }
        if !(replaced.is_empty() && added.is_empty()) {
            let gone = self.compute(
                replaced.iter().map(|(k, d)| (k, d)),
                Vec::new(),
                calendar,
                now,
            );
            let came = self.compute(added.iter().map(|(k, d)| (k, d)), Vec::new(), calendar, now);
            // Copied only while a frame handed out still holds the old sums.
            let fixed = Arc::make_mut(&mut self.fixed);
            fixed.remove(&gone);
            fixed.absorb(&came);
        }
        Ok(Refresh::Done {
            snapshot: recent_evaluations,
            changed: count,
        })
    }

    /// Live dossiers held.
    pub fn live_dossiers(&self) -> usize {
        self.live.len()
    }

    /// The sums of some live dossiers (and evaluations) alone, computed
    /// [`SETTLE_BATCH`] dossiers at a time: each is expanded into a full row
    /// for the computation, and expanding them all at once was the exporter's
    /// peak memory.
    fn compute<'a>(
        &self,
        dossiers: impl Iterator<Item = (&'a u64, &'a LiveDossier)>,
        evaluations: Vec<EvaluationRow>,
        calendar: &WorkCalendar,
        now: Ts,
    ) -> A {
        let mut dossiers = dossiers.peekable();
        let first = dossiers.by_ref().take(SETTLE_BATCH);
        let mut sum = None;
        self.compute_batch(&mut sum, first, evaluations, calendar, now);
        while dossiers.peek().is_some() {
            let next = dossiers.by_ref().take(SETTLE_BATCH);
            self.compute_batch(&mut sum, next, Vec::new(), calendar, now);
        }
        let mut sum = sum.expect("the first batch is always computed");
        sum.seal();
        sum
    }

    /// Adds a batch to `sum`, or makes it the sum when `sum` is None.
    fn compute_batch<'a>(
        &self,
        sum: &mut Option<A>,
        dossiers: impl Iterator<Item = (&'a u64, &'a LiveDossier)>,
        evaluations: Vec<EvaluationRow>,
        calendar: &WorkCalendar,
        now: Ts,
    ) {
        let catalogue = &self.catalogue;
        cpu_bound(|| {
            let mut batch = DatasetBuilder::new(
                &catalogue.agencies,
                &catalogue.sectors,
                &catalogue.procedures,
            );
            for (k, d) in dossiers {
                // Live rows keep no code: the key stands in for it.
                let row = d.row(String::new(), &self.codes);
                batch.dossier(*k, &row, d.pauses(), d.flags & APOLOGY != 0);
            }
            for e in &evaluations {
                batch.evaluation(e);
            }
            let dataset = batch.finish_for_sums();
            let judge = Judge::new(&dataset, calendar);
            match sum {
                Some(sum) => sum.absorb_batch(&judge, now, self.convention),
                None => *sum = Some(A::of(&judge, now, self.convention)),
            }
        })
    }
}

/// Rows handed from the reading task to the sorting at a time: about 190 KB
/// of rows, which stay in the CPU's cache between decoding and sorting.
const HANDOVER: usize = 1_024;

/// A batch of rows for the sorting.
enum Work {
    Dossiers(Vec<DossierRow>),
    Evaluations(Vec<EvaluationRow>),
}

/// Where a full read's rows are sorted and summed.
///
/// Why two ways: decoding and sorting are each about half of a full read's
/// CPU. Where the read may run on two CPUs or more, the sorting runs on a
/// thread of its own beside the decoding. Where it has one CPU — the
/// exporter keeps its refresh off one of a two-core machine's — a second
/// thread only takes turns with the first: every handover cost two context
/// switches, and every row crossed between the threads' caches (at 10M
/// dossiers, a sixth of the exporter's CPU). There the reading thread sorts
/// each batch itself, while it is still in cache.
enum Sorting<A: Aggregate> {
    Here(Box<Sorter<A>>),
    Thread {
        work: std::sync::mpsc::SyncSender<Work>,
        /// Batches the sorter is done with, for the reader to refill.
        spent: std::sync::mpsc::Receiver<Vec<DossierRow>>,
        thread: std::thread::JoinHandle<Sorted<A>>,
    },
}

/// The reading side of a full read: batches rows for the sorting and hands
/// back spent rows for the reader to refill.
struct Handover<A: Aggregate> {
    sorting: Sorting<A>,
    /// Whether the source refills rows; elsewhere spent rows are dropped.
    refills: bool,
    /// Spent rows left to refill.
    spares: Vec<DossierRow>,
    dossiers: Vec<DossierRow>,
    evaluations: Vec<EvaluationRow>,
}

impl<A: Aggregate> Handover<A> {
    /// `on_its_own_thread`: whether the sorting runs on a thread of its own
    /// (see [`Sorting`]).
    fn new(
        sorter: Sorter<A>,
        refills: bool,
        on_its_own_thread: bool,
    ) -> Result<Handover<A>, SourceError> {
        let sorting = if !on_its_own_thread {
            Sorting::Here(Box::new(sorter))
        } else {
            let (work, to_sort) = std::sync::mpsc::sync_channel::<Work>(4);
            let (spent_tx, spent) = std::sync::mpsc::sync_channel::<Vec<DossierRow>>(4);
            let spent_tx = refills.then_some(spent_tx);
            let thread = std::thread::Builder::new()
                .name("motcua-sort".to_owned())
                .spawn(move || sorter.run(to_sort, spent_tx))
                .map_err(|e| SourceError::Thread(e.to_string()))?;
            Sorting::Thread {
                work,
                spent,
                thread,
            }
        };
        // Sorting here, the first batch's rows become the spares, and this
        // allocation holds the second batch.
        let spares = match sorting {
            Sorting::Here(_) if refills => Vec::with_capacity(HANDOVER),
            _ => Vec::new(),
        };
        Ok(Handover {
            sorting,
            refills,
            spares,
            dossiers: Vec::with_capacity(HANDOVER),
            evaluations: Vec::with_capacity(HANDOVER),
        })
    }

    /// Batches `row`; returns a spent row for the reader to fill next.
    fn dossier(&mut self, row: DossierRow) -> Option<DossierRow> {
        self.dossiers.push(row);
        if self.dossiers.len() == HANDOVER {
            self.flush();
        }
        if self.spares.is_empty()
            && let Sorting::Thread { spent, .. } = &self.sorting
            && let Ok(batch) = spent.try_recv()
        {
            self.spares = batch;
        }
        self.spares.pop()
    }

    fn evaluation(&mut self, row: EvaluationRow) {
        self.evaluations.push(row);
        if self.evaluations.len() == HANDOVER {
            self.flush();
        }
    }

    /// Hands over what is batched. A sorting thread may be four batches
    /// behind before this waits.
    fn flush(&mut self) {
        if !self.dossiers.is_empty() {
            match &mut self.sorting {
                Sorting::Here(sorter) => {
                    sorter.dossiers(&self.dossiers);
                    // The batch's rows join the spares; the emptied spares'
                    // allocation holds the next batch.
                    if self.refills {
                        std::mem::swap(&mut self.dossiers, &mut self.spares);
                        self.spares.append(&mut self.dossiers);
                    } else {
                        self.dossiers.clear();
                    }
                }
                Sorting::Thread { work, .. } => {
                    let rows = std::mem::replace(&mut self.dossiers, Vec::with_capacity(HANDOVER));
                    // A failed send means the sorter panicked: its join says so.
                    let _ = cpu_bound(|| work.send(Work::Dossiers(rows)));
                }
            }
        }
        if !self.evaluations.is_empty() {
            let rows = std::mem::replace(&mut self.evaluations, Vec::with_capacity(HANDOVER));
            match &mut self.sorting {
                Sorting::Here(sorter) => sorter.evaluations(rows),
                Sorting::Thread { work, .. } => {
                    let _ = cpu_bound(|| work.send(Work::Evaluations(rows)));
                }
            }
        }
    }

    /// Ends the sorting (what is batched is dropped: call [`Handover::flush`]
    /// first) and returns its result.
    fn finish(self) -> Sorted<A> {
        match self.sorting {
            Sorting::Here(sorter) => sorter.finish(),
            Sorting::Thread { work, thread, .. } => {
                // Closing the channel ends the sorting thread.
                drop(work);
                cpu_bound(|| thread.join()).unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
        }
    }
}

/// The sorting of a full read: settles old rows in batches, keeps the
/// others live.
struct Sorter<A: Aggregate> {
    pauses: Pauses,
    apologies: Apologies,
    cut: Ts,
    now: Ts,
    convention: PeriodConvention,
    calendar: WorkCalendar,
    settled: A,
    batch: DatasetBuilder,
    live: LiveSet,
    codes: Interner,
    open_codes: OpenCodes,
    recent_evaluations: Vec<EvaluationRow>,
}

/// What the sorting hands back.
struct Sorted<A> {
    settled: A,
    live: LiveSet,
    codes: Interner,
    open_codes: OpenCodes,
    recent_evaluations: Vec<EvaluationRow>,
}

impl<A: Aggregate> Sorter<A> {
    /// The sorting thread: sorts what comes until the channel closes, and
    /// sends the spent batches back to be refilled (dropped here when the
    /// reader is four behind taking them, or when `spent` is `None`).
    fn run(
        mut self,
        work: std::sync::mpsc::Receiver<Work>,
        spent: Option<std::sync::mpsc::SyncSender<Vec<DossierRow>>>,
    ) -> Sorted<A> {
        for batch in work {
            match batch {
                Work::Dossiers(rows) => {
                    self.dossiers(&rows);
                    if let Some(spent) = &spent {
                        let _ = spent.try_send(rows);
                    }
                }
                Work::Evaluations(rows) => self.evaluations(rows),
            }
        }
        self.finish()
    }

    fn dossiers(&mut self, rows: &[DossierRow]) {
        let keys: Vec<u64> = rows.iter().map(|r| key(&r.code)).collect();
        let found = self.pauses.find_each(&keys);
        let apologies = self.apologies.contains_each(&keys);
        for (((row, k), pauses), apology) in rows.iter().zip(keys).zip(found).zip(apologies) {
            self.dossier(row, k, pauses, apology);
        }
    }

    fn finish(mut self) -> Sorted<A> {
        self.settle();
        self.settled.seal();
        Sorted {
            settled: self.settled,
            live: self.live,
            codes: self.codes,
            open_codes: self.open_codes,
            recent_evaluations: self.recent_evaluations,
        }
    }

    fn dossier(&mut self, row: &DossierRow, k: u64, found: std::ops::Range<usize>, apology: bool) {
        let row_pauses = self.pauses.at(found);
        if settles(row, self.cut) {
            let pauses = row_pauses.iter().map(PauseOf::pause);
            self.batch.dossier(k, row, pauses, apology);
            if self.batch.rows() >= SETTLE_BATCH {
                self.settle();
            }
        } else {
            let dossier = LiveDossier::new(row, row_pauses, apology, self.now, &mut self.codes);
            self.open_codes.note(k, &dossier, &row.code);
            self.live.insert(k, dossier);
        }
    }

    fn evaluations(&mut self, rows: Vec<EvaluationRow>) {
        for e in rows {
            if e.evaluated_at.is_some_and(|t| t >= self.cut) {
                self.recent_evaluations.push(e);
            } else {
                self.batch.evaluation(&e);
                if self.batch.rows() >= SETTLE_BATCH {
                    self.settle();
                }
            }
        }
    }

    fn settle(&mut self) {
        settle(
            &mut self.settled,
            &mut self.batch,
            &self.calendar,
            self.now,
            self.convention,
        );
    }
}

/// Whether a row's contribution no longer depends on the clock: it ended by
/// `now` (as [`build_dataset`] dates an ending), or it is rejected or not
/// intake. Such a row stays so until it changes.
fn is_fixed(row: &DossierRow, now: Ts) -> bool {
    let by_now = |t: Option<Ts>| t.is_some_and(|t| t <= now);
    match judge_dossier(row) {
        Verdict::Intake(Stage::Open { .. }) => false,
        Verdict::Intake(Stage::Resolved) => by_now(row.received_at) && by_now(row.finished_at),
        Verdict::Intake(Stage::Cancelled(_)) => {
            by_now(row.received_at)
                && by_now(row.finished_at.or(row.updated_at).or(row.received_at))
        }
        Verdict::NotIntake | Verdict::Rejected(_) => true,
    }
}

/// Whether a row's contribution can be summed once and for all (see the
/// module documentation).
fn settles(row: &DossierRow, cut: Ts) -> bool {
    let before = |t: Option<Ts>| t.is_none_or(|t| t < cut);
    if !before(row.updated_at) || !before(row.received_at) {
        return false;
    }
    match judge_dossier(row) {
        Verdict::Intake(Stage::Open { .. }) => false,
        Verdict::Intake(Stage::Resolved) => row.finished_at.is_some_and(|f| f < cut),
        Verdict::Intake(Stage::Cancelled(_)) => before(row.finished_at),
        Verdict::NotIntake | Verdict::Rejected(_) => true,
    }
}

/// Adds the batch's contribution to `settled` and empties the batch.
fn settle<A: Aggregate>(
    settled: &mut A,
    batch: &mut DatasetBuilder,
    calendar: &WorkCalendar,
    now: Ts,
    convention: PeriodConvention,
) {
    cpu_bound(|| {
        let dataset = batch.finish_for_sums();
        settled.absorb_batch(&Judge::new(&dataset, calendar), now, convention);
    });
}

/// Runs CPU work (tens of milliseconds) inside a read without holding up the
/// tasks queued behind it — scrapes of `/metrics`: on a multi-threaded
/// runtime the worker first hands its queue to another thread.
fn cpu_bound<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// `dossier_code IN (codes of dossiers.sql where condition)`.
fn dossiers_where(files: &SqlFiles, condition: &str) -> String {
    let dossiers = query_body(&files.get(RowKind::Dossiers).text);
    format!("dossier_code IN (SELECT code FROM (\n{dossiers}\n) motcua_dossiers WHERE {condition})")
}

/// A timestamp literal every engine compares with its timestamp and text columns.
fn literal(t: Ts) -> String {
    format!("'{}'", datetime_of(t).format("%Y-%m-%d %H:%M:%S"))
}

const DIGITIZED: u8 = 1;
const E_RESULT: u8 = 2;
const PAID_ONLINE: u8 = 4;
const APOLOGY: u8 = 8;

/// A live dossier row in compact form: what [`judge_dossier`] and the
/// classification read, nothing more.
#[derive(Debug, Clone, PartialEq)]
struct LiveDossier {
    procedure: u32,
    agency: u32,
    /// received, due, finished, returned, updated ([`NONE`] for NULL).
    times: [Ts; 5],
    status: i16,
    /// 2 online, 3 postal, 1 anything else (NULL included: it counts as direct).
    channel: u8,
    flags: u8,
    /// Its contribution no longer depends on the clock ([`is_fixed`]).
    fixed: bool,
    pauses: Box<[(Ts, Ts)]>,
}

impl LiveDossier {
    fn new(
        row: &DossierRow,
        pauses: &[PauseOf],
        apology: bool,
        now: Ts,
        codes: &mut Interner,
    ) -> Self {
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        LiveDossier {
            procedure: codes.intern(&row.procedure_code),
            agency: codes.intern(&row.agency_code),
            times: [
                row.received_at,
                row.due_at,
                row.finished_at,
                row.returned_at,
                row.updated_at,
            ]
            .map(|t| t.unwrap_or(NONE)),
            // Out-of-range statuses are unknown statuses either way.
            status: i16::try_from(row.status).unwrap_or(0),
            channel: match row.channel {
                Some(2) => 2,
                Some(3) => 3,
                _ => 1,
            },
            flags: flag(row.digitized, DIGITIZED)
                | flag(row.e_result, E_RESULT)
                | flag(row.paid_online, PAID_ONLINE)
                | flag(apology, APOLOGY),
            fixed: is_fixed(row, now),
            pauses: pauses
                .iter()
                .map(|p| (p.requested_at, p.resumed_at))
                .collect(),
        }
    }

    fn pauses(&self) -> impl Iterator<Item = Pause> + '_ {
        self.pauses.iter().map(|&(start, end)| Pause {
            start,
            end: some(end),
        })
    }

    fn row(&self, code: String, codes: &Interner) -> DossierRow {
        DossierRow {
            code,
            procedure_code: codes.get(self.procedure).to_owned(),
            agency_code: codes.get(self.agency).to_owned(),
            channel: Some(i64::from(self.channel)),
            status: i64::from(self.status),
            received_at: some(self.times[0]),
            due_at: some(self.times[1]),
            finished_at: some(self.times[2]),
            returned_at: some(self.times[3]),
            updated_at: some(self.times[4]),
            digitized: self.flags & DIGITIZED != 0,
            e_result: self.flags & E_RESULT != 0,
            paid_online: self.flags & PAID_ONLINE != 0,
        }
    }
}

/// The live dossiers by key. The rows sit in chunks of fixed size and never
/// move; a small table maps a key to its row. A hash table holding the rows
/// themselves doubles as it grows, and at 10 million dossiers that step held
/// both tables (63 MB) at the peak of a full read; here growing adds one
/// chunk, and only the 16-byte index entries are ever copied.
#[derive(Debug, Default)]
struct LiveSet {
    index: HashMap<u64, u32>,
    chunks: Vec<Vec<(u64, LiveDossier)>>,
}

const LIVE_CHUNK: usize = 65_536;

impl LiveSet {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn get(&self, key: u64) -> Option<&LiveDossier> {
        let at = *self.index.get(&key)? as usize;
        Some(&self.chunks[at / LIVE_CHUNK][at % LIVE_CHUNK].1)
    }

    /// Adds or replaces the dossier of `key`; returns the one replaced.
    fn insert(&mut self, key: u64, dossier: LiveDossier) -> Option<LiveDossier> {
        if let Some(&at) = self.index.get(&key) {
            let at = at as usize;
            let slot = &mut self.chunks[at / LIVE_CHUNK][at % LIVE_CHUNK].1;
            return Some(std::mem::replace(slot, dossier));
        }
        let at = u32::try_from(self.index.len()).expect("fewer than 4 billion live dossiers");
        if self.chunks.last().is_none_or(|c| c.len() == LIVE_CHUNK) {
            self.chunks.push(Vec::with_capacity(LIVE_CHUNK));
        }
        self.chunks.last_mut().expect("pushed").push((key, dossier));
        self.index.insert(key, at);
        None
    }

    fn iter(&self) -> impl Iterator<Item = (&u64, &LiveDossier)> {
        self.chunks.iter().flatten().map(|(k, d)| (k, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README gives this cost per live dossier: keep them in step.
    #[test]
    fn a_live_dossier_is_72_bytes() {
        assert_eq!(std::mem::size_of::<LiveDossier>(), 72);
        assert_eq!(std::mem::size_of::<PauseOf>(), 24);
    }

    #[test]
    fn live_set_adds_replaces_and_finds_across_chunks() {
        let dossier = |status: i16| LiveDossier {
            procedure: 0,
            agency: 0,
            times: [NONE; 5],
            status,
            channel: 1,
            flags: 0,
            fixed: false,
            pauses: Box::new([]),
        };
        let mut live = LiveSet::default();
        let n = LIVE_CHUNK as u64 * 2 + 10;
        for k in 0..n {
            assert!(live.insert(k * 7919, dossier(1)).is_none());
        }
        assert_eq!(live.len(), n as usize);
        assert_eq!(live.chunks.len(), 3);
        let replaced = live.insert(LIVE_CHUNK as u64 * 7919, dossier(4));
        assert_eq!(replaced.map(|d| d.status), Some(1));
        assert_eq!(live.len(), n as usize, "a replacement adds nothing");
        assert_eq!(
            live.get(LIVE_CHUNK as u64 * 7919).map(|d| d.status),
            Some(4)
        );
        assert_eq!(live.get((n - 1) * 7919).map(|d| d.status), Some(1));
        assert!(live.get(1).is_none());
        let mut keys: Vec<u64> = live.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..n).map(|k| k * 7919).collect::<Vec<_>>());
        assert_eq!(live.iter().filter(|(_, d)| d.status == 4).count(), 1);
    }

    #[test]
    fn only_old_ended_rows_settle() {
        let cut = 1_000_000;
        let row = |status, received, finished, updated| DossierRow {
            code: "X".into(),
            status,
            received_at: Some(received),
            finished_at: finished,
            updated_at: updated,
            ..DossierRow::default()
        };
        assert!(settles(&row(10, 10, Some(20), Some(30)), cut));
        assert!(
            !settles(&row(10, 10, Some(20), Some(cut)), cut),
            "touched lately"
        );
        assert!(
            !settles(&row(10, 10, Some(cut + 1), Some(30)), cut),
            "ended lately"
        );
        assert!(!settles(&row(4, 10, None, Some(30)), cut), "open");
        assert!(settles(&row(8, 10, None, None), cut), "cancelled long ago");
        assert!(settles(&row(3, 10, None, Some(30)), cut), "not intake");
    }

    /// Rows handed over in batches are each sorted once, whether the sorting
    /// runs here or on a thread of its own, and whether the reader refills
    /// the spent rows it gets back (or drops some, as the agency filter
    /// does) or makes new ones: the same settled sums and live rows every way.
    #[test]
    fn every_row_is_sorted_once_however_it_is_handed_over() {
        const ROWS: usize = 5 * HANDOVER + 123;
        let calendar = WorkCalendar::builtin();
        let now = crate::model::ts_of(
            NaiveDate::from_ymd_opt(2026, 6, 30)
                .and_then(|d| d.and_hms_opt(17, 0, 0))
                .expect("valid instant"),
        );
        let row = |i: usize| {
            let received = now - 400 * SECONDS_PER_DAY + i as Ts * 60;
            let open = i.is_multiple_of(3);
            DossierRow {
                code: format!("HS-{i:05}"),
                procedure_code: format!("P{}", i % 5),
                agency_code: format!("A{}", i % 7),
                channel: Some(1 + (i % 3) as i64),
                status: if open { 4 } else { 10 },
                received_at: Some(received),
                due_at: Some(received + 5 * SECONDS_PER_DAY),
                finished_at: (!open).then_some(received + (i % 9) as Ts * SECONDS_PER_DAY),
                updated_at: Some(received + 10 * SECONDS_PER_DAY),
                digitized: i.is_multiple_of(2),
                ..DossierRow::default()
            }
        };
        let sorter = || Sorter {
            pauses: Pauses::new(Vec::new()),
            apologies: Apologies::new(Vec::new()),
            cut: now - SETTLE_AFTER,
            now,
            convention: PeriodConvention::Calendar,
            calendar: calendar.clone(),
            settled: Snapshot::empty(&calendar, now, PeriodConvention::Calendar),
            batch: DatasetBuilder::new(&[], &[], &[]),
            live: LiveSet::default(),
            codes: Interner::default(),
            open_codes: OpenCodes::default(),
            recent_evaluations: Vec::new(),
        };
        let read = |refills: bool, on_its_own_thread: bool| {
            let mut hand_over =
                Handover::new(sorter(), refills, on_its_own_thread).expect("handover");
            let mut refilled = 0;
            let mut spare: Option<DossierRow> = None;
            for i in 0..ROWS {
                let next = match spare.take() {
                    Some(mut old) => {
                        refilled += 1;
                        old.clone_from(&row(i));
                        old
                    }
                    None => row(i),
                };
                spare = hand_over.dossier(next);
                if i.is_multiple_of(97) {
                    spare = None;
                }
            }
            hand_over.flush();
            let sorted = hand_over.finish();
            let received: u64 = sorted
                .settled
                .by_agency_sector
                .values()
                .map(|s| s.received.iter().sum::<u64>())
                .sum();
            assert_eq!(
                received as usize + sorted.live.len(),
                ROWS,
                "refills {refills}, own thread {on_its_own_thread}: each row once"
            );
            let live: Vec<(u64, LiveDossier)> =
                sorted.live.iter().map(|(k, d)| (*k, d.clone())).collect();
            (sorted.settled, live, refilled)
        };
        let (settled, live, refilled) = read(false, false);
        assert_eq!(refilled, 0, "no spares where the source does not refill");
        assert!(!live.is_empty() && !settled.by_agency.is_empty());
        for (refills, on_its_own_thread) in [(true, false), (false, true), (true, true)] {
            let (other_settled, other_live, refilled) = read(refills, on_its_own_thread);
            let what = format!("refills {refills}, own thread {on_its_own_thread}");
            assert!(other_settled == settled, "{what}: settled sums differ");
            assert!(other_live == live, "{what}: live rows differ");
            if refills && !on_its_own_thread {
                assert!(refilled > ROWS / 2, "{what}: {refilled} refilled");
            }
            if !refills {
                assert_eq!(refilled, 0, "{what}");
            }
        }
    }
}
