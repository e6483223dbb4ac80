//! The report (Biểu 06/VPCP/KSTT) and the service index as Excel
//! workbooks, as provinces file them: the same pages as the HTML (the
//! [`ReportPage`] and [`IndexPage`] the HTML is drawn from, the same
//! column header and row labels), numbers stored as numbers, set up to
//! print on A4 landscape, one page wide, with the header rows repeated on
//! every page. A last sheet holds the period's charts as the PNGs the
//! service draws.

use chrono::NaiveDateTime;
use rust_xlsxwriter::{
    Color, Format, FormatAlign, FormatBorder, Image, Workbook, Worksheet, XlsxError,
};

use crate::charts::agency_name;
use crate::i18n::Lang;
use crate::report_html::{
    FORM_COLUMNS, HEADER_ROWS, ReportPage, RowKind, header_cells, labelled_rows,
};
use crate::service_index::IndexPage;

/// A chart for the charts sheet: its title and its PNG.
#[derive(Debug, Clone)]
pub struct ChartImage {
    pub title: String,
    pub png: Vec<u8>,
}

/// Paper size 9 in the SpreadsheetML page setup: A4.
const A4: u8 = 9;
/// Charts are drawn 1200×700; at 80 % one fills an A4 landscape page.
const CHART_SCALE: f64 = 0.8;
/// Rows a scaled chart takes at the default row height (20 px).
const CHART_ROWS: u32 = (700.0 * CHART_SCALE / 20.0) as u32 + 2;
const BAND: u32 = 0xF2F2F2;

/// The formats of a sheet, made once.
struct Styles {
    bold: Format,
    italic: Format,
    title: Format,
    header: Format,
    colno: Format,
    note: Format,
    cell: Format,
    cell_bold: Format,
    cell_indent: Format,
    total: Format,
    number: Format,
    number_bold: Format,
    number_total: Format,
    decimal: Format,
    decimal_bold: Format,
    percent: Format,
}

impl Styles {
    fn new() -> Styles {
        let font = Format::new()
            .set_font_name("Times New Roman")
            .set_font_size(12);
        let boxed = font
            .clone()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        let number = boxed.clone().set_num_format("#,##0");
        let decimal = boxed.clone().set_num_format("#,##0.0");
        Styles {
            bold: font.clone().set_bold(),
            italic: font.clone().set_italic(),
            title: font.clone().set_bold().set_font_size(14),
            header: boxed
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(BAND)),
            colno: boxed.clone().set_italic().set_align(FormatAlign::Center),
            note: font.clone().set_italic().set_font_size(10),
            // Data cells do not wrap (a wrapped cell does not grow its row
            // everywhere): their columns are made as wide as their text.
            cell: boxed.clone(),
            cell_bold: boxed.clone().set_bold(),
            cell_indent: boxed.clone().set_indent(2),
            total: boxed
                .clone()
                .set_bold()
                .set_background_color(Color::RGB(BAND)),
            number_bold: number.clone().set_bold(),
            number_total: number
                .clone()
                .set_bold()
                .set_background_color(Color::RGB(BAND)),
            number,
            decimal_bold: decimal.clone().set_bold(),
            decimal,
            percent: boxed.set_num_format("0.0%"),
        }
    }
}

/// A4 landscape, one page wide, `header` rows (first, last) on every page.
fn print_setup(ws: &mut Worksheet, header: Option<(u32, u32)>) -> Result<(), XlsxError> {
    ws.set_paper_size(A4)
        .set_landscape()
        .set_print_fit_to_pages(1, 0)
        .set_print_center_horizontally(true)
        .set_margins(0.4, 0.4, 0.5, 0.6, 0.3, 0.3)
        .set_footer("&C&P / &N");
    if let Some((first, last)) = header {
        ws.set_repeat_rows(first, last)?;
        // Frozen below the header, so it stays in view on screen too.
        ws.set_freeze_panes(last + 1, 0)?;
    }
    Ok(())
}

