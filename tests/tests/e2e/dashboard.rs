//! The dashboard as a person sees it: the service on a loopback port, the
//! report page loaded by a headless Chromium (Debian package `chromium`),
//! a screenshot that must not be blank and must show the charts' colours,
//! and a DOM probe confirming every chart image loaded.
//!
//! Without Chromium the test fails when `CI=true` and is skipped, saying
//! why, everywhere else.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use motcua_dashboard::data::Store;
use motcua_dashboard::{AppState, router};
use motcua_queries::incremental::DEFAULT_FULL_RESYNC_INTERVAL;
use motcua_queries::report::PeriodConvention;
use motcua_queries::{ConnectOptions, Reader, WorkCalendar};

use crate::support::{Engine, demo_db, require};

/// The dashboard's state over a database URL, on the real clock, with the
/// shipped calendar, period convention and indicator table.
pub(crate) fn state_over(url: &str) -> AppState {
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(url, None, &ConnectOptions::default()).expect("demo URL");
    let store = Store::new(reader, calendar.timezone(), Duration::from_secs(3600)).summing_with(
        calendar.clone(),
        PeriodConvention::Calendar,
        DEFAULT_FULL_RESYNC_INTERVAL,
    );
    AppState::new(store, calendar)
}

/// The dashboard's state over a database URL, with "now" fixed after the demo.
fn state_for(url: &str) -> AppState {
    let mut state = state_over(url);
    state.fixed_now = Some(motcua_queries::model::ts_of(
        chrono::NaiveDate::from_ymd_opt(2026, 7, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("a date"),
    ));
    state
}

pub(crate) async fn fetch(app: &axum::Router, uri: &str) -> (u16, Vec<u8>) {
    use tower::ServiceExt;
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 32 << 20)
        .await
        .expect("body");
    (status, body.to_vec())
}

/// The report the dashboard serves (JSON and CSV) is the same whichever
/// engine holds the data.
#[tokio::test]
async fn the_served_report_is_identical_on_every_engine() {
    let uris = [
        "/reports/2025?format=json",
        "/reports/2026-Q2?format=json",
        "/reports/2025-H2?format=csv",
        "/reports/2026-06?format=csv&lang=en",
    ];
    let mut reference: Option<Vec<Vec<u8>>> = None;
    for engine in Engine::ALL {
        let Some(db) = demo_db(engine).await else {
            continue;
        };
        let app = router(state_for(&db.url));
        let mut bodies = Vec::new();
        for uri in uris {
            let (status, body) = fetch(&app, uri).await;
            assert_eq!(
                status,
                200,
                "{engine:?} {uri}: {}",
                String::from_utf8_lossy(&body)
            );
            bodies.push(body);
        }
        db.drop_db().await;
        match &reference {
            None => reference = Some(bodies),
            Some(r) => {
                for ((a, b), uri) in r.iter().zip(&bodies).zip(uris) {
                    assert!(a == b, "{engine:?}: {uri} differs from SQLite");
                }
            }
        }
    }
    let reference = reference.expect("SQLite ran");
    assert!(String::from_utf8_lossy(&reference[0]).contains("\"received_total\""));
}

/// The Okabe–Ito colours the charts' bars are filled with.
const CHART_COLOURS: [[u8; 3]; 5] = [
    [0x00, 0x72, 0xB2], // blue
    [0xD5, 0x5E, 0x00], // vermillion
    [0x00, 0x9E, 0x73], // bluish green
    [0xE6, 0x9F, 0x00], // orange
    [0x56, 0xB4, 0xE9], // sky blue
];

fn chromium() -> Result<PathBuf, String> {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return Ok(PathBuf::from(candidate));
        }
    }
    Err("no chromium in /usr/bin (Debian package `chromium`)".into())
}

