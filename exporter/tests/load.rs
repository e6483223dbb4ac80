//! Load: 200 keep-alive clients scrape `/metrics` of the real binary for a
//! bounded time (`MOTCUA_LOAD_SECONDS`, default 60) while it refreshes every
//! second. No errors, latencies printed, memory flat.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::shared_demo;
use motcua_web::test_support::load;

const BIN: &str = env!("CARGO_BIN_EXE_motcua-exporter");

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_scrapers_for_a_bounded_time() {
    let seconds: u64 = std::env::var("MOTCUA_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut child = Command::new(BIN)
        .env_remove("MOTCUA_CONFIG")
        .env_remove("MOTCUA_WEB_CONFIG_FILE")
        .env(
            "MOTCUA_DATABASE_URL",
            format!("sqlite:{}?mode=ro", shared_demo().display()),
        )
        .env("RUST_LOG", "info")
        .env("MOTCUA_DATA_DIR", common::scratch_data_dir())
        .args(["--listen", "127.0.0.1:0", "--refresh-interval", "1s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(a) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
        {
            addr = Some(a.parse().unwrap());
        }
        if line.contains("refresh succeeded") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let addr = addr.expect("the exporter logs its address");

    let pid = child.id();
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
    let _ = child.kill();
    let _ = child.wait();
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
