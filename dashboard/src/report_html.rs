//! The report as a printable HTML page following Biểu 06/VPCP/KSTT
//! (Thông tư 01/2020/TT-VPCP): column numbers (1)…(13) with their names,
//! a row per agency with its sectors beneath, the grand total, the period
//! and the cut-off, the charts, and print CSS for A4 landscape. Every piece
//! of text from the data is HTML-escaped.

use std::fmt::Write;

use chrono::NaiveDateTime;
use motcua_queries::model::Dataset;
use motcua_queries::report::{PeriodName, Report, ReportRow};

use crate::charts::{agency_name, sector_name};
use crate::i18n::{Lang, Texts};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A chart to embed.
#[derive(Debug, Clone)]
pub struct Figure {
    pub src: String,
    pub title: String,
    /// Links to the same chart in other formats: (label, href).
    pub links: Vec<(String, String)>,
}

/// When a figure's image loads: at once (a page to print), or as it
/// scrolls into view (a page of many charts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    Eager,
    Lazy,
}

/// A chart as `<figure>`: the image at its drawn size (1200×700), the
/// title as caption, and the links to its formats.
pub fn figure_html(out: &mut String, f: &Figure, loading: Loading) {
    let loading = match loading {
        Loading::Eager => "eager",
        Loading::Lazy => "lazy",
    };
    let _ = write!(
        out,
        "<figure><img src=\"{}\" alt=\"{}\" width=\"1200\" height=\"700\" loading=\"{loading}\"><figcaption>{}<span class=\"links\">",
        esc(&f.src),
        esc(&f.title),
        esc(&f.title)
    );
    for (label, href) in &f.links {
        let _ = write!(out, " · <a href=\"{}\">{}</a>", esc(href), esc(label));
    }
    out.push_str("</span></figcaption></figure>\n");
}

/// Everything the page shows.
#[derive(Debug)]
pub struct ReportPage<'a> {
    pub report: &'a Report,
    pub period: PeriodName,
    pub dataset: &'a Dataset,
    pub lang: Lang,
    /// The instant pending states are taken at.
    pub cutoff: NaiveDateTime,
    pub cutoff_is_now: bool,
    /// The agency the report is restricted to, if any.
    pub agency: Option<u32>,
    pub source: &'a str,
    pub generated: NaiveDateTime,
    pub figures: Vec<Figure>,
    /// Links to the CSV and JSON forms: (label, href).
    pub downloads: Vec<(String, String)>,
    /// A link back to the index, when served.
    pub home: Option<String>,
}

const CSS: &str = r#"
:root { --ink: #1a1a1a; --muted: #4d4d4d; --rule: #8c8c8c; --band: #f2f2f2; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1400px; padding: 16px 20px 40px; color: var(--ink);
  font-family: "Times New Roman", "Liberation Serif", "DejaVu Serif", serif; font-size: 14px; line-height: 1.35; }
