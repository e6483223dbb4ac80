//! The chart service's aggregate store (`motcua_queries::daily`) answers
//! exactly what a walk over every dossier answers: reports, the service
//! index and every chart's data, for every period and every agency of the
//! demo, at the demo's "now" and at an instant in the middle of its history
//! (where many dossiers are still open and stay individual).

use chrono::NaiveDate;
use motcua_queries::charts::{self, Scope};
use motcua_queries::classify::StateAt;
use std::sync::Arc;

use motcua_queries::daily::{DailySums, Frame, View, is_fixed, pending_transitions};
use motcua_queries::model::{self, PendingState, day_of, start_of};
use motcua_queries::report::{PeriodConvention, PeriodName, build_report};
use motcua_queries::service_index::{IndicatorTable, build_index};
use motcua_queries::{ConnectOptions, Judge, Reader, WorkCalendar};

use crate::support::{Engine, demo_db, small_demo};

fn periods() -> Vec<(PeriodName, PeriodConvention)> {
    let mut out = Vec::new();
    for y in 2023..=2026 {
        out.push((PeriodName::Year(y), PeriodConvention::Calendar));
        out.push((PeriodName::Year(y), PeriodConvention::Day15));
        for h in 1..=2 {
            out.push((PeriodName::Half(y, h), PeriodConvention::Calendar));
        }
        for q in 1..=4 {
            out.push((PeriodName::Quarter(y, q), PeriodConvention::Calendar));
            out.push((PeriodName::Quarter(y, q), PeriodConvention::Day15));
        }
        for m in 1..=12 {
            out.push((PeriodName::Month(y, m), PeriodConvention::Calendar));
        }
    }
    out
}

/// Every dossier of the demo, read from a throwaway SQLite copy.
async fn demo_dataset(calendar: &WorkCalendar) -> model::Dataset {
    let db = demo_db(Engine::Sqlite).await.expect("SQLite is built in");
    let reader = Reader::open(&db.url, None, &ConnectOptions::default()).expect("open");
    let dataset = reader.read(calendar.timezone()).await.expect("read");
    reader.source.close().await;
    db.drop_db().await;
    dataset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_sums_equal_a_walk_over_every_dossier() {
    let calendar = WorkCalendar::builtin();
    let dataset = demo_dataset(&calendar).await;
    let table = IndicatorTable::shipped();
    let whole = Judge::new(&dataset, &calendar);

    let middle = model::ts_of(
        NaiveDate::from_ymd_opt(2025, 8, 12)
            .and_then(|d| d.and_hms_opt(10, 30, 0))
            .expect("instant"),
    );
    for now in [small_demo().now(), middle] {
        let frame = Frame::split(dataset.clone(), &calendar, now);
        let view = frame.view(&calendar);
        let summed = dataset.dossiers.len() - frame.dataset.dossiers.len();
        // The split must put most dossiers in the sums, and keep some apart.
        assert!(summed > dataset.dossiers.len() / 2, "{summed} summed");
        assert!(!frame.dataset.dossiers.is_empty());
        assert_eq!(frame.dossiers(), dataset.dossiers.len() as u64);
        assert_eq!(
            frame.dataset.open.len(),
            dataset.open.len(),
            "every open dossier stays individual"
        );
        let compared = assert_view_walks_alike(&whole, &view, &periods(), now, &table);
        assert!(
            compared > 10_000,
            "the periods compared hold data: {compared}"
        );
    }
}

/// A full read stages its batches and seals them into the trees when the
/// staged maps grow large: sums sealed in several steps (each one merging
/// into trees that already hold entries) equal the sums made at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_sealed_in_several_steps_equal_the_sums_made_at_once() {
    let calendar = WorkCalendar::builtin();
    let dataset = demo_dataset(&calendar).await;
    let whole = Judge::new(&dataset, &calendar);
    let now = small_demo().now();
    let at_once = Frame::split(dataset.clone(), &calendar, now);

    let mut stepwise = DailySums::default();
    let n = dataset.dossiers.len();
    let index = |d: &model::Dossier| {
        (d as *const model::Dossier as usize - dataset.dossiers.as_ptr() as usize)
            / std::mem::size_of::<model::Dossier>()
    };
    let dated = |e: &model::Evaluation| e.evaluated_at.is_some_and(|t| t <= now);
    for step in 0..5 {
        let part = step * n / 5..(step + 1) * n / 5;
        stepwise.stage(
            &whole,
            |d| part.contains(&index(d)) && is_fixed(d, now),
            |e| step == 0 && dated(e),
        );
        if step % 2 == 1 {
            stepwise.seal();
        }
    }
    stepwise.seal();
    assert_eq!(
        stepwise.entries_by_map(),
        at_once.sums[0].entries_by_map(),
        "the same entries"
    );
    let frame = Frame {
        dataset: at_once.dataset.clone(),
        sums: vec![Arc::new(stepwise)],
    };
    let years: Vec<_> = periods()
        .into_iter()
        .filter(|(p, _)| matches!(p, PeriodName::Year(_) | PeriodName::Quarter(..)))
        .collect();
    let table = IndicatorTable::shipped();
    let compared = assert_view_walks_alike(&whole, &frame.view(&calendar), &years, now, &table);
    assert!(
        compared > 10_000,
        "the periods compared hold data: {compared}"
    );
}

