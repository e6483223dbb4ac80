//! Liveness and readiness while the first load runs (issue 24): `/healthz`
//! answers at once, `/readyz` says why there is no data yet, and pages wait
//! for the first load at most a bounded time, then answer 503 with
//! `Retry-After`. The slow source is a real one: a SQLite file that a writer
//! keeps locked.

mod common;

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use common::{Dashboard, LockedCopy, demo_db, get, http_get, scratch, sqlite_ro, state_for_url};

/// Polls `/readyz` of a running service until it answers 200.
fn wait_ready(addr: &str, within: Duration) -> (u16, String) {
    let deadline = Instant::now() + within;
    loop {
        let reply = http_get(addr, "/readyz");
        if reply.0 == 200 || Instant::now() > deadline {
            return reply;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn live_at_once_and_ready_once_the_first_load_is_done() {
    let dir = scratch("ready");
    let mut source = LockedCopy::new(demo_db(), dir.join("locked.sqlite"));
    let url = sqlite_ro(&source.path);
    let d = Dashboard::serve(&[], &[("MOTCUA_DATABASE_URL", url.as_str())]);

    let started = Instant::now();
    let (status, body) = http_get(&d.addr, "/healthz");
    let took = started.elapsed();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert!(took < Duration::from_millis(100), "/healthz took {took:?}");

    let started = Instant::now();
    let (status, body) = http_get(&d.addr, "/readyz");
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("not ready: the source is still loading") && body.lines().count() == 1,
        "{body}"
    );
    assert!(took < Duration::from_millis(100), "/readyz took {took:?}");

    source.release();
    let (status, body) = wait_ready(&d.addr, Duration::from_secs(10));
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    assert_eq!(http_get(&d.addr, "/healthz").0, 200);
    assert_eq!(http_get(&d.addr, "/reports/2025?format=json").0, 200);
}

#[tokio::test]
async fn pages_wait_a_bounded_time_for_the_first_load_then_answer_503() {
    let dir = scratch("ready-pages");
    let mut source = LockedCopy::new(demo_db(), dir.join("locked.sqlite"));
    let state = state_for_url(&sqlite_ro(&source.path));
    let wait = Duration::from_millis(300);
    let _ = state.store.clone().with_first_load_wait(wait);

    for uri in ["/reports/2025?format=json", "/charts/on_time_trend.svg"] {
        let started = Instant::now();
        let r = get(&state, uri).await;
        let took = started.elapsed();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert_eq!(r.headers[header::RETRY_AFTER], "5", "{uri}");
        assert!(r.text().contains("still loading"), "{uri}: {}", r.text());
        // The first request waits the bound; the second joins the same load.
        assert!(
            took >= wait && took < wait + Duration::from_secs(2),
            "{uri}: {took:?}"
        );
    }

    source.release();
    let r = get(&state, "/readyz").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ready = r.status == StatusCode::OK;
    while !ready && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        ready = get(&state, "/readyz").await.status == StatusCode::OK;
    }
    assert!(ready, "not ready 10 s after the source was released");
    let r = get(&state, "/reports/2025?format=json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
