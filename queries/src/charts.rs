//! The data behind the dashboard's charts: counts over a date range,
//! optionally for one agency, built only from the per-dossier meanings of
//! [`crate::classify`] and the periods of [`crate::report`]. The dashboard
//! draws these and never counts or classifies a dossier itself.
//!
//! Which dossiers each chart counts:
//! - timeliness and processing time: dossiers *resolved* (status 9/10) on a
//!   date in the range, judged by [`Judge::timeliness`] and
//!   [`Judge::processing_workdays`]; cancelled dossiers are not counted
//!   (as in `motcua_dossiers_resolved_total`);
//! - intake and digitization: intake dossiers *received* on a date in the
//!   range;
//! - pending: dossiers pending at the end of the range, or now while the
//!   range is still running ([`ReportWindow`], the report's cut-off), by
//!   [`Judge::state_at`];
//! - satisfaction: evaluations dated in the range (an evaluation without a
//!   date cannot be placed in a range and is left out).
//!
//! Grouping: by agency; when the scope is one agency, by the sectors of that
//! agency (one bar per agency would say little). Evaluations carry no sector,
//! so satisfaction is always by agency.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::calendar::{Day, day_number};
use crate::classify::StateAt;
use crate::daily::View;
use crate::model::{Channel, Dossier, PendingState, Rating, Stage, Timeliness, Ts, day_of};
use crate::report::{PeriodConvention, PeriodKind, PeriodName, ReportWindow};

/// Longest range a chart may cover, in days (about 30 years): keeps every
/// per-month vector small whatever a request asks for.
pub const MAX_RANGE_DAYS: i64 = 11_000;

/// What a chart covers: the dates [from, to] (both inclusive), one agency
/// or all, and how months fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// An index into [`crate::model::Dataset::agency_codes`].
    pub agency: Option<u32>,
    pub convention: PeriodConvention,
}

impl Scope {
    pub fn new(
        from: NaiveDate,
        to: NaiveDate,
        agency: Option<u32>,
        convention: PeriodConvention,
    ) -> Self {
        Scope {
            from,
            to,
            agency,
            convention,
        }
    }

    fn days(&self) -> (Day, Day) {
        (day_number(self.from), day_number(self.to))
    }

    fn has_day(&self, day: Day) -> bool {
        let (a, b) = self.days();
        (a..=b).contains(&day)
    }

    fn admits(&self, d: &Dossier) -> bool {
        self.agency.is_none_or(|a| a == d.agency)
    }

    /// How the by-group charts group: by agency, or by sector within the one agency.
    pub fn grouping(&self) -> Grouping {
        if self.agency.is_some() {
            Grouping::Sector
        } else {
            Grouping::Agency
        }
    }

    fn group_of(&self, d: &Dossier) -> Group {
        self.group(d.agency, d.sector)
    }

    fn group(&self, agency: u32, sector: u32) -> Group {
        match self.grouping() {
            Grouping::Agency => Group::Agency(agency),
            Grouping::Sector => Group::Sector(sector),
        }
    }

    fn day_range(&self) -> std::ops::RangeInclusive<Day> {
        let (a, b) = self.days();
        a..=b
    }

    /// The months (of the scope's convention) that the range touches, in
    /// order; at most [`MAX_RANGE_DAYS`] worth (callers validate ranges).
    pub fn months(&self) -> Vec<PeriodName> {
        let (first, last) = (self.month_key(self.from), self.month_key(self.to));
        (first..=last.max(first))
            .take(MAX_RANGE_DAYS as usize / 28 + 2)
            .map(|k| PeriodName::Month(k.div_euclid(12), k.rem_euclid(12) as u32 + 1))
            .collect()
    }

    fn month_key(&self, date: NaiveDate) -> i32 {
        match PeriodName::containing(PeriodKind::Month, date, self.convention) {
            PeriodName::Month(y, m) => y * 12 + m as i32 - 1,
            _ => unreachable!("containing(Month) is a month"),
        }
    }

