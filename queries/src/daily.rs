//! The chart service's aggregate store: per day and per (agency, sector),
//! the counts that reports, charts and the service index are drawn from,
//! so that a request reads days, not dossiers.
//!
//! Only dossiers whose every KPI is fixed — ended by now — are summed here
//! ([`DailySums`]); dossiers that are still open (or dated after now) stay
//! individual in a [`Dataset`], for the worklist and for "now". A [`View`]
//! puts the two together, and every aggregation in [`crate::report`],
//! [`crate::charts`] and [`crate::service_index`] reads a view: it walks the
//! individual dossiers with the per-dossier meanings of [`crate::classify`],
//! as it always did, and adds the summed days. Each summed count was made by
//! the same meanings when the dossier was folded ([`DailySums::of`]), so a
//! view answers exactly what a walk over every dossier answers; the tests
//! hold it to that on the demo for every period and agency.
//!
//! Why per day: a report or chart covers any range of days, and "pending at
//! the end of a day" is a prefix sum of the days' pending transitions (a
//! dossier pending from its receipt to its end adds +1 to its state on the
//! first day and moves it on the days its state changes). The store's size
//! grows with days × (agency, sector) pairs, never with dossiers.
//!
//! Sums add and subtract, so the incremental [`crate::incremental::Ledger`]
//! keeps them as it keeps the exporter's snapshot: settled history summed
//! once, live dossiers replaced when their `updated_at` moves.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::calendar::Day;
use crate::classify::{Judge, StateAt};
use crate::lookup::Interner;
use crate::model::{
    Channel, Dataset, Dossier, PendingState, Rating, Stage, Timeliness, Ts, day_of,
};
use crate::model::{RejectReason, start_of};

/// The counts of one day and one (agency, sector).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    /// Received this day, by [`Channel::ALL`].
    pub received: [u32; 3],
    /// Of those received this day: with digitized components.
    pub digitized: u32,
    /// Of those received this day: resolved (9/10), and of those with an
    /// electronic result.
    pub received_resolved: [u32; 2],
    /// Of those received this day with a `full` online procedure: [online, all].
    pub online_full: [u32; 2],
    /// Of those received this day with a fee-bearing procedure: [paid online, all].
    pub fee: [u32; 2],
    /// Resolved (9/10) this day, by [`Timeliness::ALL`].
    pub resolved: [u32; 3],
    /// Resolved this day: [with an electronic result, all].
    pub e_result: [u32; 2],
    /// Cancelled (7/8), dated as the report dates an ending: the later of
    /// its receipt and its end.
    pub cancelled: u32,
    /// The change, at the end of this day, of the dossiers pending in each
    /// [`PendingState::ALL`] state.
    pub pending: [i32; 3],
}

impl Cell {
    fn add(&mut self, o: &Cell, sign: i64) {
        fn f(a: &mut u32, b: u32, sign: i64) {
            *a = (i64::from(*a) + sign * i64::from(b)) as u32;
        }
        for (a, b) in self.received.iter_mut().zip(o.received) {
            f(a, b, sign);
        }
        f(&mut self.digitized, o.digitized, sign);
        for (a, b) in self.received_resolved.iter_mut().zip(o.received_resolved) {
            f(a, b, sign);
        }
        for (a, b) in self.online_full.iter_mut().zip(o.online_full) {
            f(a, b, sign);
        }
        for (a, b) in self.fee.iter_mut().zip(o.fee) {
            f(a, b, sign);
        }
        for (a, b) in self.resolved.iter_mut().zip(o.resolved) {
            f(a, b, sign);
        }
        for (a, b) in self.e_result.iter_mut().zip(o.e_result) {
            f(a, b, sign);
        }
        f(&mut self.cancelled, o.cancelled, sign);
        for (a, b) in self.pending.iter_mut().zip(o.pending) {
            *a += sign as i32 * b;
        }
    }

    fn is_empty(&self) -> bool {
        *self == Cell::default()
    }
}

/// (day, agency, sector), ids into [`DailySums`]' own code lists.
type CellKey = (Day, u32, u32);

/// Processing working days of the dossiers resolved on a day by an agency
/// (the processing chart filters by agency only): (working days, the
/// procedure's deadline as f32 bits or [`NO_DEADLINE`], dossiers), ordered
/// by the first two. Grouped by (day, agency) rather than keyed each in the
/// tree: at ten million dossiers a tree entry each took 90 MB.
type ProcessingCounts = Vec<(i32, u32, u32)>;

/// (day, or first day of a block of [`CHECKPOINT_DAYS`], agency).
type ProcessingKey = (Day, u32);

