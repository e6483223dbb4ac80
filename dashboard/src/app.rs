//! The service's state, and the operations HTTP and `render` share:
//! drawing a chart and drawing up a report from the loaded data.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use motcua_queries::charts::{Grouping, MAX_RANGE_DAYS, Scope};
use motcua_queries::model::datetime_of;
use motcua_queries::report::{PeriodConvention, PeriodName, Report, ReportWindow, build_report};
use motcua_queries::service_index::IndicatorTable;
use motcua_queries::{Reader, Ts, WorkCalendar, now_local};
use rust_xlsxwriter::XlsxError;
use tokio::sync::Semaphore;

use crate::charts::{self, ChartKind, ChartMeta, agency_name};
use crate::config::Settings;
use crate::data::{Loaded, Store};
use crate::i18n::Lang;
use crate::report_html::{Figure, ReportPage};
use crate::service_index::{IndexPage, IndexView};
use crate::xlsx::ChartImage;

/// Width and height the report's charts are drawn at.
pub const REPORT_CHART_SIZE: (u32, u32) = (1200, 700);

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub calendar: Arc<WorkCalendar>,
    pub convention: PeriodConvention,
    pub on_time_target: f64,
    /// The indicators of the service index estimate (DESIGN §8).
    pub service_index: Arc<IndicatorTable>,
    pub source_name: Option<String>,
    /// Fixes "now" (tests); None: the clock.
    pub fixed_now: Option<Ts>,
    /// Bounds how many charts are drawn at once (and so the memory they take).
    pub render_permits: Arc<Semaphore>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("convention", &self.convention)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Store, calendar: WorkCalendar) -> AppState {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        AppState {
            store,
            calendar: Arc::new(calendar),
            convention: PeriodConvention::Calendar,
            on_time_target: crate::config::DEFAULT_ON_TIME_TARGET,
            service_index: Arc::new(IndicatorTable::shipped()),
            source_name: None,
            fixed_now: None,
            render_permits: Arc::new(Semaphore::new(threads.clamp(1, 8))),
        }
    }

    /// Opens the source the settings name (preparing the demo database for
    /// `--demo`) and loads the calendar. Does not connect yet.
    pub async fn from_settings(settings: &Settings, progress: bool) -> anyhow::Result<AppState> {
        let source = &settings.source;
        let calendar = source.load_calendar().map_err(anyhow::Error::msg)?;
        let url = match (&source.database_url, source.demo) {
            (Some((url, _)), false) => url.expose().to_owned(),
            _ => {
                let path = crate::demo::prepare(
                    &source.data_dir,
                    source.demo_dossiers,
                    calendar.timezone(),
                    progress,
                )
                .await?;
                crate::demo::sqlite_url(&path)
            }
        };
        let reader = Reader::open(
            &url,
            source.queries_dir.as_deref(),
            &source.connect_options(),
        )?;
        let store = Store::new(reader, calendar.timezone(), settings.own.cache_ttl)
            .summing_with(
                calendar.clone(),
                source.period_convention,
                source.full_resync_interval,
            )
            .with_query_timeout(source.query_timeout);
        let mut state = AppState::new(store, calendar);
        // Read at start; errors name the file, line and key.
        state.service_index = source.load_service_index()?;
        state.convention = source.period_convention;
        state.on_time_target = settings.own.on_time_target;
        state.source_name = settings.own.source_name.clone();
        Ok(state)
    }

    pub fn now(&self) -> Ts {
        self.fixed_now
            .unwrap_or_else(|| now_local(self.calendar.timezone()))
    }

    pub fn today(&self) -> NaiveDate {
        datetime_of(self.now()).date()
    }

    pub fn source(&self, lang: Lang) -> String {
        match &self.source_name {
            Some(name) => crate::i18n::nfc(name),
            None => match lang {
                Lang::Vi => {
                    "Hệ thống thông tin giải quyết thủ tục hành chính (một cửa điện tử)".to_owned()
                }
                Lang::En => "One-stop electronic system for administrative procedures".to_owned(),
            },
        }
    }
}

/// A chart request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartRequest {
    pub kind: ChartKind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub agency: Option<u32>,
    pub lang: Lang,
    pub width: u32,
    pub height: u32,
    /// The period's name in words, when the range is a reporting period.
    pub period: Option<PeriodName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

/// Draws a chart from loaded data (CPU-bound: call off the async threads).
pub fn chart(
    state: &AppState,
    loaded: &Loaded,
    req: &ChartRequest,
    format: Format,
) -> Result<Vec<u8>, String> {
    let judge = loaded.view(&state.calendar);
    let scope = Scope::new(req.from, req.to, req.agency, state.convention);
    debug_assert!((req.to - req.from).num_days() <= MAX_RANGE_DAYS);
    let data = charts::compute(
        req.kind,
        &judge,
        &scope,
        state.now(),
        req.lang,
        &state.service_index,
    );
    let meta = ChartMeta {
        lang: req.lang,
        scope_label: scope_label(loaded, req.agency, req.lang),
        from: req.from,
        to: req.to,
        period_label: req.period.map(|p| req.lang.period(p)),
        generated: datetime_of(loaded.loaded_at),
        source: state.source(req.lang),
        target: state.on_time_target,
    };
    match format {
        Format::Png => charts::render_png(req.kind, &data, &meta, req.width, req.height),
        Format::Svg => charts::render_svg(req.kind, &data, &meta, req.width, req.height)
            .map(String::into_bytes),
    }
}

pub fn scope_label(loaded: &Loaded, agency: Option<u32>, lang: Lang) -> String {
    match agency {
        Some(a) => format!("{}: {}", lang.t().agency, agency_name(&loaded.dataset, a)),
        None => lang.t().whole_province.to_owned(),
    }
}

