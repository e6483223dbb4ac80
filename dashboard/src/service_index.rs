//! The service index estimate (DESIGN §8) as the dashboard shows it:
//! `/index/{period}` as HTML, CSV (UTF-8 with BOM) and JSON, and the data
//! of the `service_index_by_agency` chart. Every number comes from
//! `motcua_queries`; this module only lays them out.

use std::fmt::Write;

use chrono::NaiveDateTime;
use std::sync::Arc;

use chrono::NaiveDate;
use motcua_queries::Ts;
use motcua_queries::model::Dataset;
use motcua_queries::report::PeriodName;
use motcua_queries::service_index::{
    Indicator, IndicatorKind, IndicatorScore, IndicatorTable, ScopeScore, ServiceIndex, build_index,
};

use crate::charts::{IndexScore, Labelled, agency_name};
use crate::csv::{BOM, field};
use crate::i18n::Lang;
use crate::report_html::{Figure, Loading, esc, figure_html};

/// The index of a period (the JSON of DESIGN §8) with the indicator table
/// it was scored with (names, groups, targets).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexView {
    pub report: ServiceIndex,
    pub table: Arc<IndicatorTable>,
}

/// The index of the dates [from, to] (both inclusive) as of `now`.
pub fn view(
    judge: &motcua_queries::daily::View<'_>,
    table: &Arc<IndicatorTable>,
    period: String,
    from: NaiveDate,
    to: NaiveDate,
    now: Ts,
) -> IndexView {
    IndexView {
        report: build_index(judge, table, period, from, to, now),
        table: Arc::clone(table),
    }
}

impl IndexView {
    pub(crate) fn info(&self, id: &str) -> Option<&Indicator> {
        self.table.get(id)
    }

    pub fn province(&self) -> Option<&ScopeScore> {
        self.report.rows.iter().find(|r| r.agency.is_none())
    }

    /// The agencies' rows, best score first (not applicable last), then by code.
    pub fn ranked(&self) -> Vec<&ScopeScore> {
        let mut rows: Vec<&ScopeScore> = self
            .report
            .rows
            .iter()
            .filter(|r| r.agency.is_some())
            .collect();
        rows.sort_by(|a, b| {
            let key = |r: &ScopeScore| r.score.unwrap_or(f64::NEG_INFINITY);
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.agency.cmp(&b.agency))
        });
        rows
    }

    /// A row's points summed by group (1–6 → 0–5).
    pub fn group_points(&self, row: &ScopeScore) -> [f64; 6] {
        let mut out = [0.0; 6];
        for v in &row.indicators {
            if let (Some(p), Some(info)) = (v.points, self.info(&v.indicator))
                && (1..=6).contains(&info.group)
            {
                out[usize::from(info.group) - 1] += p;
            }
        }
        out
    }

    /// The applicable indicator of a row that loses the most points, if any loses some.
    pub fn costliest<'a>(&self, row: &'a ScopeScore) -> Option<&'a IndicatorScore> {
        row.indicators
            .iter()
            .filter_map(|v| v.points.map(|p| (v, v.max - p)))
            .filter(|(_, lost)| *lost > 1e-9)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(v, _)| v)
    }

    pub(crate) fn indicator_name(&self, id: &str, lang: Lang) -> String {
        let name = |i: &Indicator| match lang {
            Lang::Vi => i.name_vi.clone(),
            Lang::En => i.name_en.clone(),
        };
        self.info(id)
            .map(name)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| id.to_owned())
    }

    /// The target of a measured indicator (declared ones have none to show).
    pub(crate) fn target(&self, id: &str) -> Option<f64> {
        self.info(id)
            .filter(|i| matches!(i.kind, IndicatorKind::Measured(_)))
            .map(|i| i.target)
    }

    /// Keeps the rows of one agency (and the province's): `agency` of `/index`.
    pub fn only_agency(mut self, code: &str) -> IndexView {
        self.report
            .rows
            .retain(|r| r.agency.as_deref().is_none_or(|c| c == code));
        self
    }

    /// The chart's rows (each agency, named) and the province's score.
    pub fn chart_rows(&self, ds: &Dataset) -> (Vec<Labelled<IndexScore>>, Option<IndexScore>) {
        let score = |r: &ScopeScore| IndexScore {
            group_points: self.group_points(r),
            points: r.points,
            max: r.max,
            score: r.score,
        };
        let rows = self
            .report
            .rows
            .iter()
            .filter_map(|r| {
                let code = r.agency.as_deref()?;
                Some(Labelled {
                    label: label(ds, code),
                    value: score(r),
                })
            })
            .collect();
        (rows, self.province().map(score))
    }
}

