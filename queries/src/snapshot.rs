//! The aggregated state the exporter publishes: every series of DESIGN §4
//! that comes from the source, keyed by label values, ready to encode.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::classify::{Judge, StateAt};
use crate::model::{
    Agency, CancelReason, Channel, DigitizedKind, PendingState, Rating, RejectReason, Sector,
    Stage, Timeliness, Ts, datetime_of,
};
use crate::report::{PeriodConvention, PeriodKind, PeriodName, ReportColumns, ReportWindow, tally};
use crate::service_index::{IndexTally, Measures, measures, tally_dossier, tally_evaluation};
use crate::worklist::due_soon_in_time;

/// Upper bounds of `motcua_dossier_processing_workdays` (working days).
pub const PROCESSING_WORKDAYS_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];
/// Upper bounds of `motcua_dossier_deadline_usage_ratio`.
pub const DEADLINE_USAGE_BUCKETS: &[f64] = &[0.25, 0.5, 0.75, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0];

/// Observations are summed in units of 10⁻⁹: an integer sum is the same
/// whatever the order of the additions, so a snapshot assembled from parts
/// (an incremental refresh) equals one computed in one pass.
const SUM_UNITS: f64 = 1e9;

/// A fixed-bucket histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    /// Cumulative count of observations ≤ each bound (as Prometheus exposes them).
    pub cumulative: Vec<u64>,
    /// The sum of observations, each rounded to 10⁻⁹.
    pub sum: f64,
    pub count: u64,
    exact_sum: i128,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            cumulative: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
            exact_sum: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        // Counts are made cumulative in `finish`; here each slot holds its own bucket.
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.cumulative[i] += 1;
        }
        self.exact_sum += (v * SUM_UNITS).round() as i128;
        self.count += 1;
    }

    fn finish(&mut self) {
        let mut running = 0;
        for c in &mut self.cumulative {
            running += *c;
            *c = running;
        }
        self.sum = self.exact_sum as f64 / SUM_UNITS;
    }

    /// Takes out the observations of `other`, which were added before.
    fn remove(&mut self, other: &Histogram) {
        for (c, o) in self.cumulative.iter_mut().zip(&other.cumulative) {
            *c -= o;
        }
        self.count -= other.count;
        self.exact_sum -= other.exact_sum;
        self.sum = self.exact_sum as f64 / SUM_UNITS;
    }

    /// Adds the observations of `other` (both finished, same bounds).
    fn absorb(&mut self, other: &Histogram) {
        for (c, o) in self.cumulative.iter_mut().zip(&other.cumulative) {
            *c += o;
        }
        self.count += other.count;
        self.exact_sum += other.exact_sum;
        self.sum = self.exact_sum as f64 / SUM_UNITS;
    }
}

fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn sub<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x -= y;
    }
}

/// Per agency and sector.
#[derive(Debug, Clone, PartialEq)]
pub struct AgencySectorStats {
    pub received: [u64; 3],
    /// [channel][timeliness]
    pub resolved: [[u64; 3]; 3],
    pub cancelled: [u64; 2],
    pub pending: [u64; 3],
    /// Pending in time and due soon (DESIGN §9).
    pub due_soon: u64,
    pub processing_workdays: Histogram,
}

impl Default for AgencySectorStats {
    fn default() -> Self {
        AgencySectorStats {
            received: [0; 3],
            resolved: [[0; 3]; 3],
            cancelled: [0; 2],
            pending: [0; 3],
            due_soon: 0,
            processing_workdays: Histogram::new(PROCESSING_WORKDAYS_BUCKETS),
        }
    }
}

/// Per agency.
#[derive(Debug, Clone, PartialEq)]
pub struct AgencyStats {
    pub deadline_usage: Histogram,
    pub overdue_max_workdays: i64,
    pub late_without_apology: u64,
    pub digitized: [u64; 2],
    /// Biểu 06 columns for the current month, quarter and year.
    pub report: [ReportColumns; 3],
    /// The rest of the service index measures, same periods (DESIGN §8).
    pub index: [IndexTally; 3],
}

