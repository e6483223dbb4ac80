//! The refresh loop: failures keep the last good metrics with motcua_up 0,
//! and the exporter recovers by itself; encoding is deterministic.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{pipeline_for_file, samples, scratch, shared_demo};
use motcua_exporter::metrics::{RefreshStatus, encode, is_timing_line};
use motcua_exporter::{Refresher, Shared};
use tokio::sync::watch;

fn data_lines(body: &str) -> Vec<&str> {
    body.lines()
        .filter(|l| l.starts_with("motcua_dossiers_received_total"))
        .collect()
}

fn value(body: &str, series: &str) -> f64 {
    samples(body)
        .into_iter()
        .find(|s| s.name == series && s.labels.is_empty())
        .unwrap_or_else(|| panic!("{series} missing"))
        .value
        .parse()
        .unwrap()
}

#[tokio::test]
async fn failure_keeps_last_snapshot_and_recovers() {
    let shared = Shared::new();
    let mut refresher = Refresher::new(Arc::clone(&shared));
    let good = pipeline_for_file(shared_demo());
    let dir = scratch("missing");
    let bad = pipeline_for_file(&dir.join("no-such.sqlite"));

    let wait = refresher.refresh_once(&good).await;
    assert!(wait <= Duration::from_secs(1));
    let first = String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap();
    assert_eq!(value(&first, "motcua_up"), 1.0);
    assert!(value(&first, "motcua_last_refresh_success_timestamp_seconds") > 1.6e9);
    let received = data_lines(&first);
    assert!(!received.is_empty());

    // The source goes away: up 0, one failure, the data series stay.
    let wait = refresher.refresh_once(&bad).await;
    assert_eq!(wait, Duration::from_secs(1), "first retry after 1 s");
    let failed = String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap();
    assert_eq!(value(&failed, "motcua_up"), 0.0);
    assert_eq!(value(&failed, "motcua_refresh_failures_total"), 1.0);
    assert_eq!(data_lines(&failed), received, "last good snapshot kept");
    assert_eq!(
        value(&failed, "motcua_last_refresh_success_timestamp_seconds"),
        value(&first, "motcua_last_refresh_success_timestamp_seconds")
    );
    assert!(!shared.status().up);
    assert!(shared.snapshot().is_some());

    // It comes back: up 1 again, the failure count stays (a counter).
    refresher.refresh_once(&good).await;
    let back = String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap();
    assert_eq!(value(&back, "motcua_up"), 1.0);
    assert_eq!(value(&back, "motcua_refresh_failures_total"), 1.0);
    assert_eq!(data_lines(&back), received);
}

#[tokio::test]
async fn backoff_grows_with_consecutive_failures() {
    let shared = Shared::new();
    let mut refresher = Refresher::new(Arc::clone(&shared));
    let dir = scratch("backoff");
    let mut bad = pipeline_for_file(&dir.join("no-such.sqlite"));
    bad.refresh_interval = Duration::from_secs(5);
    let mut waits = Vec::new();
    for _ in 0..5 {
        waits.push(refresher.refresh_once(&bad).await.as_secs());
    }
    assert_eq!(waits, [1, 2, 4, 5, 5]);
    assert_eq!(shared.status().failures_total, 5);
    assert!(shared.snapshot().is_none());
}