/// An agency's name from the catalogue, else its code.
pub(crate) fn label(ds: &Dataset, code: &str) -> String {
    ds.agency_index(code)
        .map_or_else(|| code.to_owned(), |i| agency_name(ds, i))
}

fn opt_num<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The index as CSV: one line per scope and indicator, and one line per
/// scope (indicator empty) with its points, maximum and score. Numbers are
/// written as in the JSON (a dot for decimals) so spreadsheets and scripts
/// read them the same in both languages; names follow `lang`.
pub fn csv(view: &IndexView, ds: &Dataset, lang: Lang) -> String {
    let mut out = String::from(BOM);
    out.push_str(
        "agency,agency_name,indicator,indicator_name,group,numerator,denominator,rate,target,points,max,score\r\n",
    );
    let t = lang.t();
    for row in &view.report.rows {
        let (code, name) = match row.agency.as_deref() {
            Some(code) => (code, label(ds, code)),
            None => ("", t.whole_province.to_owned()),
        };
        let _ = write!(
            out,
            "{},{},,,,,,,,{},{},{}\r\n",
            field(code),
            field(&name),
            row.points,
            row.max,
            opt_num(row.score)
        );
        for v in &row.indicators {
            let info = view.info(&v.indicator);
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},\r\n",
                field(code),
                field(&name),
                field(&v.indicator),
                field(&view.indicator_name(&v.indicator, lang)),
                info.map(|i| i.group.to_string()).unwrap_or_default(),
                opt_num(v.numerator),
                opt_num(v.denominator),
                opt_num(v.rate),
                opt_num(view.target(&v.indicator)),
                opt_num(v.points),
                v.max
            );
        }
    }
    out
}

/// Everything the HTML page shows.
pub struct IndexPage<'a> {
    pub view: &'a IndexView,
    pub period: PeriodName,
    pub dataset: &'a Dataset,
    pub lang: Lang,
    /// The agency the page details, if any (else the province).
    pub agency: Option<u32>,
    pub source: &'a str,
    pub generated: NaiveDateTime,
    pub figure: Figure,
    /// Links to the CSV and JSON forms: (label, href).
    pub downloads: Vec<(String, String)>,
    /// A link back to the home page, when served.
    pub home: Option<String>,
    /// The link of an agency's own page, given its code (none in a bundle).
    pub agency_link: Option<&'a dyn Fn(&str) -> String>,
}

const CSS: &str = r#"
body { margin: 0 auto; max-width: 1300px; padding: 16px 20px 40px; color: #1a1a1a;
  font-family: "DejaVu Sans", sans-serif; font-size: 14px; line-height: 1.4; }