/// Runs headless Chromium with a fresh profile; returns its stdout.
async fn run_chromium(browser: &Path, profile: &Path, args: &[String]) -> String {
    let mut cmd = tokio::process::Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium finished within 120 s")
        .expect("chromium started");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A 1400×3200 screenshot that is not blank and shows every chart colour.
fn assert_shows_the_charts(png_bytes: &[u8]) {
    let (w, h, distinct, counts) = analyse(png_bytes);
    assert_eq!((w, h), (1400, 3200));
    assert!(distinct > 200, "only {distinct} colours: a blank page?");
    for (colour, n) in CHART_COLOURS.iter().zip(&counts) {
        assert!(
            *n > 500,
            "chart colour {colour:02X?} on only {n} pixels: charts not shown?"
        );
    }
}

/// Distinct colours of a PNG, and how many pixels have each chart colour.
fn analyse(png_bytes: &[u8]) -> (u32, u32, usize, Vec<usize>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let n = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(n).collect();
    let distinct: HashSet<&[u8]> = pixels.iter().copied().collect();
    let counts = CHART_COLOURS
        .iter()
        .map(|c| {
            pixels
                .iter()
                .filter(|p| p[..3].iter().zip(c).all(|(a, b)| a.abs_diff(*b) <= 6))
                .count()
        })
        .collect();
    (info.width, info.height, distinct.len(), counts)
}

#[tokio::test]
async fn chromium_shows_the_report_with_its_charts() {
    let Some(browser) = require("headless Chromium", chromium()) else {
        return;
    };
    let db = demo_db(Engine::Sqlite)
        .await
        .expect("SQLite is always available");
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(&db.url, None, &ConnectOptions::default()).expect("demo URL");
    let store = Store::new(reader, calendar.timezone(), Duration::from_secs(3600)).summing_with(
        calendar.clone(),
        PeriodConvention::Calendar,
        DEFAULT_FULL_RESYNC_INTERVAL,
    );
    let state = AppState::new(store, calendar);
    let loaded = state.store.get().await.expect("the demo loads");
    // One agency keeps the table short, so the charts are on the first screen.
    let ds = &loaded.dataset;
    let busiest = {
        let mut counts = vec![0usize; ds.agency_codes.len()];
        for d in &ds.dossiers {
            counts[d.agency as usize] += 1;
        }
        (0..counts.len())
            .max_by_key(|i| counts[*i])
            .expect("agencies")
    };
    let agency = ds.agency_codes[busiest].clone();
    let report_path = format!("/reports/2025?agency={agency}");

    let (result, bytes) = probe_and_shoot(&browser, state, &report_path, "report").await;
    let expected = motcua_dashboard::charts::ChartKind::REPORT.len();
    assert_eq!(
        result,
        format!("images {expected}/{expected}"),
        "the DOM probe says {result:?}"
    );

    // 2. The screenshot: not blank, and the charts' colours on it.
    assert_shows_the_charts(&bytes);
    db.drop_db().await;
}

/// Serves `state` on a loopback port and loads `path` in headless
/// Chromium twice: in a frame of a probe page that reports how many of its
/// images loaded ("images 3/3"; lazy images are asked for at once, and the
/// probe waits for them), and alone for a 1400×3200 screenshot.
async fn probe_and_shoot(
    browser: &Path,
    state: AppState,
    path: &str,
    tag: &str,
) -> (String, Vec<u8>) {
    let probe = format!(
        "<!DOCTYPE html><html><body><iframe id=\"r\" src=\"{path}\" width=\"1400\" height=\"900\"></iframe>\
         <pre id=\"result\">pending</pre><script>\
         window.addEventListener('load', function () {{\
           var imgs = Array.from(document.getElementById('r').contentDocument.images);\
           imgs.forEach(function (i) {{ i.loading = 'eager'; }});\
           var tries = 0;\
           (function check() {{\
             var ok = imgs.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }}).length;\
             if (ok < imgs.length && tries++ < 50) {{ setTimeout(check, 100); return; }}\
             document.getElementById('result').textContent = 'images ' + ok + '/' + imgs.length;\
           }})();\
         }});</script></body></html>"
    );
    let app = router(state).route(
        "/probe",
        get(move || std::future::ready(Html(probe.clone()))),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let work = std::env::temp_dir().join(format!("motcua-chromium-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("temp dir");
    let dom = run_chromium(
        browser,
        &work.join("profile-dom"),
        &["--dump-dom".to_owned(), format!("http://{addr}/probe")],
    )
    .await;
    let result = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or("no result")
        .to_owned();
    let shot = work.join("page.png");
    run_chromium(
        browser,
        &work.join("profile-shot"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,3200".to_owned(),
            format!("http://{addr}{path}"),
        ],
    )
    .await;
    let bytes = std::fs::read(&shot).expect("a screenshot");
    server.abort();
    let _ = std::fs::remove_dir_all(&work);
    (result, bytes)
}

/// The service index page (DESIGN §8) as a person sees it: the ranking and
/// the stacked-bar chart, loaded.
#[tokio::test]
async fn chromium_shows_the_service_index_with_its_chart() {
    let Some(browser) = require("headless Chromium", chromium()) else {
        return;
    };
    let db = demo_db(Engine::Sqlite)
        .await
        .expect("SQLite is always available");
    let state = state_for(&db.url);
    let (result, bytes) = probe_and_shoot(&browser, state, "/index/2025-Q4", "index").await;
    assert_eq!(result, "images 1/1", "the DOM probe says {result:?}");
    // The chart's group colours: blue (progress), sky blue (online),
    // green (digitisation), vermillion (satisfaction).
    assert_shows_the_charts(&bytes);
    db.drop_db().await;
}

/// The worklist (DESIGN §9) and the exporter agree: at one instant, the
/// exporter's due-soon and overdue gauges, computed from its own read of
/// the source, equal the counts of the dashboard's JSON lists.
#[tokio::test]
async fn the_worklist_counts_equal_the_exporters_gauges() {
    use motcua_exporter::metrics::{RefreshStatus, encode};
    use motcua_queries::report::PeriodConvention;
    use motcua_queries::{Judge, Snapshot};
    use std::collections::BTreeMap;

    let db = demo_db(Engine::Sqlite)
        .await
        .expect("SQLite is always available");
    let state = state_for(&db.url);
    let now = state.fixed_now.expect("a fixed instant");
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(&db.url, None, &ConnectOptions::default()).expect("demo URL");
    let dataset = reader.read(calendar.timezone()).await.expect("a full read");
    let snapshot = Snapshot::compute(
        &Judge::new(&dataset, &calendar),
        now,
        PeriodConvention::Calendar,
    );
    let status = RefreshStatus {
        up: true,
        ..RefreshStatus::default()
    };
    let metrics = String::from_utf8(encode(Some(&snapshot), &status)).expect("UTF-8");
    // Per agency, summed over sectors.
    let gauge = |name: &str, state_label: Option<&str>| {
        let mut by_agency: BTreeMap<String, u64> = BTreeMap::new();
        for line in metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
        {
            if state_label.is_some_and(|s| !line.contains(&format!("state=\"{s}\""))) {
                continue;
            }
            let agency = line
                .split("agency=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .expect("an agency label");
            let value: f64 = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .expect("a value");
            *by_agency.entry(agency.to_owned()).or_default() += value as u64;
        }
        by_agency.retain(|_, n| *n > 0);
        by_agency
    };
    let app = router(state);
    let listed = |body: Vec<u8>| {
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let mut by_agency: BTreeMap<String, u64> = BTreeMap::new();
        for row in json["rows"].as_array().expect("rows") {
            *by_agency
                .entry(row["agency"].as_str().expect("agency").to_owned())
                .or_default() += 1;
        }
        by_agency
    };
    for (state_param, name, label) in [
        ("overdue", "motcua_dossiers_pending", Some("overdue")),
        ("paused", "motcua_dossiers_pending", Some("paused")),
        ("in_time", "motcua_dossiers_pending", Some("in_time")),
        ("due_soon", "motcua_dossiers_due_soon", None),
    ] {
        let (status, body) =
            fetch(&app, &format!("/dossiers?state={state_param}&format=json")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let from_list = listed(body);
        let from_gauges = gauge(name, label);
        assert!(
            !from_gauges.is_empty(),
            "{state_param}: the demo has such dossiers at {now}"
        );
        assert_eq!(from_list, from_gauges, "{state_param}");
    }
    db.drop_db().await;
}

/// The worklist page as a person sees it: the table, coloured by state.
#[tokio::test]
async fn chromium_shows_the_worklist() {
    let Some(browser) = require("headless Chromium", chromium()) else {
        return;
    };
    let db = demo_db(Engine::Sqlite)
        .await
        .expect("SQLite is always available");
    let state = state_for(&db.url);
    let (result, bytes) = probe_and_shoot(&browser, state, "/dossiers?lang=en", "worklist").await;
    assert_eq!(result, "images 0/0", "the DOM probe says {result:?}");
    let png = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = png.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    // The overdue rows' colour: the table is there, coloured by state.
    let overdue = [0xFD, 0xE2, 0xE1];
    let n = buf
        .chunks(channels)
        .filter(|p| p.len() >= 3 && p[..3] == overdue)
        .count();
    assert!(n > 500, "overdue rows' colour on only {n} pixels");
    db.drop_db().await;
}

/// The home page as a person sees it: every chart of the period, loaded.
#[tokio::test]
async fn chromium_shows_the_home_page_with_every_chart() {
    let Some(browser) = require("headless Chromium", chromium()) else {
        return;
    };
    let db = demo_db(Engine::Sqlite)
        .await
        .expect("SQLite is always available");
    let state = state_for(&db.url);
    let (result, bytes) = probe_and_shoot(&browser, state, "/?period=2025-Q4", "home").await;
    let expected = motcua_dashboard::charts::ChartKind::ALL.len();
    assert_eq!(
        result,
        format!("images {expected}/{expected}"),
        "the DOM probe says {result:?}"
    );
    assert_shows_the_charts(&bytes);
    db.drop_db().await;
}