/// Adds `n` (which may be negative) dossiers of (`days`, `deadline`).
fn add_processing(counts: &mut ProcessingCounts, days: i32, deadline: u32, n: i64) {
    match counts.binary_search_by(|&(d, l, _)| (d, l).cmp(&(days, deadline))) {
        Ok(i) => {
            let left = i64::from(counts[i].2) + n;
            if left == 0 {
                counts.remove(i);
            } else {
                counts[i].2 = left as u32;
            }
        }
        Err(i) => counts.insert(i, (days, deadline, n as u32)),
    }
}

const NO_DEADLINE: u32 = u32::MAX;

/// Summed days of fixed dossiers and of dated evaluations (see the module
/// documentation). Every count adds and subtracts.
#[derive(Debug, Clone, Default)]
pub struct DailySums {
    agencies: Interner,
    sectors: Interner,
    procedures: Interner,
    cells: BTreeMap<CellKey, Cell>,
    processing: BTreeMap<ProcessingKey, ProcessingCounts>,
    /// (received day, agency, fee-bearing procedure) → [paid online, all].
    fee_procedures: BTreeMap<(Day, u32, u32), [u32; 2]>,
    /// (day, agency) → evaluations by [`Rating::ALL`].
    ratings: BTreeMap<(Day, u32), [u32; 3]>,
    /// Rows left out, by reason, in [`RejectReason::ALL`] order.
    rejected: [u64; 5],
    /// Made on first use, cleared by every change: see [`PendingCheckpoints`].
    checkpoints: std::sync::OnceLock<PendingCheckpoints>,
    /// The processing counts summed by block of [`CHECKPOINT_DAYS`] days
    /// (keyed by the block's first day): a year reads a dozen blocks and
    /// the days at its edges. Made on first use, cleared by every change.
    processing_blocks: std::sync::OnceLock<BTreeMap<ProcessingKey, ProcessingCounts>>,
    /// Batches folded in ([`DailySums::stage`]) but not yet in the trees
    /// ([`DailySums::seal`]). Why: a full read comes in batches of 16,384
    /// rows, and giving each batch trees of its own and merging them in
    /// cost as much CPU as the folding itself; folding every batch into one
    /// set of hash maps and moving them into the trees once halves it.
    staged: Option<Box<Building>>,
}

/// Staged entries past which [`DailySums::stage`] seals: bounds what a
/// full read of a large province holds twice (in hash maps and in trees)
/// to about 10 MB. The demo province's three years (300,000 dossiers,
/// 420,000 entries) seal twice; at ten million dossiers, about a dozen
/// times (each stage collapses many batches' entries for the same days).
const STAGED_AT_MOST: usize = 1 << 18;

/// Days between two pending checkpoints.
const CHECKPOINT_DAYS: Day = 32;

/// The summed pending counts per (agency, sector) before the first day of
/// every block of [`CHECKPOINT_DAYS`] days that has cells, in order: the
/// state at the end of a day is then its block's checkpoint plus at most a
/// block of cells, where the prefix sum would read the whole history (every
/// report needs it twice, at the opening and at the cut-off).
type PendingCheckpoints = Vec<(Day, PendingTotals)>;

/// Pending counts per (agency, sector), by [`PendingState::ALL`].
type PendingTotals = HashMap<(u32, u32), [i64; 3]>;

/// A hash map keyed by small integers: SipHash was a tenth of a full read.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// [`DailySums`]' maps while they are built, keyed by the sums' own code ids.
#[derive(Debug, Clone, Default)]
struct Building {
    cells: FastMap<CellKey, Cell>,
    /// (day, agency, working days, deadline) → dossiers: one hash lookup
    /// where [`add_processing`] would search and shift a sorted list;
    /// grouped into [`ProcessingCounts`] by [`DailySums::seal`].
    processing: FastMap<(Day, u32, i32, u32), u32>,
    fee_procedures: FastMap<(Day, u32, u32), [u32; 2]>,
    ratings: FastMap<(Day, u32), [u32; 3]>,
    /// One dossier's cells by day, before they join `cells`: its receipt,
    /// its end and its pending transitions mostly fall on two or three
    /// days, so this spares half the lookups.
    touched: Vec<(Day, Cell)>,
}

/// The cell of `day` among one dossier's [`Building::touched`] cells.
fn touch(touched: &mut Vec<(Day, Cell)>, day: Day) -> &mut Cell {
    let i = match touched.iter().position(|(d, _)| *d == day) {
        Some(i) => i,
        None => {
            touched.push((day, Cell::default()));
            touched.len() - 1
        }
    };
    &mut touched[i].1
}

impl Building {
    fn entries(&self) -> usize {
        self.cells.len() + self.processing.len() + self.fee_procedures.len() + self.ratings.len()
    }