/// A line of text across the columns `0..=last_col`.
fn line(
    ws: &mut Worksheet,
    row: u32,
    last_col: u16,
    text: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    ws.merge_range(row, 0, row, last_col, text, format)?;
    Ok(())
}

fn from_to(lang: Lang, from: chrono::NaiveDate, to: chrono::NaiveDate) -> String {
    lang.t()
        .report_from_to
        .replace("{from}", &lang.date(from))
        .replace("{to}", &lang.date(to))
}

fn stamp(lang: Lang, at: NaiveDateTime) -> String {
    format!("{} {}", at.format("%H:%M"), lang.date(at.date()))
}

/// Column width (in characters) that fits the longest of `texts`, within bounds.
fn fitting_width<'a>(texts: impl Iterator<Item = &'a str>, min: usize, max: usize) -> f64 {
    let longest = texts.map(|s| s.chars().count()).max().unwrap_or(0);
    (longest + 2).clamp(min, max) as f64
}

/// The Biểu 06 report as a workbook: the form, then the charts.
pub fn report_workbook(page: &ReportPage<'_>, charts: &[ChartImage]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let styles = Styles::new();
    report_sheet(wb.add_worksheet(), page, &styles)?;
    charts_sheet(wb.add_worksheet(), page.lang, charts, &styles)?;
    wb.save_to_buffer()
}

fn report_sheet(ws: &mut Worksheet, page: &ReportPage<'_>, s: &Styles) -> Result<(), XlsxError> {
    let (lang, t, report) = (page.lang, page.lang.t(), page.report);
    let last = FORM_COLUMNS - 1;
    ws.set_name(t.sheet_report)?;
    let scope = match page.agency {
        Some(a) => agency_name(page.dataset, a),
        None => t.whole_province.to_owned(),
    };

    // The header block: who reports (left), the form and its circular (right).
    ws.merge_range(0, 0, 0, 5, &format!("{}: {scope}", t.report_scope), &s.bold)?;
    ws.merge_range(
        0,
        6,
        0,
        last,
        t.report_form,
        &s.bold.clone().set_align(FormatAlign::Right),
    )?;
    ws.merge_range(
        1,
        6,
        1,
        last,
        t.report_basis,
        &s.italic.clone().set_align(FormatAlign::Right),
    )?;
    let centred = |f: &Format| f.clone().set_align(FormatAlign::Center);
    line(ws, 3, last, t.report_title, &centred(&s.title))?;
    let period = format!(
        "{}: {} ({})",
        t.report_period,
        lang.period(page.period),
        from_to(lang, report.from, report.to)
    );
    line(ws, 4, last, &period, &centred(&s.italic))?;
    let mut cutoff = format!("{}: {}", t.report_cutoff, stamp(lang, page.cutoff));
    if page.cutoff_is_now {
        cutoff.push_str(&format!(" ({})", t.report_cutoff_now));
    }
    line(ws, 5, last, &cutoff, &centred(&s.italic))?;
    line(
        ws,
        6,
        last,
        t.report_unit,
        &s.italic.clone().set_align(FormatAlign::Right),
    )?;

    // The column header, merged as on the form, then the column numbers.
    let top = 7;
    for c in header_cells(t) {
        let (r, col) = (top + u32::from(c.row), c.col);
        if c.rows > 1 || c.cols > 1 {
            let (r2, c2) = (r + u32::from(c.rows) - 1, col + c.cols - 1);
            ws.merge_range(r, col, r2, c2, c.text, &s.header)?;
        } else {
            ws.write_string_with_format(r, col, c.text, &s.header)?;
        }
    }
    let colno_row = top + u32::from(HEADER_ROWS);
    for i in 0..FORM_COLUMNS {
        ws.write_string_with_format(colno_row, i, format!("({})", i + 1), &s.colno)?;
    }
    for (r, height) in [(top, 22), (top + 1, 30), (top + 2, 30), (top + 3, 48)] {
        ws.set_row_height(r, height)?;
    }

    // The rows: agencies in bold, their sectors indented beneath, the total.
    let rows = labelled_rows(report, page.dataset, lang);
    let mut r = colno_row + 1;
    let mut names = Vec::with_capacity(rows.len());
    for row in &rows {
        let name = match &row.code {
            Some(code) => format!("{} ({code})", row.name),
            None if row.kind == RowKind::Total => row.name.to_uppercase(),
            None => row.name.clone(),
        };
        let (text, number) = match row.kind {
            RowKind::Agency => (&s.cell_bold, &s.number_bold),
            RowKind::Sector => (&s.cell_indent, &s.number),
            RowKind::Total => (&s.total, &s.number_total),
        };
        let stt_format = text.clone().set_align(FormatAlign::Center).set_indent(0);
        ws.write_string_with_format(r, 0, &row.stt, &stt_format)?;
        ws.write_string_with_format(r, 1, &name, text)?;
        for (col, (_, form_col, v)) in row.row.columns.columns().into_iter().enumerate() {
            debug_assert_eq!(usize::from(form_col), col + 3);
            ws.write_number_with_format(r, col as u16 + 2, v as f64, number)?;
        }
        names.push(name);
        r += 1;
    }
    if rows.iter().all(|row| row.kind == RowKind::Total) {
        line(ws, r, last, t.no_rows, &centred(&s.italic))?;
        r += 1;
    }
    r += 1;
    for note in t.report_notes {
        line(ws, r, last, note, &s.note)?;
        r += 1;
    }
    let footer = format!(
        "{}: {} · {}: {} {}",
        t.source,
        page.source,
        t.generated,
        lang.date(page.generated.date()),
        page.generated.format("%H:%M")
    );
    line(ws, r, last, &footer, &s.note)?;

    ws.set_column_width(0, 7)?;
    ws.set_column_width(1, fitting_width(names.iter().map(String::as_str), 28, 64))?;
    for col in 2..FORM_COLUMNS {
        ws.set_column_width(col, 11.5)?;
    }
    print_setup(ws, Some((top, colno_row)))
}

