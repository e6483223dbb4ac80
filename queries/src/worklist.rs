//! The dossier worklist (DESIGN §9): which dossiers are pending now, with
//! their state, due date, overdue working days and the due-soon flag. The
//! states and the overdue age are those of [`crate::classify`] (the pending
//! and overdue gauges); this module adds only the due date and due-soon.

use crate::calendar::Day;
use crate::classify::{Judge, StateAt, paused_seconds};
use crate::model::{Dossier, OpenIdentity, PendingState, Ts, day_of};

/// A pending dossier as the worklist shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub state: PendingState,
    /// The local date it is due, counting the pauses closed so far; None
    /// without due_at and without a deadline.
    pub due: Option<Day>,
    /// As `motcua_dossier_overdue_max_workdays` counts them; 0 unless overdue.
    pub overdue_workdays: i64,
    /// In time, and due within the calendar's `due_soon_workdays`.
    pub due_soon: bool,
}

/// Where `d` stands now (status 5 and 6 count as paused), if pending.
pub fn pending_now(judge: &Judge<'_>, d: &Dossier, now: Ts) -> Option<Pending> {
    let StateAt::Pending(state) = judge.state_at(d, now, true) else {
        return None;
    };
    let due = due_day(judge, d, now);
    Some(Pending {
        state,
        due,
        overdue_workdays: match state {
            PendingState::Overdue => judge.overdue_workdays(d, now),
            _ => 0,
        },
        due_soon: state == PendingState::InTime && is_soon(judge, due, now),
    })
}

/// For a dossier pending in time at `now`: whether it is due soon.
pub fn due_soon_in_time(judge: &Judge<'_>, d: &Dossier, now: Ts) -> bool {
    is_soon(judge, due_day(judge, d, now), now)
}

fn is_soon(judge: &Judge<'_>, due: Option<Day>, now: Ts) -> bool {
    due.is_some_and(|due| {
        let ahead = judge.calendar.workdays_between(day_of(now), due);
        ahead <= i64::from(judge.calendar.due_soon_workdays())
    })
}

/// The due date at `now`. With due_at: the date of due_at plus the durations
/// of the pauses closed by `now`. Without it: the last working day (not
/// before the received date) on which its processing working days have not
/// yet exceeded deadline_days, so that it turns overdue exactly when
/// [`Judge::state_at`] says so.
pub fn due_day(judge: &Judge<'_>, d: &Dossier, now: Ts) -> Option<Day> {
    if let Some(due) = d.due {
        let paused = paused_seconds(judge.dataset.pauses_of(d), now);
        return Some(day_of(due.saturating_add(paused)));
    }
    let deadline = d.deadline().filter(|x| x.is_finite())?;
    let received = day_of(d.received);
    let exceeds = |day: Day| judge.processing_workdays_until(d, day, now) as f64 > deadline;
    if exceeds(received) {
        return Some(received); // a negative deadline
    }
    // Working days grow with the end date: search the first day that
    // exceeds. Days after today are in no closed pause, so this one does.
    let mut hi = judge.calendar.nth_workday_after(
        day_of(now).max(received),
        deadline.max(0.0).ceil() as i64 + 1,
    );
    if !exceeds(hi) {
        return None;
    }
    let mut lo = received;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exceeds(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mut due = lo;
    while due > received && !judge.calendar.is_workday_num(due) {
        due -= 1;
    }
    Some(due)
}

/// Which pending dossiers a worklist shows (`state` of `/dossiers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    #[default]
    Overdue,
    DueSoon,
    Paused,
    InTime,
    /// Every pending dossier.
    Pending,
}

impl StateFilter {
    pub const ALL: &'static [StateFilter] = &[
        StateFilter::Overdue,
        StateFilter::DueSoon,
        StateFilter::Paused,
        StateFilter::InTime,
        StateFilter::Pending,
    ];

    /// The value of the `state` parameter.
    pub fn label(self) -> &'static str {
        match self {
            StateFilter::Overdue => "overdue",
            StateFilter::DueSoon => "due_soon",
            StateFilter::Paused => "paused",
            StateFilter::InTime => "in_time",
            StateFilter::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<StateFilter> {
        StateFilter::ALL.iter().copied().find(|f| f.label() == s)
    }

    /// Whether a pending dossier belongs in this list.
    pub fn admits(self, p: &Pending) -> bool {
        match self {
            StateFilter::Overdue => p.state == PendingState::Overdue,
            StateFilter::DueSoon => p.due_soon,
            StateFilter::Paused => p.state == PendingState::Paused,
            StateFilter::InTime => p.state == PendingState::InTime,
            StateFilter::Pending => true,
        }
    }
}

/// The worklist's filters; agency and sector are indices into the dataset's codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    pub state: StateFilter,
    pub agency: Option<u32>,
    pub sector: Option<u32>,
}

