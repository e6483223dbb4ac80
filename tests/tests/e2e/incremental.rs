//! Incremental refreshes must equal a full recompute, on every engine: the
//! source is mutated between refreshes the way one-stop systems change
//! (dossiers finishing, supplements opening and closing, new dossiers and
//! ratings, an apology, a late edit to a recent row, an edit to old history)
//! and each refresh is compared with a full read at the same instant.

use chrono::NaiveDate;
use motcua_exporter::metrics::{RefreshStatus, encode, is_timing_line};
use motcua_queries::daily::{DailySums, Frame};
use motcua_queries::demo::write_demo;
use motcua_queries::incremental::{Ledger, Refresh};
use motcua_queries::model::{Ts, datetime_of, ts_of};
use motcua_queries::report::{PeriodConvention, PeriodName};
use motcua_queries::service_index::IndicatorTable;
use motcua_queries::shard::AgencyFilter;
use motcua_queries::{ConnectOptions, Judge, Reader, Snapshot, Source, WorkCalendar};

use crate::support::{Engine, ThrowawayDb, demo_db, small_demo};

/// 2026-06-30 (the small demo's last day) at `hh:mm`.
fn at(day: u32, hh: u32, mm: u32) -> Ts {
    let month = if day > 30 { 7 } else { 6 };
    let day = if day > 30 { day - 30 } else { day };
    ts_of(
        NaiveDate::from_ymd_opt(2026, month, day)
            .and_then(|d| d.and_hms_opt(hh, mm, 0))
            .expect("valid instant"),
    )
}

fn literal(t: Ts) -> String {
    format!("'{}'", datetime_of(t).format("%Y-%m-%d %H:%M:%S"))
}