#[tokio::test]
async fn loop_recovers_when_the_database_appears() {
    let dir = scratch("appears");
    let path = dir.join("late.sqlite");
    let shared = Shared::new();
    let (_pipeline_tx, pipeline_rx) = watch::channel(Arc::new(pipeline_for_file(&path)));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(Refresher::new(Arc::clone(&shared)).run(pipeline_rx, shutdown_rx));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while shared.status().failures_total == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failure recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!shared.status().up);

    std::fs::copy(shared_demo(), &path).unwrap();
    while !shared.status().up {
        assert!(tokio::time::Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap();
    assert!(body.contains("motcua_dossiers_received_total{"));

    shutdown_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_new_pipeline_is_refreshed_at_once() {
    let dir = scratch("swap");
    let shared = Shared::new();
    let mut slow = pipeline_for_file(&dir.join("missing.sqlite"));
    slow.refresh_interval = Duration::from_secs(3600);
    let (pipeline_tx, pipeline_rx) = watch::channel(Arc::new(slow));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(Refresher::new(Arc::clone(&shared)).run(pipeline_rx, shutdown_rx));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while shared.status().failures_total == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The next retry is 1 s away; a reload must not wait for it (nor for the hour).
    let mut good = pipeline_for_file(shared_demo());
    good.refresh_interval = Duration::from_secs(3600);
    pipeline_tx.send(Arc::new(good)).unwrap();
    while !shared.status().up {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reload did not refresh"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown_tx.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn encoding_is_deterministic() {
    let pipeline = pipeline_for_file(shared_demo());
    let now = motcua_queries::demo::DemoConfig::new(common::demo_end()).now();
    // Two independent reads of the same data at the same instant.
    let a = pipeline.snapshot_at(Some(now)).await.unwrap();
    let b = pipeline.snapshot_at(Some(now)).await.unwrap();
    let status = RefreshStatus {
        up: true,
        ..RefreshStatus::default()
    };
    let body_a = encode(Some(&a), &status);
    assert_eq!(body_a, encode(Some(&b), &status));
    assert_eq!(body_a, encode(Some(&a), &status));

    // Only the timing series differ between two refreshes.
    let later = RefreshStatus {
        last_success_unix: 1_750_000_000.25,
        last_duration_seconds: 1.5,
        ..status.clone()
    };
    let text_a = String::from_utf8(body_a).unwrap();
    let text_b = String::from_utf8(encode(Some(&b), &later)).unwrap();
    assert_ne!(text_a, text_b);
    let stable = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !is_timing_line(l))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(stable(&text_a), stable(&text_b));
    let differing: Vec<_> = text_a
        .lines()
        .zip(text_b.lines())
        .filter(|(x, y)| x != y)
        .collect();
    assert_eq!(differing.len(), 2, "{differing:?}");
}

fn sum_of(body: &str, name: &str) -> f64 {
    samples(body)
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value.parse::<f64>().unwrap())
        .sum()
}

fn count_of(body: &str, kind: &str) -> f64 {
    samples(body)
        .iter()
        .find(|s| s.name == "motcua_refreshes_total" && s.labels["kind"] == kind)
        .map(|s| s.value.parse().unwrap())
        .unwrap()
}

/// After the first full read, refreshes read only the changes; a new
/// dossier shows at once; `full_resync_interval = 0s` reads everything.
#[tokio::test]
async fn refreshes_after_the_first_read_only_the_changes() {
    let dir = scratch("incremental");
    let path = dir.join("demo.sqlite");
    std::fs::copy(shared_demo(), &path).unwrap();
    let pipeline = pipeline_for_file(&path);
    let shared = Shared::new();
    let mut refresher = Refresher::new(Arc::clone(&shared));

    refresher.refresh_once(&pipeline).await;
    let first = String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap();
    assert_eq!(
        (count_of(&first, "full"), count_of(&first, "incremental")),
        (1.0, 0.0)
    );
    let live = value(&first, "motcua_live_dossiers");
    assert!(live > 0.0 && live < common::DEMO_DOSSIERS as f64, "{live}");

    // Three dossiers arrive (stamped with the real clock, after the demo).
    let writer = motcua_queries::Source::open(
        &format!("sqlite:{}", path.display()),
        &motcua_queries::ConnectOptions {
            read_only: false,
            ..Default::default()
        },
    )
    .unwrap();
    let now = motcua_queries::now_local(pipeline.calendar.timezone());
    let stamp = motcua_queries::model::datetime_of(now).format("%Y-%m-%d %H:%M:%S");
    let mut script = String::new();
    for i in 0..3 {
        script += &format!(
            "INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, received_at, digitized, e_result, paid_online, updated_at) \
             SELECT 'NEW-{i}', procedure_code, agency_code, 2, 2, '{stamp}', FALSE, FALSE, FALSE, '{stamp}' FROM dossiers ORDER BY code LIMIT 1;\n"
        );
    }
    writer.execute_script(&script).await.unwrap();
    writer.close().await;

    refresher.refresh_once(&pipeline).await;
    let second = String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap();
    assert_eq!(
        (count_of(&second, "full"), count_of(&second, "incremental")),
        (1.0, 1.0)
    );
    assert_eq!(
        sum_of(&second, "motcua_dossiers_received_total"),
        sum_of(&first, "motcua_dossiers_received_total") + 3.0
    );
    assert_eq!(value(&second, "motcua_live_dossiers"), live + 3.0);

    // A pipeline that resyncs every time reads everything, with the same result.
    let url = motcua_exporter::demo::sqlite_url(&path);
    let mut settings = common::settings_for(url.expose());
    settings.source.full_resync_interval = Duration::ZERO;
    let always_full = motcua_exporter::refresh::Pipeline::build(&settings, &url).unwrap();
    refresher.refresh_once(&always_full).await;
    refresher.refresh_once(&always_full).await;
    let third = String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap();
    assert_eq!(
        (count_of(&third, "full"), count_of(&third, "incremental")),
        (3.0, 1.0)
    );
    assert_eq!(
        sum_of(&third, "motcua_dossiers_received_total"),
        sum_of(&second, "motcua_dossiers_received_total")
    );
}

/// Two shards that partition the agencies export, together, exactly the
/// unsharded exporter's source series, each agency by one shard only.
#[tokio::test]
async fn shards_partition_the_series() {
    let url = motcua_exporter::demo::sqlite_url(shared_demo());
    let body_for = |patterns: &[&str]| {
        let mut settings = common::settings_for(url.expose());
        settings.agency_filter = motcua_queries::shard::AgencyFilter::parse(
            &patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        let pipeline = motcua_exporter::refresh::Pipeline::build(&settings, &url).unwrap();
        async move {
            let shared = Shared::new();
            Refresher::new(Arc::clone(&shared))
                .refresh_once(&pipeline)
                .await;
            String::from_utf8(shared.metrics_body().plain.to_vec()).unwrap()
        }
    };
    let source_series = |body: &str| -> Vec<String> {
        body.lines()
            .filter(|l| l.contains("agency=\""))
            .map(str::to_owned)
            .collect()
    };
    let whole = source_series(&body_for(&[]).await);
    let a = source_series(&body_for(&["DBI", "DBI.S*", "DBI.CAT", "DBI.BDT"]).await);
    // Shard b: the districts and their communes, and since 1 July 2025 the
    // wards (P) and communes (X) directly under the province.
    let b_prefixes = ["DBI.T", "DBI.H", "DBI.P", "DBI.X"];
    let b = source_series(&body_for(&["DBI.T*", "DBI.H*", "DBI.P*", "DBI.X*"]).await);
    assert!(!a.is_empty() && !b.is_empty());
    assert!(
        b.iter().all(|l| b_prefixes
            .iter()
            .any(|p| l.contains(&format!("agency=\"{p}")))),
        "shard b exports only its agencies"
    );
    assert!(a.iter().all(|l| !b.contains(l)), "no series in both shards");
    let mut union: Vec<String> = a.into_iter().chain(b).collect();
    union.sort();
    let mut whole = whole;
    whole.sort();
    assert_eq!(union, whole);
}