/// One line of the worklist.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Index into [`crate::model::Dataset::open`].
    pub open_index: u32,
    pub identity: &'a OpenIdentity,
    pub dossier: &'a Dossier,
    pub pending: Pending,
}

/// The open dossiers pending at `now` that pass `filter`, sorted by overdue
/// working days, largest first, then received_at, then code. Reads the
/// dataset's open identities ([`crate::model::Dataset::open`]).
pub fn worklist<'a>(judge: &Judge<'a>, now: Ts, filter: &Filter) -> Vec<Entry<'a>> {
    let ds = judge.dataset;
    let mut rows: Vec<Entry<'a>> = ds
        .open
        .iter()
        .enumerate()
        .filter_map(|(open_index, identity)| {
            let dossier = ds.dossiers.get(identity.dossier as usize)?;
            if filter.agency.is_some_and(|a| a != dossier.agency)
                || filter.sector.is_some_and(|s| s != dossier.sector)
            {
                return None;
            }
            let pending = pending_now(judge, dossier, now)?;
            filter.state.admits(&pending).then_some(Entry {
                open_index: open_index as u32,
                identity,
                dossier,
                pending,
            })
        })
        .collect();
    rows.sort_unstable_by(|a, b| {
        b.pending
            .overdue_workdays
            .cmp(&a.pending.overdue_workdays)
            .then(a.dossier.received.cmp(&b.dossier.received))
            .then_with(|| a.identity.code.cmp(&b.identity.code))
    });
    rows
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;
    use crate::calendar::{WorkCalendar, date_of};
    use crate::judge::build_dataset;
    use crate::model::{
        ApologyRow, Dataset, DossierRow, Procedure, SourceRows, SupplementRow, ts_of,
    };

    fn t(s: &str) -> Ts {
        ts_of(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }

    fn open(code: &str, procedure: &str, received: &str, due: Option<&str>) -> DossierRow {
        DossierRow {
            code: code.into(),
            procedure_code: procedure.into(),
            agency_code: "A".into(),
            status: 4,
            received_at: Some(t(received)),
            due_at: due.map(t),
            ..Default::default()
        }
    }

    fn pause(code: &str, from: &str, to: Option<&str>) -> SupplementRow {
        SupplementRow {
            dossier_code: code.into(),
            requested_at: t(from),
            resumed_at: to.map(t),
        }
    }

    fn dataset() -> Dataset {
        let procedure = |code: &str, deadline| Procedure {
            code: code.into(),
            name: code.into(),
            sector_code: "S".into(),
            deadline_days: deadline,
            online_level: "full".into(),
            has_fee: None,
        };
        let received = "2025-02-24 08:00";
        build_dataset(SourceRows {
            procedures: vec![procedure("P1", Some(1.0)), procedure("PNONE", None)],
            dossiers: vec![
                open("A-today", "P1", received, Some("2025-03-07 17:00")),
                open("B-monday", "P1", received, Some("2025-03-10 09:00")),
                open("C-tuesday", "P1", received, Some("2025-03-11 09:00")),
                open("D-closed-pause", "P1", received, Some("2025-03-06 17:00")),
                open("E-open-pause", "P1", received, Some("2025-03-05 17:00")),
                open("F-deadline", "P1", "2025-03-06 08:00", None),
                open("G-no-deadline", "PNONE", received, None),
                open("H-overdue", "P1", received, Some("2025-03-03 17:00")),
                open("I-deadline-overdue", "P1", "2025-03-03 08:00", None),
                open("J-after-holidays", "P1", received, Some("2025-05-05 08:00")),
                open("K-later", "P1", received, Some("2025-05-06 08:00")),
                DossierRow {
                    status: 10,
                    finished_at: Some(t("2025-03-01 08:00")),
                    ..open("Z-resolved", "P1", received, None)
                },
            ],
            supplements: vec![
                pause(
                    "D-closed-pause",
                    "2025-03-04 08:00",
                    Some("2025-03-05 08:00"),
                ),
                pause("E-open-pause", "2025-03-06 08:00", None),
            ],
            apologies: vec![ApologyRow {
                dossier_code: "H-overdue".into(),
                issued_at: None,
                new_due_at: None,
            }],
            ..Default::default()
        })
    }

    fn day(s: &str) -> Day {
        crate::calendar::day_number(s.parse().unwrap())
    }

    /// (code, state, due date, overdue working days, due soon) for `state`.
    fn list(
        ds: &Dataset,
        now: &str,
        state: StateFilter,
    ) -> Vec<(String, String, String, i64, bool)> {
        let calendar = WorkCalendar::builtin();
        let judge = Judge::new(ds, &calendar);
        let filter = Filter {
            state,
            ..Filter::default()
        };
        worklist(&judge, t(now), &filter)
            .iter()
            .map(|e| {
                (
                    e.identity.code.to_string(),
                    e.pending.state.label().to_owned(),
                    e.pending.due.map_or("-".into(), |d| date_of(d).to_string()),
                    e.pending.overdue_workdays,
                    e.pending.due_soon,
                )
            })
            .collect()
    }

    fn row(
        code: &str,
        state: &str,
        due: &str,
        overdue: i64,
        soon: bool,
    ) -> (String, String, String, i64, bool) {
        (code.into(), state.into(), due.into(), overdue, soon)
    }

    #[test]
    fn every_pending_dossier_on_a_friday_morning() {
        let ds = dataset();
        assert_eq!(ds.open.len(), 11, "the resolved one keeps no identity");
        let all = list(&ds, "2025-03-07 10:00", StateFilter::Pending);
        assert_eq!(
            all,
            [
                // 4 working days after Mon 3 Mar; an apology changes nothing here.
                row("H-overdue", "overdue", "2025-03-03", 4, false),
                // Received Mon, 1-day procedure: due Tue 4; Wed–Fri over.
                row("I-deadline-overdue", "overdue", "2025-03-04", 3, false),
                row("A-today", "in_time", "2025-03-07", 0, true),
                // Across the weekend: Monday is the next working day.
                row("B-monday", "in_time", "2025-03-10", 0, true),
                row("C-tuesday", "in_time", "2025-03-11", 0, false),
                // Thu 6 Mar 17:00 plus the closed 24-hour pause.
                row("D-closed-pause", "in_time", "2025-03-07", 0, true),
                // Due Wed 5 Mar, but paused since Thu: paused, never overdue.
                row("E-open-pause", "paused", "2025-03-05", 0, false),
                row("G-no-deadline", "in_time", "-", 0, false),
                row("J-after-holidays", "in_time", "2025-05-05", 0, false),
                row("K-later", "in_time", "2025-05-06", 0, false),
                // Received Thu 6 Mar, 1-day procedure: due Fri 7.
                row("F-deadline", "in_time", "2025-03-07", 0, true),
            ]
        );
        let codes = |state| -> Vec<String> {
            list(&ds, "2025-03-07 10:00", state)
                .into_iter()
                .map(|r| r.0)
                .collect()
        };
        assert_eq!(
            codes(StateFilter::Overdue),
            ["H-overdue", "I-deadline-overdue"]
        );
        assert_eq!(
            codes(StateFilter::DueSoon),
            ["A-today", "B-monday", "D-closed-pause", "F-deadline"]
        );
        assert_eq!(codes(StateFilter::Paused), ["E-open-pause"]);
        assert_eq!(codes(StateFilter::InTime).len(), 8);
        // The apology shows on its line (the `apology` column of §9), only there.
        let calendar = WorkCalendar::builtin();
        let judge = Judge::new(&ds, &calendar);
        let apologised: Vec<&str> = worklist(&judge, t("2025-03-07 10:00"), &Filter::default())
            .into_iter()
            .filter(|e| e.dossier.has_apology)
            .map(|e| &*e.identity.code)
            .collect();
        assert_eq!(apologised, ["H-overdue"]);
    }

    #[test]
    fn the_next_working_day_across_a_holiday() {
        // Tue 29 Apr 2025: 30 Apr, 1 and 2 May off, then the weekend.
        let soon: Vec<String> = list(&dataset(), "2025-04-29 10:00", StateFilter::DueSoon)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(soon, ["J-after-holidays"]);
    }

    #[test]
    fn a_horizon_of_zero_is_due_today_only() {
        let ds = dataset();
        let calendar = WorkCalendar::builtin().with_due_soon_workdays(0);
        let judge = Judge::new(&ds, &calendar);
        let filter = Filter {
            state: StateFilter::DueSoon,
            ..Filter::default()
        };
        let codes: Vec<&str> = worklist(&judge, t("2025-03-07 10:00"), &filter)
            .iter()
            .map(|e| &*e.identity.code)
            .collect();
        assert_eq!(codes, ["A-today", "D-closed-pause", "F-deadline"]);
    }

    #[test]
    fn the_due_date_without_due_at_turns_overdue_with_the_gauge() {
        // 1-day procedure received Thu 6 Mar: in time through Fri, the
        // weekend and Monday 00:00:00, overdue a second later.
        let ds = dataset();
        let calendar = WorkCalendar::builtin();
        let judge = Judge::new(&ds, &calendar);
        let f = ds
            .open
            .iter()
            .find(|o| &*o.code == "F-deadline")
            .map(|o| &ds.dossiers[o.dossier as usize])
            .unwrap();
        let at = |s: &str| pending_now(&judge, f, t(s)).unwrap();
        assert_eq!(at("2025-03-09 23:59").state, PendingState::InTime);
        assert_eq!(at("2025-03-09 23:59").due, Some(day("2025-03-07")));
        assert!(at("2025-03-09 23:59").due_soon);
        let monday = pending_now(&judge, f, t("2025-03-10 00:00") + 1).unwrap();
        assert_eq!(monday.state, PendingState::Overdue);
        assert_eq!(monday.overdue_workdays, 1);
    }
}