    fn fold(
        &mut self,
        judge: &Judge<'_>,
        d: &Dossier,
        agency: u32,
        sector: u32,
        procedures: &mut Interner,
    ) {
        let ds = judge.dataset;
        let received = day_of(d.received);
        let resolved = d.stage == Stage::Resolved;
        let procedure = ds.procedure_of(d);
        let mut touched = std::mem::take(&mut self.touched);
        let cell = touch(&mut touched, received);
        cell.received[index_of(Channel::ALL, &d.channel)] += 1;
        cell.digitized += u32::from(d.digitized);
        if resolved {
            cell.received_resolved[0] += 1;
            cell.received_resolved[1] += u32::from(d.e_result);
        }
        if let Some(p) = procedure {
            if p.online_full {
                cell.online_full[0] += u32::from(d.channel == Channel::Online);
                cell.online_full[1] += 1;
            }
            if p.has_fee == Some(true) {
                cell.fee[0] += u32::from(d.paid_online);
                cell.fee[1] += 1;
                let p = procedures.intern(&p.code);
                let entry = self
                    .fee_procedures
                    .entry((received, agency, p))
                    .or_default();
                entry[0] += u32::from(d.paid_online);
                entry[1] += 1;
            }
        }
        let ended = d.ended.expect("a fixed dossier has ended");
        if resolved {
            let day = day_of(ended);
            let cell = touch(&mut touched, day);
            if let Some(t) = judge.timeliness(d) {
                cell.resolved[index_of(Timeliness::ALL, &t)] += 1;
            }
            cell.e_result[0] += u32::from(d.e_result);
            cell.e_result[1] += 1;
            if let Some(days) = judge.processing_workdays(d) {
                let deadline = d
                    .deadline_days
                    .map_or(NO_DEADLINE, |x| x.max(0.0).to_bits());
                *self
                    .processing
                    .entry((day, agency, days as i32, deadline))
                    .or_default() += 1;
            }
        } else {
            touch(&mut touched, day_of(ended.max(d.received))).cancelled += 1;
        }
        for_each_pending_transition(judge, d, |day, state, change| {
            touch(&mut touched, day).pending[index_of(PendingState::ALL, &state)] += change;
        });
        for (day, cell) in touched.drain(..) {
            self.cells
                .entry((day, agency, sector))
                .or_default()
                .add(&cell, 1);
        }
        self.touched = touched;
    }
}

fn index_of<T: PartialEq>(all: &[T], x: &T) -> usize {
    all.iter().position(|a| a == x).expect("in ALL")
}

/// A staged map's non-empty entries, in key order. The keys are sorted
/// with the index of their value, and each value moved once after: sorting
/// the entries themselves (a cell is 76 bytes) moved each many times, and
/// was most of a seal.
fn in_order<K: Ord + Copy, V: Default + PartialEq>(staged: FastMap<K, V>) -> Vec<(K, V)> {
    let mut keys = Vec::with_capacity(staged.len());
    let mut values = Vec::with_capacity(staged.len());
    for (k, v) in staged {
        if v != V::default() {
            keys.push((k, values.len() as u32));
            values.push(v);
        }
    }
    keys.sort_unstable_by_key(|(k, _)| *k);
    keys.into_iter()
        .map(|(k, i)| (k, std::mem::take(&mut values[i as usize])))
        .collect()
}

/// Adds staged entries, in key order, to a tree (its pages stay in the
/// cache); `add` adds one to an entry the tree holds and says whether it
/// is now empty. Into an empty tree they are built in bulk.
fn add_in_order<K: Ord + Copy, V>(
    tree: &mut BTreeMap<K, V>,
    staged: Vec<(K, V)>,
    mut add: impl FnMut(&mut V, V) -> bool,
) {
    if tree.is_empty() {
        *tree = BTreeMap::from_iter(staged);
        return;
    }
    for (k, v) in staged {
        match tree.entry(k) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(v);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                if add(e.get_mut(), v) {
                    e.remove();
                }
            }
        }
    }
}

/// [`add_sorted`]'s `add` for plain counts.
fn add_counts<const N: usize>(mine: &mut [u32; N], theirs: [u32; N]) -> bool {
    for (a, b) in mine.iter_mut().zip(theirs) {
        *a += b;
    }
    mine.iter().all(|x| *x == 0)
}

impl DailySums {
    /// The sums of every dossier and evaluation of `judge`'s dataset. The
    /// dossiers must have ended, by now ([`is_fixed`]): what the sums record
    /// of an open one would go stale.
    pub fn of(judge: &Judge<'_>) -> DailySums {
        DailySums::of_where(judge, |_| true, |_| true)
    }

