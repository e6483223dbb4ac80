//! Liveness and readiness (issue 24): `/healthz` answers at once while the
//! process runs; `/readyz` answers 503 with its reason until a refresh has
//! succeeded, then 200. The slow source is a real one: a SQLite file that a
//! writer keeps locked.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use common::{LockedCopy, pipeline_for_file, scratch, shared_demo};
use motcua_exporter::{Refresher, Shared, router};
use tower::ServiceExt;

/// One GET through the router: status, body and how long it took.
async fn get(shared: &Arc<Shared>, uri: &str) -> (StatusCode, String, Duration) {
    let started = Instant::now();
    let response = router(Arc::clone(shared))
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        String::from_utf8(body.to_vec()).unwrap(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn live_at_once_and_ready_after_the_first_refresh() {
    let dir = scratch("ready");
    let mut source = LockedCopy::new(shared_demo(), dir.join("locked.sqlite"));
    let pipeline = pipeline_for_file(&source.path);
    let shared = Shared::new();
    let mut refresher = Refresher::new(Arc::clone(&shared));

    let refresh = refresher.refresh_once(&pipeline);
    let probe = async {
        // Let the refresh start and wait for the lock.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, body, took) = get(&shared, "/healthz").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(took < Duration::from_millis(100), "/healthz took {took:?}");
        let (status, body, took) = get(&shared, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            "not ready: the first refresh from the source has not finished yet\n"
        );
        assert!(took < Duration::from_millis(100), "/readyz took {took:?}");
        source.release();
    };
    tokio::join!(refresh, probe);

    assert!(shared.status().up, "the refresh failed");
    let (status, body, _) = get(&shared, "/readyz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready\n"));
    assert_eq!(get(&shared, "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn not_ready_while_the_source_is_down_from_the_start() {
    let dir = scratch("ready-down");
    let pipeline = pipeline_for_file(&dir.join("missing.sqlite"));
    let shared = Shared::new();
    Refresher::new(Arc::clone(&shared))
        .refresh_once(&pipeline)
        .await;

    let (status, body, _) = get(&shared, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("last_refresh: failed (no successful refresh yet)"),
        "{body}"
    );
    let (status, body, _) = get(&shared, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let reason = body
        .strip_prefix("not ready: the source is unavailable and no refresh has succeeded yet: ")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        reason.len() > 1 && reason.ends_with('\n') && reason.lines().count() == 1,
        "{body}"
    );
}
