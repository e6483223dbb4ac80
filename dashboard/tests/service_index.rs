//! `/index/{period}` (DESIGN §8) driven through the Router over the demo
//! province: its JSON against counts taken straight from the SQLite file
//! with SQL (and the Biểu 06 columns for the two indicators made of them),
//! its CSV and HTML, and bad input.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{demo_db, demo_state, get};
use motcua_queries::service_index::IndicatorTable;
use serde_json::Value;

/// Numerator and denominator per (agency, indicator), counted with SQL.
type Counts = BTreeMap<(String, &'static str), (i64, i64)>;

/// The measured indicators of one period, counted from the database file
/// alone: intake rows (§2), received or finished within [from, to].
fn sql_counts(from: &str, to: &str) -> Counts {
    let db = rusqlite::Connection::open_with_flags(
        demo_db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let has_fee = db
        .prepare("SELECT 1 FROM pragma_table_info('procedures') WHERE name = 'has_fee'")
        .unwrap()
        .exists([])
        .unwrap();
    let (start, end) = (format!("{from} 00:00:00"), format!("{to} 23:59:59"));
    let intake = "d.status IN (2,4,5,6,7,8,9,10) AND d.received_at IS NOT NULL \
                  AND NOT (d.status IN (9,10) AND d.finished_at IS NULL) \
                  AND (d.finished_at IS NULL OR d.finished_at >= d.received_at)";
    let received = format!("{intake} AND d.received_at >= ?1 AND d.received_at <= ?2");
    let fee = if has_fee { "p.has_fee = 1" } else { "0" };
    let queries: [(&'static str, String); 5] = [
        (
            "digitized",
            format!(
                "SELECT d.agency_code, SUM(d.digitized), COUNT(*) FROM dossiers d WHERE {received} GROUP BY 1"
            ),
        ),
        (
            "online_full",
            format!(
                "SELECT d.agency_code, SUM(d.channel = 2), COUNT(*) FROM dossiers d JOIN procedures p ON p.code = d.procedure_code \
                     WHERE {received} AND TRIM(p.online_level) = 'full' GROUP BY 1"
            ),
        ),
        (
            "online_payment",
            format!(
                "SELECT d.agency_code, SUM(d.paid_online), COUNT(*) FROM dossiers d JOIN procedures p ON p.code = d.procedure_code \
                     WHERE {received} AND {fee} GROUP BY 1"
            ),
        ),
        (
            "payment_procedures",
            format!(
                "SELECT agency_code, SUM(paid > 0), COUNT(*) FROM (SELECT d.agency_code, d.procedure_code, SUM(d.paid_online) AS paid \
                     FROM dossiers d JOIN procedures p ON p.code = d.procedure_code WHERE {received} AND {fee} GROUP BY 1, 2) GROUP BY 1"
            ),
        ),
        (
            "e_result",
            format!(
                "SELECT d.agency_code, SUM(d.e_result), COUNT(*) FROM dossiers d WHERE {intake} \
                     AND d.status IN (9,10) AND d.finished_at >= ?1 AND d.finished_at <= ?2 GROUP BY 1"
            ),
        ),
    ];
    let mut out = Counts::new();
    for (id, sql) in queries {
        let mut stmt = db.prepare(&sql).unwrap();
        let rows = stmt
            .query_map([&start, &end], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (agency, num, den) = row.unwrap();
            out.insert((agency, id), (num, den));
        }
    }
    let mut stmt = db
        .prepare(
            "SELECT agency_code, COUNT(*) FROM evaluations WHERE rating = 'dissatisfied' \
             AND evaluated_at >= ?1 AND evaluated_at <= ?2 GROUP BY 1",
        )
        .unwrap();
    let rows = stmt
        .query_map([&start, &end], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .unwrap();
    for row in rows {
        let (agency, n) = row.unwrap();
        out.insert((agency, "dissatisfied"), (n, 0));
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Checks one row's indicators against (numerator, denominator) pairs, and
/// its points, maximum and score against the table.
fn check_row(row: &Value, expected: &BTreeMap<&str, (i64, i64)>, table: &IndicatorTable) {
    let who = row["agency"].as_str().unwrap_or("province").to_owned();
    let (mut points, mut max) = (0.0, 0.0);
    for ind in row["indicators"].as_array().unwrap() {
        let id = ind["indicator"].as_str().unwrap();
        let def = table
            .get(id)
            .unwrap_or_else(|| panic!("{who}: unknown {id}"));
        assert_eq!(ind["max"].as_f64(), Some(def.max), "{who} {id} max");
        if let Some(&(n, d)) = expected.get(id) {
            assert_eq!(
                (ind["numerator"].as_i64(), ind["denominator"].as_i64()),
                (Some(n), Some(d)),
                "{who} {id}"
            );
            if d == 0 {
                assert!(
                    ind["rate"].is_null() && ind["points"].is_null(),
                    "{who} {id}: not applicable"
                );
                continue;
            }
            let rate = n.max(0) as f64 / d as f64;
            let p = def.max * (rate / def.target).min(1.0);
            assert!(close(num(&ind["rate"]).unwrap(), rate), "{who} {id} rate");
            assert!(close(num(&ind["points"]).unwrap(), p), "{who} {id} points");
        } else {
            // A declared indicator: only on the province, without counts.
            assert!(row["agency"].is_null(), "{who}: declared {id} on an agency");
            assert!(ind["numerator"].is_null() && ind["denominator"].is_null());
        }
        if let Some(p) = num(&ind["points"]) {
            points += p;
            max += def.max;
        }
    }
    assert!(close(num(&row["points"]).unwrap(), points), "{who} points");
    assert!(close(num(&row["max"]).unwrap(), max), "{who} max");
    if max > 0.0 {
        assert!(
            close(num(&row["score"]).unwrap(), 100.0 * points / max),
            "{who} score"
        );
    } else {
        assert!(row["score"].is_null());
    }
}

#[tokio::test]
async fn the_json_equals_counts_taken_with_sql() {
    let state = demo_state();
    let table = IndicatorTable::shipped();
    for (period, from, to) in [
        ("2025-Q3", "2025-07-01", "2025-09-30"),
        ("2025", "2025-01-01", "2025-12-31"),
        ("2025-06", "2025-06-01", "2025-06-30"),
    ] {
        let r = get(&state, &format!("/index/{period}?format=json")).await;
        assert_eq!(r.status, StatusCode::OK, "{period}: {}", r.text());
        assert_eq!(r.content_type, "application/json");
        let json: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(json["period"], period);
        assert_eq!(
            (json["from"].as_str(), json["to"].as_str()),
            (Some(from), Some(to))
        );
        let report: Value = serde_json::from_slice(
            &get(&state, &format!("/reports/{period}?format=json"))
                .await
                .body,
        )
        .unwrap();
        let counts = sql_counts(from, to);
        let rows = json["rows"].as_array().unwrap();
        let (province, agencies) = rows.split_last().unwrap();
        assert!(
            province["agency"].is_null(),
            "{period}: the province comes last"
        );

        // The agencies: exactly those with intake in the period (Biểu 06's column (3)).
        let with_intake: Vec<&Value> = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["agency"].is_string() && r["sector"].is_null())
            .filter(|r| r["received_total"].as_u64() > Some(0))
            .collect();
        let codes: Vec<&str> = agencies
            .iter()
            .map(|r| r["agency"].as_str().unwrap())
            .collect();
        let mut expected_codes: Vec<&str> = with_intake
            .iter()
            .map(|r| r["agency"].as_str().unwrap())
            .collect();
        expected_codes.sort_unstable();
        assert_eq!(codes, expected_codes, "{period}: the agencies listed");
        assert!(
            codes.len() >= 3,
            "{period}: a ranking of {} agencies",
            codes.len()
        );

        let mut sum: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for (row, cols) in agencies.iter().zip(&with_intake_sorted(&with_intake)) {
            let code = row["agency"].as_str().unwrap().to_owned();
            let c = |k: &str| cols[k].as_i64().unwrap();
            let received = c("received_total");
            let pair =
                |id: &'static str| counts.get(&(code.clone(), id)).copied().unwrap_or((0, 0));
            let dissatisfied = pair("dissatisfied").0;
            let mut expected: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
            expected.insert(
                "on_time",
                (
                    c("resolved_early") + c("resolved_on_time") + c("pending_in_time"),
                    received,
                ),
            );
            expected.insert(
                "satisfaction",
                (
                    received - dissatisfied - c("resolved_late") - c("pending_overdue"),
                    received,
                ),
            );
            for id in [
                "digitized",
                "online_full",
                "online_payment",
                "payment_procedures",
                "e_result",
            ] {
                expected.insert(id, pair(id));
            }
            check_row(row, &expected, &table);
            for (id, (n, d)) in expected {
                let s = sum.entry(id).or_default();
                s.0 += n;
                s.1 += d;
            }
        }
        // The province: the sums of its agencies, and the declared indicators.
        check_row(province, &sum, &table);
        // Something measured gives points, or the test proves little.
        assert!(
            num(&province["points"]).unwrap() > 10.0,
            "{period}: {province}"
        );
    }
}

/// The report's agency rows in code order (the index lists them so).
fn with_intake_sorted<'a>(rows: &[&'a Value]) -> Vec<&'a Value> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r["agency"].as_str().unwrap().to_owned());
    rows
}

#[tokio::test]
async fn the_page_csv_and_agency_filter() {
    let state = demo_state();
    let json: Value =
        serde_json::from_slice(&get(&state, "/index/2025-Q4?format=json").await.body).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let first = rows[0]["agency"].as_str().unwrap().to_owned();

    // HTML: Vietnamese by default, English on request; the chart; the ranking.
    let r = get(&state, "/index/2025-Q4").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/html"));
    let html = r.text();
    for needle in [
        "<html lang=\"vi\"",
        "Bộ chỉ số phục vụ người dân, doanh nghiệp",
        "Quý IV năm 2025",
        "Toàn tỉnh",
        "Xếp hạng cơ quan, đơn vị",
        "Tiến độ giải quyết",
        "/charts/service_index_by_agency.png?from=2025-10-01&amp;to=2025-12-31&amp;lang=vi",
        "/index/2025-Q4?lang=vi&amp;format=csv",
        "data-indicator=\"on_time\"",
    ] {
        assert!(html.contains(needle), "the page lacks {needle:?}");
    }
    assert_eq!(
        html.matches("<tr class=\"agency\"").count(),
        rows.len() - 1,
        "one ranking row per agency"
    );
    let en = get(&state, "/index/2025-Q4?lang=en").await.text();
    assert!(
        en.contains("<html lang=\"en\"")
            && en.contains("Agencies ranked")
            && en.contains("Q4 2025")
    );

    // An agency: its row and the province's in JSON; its indicators on the page.
    let r = get(
        &state,
        &format!("/index/2025-Q4?format=json&agency={first}"),
    )
    .await;
    let one: Value = serde_json::from_slice(&r.body).unwrap();
    let one_rows = one["rows"].as_array().unwrap();
    assert_eq!(one_rows.len(), 2);
    assert_eq!(one_rows[0], rows[0]);
    assert_eq!(one_rows[1], rows[rows.len() - 1]);
    let page = get(&state, &format!("/index/2025-Q4?agency={first}"))
        .await
        .text();
    assert!(page.contains(&format!("<table class=\"detail\" data-agency=\"{first}\"")));

    // CSV: BOM, header, a line per scope and one per indicator of it.
    let r = get(&state, "/index/2025-Q4?format=csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/csv"));
    assert!(r.body.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let text = r.text();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(
        lines[0],
        "agency,agency_name,indicator,indicator_name,group,numerator,denominator,rate,target,points,max,score"
    );
    let expected_lines: usize = rows
        .iter()
        .map(|r| 1 + r["indicators"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        lines.len(),
        1 + expected_lines + 1,
        "lines (and the final CRLF)"
    );
    let on_time = &rows[0]["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["indicator"] == "on_time")
        .unwrap();
    let prefix = format!("{first},");
    let csv_line = lines
        .iter()
        .find(|l| l.starts_with(&prefix) && l.contains(",on_time,"))
        .expect("the first agency's on_time line");
    assert!(
        csv_line.contains(&format!(
            ",{},{},",
            on_time["numerator"], on_time["denominator"]
        )),
        "{csv_line}"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_or_404_naming_the_parameter() {
    let state = demo_state();
    for (uri, status, name) in [
        ("/index/2025-Q5", StatusCode::BAD_REQUEST, "`period`"),
        ("/index/yesterday", StatusCode::BAD_REQUEST, "`period`"),
        (
            "/index/2025-13?format=json",
            StatusCode::BAD_REQUEST,
            "`period`",
        ),
        (
            "/index/2025?agency=NO-SUCH",
            StatusCode::NOT_FOUND,
            "`agency`",
        ),
        (
            "/index/2025?format=xml",
            StatusCode::BAD_REQUEST,
            "`format`",
        ),
        ("/index/2025?lang=fr", StatusCode::BAD_REQUEST, "`lang`"),
        (
            "/index/2025?colour=red",
            StatusCode::BAD_REQUEST,
            "`colour`",
        ),
        (
            "/index/2025?lang=vi&lang=en",
            StatusCode::BAD_REQUEST,
            "`lang`",
        ),
        ("/index/%FF", StatusCode::BAD_REQUEST, "`period`"),
    ] {
        let r = get(&state, uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert!(r.text().contains(name), "{uri}: {}", r.text());
    }
}

#[tokio::test]
async fn the_chart_ranks_the_agencies_with_the_province_score() {
    let state = demo_state();
    let json: Value =
        serde_json::from_slice(&get(&state, "/index/2025?format=json").await.body).unwrap();
    let province = json["rows"].as_array().unwrap().last().unwrap().clone();
    let r = get(
        &state,
        "/charts/service_index_by_agency.svg?from=2025-01-01&to=2025-12-31&lang=en",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let svg = r.text();
    let score = province["score"].as_f64().unwrap();
    assert!(
        svg.contains(&format!("Whole province: {score:.1}")),
        "the province's score {score:.1} is not on the chart"
    );
    for group in ["Processing progress", "Digitisation", "Satisfaction"] {
        assert!(svg.contains(group), "legend lacks {group}");
    }
}

/// `service_index` in the config file (or `--service-index`) replaces the
/// indicator table; a bad one stops the service naming file, line and key.
#[tokio::test]
async fn the_service_index_key_replaces_the_indicator_table() {
    use clap::Parser;
    let s = common::scratch("dashboard-index-key");
    let shipped = include_str!("../../queries/service_index/vn-766.toml");
    let on_time = "[on_time]\ngroup = 2\nname_vi = \"Hồ sơ giải quyết đúng hạn\"\nname_en = \"Dossiers handled on time\"\nmax = 20\n";
    assert!(shipped.contains(on_time), "the shipped table changed");
    std::fs::write(
        s.join("index.toml"),
        shipped.replace(on_time, &on_time.replace("max = 20", "max = 21")),
    )
    .unwrap();
    std::fs::write(s.join("dashboard.toml"), "service_index = \"index.toml\"\n").unwrap();
    let url = common::sqlite_ro(demo_db());
    let cli = |config: &std::path::Path| {
        motcua_dashboard::Cli::parse_from([
            "motcua-dashboard",
            "--config",
            config.to_str().unwrap(),
            "--database-url",
            &url,
            "render",
            "--period",
            "2025",
            "--out",
            "unused",
        ])
    };
    let settings =
        motcua_dashboard::Settings::resolve(&cli(&s.join("dashboard.toml")), &|_| None).unwrap();
    assert_eq!(settings.source.service_index, Some(s.join("index.toml")));
    let mut state = motcua_dashboard::AppState::from_settings(&settings, false)
        .await
        .unwrap();
    state.fixed_now = demo_state().fixed_now;
    let json: Value =
        serde_json::from_slice(&get(&state, "/index/2025-Q4?format=json").await.body).unwrap();
    let province = json["rows"].as_array().unwrap().last().unwrap();
    let max = province["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["indicator"] == "on_time")
        .map(|i| i["max"].as_f64());
    assert_eq!(max, Some(Some(21.0)), "{province}");

    std::fs::write(
        s.join("index.toml"),
        "[on_time]\ngroup = 2\nmax = 20\ntarget = 1.5\n",
    )
    .unwrap();
    let err = motcua_dashboard::AppState::from_settings(&settings, false)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("index.toml") && msg.contains("line 4") && msg.contains("target"),
        "{msg}"
    );
}

/// An operator's `procedures.sql` written before `has_fee` existed keeps
/// working on a real SQLite source: the two payment indicators are not
/// applicable (no points, out of the maximum), the others are unchanged.
#[tokio::test]
async fn a_procedures_sql_without_has_fee_makes_the_payment_indicators_not_applicable() {
    let s = common::scratch("dashboard-no-has-fee");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../queries/sql/sqlite");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, s.join(path.file_name().unwrap().to_str().unwrap())).unwrap();
    }
    std::fs::write(
        s.join("procedures.sql"),
        "SELECT code, name, sector_code, deadline_days, online_level FROM procedures\n",
    )
    .unwrap();
    let calendar = motcua_queries::WorkCalendar::builtin();
    let reader = motcua_queries::Reader::open(
        &common::sqlite_ro(demo_db()),
        Some(&s.0),
        &motcua_queries::ConnectOptions::default(),
    )
    .unwrap();
    let store = motcua_dashboard::data::Store::new(
        reader,
        calendar.timezone(),
        std::time::Duration::from_secs(3600),
    );
    let mut state = motcua_dashboard::AppState::new(store, calendar);
    state.fixed_now = demo_state().fixed_now;
    let json = |state: motcua_dashboard::AppState| async move {
        let r = get(&state, "/index/2025-Q4?format=json").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        serde_json::from_slice::<Value>(&r.body).unwrap()
    };
    let (without, with) = (json(state).await, json(demo_state()).await);
    let indicator = |row: &Value, id: &str| {
        row["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["indicator"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (rows, rows_with) = (
        without["rows"].as_array().unwrap(),
        with["rows"].as_array().unwrap(),
    );
    assert_eq!(rows.len(), rows_with.len());
    for (row, row_with) in rows.iter().zip(rows_with) {
        for id in ["payment_procedures", "online_payment"] {
            assert!(indicator(row, id)["points"].is_null(), "{id}: {row}");
        }
        assert_eq!(indicator(row, "on_time"), indicator(row_with, "on_time"));
    }
    let province = rows.last().unwrap();
    assert!(
        province["max"].as_f64().unwrap() < rows_with.last().unwrap()["max"].as_f64().unwrap(),
        "the payment indicators leave the maximum"
    );
}