/// The charts, one to a printed page, each under its title.
fn charts_sheet(
    ws: &mut Worksheet,
    lang: Lang,
    charts: &[ChartImage],
    s: &Styles,
) -> Result<(), XlsxError> {
    ws.set_name(lang.t().charts_heading)?;
    let mut breaks = Vec::with_capacity(charts.len());
    let mut r = 0;
    for chart in charts {
        if r > 0 {
            breaks.push(r);
        }
        ws.write_string_with_format(r, 0, &chart.title, &s.bold)?;
        let image = Image::new_from_buffer(&chart.png)?
            .set_scale_width(CHART_SCALE)
            .set_scale_height(CHART_SCALE)
            .set_alt_text(&chart.title);
        ws.insert_image(r + 1, 0, &image)?;
        r += CHART_ROWS + 1;
    }
    if charts.is_empty() {
        ws.write_string_with_format(0, 0, lang.t().no_data, &s.italic)?;
    }
    ws.set_page_breaks(&breaks)?;
    print_setup(ws, None)
}

/// The service index as a workbook: the ranking (as on the page), the
/// indicators of each scope (the rows of the CSV), then the chart.
pub fn index_workbook(page: &IndexPage<'_>, charts: &[ChartImage]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let styles = Styles::new();
    ranking_sheet(wb.add_worksheet(), page, &styles)?;
    indicators_sheet(wb.add_worksheet(), page, &styles)?;
    charts_sheet(wb.add_worksheet(), page.lang, charts, &styles)?;
    wb.save_to_buffer()
}

/// Title, period and the estimate's caveat above a table `last` columns wide.
fn index_heading(
    ws: &mut Worksheet,
    page: &IndexPage<'_>,
    last: u16,
    s: &Styles,
) -> Result<u32, XlsxError> {
    let (lang, t, report) = (page.lang, page.lang.t(), &page.view.report);
    line(ws, 0, last, t.service_index_title, &s.title)?;
    let period = format!(
        "{}: {} ({})",
        t.report_period,
        lang.period(page.period),
        from_to(lang, report.from, report.to)
    );
    line(ws, 1, last, &period, &s.italic)?;
    line(
        ws,
        2,
        last,
        t.index_estimate_note,
        &s.note.clone().set_text_wrap(),
    )?;
    ws.set_row_height(2, 42)?;
    let footer = format!(
        "{}: {} · {}: {} {}",
        t.source,
        page.source,
        t.generated,
        lang.date(page.generated.date()),
        page.generated.format("%H:%M")
    );
    line(ws, 3, last, &footer, &s.note)?;
    Ok(5)
}