    /// Index into [`Scope::months`] of the month holding `day`.
    fn month_index(&self, day: Day) -> usize {
        let first = self.month_key(self.from);
        (self.month_key(crate::calendar::date_of(day)) - first) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Agency,
    Sector,
}

/// An index into the dataset's agency or sector codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    Agency(u32),
    Sector(u32),
}

/// The date a resolved dossier was resolved on, if it is resolved.
fn resolved_day(d: &Dossier) -> Option<Day> {
    match d.stage {
        Stage::Resolved => d.ended.map(day_of),
        _ => None,
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Early / on time / late counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelinessCounts {
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
}

impl TimelinessCounts {
    /// Adds counts in [`Timeliness::ALL`] order.
    fn add_counts(&mut self, n: &[u32; 3]) {
        self.early += u64::from(n[0]);
        self.on_time += u64::from(n[1]);
        self.late += u64::from(n[2]);
    }

    fn add(&mut self, t: Timeliness) {
        match t {
            Timeliness::Early => self.early += 1,
            Timeliness::OnTime => self.on_time += 1,
            Timeliness::Late => self.late += 1,
        }
    }

    pub fn resolved(&self) -> u64 {
        self.early + self.on_time + self.late
    }

    /// (early + on time) ÷ resolved; None when nothing was resolved.
    pub fn on_time_rate(&self) -> Option<f64> {
        ratio(self.early + self.on_time, self.resolved())
    }

    pub fn get(&self, t: Timeliness) -> u64 {
        match t {
            Timeliness::Early => self.early,
            Timeliness::OnTime => self.on_time,
            Timeliness::Late => self.late,
        }
    }
}

/// Timeliness of the dossiers resolved in each month of the scope.
pub fn timeliness_by_month<'a>(
    facts: impl Into<View<'a>>,
    scope: &Scope,
) -> Vec<(PeriodName, TimelinessCounts)> {
    let view = facts.into();
    let judge = &view.judge;
    let months = scope.months();
    let mut counts = vec![TimelinessCounts::default(); months.len()];
    for (day, _, _, cell) in view.cells(scope.day_range(), scope.agency) {
        if let Some(c) = counts.get_mut(scope.month_index(day)) {
            c.add_counts(&cell.resolved);
        }
    }
    for d in judge.dataset.dossiers.iter().filter(|d| scope.admits(d)) {
        let Some(day) = resolved_day(d).filter(|day| scope.has_day(*day)) else {
            continue;
        };
        if let Some(t) = judge.timeliness(d)
            && let Some(c) = counts.get_mut(scope.month_index(day))
        {
            c.add(t);
        }
    }
    months.into_iter().zip(counts).collect()
}

/// Timeliness of the dossiers resolved in the scope, per group (every group
/// that resolved at least one), in group order.
pub fn timeliness_by_group<'a>(
    facts: impl Into<View<'a>>,
    scope: &Scope,
) -> Vec<(Group, TimelinessCounts)> {
    let view = facts.into();
    let judge = &view.judge;
    let mut groups: BTreeMap<Group, TimelinessCounts> = BTreeMap::new();
    for (_, a, s, cell) in view.cells(scope.day_range(), scope.agency) {
        if cell.resolved != [0; 3] {
            groups
                .entry(scope.group(a, s))
                .or_default()
                .add_counts(&cell.resolved);
        }
    }
    for d in judge.dataset.dossiers.iter().filter(|d| scope.admits(d)) {
        if resolved_day(d).is_some_and(|day| scope.has_day(day))
            && let Some(t) = judge.timeliness(d)
        {
            groups.entry(scope.group_of(d)).or_default().add(t);
        }
    }
    groups.into_iter().collect()
}

/// Intake by channel ([`Channel::ALL`] order: direct, online, postal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounts(pub [u64; 3]);

