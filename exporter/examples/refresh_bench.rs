//! Measures the exporter over the demo database: a full refresh (read,
//! compute, encode), an incremental refresh, and `/metrics` latency while
//! full refreshes run back to back.
//!
//! ```sh
//! cargo run --release -p motcua-exporter --example refresh_bench -- [DOSSIERS] [DATA_DIR]
//! ```
//! DOSSIERS defaults to 300000, DATA_DIR to target/bench-data (the demo
//! database is generated there once per size). A database URL in place of
//! DOSSIERS measures that database (e.g. one loaded by `load_postgres`).
//! `MOTCUA_BENCH_RUNS=N` times N refreshes of each kind (default 7);
//! `MOTCUA_BENCH_SKIP_ONE_PASS=1` stops after the exporter's own paths and
//! their peak memory (before the one-pass read and the scrape test).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use motcua_exporter::config::{Cli, Settings};
use motcua_exporter::metrics::{RefreshStatus, encode};
use motcua_exporter::refresh::{Pipeline, Refresher};
use motcua_exporter::state::Shared;
use motcua_queries::incremental::Refresh;
use motcua_queries::report::PeriodConvention;
use motcua_queries::{Judge, Snapshot, now_local};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Refreshes timed per kind (`MOTCUA_BENCH_RUNS` overrides, e.g. 1 at 10M dossiers).
fn refreshes() -> usize {
    std::env::var("MOTCUA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
}
const SCRAPES: usize = 1000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let zone = motcua_queries::WorkCalendar::builtin().timezone();
    let first = args.next().unwrap_or_else(|| "300000".into());
    // A database URL instead of a size measures that database as it is.
    let url: motcua_exporter::config::DatabaseUrl = if first.contains("://") {
        motcua_exporter::config::DatabaseUrl::new(first.clone())
    } else {
        let dossiers: u64 = first.parse()?;
        let data_dir = std::path::PathBuf::from(
            args.next()
                .unwrap_or_else(|| format!("target/bench-data/{dossiers}")),
        );
        let (db, _) = motcua_exporter::demo::prepare(&data_dir, dossiers, zone, true).await?;
        motcua_exporter::demo::sqlite_url(&db)
    };
    let dossiers = &first;

    let cli = Cli::parse_from([
        "motcua-exporter",
        "--database-url",
        url.expose(),
        "--refresh-interval",
        "1s",
    ]);
    let settings = Settings::resolve(&cli, &|_| None).context("settings")?;
    let pipeline = Pipeline::build(&settings, &url).context("pipeline")?;

    println!("full refresh over {dossiers} ({} runs):", refreshes());
    let mut totals = Vec::new();
    let mut ledger = None;
    for run in 0..refreshes() {
        let t0 = Instant::now();
        let (l, snapshot) = pipeline.load(now_local(zone)).await?;
        let t1 = Instant::now();
        let body = encode(Some(&snapshot), &RefreshStatus::default());
        let t2 = Instant::now();
        println!(
            "  run {run}: read+compute {:>6.0} ms  encode {:>3.0} ms  total {:>6.0} ms  ({} series, {} bytes, {} live dossiers)",
            ms(t1 - t0),
            ms(t2 - t1),
            ms(t2 - t0),
            body.iter().filter(|b| **b == b'\n').count(),
            body.len(),
            l.live_dossiers(),
        );
        totals.push(t2 - t0);
        ledger = Some(l);
    }
    summary(&mut totals);

    println!(
        "incremental refresh, no change but the last day re-read ({} runs):",
        refreshes()
    );
    let mut ledger = ledger.context("a full read ran")?;
    let mut totals = Vec::new();
    for run in 0..refreshes() {
        let t0 = Instant::now();
        let Refresh::Done { snapshot, changed } =
            pipeline.refresh(&mut ledger, now_local(zone)).await?
        else {
            anyhow::bail!("an unchanged source needed a full read");
        };
        let body = encode(Some(&snapshot), &RefreshStatus::default());
        let t1 = Instant::now();
        println!(
            "  run {run}: total {:>6.0} ms  ({changed} dossiers re-read, {} bytes)",
            ms(t1 - t0),
            body.len()
        );
        totals.push(t1 - t0);
    }
    summary(&mut totals);

    // Before the one-pass read below, which holds every row at once.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        {
            println!("{line}");
        }
    }
    if std::env::var_os("MOTCUA_BENCH_SKIP_ONE_PASS").is_some() {
        return Ok(());
    }

    // One-pass reference (what the dashboard does): read everything, then compute.
    let t0 = Instant::now();
    let dataset = pipeline.reader.read(zone).await?;
    let t1 = Instant::now();
    let judge = Judge::new(&dataset, &pipeline.calendar);
    let _ = Snapshot::compute(&judge, now_local(zone), PeriodConvention::Calendar);
    println!(
        "one-pass read {:.0} ms, compute {:.0} ms",
        ms(t1 - t0),
        ms(t1.elapsed())
    );

    // Worst case for scrapes: every refresh a full read.
    let mut settings = settings;
    settings.source.full_resync_interval = Duration::ZERO;
    let pipeline = Pipeline::build(&settings, &url).context("pipeline")?;

    // /metrics while the refresher runs back to back on the other core.
    let shared = Shared::new();
    let mut refresher = Refresher::new(Arc::clone(&shared));
    refresher.refresh_once(&pipeline).await;
    let background = tokio::spawn({
        let pipeline = pipeline.clone();
        async move {
            loop {
                refresher.refresh_once(&pipeline).await;
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = motcua_exporter::http::router(Arc::clone(&shared));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut latencies = Vec::with_capacity(SCRAPES);
    let mut body_len = 0;
    for _ in 0..SCRAPES {
        let t0 = Instant::now();
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = Vec::with_capacity(2 << 20);
        stream.read_to_end(&mut response).await?;
        latencies.push(t0.elapsed());
        anyhow::ensure!(response.starts_with(b"HTTP/1.1 200"), "scrape failed");
        body_len = response.len();
    }
    background.abort();
    latencies.sort();
    let pct =
        |p: f64| ms(latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]);
    println!(
        "/metrics ({body_len} bytes, new connection each, {SCRAPES} scrapes during back-to-back refreshes): \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        ms(latencies[latencies.len() - 1])
    );
    Ok(())
}

fn summary(totals: &mut [Duration]) {
    totals.sort();
    println!(
        "  total: min {:.0} ms, median {:.0} ms, max {:.0} ms",
        ms(totals[0]),
        ms(totals[totals.len() / 2]),
        ms(totals[totals.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
