//! The HTTP interface (DESIGN §5), built in one place ([`router`]).
//!
//! - `/` — the charts of a period (`period`, default the latest year with
//!   data) and `agency`, as lazy-loaded images with links to their PNG and
//!   SVG; links to that period's report and index in every format and to
//!   the worklist; the periods with data; a form (plain GET) to choose
//!   period, agency, `lang`
//! - `/charts/{name}.{png,svg}` — `from`, `to` (YYYY-MM-DD), `agency`, `lang`, `width`, `height`
//! - `/reports/{period}` — HTML; `?format=csv`, `json` or `xlsx` (the
//!   Biểu 06 workbook with a sheet of the period's charts, see
//!   [`crate::xlsx`]); `agency`, `lang`
//! - `/reports?period=…&agency=…` — the index form's target: redirects to the above
//! - `/index/{period}` — the service index estimate (DESIGN §8) as HTML,
//!   CSV, JSON or a workbook, see [`crate::index_http`]
//! - `/dossiers` — the worklist of pending dossiers now (DESIGN §9), see [`crate::worklist_http`]
//! - `/healthz` — liveness: 200 at once while the process runs
//! - `/readyz` — readiness: 200 when there is data to answer with, else 503
//!   with the reason (loading, or the source down with nothing cached); never waits
//!
//! Parameters are validated into typed requests first: a bad one is a 400
//! naming it, an unknown agency a 404 naming it, no data yet a 503 saying
//! why, with `Retry-After`. Every page takes its data from
//! [`crate::data::Store::get`], which waits for the first load at most
//! [`crate::data::FIRST_LOAD_WAIT`]. Charts are drawn on blocking threads,
//! a bounded number at once.

use std::fmt::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Datelike, NaiveDate};
use motcua_queries::charts::{MAX_RANGE_DAYS, data_span, default_range};
use motcua_queries::report::{PeriodKind, PeriodName};

use crate::app::{self, AppState, ChartRequest, Format};
use crate::charts::{ChartKind, MAX_SIDE, MIN_SIDE, agency_name};
use crate::data::Loaded;
use crate::i18n::Lang;
use crate::report_html::{Figure, Loading, esc, figure_html};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/charts/{file}", get(chart))
        .route("/reports", get(report_form))
        .route("/reports/{period}", get(report))
        .route("/index/{period}", get(crate::index_http::service_index))
        .route("/dossiers", get(crate::worklist_http::dossiers))
        .with_state(state)
}

/// An error answer: status and a message naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_param(name: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("parameter `{name}`: {problem}"),
        }
    }

    fn unknown_agency(code: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "parameter `agency`: unknown agency {:?} (no such code in the source)",
                code.chars().take(80).collect::<String>()
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, format!("{}\n", self.message)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        // A 503 always means "no data yet": say when to ask again.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        r
    }
}

/// `Retry-After` of every 503: when a failed load is retried.
const RETRY_AFTER_SECS: u64 = crate::data::RETRY_AFTER.as_secs();

impl From<crate::data::Unavailable> for ApiError {
    fn from(e: crate::data::Unavailable) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("{e}; retrying — try again shortly"),
        }
    }
}

/// Longest query string accepted.
const MAX_QUERY: usize = 2048;

/// Decoded `name=value` pairs; each name at most once, and only the allowed ones.
pub(crate) fn params(
    raw: Option<&str>,
    allowed: &[&'static str],
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_QUERY {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("the query string is longer than {MAX_QUERY} bytes"),
        });
    }
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k)
            .ok_or_else(|| ApiError::bad_param(k, "is not valid percent-encoded UTF-8"))?;
        let name = allowed.iter().copied().find(|a| *a == k).ok_or_else(|| {
            ApiError::bad_param(
                &k.chars().take(40).collect::<String>(),
                format!("unknown parameter; use {}", allowed.join(", ")),
            )
        })?;
        let v = decode(v)
            .ok_or_else(|| ApiError::bad_param(name, "is not valid percent-encoded UTF-8"))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::bad_param(name, "given more than once"));
        }
        // An empty value (an untouched form field) means "not given".
        if !v.is_empty() {
            out.push((name, v));
        }
    }
    Ok(out)
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