impl ChannelCounts {
    pub fn get(&self, c: Channel) -> u64 {
        self.0[Channel::ALL.iter().position(|x| *x == c).expect("in ALL")]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// online ÷ all; None without intake.
    pub fn online_share(&self) -> Option<f64> {
        ratio(self.get(Channel::Online), self.total())
    }
}

/// Dossiers received in each month of the scope, by channel.
pub fn intake_by_month<'a>(
    facts: impl Into<View<'a>>,
    scope: &Scope,
) -> Vec<(PeriodName, ChannelCounts)> {
    let view = facts.into();
    let judge = &view.judge;
    let months = scope.months();
    let mut counts = vec![ChannelCounts::default(); months.len()];
    for (day, _, _, cell) in view.cells(scope.day_range(), scope.agency) {
        if let Some(m) = counts.get_mut(scope.month_index(day)) {
            for (x, y) in m.0.iter_mut().zip(cell.received) {
                *x += u64::from(y);
            }
        }
    }
    for d in judge.dataset.dossiers.iter().filter(|d| scope.admits(d)) {
        let day = day_of(d.received);
        if scope.has_day(day) {
            let c = Channel::ALL
                .iter()
                .position(|x| *x == d.channel)
                .expect("in ALL");
            if let Some(m) = counts.get_mut(scope.month_index(day)) {
                m.0[c] += 1;
            }
        }
    }
    months.into_iter().zip(counts).collect()
}

/// Processing working days of the dossiers resolved in the scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessingDistribution {
    /// Working days → number of dossiers.
    pub workdays: BTreeMap<i64, u64>,
    /// The procedures' deadlines (working days) → number of those dossiers
    /// whose procedure has it.
    pub deadlines: Vec<(f64, u64)>,
    /// Dossiers whose procedure has no deadline.
    pub without_deadline: u64,
    /// Dossiers with a deadline whose working days did not exceed it.
    pub within_deadline: u64,
}

impl ProcessingDistribution {
    pub fn total(&self) -> u64 {
        self.workdays.values().sum()
    }

    /// The smallest value v with at least `q` of the dossiers at or below v.
    pub fn quantile(&self, q: f64) -> Option<i64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        self.workdays.iter().find_map(|(v, n)| {
            seen += n;
            (seen >= rank).then_some(*v)
        })
    }

    /// The deadline most of the dossiers have (the smaller on a tie).
    pub fn common_deadline(&self) -> Option<(f64, u64)> {
        self.deadlines
            .iter()
            .copied()
            .fold(None, |best: Option<(f64, u64)>, (d, n)| match best {
                Some((_, bn)) if bn >= n => best,
                _ => Some((d, n)),
            })
    }

    /// Share of the dossiers with a deadline that took no more than it.
    pub fn within_deadline_share(&self) -> Option<f64> {
        ratio(self.within_deadline, self.total() - self.without_deadline)
    }
}

pub fn processing_distribution<'a>(
    facts: impl Into<View<'a>>,
    scope: &Scope,
) -> ProcessingDistribution {
    let view = facts.into();
    let judge = &view.judge;
    let mut out = ProcessingDistribution::default();
    let mut deadlines: BTreeMap<u64, u64> = BTreeMap::new();
    // Hundreds of thousands of summed entries over a few hundred (working
    // days, deadline) pairs: counted in a hash map, ordered once.
    let mut summed: std::collections::HashMap<(i64, Option<u64>), u64> = Default::default();
    view.for_each_processing(scope.day_range(), scope.agency, |days, deadline, n| {
        *summed
            .entry((days, deadline.map(f64::to_bits)))
            .or_default() += n;
    });
    for ((days, deadline), n) in summed {
        *out.workdays.entry(days).or_default() += n;
        match deadline.map(f64::from_bits) {
            Some(deadline) => {
                *deadlines.entry(deadline.max(0.0).to_bits()).or_default() += n;
                if days as f64 <= deadline {
                    out.within_deadline += n;
                }
            }
            None => out.without_deadline += n,
        }
    }
    for d in judge.dataset.dossiers.iter().filter(|d| scope.admits(d)) {
        if !resolved_day(d).is_some_and(|day| scope.has_day(day)) {
            continue;
        }
        let Some(days) = judge.processing_workdays(d) else {
            continue;
        };
        *out.workdays.entry(days).or_default() += 1;
        match d.deadline() {
            Some(deadline) => {
                // Deadlines are non-negative reals; their bit patterns order like them.
                *deadlines.entry(deadline.max(0.0).to_bits()).or_default() += 1;
                if days as f64 <= deadline {
                    out.within_deadline += 1;
                }
            }
            None => out.without_deadline += 1,
        }
    }
    out.deadlines = deadlines
        .into_iter()
        .map(|(b, n)| (f64::from_bits(b), n))
        .collect();
    out
}