fn header_row(ws: &mut Worksheet, r: u32, names: &[&str], s: &Styles) -> Result<(), XlsxError> {
    for (col, name) in names.iter().enumerate() {
        ws.write_string_with_format(r, col as u16, *name, &s.header)?;
    }
    ws.set_row_height(r, 45)?;
    Ok(())
}

fn optional_number(
    ws: &mut Worksheet,
    r: u32,
    col: u16,
    v: Option<f64>,
    format: &Format,
) -> Result<(), XlsxError> {
    match v {
        Some(v) => ws.write_number_with_format(r, col, v, format)?,
        None => ws.write_blank(r, col, format)?,
    };
    Ok(())
}

fn ranking_sheet(ws: &mut Worksheet, page: &IndexPage<'_>, s: &Styles) -> Result<(), XlsxError> {
    let (lang, t, view) = (page.lang, page.lang.t(), page.view);
    ws.set_name(t.sheet_ranking)?;
    let mut names = vec![
        t.col_rank,
        t.agency,
        t.col_agency_code,
        t.col_score,
        t.col_points,
        t.col_max,
    ];
    names.extend(t.index_groups);
    names.push(t.col_costliest);
    let last = names.len() as u16 - 1;
    let header = index_heading(ws, page, last, s)?;
    header_row(ws, header, &names, s)?;
    let ranked = view.ranked();
    let scopes = ranked
        .iter()
        .enumerate()
        .map(|(i, row)| (Some(i + 1), *row))
        .chain(view.province().map(|p| (None, p)));
    let mut r = header + 1;
    let (mut labels, mut losses) = (Vec::new(), Vec::new());
    for (rank, row) in scopes {
        let (text, number) = if rank.is_some() {
            (&s.cell, &s.decimal)
        } else {
            (&s.total, &s.decimal_bold)
        };
        let code = row.agency.as_deref().unwrap_or_default();
        let name = match row.agency.as_deref() {
            Some(code) => crate::service_index::label(page.dataset, code),
            None => t.whole_province.to_owned(),
        };
        optional_number(ws, r, 0, rank.map(|n| n as f64), &s.number)?;
        ws.write_string_with_format(r, 1, &name, text)?;
        ws.write_string_with_format(r, 2, code, text)?;
        optional_number(ws, r, 3, row.score, number)?;
        ws.write_number_with_format(r, 4, row.points, number)?;
        ws.write_number_with_format(r, 5, row.max, number)?;
        for (col, p) in (6..).zip(view.group_points(row)) {
            ws.write_number_with_format(r, col, p, number)?;
        }
        let costliest = crate::service_index::costliest_text(view, row, lang);
        ws.write_string_with_format(r, last, &costliest, text)?;
        labels.push(name);
        losses.push(costliest);
        r += 1;
    }
    if ranked.is_empty() {
        line(ws, r, last, t.no_rows, &s.italic)?;
    }
    ws.set_column_width(0, 7)?;
    ws.set_column_width(1, fitting_width(labels.iter().map(String::as_str), 24, 64))?;
    ws.set_column_width(2, 16)?;
    for col in 3..last {
        ws.set_column_width(col, 11)?;
    }
    ws.set_column_width(
        last,
        fitting_width(losses.iter().map(String::as_str), 24, 72),
    )?;
    print_setup(ws, Some((header, header)))
}

