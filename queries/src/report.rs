//! The official periodic report, Biểu 06/VPCP/KSTT (Thông tư 01/2020/TT-VPCP),
//! and the reporting periods it is drawn up for (DESIGN §3).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{Day, day_number};
use crate::classify::{Judge, StateAt};
use crate::daily::View;
use crate::model::{Channel, PendingState, Stage, Timeliness, Ts, start_of};

/// How period boundaries fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodConvention {
    /// Calendar months, quarters and years.
    #[default]
    Calendar,
    /// The statistical convention: a month runs from the 15th of the month
    /// before to the 14th (so `2025-Q1` is 2024-12-15 … 2025-03-14).
    Day15,
}

/// The kinds of period the exporter reports on ("the current ones").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub const ALL: [PeriodKind; 3] = [PeriodKind::Month, PeriodKind::Quarter, PeriodKind::Year];

    pub fn label(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Year => "year",
        }
    }
}

/// A reporting period: `2025`, `2025-H1`, `2025-Q3` or `2025-07`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodName {
    Year(i32),
    Half(i32, u32),
    Quarter(i32, u32),
    Month(i32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a period: use YYYY, YYYY-H1/H2, YYYY-Q1…Q4 or YYYY-MM (years 2000–2100)")]
pub struct PeriodError {
    pub input: String,
}

impl FromStr for PeriodName {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PeriodError {
            input: s.chars().take(40).collect(),
        };
        let (year, rest) = match s.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (s, None),
        };
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        if !(2000..=2100).contains(&year) {
            return Err(err());
        }
        let number = |digits: &str, max: u32| -> Result<u32, PeriodError> {
            if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(err());
            }
            let n: u32 = digits.parse().map_err(|_| err())?;
            if (1..=max).contains(&n) {
                Ok(n)
            } else {
                Err(err())
            }
        };
        Ok(match rest {
            None => PeriodName::Year(year),
            Some(r) => match r.as_bytes().first() {
                Some(b'H' | b'h') => PeriodName::Half(year, number(&r[1..], 2)?),
                Some(b'Q' | b'q') => PeriodName::Quarter(year, number(&r[1..], 4)?),
                _ if r.len() == 2 => PeriodName::Month(year, number(r, 12)?),
                _ => return Err(err()),
            },
        })
    }
}

impl fmt::Display for PeriodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodName::Year(y) => write!(f, "{y}"),
            PeriodName::Half(y, h) => write!(f, "{y}-H{h}"),
            PeriodName::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            PeriodName::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}

impl PeriodName {
    /// The period of `kind` that contains `date`.
    pub fn containing(kind: PeriodKind, date: NaiveDate, convention: PeriodConvention) -> Self {
        // Under the 15th-to-14th convention, the 15th onwards belongs to the next month.
        let (mut year, mut month) = (date.year(), date.month());
        if convention == PeriodConvention::Day15 && date.day() >= 15 {
            if month == 12 {
                year += 1;
                month = 1;
            } else {
                month += 1;
            }
        }
        match kind {
            PeriodKind::Month => PeriodName::Month(year, month),
            PeriodKind::Quarter => PeriodName::Quarter(year, (month - 1) / 3 + 1),
            PeriodKind::Year => PeriodName::Year(year),
        }
    }

    /// First and last month (1–12) of the period.
    fn months(self) -> (i32, u32, u32) {
        match self {
            PeriodName::Year(y) => (y, 1, 12),
            PeriodName::Half(y, h) => (y, 6 * h - 5, 6 * h),
            PeriodName::Quarter(y, q) => (y, 3 * q - 2, 3 * q),
            PeriodName::Month(y, m) => (y, m, m),
        }
    }

    /// The first and last dates of the period, both inclusive.
    pub fn bounds(self, convention: PeriodConvention) -> (NaiveDate, NaiveDate) {
        let (y, first, last) = self.months();
        let month_start = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).expect("valid month");
        let next_month = |y: i32, m: u32| if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let prev_month = |y: i32, m: u32| if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        match convention {
            PeriodConvention::Calendar => {
                let (ny, nm) = next_month(y, last);
                (
                    month_start(y, first),
                    month_start(ny, nm).pred_opt().expect("date"),
                )
            }
            PeriodConvention::Day15 => {
                let (py, pm) = prev_month(y, first);
                (
                    NaiveDate::from_ymd_opt(py, pm, 15).expect("15th exists"),
                    NaiveDate::from_ymd_opt(y, last, 14).expect("14th exists"),
                )
            }
        }
    }
}