pub(crate) fn get_param<'a>(p: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

fn parse_date(name: &str, v: &str) -> Result<NaiveDate, ApiError> {
    let bad = || {
        ApiError::bad_param(
            name,
            format!(
                "{:?} is not a date; write YYYY-MM-DD",
                v.chars().take(40).collect::<String>()
            ),
        )
    };
    if v.len() != 10 {
        return Err(bad());
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| bad())?;
    if !(2000..=2100).contains(&d.year()) {
        return Err(ApiError::bad_param(
            name,
            format!("{v} is outside the years 2000–2100"),
        ));
    }
    Ok(d)
}

pub(crate) fn parse_lang(p: &[(&'static str, String)]) -> Result<Lang, ApiError> {
    get_param(p, "lang").map_or(Ok(Lang::Vi), |v| {
        v.parse().map_err(|e| ApiError::bad_param("lang", e))
    })
}

fn parse_side(p: &[(&'static str, String)], name: &str, default: u32) -> Result<u32, ApiError> {
    let Some(v) = get_param(p, name) else {
        return Ok(default);
    };
    let bad = || {
        ApiError::bad_param(
            name,
            format!(
                "{:?} must be a whole number of pixels from {MIN_SIDE} to {MAX_SIDE}",
                v.chars().take(20).collect::<String>()
            ),
        )
    };
    let n: u32 = if v.len() <= 6 && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse().map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    if (MIN_SIDE..=MAX_SIDE).contains(&n) {
        Ok(n)
    } else {
        Err(bad())
    }
}

pub(crate) fn parse_period(v: &str) -> Result<PeriodName, ApiError> {
    v.parse::<PeriodName>()
        .map_err(|e| ApiError::bad_param("period", e))
}

/// Resolves an agency code against the data: 404 when unknown.
pub(crate) fn resolve_agency(loaded: &Loaded, code: Option<&str>) -> Result<Option<u32>, ApiError> {
    match code {
        None => Ok(None),
        Some(code) => loaded
            .dataset
            .agency_index(code)
            .map(Some)
            .ok_or_else(|| ApiError::unknown_agency(code)),
    }
}

/// The query of a chart, validated (the agency is checked against the data later).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartQuery {
    pub kind: ChartKind,
    pub format: Format,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub agency: Option<String>,
    pub lang: Lang,
    pub width: u32,
    pub height: u32,
}

pub fn parse_chart_query(
    file: &str,
    raw: Option<&str>,
    today: NaiveDate,
    state: &AppState,
) -> Result<ChartQuery, ApiError> {
    let (name, ext) = file.rsplit_once('.').ok_or_else(|| {
        ApiError::bad_param(
            "format",
            format!(
                "{:?} has no extension: ask for NAME.png or NAME.svg",
                file.chars().take(60).collect::<String>()
            ),
        )
    })?;
    let kind: ChartKind = name.parse().map_err(|e| ApiError::bad_param("chart", e))?;
    let format = match ext {
        "png" => Format::Png,
        "svg" => Format::Svg,
        other => {
            return Err(ApiError::bad_param(
                "format",
                format!(
                    "{:?} is not a chart format: use .png or .svg",
                    other.chars().take(20).collect::<String>()
                ),
            ));
        }
    };
    let p = params(raw, &["from", "to", "agency", "lang", "width", "height"])?;
    let from = get_param(&p, "from")
        .map(|v| parse_date("from", v))
        .transpose()?;
    let to = get_param(&p, "to")
        .map(|v| parse_date("to", v))
        .transpose()?;
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, today.max(f)),
        (None, Some(t)) => (default_range(t, state.convention).0, t),
        (None, None) => default_range(today, state.convention),
    };
    if from > to {
        return Err(ApiError::bad_param(
            "from",
            format!("{from} is after `to` ({to})"),
        ));
    }
    if (to - from).num_days() > MAX_RANGE_DAYS {
        return Err(ApiError::bad_param(
            "from",
            format!("the range {from} … {to} is longer than {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok(ChartQuery {
        kind,
        format,
        from,
        to,
        agency: get_param(&p, "agency").map(str::to_owned),
        lang: parse_lang(&p)?,
        width: parse_side(&p, "width", 1200)?,
        height: parse_side(&p, "height", 700)?,
    })
}

async fn chart(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let file = path_segment(file, "chart")?;
    let q = parse_chart_query(&file, raw.as_deref(), state.today(), &state)?;
    let loaded = state.store.get().await?;
    let agency = resolve_agency(&loaded, q.agency.as_deref())?;
    // A range that is exactly a reporting period is named as one.
    let period = [PeriodKind::Year, PeriodKind::Quarter, PeriodKind::Month]
        .into_iter()
        .map(|k| PeriodName::containing(k, q.from, state.convention))
        .chain(half_containing(q.from, &state))
        .find(|p| p.bounds(state.convention) == (q.from, q.to));
    let req = ChartRequest {
        kind: q.kind,
        from: q.from,
        to: q.to,
        agency,
        lang: q.lang,
        width: q.width,
        height: q.height,
        period,
    };
    let bytes = draw(&state, loaded, req, q.format).await?;
    let content_type = match q.format {
        Format::Png => "image/png",
        Format::Svg => "image/svg+xml; charset=utf-8",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response())
}

fn half_containing(d: NaiveDate, state: &AppState) -> Option<PeriodName> {
    match PeriodName::containing(PeriodKind::Quarter, d, state.convention) {
        PeriodName::Quarter(y, q) => Some(PeriodName::Half(y, q.div_ceil(2))),
        _ => None,
    }
}

/// Draws a chart on a blocking thread, holding one of the render permits.
async fn draw(
    state: &AppState,
    loaded: Arc<Loaded>,
    req: ChartRequest,
    format: Format,
) -> Result<Vec<u8>, ApiError> {
    let st = state.clone();
    with_render_permit(state, "drawing the chart", move || {
        app::chart(&st, &loaded, &req, format)
    })
    .await
}

/// Runs `work` on a blocking thread holding one of the render permits
/// (they bound how many charts are drawn at once); a failure is a 500
/// saying `what` failed.
async fn with_render_permit<T: Send + 'static>(
    state: &AppState,
    what: &str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    let internal = |m: String| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("{what} failed: {m}"),
    };
    let _permit = state
        .render_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| internal(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(internal)
}

async fn report(
    State(state): State<AppState>,
    period: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let period = parse_period(&path_segment(period, "period")?)?;
    let p = params(raw.as_deref(), &["format", "agency", "lang"])?;
    let lang = parse_lang(&p)?;
    let format = parse_format(&p, &REPORT_FORMATS, "a report")?;
    let loaded = state.store.get().await?;
    let agency_code = get_param(&p, "agency");
    let agency = resolve_agency(&loaded, agency_code)?;
    if format == "xlsx" {
        let st = state.clone();
        return workbook_response(&state, format!("bieu06-{period}.xlsx"), move || {
            let charts = app::chart_images(&st, &loaded, period, agency, lang, &ChartKind::REPORT)?;
            app::report_workbook(&st, &loaded, period, agency, lang, &charts)
                .map_err(|e| e.to_string())
        })
        .await;
    }
    let st = state.clone();
    let format = format.to_owned();
    let agency_q = agency_code
        .map(|c| format!("&agency={}", encode(c)))
        .unwrap_or_default();
    let response = tokio::task::spawn_blocking(move || -> Response {
        match format.as_str() {
            "json" => {
                let (report, _) = app::report(&st, &loaded, period, agency);
                let body = serde_json::to_string_pretty(&report).unwrap_or_default();
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }
            "csv" => {
                let (report, _) = app::report(&st, &loaded, period, agency);
                let body = crate::csv::report_csv(&report, &loaded.dataset, lang);
                let disposition = format!("attachment; filename=\"bieu06-{period}.csv\"");
                (
                    [
                        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                        (header::CONTENT_DISPOSITION, disposition),
                    ],
                    body,
                )
                    .into_response()
            }
            _ => {
                let (from, to) = period.bounds(st.convention);
                let q = format!("from={from}&to={to}&lang={}{agency_q}", lang.code());
                let figure = |k: ChartKind| chart_figure(k, &q, lang, agency);
                let base = format!("/reports/{period}?lang={}{agency_q}", lang.code());
                let downloads = download_links(&base, &REPORT_FORMATS);
                let (html, _) = app::report_page(
                    &st,
                    &loaded,
                    period,
                    agency,
                    lang,
                    &figure,
                    downloads,
                    Some("/".into()),
                );
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
            }
        }
    })
    .await
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("drawing up the report failed: {e}"),
    })?;
    Ok(response)
}

