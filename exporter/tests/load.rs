//! Load: 200 keep-alive clients scrape `/metrics` of the real binary for a
//! bounded time (`MOTCUA_LOAD_SECONDS`, default 60) while it refreshes every
//! second. No errors, latencies printed, memory flat.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Running, exporter, shared_demo};
use motcua_testkit::rss_kib;
use motcua_web::test_support::load;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_scrapers_for_a_bounded_time() {
    let seconds: u64 = std::env::var("MOTCUA_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut command = exporter();
    command
        .env(
            "MOTCUA_DATABASE_URL",
            format!("sqlite:{}?mode=ro", shared_demo().display()),
        )
        .env("RUST_LOG", "info")
        .args(["--listen", "127.0.0.1:0", "--refresh-interval", "1s"]);
    let mut exporter = Running::spawn(command);
    let addr: SocketAddr = exporter.addr().parse().unwrap();
    exporter.wait_line("refresh succeeded");

    let pid = exporter.pid();
    let before = rss_kib(pid);
    // Memory is judged from a quarter into the run (caches and buffers warm)
    // to its end: under steady load it must stay flat.
    let run = tokio::spawn({
        let paths: Vec<String> = vec!["/metrics".to_owned()];
        async move { load(addr, &paths, 200, Duration::from_secs(seconds)).await }
    });
    tokio::time::sleep(Duration::from_secs(seconds) / 4).await;
    let warm = rss_kib(pid);
    let report = run.await.unwrap();
    let after = rss_kib(pid);
    drop(exporter);
    println!(
        "exporter /metrics, 200 clients, {seconds} s: {} requests, {} errors, p50 {:?}, p99 {:?}, max {:?}; RSS {before} KiB, {warm} KiB warm, {after} KiB at the end",
        report.requests, report.errors, report.p50, report.p99, report.max
    );
    assert_eq!(report.errors, 0, "first error: {:?}", report.first_error);
    assert!(report.requests >= 200, "{report:?}");
    assert!(
        after <= warm + warm / 4 + 16 * 1024,
        "memory grew under load: {warm} KiB warm → {after} KiB at the end"
    );
}
