//! Hostile input and source faults, by hand: SQL in every parameter,
//! `render --out` and `--queries-dir` pointed where they should not go,
//! absurd sizes, a source that is down (the real binary answers 503 at
//! once), and a read-only PostgreSQL role.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{Dashboard, get, http_get, pct, scratch, sqlite_ro, state_for_url};

/// SQL that would do harm if it ever reached a statement as text.
const SQL: &[&str] = &[
    "' OR 1=1--",
    "'; DROP TABLE dossiers;--",
    "1; DELETE FROM agencies",
    "2025'; UPDATE dossiers SET status=0;--",
    "x') ; TRUNCATE evaluations; --",
    "\" OR \"\"=\"",
];

/// Every request that carries `sql` somewhere: in each parameter and path segment.
fn injected(sql: &str) -> Vec<String> {
    let s = pct(sql.as_bytes());
    let mut uris = vec![
        format!("/reports/{s}"),
        format!("/reports/2025?agency={s}"),
        format!("/reports/2025?lang={s}"),
        format!("/reports/2025?format={s}"),
        format!("/reports/2025?format=json&agency={s}"),
        format!("/reports?period={s}"),
        format!("/charts/{s}.png"),
        format!("/charts/on_time_trend.{s}"),
        format!("/?lang={s}"),
        format!("/reports/2025?{s}=1"),
    ];
    for p in ["from", "to", "agency", "lang", "width", "height"] {
        uris.push(format!("/charts/on_time_trend.png?{p}={s}"));
    }
    uris
}

fn counts(path: &Path) -> String {
    let tables = sqlite(
        path,
        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name",
    );
    let mut out = String::new();
    for t in tables.lines() {
        let n = sqlite(path, &format!("SELECT count(*) FROM \"{t}\""));
        out.push_str(&format!("{t}={}", n.trim()));
        out.push('\n');
    }
    out
}

fn sqlite(path: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg("-readonly")
        .arg(path)
        .arg(sql)
        .output()
        .expect("sqlite3 (the SQLite command-line shell)");
    assert!(out.status.success(), "{sql}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn sql_in_any_parameter_is_a_400_or_404_and_the_source_is_untouched() {
    let scratch = scratch("motcua-dashboard-sqli");
    let db = scratch.join("source.sqlite");
    std::fs::copy(common::demo_db(), &db).unwrap();
    let before_bytes = std::fs::read(&db).unwrap();
    let before = counts(&db);
    assert!(before.contains("dossiers=1500"), "{before}");
    let state = state_for_url(&sqlite_ro(&db));
    let mut tried = 0;
    for sql in SQL {
        for uri in injected(sql) {
            let r = get(&state, &uri).await;
            let body = r.text();
            assert!(
                r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::NOT_FOUND,
                "{uri}: {} {body}",
                r.status
            );
            assert!(body.starts_with("parameter `"), "{uri}: {body:?}");
            tried += 1;
        }
    }
    // The service still answers, from data that did not change.
    let r = get(&state, "/reports/2025?format=json").await;
    assert_eq!(r.status, StatusCode::OK);
    drop(state);
    assert_eq!(counts(&db), before, "tables or row counts changed");
    assert!(
        std::fs::read(&db).unwrap() == before_bytes,
        "the file changed"
    );
    eprintln!("{tried} requests with SQL: all 400/404; tables and rows unchanged:\n{before}");
}

#[tokio::test]
async fn absurd_sizes_are_a_400_naming_width_or_height() {
    let state = common::demo_state();
    for (p, v) in [
        ("width", "-1"),
        ("width", "99999999999999999999"),
        ("width", "4001"),
        ("width", "199"),
        ("width", "1e3"),
        ("width", "%2B800"),
        ("height", "-1"),
        ("height", "99999999999999999999"),
        ("height", "4001"),
        ("height", "199"),
        ("height", "0x200"),
        ("height", "%20700"),
    ] {
        let uri = format!("/charts/on_time_trend.png?{p}={v}");
        let r = get(&state, &uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(r.text().starts_with(&format!("parameter `{p}`")), "{uri}");
    }
}

fn render(args: &[&str]) -> (Option<std::process::ExitStatus>, String) {
    let db = sqlite_ro(common::demo_db());
    let mut all = vec![
        "--database-url",
        db.as_str(),
        "render",
        "--period",
        "2025-Q4",
    ];
    all.extend_from_slice(args);
    Dashboard::spawn(&all, &[]).finish(Duration::from_secs(120))
}

/// Every file under `dir`, relative.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn render_writes_nothing_outside_its_folder() {
    let s = scratch("motcua-dashboard-render");
    let outside = s.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("victim"), "keep me").unwrap();

    // `..` in --out: the folder it names, and nothing beside it.
    std::fs::create_dir_all(s.join("a/b")).unwrap();
    let out = s.join("a/b/../../dotdot");
    let (status, log) = render(&["--out", out.to_str().unwrap()]);
    assert!(status.is_some_and(|s| s.success()), "{log}");
    let written = files(&s.join("dotdot"));
    // Every chart in both formats, plus the report and the index in four formats each.
    let mut expected: Vec<String> = motcua_dashboard::charts::ChartKind::ALL
        .iter()
        .flat_map(|k| ["png", "svg"].map(|ext| format!("charts/{}.{ext}", k.name())))
        .chain(
            ["index", "report"]
                .iter()
                .flat_map(|f| ["csv", "html", "json", "xlsx"].map(|ext| format!("{f}.{ext}"))),
        )
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    assert!(written.iter().all(|f| !f.contains("..")));
    assert_eq!(files(&s.join("a")), Vec::<String>::new());

    // A `charts` folder that is a symlink leading outside: refused.
    let out = s.join("linked");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("charts")).unwrap();
    let (status, log) = render(&["--out", out.to_str().unwrap()]);
    assert!(status.is_some_and(|s| !s.success()), "{log}");
    assert!(log.contains("leads outside"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(files(&outside), ["victim"]);

    // A file of the bundle that is a symlink to a file outside: refused, the file kept.
    let out = s.join("linked-file");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), out.join("report.html")).unwrap();
    let (status, log) = render(&["--out", out.to_str().unwrap()]);
    assert!(status.is_some_and(|s| !s.success()), "{log}");
    assert!(log.contains("symbolic link"), "{log}");
    assert_eq!(
        std::fs::read_to_string(outside.join("victim")).unwrap(),
        "keep me"
    );
    assert_eq!(files(&outside), ["victim"]);

    // --out naming a file, or a folder that cannot be written: a clear error.
    let (status, log) = render(&["--out", outside.join("victim").to_str().unwrap()]);
    assert!(status.is_some_and(|s| !s.success()), "{log}");
    assert!(log.contains("cannot create"), "{log}");
    assert_eq!(
        std::fs::read_to_string(outside.join("victim")).unwrap(),
        "keep me"
    );
    let (status, log) = render(&["--out", "/proc/self/motcua"]);
    assert!(status.is_some_and(|s| !s.success()), "{log}");
    assert!(
        log.contains("cannot create") && !log.contains("panicked"),
        "{log}"
    );
}