/// A path segment, or a 400 naming it when it does not decode (not UTF-8).
pub(crate) fn path_segment(
    segment: Result<Path<String>, PathRejection>,
    name: &str,
) -> Result<String, ApiError> {
    segment
        .map(|Path(s)| s)
        .map_err(|_| ApiError::bad_param(name, "is not valid percent-encoded UTF-8"))
}

/// The formats `/reports/{period}` answers in.
pub const REPORT_FORMATS: [&str; 4] = ["html", "csv", "json", "xlsx"];

/// The `format` parameter (html when absent): one of `formats`, else a 400
/// naming them. `what` is the kind of page ("a report").
pub(crate) fn parse_format<'a>(
    p: &'a [(&'static str, String)],
    formats: &[&'static str],
    what: &str,
) -> Result<&'a str, ApiError> {
    let format = get_param(p, "format").unwrap_or("html");
    if formats.contains(&format) {
        return Ok(format);
    }
    Err(ApiError::bad_param(
        "format",
        format!(
            "{:?} is not {what} format: use {}",
            format.chars().take(20).collect::<String>(),
            formats.join(", ")
        ),
    ))
}

/// Links to a page in its other formats: ("CSV", "{base}&format=csv"), …
pub(crate) fn download_links(base: &str, formats: &[&str]) -> Vec<(String, String)> {
    formats
        .iter()
        .filter(|f| **f != "html")
        .map(|f| (f.to_uppercase(), format!("{base}&format={f}")))
        .collect()
}

