//! Faults with real services (RELIABILITY.md): the database server dies
//! and comes back, its connections are killed, a query runs too long, and
//! the process is asked to stop while a request is in flight.

mod common;
mod services;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use motcua_exporter::refresh::{Pipeline, RefreshError, backoff};
use services::{Exporter, MariaDb, PgCluster, Scratch, UrlBy, metric, scratch, series};

const INTERVAL: Duration = Duration::from_secs(2);
/// Slack for a refresh of the small demo and the log/scrape round trips.
const SLACK: Duration = Duration::from_secs(4);
const DATA: &str = "motcua_dossiers_received_total";

fn config(extra: &str) -> String {
    format!(
        "refresh_interval = \"{}s\"\nconnect_timeout = \"1s\"\n{extra}",
        INTERVAL.as_secs()
    )
}

/// `attempt=N` of a "refresh failed" log line.
fn attempt_of(line: &str) -> u32 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("attempt="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no attempt= in {line}"))
}

#[test]
fn postgres_restart() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    pg.demo_db("motcua");
    let mut ex = Exporter::start(
        &config(""),
        UrlBy::Env(&pg.url("postgres", None, "motcua")),
        &[],
    );
    ex.wait_line("refresh succeeded", Duration::from_secs(60));
    let good = ex.get("/metrics");
    assert_eq!(metric(&good, "motcua_up"), 1.0);
    assert_eq!(metric(&good, "motcua_refresh_failures_total"), 0.0);
    let data = series(&good, DATA);
    assert!(!data.is_empty(), "{good}");

    // The server dies: every connection is cut.
    pg.stop_immediate();
    let stopped = Instant::now();
    let (first, _) = ex.wait_line("refresh failed", INTERVAL + SLACK);
    assert!(first - stopped <= INTERVAL + SLACK);
    // Watch the retries for a while.
    let watch = Duration::from_secs(9);
    std::thread::sleep(watch.saturating_sub(stopped.elapsed()));
    let down = ex.get("/metrics");
    ex.drain(Duration::from_millis(100));
    assert_eq!(metric(&down, "motcua_up"), 0.0, "{down}");
    assert_eq!(series(&down, DATA), data, "the last good snapshot is kept");
    assert_eq!(
        metric(&down, "motcua_last_refresh_success_timestamp_seconds"),
        metric(&good, "motcua_last_refresh_success_timestamp_seconds")
    );
    let failures = metric(&down, "motcua_refresh_failures_total");

    // No pile-up: one refresh at a time, each retry after its backoff.
    let failed: Vec<(Instant, u32)> = ex
        .log()
        .iter()
        .filter(|(_, l)| l.contains("refresh failed"))
        .map(|(t, l)| (*t, attempt_of(l)))
        .collect();
    let attempts: Vec<u32> = failed.iter().map(|(_, a)| *a).collect();
    let expected: Vec<u32> = (1..=attempts.len() as u32).collect();
    assert_eq!(attempts, expected, "attempts are consecutive");
    assert!(
        failures >= 2.0 && failures as usize <= failed.len() + 1,
        "{failures} failures counted, {} logged",
        failed.len()
    );
    // Waits 1 s, 2 s, 2 s … (capped at the interval): at most 6 attempts in 9 s.
    assert!(
        failures <= 6.0,
        "{failures} failures in {watch:?}: retries pile up"
    );
    for pair in failed.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        let wait = backoff(pair[0].1, INTERVAL);
        assert!(
            gap + Duration::from_millis(200) >= wait,
            "attempt {} came {gap:?} after the previous one, backoff is {wait:?}",
            pair[1].1
        );
    }
    let health = ex.get("/healthz");
    assert!(
        health.contains("last_refresh: failed (serving the last good metrics)"),
        "{health}"
    );

    // The server comes back: up again within one interval plus the backoff cap.
    pg.start_server().expect("restart");
    let restarted = Instant::now();
    let bound = INTERVAL + backoff(u32::MAX, INTERVAL) + SLACK;
    let up = ex.wait_metric("motcua_up", 1.0, bound);
    assert!(
        up.is_some(),
        "motcua_up not back to 1 within {bound:?}; log:\n{}",
        ex.log_text()
    );
    println!(
        "postgres_restart: {failures} failures while down, up again {:?} after restart",
        up.unwrap() - restarted
    );
    ex.wait_line("refresh succeeded again", SLACK);
    let back = ex.get("/metrics");
    assert!(metric(&back, "motcua_refresh_failures_total") >= failures);
    assert_eq!(series(&back, DATA), data);
}

