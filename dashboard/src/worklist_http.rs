//! `/dossiers` — the worklist of pending dossiers at the instant of the
//! request (DESIGN §9), for the one-stop staff who chase them:
//!
//! - `state`: overdue (default), due_soon, paused, in_time, or pending (all)
//! - `agency`, `sector`: codes (404 when the source has no such code)
//! - `format`: html (default; Vietnamese, `lang=en`), csv (UTF-8 with BOM,
//!   streamed), json
//! - `page`, `per_page` (HTML only; default 1 and 100, at most 1000)
//!
//! The states, due dates and overdue ages are those of
//! `motcua_queries::worklist`, the definition the exporter's gauges use.
//! Nothing about the applicant is shown: only the dossier code, procedure,
//! agency, sector, channel, status and dates.

use std::fmt::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::FixedOffset;
use motcua_queries::calendar::date_of;
use motcua_queries::model::{Dataset, PendingState, datetime_of};
use motcua_queries::worklist::{Filter, Pending, StateFilter, worklist};
use motcua_queries::{Judge, Ts};
use serde::Serialize;

use crate::app::AppState;
use crate::charts::{agency_name, sector_name};
use crate::csv::{BOM, field};
use crate::data::Loaded;
use crate::http::{ApiError, encode, get_param, params, parse_lang, resolve_agency};
use crate::i18n::Lang;
use crate::report_html::esc;

/// The formats `/dossiers` answers in.
pub const FORMATS: [&str; 3] = ["html", "csv", "json"];
/// Rows on an HTML page unless `per_page` says otherwise, and its maximum.
pub const PER_PAGE: usize = 100;
pub const MAX_PER_PAGE: usize = 1000;
/// CSV rows formatted per streamed chunk.
const CSV_CHUNK_ROWS: usize = 2000;

/// A validated `/dossiers` request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    filter: Filter,
    agency_code: Option<String>,
    sector_code: Option<String>,
    format: String,
    lang: Lang,
    page: usize,
    per_page: usize,
}