    /// [`DailySums::of`] the dossiers and evaluations that pass.
    pub fn of_where(
        judge: &Judge<'_>,
        dossier: impl Fn(&Dossier) -> bool,
        evaluation: impl Fn(&crate::model::Evaluation) -> bool,
    ) -> DailySums {
        let mut sums = DailySums::default();
        sums.stage(judge, dossier, evaluation);
        sums.seal();
        sums
    }

    /// Folds the dossiers and evaluations of `judge`'s dataset that pass
    /// into the staged maps (the same contract as [`DailySums::of`]). They
    /// count once [`DailySums::seal`] has moved them into the trees; until
    /// then the sums must not be read.
    pub fn stage(
        &mut self,
        judge: &Judge<'_>,
        dossier: impl Fn(&Dossier) -> bool,
        evaluation: impl Fn(&crate::model::Evaluation) -> bool,
    ) {
        let ds = judge.dataset;
        // Every code the dataset knows, as a full read's dataset knows them.
        let agencies: Vec<u32> = ds
            .agency_codes
            .iter()
            .map(|c| self.agencies.intern(c))
            .collect();
        let sectors: Vec<u32> = ds
            .sector_codes
            .iter()
            .map(|c| self.sectors.intern(c))
            .collect();
        // Built in hash maps (far faster than trees at ten million
        // dossiers), then ordered by day once, in `seal`.
        let b = self.staged.get_or_insert_default();
        for d in ds.dossiers.iter().filter(|d| dossier(d)) {
            b.fold(
                judge,
                d,
                agencies[d.agency as usize],
                sectors[d.sector as usize],
                &mut self.procedures,
            );
        }
        for e in ds.evaluations.iter().filter(|e| evaluation(e)) {
            if let Some(t) = e.evaluated_at {
                let a = agencies[e.agency as usize];
                b.ratings.entry((day_of(t), a)).or_insert([0; 3])
                    [index_of(Rating::ALL, &e.rating)] += 1;
            }
        }
        let full = b.entries() > STAGED_AT_MOST;
        for (reason, n) in &ds.rejected {
            self.rejected[index_of(RejectReason::ALL, reason)] += n;
        }
        if full {
            self.seal();
        }
    }

    /// Moves what [`DailySums::stage`] folded into the trees.
    pub fn seal(&mut self) {
        let Some(b) = self.staged.take() else {
            return;
        };
        self.checkpoints = std::sync::OnceLock::new();
        self.processing_blocks = std::sync::OnceLock::new();
        let Building {
            cells,
            processing,
            fee_procedures,
            ratings,
            touched: _,
        } = *b;
        add_in_order(&mut self.cells, in_order(cells), |mine, theirs| {
            mine.add(&theirs, 1);
            mine.is_empty()
        });
        let mut grouped: Vec<(ProcessingKey, ProcessingCounts)> = Vec::new();
        for ((day, agency, days, deadline), n) in in_order(processing) {
            match grouped.last_mut() {
                Some((key, counts)) if *key == (day, agency) => counts.push((days, deadline, n)),
                _ => grouped.push(((day, agency), vec![(days, deadline, n)])),
            }
        }
        add_in_order(&mut self.processing, grouped, |mine, theirs| {
            for (days, deadline, n) in theirs {
                add_processing(mine, days, deadline, i64::from(n));
            }
            mine.is_empty()
        });
        add_in_order(
            &mut self.fee_procedures,
            in_order(fee_procedures),
            add_counts,
        );
        add_in_order(&mut self.ratings, in_order(ratings), add_counts);
    }

    fn merge(&mut self, o: &DailySums, sign: i64) {
        debug_assert!(o.staged.is_none(), "merging unsealed sums");
        self.seal();
        self.checkpoints = std::sync::OnceLock::new();
        self.processing_blocks = std::sync::OnceLock::new();
        let agencies: Vec<u32> = o
            .agencies
            .codes()
            .iter()
            .map(|c| self.agencies.intern(c))
            .collect();
        let sectors: Vec<u32> = o
            .sectors
            .codes()
            .iter()
            .map(|c| self.sectors.intern(c))
            .collect();
        let procedures: Vec<u32> = o
            .procedures
            .codes()
            .iter()
            .map(|c| self.procedures.intern(c))
            .collect();
        let (a, s) = (|i: u32| agencies[i as usize], |i: u32| sectors[i as usize]);
        for (&(day, agency, sector), cell) in &o.cells {
            let key = (day, a(agency), s(sector));
            let mine = self.cells.entry(key).or_default();
            mine.add(cell, sign);
            if mine.is_empty() {
                self.cells.remove(&key);
            }
        }
        fn apply<K: Ord + Copy, const N: usize>(
            map: &mut BTreeMap<K, [u32; N]>,
            k: K,
            v: &[u32; N],
            sign: i64,
        ) {
            let mine = map.entry(k).or_insert([0; N]);
            for (a, b) in mine.iter_mut().zip(v) {
                *a = (i64::from(*a) + sign * i64::from(*b)) as u32;
            }
            if mine.iter().all(|x| *x == 0) {
                map.remove(&k);
            }
        }
        for (&(day, agency), counts) in &o.processing {
            let key = (day, a(agency));
            let mine = self.processing.entry(key).or_default();
            for &(days, deadline, n) in counts {
                add_processing(mine, days, deadline, sign * i64::from(n));
            }
            if mine.is_empty() {
                self.processing.remove(&key);
            }
        }
        for (&(day, agency, p), v) in &o.fee_procedures {
            apply(
                &mut self.fee_procedures,
                (day, a(agency), procedures[p as usize]),
                v,
                sign,
            );
        }
        for (&(day, agency), v) in &o.ratings {
            apply(&mut self.ratings, (day, a(agency)), v, sign);
        }
        for (mine, theirs) in self.rejected.iter_mut().zip(o.rejected) {
            *mine = (*mine as i64 + sign * theirs as i64) as u64;
        }
    }