#[test]
fn mariadb_connections_killed() {
    let Some(db) = MariaDb::demo() else {
        return;
    };
    let mut ex = Exporter::start(&config(""), UrlBy::Env(&db.url("root", None)), &[]);
    ex.wait_line("refresh succeeded", Duration::from_secs(60));
    assert_eq!(ex.metric("motcua_up"), 1.0);
    let before = db.connection_ids();
    assert!(
        !before.is_empty(),
        "the exporter keeps its connections open"
    );

    for id in &before {
        // A connection may already be gone; the check below is what counts.
        let _ = services::mariadb_as("root", None, &format!("KILL {id}"));
    }
    let killed = Instant::now();
    assert!(
        db.connection_ids().iter().all(|id| !before.contains(id)),
        "the connections were killed"
    );

    // The next refresh succeeds by itself, on new connections.
    let bound = INTERVAL + backoff(u32::MAX, INTERVAL) + SLACK;
    let (at, _) = ex.wait_line("refresh succeeded", bound);
    assert!(at > killed);
    assert_eq!(ex.metric("motcua_up"), 1.0);
    let after = db.connection_ids();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|id| !before.contains(id)),
        "{before:?} {after:?}"
    );
    println!(
        "mariadb_connections_killed: recovered {:?} after the kill, {} failed refreshes",
        at - killed,
        ex.metric("motcua_refresh_failures_total")
    );
}

/// dossiers.sql that sleeps 5 s while the table `motcua_slow` has a row.
fn slow_queries(scratch: &Scratch, dialect: &str) -> String {
    let builtin = match dialect {
        "postgres" => include_str!("../../queries/sql/postgres/dossiers.sql"),
        _ => include_str!("../../queries/sql/mysql/dossiers.sql"),
    };
    let sleep = match dialect {
        "postgres" => {
            "SELECT pg_sleep(CASE WHEN EXISTS (SELECT 1 FROM motcua_slow) THEN 5 ELSE 0 END)"
        }
        _ => "SELECT SLEEP(IF(EXISTS (SELECT 1 FROM motcua_slow), 5, 0)) AS s",
    };
    let body: String = builtin
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    scratch.write(
        "sql/dossiers.sql",
        &format!("SELECT q.* FROM ({body}) q, ({sleep}) z\n"),
    );
    format!(
        "query_timeout = \"2s\"\nqueries_dir = {:?}\n",
        scratch.0.join("sql").display().to_string()
    )
}