impl Default for AgencyStats {
    fn default() -> Self {
        AgencyStats {
            deadline_usage: Histogram::new(DEADLINE_USAGE_BUCKETS),
            overdue_max_workdays: 0,
            late_without_apology: 0,
            digitized: [0; 2],
            report: [ReportColumns::default(); 3],
            index: Default::default(),
        }
    }
}

/// Everything the exporter serves from the source, at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Local wall-clock "now" the snapshot was taken at.
    pub now: Ts,
    /// Agencies and sectors from the catalogue, for the `_info` series.
    pub agencies: Vec<Agency>,
    pub sectors: Vec<Sector>,
    /// Every (agency, sector) with intake.
    pub by_agency_sector: BTreeMap<(String, String), AgencySectorStats>,
    /// Every agency with intake.
    pub by_agency: BTreeMap<String, AgencyStats>,
    /// Every agency with evaluations: counts by rating.
    pub evaluations: BTreeMap<String, [u64; 3]>,
    /// Every agency with evaluations rated `dissatisfied` in a current
    /// period: their count per period (service index satisfaction).
    pub dissatisfied: BTreeMap<String, [u64; 3]>,
    /// The indicator table the exporter publishes maxima, targets and
    /// declared points from (the shipped one unless the caller sets it).
    pub service_index: std::sync::Arc<crate::service_index::IndicatorTable>,
    /// The current periods the report gauges cover.
    pub periods: [(PeriodName, NaiveDate, NaiveDate); 3],
    pub rejected: Vec<(RejectReason, u64)>,
}

impl AgencySectorStats {
    fn absorb(&mut self, o: &AgencySectorStats) {
        add(&mut self.received, &o.received);
        for (a, b) in self.resolved.iter_mut().zip(&o.resolved) {
            add(a, b);
        }
        add(&mut self.cancelled, &o.cancelled);
        add(&mut self.pending, &o.pending);
        self.due_soon += o.due_soon;
        self.processing_workdays.absorb(&o.processing_workdays);
    }
}

impl AgencySectorStats {
    fn remove(&mut self, o: &AgencySectorStats) {
        sub(&mut self.received, &o.received);
        for (a, b) in self.resolved.iter_mut().zip(&o.resolved) {
            sub(a, b);
        }
        sub(&mut self.cancelled, &o.cancelled);
        sub(&mut self.pending, &o.pending);
        self.due_soon -= o.due_soon;
        self.processing_workdays.remove(&o.processing_workdays);
    }
}

impl AgencyStats {
    fn remove(&mut self, o: &AgencyStats) {
        self.deadline_usage.remove(&o.deadline_usage);
        self.late_without_apology -= o.late_without_apology;
        sub(&mut self.digitized, &o.digitized);
        for (a, b) in self.report.iter_mut().zip(&o.report) {
            a.remove(b);
        }
        for (a, b) in self.index.iter_mut().zip(&o.index) {
            a.remove(b);
        }
    }

    fn absorb(&mut self, o: &AgencyStats) {
        self.deadline_usage.absorb(&o.deadline_usage);
        self.overdue_max_workdays = self.overdue_max_workdays.max(o.overdue_max_workdays);
        self.late_without_apology += o.late_without_apology;
        add(&mut self.digitized, &o.digitized);
        for (a, b) in self.report.iter_mut().zip(&o.report) {
            a.add(b);
        }
        for (a, b) in self.index.iter_mut().zip(&o.index) {
            a.absorb(b);
        }
    }
}

/// The month, quarter and year containing `now`, with their first and last days.
pub fn current_periods(
    now: Ts,
    convention: PeriodConvention,
) -> [(PeriodName, NaiveDate, NaiveDate); 3] {
    let today = datetime_of(now).date();
    PeriodKind::ALL.map(|kind| {
        let name = PeriodName::containing(kind, today, convention);
        let (from, to) = name.bounds(convention);
        (name, from, to)
    })
}