header.form { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; margin-bottom: 6px; }
header.form .unit { font-weight: bold; }
header.form .form-id { text-align: right; }
header.form .form-id b { display: block; }
header.form .form-id i { font-size: 12px; }
h1 { text-align: center; font-size: 18px; margin: 10px 0 2px; letter-spacing: .02em; }
p.period, p.cutoff { text-align: center; margin: 2px 0; font-style: italic; }
p.unit-line { text-align: right; margin: 4px 0; font-style: italic; font-size: 13px; }
table.b06 { width: 100%; border-collapse: collapse; font-size: 13px; }
table.b06 th, table.b06 td { border: 1px solid var(--rule); padding: 3px 5px; }
table.b06 thead th { background: var(--band); font-weight: bold; text-align: center; vertical-align: middle; }
table.b06 thead tr.colno td { text-align: center; font-style: italic; background: #fff; }
table.b06 td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.b06 td.stt { text-align: center; white-space: nowrap; }
table.b06 tr.agency td { font-weight: bold; }
table.b06 tr.sector td.name { padding-left: 22px; }
table.b06 tr.total td { font-weight: bold; background: var(--band); text-transform: uppercase; }
table.b06 td.name small { color: var(--muted); font-weight: normal; }
ol.notes { font-size: 12px; color: var(--muted); margin: 8px 0 0; padding-left: 20px; }
nav.tools { display: flex; gap: 16px; flex-wrap: wrap; align-items: center; font-family: "DejaVu Sans", sans-serif;
  font-size: 13px; margin-bottom: 10px; padding-bottom: 6px; border-bottom: 1px solid #ddd; }
nav.tools button { font: inherit; }
section.charts h2 { font-size: 16px; margin: 24px 0 8px; }
section.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
section.charts h2 { grid-column: 1 / -1; }
figure { margin: 0; border: 1px solid #ddd; padding: 6px; }
figure img { display: block; width: 100%; height: auto; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 4px; font-family: "DejaVu Sans", sans-serif; }
p.empty { text-align: center; padding: 20px; font-style: italic; }
@page { size: A4 landscape; margin: 12mm 10mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav.tools, figcaption .links { display: none; }
  table.b06 { font-size: 9.5pt; }
  table.b06 thead { display: table-header-group; }
  table.b06 tr { break-inside: avoid; page-break-inside: avoid; }
  section.charts { display: block; break-before: page; page-break-before: always; }
  figure { border: none; break-inside: avoid; page-break-inside: avoid; margin: 0 0 6mm; }
  figure img { max-height: 170mm; width: auto; max-width: 100%; margin: 0 auto; }
}
"#;

/// How many columns the form has: STT, the name, and the eleven numbers.
pub const FORM_COLUMNS: u16 = 13;

/// How many rows the form's grouped column names take (the column numbers follow).
pub const HEADER_ROWS: u16 = 4;

/// One cell of the form's column header: where it starts (row within the
/// header, 0-based column) and how many rows and columns it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderCell {
    pub row: u16,
    pub col: u16,
    pub rows: u16,
    pub cols: u16,
    pub text: &'static str,
}

/// The column header of Biểu 06, the one layout the HTML page and the
/// workbook both draw: (1) STT, (2) name, (3)–(6) received, (7)–(13) results.
pub fn header_cells(t: &Texts) -> Vec<HeaderCell> {
    let cell = |row, col, rows, cols, text| HeaderCell {
        row,
        col,
        rows,
        cols,
        text,
    };
    let mut cells = vec![
        cell(0, 0, 4, 1, t.col_no),
        cell(0, 1, 4, 1, t.col_name),
        cell(0, 2, 1, 4, t.col_received),
        cell(0, 6, 1, 7, t.col_results),
        cell(1, 2, 3, 1, t.col_received_total),
        cell(1, 3, 1, 3, t.col_of_which),
        cell(1, 6, 1, 4, t.col_resolved),
        cell(1, 10, 1, 3, t.col_pending),
        cell(2, 3, 1, 2, t.col_new),
        cell(2, 5, 2, 1, t.col_carried_over),
    ];
    let results = [
        t.col_total,
        t.col_early,
        t.col_on_time,
        t.col_late,
        t.col_total,
        t.col_in_time,
        t.col_overdue,
    ];
    cells.extend(
        (6..)
            .zip(results)
            .map(|(col, text)| cell(2, col, 2, 1, text)),
    );
    cells.push(cell(3, 3, 1, 1, t.col_online));
    cells.push(cell(3, 4, 1, 1, t.col_offline));
    cells
}

/// What a row of the form is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Agency,
    Sector,
    Total,
}

/// A row of the form as printed: its number ("2", "2.3"), its name, and the
/// code shown beside an agency's name.
#[derive(Debug, Clone)]
pub struct LabelledRow<'a> {
    pub kind: RowKind,
    pub stt: String,
    pub name: String,
    pub code: Option<String>,
    pub row: &'a ReportRow,
}

/// The report's rows numbered and named as the form prints them: agencies
/// 1, 2, …, their sectors 1.1, 1.2, …, then the grand total.
pub fn labelled_rows<'a>(report: &'a Report, ds: &Dataset, lang: Lang) -> Vec<LabelledRow<'a>> {
    let (mut agency_no, mut sector_no) = (0, 0);
    report
        .rows
        .iter()
        .map(|row| match (&row.agency, &row.sector) {
            (Some(code), None) => {
                agency_no += 1;
                sector_no = 0;
                let name = ds
                    .agency_index(code)
                    .map_or_else(|| code.clone(), |i| agency_name(ds, i));
                LabelledRow {
                    kind: RowKind::Agency,
                    stt: agency_no.to_string(),
                    code: (name != *code).then(|| code.clone()),
                    name,
                    row,
                }
            }
            (Some(_), Some(sector)) => {
                sector_no += 1;
                let name = ds
                    .sector_codes
                    .iter()
                    .position(|c| c == sector)
                    .map_or_else(|| sector.clone(), |i| sector_name(ds, i as u32, lang));
                LabelledRow {
                    kind: RowKind::Sector,
                    stt: format!("{agency_no}.{sector_no}"),
                    name,
                    code: None,
                    row,
                }
            }
            (None, _) => LabelledRow {
                kind: RowKind::Total,
                stt: String::new(),
                name: lang.t().grand_total.to_owned(),
                code: None,
                row,
            },
        })
        .collect()
}

