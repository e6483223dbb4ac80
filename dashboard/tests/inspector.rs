//! What an inspector downloads and sees: the Biểu 06 and service index
//! workbooks read back with calamine and compared with the JSON of the same
//! period and agency, the workbook printed to PDF by LibreOffice (one page
//! wide, A4 landscape, the header on every page), and the home page with
//! the charts of the chosen period.
//!
//! The print test needs `soffice` (Debian package `libreoffice-calc`) and
//! `pdfinfo`/`pdftotext`/`pdfimages` (`poppler-utils`): without them it
//! fails when `CI=true` and is skipped, saying why, everywhere else.

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::{Reply, demo_state, get, require, scratch};
use motcua_dashboard::AppState;
use motcua_dashboard::charts::ChartKind;
use serde_json::Value;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The agency with the most dossiers in the demo.
async fn busiest_agency(state: &AppState) -> String {
    let loaded = state.store.get().await.unwrap();
    let ds = &loaded.dataset;
    let mut counts = vec![0usize; ds.agency_codes.len()];
    for d in &ds.dossiers {
        counts[d.agency as usize] += 1;
    }
    let busiest = (0..counts.len()).max_by_key(|i| counts[*i]).unwrap();
    ds.agency_codes[busiest].clone()
}

async fn fetch_ok(state: &AppState, uri: &str) -> Reply {
    let r = get(state, uri).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
    r
}

async fn json(state: &AppState, uri: &str) -> Value {
    serde_json::from_slice(&fetch_ok(state, uri).await.body).unwrap()
}

fn open(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a workbook calamine reads")
}