    /// Adds `o`'s counts.
    pub fn absorb(&mut self, o: &DailySums) {
        self.merge(o, 1);
    }

    /// Takes out what [`DailySums::absorb`] added.
    pub fn remove(&mut self, o: &DailySums) {
        self.merge(o, -1);
    }

    fn processing_blocks(&self) -> &BTreeMap<ProcessingKey, ProcessingCounts> {
        self.processing_blocks.get_or_init(|| {
            let mut blocks: BTreeMap<ProcessingKey, ProcessingCounts> = BTreeMap::new();
            for (&(day, agency), counts) in &self.processing {
                let block = day.div_euclid(CHECKPOINT_DAYS) * CHECKPOINT_DAYS;
                let mine = blocks.entry((block, agency)).or_default();
                for &(days, deadline, n) in counts {
                    add_processing(mine, days, deadline, i64::from(n));
                }
            }
            blocks
        })
    }

    /// Visits the processing counts of the days in `from..=to`: whole
    /// blocks from [`DailySums::processing_blocks`], the rest by day.
    fn visit_processing(&self, from: Day, to: Day, mut f: impl FnMut(u32, &ProcessingCounts)) {
        if from > to {
            return;
        }
        let mut by_day = |from: Day, to: Day| {
            if from > to {
                return;
            }
            for (&(_, agency), counts) in self.processing.range((from, 0)..=(to, u32::MAX)) {
                f(agency, counts);
            }
        };
        // The first and the one-past-last day of the whole blocks inside.
        let first = (from + CHECKPOINT_DAYS - 1).div_euclid(CHECKPOINT_DAYS) * CHECKPOINT_DAYS;
        let end = (to + 1).div_euclid(CHECKPOINT_DAYS) * CHECKPOINT_DAYS;
        if first >= end {
            by_day(from, to);
            return;
        }
        by_day(from, first - 1);
        by_day(end, to);
        let blocks = self.processing_blocks();
        for (&(_, agency), counts) in blocks.range((first, 0)..(end, 0)) {
            f(agency, counts);
        }
    }

    fn checkpoints(&self) -> &PendingCheckpoints {
        self.checkpoints.get_or_init(|| {
            let mut out = Vec::new();
            let mut running = PendingTotals::new();
            let mut block = None;
            for (&(day, a, s), cell) in &self.cells {
                let b = day.div_euclid(CHECKPOINT_DAYS);
                if block != Some(b) {
                    out.push((b * CHECKPOINT_DAYS, running.clone()));
                    block = Some(b);
                }
                if cell.pending != [0; 3] {
                    let e = running.entry((a, s)).or_default();
                    for (x, y) in e.iter_mut().zip(cell.pending) {
                        *x += i64::from(y);
                    }
                }
            }
            out
        })
    }

    /// The pending counts summed before the day returned (in this store's
    /// codes); the cells from that day on remain to be added.
    fn pending_before(&self, day: Day) -> (Day, Option<&PendingTotals>) {
        let checkpoints = self.checkpoints();
        match checkpoints.partition_point(|(start, _)| *start <= day) {
            0 => (Day::MIN, None),
            i => (checkpoints[i - 1].0, Some(&checkpoints[i - 1].1)),
        }
    }

    /// Cells, processing entries, fee entries and rating entries held:
    /// what the store's size grows with.
    pub fn entries(&self) -> usize {
        self.entries_by_map().iter().sum()
    }