fn body(snapshot: &Snapshot) -> String {
    let status = RefreshStatus {
        up: true,
        ..RefreshStatus::default()
    };
    String::from_utf8(encode(Some(snapshot), &status))
        .expect("UTF-8")
        .lines()
        .filter(|l| !is_timing_line(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fails with the first lines that differ, not two 14,000-line bodies.
fn assert_same(what: &str, got: &Snapshot, want: &Snapshot) {
    let (got_body, want_body) = (body(got), body(want));
    let differing: Vec<String> = got_body
        .lines()
        .zip(want_body.lines())
        .filter(|(g, w)| g != w)
        .take(5)
        .map(|(g, w)| format!("  got  {g}\n  want {w}"))
        .collect();
    assert!(
        differing.is_empty() && got_body.lines().count() == want_body.lines().count(),
        "{what}: the incremental snapshot differs from a full recompute:\n{}",
        differing.join("\n")
    );
    assert_eq!(
        got, want,
        "{what}: snapshots differ beyond the metrics body"
    );
}

async fn full_recompute(reader: &Reader, calendar: &WorkCalendar, now: Ts) -> Snapshot {
    let dataset = reader.read(calendar.timezone()).await.expect("full read");
    Snapshot::compute(
        &Judge::new(&dataset, calendar),
        now,
        PeriodConvention::Calendar,
    )
}

async fn strings(source: &Source, sql: &str) -> Vec<String> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match source {
        Source::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        Source::Postgres(p, _) => sqlx::query_scalar(sql).fetch_all(p).await,
        Source::MySql(p) => sqlx::query_scalar(sql).fetch_all(p).await,
    }
    .unwrap_or_else(|e| panic!("{e}"))
}

fn quoted(codes: &[String]) -> String {
    codes
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn refreshed(
    ledger: &mut Ledger,
    reader: &Reader,
    calendar: &WorkCalendar,
    now: Ts,
) -> (Snapshot, usize) {
    match ledger
        .refresh(&reader.source, &reader.files, calendar, now)
        .await
        .expect("incremental refresh")
    {
        Refresh::Done { snapshot, changed } => (snapshot, changed),
        Refresh::FullReadNeeded(why) => panic!("unexpected full read: {why}"),
    }
}

/// The chart service's ledger answers as a walk over a full read at `now`
/// does: reports, the index and the charts' data for the periods the
/// changes touch, the province and every agency; and the worklist's open
/// dossiers are the same.
async fn assert_frame_walks_alike(
    frame: &Frame,
    reader: &Reader,
    calendar: &WorkCalendar,
    now: Ts,
) {
    let dataset = reader.read(calendar.timezone()).await.expect("full read");
    let whole = Judge::new(&dataset, calendar);
    let (calendar_, day15) = (PeriodConvention::Calendar, PeriodConvention::Day15);
    let periods = [
        (PeriodName::Year(2025), calendar_),
        (PeriodName::Year(2026), calendar_),
        (PeriodName::Year(2026), day15),
        (PeriodName::Quarter(2026, 2), calendar_),
        (PeriodName::Quarter(2026, 3), day15),
        (PeriodName::Month(2026, 6), calendar_),
        (PeriodName::Month(2026, 7), calendar_),
    ];
    let compared = crate::daily::assert_view_walks_alike(
        &whole,
        &frame.view(calendar),
        &periods,
        now,
        &IndicatorTable::shipped(),
    );
    assert!(compared > 0, "the periods compared hold data");
    let open = |ds: &motcua_queries::Dataset| {
        let mut codes: Vec<String> = ds.open.iter().map(|o| o.code.to_string()).collect();
        codes.sort_unstable();
        codes
    };
    assert_eq!(
        open(&frame.dataset),
        open(&dataset),
        "the open dossiers at {now}"
    );
}

/// The chart service's full read, held to a walk over a full read.
async fn load_days(
    reader: &Reader,
    calendar: &WorkCalendar,
    now: Ts,
) -> (Ledger<DailySums>, Frame) {
    let (days, frame) = Ledger::load_frame(
        &reader.source,
        &reader.files,
        calendar,
        PeriodConvention::Calendar,
        &AgencyFilter::all(),
        now,
    )
    .await
    .expect("full read of the days");
    assert_frame_walks_alike(&frame, reader, calendar, now).await;
    (days, frame)
}

async fn refreshed_frame(
    ledger: &mut Ledger<DailySums>,
    reader: &Reader,
    calendar: &WorkCalendar,
    now: Ts,
) -> Frame {
    match ledger
        .refresh_frame(&reader.source, &reader.files, calendar, now)
        .await
        .expect("incremental refresh")
    {
        Refresh::Done { snapshot, .. } => snapshot,
        Refresh::FullReadNeeded(why) => panic!("unexpected full read of the days: {why}"),
    }
}

/// The citizens bring what was asked: every open supplement closes at `t`.
async fn supplements_answered(writer: &Source, t: Ts) -> usize {
    let t = literal(t);
    let paused = strings(
        writer,
        "SELECT dossier_code FROM supplements WHERE resumed_at IS NULL ORDER BY dossier_code",
    )
    .await;
    assert!(
        paused.len() >= 5,
        "supplements were opened: {}",
        paused.len()
    );
    writer
        .execute_script(&format!(
            "UPDATE supplements SET resumed_at = {t} WHERE resumed_at IS NULL;\n\
             UPDATE dossiers SET status = 4, updated_at = {t} WHERE code IN ({});\n",
            quoted(&paused)
        ))
        .await
        .expect("closing supplements");
    paused.len()
}

/// Changes a one-stop system makes in an afternoon, all stamped `t`.
async fn afternoon_of_changes(writer: &Source, t: Ts) -> usize {
    let t = literal(t);
    let open = strings(
        writer,
        "SELECT code FROM dossiers WHERE status IN (2, 4) ORDER BY code",
    )
    .await;
    assert!(
        open.len() > 20,
        "the demo has open dossiers: {}",
        open.len()
    );
    let (finishing, rest) = open.split_at(10);
    let (pausing, _) = rest.split_at(5);
    let paused = strings(
        writer,
        "SELECT dossier_code FROM supplements WHERE resumed_at IS NULL ORDER BY dossier_code",
    )
    .await;
    assert!(!paused.is_empty(), "the demo has an open supplement");
    let resuming = &paused[..];
    let recent = strings(
        writer,
        "SELECT code FROM dossiers WHERE status = 10 AND finished_at >= '2026-06-25 00:00:00' ORDER BY code",
    )
    .await;
    assert!(
        recent.len() > 2,
        "the demo has recently resolved dossiers: {}",
        recent.len()
    );
    let template = strings(writer, "SELECT procedure_code FROM dossiers ORDER BY code").await;
    let agency = strings(writer, "SELECT agency_code FROM dossiers ORDER BY code").await;

    let mut script = vec![
        format!(
            "UPDATE dossiers SET status = 10, finished_at = {t}, returned_at = {t}, updated_at = {t} WHERE code IN ({})",
            quoted(finishing)
        ),
        format!(
            "UPDATE dossiers SET status = 5, updated_at = {t} WHERE code IN ({})",
            quoted(pausing)
        ),
        format!(
            "UPDATE supplements SET resumed_at = {t} WHERE resumed_at IS NULL AND dossier_code IN ({})",
            quoted(resuming)
        ),
        format!(
            "UPDATE dossiers SET status = 4, updated_at = {t} WHERE code IN ({})",
            quoted(resuming)
        ),
        // A late correction to a recent result: it was in fact late, and apologised for.
        format!(
            "UPDATE dossiers SET finished_at = '2026-06-29 16:00:00', due_at = '2026-06-26 17:00:00', updated_at = {t} WHERE code = '{}'",
            recent[0]
        ),
        format!(
            "INSERT INTO apologies (dossier_code, issued_at, new_due_at) VALUES ('{}', {t}, NULL)",
            recent[0]
        ),
        format!(
            "UPDATE dossiers SET digitized = TRUE, e_result = TRUE, updated_at = {t} WHERE code = '{}'",
            recent[1]
        ),
    ];
    for code in pausing {
        script.push(format!(
            "INSERT INTO supplements (dossier_code, requested_at, resumed_at) VALUES ('{code}', {t}, NULL)"
        ));
    }
    for i in 0..25 {
        script.push(format!(
            "INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, received_at, due_at, finished_at, returned_at, digitized, e_result, paid_online, updated_at) \
             VALUES ('NEW-{i:03}', '{}', '{}', {}, 2, {t}, '2026-07-10 17:00:00', NULL, NULL, FALSE, FALSE, FALSE, {t})",
            template[i * 7],
            agency[i * 7],
            1 + i % 3
        ));
    }
    for (i, rating) in ["very_satisfied", "satisfied", "dissatisfied", "meh"]
        .iter()
        .enumerate()
    {
        script.push(format!(
            "INSERT INTO evaluations (dossier_code, agency_code, evaluated_at, rating) VALUES (NULL, '{}', {t}, '{rating}')",
            agency[i]
        ));
    }
    let changed = finishing.len() + pausing.len() + resuming.len() + 2 + 25;
    writer
        .execute_script(&(script.join(";\n") + ";\n"))
        .await
        .expect("mutating the source");
    changed
}

async fn incremental_equals_full(engine: Engine) -> Option<()> {
    let db = demo_db(engine).await?;
    let writer = db.writer();
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(&db.url, None, &ConnectOptions::default()).expect("open");
    let everything = AgencyFilter::all();

    // The full read equals the one-pass computation.
    let loaded_at = at(30, 17, 45);
    let (mut ledger, first) = Ledger::load(
        &reader.source,
        &reader.files,
        &calendar,
        PeriodConvention::Calendar,
        &everything,
        loaded_at,
    )
    .await
    .expect("full read");
    let reference = full_recompute(&reader, &calendar, loaded_at).await;
    assert_same("full read", &first, &reference);
    // The chart service's ledger of days goes through the same changes.
    let (mut days, frame) = load_days(&reader, &calendar, loaded_at).await;
    assert!(
        frame.dataset.dossiers.len() < 4_000 / 4,
        "only dossiers that move with the clock stay individual: {}",
        frame.dataset.dossiers.len()
    );
    assert!(
        ledger.live_dossiers() > 0 && ledger.live_dossiers() < 4_000 / 2,
        "most dossiers settle, open ones stay live: {} live",
        ledger.live_dossiers()
    );

    // Nothing changed: the clock alone moves pending dossiers.
    let (quiet, changed) = refreshed(&mut ledger, &reader, &calendar, at(30, 23, 0)).await;
    assert_same(
        "no change",
        &quiet,
        &full_recompute(&reader, &calendar, at(30, 23, 0)).await,
    );
    assert!(changed > 0, "the overlap re-reads the last day's rows");
    let frame = refreshed_frame(&mut days, &reader, &calendar, at(30, 23, 0)).await;
    assert_frame_walks_alike(&frame, &reader, &calendar, at(30, 23, 0)).await;

    // An afternoon of changes.
    let expected_changes = afternoon_of_changes(&writer, at(30, 23, 10)).await;
    let now = at(30, 23, 30);
    let (after, changed) = refreshed(&mut ledger, &reader, &calendar, now).await;
    let reference = full_recompute(&reader, &calendar, now).await;
    assert_ne!(
        body(&reference),
        body(&quiet),
        "the changes must show in the metrics"
    );
    assert!(
        changed >= expected_changes,
        "{changed} < {expected_changes}"
    );
    assert_same("after an afternoon of changes", &after, &reference);
    let frame = refreshed_frame(&mut days, &reader, &calendar, now).await;
    assert_frame_walks_alike(&frame, &reader, &calendar, now).await;

    // Supplements answered a little later (the same day: the same periods).
    let answered = supplements_answered(&writer, at(30, 23, 35)).await;
    let now = at(30, 23, 38);
    let (after, changed) = refreshed(&mut ledger, &reader, &calendar, now).await;
    assert!(changed >= answered, "{changed} < {answered}");
    assert_same(
        "after supplements closed",
        &after,
        &full_recompute(&reader, &calendar, now).await,
    );
    let frame = refreshed_frame(&mut days, &reader, &calendar, now).await;
    assert_frame_walks_alike(&frame, &reader, &calendar, now).await;

    // An edit to settled history cannot be applied incrementally...
    let old = strings(
        &writer,
        "SELECT code FROM dossiers WHERE status = 10 AND finished_at < '2025-01-01 00:00:00' AND updated_at < '2025-01-01 00:00:00' ORDER BY code",
    )
    .await;
    writer
        .execute_script(&format!(
            "UPDATE dossiers SET status = 8, updated_at = {} WHERE code = '{}'",
            literal(at(30, 23, 40)),
            old[0]
        ))
        .await
        .expect("editing history");
    let now = at(30, 23, 50);
    match ledger
        .refresh(&reader.source, &reader.files, &calendar, now)
        .await
        .expect("refresh")
    {
        Refresh::FullReadNeeded(why) => assert!(why.contains(&old[0]), "{why}"),
        Refresh::Done { .. } => panic!("an edit to settled history was applied incrementally"),
    }
    match days
        .refresh_frame(&reader.source, &reader.files, &calendar, now)
        .await
        .expect("refresh of the days")
    {
        Refresh::FullReadNeeded(why) => assert!(why.contains(&old[0]), "{why}"),
        Refresh::Done { .. } => panic!("an edit to settled history was summed incrementally"),
    }
    let (mut days, _) = load_days(&reader, &calendar, now).await;
    // ... and the full read that follows is exact again.
    let (mut ledger, reloaded) = Ledger::load(
        &reader.source,
        &reader.files,
        &calendar,
        PeriodConvention::Calendar,
        &everything,
        now,
    )
    .await
    .expect("full read");
    assert_same(
        "full read after a history edit",
        &reloaded,
        &full_recompute(&reader, &calendar, now).await,
    );

    // A new month means new report periods: a full read.
    match ledger
        .refresh(&reader.source, &reader.files, &calendar, at(31, 8, 0))
        .await
        .expect("refresh")
    {
        Refresh::FullReadNeeded(why) => assert!(why.contains("period"), "{why}"),
        Refresh::Done { .. } => panic!("a new month was refreshed incrementally"),
    }
    // Days are not periods: a new month needs no full read of them.
    let frame = refreshed_frame(&mut days, &reader, &calendar, at(31, 8, 0)).await;
    assert_frame_walks_alike(&frame, &reader, &calendar, at(31, 8, 0)).await;

    reader.source.close().await;
    writer.close().await;
    db.drop_db().await;
    Some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_refresh_equals_full_recompute_on_sqlite() {
    incremental_equals_full(Engine::Sqlite)
        .await
        .expect("SQLite is built in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_refresh_equals_full_recompute_on_postgres() {
    incremental_equals_full(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_refresh_equals_full_recompute_on_mariadb() {
    incremental_equals_full(Engine::MySql).await;
}

/// Where a full read has one CPU (the exporter's refreshes on a two-core
/// machine), it sorts on the reading thread; SQLite does not refill rows.
#[test]
fn incremental_refresh_equals_full_recompute_on_one_cpu() {
    on_one_cpu(|| async {
        incremental_equals_full(Engine::Sqlite)
            .await
            .expect("SQLite is built in")
    });
}

/// Runs `work` as the exporter runs a refresh on a two-core machine: on a
/// thread of its own, confined to one CPU, with a single-threaded runtime.
fn on_one_cpu<F, Fut>(work: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future,
    Fut::Output: Send + 'static,
{
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    std::thread::spawn(move || {
        let this_thread = Pid::from_raw(0);
        let allowed = sched_getaffinity(this_thread).expect("affinity");
        let first = (0..CpuSet::count())
            .find(|&cpu| allowed.is_set(cpu).unwrap_or(false))
            .expect("a CPU");
        let mut one = CpuSet::new();
        one.set(first).expect("a CPU in range");
        sched_setaffinity(this_thread, &one).expect("confining the test to one CPU");
        assert_eq!(
            std::thread::available_parallelism().map(|n| n.get()).ok(),
            Some(1),
            "the read must see one CPU"
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work())
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A full read on PostgreSQL refills the rows the sorting is done with
/// (their strings reused), whether it sorts on a thread of its own (where
/// the test may use two CPUs or more) or on the reading thread (one CPU). The sorting thread may run
/// four handovers of 1,024 rows behind, so about forty handovers' worth of
/// dossiers make it refill: nothing of a spent row may leak into the next.
/// The one-pass computation reads every row fresh. (Cells turning NULL in a
/// refilled row: `pg_copy`'s unit tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_read_that_refills_spent_rows_equals_the_one_pass_computation() {
    full_read_refilling_rows().await;
}

#[test]
fn a_full_read_on_one_cpu_that_refills_spent_rows_equals_the_one_pass_computation() {
    on_one_cpu(full_read_refilling_rows);
}

async fn full_read_refilling_rows() {
    let Some(db) = ThrowawayDb::create(Engine::Postgres).await else {
        return;
    };
    let mut config = small_demo();
    config.dossiers = 40_000;
    let writer = db.writer();
    write_demo(&writer, &config, false).await.expect("load");
    writer.close().await;
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(&db.url, None, &ConnectOptions::default()).expect("open");
    let now = at(30, 17, 45);
    let (ledger, first) = Ledger::load(
        &reader.source,
        &reader.files,
        &calendar,
        PeriodConvention::Calendar,
        &AgencyFilter::all(),
        now,
    )
    .await
    .expect("full read");
    assert!(ledger.live_dossiers() > 0, "some dossiers stay live");
    assert_same(
        "full read of 40,000",
        &first,
        &full_recompute(&reader, &calendar, now).await,
    );
    reader.source.close().await;
    db.drop_db().await;
}