/// In time / overdue / paused counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingCounts {
    pub in_time: u64,
    pub overdue: u64,
    pub paused: u64,
}

impl PendingCounts {
    pub fn total(&self) -> u64 {
        self.in_time + self.overdue + self.paused
    }

    pub fn get(&self, s: PendingState) -> u64 {
        match s {
            PendingState::InTime => self.in_time,
            PendingState::Overdue => self.overdue,
            PendingState::Paused => self.paused,
        }
    }
}

/// Dossiers pending at one instant, per group.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAt {
    /// The instant: the last second of the range, or now while it runs.
    pub at: Ts,
    pub is_now: bool,
    /// Every group with a pending dossier, in group order.
    pub groups: Vec<(Group, PendingCounts)>,
}

/// Dossiers pending at the end of the scope (or now, if sooner), per group.
pub fn pending_by_group<'a>(facts: impl Into<View<'a>>, scope: &Scope, now: Ts) -> PendingAt {
    let view = facts.into();
    let judge = &view.judge;
    let window = ReportWindow::new(scope.from, scope.to, now);
    let mut groups: BTreeMap<Group, PendingCounts> = BTreeMap::new();
    for ((a, s), [in_time, overdue, paused]) in
        view.pending_at_end_of(day_of(window.cutoff), scope.agency)
    {
        let c = groups.entry(scope.group(a, s)).or_default();
        c.in_time += in_time as u64;
        c.overdue += overdue as u64;
        c.paused += paused as u64;
    }
    for d in judge.dataset.dossiers.iter().filter(|d| scope.admits(d)) {
        if let StateAt::Pending(state) = judge.state_at(d, window.cutoff, window.cutoff_is_now) {
            let c = groups.entry(scope.group_of(d)).or_default();
            match state {
                PendingState::InTime => c.in_time += 1,
                PendingState::Overdue => c.overdue += 1,
                PendingState::Paused => c.paused += 1,
            }
        }
    }
    PendingAt {
        at: window.cutoff,
        is_now: window.cutoff_is_now,
        groups: groups.into_iter().collect(),
    }
}

/// Evaluations by rating ([`Rating::ALL`] order: very satisfied, satisfied, dissatisfied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatingCounts(pub [u64; 3]);

impl RatingCounts {
    pub fn get(&self, r: Rating) -> u64 {
        self.0[Rating::ALL.iter().position(|x| *x == r).expect("in ALL")]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// (very satisfied + satisfied) ÷ all evaluations.
    pub fn satisfaction_rate(&self) -> Option<f64> {
        ratio(
            self.get(Rating::VerySatisfied) + self.get(Rating::Satisfied),
            self.total(),
        )
    }
}

/// Evaluations dated in the scope, per agency (every agency with one), in agency order.
pub fn satisfaction_by_agency<'a>(
    facts: impl Into<View<'a>>,
    scope: &Scope,
) -> Vec<(u32, RatingCounts)> {
    let view = facts.into();
    let judge = &view.judge;
    let mut agencies: BTreeMap<u32, RatingCounts> = BTreeMap::new();
    for (a, n) in view.ratings(scope.day_range()) {
        if scope.agency.is_none_or(|x| x == a) {
            let c = agencies.entry(a).or_default();
            for (x, y) in c.0.iter_mut().zip(n) {
                *x += u64::from(y);
            }
        }
    }
    for e in &judge.dataset.evaluations {
        if scope.agency.is_some_and(|a| a != e.agency) {
            continue;
        }
        if e.evaluated_at.is_some_and(|t| scope.has_day(day_of(t))) {
            let r = Rating::ALL
                .iter()
                .position(|x| *x == e.rating)
                .expect("in ALL");
            agencies.entry(e.agency).or_default().0[r] += 1;
        }
    }
    agencies.into_iter().collect()
}

