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
use crate::i18n::Lang;

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
    let _ = writeln!(
        out,
        "<tr><th rowspan=\"4\">{}</th><th rowspan=\"4\">{}</th><th colspan=\"4\">{}</th><th colspan=\"7\">{}</th></tr>",
        esc(t.col_no),
        esc(t.col_name),
        esc(t.col_received),
        esc(t.col_results)
    );
    let _ = writeln!(
        out,
        "<tr><th rowspan=\"3\">{}</th><th colspan=\"3\">{}</th><th colspan=\"4\">{}</th><th colspan=\"3\">{}</th></tr>",
        esc(t.col_received_total),
        esc(t.col_of_which),
        esc(t.col_resolved),
        esc(t.col_pending)
    );
    let _ = write!(
        out,
        "<tr><th colspan=\"2\">{}</th><th rowspan=\"2\">{}</th>",
        esc(t.col_new),
        esc(t.col_carried_over)
    );
    for name in [
        t.col_total,
        t.col_early,
        t.col_on_time,
        t.col_late,
        t.col_total,
        t.col_in_time,
        t.col_overdue,
    ] {
        let _ = write!(out, "<th rowspan=\"2\">{}</th>", esc(name));
    }
    out.push_str("</tr>\n");
    let _ = writeln!(
        out,
        "<tr><th>{}</th><th>{}</th></tr>",
        esc(t.col_online),
        esc(t.col_offline)
    );
    out.push_str("<tr class=\"colno\">");
    for i in 1..=13 {
        let _ = write!(out, "<td>({i})</td>");
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");

    let mut agency_no = 0;
    let mut sector_no = 0;
    for row in &report.rows {
        match (&row.agency, &row.sector) {
            (Some(code), None) => {
                agency_no += 1;
                sector_no = 0;
                let name = page
                    .dataset
                    .agency_index(code)
                    .map_or_else(|| code.clone(), |i| agency_name(page.dataset, i));
                let cell = if name == *code {
                    esc(code)
                } else {
                    format!("{} <small>({})</small>", esc(&name), esc(code))
                };
                row_html(&mut out, "agency", &agency_no.to_string(), &cell, row, lang);
            }
            (Some(_), Some(sector)) => {
                sector_no += 1;
                let name = page
                    .dataset
                    .sector_codes
                    .iter()
                    .position(|c| c == sector)
                    .map_or_else(
                        || sector.clone(),
                        |i| sector_name(page.dataset, i as u32, lang),
                    );
                row_html(
                    &mut out,
                    "sector",
                    &format!("{agency_no}.{sector_no}"),
                    &esc(&name),
                    row,
                    lang,
                );
            }
            (None, _) => row_html(&mut out, "total", "", &esc(t.grand_total), row, lang),
        }
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
            let _ = write!(
                out,
                "<figure><img src=\"{}\" alt=\"{}\" width=\"1200\" height=\"700\" loading=\"eager\"><figcaption>{}",
                esc(&f.src),
                esc(&f.title),
                esc(&f.title)
            );
            out.push_str("<span class=\"links\">");
            for (label, href) in &f.links {
                let _ = write!(out, " · <a href=\"{}\">{}</a>", esc(href), esc(label));
            }
            out.push_str("</span>");
            out.push_str("</figcaption></figure>\n");
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