h1 { font-size: 20px; margin: 8px 0 4px; }
h2 { font-size: 16px; margin: 22px 0 8px; }
p.period { margin: 2px 0; }
p.note { color: #4d4d4d; font-size: 12px; max-width: 900px; }
p.province { font-size: 18px; margin: 10px 0; }
nav.tools { display: flex; gap: 16px; flex-wrap: wrap; align-items: center; font-size: 13px;
  margin-bottom: 10px; padding-bottom: 6px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #bbb; padding: 3px 6px; }
thead th { background: #f2f2f2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f2f2f2; }
td.na { color: #4d4d4d; font-style: italic; }
a { color: #0072B2; }
figure { margin: 16px 0 0; border: 1px solid #ddd; padding: 6px; }
figure img { display: block; width: 100%; height: auto; }
figcaption { font-size: 12px; color: #4d4d4d; margin-top: 4px; }
@page { size: A4 landscape; margin: 12mm 10mm; }
@media print { nav.tools, figcaption .links { display: none; } body { max-width: none; padding: 0; } }
"#;

pub fn render(page: &IndexPage<'_>) -> String {
    let (lang, t, view) = (page.lang, page.lang.t(), page.view);
    let report = &view.report;
    let mut out = String::with_capacity(32 * 1024);
    let title = format!("{} — {}", t.service_index_title, lang.period(page.period));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<nav class=\"tools\">",
        lang.code(),
        esc(&title)
    );
    if let Some(home) = &page.home {
        let _ = write!(out, "<a href=\"{}\">motcua</a>", esc(home));
    }
    let _ = write!(out, "<span>{}:</span>", esc(t.downloads));
    for (label, href) in &page.downloads {
        let _ = write!(out, "<a href=\"{}\">{}</a>", esc(href), esc(label));
    }
    let _ = writeln!(
        out,
        "<button type=\"button\" onclick=\"window.print()\">{}</button></nav>",
        esc(t.print)
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(t.service_index_title));
    let from_to = t
        .report_from_to
        .replace("{from}", &lang.date(report.from))
        .replace("{to}", &lang.date(report.to));
    let _ = writeln!(
        out,
        "<p class=\"period\" data-period=\"{}\">{}: {} ({})</p>",
        esc(&report.period),
        esc(t.report_period),
        esc(&lang.period(page.period)),
        esc(&from_to)
    );
    let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(t.index_estimate_note));
    if let Some(p) = view.province() {
        let _ = writeln!(
            out,
            "<p class=\"province\" data-score=\"{}\">{}: <b>{}</b>/100 <small>({} {}/{})</small></p>",
            opt_num(p.score),
            esc(t.whole_province),
            esc(&score_text(p.score, lang)),
            esc(t.col_points),
            esc(&lang.num(p.points)),
            esc(&lang.num(p.max))
        );
    }

    // The ranking.
    let _ = write!(
        out,
        "<h2>{}</h2>\n<table class=\"ranking\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>",
        esc(t.index_ranking),
        esc(t.col_rank),
        esc(t.agency),
        esc(t.col_score),
        esc(t.index_points_of_max)
    );
    for g in t.index_groups {
        let _ = write!(out, "<th>{}</th>", esc(g));
    }
    let _ = writeln!(
        out,
        "<th>{}</th></tr></thead>\n<tbody>",
        esc(t.col_costliest)
    );
    let ranked = view.ranked();
    for (i, row) in ranked.iter().enumerate() {
        let code = row.agency.as_deref().unwrap_or_default();
        let name = esc(&label(page.dataset, code));
        let name = match page.agency_link {
            Some(link) => format!("<a href=\"{}\">{name}</a>", esc(&link(code))),
            None => name,
        };
        let name = format!("{name} <small>({})</small>", esc(code));
        ranking_row(&mut out, page, row, &(i + 1).to_string(), &name, "agency");
    }
    if let Some(p) = view.province() {
        ranking_row(&mut out, page, p, "", &esc(t.whole_province), "total");
    }
    out.push_str("</tbody>\n</table>\n");
    if ranked.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(t.no_rows));
    }

    // The indicators of the agency chosen, else of the province.
    let detailed = match page.agency {
        Some(a) => {
            let code = &page.dataset.agency_codes[a as usize];
            report.rows.iter().find(|r| r.agency.as_ref() == Some(code))
        }
        None => view.province(),
    };
    let scope = match page.agency {
        Some(a) => agency_name(page.dataset, a),
        None => t.whole_province.to_owned(),
    };
    let _ = writeln!(out, "<h2>{} — {}</h2>", esc(t.index_detail), esc(&scope));
    match detailed {
        Some(row) => detail_table(&mut out, page, row),
        None => {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(t.no_rows));
        }
    }

    figure_html(&mut out, &page.figure, Loading::Eager);
    let _ = write!(
        out,
        "<footer><p class=\"note\">{}: {} · {}: {} {}</p></footer>\n</body>\n</html>\n",
        esc(t.source),
        esc(page.source),
        esc(t.generated),
        esc(&lang.date(page.generated.date())),
        page.generated.format("%H:%M")
    );
    out
}

fn score_text(score: Option<f64>, lang: Lang) -> String {
    score.map_or_else(|| "–".to_owned(), |s| lang.num(s))
}

fn ranking_row(
    out: &mut String,
    page: &IndexPage<'_>,
    row: &ScopeScore,
    rank: &str,
    name_html: &str,
    class: &str,
) {
    let (lang, view) = (page.lang, page.view);
    let _ = write!(
        out,
        "<tr class=\"{class}\" data-agency=\"{}\"><td class=\"n\">{rank}</td><td>{name_html}</td>\
         <td class=\"n\" data-key=\"score\">{}</td><td class=\"n\">{}/{}</td>",
        esc(row.agency.as_deref().unwrap_or_default()),
        esc(&score_text(row.score, lang)),
        esc(&lang.num(row.points)),
        esc(&lang.num(row.max))
    );
    for p in view.group_points(row) {
        let _ = write!(out, "<td class=\"n\">{}</td>", esc(&lang.num(p)));
    }
    let _ = writeln!(
        out,
        "<td>{}</td></tr>",
        esc(&costliest_text(view, row, lang))
    );
}

/// The indicator of a row that loses the most points, and how many: "Tiến độ (−3,5)".
pub(crate) fn costliest_text(view: &IndexView, row: &ScopeScore, lang: Lang) -> String {
    view.costliest(row).map_or_else(String::new, |v| {
        format!(
            "{} (−{})",
            view.indicator_name(&v.indicator, lang),
            lang.num(v.max - v.points.unwrap_or(0.0))
        )
    })
}

fn detail_table(out: &mut String, page: &IndexPage<'_>, row: &ScopeScore) {
    let (lang, t, view) = (page.lang, page.lang.t(), page.view);
    let _ = writeln!(
        out,
        "<table class=\"detail\" data-agency=\"{}\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>",
        esc(row.agency.as_deref().unwrap_or_default()),
        esc(t.col_indicator),
        esc(t.col_group),
        esc(t.col_numerator),
        esc(t.col_denominator),
        esc(t.col_rate),
        esc(t.target),
        esc(t.col_points),
        esc(t.col_max)
    );
    for v in &row.indicators {
        let info = view.info(&v.indicator);
        let group = info
            .and_then(|i| t.index_groups.get(usize::from(i.group).wrapping_sub(1)))
            .copied()
            .unwrap_or_default();
        let count = |n: Option<i64>| match n {
            Some(n) if n < 0 => format!("−{}", lang.int(n.unsigned_abs())),
            Some(n) => lang.int(n.unsigned_abs()),
            None => String::new(),
        };
        // Declared indicators have points (perhaps a rate) and no counts.
        let declared = v.numerator.is_none() && v.denominator.is_none() && v.points.is_some();
        let rate = match (v.points, v.rate) {
            (None, _) => format!("<td class=\"na\">{}</td>", esc(t.not_applicable)),
            (Some(_), r) if declared => format!(
                "<td class=\"na\">{}{}</td>",
                r.map_or_else(String::new, |r| format!("{} · ", esc(&lang.pct(r, 1)))),
                esc(t.declared)
            ),
            (Some(_), r) => format!(
                "<td class=\"n\">{}</td>",
                esc(&r.map_or_else(String::new, |r| lang.pct(r, 1)))
            ),
        };
        let points = v.points.map_or_else(|| "–".to_owned(), |p| lang.num(p));
        let target = view
            .target(&v.indicator)
            .map_or_else(String::new, |x| lang.pct(x, 0));
        let _ = writeln!(
            out,
            "<tr data-indicator=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{rate}\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&v.indicator),
            esc(&view.indicator_name(&v.indicator, lang)),
            esc(group),
            esc(&count(v.numerator)),
            esc(&count(v.denominator.map(|d| d as i64))),
            esc(&target),
            esc(&points),
            esc(&lang.num(v.max))
        );
    }
    let _ = writeln!(
        out,
        "<tr class=\"total\"><td colspan=\"6\">{}: {}/100</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n</tbody>\n</table>",
        esc(t.col_score),
        esc(&score_text(row.score, lang)),
        esc(&lang.num(row.points)),
        esc(&lang.num(row.max))
    );
}
