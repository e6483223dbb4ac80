//! `/index/{period}` — the service index estimate (DESIGN §8) for any
//! period (`2025`, `2025-H1`, `2025-Q3`, `2025-07`): HTML (Vietnamese by
//! default, `lang=en`), `?format=csv` (UTF-8 with BOM), `?format=json` or
//! `?format=xlsx` (a workbook: the ranking, the indicators as in the CSV,
//! and the chart).
//! `agency=CODE` details that agency on the page, and keeps only its row
//! and the province's in the CSV and JSON (the ranking on the page stays
//! whole, so the agency sees where it stands).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use motcua_queries::charts::Grouping;

use crate::app::{self, AppState};
use crate::charts::ChartKind;
use crate::http::{
    ApiError, download_links, encode, get_param, params, parse_format, parse_lang, parse_period,
    path_segment, resolve_agency, workbook_response,
};
use crate::report_html::Figure;
use crate::service_index::csv;

/// The formats `/index/{period}` answers in.
pub const FORMATS: [&str; 4] = ["html", "csv", "json", "xlsx"];

pub async fn service_index(
    State(state): State<AppState>,
    period: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let period = parse_period(&path_segment(period, "period")?)?;
    let p = params(raw.as_deref(), &["format", "agency", "lang"])?;
    let lang = parse_lang(&p)?;
    let format = parse_format(&p, &FORMATS, "an index")?.to_owned();
    let loaded = state.store.get().await?;
    let agency_code = get_param(&p, "agency").map(str::to_owned);
    let agency = resolve_agency(&loaded, agency_code.as_deref())?;
    if format == "xlsx" {
        let st = state.clone();
        return workbook_response(&state, format!("index-{period}.xlsx"), move || {
            let kinds = [ChartKind::ServiceIndexByAgency];
            let charts = app::chart_images(&st, &loaded, period, agency, lang, &kinds)?;
            app::service_index_workbook(&st, &loaded, period, agency, lang, &charts)
                .map_err(|e| e.to_string())
        })
        .await;
    }
    let st = state.clone();
    let response = tokio::task::spawn_blocking(move || -> Response {
        let filtered = || {
            let view = app::service_index(&st, &loaded, period);
            match &agency_code {
                Some(code) => view.only_agency(code),
                None => view,
            }
        };
        match format.as_str() {
            "json" => {
                let body = serde_json::to_string_pretty(&filtered().report).unwrap_or_default();
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }
            "csv" => {
                let body = csv(&filtered(), &loaded.dataset, lang);
                let disposition = format!("attachment; filename=\"index-{period}.csv\"");
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
                let agency_q = agency_code
                    .as_deref()
                    .map(|c| format!("&agency={}", encode(c)))
                    .unwrap_or_default();
                let (from, to) = period.bounds(st.convention);
                let kind = ChartKind::ServiceIndexByAgency;
                let q = format!("from={from}&to={to}&lang={}", lang.code());
                let figure = Figure {
                    src: format!("/charts/{kind}.png?{q}"),
                    title: kind.title(lang, Grouping::Agency).to_owned(),
                    links: vec![
                        ("PNG".into(), format!("/charts/{kind}.png?{q}")),
                        ("SVG".into(), format!("/charts/{kind}.svg?{q}")),
                    ],
                };
                let base = format!("/index/{period}?lang={}{agency_q}", lang.code());
                let link = |code: &str| {
                    format!(
                        "/index/{period}?lang={}&agency={}",
                        lang.code(),
                        encode(code)
                    )
                };
                let (html, _) = app::service_index_page(
                    &st,
                    &loaded,
                    period,
                    agency,
                    lang,
                    figure,
                    download_links(&base, &FORMATS),
                    Some(format!("/?lang={}", lang.code())),
                    Some(&link),
                );
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
            }
        }
    })
    .await
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("drawing up the service index failed: {e}"),
    })?;
    Ok(response)
}
