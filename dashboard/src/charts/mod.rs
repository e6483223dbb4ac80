//! The charts: which exist, the data each draws (from
//! `motcua_queries::charts`, never counted here), and rendering to PNG or
//! SVG through plotters with the embedded font.

mod bars;
pub mod style;
mod trends;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use motcua_queries::Ts;
use motcua_queries::charts::{
    self as q, ChannelCounts, DigitizationCounts, Group, Grouping, PendingCounts,
    ProcessingDistribution, RatingCounts, Scope, TimelinessCounts,
};
use motcua_queries::daily::View;
use motcua_queries::judge::UNKNOWN_SECTOR;
use motcua_queries::model::{Dataset, datetime_of};
use motcua_queries::report::PeriodName;
use motcua_queries::service_index::IndicatorTable;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::i18n::{Lang, nfc};

pub type DrawResult = Result<(), String>;

/// Formats a plotters error.
pub fn err<E: fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The charts, by URL name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    OnTimeTrend,
    TimelinessByAgency,
    IntakeByChannel,
    ProcessingTimeDistribution,
    PendingByAgency,
    SatisfactionByAgency,
    DigitizationByAgency,
    ServiceIndexByAgency,
}

impl ChartKind {
    pub const ALL: [ChartKind; 8] = [
        ChartKind::OnTimeTrend,
        ChartKind::TimelinessByAgency,
        ChartKind::IntakeByChannel,
        ChartKind::ProcessingTimeDistribution,
        ChartKind::PendingByAgency,
        ChartKind::SatisfactionByAgency,
        ChartKind::DigitizationByAgency,
        ChartKind::ServiceIndexByAgency,
    ];

    /// The charts of the Biểu 06 report page (the service index has its own page).
    pub const REPORT: [ChartKind; 7] = [
        ChartKind::OnTimeTrend,
        ChartKind::TimelinessByAgency,
        ChartKind::IntakeByChannel,
        ChartKind::ProcessingTimeDistribution,
        ChartKind::PendingByAgency,
        ChartKind::SatisfactionByAgency,
        ChartKind::DigitizationByAgency,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ChartKind::OnTimeTrend => "on_time_trend",
            ChartKind::TimelinessByAgency => "timeliness_by_agency",
            ChartKind::IntakeByChannel => "intake_by_channel",
            ChartKind::ProcessingTimeDistribution => "processing_time_distribution",
            ChartKind::PendingByAgency => "pending_by_agency",
            ChartKind::SatisfactionByAgency => "satisfaction_by_agency",
            ChartKind::DigitizationByAgency => "digitization_by_agency",
            ChartKind::ServiceIndexByAgency => "service_index_by_agency",
        }
    }

    /// The title, which depends on the grouping for the by-agency charts.
    pub fn title(self, lang: Lang, grouping: Grouping) -> &'static str {
        let t = lang.t();
        let by_sector = grouping == Grouping::Sector;
        match self {
            ChartKind::OnTimeTrend => t.on_time_trend,
            ChartKind::TimelinessByAgency if by_sector => t.timeliness_by_sector,
            ChartKind::TimelinessByAgency => t.timeliness_by_agency,
            ChartKind::IntakeByChannel => t.intake_by_channel,
            ChartKind::ProcessingTimeDistribution => t.processing_time_distribution,
            ChartKind::PendingByAgency if by_sector => t.pending_by_sector,
            ChartKind::PendingByAgency => t.pending_by_agency,
            ChartKind::SatisfactionByAgency => t.satisfaction_by_agency,
            ChartKind::DigitizationByAgency if by_sector => t.digitization_by_sector,
            ChartKind::DigitizationByAgency => t.digitization_by_agency,
            ChartKind::ServiceIndexByAgency => t.service_index_by_agency,
        }
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChartKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChartKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!(
                    "{:?} is not a chart; the charts are: {}",
                    s.chars().take(60).collect::<String>(),
                    ChartKind::ALL.map(ChartKind::name).join(", ")
                )
            })
    }
}