/// Digitization of the dossiers received in the scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigitizationCounts {
    pub intake: u64,
    /// Of the intake: with digitized components (HoSoCoThanhPhanSoHoa).
    pub digitized: u64,
    /// Of the intake: resolved by now.
    pub resolved: u64,
    /// Of those resolved: with an electronic result.
    pub e_result: u64,
}

impl DigitizationCounts {
    /// digitized ÷ intake.
    pub fn digitized_share(&self) -> Option<f64> {
        ratio(self.digitized, self.intake)
    }

    /// resolved with an electronic result ÷ resolved.
    pub fn e_result_share(&self) -> Option<f64> {
        ratio(self.e_result, self.resolved)
    }
}

/// Digitization per group (every group with intake in the scope), in group order.
pub fn digitization_by_group<'a>(
    facts: impl Into<View<'a>>,
    scope: &Scope,
) -> Vec<(Group, DigitizationCounts)> {
    let view = facts.into();
    let judge = &view.judge;
    let mut groups: BTreeMap<Group, DigitizationCounts> = BTreeMap::new();
    for (_, a, s, cell) in view.cells(scope.day_range(), scope.agency) {
        let intake: u32 = cell.received.iter().sum();
        if intake > 0 {
            let c = groups.entry(scope.group(a, s)).or_default();
            c.intake += u64::from(intake);
            c.digitized += u64::from(cell.digitized);
            c.resolved += u64::from(cell.received_resolved[0]);
            c.e_result += u64::from(cell.received_resolved[1]);
        }
    }
    for d in judge.dataset.dossiers.iter().filter(|d| scope.admits(d)) {
        if !scope.has_day(day_of(d.received)) {
            continue;
        }
        let c = groups.entry(scope.group_of(d)).or_default();
        c.intake += 1;
        c.digitized += u64::from(d.digitized);
        if d.stage == Stage::Resolved {
            c.resolved += 1;
            c.e_result += u64::from(d.e_result);
        }
    }
    groups.into_iter().collect()
}

/// The default range of a chart: the twelve months (of the convention)
/// ending with the one that holds `today`, up to `today`.
pub fn default_range(today: NaiveDate, convention: PeriodConvention) -> (NaiveDate, NaiveDate) {
    let current = PeriodName::containing(PeriodKind::Month, today, convention);
    let PeriodName::Month(y, m) = current else {
        unreachable!("containing(Month) is a month")
    };
    let k = y * 12 + m as i32 - 1 - 11;
    let first = PeriodName::Month(k.div_euclid(12), k.rem_euclid(12) as u32 + 1);
    (first.bounds(convention).0, today)
}

/// The first and last dates of the data: the earliest receipt and the
/// latest receipt or end of an intake dossier.
pub fn data_span<'a>(facts: impl Into<View<'a>>) -> Option<(NaiveDate, NaiveDate)> {
    let view = facts.into();
    let (mut lo, mut hi) = (Day::MAX, Day::MIN);
    for d in &view.judge.dataset.dossiers {
        lo = lo.min(day_of(d.received));
        hi = hi
            .max(day_of(d.received))
            .max(d.ended.map_or(Day::MIN, day_of));
    }
    if let Some((first, last)) = view.summed_span() {
        (lo, hi) = (lo.min(first), hi.max(last));
    }
    (lo <= hi).then(|| (crate::calendar::date_of(lo), crate::calendar::date_of(hi)))
}

#[cfg(test)]
mod tests {
    use crate::classify::Judge;
    use chrono::NaiveDateTime;

    use super::*;
    use crate::calendar::WorkCalendar;
    use crate::judge::build_dataset;
    use crate::model::{
        Dataset, DossierRow, EvaluationRow, Procedure, SourceRows, SupplementRow, ts_of,
    };

