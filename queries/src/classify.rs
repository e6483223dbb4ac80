//! The meaning of every per-dossier KPI (DESIGN §3): processing working
//! days, timeliness, pending state at an instant, overdue age. Aggregations
//! (snapshot, report, charts) call these and nothing else.

use crate::calendar::{Day, WorkCalendar};
use crate::model::{Dataset, Dossier, Pause, PendingState, Stage, Timeliness, Ts, day_of};

/// Where a dossier stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAt {
    /// Not received yet.
    NotReceived,
    Pending(PendingState),
    /// Resolved or cancelled by then.
    Ended,
}

/// Judges dossiers of one dataset against one working-day calendar.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    pub dataset: &'a Dataset,
    pub calendar: &'a WorkCalendar,
}

impl<'a> Judge<'a> {
    pub fn new(dataset: &'a Dataset, calendar: &'a WorkCalendar) -> Self {
        Judge { dataset, calendar }
    }

    /// Working days d with received date < d ≤ `end_day`, leaving out days
    /// inside pauses closed by `closed_by` (d is inside when requested date
    /// < d ≤ resumed date). Same-day results take 0.
    pub fn processing_workdays_until(&self, d: &Dossier, end_day: Day, closed_by: Ts) -> i64 {
        let received_day = day_of(d.received);
        if end_day <= received_day {
            return 0;
        }
        let mut total = self.calendar.workdays_between(received_day, end_day);
        // Pauses are sorted by start; merge overlapping day ranges so a day
        // is never subtracted twice.
        let mut open: Option<(Day, Day)> = None;
        let mut subtract = |range: (Day, Day)| {
            let after = range.0.max(received_day);
            let upto = range.1.min(end_day);
            if upto > after {
                total -= self.calendar.workdays_between(after, upto);
            }
        };
        for p in closed_pauses(self.dataset.pauses_of(d), closed_by) {
            let (a, b) = (day_of(p.start), day_of(p.end.expect("closed")));
            match open {
                Some((oa, ob)) if a < ob => open = Some((oa, ob.max(b))),
                Some(range) => {
                    subtract(range);
                    open = Some((a, b));
                }
                None => open = Some((a, b)),
            }
        }
        if let Some(range) = open {
            subtract(range);
        }
        total.max(0)
    }

    /// Processing working days of a resolved dossier (E = date of finished_at).
    pub fn processing_workdays(&self, d: &Dossier) -> Option<i64> {
        let finished = resolved_at(d)?;
        Some(self.processing_workdays_until(d, day_of(finished), Ts::MAX))
    }

    /// finished_at minus the durations of the dossier's closed pauses.
    pub fn adjusted_end(&self, d: &Dossier) -> Option<Ts> {
        let finished = resolved_at(d)?;
        Some(finished - paused_seconds(self.dataset.pauses_of(d), Ts::MAX))
    }

    /// Early, on time or late, for a resolved dossier.
    pub fn timeliness(&self, d: &Dossier) -> Option<Timeliness> {
        let finished = resolved_at(d)?;
        if let Some(due) = d.due {
            let end = finished - paused_seconds(self.dataset.pauses_of(d), Ts::MAX);
            return Some(if end > due {
                Timeliness::Late
            } else if day_of(end) < day_of(due) {
                Timeliness::Early
            } else {
                Timeliness::OnTime
            });
        }
        let Some(deadline) = d.deadline() else {
            return Some(Timeliness::OnTime);
        };
        let days = self.processing_workdays_until(d, day_of(finished), Ts::MAX) as f64;
        Some(if days > deadline {
            Timeliness::Late
        } else if days < deadline {
            Timeliness::Early
        } else {
            Timeliness::OnTime
        })
    }

    /// (adjusted end − received) ÷ (due − received), when due > received.
    pub fn deadline_usage(&self, d: &Dossier) -> Option<f64> {
        let due = d.due.filter(|due| *due > d.received)?;
        let end = self.adjusted_end(d)?;
        Some((end - d.received) as f64 / (due - d.received) as f64)
    }

