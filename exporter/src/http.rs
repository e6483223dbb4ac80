//! The HTTP endpoints (DESIGN §5): `/metrics`, `/healthz` (liveness),
//! `/readyz` (readiness) and `/`. Every handler reads published state only;
//! none touches the database or waits for a refresh.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::metrics::CONTENT_TYPE;
use crate::state::Shared;

/// Builds the exporter's router: the one place its routes are declared.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/", get(index))
        .fallback(not_found)
        .with_state(shared)
}

async fn metrics(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    let body = shared.metrics_body();
    let common = [
        (header::CONTENT_TYPE, CONTENT_TYPE),
        (header::CACHE_CONTROL, "no-store"),
        (header::VARY, "Accept-Encoding"),
    ];
    if accepts_gzip(&headers) {
        (common, [(header::CONTENT_ENCODING, "gzip")], body.gzip).into_response()
    } else {
        (common, body.plain).into_response()
    }
}

/// Whether `Accept-Encoding` lists gzip (or `*`) without `q=0`, as
/// Prometheus's `Accept-Encoding: gzip` does.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// Liveness: 200 at once while the process runs; the body tells whether the
/// last refresh succeeded (whether there is data is `/readyz`'s answer).
async fn healthz(axum::extract::State(shared): axum::extract::State<Arc<Shared>>) -> Response {
    let st = shared.status();
    let last = if st.up {
        "succeeded"
    } else if st.last_success_unix > 0.0 {
        "failed (serving the last good metrics)"
    } else if st.failures_total > 0 {
        "failed (no successful refresh yet)"
    } else {
        "not finished yet"
    };
    let body = format!(
        "ok\nlast_refresh: {last}\nlast_success_unix: {}\nrefresh_failures_total: {}\nconfig_last_reload_successful: {}\n",
        st.last_success_unix as i64,
        st.failures_total,
        u8::from(st.config_reload_ok),
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Readiness: 200 once a refresh has succeeded (from then on `/metrics`
/// has data, kept while the source is down); 503 with the reason before.
async fn readyz(axum::extract::State(shared): axum::extract::State<Arc<Shared>>) -> Response {
    let (status, body) = match shared.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

const INDEX: &str = r#"<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>motcua-exporter</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#f3f3f3;padding:0 .2em}</style>
</head>
<body>
<h1>motcua-exporter</h1>
<p>Chỉ số cải cách hành chính từ hệ thống thông tin một cửa điện tử, cho Prometheus.
Số liệu được tính lại từ cơ sở dữ liệu nguồn theo chu kỳ.</p>
<p lang="en">Administrative-reform KPIs from the one-stop electronic system, for Prometheus.
Values are recomputed from the source database on an interval.</p>
<ul>
<li><a href="metrics">/metrics</a> — số liệu cho Prometheus / <span lang="en">metrics for Prometheus</span></li>
<li><a href="healthz">/healthz</a> — dịch vụ đang chạy / <span lang="en">liveness</span></li>
<li><a href="readyz">/readyz</a> — đã có số liệu / <span lang="en">readiness: metrics loaded</span></li>
</ul>
<p><small>motcua-exporter VERSION</small></p>
</body>
</html>
"#;

async fn index() -> Html<String> {
    Html(INDEX.replace("VERSION", crate::metrics::VERSION))
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found: try /metrics, /healthz, /readyz or /\n",
    )
}