/// A sheet's cells as rows, indexed from A1 whatever the first used cell is.
fn sheet(wb: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> Vec<Vec<Data>> {
    let range = wb.worksheet_range(name).unwrap();
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut rows = vec![Vec::new(); top as usize];
    for row in range.rows() {
        let mut cells = vec![Data::Empty; left as usize];
        cells.extend(row.iter().cloned());
        rows.push(cells);
    }
    rows
}

fn text(cell: Option<&Data>) -> String {
    match cell {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A cell that must hold a number (not text that looks like one).
fn number(cell: Option<&Data>, at: &str) -> f64 {
    match cell {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("{at}: {other:?} is not a number"),
    }
}

/// The rows of the form below its column numbers (1)…(13).
fn form_rows(cells: &[Vec<Data>]) -> (usize, &[Vec<Data>]) {
    let colno = cells
        .iter()
        .position(|r| text(r.first()) == "(1)" && text(r.get(12)) == "(13)")
        .expect("the row of column numbers (1)…(13)");
    (colno, &cells[colno + 1..])
}

/// Every number of the report JSON is in the workbook, in the same row order.
fn assert_report_matches(xlsx: &[u8], report: &Value, what: &str) {
    let mut wb = open(xlsx);
    assert_eq!(wb.sheet_names(), ["Biểu 06", "Biểu đồ minh họa"], "{what}");
    let cells = sheet(&mut wb, "Biểu 06");
    let (colno, rows) = form_rows(&cells);
    let json_rows = report["rows"].as_array().unwrap();
    assert!(
        json_rows.len() > 1,
        "{what}: an empty report proves nothing"
    );
    let keys = [
        "received_total",
        "received_online",
        "received_offline",
        "carried_over",
        "resolved_total",
        "resolved_early",
        "resolved_on_time",
        "resolved_late",
        "pending_total",
        "pending_in_time",
        "pending_overdue",
    ];
    for (i, (j, x)) in json_rows.iter().zip(rows).enumerate() {
        let stt = text(x.first());
        match (j["agency"].is_null(), j["sector"].is_null()) {
            (false, true) => assert!(!stt.is_empty() && !stt.contains('.'), "{what} row {i}"),
            (false, false) => assert!(stt.contains('.'), "{what} row {i}: {stt:?}"),
            _ => assert!(stt.is_empty(), "{what}: the total row has no number"),
        }
        if let Some(code) = j["agency"].as_str().filter(|_| j["sector"].is_null()) {
            assert!(text(x.get(1)).contains(code), "{what} row {i}: {x:?}");
        }
        for (col, key) in keys.iter().enumerate() {
            let at = format!("{what} row {i} column ({})", col + 3);
            let want = j[key].as_u64().unwrap() as f64;
            assert_eq!(number(x.get(col + 2), &at), want, "{at} {key}");
        }
    }
    // Nothing numeric beyond the rows of the JSON (notes and the footer follow).
    for x in &rows[json_rows.len()..] {
        assert!(
            !x.iter().any(|c| matches!(c, Data::Float(_))),
            "{what}: a row the JSON lacks: {x:?}"
        );
    }
    // The header's merged cells: STT over four rows, "results" over (7)…(13).
    let merges = wb.merge_cells_by_sheet_name("Biểu 06").unwrap();
    let top = colno as u32 - 4;
    for (start, end) in [((top, 0), (top + 3, 0)), ((top, 6), (top, 12))] {
        assert!(
            merges.iter().any(|d| d.start == start && d.end == end),
            "{what}: no merged header cell {start:?}–{end:?}"
        );
    }
}

#[tokio::test]
async fn the_report_workbook_holds_every_number_of_the_json() {
    let state = demo_state();
    let agency = busiest_agency(&state).await;
    for (scope, q) in [
        ("province", String::new()),
        ("agency", format!("&agency={agency}")),
    ] {
        let r = fetch_ok(&state, &format!("/reports/2025?format=xlsx{q}")).await;
        assert_eq!(r.content_type, XLSX);
        let disposition = r.headers["content-disposition"].to_str().unwrap();
        assert!(disposition.contains("bieu06-2025.xlsx"), "{disposition}");
        let report = json(&state, &format!("/reports/2025?format=json{q}")).await;
        assert_report_matches(&r.body, &report, scope);

        // The charts sheet holds the very PNGs the service serves.
        let mut pictures = open(&r.body).pictures().unwrap_or_default();
        assert_eq!(pictures.len(), ChartKind::REPORT.len(), "{scope}");
        for kind in ChartKind::REPORT {
            let png = fetch_ok(
                &state,
                &format!("/charts/{kind}.png?from=2025-01-01&to=2025-12-31&lang=vi{q}"),
            )
            .await
            .body;
            let found = pictures.iter().position(|(_, p)| *p == png);
            let found = found.unwrap_or_else(|| panic!("{scope}: {kind} is not in the workbook"));
            pictures.remove(found);
        }
    }
}

#[tokio::test]
async fn the_index_workbook_holds_every_number_of_the_json() {
    let state = demo_state();
    let agency = busiest_agency(&state).await;
    for q in [String::new(), format!("&agency={agency}")] {
        let r = fetch_ok(&state, &format!("/index/2025-Q4?format=xlsx&lang=en{q}")).await;
        assert_eq!(r.content_type, XLSX);
        let index = json(&state, &format!("/index/2025-Q4?format=json{q}")).await;
        let mut wb = open(&r.body);
        assert_eq!(wb.sheet_names(), ["Ranking", "By indicator", "Charts"]);
        assert_eq!(wb.pictures().unwrap_or_default().len(), 1);

        // The indicators sheet: each scope's line, then its indicators, as in the JSON.
        let cells = sheet(&mut wb, "By indicator");
        let header = cells
            .iter()
            .position(|r| text(r.first()) == "Agency")
            .unwrap();
        let mut lines = cells[header + 1..].iter();
        // A workbook keeps 17 significant digits: the last may differ.
        let round = |f: f64| (f * 1e9).round() / 1e9;
        let opt = |v: &Value| v.as_f64().map(round);
        let cell = |c: Option<&Data>| match c {
            Some(Data::Float(f)) => Some(round(*f)),
            _ => None,
        };
        for row in index["rows"].as_array().unwrap() {
            let line = lines.next().expect("a scope line");
            assert_eq!(
                text(line.get(1)),
                row["agency"].as_str().unwrap_or_default()
            );
            assert_eq!(cell(line.get(8)), opt(&row["points"]));
            assert_eq!(cell(line.get(9)), opt(&row["max"]));
            assert_eq!(cell(line.get(10)), opt(&row["score"]));
            for v in row["indicators"].as_array().unwrap() {
                let line = lines.next().expect("an indicator line");
                let at = format!("{} {}", row["agency"], v["indicator"]);
                assert_eq!(cell(line.get(4)), opt(&v["numerator"]), "{at}");
                assert_eq!(cell(line.get(5)), opt(&v["denominator"]), "{at}");
                assert_eq!(cell(line.get(8)), opt(&v["points"]), "{at}");
                assert_eq!(cell(line.get(9)), opt(&v["max"]), "{at}");
                if !v["rate"].is_null() {
                    assert_eq!(cell(line.get(6)), opt(&v["rate"]), "{at}");
                }
            }
        }

        // The ranking: every agency of the period (the whole ranking, as on
        // the page) with the JSON's score, then the province.
        let whole = json(&state, "/index/2025-Q4?format=json").await;
        let cells = sheet(&mut wb, "Ranking");
        for row in whole["rows"].as_array().unwrap() {
            let code = row["agency"].as_str().unwrap_or_default();
            let line = cells
                .iter()
                .find(|l| text(l.get(2)) == code && matches!(l.get(4), Some(Data::Float(_))))
                .unwrap_or_else(|| panic!("no ranking line for {code:?}"));
            assert_eq!(cell(line.get(3)), opt(&row["score"]), "{code}");
            assert_eq!(cell(line.get(4)), opt(&row["points"]), "{code}");
        }
    }
}

#[tokio::test]
async fn a_bad_format_names_the_parameter_and_every_format() {
    let state = demo_state();
    for uri in ["/reports/2025?format=pdf", "/index/2025?format=xls"] {
        let r = get(&state, uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        let body = r.text();
        assert!(
            body.contains("`format`") && body.contains("html, csv, json, xlsx"),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn the_home_page_shows_the_charts_of_the_chosen_period_and_agency() {
    let state = demo_state();
    let agency = busiest_agency(&state).await;
    let html = fetch_ok(&state, &format!("/?period=2025-Q3&agency={agency}&lang=en"))
        .await
        .text();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(!html.contains("<script"), "the page needs no script");
    let range = format!("from=2025-07-01&amp;to=2025-09-30&amp;lang=en&amp;agency={agency}");
    for kind in ChartKind::ALL {
        for ext in ["png", "svg"] {
            let href = format!("/charts/{kind}.{ext}?{range}");
            assert!(html.contains(&href), "no {href}");
        }
    }
    assert_eq!(
        html.matches("loading=\"lazy\"").count(),
        ChartKind::ALL.len()
    );
    for (path, format) in [
        ("reports", "html"),
        ("reports", "csv"),
        ("reports", "json"),
        ("reports", "xlsx"),
        ("index", "xlsx"),
    ] {
        let base = format!("/{path}/2025-Q3?lang=en&amp;agency={agency}");
        let href = if format == "html" {
            base
        } else {
            format!("{base}&amp;format={format}")
        };
        assert!(html.contains(&format!("href=\"{href}\"")), "no {href}");
    }
    assert!(html.contains("<option value=\"2025-Q3\" selected>"));
    assert!(html.contains(&format!("<option value=\"{agency}\" selected>")));
    assert!(html.contains("<form method=\"get\" action=\"/\">"));
    assert!(
        html.contains("href=\"/dossiers?state="),
        "no link to the worklist"
    );

    // Vietnamese by default, on the latest year with data.
    let html = fetch_ok(&state, "/").await.text();
    assert!(html.contains("<html lang=\"vi\">") && html.contains("Biểu đồ"));
    assert!(
        html.contains("/charts/on_time_trend.png?from=2025-01-01&amp;to=2025-12-31&amp;lang=vi\"")
    );
    let bad = get(&state, "/?period=2025-Q9").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("`period`"));
}

// ---------------------------------------------------------------------------
// Printing through LibreOffice

fn tool(name: &str, package: &str) -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no {name} on PATH (Debian package `{package}`)"))
}

async fn run(program: &Path, args: &[&str]) -> String {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{} took over 180 s", program.display()))
        .unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_workbook_prints_on_a4_landscape_one_page_wide() {
    let Some(soffice) = require("LibreOffice", tool("soffice", "libreoffice-calc")) else {
        return;
    };
    let Some(pdftotext) = require("pdftotext", tool("pdftotext", "poppler-utils")) else {
        return;
    };
    let (pdfinfo, pdfimages) = (
        tool("pdfinfo", "poppler-utils").unwrap(),
        tool("pdfimages", "poppler-utils").unwrap(),
    );
    let state = demo_state();
    let xlsx = fetch_ok(&state, "/reports/2025?format=xlsx").await.body;
    let dir = scratch("motcua-print");
    std::fs::write(dir.join("bieu06.xlsx"), &xlsx).unwrap();
    // A profile of its own: no clash with another LibreOffice on the machine.
    let profile = format!(
        "-env:UserInstallation=file://{}",
        dir.join("profile").display()
    );
    let out = dir.0.to_str().unwrap();
    let xlsx_path = dir.join("bieu06.xlsx");
    run(
        &soffice,
        &[
            &profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            out,
            xlsx_path.to_str().unwrap(),
        ],
    )
    .await;
    let pdf = dir.join("bieu06.pdf");
    let pdf = pdf.to_str().unwrap();

    // A4 landscape: 842 × 595 points.
    let info = run(&pdfinfo, &[pdf]).await;
    let size = info
        .lines()
        .find_map(|l| l.strip_prefix("Page size:"))
        .expect("a page size");
    let dims: Vec<f64> = size
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        (dims[0] - 841.9).abs() < 2.0 && (dims[1] - 595.3).abs() < 2.0,
        "not A4 landscape: {size}"
    );
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a page count");

    // Every page of the form, up to the one with the grand total, shows the
    // first and the last column (one page wide) and the repeated header.
    let mut form_pages = 0;
    for page in 1..=pages {
        let n = page.to_string();
        let text = run(&pdftotext, &["-layout", "-f", &n, "-l", &n, pdf, "-"]).await;
        if page == 1 {
            assert!(text.contains("Biểu số 06/VPCP/KSTT"), "{text}");
            assert!(text.contains("TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT"), "{text}");
        }
        assert!(
            text.lines()
                .any(|l| l.contains("(1)") && l.contains("(13)")),
            "page {page} lacks the column numbers (1) … (13) on one line:\n{text}"
        );
        form_pages += 1;
        if text.contains("TỔNG CỘNG") {
            break;
        }
    }
    assert!(
        form_pages > 1,
        "the form fits one page: the repeated header is not tested"
    );
    // The charts sheet prints after the form, with its seven charts.
    assert!(
        pages >= form_pages + ChartKind::REPORT.len() as u32,
        "{pages} pages"
    );
    let images = run(&pdfimages, &["-list", pdf]).await;
    assert!(
        images.lines().skip(2).count() >= ChartKind::REPORT.len(),
        "{images}"
    );
}