fn index<T: PartialEq>(all: &[T], v: T) -> usize {
    all.iter().position(|x| *x == v).expect("label is in ALL")
}

impl Snapshot {
    /// An agency's service index measures for the current period `k`
    /// (0 month, 1 quarter, 2 year; [`PeriodKind::ALL`] order).
    pub fn index_measures(&self, agency: &str, k: usize) -> Measures {
        let Some(stats) = self.by_agency.get(agency) else {
            return Measures::default();
        };
        let dissatisfied = self.dissatisfied.get(agency).map_or(0, |d| d[k]);
        measures(&stats.report[k], &stats.index[k], dissatisfied)
    }

    /// Takes out what [`Snapshot::absorb`] added for `other`, a snapshot of
    /// dossiers whose state does not depend on the clock (nothing pending,
    /// no evaluations). Agencies and pairs left without intake disappear, as
    /// they would from a snapshot computed without those dossiers.
    pub fn remove(&mut self, other: &Snapshot) {
        for (key, stats) in &other.by_agency_sector {
            if let Some(mine) = self.by_agency_sector.get_mut(key) {
                mine.remove(stats);
            }
        }
        for (key, stats) in &other.by_agency {
            if let Some(mine) = self.by_agency.get_mut(key) {
                mine.remove(stats);
            }
        }
        for (reason, n) in &other.rejected {
            if let Some((_, m)) = self.rejected.iter_mut().find(|(r, _)| r == reason) {
                *m -= n;
            }
        }
        for (key, counts) in &other.dissatisfied {
            if let Some(mine) = self.dissatisfied.get_mut(key) {
                sub(mine, counts);
            }
        }
        self.by_agency_sector
            .retain(|_, s| s.received.iter().any(|n| *n > 0));
        let pairs = &self.by_agency_sector;
        self.by_agency
            .retain(|agency, _| pairs.keys().any(|(a, _)| a == agency));
    }

    /// Adds the dossiers and evaluations counted in `other`, a snapshot of
    /// other rows of the same source over the same periods: the result is the
    /// snapshot of both sets of rows. The catalogue and `now` stay `self`'s.
    pub fn absorb(&mut self, other: &Snapshot) {
        // Keys are cloned only when new: a full read merges hundreds of
        // batches into a snapshot that already has nearly every key.
        for (key, stats) in &other.by_agency_sector {
            match self.by_agency_sector.get_mut(key) {
                Some(mine) => mine.absorb(stats),
                None => {
                    self.by_agency_sector.insert(key.clone(), stats.clone());
                }
            }
        }
        for (key, stats) in &other.by_agency {
            match self.by_agency.get_mut(key) {
                Some(mine) => mine.absorb(stats),
                None => {
                    self.by_agency.insert(key.clone(), stats.clone());
                }
            }
        }
        for (key, counts) in &other.evaluations {
            match self.evaluations.get_mut(key) {
                Some(mine) => add(mine, counts),
                None => {
                    self.evaluations.insert(key.clone(), *counts);
                }
            }
        }
        for (key, counts) in &other.dissatisfied {
            match self.dissatisfied.get_mut(key) {
                Some(mine) => add(mine, counts),
                None => {
                    self.dissatisfied.insert(key.clone(), *counts);
                }
            }
        }
        for (reason, n) in &other.rejected {
            match self.rejected.iter_mut().find(|(r, _)| r == reason) {
                Some((_, m)) => *m += n,
                None => self.rejected.push((*reason, *n)),
            }
        }
    }