    /// [`DailySums::entries`] by map: cells, processing, fee procedures, ratings.
    pub fn entries_by_map(&self) -> [usize; 4] {
        [
            self.cells.len(),
            self.processing.values().map(Vec::len).sum(),
            self.fee_procedures.len(),
            self.ratings.len(),
        ]
    }

    pub fn agency_codes(&self) -> &[String] {
        self.agencies.codes()
    }

    pub fn sector_codes(&self) -> &[String] {
        self.sectors.codes()
    }

    /// Dossiers summed (by receipt).
    pub fn dossiers(&self) -> u64 {
        self.cells
            .values()
            .map(|c| c.received.iter().map(|n| u64::from(*n)).sum::<u64>())
            .sum()
    }

    /// Rows left out, by reason (the reasons with at least one).
    pub fn rejected(&self) -> impl Iterator<Item = (RejectReason, u64)> + '_ {
        RejectReason::ALL
            .iter()
            .zip(self.rejected)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| (*r, n))
    }
}

/// Whether every KPI of a dossier is fixed: it has ended, and was
/// received and ended by `now`. Nothing but its row can change it.
pub fn is_fixed(d: &Dossier, now: Ts) -> bool {
    d.ended.is_some_and(|e| e <= now) && d.received <= now
}

/// The days on which a dossier's pending state changes, as (day, state,
/// ±1): it is pending in `state` at the end of every day from the +1 to
/// the day before the matching −1. A dossier is pending at the end of day
/// D when it was received by then and ended after ([`Judge::state_at`]);
/// the state is [`Judge::state_at`]'s at the day's last second.
///
/// Without pauses the state only goes from in time to overdue (the clock
/// and the working days only grow), so a binary search finds the day; with
/// pauses every day is asked.
pub fn pending_transitions(judge: &Judge<'_>, d: &Dossier) -> Vec<(Day, PendingState, i32)> {
    let mut out = Vec::new();
    for_each_pending_transition(judge, d, |day, state, change| {
        out.push((day, state, change))
    });
    out
}