fn number(n: u64, lang: Lang) -> String {
    lang.int(n)
}

fn row_html(out: &mut String, class: &str, stt: &str, name: &str, row: &ReportRow, lang: Lang) {
    let _ = write!(
        out,
        "<tr class=\"{class}\" data-agency=\"{}\" data-sector=\"{}\"><td class=\"stt\">{}</td><td class=\"name\">{name}</td>",
        esc(row.agency.as_deref().unwrap_or_default()),
        esc(row.sector.as_deref().unwrap_or_default()),
        esc(stt),
    );
    for (key, col, v) in row.columns.columns() {
        let _ = write!(
            out,
            "<td class=\"n\" data-col=\"{col}\" data-key=\"{key}\">{}</td>",
            number(v, lang)
        );
    }
    out.push_str("</tr>\n");
}

pub fn render(page: &ReportPage<'_>) -> String {
    let lang = page.lang;
    let t = lang.t();
    let report = page.report;
    let scope = match page.agency {
        Some(a) => agency_name(page.dataset, a),
        None => t.whole_province.to_owned(),
    };
    let title = format!(
        "{} — {} — {}",
        t.report_form,
        lang.period(page.period),
        scope
    );
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        lang.code(),
        esc(&title)
    );

    out.push_str("<nav class=\"tools\">");
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

    let _ = writeln!(
        out,
        "<header class=\"form\"><div class=\"unit\">{}: {}</div>\
         <div class=\"form-id\"><b>{}</b><i>{}</i></div></header>",
        esc(t.report_scope),
        esc(&scope),
        esc(t.report_form),
        esc(t.report_basis)
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(t.report_title));
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
    let cutoff = format!(
        "{} {}",
        page.cutoff.format("%H:%M"),
        lang.date(page.cutoff.date())
    );
    let _ = writeln!(
        out,
        "<p class=\"cutoff\">{}: {}{}</p>",
        esc(t.report_cutoff),
        esc(&cutoff),
        if page.cutoff_is_now {
            format!(" ({})", esc(t.report_cutoff_now))
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "<p class=\"unit-line\">{}</p>", esc(t.report_unit));

    // The header of the form: four rows of grouped column names, then the numbers.
    out.push_str("<table class=\"b06\">\n<thead>\n");
    let cells = header_cells(t);
    for row in 0..HEADER_ROWS {
        out.push_str("<tr>");
        for c in cells.iter().filter(|c| c.row == row) {
            out.push_str("<th");
            if c.rows > 1 {
                let _ = write!(out, " rowspan=\"{}\"", c.rows);
            }
            if c.cols > 1 {
                let _ = write!(out, " colspan=\"{}\"", c.cols);
            }
            let _ = write!(out, ">{}</th>", esc(c.text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("<tr class=\"colno\">");
    for i in 1..=FORM_COLUMNS {
        let _ = write!(out, "<td>({i})</td>");
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");

    for row in labelled_rows(report, page.dataset, lang) {
        let name = match &row.code {
            Some(code) => format!("{} <small>({})</small>", esc(&row.name), esc(code)),
            None => esc(&row.name),
        };
        let class = match row.kind {
            RowKind::Agency => "agency",
            RowKind::Sector => "sector",
            RowKind::Total => "total",
        };
        row_html(&mut out, class, &row.stt, &name, row.row, lang);
    }
    out.push_str("</tbody>\n</table>\n");
    if report.rows.iter().all(|r| r.agency.is_none()) {
        let _ = writeln!(out, "<p class=\"empty\">{}</p>", esc(t.no_rows));
    }
    out.push_str("<ol class=\"notes\">");
    for note in t.report_notes {
        let _ = write!(out, "<li>{}</li>", esc(note));
    }
    out.push_str("</ol>\n");

    if !page.figures.is_empty() {
        let _ = write!(
            out,
            "<section class=\"charts\">\n<h2>{}</h2>\n",
            esc(t.charts_heading)
        );
        for f in &page.figures {
            figure_html(&mut out, f, Loading::Eager);
        }
        out.push_str("</section>\n");
    }
    let _ = write!(
        out,
        "<footer><p class=\"unit-line\">{}: {} · {}: {} {}</p></footer>\n</body>\n</html>\n",
        esc(t.source),
        esc(page.source),
        esc(t.generated),
        esc(&lang.date(page.generated.date())),
        page.generated.format("%H:%M")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("Sở Tư pháp"), "Sở Tư pháp");
    }
}
