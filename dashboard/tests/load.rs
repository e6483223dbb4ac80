//! Load: 200 keep-alive clients fetch charts from the real binary for a
//! bounded time (`MOTCUA_LOAD_SECONDS`, default 60). No errors, latencies
//! printed, memory flat.

mod common;

use std::time::Duration;

use common::{Dashboard, demo_db, http_get, rss_kib, sqlite_ro};
use motcua_web::test_support::load;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_on_charts_for_a_bounded_time() {
    let seconds: u64 = std::env::var("MOTCUA_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let url = sqlite_ro(demo_db());
    let dashboard = Dashboard::serve(&[], &[("MOTCUA_DATABASE_URL", url.as_str())]);
    let addr = dashboard.addr.clone();
    // Warm up: the first request loads the source.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while http_get(&addr, "/charts/on_time_trend.png").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the service never served a chart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let paths: Vec<String> = [
        "on_time_trend.png",
        "timeliness_by_agency.png",
        "intake_by_channel.svg",
        "processing_time_distribution.png",
        "pending_by_agency.svg",
        "satisfaction_by_agency.png",
        "digitization_by_agency.png",
    ]
    .iter()
    .map(|c| format!("/charts/{c}?from=2025-01-01&to=2025-12-31&width=800&height=500"))
    .collect();

    let pid = dashboard.pid();
    let before = rss_kib(pid);
    // Memory is judged from a quarter into the run (caches and buffers warm)
    // to its end: under steady load it must stay flat.
    let run = tokio::spawn({
        let paths: Vec<String> = paths.clone();
        let addr = addr.parse().unwrap();
        async move { load(addr, &paths, 200, Duration::from_secs(seconds)).await }
    });
    tokio::time::sleep(Duration::from_secs(seconds) / 4).await;
    let warm = rss_kib(pid);
    let report = run.await.unwrap();
    let after = rss_kib(pid);
    println!(
        "dashboard charts, 200 clients, {seconds} s: {} requests, {} errors, p50 {:?}, p99 {:?}, max {:?}; RSS {before} KiB, {warm} KiB warm, {after} KiB at the end",
        report.requests, report.errors, report.p50, report.p99, report.max
    );
    assert_eq!(report.errors, 0, "first error: {:?}", report.first_error);
    assert!(report.requests >= 200, "{report:?}");
    assert!(
        after <= warm + warm / 4 + 16 * 1024,
        "memory grew under load: {warm} KiB warm → {after} KiB at the end"
    );
}