/// A served chart: its PNG (the image) and links to the PNG and the SVG;
/// `q` is the chart's query string (range, language, agency).
fn chart_figure(kind: ChartKind, q: &str, lang: Lang, agency: Option<u32>) -> Figure {
    let png = format!("/charts/{kind}.png?{q}");
    Figure {
        src: png.clone(),
        title: app::chart_title(kind, lang, agency).to_owned(),
        links: vec![
            ("PNG".into(), png),
            ("SVG".into(), format!("/charts/{kind}.svg?{q}")),
        ],
    }
}

/// A workbook drawn by `build` on a blocking thread (it draws charts, so
/// it holds a render permit), served as a download named `filename`.
pub(crate) async fn workbook_response(
    state: &AppState,
    filename: String,
    build: impl FnOnce() -> Result<Vec<u8>, String> + Send + 'static,
) -> Result<Response, ApiError> {
    let bytes = with_render_permit(state, "writing the workbook", build).await?;
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok((
        [
            (header::CONTENT_TYPE, XLSX_TYPE.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// The media type of an .xlsx workbook.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The index form's target: `/reports?period=2025&agency=X&lang=vi` → `/reports/2025?…`.
async fn report_form(RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let p = params(raw.as_deref(), &["period", "agency", "lang", "format"])?;
    let period = parse_period(
        get_param(&p, "period").ok_or_else(|| ApiError::bad_param("period", "missing"))?,
    )?;
    let lang = parse_lang(&p)?;
    let mut target = format!("/reports/{period}?lang={}", lang.code());
    if let Some(a) = get_param(&p, "agency") {
        let _ = write!(target, "&agency={}", encode(a));
    }
    if let Some(f) = get_param(&p, "format") {
        let _ = write!(target, "&format={}", encode(f));
    }
    Ok(Redirect::to(&target).into_response())
}

/// Liveness: the process runs and serves HTTP. Never looks at the data.
async fn healthz() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n").into_response()
}

/// Readiness: 200 when pages can be answered with data, else 503 with one
/// line saying why. Never waits for the source.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.readiness() {
        Ok(()) => ([(header::CACHE_CONTROL, "no-store")], "ready\n").into_response(),
        Err(e) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("not ready: {e}"),
        }
        .into_response(),
    }
}

/// The periods of the data, newest first: each year with its halves,
/// quarters and months that overlap the data.
pub fn periods_with_data(state: &AppState, loaded: &Loaded) -> Vec<(i32, Vec<PeriodName>)> {
    let judge = loaded.view(&state.calendar);
    let Some((first, last)) = data_span(&judge) else {
        return Vec::new();
    };
    let last = last.min(state.today().max(first));
    let mut years = Vec::new();
    for y in (first.year().max(2000)..=(last.year() + 1).min(2100)).rev() {
        let mut list = vec![PeriodName::Year(y)];
        list.extend((1..=2).map(|h| PeriodName::Half(y, h)));
        list.extend((1..=4).map(|q| PeriodName::Quarter(y, q)));
        list.extend((1..=12).map(|m| PeriodName::Month(y, m)));
        let list: Vec<PeriodName> = list
            .into_iter()
            .filter(|p| {
                let (a, b) = p.bounds(state.convention);
                a <= last && b >= first
            })
            .collect();
        if !list.is_empty() {
            years.push((y, list));
        }
    }
    years
}

/// A table of links to `{base}/{period}`, a row per year.
fn period_table(html: &mut String, years: &[(i32, Vec<PeriodName>)], base: &str, lang: Lang) {
    html.push_str("<table>");
    for (y, list) in years {
        let _ = write!(html, "<tr><th>{y}</th><td>");
        let links: Vec<String> = list
            .iter()
            .map(|p| {
                format!(
                    "<a href=\"{base}/{p}?lang={}\">{}</a>",
                    lang.code(),
                    esc(&p.to_string())
                )
            })
            .collect();
        html.push_str(&links.join(" · "));
        html.push_str("</td></tr>");
    }
    html.push_str("</table>\n");
}

/// The home page: the charts of the chosen period and agency (lazy-loaded
/// images, each with links to its PNG and SVG), downloads of that period's
/// report and index in every format, the periods with data, and a form to
/// choose period, agency and language (a plain GET: no script needed).
async fn index(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(raw.as_deref(), &["lang", "period", "agency"])?;
    let lang = parse_lang(&p)?;
    let chosen_period = get_param(&p, "period").map(parse_period).transpose()?;
    let loaded = state.store.get().await?;
    let agency_code = get_param(&p, "agency");
    let agency = resolve_agency(&loaded, agency_code)?;
    let years = periods_with_data(&state, &loaded);
    // The latest year with data, unless one is chosen.
    let period = chosen_period.unwrap_or_else(|| {
        PeriodName::Year(years.first().map_or(state.today().year(), |(y, _)| *y))
    });
    let agency_q = agency_code
        .map(|c| format!("&agency={}", encode(c)))
        .unwrap_or_default();
    let t = lang.t();
    let mut html = String::with_capacity(32 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\
         <style>{HOME_CSS}</style></head><body>\n",
        lang.code(),
        esc(t.index_title)
    );
    let _ = write!(
        html,
        "<h1>{}</h1>\n<p>{}</p>\n",
        esc(t.index_title),
        esc(t.index_intro)
    );
    let here = |l: Lang| esc(&format!("/?lang={}&period={period}{agency_q}", l.code()));
    let loaded_at = motcua_queries::model::datetime_of(loaded.loaded_at);
    let _ = writeln!(
        html,
        "<p><small>{}: {} {} · {}: {} · <a href=\"{}\">Tiếng Việt</a> · <a href=\"{}\">English</a></small></p>",
        esc(t.data_loaded),
        esc(&lang.date(loaded_at.date())),
        loaded_at.format("%H:%M"),
        esc(t.source),
        esc(&state.source(lang)),
        here(Lang::Vi),
        here(Lang::En)
    );
    home_form(&mut html, &loaded, &years, period, agency, lang);

    // What to download for the period and agency chosen.
    let scope = app::scope_label(&loaded, agency, lang);
    let _ = writeln!(
        html,
        "<h2>{} — {}</h2>\n<ul class=\"downloads\">",
        esc(&lang.period(period)),
        esc(&scope)
    );
    for (label, path, formats) in [
        (t.report_downloads, "reports", &REPORT_FORMATS),
        (t.index_downloads, "index", &crate::index_http::FORMATS),
    ] {
        let base = format!("/{path}/{period}?lang={}{agency_q}", lang.code());
        let _ = write!(
            html,
            "<li>{}: <a href=\"{}\">HTML</a>",
            esc(label),
            esc(&base)
        );
        for (name, href) in download_links(&base, formats) {
            let _ = write!(html, " · <a href=\"{}\">{}</a>", esc(&href), esc(&name));
        }
        html.push_str("</li>\n");
    }
    html.push_str("</ul>\n");

    // The charts of the period, as the report draws them.
    let (from, to) = period.bounds(state.convention);
    let _ = writeln!(
        html,
        "<h2>{}</h2>\n<p><small>{} – {}</small></p>\n<section class=\"charts\">",
        esc(t.charts),
        esc(&lang.date(from)),
        esc(&lang.date(to))
    );
    let q = format!("from={from}&to={to}&lang={}{agency_q}", lang.code());
    for kind in ChartKind::ALL {
        figure_html(
            &mut html,
            &chart_figure(kind, &q, lang, agency),
            Loading::Lazy,
        );
    }
    html.push_str("</section>\n");

    let _ = writeln!(html, "<h2>{}</h2>", esc(t.periods));
    period_table(&mut html, &years, "/reports", lang);
    let _ = writeln!(html, "<h2>{}</h2>", esc(t.index_link));
    period_table(&mut html, &years, "/index", lang);
    // The worklist of pending dossiers, by state.
    html.push_str(&crate::worklist_http::home_links(lang));
    let _ = write!(
        html,
        "<p><small>/charts/NAME.png|svg ? from=YYYY-MM-DD &amp; to=YYYY-MM-DD &amp; agency=CODE &amp; lang=vi|en &amp; width=200–4000 &amp; height=200–4000</small></p>\n</body></html>\n"
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

const HOME_CSS: &str = "body{font-family:\"DejaVu Sans\",sans-serif;max-width:1300px;margin:0 auto;padding:16px;color:#1a1a1a}\
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
a{color:#0072B2}form{display:flex;gap:12px;flex-wrap:wrap;align-items:end;padding:12px;background:#f2f2f2}\
label{display:flex;flex-direction:column;font-size:13px;gap:3px}small{color:#4d4d4d}\
section.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}\
figure{margin:0;border:1px solid #ddd;padding:6px}figure img{display:block;width:100%;height:auto}\
figcaption{font-size:12px;color:#4d4d4d;margin-top:4px}";

/// The form choosing period, agency and language; it reloads this page.
fn home_form(
    html: &mut String,
    loaded: &Loaded,
    years: &[(i32, Vec<PeriodName>)],
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
) {
    let t = lang.t();
    let selected = |yes: bool| if yes { " selected" } else { "" };
    let _ = write!(
        html,
        "<h2>{}</h2>\n<form method=\"get\" action=\"/\"><label>{}<select name=\"period\">",
        esc(t.choose),
        esc(t.periods)
    );
    for p in years.iter().flat_map(|(_, list)| list) {
        let _ = write!(
            html,
            "<option value=\"{p}\"{}>{}</option>",
            selected(*p == period),
            esc(&lang.period(*p))
        );
    }
    let _ = write!(
        html,
        "</select></label><label>{}<select name=\"agency\"><option value=\"\">{}</option>",
        esc(t.agency),
        esc(t.all_agencies)
    );
    let ds = &loaded.dataset;
    let mut agencies: Vec<(String, u32)> = (0..ds.agency_codes.len() as u32)
        .map(|i| (agency_name(ds, i), i))
        .collect();
    agencies.sort();
    for (name, i) in &agencies {
        let code = &ds.agency_codes[*i as usize];
        let _ = write!(
            html,
            "<option value=\"{}\"{}>{} ({})</option>",
            esc(code),
            selected(agency == Some(*i)),
            esc(name),
            esc(code)
        );
    }
    let _ = writeln!(
        html,
        "</select></label><label>{}<select name=\"lang\"><option value=\"vi\"{}>Tiếng Việt</option><option value=\"en\"{}>English</option></select></label>\
         <button type=\"submit\">{}</button></form>",
        esc(t.language),
        selected(lang == Lang::Vi),
        selected(lang == Lang::En),
        esc(t.show_charts)
    );
}