/// What the frame of a chart says.
#[derive(Debug, Clone)]
pub struct ChartMeta {
    pub lang: Lang,
    /// "Toàn tỉnh" or "Cơ quan: Sở Tư pháp".
    pub scope_label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The period's name in words when the range is a reporting period.
    pub period_label: Option<String>,
    /// When the data was read (local time).
    pub generated: NaiveDateTime,
    pub source: String,
    /// The on-time target, a share (0.95).
    pub target: f64,
}

impl ChartMeta {
    pub fn range_text(&self) -> String {
        format!(
            "{} – {}",
            self.lang.date(self.from),
            self.lang.date(self.to)
        )
    }

    pub fn generated_text(&self) -> String {
        format!(
            "{} {}",
            self.lang.date(self.generated.date()),
            self.generated.format("%H:%M")
        )
    }
}

/// A label for one bar of a by-group chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled<T> {
    pub label: String,
    pub value: T,
}

/// One scope's service index as the chart draws it (DESIGN §8).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexScore {
    /// Points by group (1–6 at 0–5).
    pub group_points: [f64; 6],
    pub points: f64,
    /// The maximum of the scope's applicable and declared indicators.
    pub max: f64,
    /// On 100; None when nothing applies.
    pub score: Option<f64>,
}

/// The numbers one chart draws.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartData {
    OnTimeTrend(Vec<(PeriodName, TimelinessCounts)>),
    TimelinessByGroup(Grouping, Vec<Labelled<TimelinessCounts>>),
    IntakeByChannel(Vec<(PeriodName, ChannelCounts)>),
    Processing(ProcessingDistribution),
    Pending {
        grouping: Grouping,
        at: Ts,
        is_now: bool,
        rows: Vec<Labelled<PendingCounts>>,
    },
    Satisfaction(Vec<Labelled<RatingCounts>>),
    Digitization(Grouping, Vec<Labelled<DigitizationCounts>>),
    ServiceIndex {
        rows: Vec<Labelled<IndexScore>>,
        province: Option<IndexScore>,
    },
}

impl ChartData {
    pub fn grouping(&self) -> Grouping {
        match self {
            ChartData::TimelinessByGroup(g, _) | ChartData::Digitization(g, _) => *g,
            ChartData::Pending { grouping, .. } => *grouping,
            _ => Grouping::Agency,
        }
    }
}

/// The name of an agency: its catalogue name (NFC), else its code.
pub fn agency_name(ds: &Dataset, agency: u32) -> String {
    let i = agency as usize;
    match ds.agencies.get(i).and_then(Option::as_ref) {
        Some(a) if !a.name.trim().is_empty() => nfc(a.name.trim()),
        _ => nfc(ds.agency_codes.get(i).map_or("?", String::as_str)),
    }
}

/// The name of a sector: its catalogue name (NFC), else its code.
pub fn sector_name(ds: &Dataset, sector: u32, lang: Lang) -> String {
    let i = sector as usize;
    let code = ds.sector_codes.get(i).map_or("?", String::as_str);
    match ds.sectors.get(i).and_then(Option::as_ref) {
        Some(s) if !s.name.trim().is_empty() => nfc(s.name.trim()),
        _ if code == UNKNOWN_SECTOR => lang.t().unknown_sector.to_owned(),
        _ => nfc(code),
    }
}

fn label_of(ds: &Dataset, g: Group, lang: Lang) -> String {
    match g {
        Group::Agency(a) => agency_name(ds, a),
        Group::Sector(s) => sector_name(ds, s, lang),
    }
}

fn labelled<T>(ds: &Dataset, lang: Lang, rows: Vec<(Group, T)>) -> Vec<Labelled<T>> {
    rows.into_iter()
        .map(|(g, value)| Labelled {
            label: label_of(ds, g, lang),
            value,
        })
        .collect()
}

