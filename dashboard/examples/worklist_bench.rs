//! Speed of the worklist `/dossiers` (DESIGN §9; see BENCHMARKS.md):
//!
//! ```text
//! cargo run --release -p motcua-dashboard --example worklist_bench -- 'sqlite:motcua-data/demo.sqlite?mode=ro' 34
//! ```
//!
//! Loads the source once, then multiplies it in memory `SCALE` times (each
//! copy's open dossiers get their own codes), so that the 300 000-dossier
//! demo stands for a 10-million-dossier province with about as many
//! pending dossiers per million as the demo has. Then, through the router
//! as a client calls it, at the demo's "now": a page of 100 overdue rows,
//! the last such page, every pending dossier as JSON, and the full CSV,
//! whose chunks are counted as they arrive (20 runs each; median and
//! worst).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use futures_util::StreamExt;
use motcua_dashboard::data::Store;
use motcua_dashboard::{AppState, router};
use motcua_queries::model::OpenIdentity;
use motcua_queries::{ConnectOptions, Dataset, Reader, WorkCalendar};
use tower::ServiceExt;

fn stats(mut runs: Vec<Duration>) -> (f64, f64) {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(runs[runs.len() / 2]), ms(*runs.last().expect("runs")))
}

/// `scale` copies of the dataset's dossiers; open identities follow their copy.
fn multiplied(mut ds: Dataset, scale: usize) -> Dataset {
    let (dossiers, open) = (ds.dossiers.clone(), ds.open.clone());
    for copy in 1..scale {
        let offset = (copy * dossiers.len()) as u32;
        ds.dossiers.extend_from_slice(&dossiers);
        ds.open.extend(open.iter().map(|o| OpenIdentity {
            dossier: o.dossier + offset,
            code: format!("{}-{copy}", o.code).into(),
            procedure: o.procedure.clone(),
            status: o.status,
        }));
    }
    ds
}

/// GETs `uri`; returns the body's size and how many chunks it came in.
async fn fetch(state: &AppState, uri: &str) -> (usize, usize) {
    let response = router(state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert!(
        response.status().is_success(),
        "{uri}: {}",
        response.status()
    );
    let mut stream = response.into_body().into_data_stream();
    let (mut bytes, mut chunks) = (0, 0);
    while let Some(chunk) = stream.next().await {
        bytes += chunk.expect("a chunk").len();
        chunks += 1;
    }
    (bytes, chunks)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: worklist_bench DATABASE_URL [SCALE]"))?;
    let scale: usize = args.next().as_deref().unwrap_or("1").parse()?;
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(&url, None, &ConnectOptions::default())?;
    let dataset = multiplied(reader.read(calendar.timezone()).await?, scale.max(1));
    println!(
        "{} intake dossiers, {} open, after multiplying by {scale}",
        dataset.dossiers.len(),
        dataset.open.len()
    );
    // "Now": the last instant anything was received, as the demo's clock.
    let now = dataset
        .dossiers
        .iter()
        .map(|d| d.received)
        .max()
        .unwrap_or_default();
    let mut state = AppState::new(Store::fixed(dataset, calendar.timezone()), calendar);
    state.fixed_now = Some(now);

    fetch(&state, "/dossiers?format=json&state=pending").await;
    let json: serde_json::Value = {
        let response = router(state.clone())
            .oneshot(Request::get("/dossiers?format=json&state=overdue").body(Body::empty())?)
            .await?;
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await?)?
    };
    let overdue = json["rows"].as_array().map_or(0, Vec::len);
    let last_page = overdue.div_ceil(100).max(1);
    for (what, uri) in [
        ("HTML page 1 of overdue (100 rows)", "/dossiers".to_owned()),
        (
            "HTML last page of overdue",
            format!("/dossiers?page={last_page}"),
        ),
        (
            "JSON of every pending dossier",
            "/dossiers?format=json&state=pending".to_owned(),
        ),
        (
            "CSV of every pending dossier (streamed)",
            "/dossiers?format=csv&state=pending".to_owned(),
        ),
    ] {
        let mut size = (0, 0);
        let mut runs = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            size = fetch(&state, &uri).await;
            runs.push(t.elapsed());
        }
        let (median, worst) = stats(runs);
        println!(
            "{what:<42} median {median:7.1} ms, worst {worst:7.1} ms ({} bytes in {} chunks)",
            size.0, size.1
        );
    }
    println!("overdue dossiers: {overdue}");
    Ok(())
}