    /// Aggregates the dataset as of `now` (local wall-clock).
    pub fn compute(judge: &Judge<'_>, now: Ts, convention: PeriodConvention) -> Snapshot {
        let ds = judge.dataset;
        let periods = current_periods(now, convention);
        let windows = periods.map(|(_, from, to)| ReportWindow::new(from, to, now));

        // By number while counting, by code in the snapshot: two ordered-map
        // lookups a dossier were a twentieth of a full read at 10 million.
        let mut pairs: HashMap<(u32, u32), AgencySectorStats, foldhash::fast::RandomState> =
            HashMap::default();
        let mut agencies: Vec<Option<AgencyStats>> = Vec::new();
        agencies.resize_with(ds.agency_codes.len(), || None);
        for d in &ds.dossiers {
            let pair = pairs.entry((d.agency, d.sector)).or_default();
            let agency = agencies[d.agency as usize].get_or_insert_default();
            pair.received[index(Channel::ALL, d.channel)] += 1;
            if d.digitized {
                agency.digitized[index(DigitizedKind::ALL, DigitizedKind::Dossier)] += 1;
            }
            if d.e_result {
                agency.digitized[index(DigitizedKind::ALL, DigitizedKind::Result)] += 1;
            }
            for ((w, columns), index) in windows
                .iter()
                .zip(agency.report.iter_mut())
                .zip(agency.index.iter_mut())
            {
                tally(judge, d, w, columns);
                tally_dossier(ds, d, w, index);
            }
            let mut late = false;
            match d.stage {
                Stage::Resolved => {
                    let t = judge.timeliness(d).expect("resolved");
                    late = t == Timeliness::Late;
                    pair.resolved[index(Channel::ALL, d.channel)][index(Timeliness::ALL, t)] += 1;
                    if let Some(days) = judge.processing_workdays(d) {
                        pair.processing_workdays.observe(days as f64);
                    }
                    if let Some(ratio) = judge.deadline_usage(d) {
                        agency.deadline_usage.observe(ratio);
                    }
                }
                Stage::Cancelled(reason) => {
                    pair.cancelled[index(CancelReason::ALL, reason)] += 1;
                }
                Stage::Open { .. } => {}
            }
            if let StateAt::Pending(state) = judge.state_at(d, now, true) {
                pair.pending[index(PendingState::ALL, state)] += 1;
                if state == PendingState::InTime && due_soon_in_time(judge, d, now) {
                    pair.due_soon += 1;
                }
                if state == PendingState::Overdue {
                    late = true;
                    agency.overdue_max_workdays = agency
                        .overdue_max_workdays
                        .max(judge.overdue_workdays(d, now));
                }
            }
            if late && !d.has_apology {
                agency.late_without_apology += 1;
            }
        }

        let mut evaluations: BTreeMap<String, [u64; 3]> = BTreeMap::new();
        let mut dissatisfied: BTreeMap<String, [u64; 3]> = BTreeMap::new();
        for e in &ds.evaluations {
            let code = &ds.agency_codes[e.agency as usize];
            evaluations.entry(code.clone()).or_default()[index(Rating::ALL, e.rating)] += 1;
            for (k, w) in windows.iter().enumerate() {
                if tally_evaluation(e, w) {
                    dissatisfied.entry(code.clone()).or_default()[k] += 1;
                }
            }
        }

        let code = |a: u32| ds.agency_codes[a as usize].clone();
        Snapshot {
            now,
            agencies: ds.agencies.iter().flatten().cloned().collect(),
            sectors: ds.sectors.iter().flatten().cloned().collect(),
            by_agency_sector: pairs
                .into_iter()
                .map(|((a, s), mut stats)| {
                    stats.processing_workdays.finish();
                    ((code(a), ds.sector_codes[s as usize].clone()), stats)
                })
                .collect(),
            by_agency: agencies
                .into_iter()
                .enumerate()
                .filter_map(|(a, stats)| {
                    let mut stats = stats?;
                    stats.deadline_usage.finish();
                    Some((code(a as u32), stats))
                })
                .collect(),
            evaluations,
            dissatisfied,
            service_index: crate::service_index::IndicatorTable::shipped_shared(),
            periods,
            rejected: ds.rejected.clone(),
        }
    }
}