/// [`pending_transitions`], handed to `emit` one by one (the fold of a full
/// read makes no list per dossier).
fn for_each_pending_transition(
    judge: &Judge<'_>,
    d: &Dossier,
    mut emit: impl FnMut(Day, PendingState, i32),
) {
    let Some(ended) = d.ended else {
        return;
    };
    let first = day_of(d.received);
    let last = day_of(ended) - 1;
    if last < first {
        return;
    }
    let state = |day: Day| match judge.state_at(d, start_of(day + 1) - 1, false) {
        StateAt::Pending(s) => s,
        other => unreachable!("pending at the end of day {day}: {other:?}"),
    };
    let mut run = |from: Day, to: Day, s: PendingState| {
        emit(from, s, 1);
        emit(to + 1, s, -1);
    };
    if judge.dataset.pauses_of(d).is_empty() {
        // The first overdue day, if any, by binary search over [first, last].
        let (mut lo, mut hi) = (first, last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if state(mid) == PendingState::Overdue {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if lo > first {
            run(first, lo - 1, state(first));
        }
        if lo <= last {
            run(lo, last, PendingState::Overdue);
        }
        return;
    }
    let mut start = first;
    let mut current = state(first);
    for day in first + 1..=last {
        let s = state(day);
        if s != current {
            run(start, day - 1, current);
            start = day;
            current = s;
        }
    }
    run(start, last, current);
}

/// Maps a [`DailySums`]' ids onto a [`Dataset`]'s indices.
#[derive(Debug, Clone)]
struct Remap {
    agency: Vec<u32>,
    sector: Vec<u32>,
}

impl<'a> From<&Judge<'a>> for View<'a> {
    fn from(judge: &Judge<'a>) -> View<'a> {
        View::of(*judge)
    }
}

impl<'a> From<&View<'a>> for View<'a> {
    fn from(view: &View<'a>) -> View<'a> {
        view.clone()
    }
}

/// Individual dossiers and summed days, read together. `judge.dataset`
/// knows every agency and sector code of the sums.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub judge: Judge<'a>,
    sums: Vec<(&'a DailySums, Remap)>,
}

impl<'a> View<'a> {
    /// A view of individual dossiers only: every dossier walked.
    pub fn of(judge: Judge<'a>) -> View<'a> {
        View {
            judge,
            sums: Vec::new(),
        }
    }

    /// Adds summed days. Panics if the dataset lacks one of their codes
    /// ([`Frame`] makes sure it has them).
    pub fn with(mut self, sums: &'a DailySums) -> View<'a> {
        debug_assert!(sums.staged.is_none(), "a view of unsealed sums");
        let ds = self.judge.dataset;
        let find = |codes: &[String], c: &str| {
            codes
                .binary_search_by(|x| x.as_str().cmp(c))
                .unwrap_or_else(|_| panic!("the view's dataset lacks the code {c:?}"))
                as u32
        };
        let remap = Remap {
            agency: sums
                .agency_codes()
                .iter()
                .map(|c| find(&ds.agency_codes, c))
                .collect(),
            sector: sums
                .sector_codes()
                .iter()
                .map(|c| find(&ds.sector_codes, c))
                .collect(),
        };
        self.sums.push((sums, remap));
        self
    }

    pub fn dataset(&self) -> &'a Dataset {
        self.judge.dataset
    }

    /// Every summed cell with a day in `days`, with the dataset's agency
    /// and sector indices, of `agency` (a dataset index) or all.
    pub fn cells(
        &self,
        days: std::ops::RangeInclusive<Day>,
        agency: Option<u32>,
    ) -> impl Iterator<Item = (Day, u32, u32, &'a Cell)> + '_ {
        let (from, to) = (*days.start(), *days.end());
        self.sums.iter().flat_map(move |(sums, remap)| {
            let range = if from <= to {
                sums.cells.range((from, 0, 0)..=(to, u32::MAX, u32::MAX))
            } else {
                sums.cells.range((0, 1, 0)..(0, 1, 0))
            };
            range.filter_map(move |(&(day, a, s), cell)| {
                let (a, s) = (remap.agency[a as usize], remap.sector[s as usize]);
                agency.is_none_or(|x| x == a).then_some((day, a, s, cell))
            })
        })
    }

    /// Summed dossiers pending at the end of day `day`, per (agency, sector),
    /// by [`PendingState::ALL`].
    pub fn pending_at_end_of(
        &self,
        day: Day,
        agency: Option<u32>,
    ) -> BTreeMap<(u32, u32), [i64; 3]> {
        let mut out: BTreeMap<(u32, u32), [i64; 3]> = BTreeMap::new();
        let mut add = |a: u32, s: u32, v: [i64; 3]| {
            if agency.is_none_or(|x| x == a) {
                let e = out.entry((a, s)).or_default();
                for (x, y) in e.iter_mut().zip(v) {
                    *x += y;
                }
            }
        };
        for (sums, remap) in &self.sums {
            let (a, s) = (
                |i: u32| remap.agency[i as usize],
                |i: u32| remap.sector[i as usize],
            );
            let (start, before) = sums.pending_before(day);
            for (&(agency, sector), v) in before.into_iter().flatten() {
                add(a(agency), s(sector), *v);
            }
            if start > day {
                continue;
            }
            let cells = sums.cells.range((start, 0, 0)..=(day, u32::MAX, u32::MAX));
            for (&(_, agency, sector), cell) in cells {
                if cell.pending != [0; 3] {
                    add(a(agency), s(sector), cell.pending.map(i64::from));
                }
            }
        }
        out.retain(|_, v| *v != [0; 3]);
        out
    }

    /// Visits the summed processing counts of the dossiers resolved on a day
    /// in `days`, of `agency` (a dataset index) or all: (working days, the
    /// deadline, dossiers).
    pub fn for_each_processing(
        &self,
        days: std::ops::RangeInclusive<Day>,
        agency: Option<u32>,
        mut f: impl FnMut(i64, Option<f64>, u64),
    ) {
        for (sums, remap) in &self.sums {
            sums.visit_processing(*days.start(), *days.end(), |a, counts| {
                if agency.is_none_or(|x| x == remap.agency[a as usize]) {
                    for &(days, deadline, n) in counts {
                        let deadline =
                            (deadline != NO_DEADLINE).then(|| f64::from(f32::from_bits(deadline)));
                        f(i64::from(days), deadline, u64::from(n));
                    }
                }
            });
        }
    }

    /// Summed fee-bearing dossiers received on a day in `days`:
    /// (agency, procedure code, [paid online, all]).
    pub fn fee_procedures(
        &self,
        days: std::ops::RangeInclusive<Day>,
    ) -> impl Iterator<Item = (u32, &'a str, [u32; 2])> + '_ {
        let (from, to) = (*days.start(), *days.end());
        self.sums.iter().flat_map(move |(sums, remap)| {
            let (lo, hi) = ((from, 0, 0), (to, u32::MAX, u32::MAX));
            let range = if from <= to {
                sums.fee_procedures.range(lo..=hi)
            } else {
                sums.fee_procedures.range(lo..lo)
            };
            range.map(move |(&(_, a, p), v)| (remap.agency[a as usize], sums.procedures.get(p), *v))
        })
    }

    /// Summed evaluations dated on a day in `days`: (agency, by [`Rating::ALL`]).
    pub fn ratings(
        &self,
        days: std::ops::RangeInclusive<Day>,
    ) -> impl Iterator<Item = (u32, [u32; 3])> + '_ {
        let (from, to) = (*days.start(), *days.end());
        self.sums.iter().flat_map(move |(sums, remap)| {
            let (lo, hi) = ((from, 0), (to, u32::MAX));
            let range = if from <= to {
                sums.ratings.range(lo..=hi)
            } else {
                sums.ratings.range(lo..lo)
            };
            range.map(move |(&(_, a), v)| (remap.agency[a as usize], *v))
        })
    }

    /// The first and last days with a summed receipt or ending.
    pub fn summed_span(&self) -> Option<(Day, Day)> {
        let mut span: Option<(Day, Day)> = None;
        for (sums, _) in &self.sums {
            let first = sums.cells.keys().next().map(|k| k.0);
            let last = sums.cells.keys().next_back().map(|k| k.0);
            if let (Some(a), Some(b)) = (first, last) {
                span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
        span
    }

    /// Rows left out, summed and individual, by reason.
    pub fn rejected_count(&self, reason: RejectReason) -> u64 {
        self.dataset().rejected_count(reason)
            + self
                .sums
                .iter()
                .map(|(s, _)| s.rejected[index_of(RejectReason::ALL, &reason)])
                .sum::<u64>()
    }
}

/// What the chart service answers from: the summed days (history settled
/// once, and the live dossiers that have ended) and the individual live
/// dossiers, whose dataset knows every code of the sums.
#[derive(Debug, Clone)]
pub struct Frame {
    pub dataset: Dataset,
    pub sums: Vec<Arc<DailySums>>,
}

impl Frame {
    /// Sums the dossiers of `dataset` that are fixed at `now` ([`is_fixed`])
    /// and the evaluations dated before `now`; keeps the rest individual.
    pub fn split(dataset: Dataset, calendar: &crate::WorkCalendar, now: Ts) -> Frame {
        let fixed = |d: &Dossier| is_fixed(d, now);
        let dated = |e: &crate::model::Evaluation| e.evaluated_at.is_some_and(|t| t <= now);
        let sums = DailySums::of_where(&Judge::new(&dataset, calendar), fixed, dated);
        // In place: a copy of ten million dossiers is 800 MB.
        let dataset = keep(dataset, |d| !fixed(d), |e| !dated(e));
        Frame {
            dataset,
            sums: vec![Arc::new(sums)],
        }
    }

    /// A frame of individual dossiers only.
    pub fn of(dataset: Dataset) -> Frame {
        Frame {
            dataset,
            sums: Vec::new(),
        }
    }

    pub fn view<'a>(&'a self, calendar: &'a crate::WorkCalendar) -> View<'a> {
        self.sums
            .iter()
            .fold(View::of(Judge::new(&self.dataset, calendar)), |v, s| {
                v.with(s)
            })
    }

    /// Dossiers counted: individual and summed (received).
    pub fn dossiers(&self) -> u64 {
        let summed: u64 = self
            .sums
            .iter()
            .flat_map(|s| s.cells.values())
            .map(|c| c.received.iter().map(|n| u64::from(*n)).sum::<u64>())
            .sum();
        self.dataset.dossiers.len() as u64 + summed
    }
}

/// Keeps the dossiers and evaluations of a dataset that pass (with their
/// pauses and open identities), in place.
fn keep(
    mut ds: Dataset,
    dossier: impl Fn(&Dossier) -> bool,
    evaluation: impl Fn(&crate::model::Evaluation) -> bool,
) -> Dataset {
    let mut open = std::mem::take(&mut ds.open);
    open.sort_unstable_by_key(|o| o.dossier);
    let mut open = open.into_iter().peekable();
    let mut kept_open = Vec::new();
    let mut pauses = Vec::new();
    let all_pauses = std::mem::take(&mut ds.pauses);
    let (mut kept, mut i) = (0u32, 0u32);
    ds.dossiers.retain_mut(|d| {
        let keep = dossier(d);
        while let Some(mut o) = open.next_if(|o| o.dossier <= i) {
            if keep && o.dossier == i {
                o.dossier = kept;
                kept_open.push(o);
            }
        }
        if keep {
            let first = pauses.len() as u32;
            pauses.extend_from_slice(&all_pauses[d.pauses.0 as usize..d.pauses.1 as usize]);
            d.pauses = (first, pauses.len() as u32);
            kept += 1;
        }
        i += 1;
        keep
    });
    ds.dossiers.shrink_to_fit();
    pauses.shrink_to_fit();
    ds.pauses = pauses;
    ds.open = kept_open;
    ds.evaluations.retain(|e| evaluation(e));
    ds.evaluations.shrink_to_fit();
    ds
}
