//! The router, driven in-process over a small generated demo database.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use common::{pipeline_for_file, samples, shared_demo, types};
use motcua_exporter::{Refresher, Shared, router};
use tower::ServiceExt;

/// DESIGN §4: every family, its type and its labels (besides `le`).
const FAMILIES: &[(&str, &str, &[&str])] = &[
    (
        "motcua_dossiers_received_total",
        "counter",
        &["agency", "sector", "channel"],
    ),
    (
        "motcua_dossiers_resolved_total",
        "counter",
        &["agency", "sector", "channel", "timeliness"],
    ),
    (
        "motcua_dossiers_cancelled_total",
        "counter",
        &["agency", "sector", "reason"],
    ),
    (
        "motcua_dossiers_pending",
        "gauge",
        &["agency", "sector", "state"],
    ),
    ("motcua_dossiers_due_soon", "gauge", &["agency", "sector"]),
    (
        "motcua_dossier_processing_workdays",
        "histogram",
        &["agency", "sector"],
    ),
    (
        "motcua_dossier_deadline_usage_ratio",
        "histogram",
        &["agency"],
    ),
    ("motcua_dossier_overdue_max_workdays", "gauge", &["agency"]),
    ("motcua_evaluations_total", "counter", &["agency", "rating"]),
    ("motcua_dossiers_late_without_apology", "gauge", &["agency"]),
    (
        "motcua_dossiers_digitized_total",
        "counter",
        &["agency", "kind"],
    ),
    (
        "motcua_report_dossiers",
        "gauge",
        &["agency", "period", "column"],
    ),
    (
        "motcua_service_index_numerator",
        "gauge",
        &["agency", "period", "indicator"],
    ),
    (
        "motcua_service_index_denominator",
        "gauge",
        &["agency", "period", "indicator"],
    ),
    ("motcua_service_index_max_points", "gauge", &["indicator"]),
    ("motcua_service_index_target_ratio", "gauge", &["indicator"]),
    (
        "motcua_agency_info",
        "gauge",
        &["agency", "name", "parent", "level"],
    ),
    ("motcua_sector_info", "gauge", &["sector", "name"]),
    ("motcua_up", "gauge", &[]),
    (
        "motcua_last_refresh_success_timestamp_seconds",
        "gauge",
        &[],
    ),
    ("motcua_refresh_duration_seconds", "gauge", &[]),
    ("motcua_refresh_failures_total", "counter", &[]),
    ("motcua_refreshes_total", "counter", &["kind"]),
    ("motcua_refresh_forced_full_reads_total", "counter", &[]),
    ("motcua_live_dossiers", "gauge", &[]),
    ("motcua_source_rows_rejected", "gauge", &["reason"]),
    ("motcua_exporter_build_info", "gauge", &["version"]),
    ("motcua_config_last_reload_successful", "gauge", &[]),
];

async fn refreshed() -> Arc<Shared> {
    let shared = Shared::new();
    let pipeline = pipeline_for_file(shared_demo());
    Refresher::new(Arc::clone(&shared))
        .refresh_once(&pipeline)
        .await;
    assert!(
        shared.status().up,
        "the refresh over the demo database failed"
    );
    shared
}