    fn t(s: &str) -> Ts {
        ts_of(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn procedure(code: &str, sector: &str, deadline: Option<f64>) -> Procedure {
        Procedure {
            code: code.into(),
            name: code.into(),
            sector_code: sector.into(),
            deadline_days: deadline,
            online_level: "full".into(),
            has_fee: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dossier(
        code: &str,
        agency: &str,
        procedure: &str,
        channel: i64,
        status: i64,
        received: &str,
        due: Option<&str>,
        finished: Option<&str>,
    ) -> DossierRow {
        DossierRow {
            code: code.into(),
            procedure_code: procedure.into(),
            agency_code: agency.into(),
            channel: Some(channel),
            status,
            received_at: Some(t(received)),
            due_at: due.map(t),
            finished_at: finished.map(t),
            digitized: code.ends_with('d'),
            e_result: code.ends_with('d'),
            updated_at: Some(t("2025-06-30 00:00:00")),
            ..Default::default()
        }
    }

    fn dataset() -> Dataset {
        let due = Some("2025-03-10 17:00:00");
        let rows = SourceRows {
            procedures: vec![
                procedure("P5", "S1", Some(5.0)),
                procedure("P10", "S2", Some(10.0)),
                procedure("PN", "S2", None),
            ],
            dossiers: vec![
                // A: resolved early (Feb), on time and late (Mar), one cancelled, one open.
                dossier(
                    "A1d",
                    "A",
                    "P5",
                    2,
                    10,
                    "2025-02-03 08:00:00",
                    Some("2025-02-10 17:00:00"),
                    Some("2025-02-05 09:00:00"),
                ),
                dossier(
                    "A2",
                    "A",
                    "P5",
                    1,
                    9,
                    "2025-03-03 08:00:00",
                    due,
                    Some("2025-03-10 10:00:00"),
                ),
                dossier(
                    "A3",
                    "A",
                    "P10",
                    3,
                    10,
                    "2025-03-03 08:00:00",
                    due,
                    Some("2025-03-12 10:00:00"),
                ),
                dossier(
                    "A4",
                    "A",
                    "P5",
                    2,
                    7,
                    "2025-03-03 08:00:00",
                    due,
                    Some("2025-03-04 10:00:00"),
                ),
                dossier("A5d", "A", "P5", 2, 4, "2025-03-03 08:00:00", due, None),
                // B: one resolved without a due date (3 working days of 5: early), one paused.
                dossier(
                    "B1",
                    "B",
                    "P5",
                    1,
                    10,
                    "2025-03-03 08:00:00",
                    None,
                    Some("2025-03-06 08:00:00"),
                ),
                dossier("B2", "B", "PN", 1, 5, "2025-03-20 08:00:00", None, None),
                // Outside the range.
                dossier(
                    "B3",
                    "B",
                    "P5",
                    1,
                    10,
                    "2024-12-02 08:00:00",
                    None,
                    Some("2024-12-03 08:00:00"),
                ),
            ],
            supplements: vec![SupplementRow {
                dossier_code: "B2".into(),
                requested_at: t("2025-03-21 08:00:00"),
                resumed_at: None,
            }],
            evaluations: vec![
                EvaluationRow {
                    dossier_code: None,
                    agency_code: "A".into(),
                    evaluated_at: Some(t("2025-03-01 08:00:00")),
                    rating: "very_satisfied".into(),
                },
                EvaluationRow {
                    dossier_code: None,
                    agency_code: "A".into(),
                    evaluated_at: Some(t("2025-03-02 08:00:00")),
                    rating: "dissatisfied".into(),
                },
                EvaluationRow {
                    dossier_code: None,
                    agency_code: "B".into(),
                    evaluated_at: Some(t("2025-03-02 08:00:00")),
                    rating: "satisfied".into(),
                },
                EvaluationRow {
                    dossier_code: None,
                    agency_code: "B".into(),
                    evaluated_at: Some(t("2024-03-02 08:00:00")),
                    rating: "dissatisfied".into(),
                },
                EvaluationRow {
                    dossier_code: None,
                    agency_code: "B".into(),
                    evaluated_at: None,
                    rating: "dissatisfied".into(),
                },
            ],
            ..Default::default()
        };
        build_dataset(rows)
    }

    fn scope(agency: Option<u32>) -> Scope {
        Scope::new(
            d("2025-01-01"),
            d("2025-03-31"),
            agency,
            PeriodConvention::Calendar,
        )
    }

    #[test]
    fn months_follow_the_convention() {
        let s = scope(None);
        let names: Vec<String> = s.months().iter().map(ToString::to_string).collect();
        assert_eq!(names, ["2025-01", "2025-02", "2025-03"]);
        let s15 = Scope {
            convention: PeriodConvention::Day15,
            ..s
        };
        let names: Vec<String> = s15.months().iter().map(ToString::to_string).collect();
        // 1 Jan is in statistical January; 15–31 Mar in statistical April.
        assert_eq!(names, ["2025-01", "2025-02", "2025-03", "2025-04"]);
        let one_day = Scope::new(
            d("2025-03-31"),
            d("2025-03-31"),
            None,
            PeriodConvention::Calendar,
        );
        assert_eq!(one_day.months().len(), 1);
    }

    #[test]
    fn monthly_timeliness_counts_resolved_dossiers_only() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        let m = timeliness_by_month(&j, &scope(None));
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].1, TimelinessCounts::default());
        assert_eq!(
            m[1].1,
            TimelinessCounts {
                early: 1,
                on_time: 0,
                late: 0
            }
        );
        // March: A2 on time, A3 late, B1 early (3 of 5 days); A4 is cancelled, not counted.
        assert_eq!(
            m[2].1,
            TimelinessCounts {
                early: 1,
                on_time: 1,
                late: 1
            }
        );
        assert_eq!(m[2].1.on_time_rate(), Some(2.0 / 3.0));
        assert_eq!(m[0].1.on_time_rate(), None);
    }

    #[test]
    fn by_agency_then_by_sector_within_one_agency() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        let a = ds.agency_index("A").unwrap();
        let b = ds.agency_index("B").unwrap();
        let all = timeliness_by_group(&j, &scope(None));
        assert_eq!(
            all,
            vec![
                (
                    Group::Agency(a),
                    TimelinessCounts {
                        early: 1,
                        on_time: 1,
                        late: 1
                    }
                ),
                (
                    Group::Agency(b),
                    TimelinessCounts {
                        early: 1,
                        on_time: 0,
                        late: 0
                    }
                ),
            ]
        );
        let only_a = timeliness_by_group(&j, &scope(Some(a)));
        let s1 = ds.sector_codes.iter().position(|s| s == "S1").unwrap() as u32;
        let s2 = ds.sector_codes.iter().position(|s| s == "S2").unwrap() as u32;
        assert_eq!(
            only_a,
            vec![
                (
                    Group::Sector(s1),
                    TimelinessCounts {
                        early: 1,
                        on_time: 1,
                        late: 0
                    }
                ),
                (
                    Group::Sector(s2),
                    TimelinessCounts {
                        early: 0,
                        on_time: 0,
                        late: 1
                    }
                ),
            ]
        );
    }