fn parse_query(raw: Option<&str>, loaded: &Loaded) -> Result<Query, ApiError> {
    let p = params(
        raw,
        &[
            "state", "agency", "sector", "format", "lang", "page", "per_page",
        ],
    )?;
    let lang = parse_lang(&p)?;
    let format = get_param(&p, "format").unwrap_or("html").to_owned();
    if !FORMATS.contains(&format.as_str()) {
        return Err(ApiError::bad_param(
            "format",
            format!(
                "{:?} is not a worklist format: use {}",
                format.chars().take(20).collect::<String>(),
                FORMATS.join(", ")
            ),
        ));
    }
    let state = match get_param(&p, "state") {
        None => StateFilter::default(),
        Some(v) => StateFilter::parse(v).ok_or_else(|| {
            ApiError::bad_param(
                "state",
                format!(
                    "{:?} is not a state: use {}",
                    v.chars().take(20).collect::<String>(),
                    StateFilter::ALL
                        .iter()
                        .map(|f| f.label())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?,
    };
    let agency_code = get_param(&p, "agency").map(str::to_owned);
    let agency = resolve_agency(loaded, agency_code.as_deref())?;
    let sector_code = get_param(&p, "sector").map(str::to_owned);
    let sector = match sector_code.as_deref() {
        None => None,
        Some(code) => Some(
            loaded
                .dataset
                .sector_codes
                .iter()
                .position(|c| c == code)
                .map(|i| i as u32)
                .ok_or_else(|| ApiError {
                    status: StatusCode::NOT_FOUND,
                    message: format!(
                        "parameter `sector`: unknown sector {:?} (no such code in the source)",
                        code.chars().take(80).collect::<String>()
                    ),
                })?,
        ),
    };
    let page = positive(&p, "page", 1, usize::MAX)?;
    let per_page = positive(&p, "per_page", PER_PAGE, MAX_PER_PAGE)?;
    Ok(Query {
        filter: Filter {
            state,
            agency,
            sector,
        },
        agency_code,
        sector_code,
        format,
        lang,
        page,
        per_page,
    })
}

/// A whole number from 1 to `max`, else a 400 naming the parameter.
fn positive(
    p: &[(&'static str, String)],
    name: &'static str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(v) = get_param(p, name) else {
        return Ok(default);
    };
    let n = (v.len() <= 9 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse::<usize>().ok())
        .flatten()
        .filter(|n| (1..=max).contains(n));
    n.ok_or_else(|| {
        let range = if max == usize::MAX {
            "from 1".to_owned()
        } else {
            format!("from 1 to {max}")
        };
        ApiError::bad_param(
            name,
            format!(
                "{:?} must be a whole number {range}",
                v.chars().take(20).collect::<String>()
            ),
        )
    })
}

/// One worklist line, owning nothing: indices into the loaded dataset.
#[derive(Debug, Clone, Copy)]
struct Line {
    open: u32,
    pending: Pending,
}

/// The lines for `filter` at `now`, in DESIGN §9's order.
fn lines(state: &AppState, loaded: &Loaded, now: Ts, filter: &Filter) -> Vec<Line> {
    let judge = Judge::new(&loaded.dataset, &state.calendar);
    worklist(&judge, now, filter)
        .into_iter()
        .map(|e| Line {
            open: e.open_index,
            pending: e.pending,
        })
        .collect()
}

/// A line as JSON and CSV show it (DESIGN §9).
#[derive(Debug, Serialize)]
struct Row<'a> {
    code: &'a str,
    agency: &'a str,
    sector: &'a str,
    procedure: &'a str,
    channel: &'static str,
    status: u8,
    received_at: String,
    due_at: Option<String>,
    /// The local date it is due, counting the pauses closed so far.
    due_date: Option<String>,
    state: &'static str,
    due_soon: bool,
    overdue_workdays: i64,
    apology: bool,
}

fn instant(t: Ts) -> String {
    datetime_of(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn row<'a>(ds: &'a Dataset, line: &Line) -> Row<'a> {
    let identity = &ds.open[line.open as usize];
    let d = &ds.dossiers[identity.dossier as usize];
    let p = &line.pending;
    Row {
        code: &identity.code,
        agency: ds
            .agency_codes
            .get(d.agency as usize)
            .map_or("", String::as_str),
        sector: ds
            .sector_codes
            .get(d.sector as usize)
            .map_or("", String::as_str),
        procedure: &identity.procedure,
        channel: d.channel.label(),
        status: identity.status,
        received_at: instant(d.received),
        due_at: d.due.map(instant),
        due_date: p.due.map(|day| date_of(day).to_string()),
        state: p.state.label(),
        due_soon: p.due_soon,
        overdue_workdays: p.overdue_workdays,
        apology: d.has_apology,
    }
}

#[derive(Serialize)]
struct Listing<'a> {
    as_of: String,
    state: &'static str,
    rows: Vec<Row<'a>>,
}

/// `now` in RFC 3339 with the calendar's offset.
fn as_of(now: Ts, zone: FixedOffset) -> String {
    format!("{}{zone}", datetime_of(now).format("%Y-%m-%dT%H:%M:%S"))
}

pub async fn dossiers(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    // Parameters that need no data are checked before waiting for it.
    params(
        raw.as_deref(),
        &[
            "state", "agency", "sector", "format", "lang", "page", "per_page",
        ],
    )?;
    let loaded = state.store.get().await?;
    let q = parse_query(raw.as_deref(), &loaded)?;
    let now = state.now();
    let st = state.clone();
    let ld = Arc::clone(&loaded);
    let filter = q.filter;
    let html = q.format == "html";
    let (lines, counts) = tokio::task::spawn_blocking(move || {
        if !html {
            return (lines(&st, &ld, now, &filter), Vec::new());
        }
        // One pass for the page: every pending dossier of the agency and
        // sector gives both the tabs' counts and, filtered (the order
        // kept), the state shown.
        let all = lines(
            &st,
            &ld,
            now,
            &Filter {
                state: StateFilter::Pending,
                ..filter
            },
        );
        let counts = StateFilter::ALL
            .iter()
            .map(|f| all.iter().filter(|l| f.admits(&l.pending)).count())
            .collect();
        let shown = all
            .into_iter()
            .filter(|l| filter.state.admits(&l.pending))
            .collect();
        (shown, counts)
    })
    .await
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("listing the dossiers failed: {e}"),
    })?;
    let zone = state.calendar.timezone();
    match q.format.as_str() {
        "json" => {
            let listing = Listing {
                as_of: as_of(now, zone),
                state: q.filter.state.label(),
                rows: lines.iter().map(|l| row(&loaded.dataset, l)).collect(),
            };
            let body = serde_json::to_string_pretty(&listing).unwrap_or_default();
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        "csv" => Ok(csv_response(loaded, lines, q.filter.state, now)),
        _ => {
            let pages = lines.len().div_ceil(q.per_page).max(1);
            if q.page > pages {
                return Err(ApiError {
                    status: StatusCode::NOT_FOUND,
                    message: format!(
                        "parameter `page`: page {} is past the last page ({pages})",
                        q.page
                    ),
                });
            }
            let html = page(&state, &loaded, &q, &lines, &counts, as_of(now, zone));
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
        }
    }
}

const CSV_HEADER: &str = "code,agency,agency_name,sector,procedure,channel,status,received_at,due_at,due_date,state,due_soon,overdue_workdays,apology\r\n";

/// The CSV, streamed a few thousand rows at a time: the body is never
/// held whole, however many dossiers are pending.
fn csv_response(loaded: Arc<Loaded>, lines: Vec<Line>, state: StateFilter, now: Ts) -> Response {
    let chunks = lines.len().div_ceil(CSV_CHUNK_ROWS);
    let head = std::iter::once(Bytes::from(format!("{BOM}{CSV_HEADER}")));
    let body = (0..chunks).map(move |i| {
        let ds = &loaded.dataset;
        let mut out = String::new();
        for line in &lines[i * CSV_CHUNK_ROWS..((i + 1) * CSV_CHUNK_ROWS).min(lines.len())] {
            let r = row(ds, line);
            let d = &ds.dossiers[ds.open[line.open as usize].dossier as usize];
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
                field(r.code),
                field(r.agency),
                field(&agency_name(ds, d.agency)),
                field(r.sector),
                field(r.procedure),
                r.channel,
                r.status,
                r.received_at,
                r.due_at.unwrap_or_default(),
                r.due_date.unwrap_or_default(),
                r.state,
                r.due_soon,
                r.overdue_workdays,
                r.apology,
            );
        }
        Bytes::from(out)
    });
    let stream =
        futures_util::stream::iter(head.chain(body).map(Ok::<Bytes, std::convert::Infallible>));
    let stamp = datetime_of(now).format("%Y%m%d-%H%M");
    let disposition = format!(
        "attachment; filename=\"dossiers-{}-{stamp}.csv\"",
        state.label()
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The words of the worklist page.
struct Words {
    title: &'static str,
    as_of: &'static str,
    all_agencies: &'static str,
    columns: [&'static str; 11],
    states: [&'static str; 5],
    apology: &'static str,
    none: &'static str,
    page: &'static str,
    previous: &'static str,
    next: &'static str,
    report: &'static str,
    home: &'static str,
}

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Vi => &Words {
            title: "Hồ sơ cần xử lý",
            as_of: "Tại thời điểm",
            all_agencies: "Tất cả cơ quan",
            columns: [
                "STT",
                "Mã hồ sơ",
                "Cơ quan",
                "Lĩnh vực",
                "Thủ tục",
                "Kênh",
                "Ngày tiếp nhận",
                "Hạn giải quyết",
                "Trạng thái",
                "Số ngày quá hạn",
                "Xin lỗi",
            ],
            states: ["Quá hạn", "Sắp đến hạn", "Tạm dừng", "Trong hạn", "Tất cả"],
            apology: "Đã có thư xin lỗi",
            none: "Không có hồ sơ nào.",
            page: "Trang",
            previous: "Trang trước",
            next: "Trang sau",
            report: "Báo cáo của cơ quan",
            home: "Trang chủ",
        },
        Lang::En => &Words {
            title: "Dossiers to chase",
            as_of: "As of",
            all_agencies: "All agencies",
            columns: [
                "#",
                "Dossier code",
                "Agency",
                "Sector",
                "Procedure",
                "Channel",
                "Received",
                "Due",
                "State",
                "Working days overdue",
                "Apology",
            ],
            states: ["Overdue", "Due soon", "Paused", "In time", "All"],
            apology: "Apology sent",
            none: "No dossiers.",
            page: "Page",
            previous: "Previous page",
            next: "Next page",
            report: "The agency's report",
            home: "Home",
        },
    }
}

fn state_word(lang: Lang, f: StateFilter) -> &'static str {
    let i = StateFilter::ALL.iter().position(|x| *x == f).unwrap_or(0);
    words(lang).states[i]
}

/// The link to this worklist with some parameters changed.
fn link(q: &Query, state: StateFilter, page: usize) -> String {
    let mut url = format!("/dossiers?state={}&lang={}", state.label(), q.lang.code());
    if let Some(a) = &q.agency_code {
        let _ = write!(url, "&agency={}", encode(a));
    }
    if let Some(s) = &q.sector_code {
        let _ = write!(url, "&sector={}", encode(s));
    }
    if q.per_page != PER_PAGE {
        let _ = write!(url, "&per_page={}", q.per_page);
    }
    if page > 1 {
        let _ = write!(url, "&page={page}");
    }
    url
}

fn page(
    state: &AppState,
    loaded: &Loaded,
    q: &Query,
    lines: &[Line],
    counts: &[usize],
    as_of: String,
) -> String {
    let ds = &loaded.dataset;
    let w = words(q.lang);
    let lang = q.lang;
    let scope = match q.filter.agency {
        Some(a) => agency_name(ds, a),
        None => w.all_agencies.to_owned(),
    };
    let month = state.today().format("%Y-%m");
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — {scope}</title><style>{CSS}</style></head><body>\
         <p><a href=\"/?lang={code}\">{home}</a></p>\
         <h1>{title}</h1><p class=\"scope\">{scope} · {as_of_word} {as_of}</p><nav class=\"states\">",
        code = lang.code(),
        title = w.title,
        scope = esc(&scope),
        home = w.home,
        as_of_word = w.as_of,
        as_of = esc(&as_of),
    );
    for (f, n) in StateFilter::ALL.iter().zip(counts) {
        let class = if *f == q.filter.state {
            " class=\"current\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<a{class} href=\"{}\">{} ({})</a> ",
            esc(&link(q, *f, 1)),
            state_word(lang, *f),
            lang.int(*n as u64)
        );
    }
    let base = link(q, q.filter.state, 1);
    let _ = write!(
        h,
        "</nav><p class=\"downloads\"><a href=\"{csv}\">CSV</a> · <a href=\"{json}\">JSON</a></p>",
        csv = esc(&format!("{base}&format=csv")),
        json = esc(&format!("{base}&format=json")),
    );
    let first = (q.page - 1) * q.per_page;
    let shown = &lines[first.min(lines.len())..(first + q.per_page).min(lines.len())];
    if shown.is_empty() {
        let _ = write!(h, "<p class=\"empty\">{}</p>", w.none);
    } else {
        h.push_str("<table><thead><tr>");
        for c in w.columns {
            let _ = write!(h, "<th>{c}</th>");
        }
        h.push_str("</tr></thead><tbody>");
        for (i, line) in shown.iter().enumerate() {
            let r = row(ds, line);
            let d = &ds.dossiers[ds.open[line.open as usize].dossier as usize];
            let report = format!(
                "/reports/{month}?lang={}&agency={}",
                lang.code(),
                encode(r.agency)
            );
            let state_class = if line.pending.due_soon {
                "due_soon"
            } else {
                r.state
            };
            let state_label = if line.pending.due_soon {
                state_word(lang, StateFilter::DueSoon)
            } else {
                match line.pending.state {
                    PendingState::Overdue => state_word(lang, StateFilter::Overdue),
                    PendingState::Paused => state_word(lang, StateFilter::Paused),
                    PendingState::InTime => state_word(lang, StateFilter::InTime),
                }
            };
            let _ = write!(
                h,
                "<tr class=\"{state_class}\"><td>{n}</td><td>{code}</td>\
                 <td><a href=\"{report}\" title=\"{report_word}\">{agency}</a></td>\
                 <td>{sector}</td><td>{procedure}</td><td>{channel}</td>\
                 <td>{received}</td><td>{due}</td><td>{state_label}</td>\
                 <td class=\"num\">{overdue}</td><td>{apology}</td></tr>",
                n = first + i + 1,
                code = esc(r.code),
                report = esc(&report),
                report_word = w.report,
                agency = esc(&agency_name(ds, d.agency)),
                sector = esc(&sector_name(ds, d.sector, lang)),
                procedure = esc(r.procedure),
                channel = r.channel,
                received = r.received_at,
                due = r.due_date.unwrap_or_default(),
                overdue = r.overdue_workdays,
                apology = if r.apology { w.apology } else { "" },
            );
        }
        h.push_str("</tbody></table>");
    }
    let pages = lines.len().div_ceil(q.per_page).max(1);
    if pages > 1 {
        h.push_str("<nav class=\"pages\">");
        if q.page > 1 {
            let _ = write!(
                h,
                "<a rel=\"prev\" href=\"{}\">{}</a> ",
                esc(&link(q, q.filter.state, q.page - 1)),
                w.previous
            );
        }
        let _ = write!(h, "{} {} / {}", w.page, q.page, pages);
        if q.page < pages {
            let _ = write!(
                h,
                " <a rel=\"next\" href=\"{}\">{}</a>",
                esc(&link(q, q.filter.state, q.page + 1)),
                w.next
            );
        }
        h.push_str("</nav>");
    }
    h.push_str("</body></html>\n");
    h
}

const CSS: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;font-size:0.9em}th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left}\
th{background:#f0f0f0}td.num{text-align:right}tr.overdue td{background:#fde2e1}\
tr.due_soon td{background:#fff4ce}tr.paused td{background:#eef}\
nav.states a{margin-right:0.8em}nav.states a.current{font-weight:bold;text-decoration:none;color:#000}\
.scope{color:#555}nav.pages{margin-top:1em}";

/// The home page's section linking to the worklist in each state.
pub fn home_links(lang: Lang) -> String {
    let w = words(lang);
    let mut h = format!("<h2>{}</h2>\n<ul>", w.title);
    for f in StateFilter::ALL {
        let _ = write!(
            h,
            "<li><a href=\"/dossiers?state={}&amp;lang={}\">{}</a></li>",
            f.label(),
            lang.code(),
            state_word(lang, *f)
        );
    }
    h.push_str("</ul>\n");
    h
}