async fn get(shared: &Arc<Shared>, method: Method, uri: &str) -> (StatusCode, String, String) {
    let response = router(Arc::clone(shared))
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn metrics_has_every_family_with_its_type_and_labels() {
    let shared = refreshed().await;
    let (status, content_type, body) = get(&shared, Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");

    let types = types(&body);
    for (name, kind, _) in FAMILIES {
        assert_eq!(
            types.get(*name).map(String::as_str),
            Some(*kind),
            "TYPE of {name}"
        );
        assert!(
            body.contains(&format!("# HELP {name} ")),
            "HELP of {name} missing"
        );
    }
    assert_eq!(
        types.len(),
        FAMILIES.len(),
        "unexpected families: {types:?}"
    );
    assert!(body.contains("Recomputed from the source database"));

    let expected: BTreeMap<&str, BTreeSet<&str>> = FAMILIES
        .iter()
        .map(|(n, _, l)| (*n, l.iter().copied().collect()))
        .collect();
    for s in samples(&body) {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                s.name
                    .strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(&s.name);
        let mut names: BTreeSet<&str> = s.labels.keys().map(String::as_str).collect();
        if s.name.ends_with("_bucket") {
            assert!(names.remove("le"), "{s:?}");
        }
        assert_eq!(Some(&names), expected.get(family), "labels of {s:?}");
        assert!(s.value.parse::<f64>().is_ok(), "{s:?}");
    }
    assert!(body.contains("motcua_up 1\n"));
    assert!(body.contains("motcua_refresh_failures_total 0\n"));
    // One refresh so far: a full read.
    assert!(
        body.contains("motcua_refreshes_total{kind=\"full\"} 1\n"),
        "{body}"
    );
    assert!(body.contains("motcua_refreshes_total{kind=\"incremental\"} 0\n"));
}

#[tokio::test]
async fn label_values_and_series_follow_the_design() {
    let shared = refreshed().await;
    let (_, _, body) = get(&shared, Method::GET, "/metrics").await;
    let all = samples(&body);
    let values = |family: &str, label: &str| -> BTreeSet<String> {
        all.iter()
            .filter(|s| s.name == family)
            .map(|s| s.labels[label].clone())
            .collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        values("motcua_dossiers_received_total", "channel"),
        set(&["direct", "online", "postal"])
    );
    assert_eq!(
        values("motcua_dossiers_resolved_total", "timeliness"),
        set(&["early", "on_time", "late"])
    );
    assert_eq!(
        values("motcua_dossiers_cancelled_total", "reason"),
        set(&["withdrawn", "stopped"])
    );
    assert_eq!(
        values("motcua_dossiers_pending", "state"),
        set(&["in_time", "overdue", "paused"])
    );
    assert_eq!(
        values("motcua_dossiers_digitized_total", "kind"),
        set(&["dossier", "result"])
    );
    assert_eq!(
        values("motcua_evaluations_total", "rating"),
        set(&["very_satisfied", "satisfied", "dissatisfied"])
    );
    assert_eq!(
        values("motcua_report_dossiers", "period"),
        set(&["month", "quarter", "year"])
    );
    assert_eq!(
        values("motcua_source_rows_rejected", "reason"),
        set(&[
            "unknown_status",
            "missing_received_at",
            "missing_finished_at",
            "ended_before_received",
            "unknown_rating"
        ])
    );

    // Pending: all three states for every agency+sector pair with intake.
    let pairs: BTreeSet<(String, String)> = all
        .iter()
        .filter(|s| s.name == "motcua_dossiers_received_total")
        .map(|s| (s.labels["agency"].clone(), s.labels["sector"].clone()))
        .collect();
    assert!(!pairs.is_empty());
    let pending = all
        .iter()
        .filter(|s| s.name == "motcua_dossiers_pending")
        .count();
    assert_eq!(pending, pairs.len() * 3);
    // Due soon: one series for every pair with intake, 0 where none, and
    // never more than the pair's pending in time.
    let due_soon: BTreeSet<(String, String)> = all
        .iter()
        .filter(|s| s.name == "motcua_dossiers_due_soon")
        .map(|s| (s.labels["agency"].clone(), s.labels["sector"].clone()))
        .collect();
    assert_eq!(due_soon, pairs);
    let total = |name: &str, state: Option<&str>| -> f64 {
        all.iter()
            .filter(|s| s.name == name && state.is_none_or(|st| s.labels["state"] == st))
            .map(|s| s.value.parse::<f64>().expect("a number"))
            .sum()
    };
    assert!(
        total("motcua_dossiers_due_soon", None)
            <= total("motcua_dossiers_pending", Some("in_time"))
    );

    // Report: 3 periods × 11 columns for every agency with intake.
    let agencies: BTreeSet<String> = pairs.iter().map(|(a, _)| a.clone()).collect();
    let report = all
        .iter()
        .filter(|s| s.name == "motcua_report_dossiers")
        .count();
    assert_eq!(report, agencies.len() * 3 * 11);
    assert_eq!(values("motcua_report_dossiers", "column").len(), 11);

    // Histogram buckets as DESIGN fixes them.
    let le = |family: &str| -> Vec<String> {
        let first = all
            .iter()
            .find(|s| s.name == format!("{family}_bucket"))
            .unwrap();
        all.iter()
            .filter(|s| {
                s.name == format!("{family}_bucket")
                    && s.labels.get("agency") == first.labels.get("agency")
                    && s.labels.get("sector") == first.labels.get("sector")
            })
            .map(|s| s.labels["le"].clone())
            .collect()
    };
    assert_eq!(
        le("motcua_dossier_processing_workdays"),
        [
            "0", "1", "2", "3", "5", "7", "10", "15", "20", "30", "45", "60", "+Inf"
        ]
    );
    assert_eq!(
        le("motcua_dossier_deadline_usage_ratio"),
        [
            "0.25", "0.5", "0.75", "0.9", "1", "1.25", "1.5", "2", "3", "+Inf"
        ]
    );

    // _info series carry the catalogue; parent is "" for the top agency.
    let info: Vec<_> = all
        .iter()
        .filter(|s| s.name == "motcua_agency_info")
        .collect();
    assert!(!info.is_empty());
    assert!(info.iter().all(|s| s.value == "1"));
    assert!(info.iter().any(|s| s.labels["parent"].is_empty()));
    assert!(info.iter().any(|s| !s.labels["parent"].is_empty()));
    assert!(
        all.iter()
            .any(|s| s.name == "motcua_sector_info" && !s.labels["name"].is_empty())
    );

    // Counters agree with each other: resolved never exceeds received per pair.
    for (a, se) in &pairs {
        let sum = |family: &str| -> f64 {
            all.iter()
                .filter(|s| {
                    s.name == family && &s.labels["agency"] == a && &s.labels["sector"] == se
                })
                .map(|s| s.value.parse::<f64>().unwrap())
                .sum()
        };
        assert!(sum("motcua_dossiers_resolved_total") <= sum("motcua_dossiers_received_total"));
    }
}

#[tokio::test]
async fn series_are_sorted_within_each_family() {
    let shared = refreshed().await;
    let (_, _, body) = get(&shared, Method::GET, "/metrics").await;
    let all = samples(&body);
    let keys: Vec<(String, String)> = all
        .iter()
        .filter(|s| s.name == "motcua_dossiers_pending")
        .map(|s| (s.labels["agency"].clone(), s.labels["sector"].clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[tokio::test]
async fn healthz_index_and_unknown_paths() {
    let shared = Shared::new();
    let (status, _, body) = get(&shared, Method::GET, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("ok\n"), "{body}");
    assert!(body.contains("last_refresh: not finished yet"), "{body}");

    let shared = refreshed().await;
    let (status, _, body) = get(&shared, Method::GET, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("last_refresh: succeeded"), "{body}");

    let (status, content_type, body) = get(&shared, Method::GET, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        body.contains("href=\"metrics\"") && body.contains("href=\"healthz\""),
        "{body}"
    );
    assert!(
        body.contains("một cửa") && body.contains("recomputed"),
        "{body}"
    );

    let (status, _, _) = get(&shared, Method::GET, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&shared, Method::GET, "/metrics/extra").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&shared, Method::POST, "/metrics").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, content_type, body) = get(&shared, Method::HEAD, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    assert!(body.is_empty());
}

#[tokio::test]
async fn before_the_first_refresh_only_self_metrics_are_served() {
    let shared = Shared::new();
    let (status, content_type, body) = get(&shared, Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.contains("motcua_up 0\n"));
    assert!(body.contains("motcua_last_refresh_success_timestamp_seconds 0\n"));
    assert!(!body.contains("motcua_dossiers_received_total"));
}

/// Prometheus sends `Accept-Encoding: gzip`: the same body, compressed.
#[tokio::test]
async fn metrics_are_gzipped_for_scrapers_that_ask() {
    use std::io::Read;
    let shared = refreshed().await;
    let (_, _, plain) = get(&shared, Method::GET, "/metrics").await;
    let request = |accept: &'static str| {
        router(Arc::clone(&shared)).oneshot(
            Request::builder()
                .uri("/metrics")
                .header(header::ACCEPT_ENCODING, accept)
                .body(Body::empty())
                .unwrap(),
        )
    };
    for accept in ["gzip", "deflate, GZIP;q=0.5", "*", "br;q=1.0, gzip;q=0.8"] {
        let response = request(accept).await.unwrap();
        assert_eq!(
            response.headers()[header::CONTENT_ENCODING],
            "gzip",
            "{accept}"
        );
        assert_eq!(response.headers()[header::VARY], "Accept-Encoding");
        let gz = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert!(
            gz.len() * 4 < plain.len(),
            "{} vs {}",
            gz.len(),
            plain.len()
        );
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain, "{accept}");
    }
    for accept in ["gzip;q=0", "identity", "br, deflate", "gzipx"] {
        let response = request(accept).await.unwrap();
        assert!(
            response.headers().get(header::CONTENT_ENCODING).is_none(),
            "{accept}"
        );
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(body, plain.as_bytes(), "{accept}");
    }
}

/// DESIGN §8: the service index families come from the indicator file and
/// from the same columns as the report; declared points appear once declared.
#[tokio::test]
async fn service_index_families_follow_the_indicator_file_and_the_report() {
    let dir = common::scratch("service-index");
    let file = dir.join("index.toml");
    let shipped = motcua_queries::service_index::SHIPPED_FILE.replace(
        "name_en = \"Dossiers synced to the national portal\"\n",
        "name_en = \"Dossiers synced to the national portal\"\ndeclared_points = 5.5\n",
    );
    std::fs::write(&file, shipped).unwrap();
    let url = motcua_exporter::demo::sqlite_url(shared_demo());
    let mut settings = common::settings_for(url.expose());
    settings.source.service_index = Some(file);
    let pipeline = motcua_exporter::Pipeline::build(&settings, &url).unwrap();
    let shared = Shared::new();
    Refresher::new(Arc::clone(&shared))
        .refresh_once(&pipeline)
        .await;
    assert!(shared.status().up);
    let (_, _, body) = get(&shared, Method::GET, "/metrics").await;
    assert!(body.contains("# HELP motcua_service_index_numerator Estimate of the service index"));
    assert!(body.contains("motcua_service_index_declared_points{indicator=\"synced\"} 5.5\n"));
    assert!(body.contains("motcua_service_index_max_points{indicator=\"on_time\"} 20\n"));
    assert!(body.contains("motcua_service_index_target_ratio{indicator=\"digitized\"} 0.8\n"));
    assert!(!body.contains("motcua_service_index_target_ratio{indicator=\"synced\"}"));
    let all = samples(&body);
    let value = |name: &str, agency: &str, period: &str, label: (&str, &str)| {
        all.iter()
            .find(|s| {
                s.name == name
                    && s.labels.get("agency").map(String::as_str) == Some(agency)
                    && s.labels.get("period").map(String::as_str) == Some(period)
                    && s.labels.get(label.0).map(String::as_str) == Some(label.1)
            })
            .map(|s| s.value.parse::<f64>().unwrap())
    };
    let mut checked = 0;
    for s in all.iter().filter(|s| s.name == "motcua_report_dossiers") {
        if s.labels["column"] != "received_total" || s.value == "0" {
            continue;
        }
        let (agency, period) = (&s.labels["agency"], &s.labels["period"]);
        // on_time's and satisfaction's denominator is the report's (3).
        for indicator in ["on_time", "satisfaction", "digitized"] {
            let d = value(
                "motcua_service_index_denominator",
                agency,
                period,
                ("indicator", indicator),
            )
            .unwrap_or_else(|| panic!("{agency} {period} {indicator}"));
            let n = value(
                "motcua_service_index_numerator",
                agency,
                period,
                ("indicator", indicator),
            )
            .unwrap();
            if indicator == "digitized" {
                assert!(d <= s.value.parse().unwrap() && n <= d, "{agency} {period}");
            } else {
                assert_eq!(d, s.value.parse::<f64>().unwrap(), "{agency} {period}");
                assert!(n <= d, "{agency} {period} {indicator}");
            }
        }
        checked += 1;
    }
    assert!(checked > 10, "{checked}");
}