    #[test]
    fn intake_by_channel_and_online_share() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        let m = intake_by_month(&j, &scope(None));
        assert_eq!(m[0].1.total(), 0);
        assert_eq!(m[1].1, ChannelCounts([0, 1, 0]));
        // March: A2 direct, A3 postal, A4 and A5 online, B1 and B2 direct.
        assert_eq!(m[2].1, ChannelCounts([3, 2, 1]));
        assert_eq!(m[2].1.online_share(), Some(2.0 / 6.0));
        assert_eq!(m[0].1.online_share(), None);
    }

    #[test]
    fn processing_distribution_and_deadline() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        let p = processing_distribution(&j, &scope(None));
        // A1: 3 Feb → 5 Feb = 2; A2: 3 → 10 Mar = 5; A3: 3 → 12 Mar = 7; B1: 3 → 6 Mar = 3.
        assert_eq!(p.workdays, BTreeMap::from([(2, 1), (3, 1), (5, 1), (7, 1)]));
        assert_eq!(p.deadlines, vec![(5.0, 3), (10.0, 1)]);
        assert_eq!(p.common_deadline(), Some((5.0, 3)));
        assert_eq!(p.within_deadline, 4);
        assert_eq!(p.within_deadline_share(), Some(1.0));
        assert_eq!(p.quantile(0.5), Some(3));
        assert_eq!(p.quantile(1.0), Some(7));
        assert_eq!(p.quantile(0.0), Some(2));
    }

    #[test]
    fn pending_at_the_end_of_the_range_or_now() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        let a = ds.agency_index("A").unwrap();
        let b = ds.agency_index("B").unwrap();
        let p = pending_by_group(&j, &scope(None), t("2026-01-01 00:00:00"));
        assert_eq!(p.at, t("2025-03-31 23:59:59"));
        assert!(!p.is_now);
        assert_eq!(
            p.groups,
            vec![
                (
                    Group::Agency(a),
                    PendingCounts {
                        in_time: 0,
                        overdue: 1,
                        paused: 0
                    }
                ),
                (
                    Group::Agency(b),
                    PendingCounts {
                        in_time: 0,
                        overdue: 0,
                        paused: 1
                    }
                ),
            ]
        );
        let now = t("2025-03-05 12:00:00");
        let p = pending_by_group(&j, &scope(None), now);
        assert_eq!((p.at, p.is_now), (now, true));
        // A2, A3, A5 and B1 in time; A4 was cancelled on 4 Mar; B2 not received yet.
        assert_eq!(p.groups.iter().map(|(_, c)| c.in_time).sum::<u64>(), 4);
        assert_eq!(p.groups.iter().map(|(_, c)| c.total()).sum::<u64>(), 4);
    }

    #[test]
    fn satisfaction_counts_dated_evaluations_in_range() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        let a = ds.agency_index("A").unwrap();
        let b = ds.agency_index("B").unwrap();
        let s = satisfaction_by_agency(&j, &scope(None));
        assert_eq!(
            s,
            vec![(a, RatingCounts([1, 0, 1])), (b, RatingCounts([0, 1, 0]))]
        );
        assert_eq!(s[0].1.satisfaction_rate(), Some(0.5));
        assert_eq!(
            satisfaction_by_agency(&j, &scope(Some(b))),
            vec![(b, RatingCounts([0, 1, 0]))]
        );
    }

    #[test]
    fn digitization_of_received_dossiers() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        let a = ds.agency_index("A").unwrap();
        let g = digitization_by_group(&j, &scope(None));
        let (_, ca) = g.iter().find(|(k, _)| *k == Group::Agency(a)).unwrap();
        // A1d and A5d digitized; resolved A1d (e-result), A2, A3.
        assert_eq!(
            *ca,
            DigitizationCounts {
                intake: 5,
                digitized: 2,
                resolved: 3,
                e_result: 1
            }
        );
        assert_eq!(ca.digitized_share(), Some(0.4));
        assert_eq!(ca.e_result_share(), Some(1.0 / 3.0));
    }

    #[test]
    fn default_range_is_twelve_months() {
        assert_eq!(
            default_range(d("2025-03-20"), PeriodConvention::Calendar),
            (d("2024-04-01"), d("2025-03-20"))
        );
        assert_eq!(
            default_range(d("2025-03-20"), PeriodConvention::Day15),
            (d("2024-04-15"), d("2025-03-20"))
        );
    }

    #[test]
    fn span_of_the_data() {
        let ds = dataset();
        let cal = WorkCalendar::builtin();
        let j = Judge::new(&ds, &cal);
        assert_eq!(data_span(&j), Some((d("2024-12-02"), d("2025-03-20"))));
        let empty = Dataset::default();
        assert_eq!(data_span(&Judge::new(&empty, &cal)), None);
    }
}