    /// The dossier's state at instant `t`. `is_now` adds the status codes
    /// that say "waiting on the citizen" (5, 6) to the pause rule: a status
    /// only describes the present.
    pub fn state_at(&self, d: &Dossier, t: Ts, is_now: bool) -> StateAt {
        if d.received > t {
            return StateAt::NotReceived;
        }
        if d.ended.is_some_and(|e| e <= t) {
            return StateAt::Ended;
        }
        let pauses = self.dataset.pauses_of(d);
        let paused = pauses
            .iter()
            .any(|p| p.start <= t && p.end.is_none_or(|e| t < e))
            || (is_now
                && matches!(
                    d.stage,
                    Stage::Open {
                        waiting_on_citizen: true
                    }
                ));
        if paused {
            return StateAt::Pending(PendingState::Paused);
        }
        StateAt::Pending(if self.is_overdue_at(d, t) {
            PendingState::Overdue
        } else {
            PendingState::InTime
        })
    }

    fn is_overdue_at(&self, d: &Dossier, t: Ts) -> bool {
        if let Some(due) = d.due {
            return t - paused_seconds(self.dataset.pauses_of(d), t) > due;
        }
        match d.deadline() {
            Some(deadline) => self.processing_workdays_until(d, day_of(t - 1), t) as f64 > deadline,
            None => false,
        }
    }

    /// For a dossier pending overdue at `now`: working days d with due date
    /// < d ≤ today (without due_at, counted from the day its deadline_days ran out).
    pub fn overdue_workdays(&self, d: &Dossier, now: Ts) -> i64 {
        let today = day_of(now);
        match (d.due, d.deadline()) {
            (Some(due), _) => self.calendar.workdays_between(day_of(due), today),
            (None, Some(deadline)) => {
                (self.processing_workdays_until(d, today, now) - deadline.ceil() as i64).max(0)
            }
            (None, None) => 0,
        }
    }
}

fn resolved_at(d: &Dossier) -> Option<Ts> {
    match d.stage {
        Stage::Resolved => d.ended,
        _ => None,
    }
}

fn closed_pauses(pauses: &[Pause], closed_by: Ts) -> impl Iterator<Item = &Pause> {
    pauses
        .iter()
        .filter(move |p| p.end.is_some_and(|e| e <= closed_by))
}