#[test]
fn a_bad_queries_dir_is_a_clear_error() {
    let s = scratch("motcua-dashboard-qdir");
    let file = s.join("file.sql");
    std::fs::write(&file, "SELECT 1").unwrap();
    let traversal = format!("{}/../../../../../../../../etc/passwd/..", s.0.display());
    for dir in [
        file.to_str().unwrap(),
        s.join("missing").to_str().unwrap(),
        traversal.as_str(),
        "/proc/self/fd/0",
    ] {
        let started = Instant::now();
        let (status, log) = render(&[
            "--out",
            s.join("out").to_str().unwrap(),
            "--queries-dir",
            dir,
        ]);
        assert!(status.is_some_and(|s| !s.success()), "{dir}: {log}");
        assert!(!log.contains("panicked"), "{dir}: {log}");
        assert!(
            log.contains("queries"),
            "{dir}: the error does not name the folder: {log}"
        );
        assert!(started.elapsed() < Duration::from_secs(20));
        eprintln!("--queries-dir {dir}: {}", log.lines().last().unwrap_or(""));
    }
    assert!(!s.join("out").exists(), "a bundle was written");
}

/// A password that must never leave the process environment.
const SECRET: &str = "Sup3r-S3cret-dash";

/// The real binary over a source that is down: 503 with the reason, within
/// 2 s, and the password in its URL shown nowhere (pages, log, command line).
#[test]
fn a_source_that_is_down_answers_503_within_two_seconds() {
    let s = scratch("motcua-dashboard-down");
    let config = s.join("dashboard.toml");
    std::fs::write(&config, "connect_timeout = \"1s\"\n").unwrap();
    let missing = sqlite_ro(&s.join("no-such.sqlite"));
    for url in [
        "postgres://motcua:Sup3r-S3cret-dash@127.0.0.1:1/onestop?connect_timeout=1",
        "mysql://motcua:Sup3r-S3cret-dash@127.0.0.1:1/onestop",
        missing.as_str(),
    ] {
        let d = Dashboard::serve(
            &["--config", config.to_str().unwrap()],
            &[("MOTCUA_DATABASE_URL", url)],
        );
        // Pages wait for the load (it fails at once here); /readyz never
        // waits, so it comes after them.
        for path in ["/reports/2025", "/charts/on_time_trend.png", "/", "/readyz"] {
            let started = Instant::now();
            let (status, body) = http_get(&d.addr, path);
            let took = started.elapsed();
            assert_eq!(status, 503, "{url} {path}: {body}");
            assert!(
                body.contains("source database is unavailable"),
                "{path}: {body}"
            );
            assert!(took < Duration::from_secs(2), "{url} {path}: {took:?}");
            assert!(!body.contains(SECRET), "{path} shows the password: {body}");
        }
        assert_eq!(http_get(&d.addr, "/healthz").0, 200, "{url}: liveness");
        let (status, body) = http_get(&d.addr, "/charts/on_time_trend.png?width=5");
        assert_eq!(status, 400, "{body}");
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", d.pid())).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&cmdline).contains(SECRET));
        let (_, log) = d.finish(Duration::from_millis(200));
        assert!(!log.contains(SECRET), "the log shows the password: {log}");
        eprintln!("{url}: 503 at once");
    }
}