/// The report's columns, numbered as on the form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReportColumns {
    /// (3) = (4) + (5) + (6)
    pub received_total: u64,
    /// (4)
    pub received_online: u64,
    /// (5) direct or postal
    pub received_offline: u64,
    /// (6) received before the period, still pending at its start
    pub carried_over: u64,
    /// (7) ended in the period (resolved + cancelled)
    pub resolved_total: u64,
    /// (8)
    pub resolved_early: u64,
    /// (9) cancelled dossiers count here, as the form does
    pub resolved_on_time: u64,
    /// (10)
    pub resolved_late: u64,
    /// (11) = (3) − (7)
    pub pending_total: u64,
    /// (12) paused counts as in time
    pub pending_in_time: u64,
    /// (13)
    pub pending_overdue: u64,
}

impl ReportColumns {
    /// (name, form column number, value), in form order.
    pub fn columns(&self) -> [(&'static str, u8, u64); 11] {
        [
            ("received_total", 3, self.received_total),
            ("received_online", 4, self.received_online),
            ("received_offline", 5, self.received_offline),
            ("carried_over", 6, self.carried_over),
            ("resolved_total", 7, self.resolved_total),
            ("resolved_early", 8, self.resolved_early),
            ("resolved_on_time", 9, self.resolved_on_time),
            ("resolved_late", 10, self.resolved_late),
            ("pending_total", 11, self.pending_total),
            ("pending_in_time", 12, self.pending_in_time),
            ("pending_overdue", 13, self.pending_overdue),
        ]
    }

    pub fn add(&mut self, o: &ReportColumns) {
        self.received_total += o.received_total;
        self.received_online += o.received_online;
        self.received_offline += o.received_offline;
        self.carried_over += o.carried_over;
        self.resolved_total += o.resolved_total;
        self.resolved_early += o.resolved_early;
        self.resolved_on_time += o.resolved_on_time;
        self.resolved_late += o.resolved_late;
        self.pending_total += o.pending_total;
        self.pending_in_time += o.pending_in_time;
        self.pending_overdue += o.pending_overdue;
    }

    /// Takes out what [`ReportColumns::add`] added.
    pub fn remove(&mut self, o: &ReportColumns) {
        self.received_total -= o.received_total;
        self.received_online -= o.received_online;
        self.received_offline -= o.received_offline;
        self.carried_over -= o.carried_over;
        self.resolved_total -= o.resolved_total;
        self.resolved_early -= o.resolved_early;
        self.resolved_on_time -= o.resolved_on_time;
        self.resolved_late -= o.resolved_late;
        self.pending_total -= o.pending_total;
        self.pending_in_time -= o.pending_in_time;
        self.pending_overdue -= o.pending_overdue;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    pub agency: Option<String>,
    pub sector: Option<String>,
    #[serde(flatten)]
    pub columns: ReportColumns,
}

/// The report in its JSON form (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Agency rows (sector null) each followed by its sector rows, then the
    /// grand total (both null).
    pub rows: Vec<ReportRow>,
}

/// The instants a report is taken over.
#[derive(Debug, Clone, Copy)]
pub struct ReportWindow {
    /// Midnight at the start of the first day.
    pub start: Ts,
    /// The instant pending states are taken at: the period's last second, or
    /// now while the period is still running.
    pub cutoff: Ts,
    pub cutoff_is_now: bool,
    pub from: Day,
    pub to: Day,
}

impl ReportWindow {
    pub fn new(from: NaiveDate, to: NaiveDate, now: Ts) -> Self {
        let (from, to) = (day_number(from), day_number(to));
        let end = start_of(to + 1) - 1;
        ReportWindow {
            start: start_of(from),
            cutoff: end.min(now),
            cutoff_is_now: now < end,
            from,
            to,
        }
    }
}

/// Adds one dossier to the columns of its row, if it belongs to the period.
pub fn tally(
    judge: &Judge<'_>,
    d: &crate::model::Dossier,
    w: &ReportWindow,
    c: &mut ReportColumns,
) {
    if d.received > w.cutoff {
        return;
    }
    let received_in_period = d.received >= w.start;
    if received_in_period {
        c.received_total += 1;
        if d.channel == Channel::Online {
            c.received_online += 1;
        } else {
            c.received_offline += 1;
        }
    } else if matches!(judge.state_at(d, w.start - 1, false), StateAt::Pending(_)) {
        c.received_total += 1;
        c.carried_over += 1;
    } else {
        return;
    }
    match judge.state_at(d, w.cutoff, w.cutoff_is_now) {
        StateAt::Ended => {
            c.resolved_total += 1;
            match (d.stage, judge.timeliness(d)) {
                (Stage::Resolved, Some(Timeliness::Early)) => c.resolved_early += 1,
                (Stage::Resolved, Some(Timeliness::Late)) => c.resolved_late += 1,
                _ => c.resolved_on_time += 1,
            }
        }
        StateAt::Pending(state) => {
            c.pending_total += 1;
            if state == PendingState::Overdue {
                c.pending_overdue += 1;
            } else {
                c.pending_in_time += 1;
            }
        }
        StateAt::NotReceived => unreachable!("received before the cutoff"),
    }
}

/// Draws up the report for `[from, to]` as of `now`, optionally for one
/// agency, from a [`View`] (or a [`Judge`], whose every dossier is walked).
pub fn build_report<'a>(
    facts: impl Into<View<'a>>,
    period: String,
    from: NaiveDate,
    to: NaiveDate,
    now: Ts,
    agency: Option<u32>,
) -> Report {
    let view = facts.into();
    let window = ReportWindow::new(from, to, now);
    let ds = view.dataset();
    let cells = report_cells(&view, &window, agency);
    let mut rows = Vec::new();
    let mut total = ReportColumns::default();
    let mut current: Option<(u32, ReportColumns, Vec<ReportRow>)> = None;
    let flush = |rows: &mut Vec<ReportRow>,
                 current: Option<(u32, ReportColumns, Vec<ReportRow>)>| {
        if let Some((a, columns, sectors)) = current
            && columns.received_total > 0
        {
            rows.push(ReportRow {
                agency: Some(ds.agency_codes[a as usize].clone()),
                sector: None,
                columns,
            });
            rows.extend(sectors);
        }
    };
    for ((a, s), columns) in cells {
        if current.as_ref().is_some_and(|(ca, _, _)| *ca != a) {
            flush(&mut rows, current.take());
        }
        let entry = current.get_or_insert_with(|| (a, ReportColumns::default(), Vec::new()));
        entry.1.add(&columns);
        total.add(&columns);
        if columns.received_total > 0 {
            entry.2.push(ReportRow {
                agency: Some(ds.agency_codes[a as usize].clone()),
                sector: Some(ds.sector_codes[s as usize].clone()),
                columns,
            });
        }
    }
    flush(&mut rows, current);
    rows.push(ReportRow {
        agency: None,
        sector: None,
        columns: total,
    });
    Report {
        period,
        from,
        to,
        rows,
    }
}