/// Summed durations of the pauses closed by `closed_by`.
pub(crate) fn paused_seconds(pauses: &[Pause], closed_by: Ts) -> i64 {
    closed_pauses(pauses, closed_by)
        .map(|p| (p.end.expect("closed") - p.start).max(0))
        .sum()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;
    use crate::judge::build_dataset;
    use crate::model::{
        DossierRow, EvaluationRow, Procedure, RejectReason, SourceRows, SupplementRow, ts_of,
    };

    fn t(s: &str) -> Ts {
        ts_of(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
    }

    fn procedure(code: &str, deadline: Option<f64>) -> Procedure {
        Procedure {
            code: code.into(),
            name: code.into(),
            sector_code: "S1".into(),
            deadline_days: deadline,
            online_level: "full".into(),
            has_fee: None,
        }
    }

    fn row(code: &str, procedure: &str, status: i64, received: &str) -> DossierRow {
        DossierRow {
            code: code.into(),
            procedure_code: procedure.into(),
            agency_code: "A".into(),
            channel: Some(2),
            status,
            received_at: (!received.is_empty()).then(|| t(received)),
            updated_at: Some(t("2025-03-31 00:00:00")),
            ..Default::default()
        }
    }

    fn resolved(
        code: &str,
        procedure: &str,
        received: &str,
        due: Option<&str>,
        finished: &str,
    ) -> DossierRow {
        DossierRow {
            due_at: due.map(t),
            finished_at: Some(t(finished)),
            ..row(code, procedure, 10, received)
        }
    }

    fn pause(code: &str, from: &str, to: Option<&str>) -> SupplementRow {
        SupplementRow {
            dossier_code: code.into(),
            requested_at: t(from),
            resumed_at: to.map(t),
        }
    }

    struct Case {
        dataset: Dataset,
        calendar: WorkCalendar,
    }

    impl Case {
        fn new(dossiers: Vec<DossierRow>, supplements: Vec<SupplementRow>) -> Case {
            let rows = SourceRows {
                procedures: vec![
                    procedure("P5", Some(5.0)),
                    procedure("P1", Some(1.0)),
                    procedure("PHALF", Some(0.5)),
                    procedure("PNONE", None),
                ],
                dossiers,
                supplements,
                ..Default::default()
            };
            Case {
                dataset: build_dataset(rows),
                calendar: WorkCalendar::builtin(),
            }
        }

        fn judge(&self) -> Judge<'_> {
            Judge::new(&self.dataset, &self.calendar)
        }

        fn only(&self) -> &Dossier {
            assert_eq!(self.dataset.dossiers.len(), 1);
            &self.dataset.dossiers[0]
        }

        fn timeliness(&self) -> Timeliness {
            self.judge().timeliness(self.only()).unwrap()
        }
    }

    fn one(d: DossierRow) -> Case {
        Case::new(vec![d], vec![])
    }

    #[test]
    fn finished_exactly_at_the_due_instant_is_on_time() {
        let c = one(resolved(
            "D",
            "P5",
            "2025-03-03 08:00:00",
            Some("2025-03-10 17:00:00"),
            "2025-03-10 17:00:00",
        ));
        assert_eq!(c.timeliness(), Timeliness::OnTime);
    }

    #[test]
    fn one_second_after_the_due_instant_is_late() {
        let c = one(resolved(
            "D",
            "P5",
            "2025-03-03 08:00:00",
            Some("2025-03-10 17:00:00"),
            "2025-03-10 17:00:01",
        ));
        assert_eq!(c.timeliness(), Timeliness::Late);
    }

    #[test]
    fn finished_on_an_earlier_date_is_early() {
        let c = one(resolved(
            "D",
            "P5",
            "2025-03-03 08:00:00",
            Some("2025-03-10 17:00:00"),
            "2025-03-09 23:59:59",
        ));
        assert_eq!(c.timeliness(), Timeliness::Early);
    }

    #[test]
    fn a_pause_turns_late_into_on_time() {
        let d = resolved(
            "D",
            "P5",
            "2025-03-03 08:00:00",
            Some("2025-03-10 17:00:00"),
            "2025-03-13 16:00:00",
        );
        assert_eq!(one(d.clone()).timeliness(), Timeliness::Late);
        let c = Case::new(
            vec![d],
            vec![pause(
                "D",
                "2025-03-07 16:00:00",
                Some("2025-03-10 16:00:00"),
            )],
        );
        // 13 Mar 16:00 minus 72 h of pause = 10 Mar 16:00: before the due instant, same date.
        assert_eq!(c.timeliness(), Timeliness::OnTime);
        assert_eq!(
            c.judge().adjusted_end(c.only()),
            Some(t("2025-03-10 16:00:00"))
        );
    }

    #[test]
    fn an_open_pause_does_not_shift_a_resolved_dossier() {
        let d = resolved(
            "D",
            "P5",
            "2025-03-03 08:00:00",
            Some("2025-03-10 17:00:00"),
            "2025-03-13 16:00:00",
        );
        let c = Case::new(vec![d], vec![pause("D", "2025-03-07 16:00:00", None)]);
        assert_eq!(c.timeliness(), Timeliness::Late);
    }

    #[test]
    fn friday_afternoon_to_monday_is_one_working_day() {
        // 7 Mar 2025 is a Friday; Saturday and Sunday do not count.
        let d = resolved(
            "D",
            "P5",
            "2025-03-07 15:30:00",
            None,
            "2025-03-10 09:00:00",
        );
        let c = one(d.clone());
        assert_eq!(c.judge().processing_workdays(c.only()), Some(1));
        assert_eq!(c.timeliness(), Timeliness::Early, "1 < 5 days");
        let on_time = one(DossierRow {
            procedure_code: "P1".into(),
            ..d.clone()
        });
        assert_eq!(on_time.timeliness(), Timeliness::OnTime, "1 = 1 day");
        let late = one(DossierRow {
            procedure_code: "PHALF".into(),
            ..d
        });
        assert_eq!(late.timeliness(), Timeliness::Late, "1 > 0.5 day");
    }

    #[test]
    fn same_day_results_take_zero_days() {
        let c = one(resolved(
            "D",
            "PHALF",
            "2025-03-07 08:00:00",
            None,
            "2025-03-07 16:00:00",
        ));
        assert_eq!(c.judge().processing_workdays(c.only()), Some(0));
        assert_eq!(c.timeliness(), Timeliness::Early, "0 < 0.5 day");
    }

    #[test]
    fn no_due_date_and_no_deadline_is_on_time() {
        let c = one(resolved(
            "D",
            "PNONE",
            "2025-03-03 08:00:00",
            None,
            "2025-06-30 08:00:00",
        ));
        assert_eq!(c.timeliness(), Timeliness::OnTime);
        let unknown = one(resolved(
            "D",
            "NOT-IN-CATALOGUE",
            "2025-03-03 08:00:00",
            None,
            "2025-06-30 08:00:00",
        ));
        assert_eq!(unknown.timeliness(), Timeliness::OnTime);
        let sector = unknown.only().sector as usize;
        assert_eq!(unknown.dataset.sector_codes[sector], "unknown");
    }

    #[test]
    fn closed_pause_days_are_not_counted() {
        // Mon 3 Mar → Fri 7 Mar is 4 working days; the pause covers 5 and 6 Mar.
        let d = resolved(
            "D",
            "P5",
            "2025-03-03 09:00:00",
            None,
            "2025-03-07 09:00:00",
        );
        let c = Case::new(
            vec![d],
            vec![
                pause("D", "2025-03-04 10:00:00", Some("2025-03-06 10:00:00")),
                pause("D", "2025-03-05 10:00:00", Some("2025-03-05 11:00:00")),
            ],
        );
        assert_eq!(c.judge().processing_workdays(c.only()), Some(2));
    }

    #[test]
    fn tet_holidays_are_not_working_days() {
        // Fri 24 Jan 2025 → Mon 3 Feb 2025: Tết 27–31 Jan and two weekends in between.
        let c = one(resolved(
            "D",
            "P5",
            "2025-01-24 10:00:00",
            None,
            "2025-02-03 10:00:00",
        ));
        assert_eq!(c.judge().processing_workdays(c.only()), Some(1));
    }

    #[test]
    fn pending_states_at_an_instant() {
        let open = |code: &str, status| DossierRow {
            due_at: Some(t("2025-03-10 17:00:00")),
            ..row(code, "P5", status, "2025-03-03 08:00:00")
        };
        let c = Case::new(
            vec![open("A", 4), open("B", 4), open("C", 5)],
            vec![pause("B", "2025-03-05 08:00:00", None)],
        );
        let j = c.judge();
        let [a, b, cc] = [
            &c.dataset.dossiers[0],
            &c.dataset.dossiers[1],
            &c.dataset.dossiers[2],
        ];
        let before = t("2025-03-10 17:00:00");
        let after = t("2025-03-10 17:00:01");
        assert_eq!(
            j.state_at(a, before, false),
            StateAt::Pending(PendingState::InTime)
        );
        assert_eq!(
            j.state_at(a, after, false),
            StateAt::Pending(PendingState::Overdue)
        );
        assert_eq!(
            j.state_at(a, t("2025-03-01 00:00:00"), false),
            StateAt::NotReceived
        );
        assert_eq!(
            j.state_at(b, t("2025-03-04 00:00:00"), false),
            StateAt::Pending(PendingState::InTime)
        );
        assert_eq!(
            j.state_at(b, after, false),
            StateAt::Pending(PendingState::Paused)
        );
        // Status 5 means "waiting on the citizen" only about the present.
        assert_eq!(
            j.state_at(cc, after, false),
            StateAt::Pending(PendingState::Overdue)
        );
        assert_eq!(
            j.state_at(cc, after, true),
            StateAt::Pending(PendingState::Paused)
        );
        // Mon 3 Mar due → Fri 7 Mar: 4 working days overdue (one due Monday 10 Mar: 4 on Fri 14).
        assert_eq!(j.overdue_workdays(a, t("2025-03-14 12:00:00")), 4);
    }

    #[test]
    fn a_closed_pause_postpones_overdue() {
        let d = DossierRow {
            due_at: Some(t("2025-03-10 17:00:00")),
            ..row("D", "P5", 4, "2025-03-03 08:00:00")
        };
        let c = Case::new(
            vec![d],
            vec![pause(
                "D",
                "2025-03-04 08:00:00",
                Some("2025-03-05 08:00:00"),
            )],
        );
        let j = c.judge();
        let d = c.only();
        assert_eq!(
            j.state_at(d, t("2025-03-11 16:00:00"), false),
            StateAt::Pending(PendingState::InTime)
        );
        assert_eq!(
            j.state_at(d, t("2025-03-11 17:00:01"), false),
            StateAt::Pending(PendingState::Overdue)
        );
    }

    #[test]
    fn without_due_date_overdue_follows_the_deadline() {
        // Received Mon 3 Mar, 1-day procedure: on Tue 4 Mar (E = Mon… no: E = date of T − 1 s).
        let c = one(row("D", "P1", 4, "2025-03-03 08:00:00"));
        let j = c.judge();
        let d = c.only();
        assert_eq!(
            j.state_at(d, t("2025-03-05 00:00:00"), false),
            StateAt::Pending(PendingState::InTime)
        );
        assert_eq!(
            j.state_at(d, t("2025-03-05 00:00:01"), false),
            StateAt::Pending(PendingState::Overdue)
        );
        assert_eq!(j.overdue_workdays(d, t("2025-03-07 09:00:00")), 3);
    }

    #[test]
    fn rejected_rows_are_counted_once_under_the_first_reason() {
        let bad_status = DossierRow {
            status: 11,
            ..row("R1", "P5", 11, "")
        };
        let no_received = row("R2", "P5", 4, "");
        let no_received_no_finish = row("R3", "P5", 9, "");
        let no_finish = row("R4", "P5", 9, "2025-03-03 08:00:00");
        let ended_before = resolved(
            "R5",
            "P5",
            "2025-03-03 08:00:00",
            None,
            "2025-03-02 08:00:00",
        );
        let cancelled_before = DossierRow {
            finished_at: Some(t("2025-03-02 08:00:00")),
            ..row("R6", "P5", 7, "2025-03-03 08:00:00")
        };
        let registered = row("N1", "P5", 1, "");
        let not_accepted = row("N2", "P5", 3, "");
        let fine = resolved(
            "OK",
            "P5",
            "2025-03-03 08:00:00",
            None,
            "2025-03-04 08:00:00",
        );
        let mut rows = SourceRows {
            dossiers: vec![
                bad_status,
                no_received,
                no_received_no_finish,
                no_finish,
                ended_before,
                cancelled_before,
                registered,
                not_accepted,
                fine,
            ],
            ..Default::default()
        };
        rows.evaluations = ["satisfied", "excellent", "very_satisfied", ""]
            .iter()
            .map(|r| EvaluationRow {
                dossier_code: Some("R1".into()),
                agency_code: "A".into(),
                evaluated_at: None,
                rating: (*r).into(),
            })
            .collect();
        let ds = build_dataset(rows);
        assert_eq!(ds.rejected_count(RejectReason::UnknownStatus), 1);
        assert_eq!(ds.rejected_count(RejectReason::MissingReceivedAt), 2);
        assert_eq!(ds.rejected_count(RejectReason::MissingFinishedAt), 1);
        assert_eq!(ds.rejected_count(RejectReason::EndedBeforeReceived), 2);
        assert_eq!(ds.rejected_count(RejectReason::UnknownRating), 2);
        assert_eq!(ds.dossiers.len(), 1, "only OK is intake");
        // Evaluations count even when their dossier was rejected.
        assert_eq!(ds.evaluations.len(), 2);
    }
}