fn indicators_sheet(ws: &mut Worksheet, page: &IndexPage<'_>, s: &Styles) -> Result<(), XlsxError> {
    let (lang, t, view) = (page.lang, page.lang.t(), page.view);
    ws.set_name(t.sheet_indicators)?;
    let names = [
        t.agency,
        t.col_agency_code,
        t.col_indicator,
        t.col_group,
        t.col_numerator,
        t.col_denominator,
        t.col_rate,
        t.target,
        t.col_points,
        t.col_max,
        t.col_score,
    ];
    let last = names.len() as u16 - 1;
    let header = index_heading(ws, page, last, s)?;
    header_row(ws, header, &names, s)?;
    // As in the CSV and JSON: with `agency`, that agency's rows and the province's.
    let code_of = |a: u32| page.dataset.agency_codes[a as usize].as_str();
    let rows = view
        .report
        .rows
        .iter()
        .filter(|row| match (page.agency, row.agency.as_deref()) {
            (Some(a), Some(code)) => code == code_of(a),
            _ => true,
        });
    let mut r = header + 1;
    // The texts of the name, indicator and group columns, for their widths.
    let mut texts: [Vec<String>; 3] = Default::default();
    for row in rows {
        let code = row.agency.as_deref().unwrap_or_default();
        let name = match row.agency.as_deref() {
            Some(code) => crate::service_index::label(page.dataset, code),
            None => t.whole_province.to_owned(),
        };
        ws.write_string_with_format(r, 0, &name, &s.cell_bold)?;
        ws.write_string_with_format(r, 1, code, &s.cell_bold)?;
        for col in 2..8 {
            ws.write_blank(r, col, &s.cell_bold)?;
        }
        ws.write_number_with_format(r, 8, row.points, &s.decimal_bold)?;
        ws.write_number_with_format(r, 9, row.max, &s.decimal_bold)?;
        optional_number(ws, r, 10, row.score, &s.decimal_bold)?;
        r += 1;
        for v in &row.indicators {
            let info = view.info(&v.indicator);
            ws.write_string_with_format(r, 0, &name, &s.cell)?;
            ws.write_string_with_format(r, 1, code, &s.cell)?;
            let indicator = view.indicator_name(&v.indicator, lang);
            ws.write_string_with_format(r, 2, &indicator, &s.cell_indent)?;
            let group = info
                .and_then(|i| t.index_groups.get(usize::from(i.group).wrapping_sub(1)))
                .copied()
                .unwrap_or_default();
            ws.write_string_with_format(r, 3, group, &s.cell)?;
            optional_number(ws, r, 4, v.numerator.map(|n| n as f64), &s.number)?;
            optional_number(ws, r, 5, v.denominator.map(|n| n as f64), &s.number)?;
            if v.points.is_none() {
                ws.write_string_with_format(r, 6, t.not_applicable, &s.cell)?;
            } else {
                optional_number(ws, r, 6, v.rate, &s.percent)?;
            }
            optional_number(ws, r, 7, view.target(&v.indicator), &s.percent)?;
            optional_number(ws, r, 8, v.points, &s.decimal)?;
            ws.write_number_with_format(r, 9, v.max, &s.decimal)?;
            ws.write_blank(r, 10, &s.cell)?;
            texts[1].push(indicator);
            texts[2].push(group.to_owned());
            r += 1;
        }
        texts[0].push(name);
    }
    let width = |i: usize, min, max| fitting_width(texts[i].iter().map(String::as_str), min, max);
    ws.set_column_width(0, width(0, 20, 64))?;
    ws.set_column_width(1, 16)?;
    ws.set_column_width(2, width(1, 24, 72) + 2.0)?;
    ws.set_column_width(3, width(2, 12, 40))?;
    for col in 4..=last {
        ws.set_column_width(col, 11)?;
    }
    print_setup(ws, Some((header, header)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_valid() {
        // Excel refuses names over 31 characters or with []:*?/\.
        for lang in Lang::ALL {
            let t = lang.t();
            for name in [
                t.sheet_report,
                t.sheet_ranking,
                t.sheet_indicators,
                t.charts_heading,
            ] {
                let mut ws = Worksheet::new();
                assert!(ws.set_name(name).is_ok(), "{name:?}");
            }
        }
    }
}
