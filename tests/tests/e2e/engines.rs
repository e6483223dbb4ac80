//! The same generated data in SQLite, PostgreSQL and MariaDB must give
//! byte-identical /metrics bodies and identical Biểu 06 reports: the SQL
//! files, the decoding of each engine's column types and the KPI code are
//! all on trial here.

use chrono::NaiveDate;
use motcua_exporter::metrics::{RefreshStatus, encode, is_timing_line};
use motcua_queries::report::{PeriodConvention, PeriodName, build_report};
use motcua_queries::{ConnectOptions, Judge, Reader, Snapshot, WorkCalendar, model};

use crate::support::{Engine, demo_db};

/// "Now" for every engine: the demo's last afternoon.
fn fixed_now() -> model::Ts {
    model::ts_of(
        NaiveDate::from_ymd_opt(2026, 6, 30)
            .and_then(|d| d.and_hms_opt(16, 0, 0))
            .expect("valid instant"),
    )
}

struct Outputs {
    metrics: String,
    reports: Vec<String>,
}

async fn outputs(engine: Engine) -> Option<Outputs> {
    let db = demo_db(engine).await?;
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(&db.url, None, &ConnectOptions::default()).expect("open");
    reader
        .source
        .check(&reader.files)
        .await
        .expect("SQL files fit the schema");
    let dataset = reader.read(calendar.timezone()).await.expect("read");
    reader.source.close().await;
    db.drop_db().await;

    let judge = Judge::new(&dataset, &calendar);
    let snapshot = Snapshot::compute(&judge, fixed_now(), PeriodConvention::Calendar);
    let status = RefreshStatus {
        up: true,
        ..RefreshStatus::default()
    };
    let body = String::from_utf8(encode(Some(&snapshot), &status)).expect("UTF-8 body");
    let metrics = body
        .lines()
        .filter(|l| !is_timing_line(l))
        .collect::<Vec<_>>()
        .join("\n");
    let reports = ["2026-Q2", "2025", "2025-H2", "2026-06"]
        .iter()
        .map(|p| {
            let name: PeriodName = p.parse().expect("period");
            let (from, to) = name.bounds(PeriodConvention::Calendar);
            let report = build_report(&judge, name.to_string(), from, to, fixed_now(), None);
            serde_json::to_string_pretty(&report).expect("JSON")
        })
        .collect();
    Some(Outputs { metrics, reports })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engine_gives_identical_metrics_and_reports() {
    let reference = outputs(Engine::Sqlite).await.expect("SQLite is built in");
    // The reference itself must be substantial, or identity proves nothing.
    for needle in [
        "motcua_dossiers_resolved_total{agency=",
        "state=\"overdue\"",
        "motcua_dossier_processing_workdays_bucket{",
        "motcua_evaluations_total{",
        "motcua_source_rows_rejected{reason=\"unknown_status\"}",
        "motcua_report_dossiers{",
        "Điện Biên",
    ] {
        assert!(
            reference.metrics.contains(needle),
            "SQLite body lacks {needle}"
        );
    }
    assert!(reference.metrics.lines().count() > 1_000);
    assert!(reference.reports[0].contains("\"received_total\""));

    for engine in [Engine::Postgres, Engine::MySql] {
        let Some(other) = outputs(engine).await else {
            continue;
        };
        if other.metrics != reference.metrics {
            let diff: Vec<_> = reference
                .metrics
                .lines()
                .zip(other.metrics.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .collect();
            panic!("{engine:?} /metrics differs from SQLite, first lines: {diff:#?}");
        }
        for (a, b) in reference.reports.iter().zip(&other.reports) {
            assert_eq!(a, b, "{engine:?} report differs from SQLite");
        }
    }
}