/// The report of a period, with its window.
pub fn report(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
) -> (Report, ReportWindow) {
    let judge = loaded.view(&state.calendar);
    let (from, to) = period.bounds(state.convention);
    let now = state.now();
    let report = build_report(&judge, period.to_string(), from, to, now, agency);
    (report, ReportWindow::new(from, to, now))
}

/// The chart request of one of a period's charts, as the report page, the
/// workbooks and the bundle draw them (so each is the same PNG everywhere).
pub fn period_chart(
    state: &AppState,
    kind: ChartKind,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
) -> ChartRequest {
    let (from, to) = period.bounds(state.convention);
    let (width, height) = REPORT_CHART_SIZE;
    ChartRequest {
        kind,
        from,
        to,
        agency,
        lang,
        width,
        height,
        period: Some(period),
    }
}

/// A chart's title for a scope: the by-agency charts go by sector for one agency.
pub fn chart_title(kind: ChartKind, lang: Lang, agency: Option<u32>) -> &'static str {
    let grouping = if agency.is_some() {
        Grouping::Sector
    } else {
        Grouping::Agency
    };
    kind.title(lang, grouping)
}

/// Some of a period's charts as titled PNGs, for a workbook's charts sheet.
pub fn chart_images(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
    kinds: &[ChartKind],
) -> Result<Vec<ChartImage>, String> {
    kinds
        .iter()
        .map(|&kind| {
            let req = period_chart(state, kind, period, agency, lang);
            Ok(ChartImage {
                title: chart_title(kind, lang, agency).to_owned(),
                png: chart(state, loaded, &req, Format::Png)?,
            })
        })
        .collect()
}

/// Builds the report of a period and hands its page to `draw` (HTML or workbook).
#[allow(clippy::too_many_arguments)]
fn with_report_page<R>(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
    figures: Vec<Figure>,
    downloads: Vec<(String, String)>,
    home: Option<String>,
    draw: impl FnOnce(&ReportPage<'_>) -> R,
) -> (R, Report) {
    let (report, window) = report(state, loaded, period, agency);
    let source = state.source(lang);
    let page = ReportPage {
        report: &report,
        period,
        dataset: &loaded.dataset,
        lang,
        cutoff: datetime_of(window.cutoff),
        cutoff_is_now: window.cutoff_is_now,
        agency,
        source: &source,
        generated: datetime_of(loaded.loaded_at),
        figures,
        downloads,
        home,
    };
    let drawn = draw(&page);
    (drawn, report)
}

/// The HTML page of a report; `figure` gives each chart's image and links.
#[allow(clippy::too_many_arguments)]
pub fn report_page(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
    figure: &dyn Fn(ChartKind) -> Figure,
    downloads: Vec<(String, String)>,
    home: Option<String>,
) -> (String, Report) {
    let figures = ChartKind::REPORT.iter().map(|k| figure(*k)).collect();
    with_report_page(
        state,
        loaded,
        period,
        agency,
        lang,
        figures,
        downloads,
        home,
        crate::report_html::render,
    )
}

/// The report of a period as a workbook (Biểu 06, then `charts`).
pub fn report_workbook(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
    charts: &[ChartImage],
) -> Result<Vec<u8>, XlsxError> {
    let (bytes, _) = with_report_page(
        state,
        loaded,
        period,
        agency,
        lang,
        Vec::new(),
        Vec::new(),
        None,
        |page| crate::xlsx::report_workbook(page, charts),
    );
    bytes
}

/// The service index of a period (DESIGN §8), every number from `motcua_queries`.
pub fn service_index(state: &AppState, loaded: &Loaded, period: PeriodName) -> IndexView {
    let judge = loaded.view(&state.calendar);
    let (from, to) = period.bounds(state.convention);
    crate::service_index::view(
        &judge,
        &state.service_index,
        period.to_string(),
        from,
        to,
        state.now(),
    )
}

/// The HTML page of the service index; `agency` is the one detailed.
#[allow(clippy::too_many_arguments)]
pub fn service_index_page(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
    figure: Figure,
    downloads: Vec<(String, String)>,
    home: Option<String>,
    agency_link: Option<&dyn Fn(&str) -> String>,
) -> (String, IndexView) {
    let view = service_index(state, loaded, period);
    let source = state.source(lang);
    let page = IndexPage {
        view: &view,
        period,
        dataset: &loaded.dataset,
        lang,
        agency,
        source: &source,
        generated: datetime_of(loaded.loaded_at),
        figure,
        downloads,
        home,
        agency_link,
    };
    let html = crate::service_index::render(&page);
    (html, view)
}

/// The service index as a workbook: the ranking, the indicators (of
/// `agency` and the province, as in the CSV, else of every scope), `charts`.
pub fn service_index_workbook(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
    charts: &[ChartImage],
) -> Result<Vec<u8>, XlsxError> {
    let view = service_index(state, loaded, period);
    let source = state.source(lang);
    let page = IndexPage {
        view: &view,
        period,
        dataset: &loaded.dataset,
        lang,
        agency,
        source: &source,
        generated: datetime_of(loaded.loaded_at),
        // The workbook carries the chart itself, not a link to it.
        figure: Figure {
            src: String::new(),
            title: String::new(),
            links: Vec::new(),
        },
        downloads: Vec::new(),
        home: None,
        agency_link: None,
    };
    crate::xlsx::index_workbook(&page, charts)
}

/// Checks a folder path for `render --out` (see [`crate::render`]).
pub fn is_plain_name(p: &Path) -> bool {
    !p.as_os_str().is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}