/// The data of one chart, from the KPI library.
pub fn compute(
    kind: ChartKind,
    judge: &View<'_>,
    scope: &Scope,
    now: Ts,
    lang: Lang,
    service_index: &Arc<IndicatorTable>,
) -> ChartData {
    let ds = judge.dataset();
    match kind {
        ChartKind::OnTimeTrend => ChartData::OnTimeTrend(q::timeliness_by_month(judge, scope)),
        ChartKind::TimelinessByAgency => ChartData::TimelinessByGroup(
            scope.grouping(),
            labelled(ds, lang, q::timeliness_by_group(judge, scope)),
        ),
        ChartKind::IntakeByChannel => ChartData::IntakeByChannel(q::intake_by_month(judge, scope)),
        ChartKind::ProcessingTimeDistribution => {
            ChartData::Processing(q::processing_distribution(judge, scope))
        }
        ChartKind::PendingByAgency => {
            let p = q::pending_by_group(judge, scope, now);
            ChartData::Pending {
                grouping: scope.grouping(),
                at: p.at,
                is_now: p.is_now,
                rows: labelled(ds, lang, p.groups),
            }
        }
        ChartKind::SatisfactionByAgency => ChartData::Satisfaction(
            q::satisfaction_by_agency(judge, scope)
                .into_iter()
                .map(|(a, value)| Labelled {
                    label: agency_name(ds, a),
                    value,
                })
                .collect(),
        ),
        ChartKind::DigitizationByAgency => ChartData::Digitization(
            scope.grouping(),
            labelled(ds, lang, q::digitization_by_group(judge, scope)),
        ),
        ChartKind::ServiceIndexByAgency => {
            let range = format!("{}..{}", scope.from, scope.to);
            let view =
                crate::service_index::view(judge, service_index, range, scope.from, scope.to, now);
            let view = match scope.agency {
                Some(a) => view.only_agency(&ds.agency_codes[a as usize]),
                None => view,
            };
            let (rows, province) = view.chart_rows(ds);
            ChartData::ServiceIndex { rows, province }
        }
    }
}

/// Draws a chart on any plotters backend.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kind: ChartKind,
    data: &ChartData,
    meta: &ChartMeta,
) -> DrawResult {
    style::register_fonts();
    let title = kind.title(meta.lang, data.grouping());
    match data {
        ChartData::OnTimeTrend(months) => trends::on_time_trend(root, title, months, meta),
        ChartData::IntakeByChannel(months) => trends::intake_by_channel(root, title, months, meta),
        ChartData::Processing(p) => trends::processing_time(root, title, p, meta),
        ChartData::TimelinessByGroup(_, rows) => bars::timeliness(root, title, rows, meta),
        ChartData::Pending { at, rows, .. } => {
            bars::pending(root, title, rows, datetime_of(*at), meta)
        }
        ChartData::Satisfaction(rows) => bars::satisfaction(root, title, rows, meta),
        ChartData::Digitization(_, rows) => bars::digitization(root, title, rows, meta),
        ChartData::ServiceIndex { rows, province } => {
            bars::service_index(root, title, rows, province.as_ref(), meta)
        }
    }?;
    root.present().map_err(err)
}

/// Smallest and largest width or height a chart may be drawn at.
pub const MIN_SIDE: u32 = 200;
pub const MAX_SIDE: u32 = 4000;

/// Renders a chart to PNG (8-bit RGB).
pub fn render_png(
    kind: ChartKind,
    data: &ChartData,
    meta: &ChartMeta,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, String> {
    let (w, h) = (
        width.clamp(MIN_SIDE, MAX_SIDE),
        height.clamp(MIN_SIDE, MAX_SIDE),
    );
    let mut pixels = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        draw(&root, kind, data, meta)?;
    }
    let mut out = Vec::with_capacity(pixels.len() / 8);
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(err)?;
        writer.write_image_data(&pixels).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

/// Renders a chart to SVG (text as <text> in the DejaVu Sans family).
pub fn render_svg(
    kind: ChartKind,
    data: &ChartData,
    meta: &ChartMeta,
    width: u32,
    height: u32,
) -> Result<String, String> {
    let (w, h) = (
        width.clamp(MIN_SIDE, MAX_SIDE),
        height.clamp(MIN_SIDE, MAX_SIDE),
    );
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        draw(&root, kind, data, meta)?;
    }
    Ok(out)
}
