//! The dashboard driven in-process through its Router, over SQLite
//! databases made for the tests: the demo province (a few thousand
//! dossiers, fixed end date) and a hand-made one whose report is computed
//! by hand.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use motcua_dashboard::charts::ChartKind;
use motcua_dashboard::charts::style::{font_bold, font_regular};
use motcua_dashboard::data::Store;
use motcua_dashboard::i18n::{EN, Lang, VI};
use motcua_dashboard::{AppState, router};
use motcua_queries::charts::Grouping;
use motcua_queries::model::{datetime_of, ts_of};
use motcua_queries::report::PeriodName;
use motcua_queries::{ConnectOptions, Reader, Source, WorkCalendar};
use serde_json::{Value, json};
use tower::ServiceExt;
use unicode_normalization::UnicodeNormalization;

const DEMO_DOSSIERS: u64 = 4000;

fn demo_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
}

/// A fresh folder for this test process.
fn temp_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "motcua-dashboard-test-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// Runs a future to completion on its own runtime, on its own thread (the
/// fixtures are shared by tests that each run their own runtime).
fn block_on_fresh<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap();
}

/// The demo database, generated once per test process.
fn demo_db() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let path = temp_dir().join("demo.sqlite");
        let p = path.clone();
        block_on_fresh(async move {
            motcua_dashboard::demo::generate(&p, DEMO_DOSSIERS, demo_end(), false)
                .await
                .unwrap();
        });
        path
    })
}