/// The prefix sums of a dossier's pending transitions give
/// `Judge::state_at` at the end of every day, for every ended dossier of
/// the demo (with and without pauses, due dates and deadlines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_transitions_give_the_state_at_the_end_of_every_day() {
    let calendar = WorkCalendar::builtin();
    let dataset = demo_dataset(&calendar).await;
    let judge = Judge::new(&dataset, &calendar);
    let (mut paused, mut overdue) = (0, 0);
    for d in dataset
        .dossiers
        .iter()
        .filter(|d| is_fixed(d, small_demo().now()))
    {
        let transitions = pending_transitions(&judge, d);
        let first = day_of(d.received) - 1;
        let last = day_of(d.ended.expect("fixed")) + 1;
        for day in first..=last {
            let mut counts = [0i32; 3];
            for (at, state, change) in &transitions {
                if *at <= day {
                    counts[PendingState::ALL
                        .iter()
                        .position(|s| s == state)
                        .expect("ALL")] += change;
                }
            }
            let expected = match judge.state_at(d, start_of(day + 1) - 1, false) {
                StateAt::Pending(s) => {
                    let mut e = [0; 3];
                    e[PendingState::ALL.iter().position(|x| *x == s).expect("ALL")] = 1;
                    paused += i32::from(s == PendingState::Paused);
                    overdue += i32::from(s == PendingState::Overdue);
                    e
                }
                _ => [0; 3],
            };
            assert_eq!(counts, expected, "{d:?} at the end of day {day}");
        }
    }
    assert!(
        paused > 0 && overdue > 0,
        "paused {paused}, overdue {overdue}"
    );
}

/// Reports, the index and every chart's data from `view` equal those of a
/// walk over every dossier (`whole`), for each of `periods`, the province
/// and every agency, as of `now`. Returns the dossiers compared (received,
/// summed over the periods' province reports), so callers can insist the
/// periods held data.
pub(crate) fn assert_view_walks_alike(
    whole: &Judge<'_>,
    view: &View<'_>,
    periods: &[(PeriodName, PeriodConvention)],
    now: model::Ts,
    table: &IndicatorTable,
) -> u64 {
    let dataset = whole.dataset;
    assert_eq!(
        view.dataset().agency_codes,
        dataset.agency_codes,
        "the view knows the same agencies"
    );
    assert_eq!(charts::data_span(whole), charts::data_span(view));
    let mut agencies: Vec<Option<u32>> = vec![None];
    agencies.extend((0..dataset.agency_codes.len() as u32).map(Some));
    let mut compared = 0;
    for &(period, convention) in periods {
        let (from, to) = period.bounds(convention);
        let name = period.to_string();
        for &agency in &agencies {
            let code = agency.map(|a| dataset.agency_codes[a as usize].clone());
            let what = format!("{name} ({convention:?}) {code:?} at {now}");
            let a = build_report(whole, name.clone(), from, to, now, agency);
            let b = build_report(view, name.clone(), from, to, now, agency);
            assert_eq!(a, b, "report {what}");
            compared += a.rows.last().map_or(0, |r| r.columns.received_total);
            let scope = Scope::new(from, to, agency, convention);
            assert_eq!(
                charts::timeliness_by_month(whole, &scope),
                charts::timeliness_by_month(view, &scope),
                "timeliness by month {what}"
            );
            assert_eq!(
                charts::timeliness_by_group(whole, &scope),
                charts::timeliness_by_group(view, &scope),
                "timeliness by group {what}"
            );
            assert_eq!(
                charts::intake_by_month(whole, &scope),
                charts::intake_by_month(view, &scope),
                "intake {what}"
            );
            assert_eq!(
                charts::processing_distribution(whole, &scope),
                charts::processing_distribution(view, &scope),
                "processing {what}"
            );
            assert_eq!(
                charts::pending_by_group(whole, &scope, now),
                charts::pending_by_group(view, &scope, now),
                "pending {what}"
            );
            assert_eq!(
                charts::satisfaction_by_agency(whole, &scope),
                charts::satisfaction_by_agency(view, &scope),
                "satisfaction {what}"
            );
            assert_eq!(
                charts::digitization_by_group(whole, &scope),
                charts::digitization_by_group(view, &scope),
                "digitization {what}"
            );
        }
        assert_eq!(
            build_index(whole, table, name.clone(), from, to, now),
            build_index(view, table, name.clone(), from, to, now),
            "index {name} ({convention:?}) at {now}"
        );
    }
    compared
}