/// The report's columns per (agency, sector): the individual dossiers
/// tallied one by one, plus the summed days.
pub fn report_cells(
    view: &View<'_>,
    w: &ReportWindow,
    agency: Option<u32>,
) -> BTreeMap<(u32, u32), ReportColumns> {
    let judge = &view.judge;
    let mut cells: BTreeMap<(u32, u32), ReportColumns> = BTreeMap::new();
    for d in &judge.dataset.dossiers {
        if agency.is_some_and(|a| a != d.agency) {
            continue;
        }
        tally(judge, d, w, cells.entry((d.agency, d.sector)).or_default());
    }
    // Summed dossiers ended by now, so by day: received in the window, or
    // pending at its start (carried over); ended in it (the later of receipt
    // and end, as `state_at` dates an ending); pending at its cut-off.
    let cutoff_day = crate::model::day_of(w.cutoff);
    for (_, a, s, cell) in view.cells(w.from..=cutoff_day, agency) {
        let c = cells.entry((a, s)).or_default();
        let online = cell.received[1];
        let all: u32 = cell.received.iter().sum();
        c.received_total += u64::from(all);
        c.received_online += u64::from(online);
        c.received_offline += u64::from(all - online);
        let [early, on_time, late] = cell.resolved.map(u64::from);
        c.resolved_early += early;
        c.resolved_on_time += on_time + u64::from(cell.cancelled);
        c.resolved_late += late;
        c.resolved_total += early + on_time + late + u64::from(cell.cancelled);
    }
    for ((a, s), [in_time, overdue, paused]) in view.pending_at_end_of(w.from - 1, agency) {
        let c = cells.entry((a, s)).or_default();
        let carried = (in_time + overdue + paused) as u64;
        c.carried_over += carried;
        c.received_total += carried;
    }
    for ((a, s), [in_time, overdue, paused]) in view.pending_at_end_of(cutoff_day, agency) {
        let c = cells.entry((a, s)).or_default();
        c.pending_total += (in_time + overdue + paused) as u64;
        c.pending_in_time += (in_time + paused) as u64;
        c.pending_overdue += overdue as u64;
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn parses_and_bounds_periods() {
        let cases = [
            (
                "2025",
                "2025-01-01",
                "2025-12-31",
                "2024-12-15",
                "2025-12-14",
            ),
            (
                "2025-H1",
                "2025-01-01",
                "2025-06-30",
                "2024-12-15",
                "2025-06-14",
            ),
            (
                "2025-H2",
                "2025-07-01",
                "2025-12-31",
                "2025-06-15",
                "2025-12-14",
            ),
            (
                "2025-Q1",
                "2025-01-01",
                "2025-03-31",
                "2024-12-15",
                "2025-03-14",
            ),
            (
                "2024-Q1",
                "2024-01-01",
                "2024-03-31",
                "2023-12-15",
                "2024-03-14",
            ),
            (
                "2025-02",
                "2025-02-01",
                "2025-02-28",
                "2025-01-15",
                "2025-02-14",
            ),
            (
                "2024-02",
                "2024-02-01",
                "2024-02-29",
                "2024-01-15",
                "2024-02-14",
            ),
        ];
        for (name, from, to, sfrom, sto) in cases {
            let p: PeriodName = name.parse().unwrap();
            assert_eq!(p.to_string(), name);
            assert_eq!(
                p.bounds(PeriodConvention::Calendar),
                (d(from), d(to)),
                "{name}"
            );
            assert_eq!(
                p.bounds(PeriodConvention::Day15),
                (d(sfrom), d(sto)),
                "{name}"
            );
        }
    }

    #[test]
    fn rejects_bad_periods() {
        for bad in [
            "",
            "25",
            "2025-",
            "2025-13",
            "2025-00",
            "2025-Q5",
            "2025-Q0",
            "2025-H3",
            "2025-7",
            "1999",
            "2101-01",
            "2025-Q1x",
            "２０２５",
            "2025-W01",
            "2025-01-01",
            "-2025",
        ] {
            let err = bad.parse::<PeriodName>().unwrap_err();
            assert!(err.to_string().contains("is not a period"), "{bad}: {err}");
        }
    }

    #[test]
    fn current_periods_follow_the_convention() {
        let day = d("2025-03-20");
        let cal = PeriodConvention::Calendar;
        let stat = PeriodConvention::Day15;
        assert_eq!(
            PeriodName::containing(PeriodKind::Month, day, cal),
            PeriodName::Month(2025, 3)
        );
        assert_eq!(
            PeriodName::containing(PeriodKind::Month, day, stat),
            PeriodName::Month(2025, 4)
        );
        assert_eq!(
            PeriodName::containing(PeriodKind::Quarter, day, stat),
            PeriodName::Quarter(2025, 2)
        );
        assert_eq!(
            PeriodName::containing(PeriodKind::Year, d("2025-12-15"), stat),
            PeriodName::Year(2026)
        );
        for date in ["2025-03-20", "2025-12-15", "2025-12-14", "2024-02-29"] {
            for kind in PeriodKind::ALL {
                let p = PeriodName::containing(kind, d(date), stat);
                let (from, to) = p.bounds(stat);
                assert!(from <= d(date) && d(date) <= to, "{date} {kind:?} {p}");
            }
        }
    }
}