fn t(s: &str) -> i64 {
    ts_of(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
}

fn state_for(path: &Path, now: &str) -> AppState {
    let calendar = WorkCalendar::builtin();
    let url = format!("sqlite:{}?mode=ro", path.display());
    let reader = Reader::open(&url, None, &ConnectOptions::default()).unwrap();
    let store = Store::new(
        reader,
        calendar.timezone(),
        std::time::Duration::from_secs(3600),
    );
    let mut state = AppState::new(store, calendar);
    state.fixed_now = Some(t(now));
    state
}

fn demo_state() -> AppState {
    state_for(demo_db(), "2026-01-01 00:00:00")
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

async fn get(state: &AppState, uri: &str) -> Reply {
    let response = router(state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

/// Decodes a PNG: (width, height, number of distinct colours).
fn decode_png(bytes: &[u8]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    let channels = info.color_type.samples();
    let colours: HashSet<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    (info.width, info.height, colours.len())
}

#[tokio::test]
async fn every_chart_renders_to_png_and_svg_in_both_languages() {
    let state = demo_state();
    for lang in Lang::ALL {
        for (i, kind) in ChartKind::ALL.iter().enumerate() {
            // Vary the size: the smallest allowed, a typical one, a tall one.
            let (w, h) = [(1200, 700), (200, 200), (800, 1100), (1600, 900)][i % 4];
            let uri = format!(
                "/charts/{kind}.png?from=2025-01-01&to=2025-12-31&lang={lang}&width={w}&height={h}"
            );
            let r = get(&state, &uri).await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{uri}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert_eq!(r.content_type, "image/png");
            let (pw, ph, colours) = decode_png(&r.body);
            assert_eq!((pw, ph), (w, h), "{uri}");
            assert!(colours > 40, "{uri}: only {colours} colours: blank?");

            let uri = format!("/charts/{kind}.svg?from=2025-01-01&to=2025-12-31&lang={lang}");
            let r = get(&state, &uri).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}");
            assert!(r.content_type.starts_with("image/svg+xml"));
            let svg = r.text();
            let doc =
                roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{uri}: not XML: {e}"));
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            let title = kind.title(lang, Grouping::Agency);
            assert!(svg.contains(title), "{uri}: no title {title:?}");
            assert!(svg.contains("DejaVu Sans"), "{uri}: font family not named");
            let texts = doc.descendants().filter(|n| n.has_tag_name("text")).count();
            let shapes = doc
                .descendants()
                .filter(|n| n.has_tag_name("rect") || n.has_tag_name("polyline"))
                .count();
            assert!(
                texts > 10 && shapes > 5,
                "{uri}: {texts} texts, {shapes} shapes"
            );
        }
    }
}

#[tokio::test]
async fn charts_for_one_agency_group_by_sector() {
    let state = demo_state();
    let loaded = state.store.get().await.unwrap();
    let code = loaded.dataset.agency_codes[loaded.dataset.dossiers[0].agency as usize].clone();
    for kind in ChartKind::ALL {
        let uri = format!("/charts/{kind}.svg?from=2025-01-01&to=2025-12-31&agency={code}");
        let r = get(&state, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        let expected = kind.title(Lang::Vi, Grouping::Sector);
        assert!(r.text().contains(expected), "{uri}: {expected}");
    }
    // Defaults: the last twelve months, 1200×700.
    let r = get(&state, "/charts/on_time_trend.png").await;
    assert_eq!(decode_png(&r.body).0, 1200);
}

/// Every Vietnamese letter: the vowels with each of the five tones, đ, and capitals.
fn vietnamese_letters() -> Vec<char> {
    let bases = ["a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"];
    let tones = ["", "\u{300}", "\u{309}", "\u{303}", "\u{301}", "\u{323}"];
    let mut letters = Vec::new();
    for base in bases {
        for tone in tones {
            let lower: String = format!("{base}{tone}").nfc().collect();
            assert_eq!(lower.chars().count(), 1, "{lower:?} composes to one letter");
            let upper = lower.to_uppercase();
            letters.extend(lower.chars().chain(upper.chars()));
        }
    }
    letters.extend(['đ', 'Đ']);
    letters.extend("ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ".chars());
    letters.extend("ẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸĐ".chars());
    letters.extend(('a'..='z').chain('A'..='Z'));
    letters
}

#[test]
fn the_embedded_font_has_every_vietnamese_letter() {
    use ab_glyph::{Font, FontRef};
    let letters = vietnamese_letters();
    assert!(letters.len() > 150);
    for bytes in [font_regular(), font_bold()] {
        let font = FontRef::try_from_slice(bytes).expect("the embedded font parses");
        for c in &letters {
            assert_ne!(
                font.glyph_id(*c).0,
                0,
                "no glyph for {c:?} (U+{:04X})",
                *c as u32
            );
        }
        // And every character of every string the dashboard shows.
        for text in [format!("{VI:?}"), format!("{EN:?}")] {
            for c in text.chars() {
                assert_ne!(
                    font.glyph_id(c).0,
                    0,
                    "no glyph for {c:?} (U+{:04X})",
                    c as u32
                );
            }
        }
    }
}

#[test]
fn every_string_is_nfc() {
    use unicode_normalization::is_nfc;
    for text in [format!("{VI:?}"), format!("{EN:?}")] {
        assert!(is_nfc(&text), "not NFC");
        // Debug escapes combining marks: none may be left.
        assert!(!text.contains("\\u{3"), "a combining mark in the strings");
    }
    for p in ["2025", "2025-H1", "2025-Q3", "2025-07"] {
        let p: PeriodName = p.parse().unwrap();
        assert!(is_nfc(&Lang::Vi.period(p)));
    }
}

fn cols(row: &Value) -> [u64; 11] {
    [
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
    ]
    .map(|k| {
        row[k]
            .as_u64()
            .unwrap_or_else(|| panic!("column {k} in {row}"))
    })
}

#[tokio::test]
async fn report_identities_hold_for_every_period_of_the_demo() {
    let state = demo_state();
    let mut periods = Vec::new();
    for y in 2023..=2025 {
        periods.push(PeriodName::Year(y));
        periods.extend((1..=2).map(|h| PeriodName::Half(y, h)));
        periods.extend((1..=4).map(|q| PeriodName::Quarter(y, q)));
        periods.extend((1..=12).map(|m| PeriodName::Month(y, m)));
    }
    let mut checked_rows = 0;
    for p in periods {
        let r = get(&state, &format!("/reports/{p}?format=json")).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        let report: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(report["period"], p.to_string());
        let rows = report["rows"].as_array().unwrap();
        assert!(rows.len() > 1, "{p}: no agency rows");
        let mut agency_sum = [0u64; 11];
        let mut sector_sum = [0u64; 11];
        let mut current: Option<[u64; 11]> = None;
        let check_sectors = |current: Option<[u64; 11]>, sector_sum: &[u64; 11]| {
            if let Some(a) = current {
                assert_eq!(
                    &a, sector_sum,
                    "{p}: an agency row is not the sum of its sectors"
                );
            }
        };
        for row in rows {
            let c = cols(row);
            let [r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13] = c;
            assert_eq!(r3, r4 + r5 + r6, "{p}: (3) = (4)+(5)+(6) in {row}");
            assert_eq!(r3, r7 + r11, "{p}: (3) = (7)+(11) in {row}");
            assert_eq!(r7, r8 + r9 + r10, "{p}: (7) = (8)+(9)+(10) in {row}");
            assert_eq!(r11, r12 + r13, "{p}: (11) = (12)+(13) in {row}");
            assert!(r3 > 0, "{p}: a row without dossiers: {row}");
            checked_rows += 1;
            match (row["agency"].is_null(), row["sector"].is_null()) {
                (false, true) => {
                    check_sectors(current, &sector_sum);
                    current = Some(c);
                    sector_sum = [0; 11];
                    for (s, v) in agency_sum.iter_mut().zip(c) {
                        *s += v;
                    }
                }
                (false, false) => {
                    for (s, v) in sector_sum.iter_mut().zip(c) {
                        *s += v;
                    }
                }
                (true, _) => {
                    check_sectors(current.take(), &sector_sum);
                    assert_eq!(
                        c, agency_sum,
                        "{p}: the grand total is not the sum of the agencies"
                    );
                }
            }
        }
        assert!(
            rows.last().unwrap()["agency"].is_null(),
            "{p}: the grand total comes last"
        );
    }
    assert!(checked_rows > 1000, "only {checked_rows} rows checked");
}

/// Writes the hand-made source (see `hand_made_report_matches_the_hand_computation`).
async fn write_hand_made(path: PathBuf) {
    let options = ConnectOptions {
        read_only: false,
        ..ConnectOptions::default()
    };
    let source = Source::open(&format!("sqlite:{}", path.display()), &options).unwrap();
    source.create_schema().await.unwrap();
    let dossier = |code: &str,
                   agency: &str,
                   procedure: &str,
                   channel: &str,
                   status: i64,
                   received: &str,
                   due: &str,
                   finished: &str| {
        let q = |s: &str| {
            if s.is_empty() {
                "NULL".to_owned()
            } else {
                format!("'{s}'")
            }
        };
        format!(
            "INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, received_at, due_at, \
             finished_at, returned_at, digitized, e_result, paid_online, updated_at) VALUES \
             ('{code}', '{procedure}', '{agency}', {channel}, {status}, {}, {}, {}, NULL, 1, 0, 0, '2025-06-01 00:00:00');\n",
            q(received),
            q(due),
            q(finished)
        )
    };
    let mut sql = String::from(
        "INSERT INTO agencies VALUES ('A', 'Sở Tư pháp', NULL, 'department');\n\
         INSERT INTO agencies VALUES ('B', 'Sở <Thử> & \"Kiểm\"', NULL, 'department');\n\
         INSERT INTO agencies VALUES ('C', 'UBND xã Không Hồ Sơ', NULL, 'commune');\n\
         INSERT INTO sectors VALUES ('S1', 'Hộ tịch');\n\
         INSERT INTO sectors VALUES ('S2', 'Chứng thực');\n\
         INSERT INTO procedures VALUES ('P1', 'Đăng ký khai sinh', 'S1', 5, 'full', NULL);\n\
         INSERT INTO procedures VALUES ('P2', 'Chứng thực bản sao', 'S2', 10, 'partial', NULL);\n",
    );
    let rows = [
        // received in the period, online, resolved early
        (
            "D01",
            "A",
            "P1",
            "2",
            10,
            "2025-02-03 08:00:00",
            "2025-02-10 17:00:00",
            "2025-02-05 10:00:00",
        ),
        // direct, resolved on time (before the due instant, on its date)
        (
            "D02",
            "A",
            "P1",
            "1",
            9,
            "2025-02-03 09:00:00",
            "2025-02-10 17:00:00",
            "2025-02-10 16:00:00",
        ),
        // postal, resolved late
        (
            "D03",
            "A",
            "P1",
            "3",
            10,
            "2025-02-04 09:00:00",
            "2025-02-11 17:00:00",
            "2025-02-12 09:00:00",
        ),
        // carried over, resolved early in the period
        (
            "D04",
            "A",
            "P1",
            "2",
            10,
            "2024-12-20 09:00:00",
            "2025-01-10 17:00:00",
            "2025-01-08 10:00:00",
        ),
        // carried over, still pending at the end: overdue
        (
            "D05",
            "A",
            "P1",
            "2",
            4,
            "2024-12-26 09:00:00",
            "2025-01-20 17:00:00",
            "",
        ),
        // withdrawn in the period: counts as resolved on time
        (
            "D06",
            "A",
            "P1",
            "1",
            7,
            "2025-03-03 09:00:00",
            "2025-03-10 17:00:00",
            "2025-03-05 10:00:00",
        ),
        // pending in time
        (
            "D07",
            "A",
            "P1",
            "2",
            4,
            "2025-03-25 09:00:00",
            "2025-04-05 17:00:00",
            "",
        ),
        // pending overdue
        (
            "D08",
            "A",
            "P1",
            "1",
            4,
            "2025-03-03 09:00:00",
            "2025-03-10 17:00:00",
            "",
        ),
        // pending, paused for a supplement (counts as in time)
        (
            "D09",
            "A",
            "P1",
            "2",
            5,
            "2025-03-10 09:00:00",
            "2025-03-17 17:00:00",
            "",
        ),
        // another sector: online, late
        (
            "D10",
            "A",
            "P2",
            "2",
            10,
            "2025-01-15 09:00:00",
            "2025-01-29 17:00:00",
            "2025-02-03 10:00:00",
        ),
        // another agency, NULL channel (direct), no due date: 1 of 5 working days → early
        (
            "D11",
            "B",
            "P1",
            "NULL",
            10,
            "2025-03-20 08:00:00",
            "",
            "2025-03-21 10:00:00",
        ),
        // ended before the period, received after it, not intake, cancelled before it
        (
            "D12",
            "A",
            "P1",
            "1",
            10,
            "2024-11-01 09:00:00",
            "2024-11-08 17:00:00",
            "2024-12-01 09:00:00",
        ),
        (
            "D13",
            "A",
            "P1",
            "1",
            4,
            "2025-04-02 09:00:00",
            "2025-04-09 17:00:00",
            "",
        ),
        ("D14", "A", "P1", "2", 1, "", "", ""),
        (
            "D15",
            "B",
            "P1",
            "1",
            8,
            "2024-12-01 09:00:00",
            "2024-12-08 17:00:00",
            "2024-12-15 09:00:00",
        ),
    ];
    for (code, agency, procedure, channel, status, received, due, finished) in rows {
        sql.push_str(&dossier(
            code, agency, procedure, channel, status, received, due, finished,
        ));
    }
    sql.push_str("INSERT INTO supplements VALUES ('D09', '2025-03-12 09:00:00', NULL);\n");
    source.execute_script(&sql).await.unwrap();
    source.close().await;
}

fn hand_made_db() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let path = temp_dir().join("hand-made.sqlite");
        let p = path.clone();
        block_on_fresh(write_hand_made(p));
        path
    })
}

fn row(agency: Option<&str>, sector: Option<&str>, c: [u64; 11]) -> Value {
    json!({
        "agency": agency, "sector": sector,
        "received_total": c[0], "received_online": c[1], "received_offline": c[2], "carried_over": c[3],
        "resolved_total": c[4], "resolved_early": c[5], "resolved_on_time": c[6], "resolved_late": c[7],
        "pending_total": c[8], "pending_in_time": c[9], "pending_overdue": c[10],
    })
}

#[tokio::test]
async fn hand_made_report_matches_the_hand_computation() {
    let state = state_for(hand_made_db(), "2025-06-01 12:00:00");
    let r = get(&state, "/reports/2025-Q1?format=json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.content_type, "application/json");
    let got: Value = serde_json::from_slice(&r.body).unwrap();
    //                         (3) (4) (5) (6) (7) (8) (9) (10) (11) (12) (13)
    let expected = json!({
        "period": "2025-Q1",
        "from": "2025-01-01",
        "to": "2025-03-31",
        "rows": [
            row(Some("A"), None,       [10, 4, 4, 2, 6, 2, 2, 2, 4, 2, 2]),
            row(Some("A"), Some("S1"), [ 9, 3, 4, 2, 5, 2, 2, 1, 4, 2, 2]),
            row(Some("A"), Some("S2"), [ 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0]),
            row(Some("B"), None,       [ 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0]),
            row(Some("B"), Some("S1"), [ 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0]),
            row(None, None,            [11, 4, 5, 2, 7, 3, 2, 2, 4, 2, 2]),
        ]
    });
    assert_eq!(
        got,
        expected,
        "got {}",
        serde_json::to_string_pretty(&got).unwrap()
    );

    // One agency only: its rows and a total equal to them.
    let r = get(&state, "/reports/2025-Q1?format=json&agency=B").await;
    let got: Value = serde_json::from_slice(&r.body).unwrap();
    let b = [1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0];
    assert_eq!(
        got["rows"],
        json!([
            row(Some("B"), None, b),
            row(Some("B"), Some("S1"), b),
            row(None, None, b)
        ])
    );

    // The same numbers in the CSV (UTF-8 with BOM) and the HTML page.
    let r = get(&state, "/reports/2025-Q1?format=csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/csv"));
    assert!(r.body.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let csv = r.text();
    let lines: Vec<&str> = csv.trim_start_matches('\u{FEFF}').lines().collect();
    assert_eq!(
        lines[0],
        "agency,agency_name,sector,sector_name,received_total,received_online,received_offline,carried_over,\
         resolved_total,resolved_early,resolved_on_time,resolved_late,pending_total,pending_in_time,pending_overdue"
    );
    assert_eq!(lines[1], "A,Sở Tư pháp,,,10,4,4,2,6,2,2,2,4,2,2");
    assert_eq!(lines[2], "A,Sở Tư pháp,S1,Hộ tịch,9,3,4,2,5,2,2,1,4,2,2");
    assert_eq!(
        lines[4],
        "B,\"Sở <Thử> & \"\"Kiểm\"\"\",,,1,0,1,0,1,1,0,0,0,0,0"
    );
    assert_eq!(lines[6], ",Tổng cộng,,,11,4,5,2,7,3,2,2,4,2,2");

    let r = get(&state, "/reports/2025-Q1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/html"));
    let html = r.text();
    for n in 1..=13 {
        assert!(
            html.contains(&format!("<td>({n})</td>")),
            "column number ({n})"
        );
    }
    for name in [
        "Số hồ sơ nhận giải quyết",
        "Số kỳ trước chuyển qua",
        "Trả trước hạn",
        "Trả đúng hạn",
        "Trả quá hạn",
        "Số hồ sơ đang giải quyết",
        "Biểu số 06/VPCP/KSTT",
        "Quý I năm 2025",
        "01/01/2025",
        "31/03/2025",
        "Số liệu tính đến: 23:59 31/03/2025",
        "Tổng cộng",
        "size: A4 landscape",
    ] {
        assert!(html.contains(name), "the page lacks {name:?}");
    }
    assert!(
        html.contains("Sở &lt;Thử&gt; &amp; &quot;Kiểm&quot;"),
        "agency name not escaped"
    );
    assert!(!html.contains("<Thử>"), "raw markup from the data");
    assert!(html.contains("<td class=\"n\" data-col=\"3\" data-key=\"received_total\">11</td>"));
    assert_eq!(
        html.matches("<img src=\"/charts/").count(),
        ChartKind::REPORT.len()
    );
    // The agency with no dossier has no row.
    assert!(!html.contains("data-agency=\"C\""));
}

#[tokio::test]
async fn charts_of_the_hand_made_data() {
    let state = state_for(hand_made_db(), "2025-06-01 12:00:00");
    for kind in ChartKind::ALL {
        let r = get(
            &state,
            &format!("/charts/{kind}.png?from=2025-01-01&to=2025-03-31&width=600&height=400"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{kind}");
        assert_eq!(decode_png(&r.body).0, 600);
    }
    // A range without data draws the "no data" message.
    let r = get(
        &state,
        "/charts/on_time_trend.svg?from=2030-01-01&to=2030-03-31",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Không có dữ liệu trong kỳ"));
}

#[tokio::test]
async fn bad_input_is_a_400_or_404_naming_the_parameter() {
    let state = state_for(hand_made_db(), "2025-06-01 12:00:00");
    let cases: &[(&str, StatusCode, &str)] = &[
        (
            "/charts/on_time_trend.png?from=2025-03-01&to=2025-01-01",
            StatusCode::BAD_REQUEST,
            "`from`",
        ),
        (
            "/charts/on_time_trend.png?from=2025-13-01",
            StatusCode::BAD_REQUEST,
            "`from`",
        ),
        (
            "/charts/on_time_trend.png?to=yesterday",
            StatusCode::BAD_REQUEST,
            "`to`",
        ),
        (
            "/charts/on_time_trend.png?from=2025-1-1",
            StatusCode::BAD_REQUEST,
            "`from`",
        ),
        (
            "/charts/on_time_trend.png?from=1990-01-01",
            StatusCode::BAD_REQUEST,
            "`from`",
        ),
        (
            "/charts/no_such_chart.png",
            StatusCode::BAD_REQUEST,
            "`chart`",
        ),
        (
            "/charts/on_time_trend.gif",
            StatusCode::BAD_REQUEST,
            "`format`",
        ),
        ("/charts/on_time_trend", StatusCode::BAD_REQUEST, "`format`"),
        (
            "/charts/on_time_trend.png?lang=fr",
            StatusCode::BAD_REQUEST,
            "`lang`",
        ),
        (
            "/charts/on_time_trend.png?width=199",
            StatusCode::BAD_REQUEST,
            "`width`",
        ),
        (
            "/charts/on_time_trend.png?width=4001",
            StatusCode::BAD_REQUEST,
            "`width`",
        ),
        (
            "/charts/on_time_trend.png?height=0",
            StatusCode::BAD_REQUEST,
            "`height`",
        ),
        (
            "/charts/on_time_trend.png?height=99999999999999999999",
            StatusCode::BAD_REQUEST,
            "`height`",
        ),
        (
            "/charts/on_time_trend.png?width=-5",
            StatusCode::BAD_REQUEST,
            "`width`",
        ),
        (
            "/charts/on_time_trend.png?width=1200&width=800",
            StatusCode::BAD_REQUEST,
            "`width`",
        ),
        (
            "/charts/on_time_trend.png?colour=red",
            StatusCode::BAD_REQUEST,
            "`colour`",
        ),
        (
            "/charts/on_time_trend.png?agency=NOPE",
            StatusCode::NOT_FOUND,
            "\"NOPE\"",
        ),
        (
            "/charts/pending_by_agency.svg?agency=%3Cscript%3E",
            StatusCode::NOT_FOUND,
            "`agency`",
        ),
        ("/reports/2025-13", StatusCode::BAD_REQUEST, "`period`"),
        ("/reports/25", StatusCode::BAD_REQUEST, "`period`"),
        (
            "/reports/2025-Q5?format=json",
            StatusCode::BAD_REQUEST,
            "`period`",
        ),
        (
            "/reports/2025?format=xls",
            StatusCode::BAD_REQUEST,
            "use html, csv, json, xlsx",
        ),
        ("/reports/2025?lang=de", StatusCode::BAD_REQUEST, "`lang`"),
        ("/reports/2025?agency=ZZ", StatusCode::NOT_FOUND, "\"ZZ\""),
        ("/reports?agency=A", StatusCode::BAD_REQUEST, "`period`"),
        ("/?lang=xx", StatusCode::BAD_REQUEST, "`lang`"),
    ];
    for (uri, status, named) in cases {
        let r = get(&state, uri).await;
        let body = r.text();
        assert_eq!(r.status, *status, "{uri}: {body}");
        assert!(
            body.contains(named),
            "{uri}: {body:?} does not name {named}"
        );
        assert!(r.content_type.starts_with("text/plain"), "{uri}");
    }
    let r = get(&state, "/reports?period=2025-Q1&agency=A&lang=en").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_index_lists_periods_and_charts() {
    let state = state_for(hand_made_db(), "2025-06-01 12:00:00");
    let r = get(&state, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    for needle in [
        "/reports/2025-Q1",
        "/reports/2025-H1",
        "/reports/2025-02",
        "/reports/2024",
        "<form",
        "name=\"agency\"",
    ] {
        assert!(html.contains(needle), "index lacks {needle}");
    }
    for kind in ChartKind::ALL {
        assert!(html.contains(&format!("/charts/{kind}.png")));
    }
    assert!(!html.contains("/reports/2026"), "a period after the data");
    assert_eq!(get(&state, "/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_source_that_is_down_gives_503_with_the_reason() {
    let missing = temp_dir().join("no-such-dir").join("missing.sqlite");
    let state = state_for(&missing, "2025-06-01 12:00:00");
    for uri in ["/charts/on_time_trend.png", "/reports/2025", "/", "/readyz"] {
        let r = get(&state, uri).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert!(
            r.text().contains("source database is unavailable"),
            "{uri}: {}",
            r.text()
        );
    }
    // Alive all the same (liveness never looks at the source).
    assert_eq!(get(&state, "/healthz").await.status, StatusCode::OK);
    // Bad parameters are still reported as such.
    assert_eq!(
        get(&state, "/charts/on_time_trend.png?width=1")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_bundle_is_self_contained() {
    let state = demo_state();
    let loaded = state.store.get().await.unwrap();
    let out = temp_dir().join("bundle");
    let bundle = motcua_dashboard::render::write_bundle(
        &state,
        &loaded,
        "2025".parse().unwrap(),
        None,
        Lang::Vi,
        &out,
        false,
    )
    .unwrap();
    assert_eq!(bundle.files.len(), ChartKind::ALL.len() * 2 + 8);
    for kind in ChartKind::ALL {
        let png = std::fs::read(out.join(format!("charts/{kind}.png"))).unwrap();
        assert_eq!(decode_png(&png).0, 1200);
        let svg = std::fs::read_to_string(out.join(format!("charts/{kind}.svg"))).unwrap();
        assert!(svg.contains("<svg"));
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("src=\"charts/on_time_trend.png\""));
    assert!(html.contains("href=\"report.csv\"") && html.contains("href=\"report.json\""));
    assert!(html.contains("href=\"report.xlsx\""));
    for workbook in ["report.xlsx", "index.xlsx"] {
        // A zip archive (what an .xlsx is).
        assert!(
            std::fs::read(out.join(workbook))
                .unwrap()
                .starts_with(b"PK\x03\x04")
        );
    }
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("src=\"charts/service_index_by_agency.png\""));
    assert!(index.contains("href=\"index.csv\"") && index.contains("href=\"index.json\""));
    for absolute in ["src=\"/", "href=\"/", "http://", "https://"] {
        assert!(!html.contains(absolute), "an absolute link: {absolute}");
        assert!(
            !index.contains(absolute),
            "an absolute link in index.html: {absolute}"
        );
    }
    // The index JSON is the one the service serves.
    let served = get(&state, "/index/2025?format=json").await;
    assert_eq!(
        std::fs::read(out.join("index.json")).unwrap(),
        served.body,
        "index.json differs from /index/2025?format=json"
    );
    assert!(
        std::fs::read(out.join("report.csv"))
            .unwrap()
            .starts_with(&[0xEF, 0xBB, 0xBF])
    );
    // The JSON is the one the service serves.
    let served = get(&state, "/reports/2025?format=json").await;
    let written = std::fs::read(out.join("report.json")).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&written).unwrap(),
        serde_json::from_slice::<Value>(&served.body).unwrap()
    );
    // "now" of the state is after the demo: the cut-off is the period's end.
    assert!(datetime_of(state.now()).date() > demo_end());
}

#[tokio::test]
async fn stale_data_is_served_while_a_reload_runs_in_the_background() {
    let path = temp_dir().join("growing.sqlite");
    let writer = Source::open(
        &format!("sqlite:{}", path.display()),
        &ConnectOptions {
            read_only: false,
            ..ConnectOptions::default()
        },
    )
    .unwrap();
    writer.create_schema().await.unwrap();
    let insert = |code: &str| {
        format!(
            "INSERT INTO dossiers (code, procedure_code, agency_code, channel, status, received_at, \
             updated_at) VALUES ('{code}', 'P', 'A', 2, 4, '2025-03-03 08:00:00', '2025-03-03 08:00:00');"
        )
    };
    writer.execute_script(&insert("X1")).await.unwrap();
    let calendar = WorkCalendar::builtin();
    let url = format!("sqlite:{}?mode=ro", path.display());
    let reader = Reader::open(&url, None, &ConnectOptions::default()).unwrap();
    let store = Store::new(
        reader,
        calendar.timezone(),
        std::time::Duration::from_millis(1),
    )
    .with_query_timeout(std::time::Duration::from_secs(30));
    assert_eq!(store.get().await.unwrap().dataset.dossiers.len(), 1);
    writer.execute_script(&insert("X2")).await.unwrap();
    writer.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // Stale: answered at once from the cache, and a reload starts.
    assert_eq!(store.get().await.unwrap().dataset.dossiers.len(), 1);
    let mut seen = 1;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        seen = store.cached().unwrap().dataset.dossiers.len();
        if seen == 2 {
            break;
        }
    }
    assert_eq!(seen, 2, "the background reload did not replace the data");
}

// --- /dossiers, the worklist (DESIGN §9)

fn worklist_rows(state_param: &str, body: &[u8]) -> Vec<Value> {
    let json: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["state"], state_param);
    assert!(
        json["as_of"].as_str().unwrap().ends_with("+07:00"),
        "{json}"
    );
    json["rows"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_worklist_agrees_with_itself_in_every_format() {
    let state = demo_state();
    let json = async |q: &str| {
        let r = get(&state, &format!("/dossiers?format=json&{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
        r.body
    };
    let all = worklist_rows("pending", &json("state=pending").await);
    let by_state = |s: &str| all.iter().filter(|r| r["state"] == s).count();
    for s in ["overdue", "paused", "in_time"] {
        let listed = worklist_rows(s, &json(&format!("state={s}")).await);
        assert_eq!(listed.len(), by_state(s), "{s}");
        assert!(!listed.is_empty(), "the demo has {s} dossiers on 1 January");
    }
    let overdue = worklist_rows("overdue", &json("").await);
    assert_eq!(overdue.len(), by_state("overdue"), "overdue is the default");
    let soon = worklist_rows("due_soon", &json("state=due_soon").await);
    assert!(
        soon.iter()
            .all(|r| r["state"] == "in_time" && r["due_soon"] == true)
    );
    assert_eq!(
        soon.len(),
        all.iter().filter(|r| r["due_soon"] == true).count()
    );

    // Only the dossier, never the applicant (serde_json sorts the keys).
    let keys: Vec<&str> = all[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "code",
        "agency",
        "sector",
        "procedure",
        "channel",
        "status",
        "received_at",
        "due_at",
        "due_date",
        "state",
        "due_soon",
        "overdue_workdays",
        "apology",
    ];
    expected.sort();
    assert_eq!(keys, expected);
    // The order of DESIGN §9.
    for pair in all.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (da, db) = (
            a["overdue_workdays"].as_i64().unwrap(),
            b["overdue_workdays"].as_i64().unwrap(),
        );
        assert!(
            da > db || (da == db && a["received_at"].as_str() <= b["received_at"].as_str()),
            "out of order: {a} before {b}"
        );
    }
    for r in &all {
        let days = r["overdue_workdays"].as_i64().unwrap();
        assert!(r["state"] == "overdue" || days == 0, "{r}");
    }

    // An agency and a sector filter.
    let agency = overdue[0]["agency"].as_str().unwrap().to_owned();
    let sector = overdue[0]["sector"].as_str().unwrap().to_owned();
    let r = get(
        &state,
        &format!("/dossiers?format=json&agency={agency}&sector={sector}"),
    )
    .await;
    let one = worklist_rows("overdue", &r.body);
    assert!(
        !one.is_empty()
            && one
                .iter()
                .all(|r| r["agency"] == *agency && r["sector"] == *sector)
    );
    let expected = overdue
        .iter()
        .filter(|r| r["agency"] == *agency && r["sector"] == *sector)
        .count();
    assert_eq!(one.len(), expected);

    // CSV: BOM, header, one line per row, in the same order.
    let r = get(&state, "/dossiers?format=csv&state=pending").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/csv"));
    assert!(r.body.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let text = r.text();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert!(
        lines[0].starts_with("code,agency,agency_name,sector,procedure,"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines.len(),
        all.len() + 2,
        "a line per row, and the final CRLF"
    );
    assert!(lines[1].starts_with(&format!(
        "{},{},",
        all[0]["code"].as_str().unwrap(),
        all[0]["agency"].as_str().unwrap()
    )));

    // HTML: Vietnamese by default, paged, each row linking to its agency's report.
    let r = get(&state, "/dossiers?per_page=10").await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains("<html lang=\"vi\"") && html.contains("Hồ sơ cần xử lý"));
    assert_eq!(
        html.matches("<tr class=\"overdue\">").count(),
        10.min(overdue.len())
    );
    assert!(html.contains(&format!(
        "/reports/2026-01?lang=vi&amp;agency={}",
        overdue[0]["agency"].as_str().unwrap()
    )));
    assert!(html.contains(&format!("Quá hạn ({})", overdue.len())));
    if overdue.len() > 10 {
        assert!(html.contains(
            "rel=\"next\" href=\"/dossiers?state=overdue&amp;lang=vi&amp;per_page=10&amp;page=2\""
        ));
        let page2 = get(&state, "/dossiers?per_page=10&page=2&lang=en")
            .await
            .text();
        assert!(page2.contains("<td>11</td>") && page2.contains("Dossiers to chase"));
        assert!(page2.contains(&format!(
            "<td>{}</td>",
            overdue[10]["code"].as_str().unwrap()
        )));
    }
    // The home page links to the worklist.
    assert!(
        get(&state, "/")
            .await
            .text()
            .contains("/dossiers?state=overdue&amp;lang=vi")
    );
}

#[tokio::test]
async fn worklist_bad_input_is_a_400_or_404_naming_the_parameter() {
    let state = demo_state();
    for (uri, status, name) in [
        ("/dossiers?state=late", StatusCode::BAD_REQUEST, "`state`"),
        (
            "/dossiers?agency=NO-SUCH",
            StatusCode::NOT_FOUND,
            "`agency`",
        ),
        (
            "/dossiers?sector=NO-SUCH",
            StatusCode::NOT_FOUND,
            "`sector`",
        ),
        ("/dossiers?page=0", StatusCode::BAD_REQUEST, "`page`"),
        ("/dossiers?page=-1", StatusCode::BAD_REQUEST, "`page`"),
        ("/dossiers?page=two", StatusCode::BAD_REQUEST, "`page`"),
        ("/dossiers?page=99999", StatusCode::NOT_FOUND, "`page`"),
        (
            "/dossiers?per_page=1001",
            StatusCode::BAD_REQUEST,
            "`per_page`",
        ),
        (
            "/dossiers?format=xlsx2",
            StatusCode::BAD_REQUEST,
            "`format`",
        ),
        ("/dossiers?lang=fr", StatusCode::BAD_REQUEST, "`lang`"),
        (
            "/dossiers?applicant=x",
            StatusCode::BAD_REQUEST,
            "`applicant`",
        ),
    ] {
        let r = get(&state, uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert!(r.text().contains(name), "{uri}: {}", r.text());
    }
}