/// Runs the slow-query scenario; `running` counts the sleeping statements
/// on the server (other than the asking session).
fn slow_query_is_cancelled(
    mut ex: Exporter,
    running: &dyn Fn() -> usize,
    unslow: &dyn Fn(),
    server_message: &str,
) {
    // The statement is visible on the server while it runs …
    let deadline = Instant::now() + Duration::from_secs(20);
    while running() == 0 {
        assert!(Instant::now() < deadline, "the slow statement never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    // … the refresh fails after about query_timeout …
    let (_, line) = ex.wait_line("refresh failed", Duration::from_secs(10));
    assert!(line.contains(server_message), "{line}");
    assert!(line.contains("dossiers.sql"), "{line}");
    let body = ex.get("/metrics");
    assert_eq!(metric(&body, "motcua_up"), 0.0);
    assert!(metric(&body, "motcua_refresh_failures_total") >= 1.0);
    let took = metric(&body, "motcua_refresh_duration_seconds");
    assert!(
        (1.9..4.5).contains(&took),
        "the failed refresh took {took} s"
    );
    // … and the server cancelled it (it would sleep 5 s otherwise).
    assert_eq!(running(), 0, "the statement still runs on the server");

    // The next refresh proceeds on the same pool.
    unslow();
    ex.wait_line("refresh succeeded", Duration::from_secs(15));
    assert_eq!(ex.metric("motcua_up"), 1.0);
}

#[test]
fn postgres_query_timeout() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    pg.demo_db("motcua");
    pg.psql(
        "motcua",
        "CREATE TABLE motcua_slow (x int); INSERT INTO motcua_slow VALUES (1)",
    );
    let scratch = scratch();
    let extra = slow_queries(&scratch, "postgres");
    let ex = Exporter::start(
        &config(&extra),
        UrlBy::Env(&pg.url("postgres", None, "motcua")),
        &[],
    );
    let running = || {
        pg.psql(
            "motcua",
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
             AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
        )
        .trim()
        .parse()
        .unwrap()
    };
    let unslow = || {
        pg.psql("motcua", "DELETE FROM motcua_slow");
    };
    slow_query_is_cancelled(ex, &running, &unslow, "statement timeout");
}

#[test]
fn mariadb_query_timeout() {
    let Some(db) = MariaDb::demo() else {
        return;
    };
    services::mariadb(&format!(
        "CREATE TABLE {0}.motcua_slow (x int); INSERT INTO {0}.motcua_slow VALUES (1)",
        db.name
    ));
    let scratch = scratch();
    let extra = slow_queries(&scratch, "mysql");
    let ex = Exporter::start(&config(&extra), UrlBy::Env(&db.url("root", None)), &[]);
    let running = || {
        services::mariadb(&format!(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}' \
             AND info LIKE '%SLEEP(%' AND id <> CONNECTION_ID()",
            db.name
        ))
        .trim()
        .parse()
        .unwrap()
    };
    let unslow = || {
        services::mariadb(&format!("DELETE FROM {}.motcua_slow", db.name));
    };
    slow_query_is_cancelled(ex, &running, &unslow, "max_statement_time");
}

/// SIGTERM while a request is half sent: the request is answered, then the
/// process exits 0.
#[test]
fn sigterm_finishes_in_flight_request() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    pg.demo_db("motcua");
    let mut ex = Exporter::start(
        &config(""),
        UrlBy::Env(&pg.url("postgres", None, "motcua")),
        &[],
    );
    ex.wait_line("refresh succeeded", Duration::from_secs(60));
    let mut s = TcpStream::connect(&ex.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    ex.signal("TERM");
    ex.wait_line("shutting down", Duration::from_secs(5));
    s.write_all(b"Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(response.contains("\nmotcua_up 1\n"));
    let status = ex
        .wait_exit(Duration::from_secs(15))
        .expect("exits on SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// SQLite has no server to cancel a statement: the read is abandoned after
/// query_timeout and the refresh fails with a message saying so.
#[tokio::test]
async fn sqlite_query_timeout() {
    let scratch = scratch();
    let builtin = include_str!("../../queries/sql/sqlite/dossiers.sql");
    let body: String = builtin
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    // About 5 s of work for SQLite before the first row.
    let slow = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c \
                WHERE n < 20000000) SELECT max(n) AS m FROM c";
    scratch.write(
        "sql/dossiers.sql",
        &format!("SELECT q.* FROM ({body}) q, ({slow}) z\n"),
    );
    let url = motcua_exporter::demo::sqlite_url(common::shared_demo());
    let mut settings = common::settings_for(url.expose());
    settings.source.queries_dir = Some(scratch.0.join("sql"));
    settings.source.query_timeout = Duration::from_secs(1);
    let pipeline = Pipeline::build(&settings, &url).unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), pipeline.snapshot())
        .await
        .expect("the refresh is bounded");
    let took = started.elapsed();
    match result {
        Err(e @ RefreshError::QueryTimedOut(_)) => {
            assert!(e.to_string().contains("query_timeout (1s)"), "{e}");
        }
        other => panic!(
            "expected a query timeout, got {:?}",
            other.map(|_| "a snapshot")
        ),
    }
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}
