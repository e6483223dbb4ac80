//! Horizontal bar charts, one row per agency (or sector), lowest first.

use chrono::NaiveDateTime;
use motcua_queries::charts::{DigitizationCounts, PendingCounts, RatingCounts, TimelinessCounts};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{
    LegendItem, Swatch, anchored, bold, fit, font, frame, legend, measure, muted, no_data, palette,
    text_on,
};
use super::{ChartMeta, DrawResult, IndexScore, Labelled, err};

struct Segment {
    value: f64,
    colour: RGBColor,
    /// Written inside the segment when it fits.
    text: String,
}

struct Bar {
    segments: Vec<Segment>,
    /// Written after the end of the bar.
    end_text: Option<String>,
}

struct Row {
    label: String,
    bars: Vec<Bar>,
    /// Written in the right margin (the row's count).
    right: String,
}

struct Layout<'a> {
    title: &'a str,
    extra: Option<String>,
    items: Vec<LegendItem>,
    x_desc: &'a str,
    right_header: &'a str,
    percent: bool,
    x_max: f64,
    /// A vertical reference line across the rows: (x, label).
    marker: Option<(f64, String)>,
}

/// Fewest row slots on the vertical axis (so one agency is not one giant bar).
const MIN_SLOTS: usize = 6;

/// How many rows fit on a canvas `h` pixels high.
fn rows_that_fit(h: u32, label: f64, bars_per_row: usize) -> usize {
    let row_h = label * if bars_per_row > 1 { 2.5 } else { 1.7 };
    ((f64::from(h) * 0.62 / row_h).floor() as usize).max(3)
}

fn hbars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    meta: &ChartMeta,
    layout: Layout<'_>,
    mut rows: Vec<Row>,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let (_, h) = root.dim_in_pixel();
    let s0 = super::style::Sizes::for_canvas(root.dim_in_pixel().0, h);
    let bars_per_row = rows.first().map_or(1, |r| r.bars.len());
    let fit_rows = rows_that_fit(h, s0.label, bars_per_row);
    let total = rows.len();
    let note = (total > fit_rows).then(|| {
        t.showing_worst
            .replace("{shown}", &fit_rows.to_string())
            .replace("{total}", &total.to_string())
    });
    rows.truncate(fit_rows);
    let (plot, s) = frame(
        root,
        meta,
        layout.title,
        layout.extra.as_deref(),
        &layout.items,
        note.as_deref(),
    )?;
    if rows.is_empty() {
        return no_data(&plot, meta, &s);
    }
    let n = rows.len();
    // A few rows keep a bar's thickness; they stand at the top.
    let slots = n.max(MIN_SLOTS);
    let label_style = font(s.label);
    let (pw, _) = plot.dim_in_pixel();
    let max_label_w = (f64::from(pw) * 0.36) as i32;
    let labels: Vec<String> = rows
        .iter()
        .map(|r| fit(&plot, &r.label, &label_style, max_label_w))
        .collect();
    let left_w = labels
        .iter()
        .map(|l| measure(&plot, l, &label_style).0)
        .max()
        .unwrap_or(0)
        + s.pad;
    let right_w = rows
        .iter()
        .map(|r| measure(&plot, &r.right, &label_style).0)
        .chain(std::iter::once(
            measure(&plot, layout.right_header, &muted(s.small)).0,
        ))
        .max()
        .unwrap_or(0)
        + s.pad;
    let x_max = if layout.x_max > 0.0 {
        layout.x_max
    } else {
        1.0
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin_top(s.pad + measure(&plot, "Ag", &muted(s.small)).1)
        .x_label_area_size((s.label * 2.6) as i32 + s.pad)
        .y_label_area_size(left_w)
        .right_y_label_area_size(right_w)
        .build_cartesian_2d(0.0..x_max, -0.5..(slots as f64 - 0.5))
        .map_err(err)?;
    let percent = layout.percent;
    // As many x labels as fit side by side, at most 11 (every 10%).
    let widest_x = measure(&plot, &lang.int(x_max.round() as u64), &label_style)
        .0
        .max(measure(&plot, "100%", &label_style).0);
    let plot_w = pw as i32 - left_w - right_w;
    let x_labels =
        ((plot_w / (widest_x * 2).max(1)) as usize).clamp(2, if percent { 11 } else { 7 });
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(x_labels)
        .x_label_formatter(&|v| {
            if percent {
                lang.pct(*v, 0)
            } else {
                lang.int(v.round().max(0.0) as u64)
            }
        })
        .x_desc(layout.x_desc)
        .label_style(label_style.clone())
        .axis_desc_style(label_style.clone())
        .bold_line_style(palette::GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(palette::INK.stroke_width(1))
        .draw()
        .map_err(err)?;

    let (xr, yr) = chart.plotting_area().get_pixel_range();
    if let Some((x, label)) = &layout.marker {
        let x = x.clamp(0.0, x_max);
        let top = slots as f64 - 0.5;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, -0.5), (x, top)],
                palette::INK.stroke_width(s.stroke.max(2)),
            )))
            .map_err(err)?;
        let (px, py) = chart.backend_coord(&(x, top));
        let (tw, _) = measure(&plot, label, &font(s.small));
        // Written beside the line, inside the plot.
        let (hpos, px) = if px + 4 + tw > xr.end {
            (HPos::Right, px - 4)
        } else {
            (HPos::Left, px + 4)
        };
        root.draw_text(
            label,
            &anchored(bold(s.small), hpos, VPos::Top),
            (px, py + 2),
        )
        .map_err(err)?;
    }
    let inside_style = anchored(font(s.small), HPos::Center, VPos::Center);
    let end_style = anchored(font(s.small), HPos::Left, VPos::Center);
    let text_h = measure(&plot, "Ag", &inside_style).1;
    for (r, row) in rows.iter().enumerate() {
        let y = (slots - 1 - r) as f64;
        let k = row.bars.len().max(1) as f64;
        let band = 0.76 / k;
        for (b, bar) in row.bars.iter().enumerate() {
            let top = y + 0.38 - band * b as f64;
            let bottom = top - band + if k > 1.0 { 0.04 } else { 0.0 };
            let mut base = 0.0;
            for seg in &bar.segments {
                if seg.value <= 0.0 {
                    continue;
                }
                let end = (base + seg.value).min(x_max);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(base, bottom), (end, top)],
                        seg.colour.filled(),
                    )))
                    .map_err(err)?;
                let (x0, y0) = chart.backend_coord(&(base, top));
                let (x1, y1) = chart.backend_coord(&(end, bottom));
                let (tw, _) = measure(&plot, &seg.text, &inside_style);
                if !seg.text.is_empty() && x1 - x0 > tw + 6 && y1 - y0 > text_h {
                    root.draw_text(
                        &seg.text,
                        &inside_style.color(&text_on(seg.colour)),
                        ((x0 + x1) / 2, (y0 + y1) / 2),
                    )
                    .map_err(err)?;
                }
                base = end;
            }
            if let Some(text) = &bar.end_text {
                let (x, y0) = chart.backend_coord(&(base, top));
                let (_, y1) = chart.backend_coord(&(base, bottom));
                let (tw, _) = measure(&plot, text, &end_style);
                let x = if x + 4 + tw > xr.end {
                    x - tw - 4
                } else {
                    x + 4
                };
                root.draw_text(text, &end_style, (x, (y0 + y1) / 2))
                    .map_err(err)?;
            }
        }
        let (_, cy) = chart.backend_coord(&(0.0, y));
        root.draw_text(
            &labels[r],
            &anchored(font(s.label), HPos::Right, VPos::Center),
            (xr.start - s.pad / 2, cy),
        )
        .map_err(err)?;
        root.draw_text(
            &row.right,
            &anchored(font(s.label), HPos::Right, VPos::Center),
            (xr.end + right_w - s.pad / 3, cy),
        )
        .map_err(err)?;
    }
    root.draw_text(
        layout.right_header,
        &anchored(muted(s.small), HPos::Right, VPos::Bottom),
        (xr.end + right_w - s.pad / 3, yr.start - 4),
    )
    .map_err(err)?;
    Ok(())
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Sorts lowest first by `key` (None last), then by label.
fn sort_lowest_first<T>(rows: &mut [&Labelled<T>], key: impl Fn(&T) -> Option<f64>) {
    rows.sort_by(|a, b| {
        let (ka, kb) = (
            key(&a.value).unwrap_or(f64::INFINITY),
            key(&b.value).unwrap_or(f64::INFINITY),
        );
        ka.total_cmp(&kb).then_with(|| a.label.cmp(&b.label))
    });
}

pub fn timeliness<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[Labelled<TimelinessCounts>],
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let mut total = TimelinessCounts::default();
    for r in rows {
        total.early += r.value.early;
        total.on_time += r.value.on_time;
        total.late += r.value.late;
    }
    let mut sorted: Vec<&Labelled<TimelinessCounts>> =
        rows.iter().filter(|r| r.value.resolved() > 0).collect();
    sort_lowest_first(&mut sorted, TimelinessCounts::on_time_rate);
    let parts = [
        (palette::GREEN, t.early),
        (palette::BLUE, t.on_time),
        (palette::VERMILLION, t.late),
    ];
    let rows = sorted
        .iter()
        .map(|r| {
            let c = r.value;
            let n = c.resolved();
            let values = [c.early, c.on_time, c.late];
            Row {
                label: r.label.clone(),
                bars: vec![Bar {
                    segments: values
                        .iter()
                        .zip(parts)
                        .map(|(v, (colour, _))| Segment {
                            value: share(*v, n),
                            colour,
                            text: lang.pct(share(*v, n), 0),
                        })
                        .collect(),
                    end_text: None,
                }],
                right: lang.int(n),
            }
        })
        .collect();
    let layout = Layout {
        title,
        extra: total.on_time_rate().map(|r| {
            format!(
                "{}: {} {}",
                t.overall,
                lang.pct(r, 1),
                t.on_time_rate_legend.to_lowercase()
            )
        }),
        items: parts
            .iter()
            .map(|(c, l)| legend(Swatch::Box(*c), *l))
            .collect(),
        x_desc: t.share_of_resolved_pct,
        right_header: t.resolved_count,
        percent: true,
        x_max: 1.0,
        marker: None,
    };
    hbars(root, meta, layout, rows)
}

pub fn pending<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[Labelled<PendingCounts>],
    at: NaiveDateTime,
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let mut total = PendingCounts::default();
    for r in rows {
        total.in_time += r.value.in_time;
        total.overdue += r.value.overdue;
        total.paused += r.value.paused;
    }
    let mut sorted: Vec<&Labelled<PendingCounts>> =
        rows.iter().filter(|r| r.value.total() > 0).collect();
    // Most overdue first: "lowest first" on the negated count.
    sort_lowest_first(&mut sorted, |c| {
        Some(-(c.overdue as f64) - share(c.overdue, c.total()))
    });
    let parts = [
        (palette::BLUE, t.in_time),
        (palette::VERMILLION, t.overdue),
        (palette::ORANGE, t.paused),
    ];
    let x_max = sorted
        .iter()
        .map(|r| r.value.total())
        .max()
        .unwrap_or(0)
        .max(5) as f64
        * 1.02;
    let rows = sorted
        .iter()
        .map(|r| {
            let c = r.value;
            Row {
                label: r.label.clone(),
                bars: vec![Bar {
                    segments: [c.in_time, c.overdue, c.paused]
                        .iter()
                        .zip(parts)
                        .map(|(v, (colour, _))| Segment {
                            value: *v as f64,
                            colour,
                            text: lang.int(*v),
                        })
                        .collect(),
                    end_text: None,
                }],
                right: lang.int(c.total()),
            }
        })
        .collect();
    let layout = Layout {
        title,
        extra: Some(format!(
            "{} {} {} · {}: {}/{}",
            t.at_instant,
            lang.date(at.date()),
            at.format("%H:%M"),
            t.overdue,
            lang.int(total.overdue),
            lang.int(total.total())
        )),
        items: parts
            .iter()
            .map(|(c, l)| legend(Swatch::Box(*c), *l))
            .collect(),
        x_desc: t.pending_count,
        right_header: t.dossiers,
        percent: false,
        x_max,
        marker: None,
    };
    hbars(root, meta, layout, rows)
}

pub fn satisfaction<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[Labelled<RatingCounts>],
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let mut total = RatingCounts::default();
    for r in rows {
        for k in 0..3 {
            total.0[k] += r.value.0[k];
        }
    }
    let mut sorted: Vec<&Labelled<RatingCounts>> =
        rows.iter().filter(|r| r.value.total() > 0).collect();
    sort_lowest_first(&mut sorted, RatingCounts::satisfaction_rate);
    let parts = [
        (palette::GREEN, t.very_satisfied),
        (palette::SKY_BLUE, t.satisfied),
        (palette::VERMILLION, t.dissatisfied),
    ];
    let rows = sorted
        .iter()
        .map(|r| {
            let c = r.value;
            let n = c.total();
            Row {
                label: r.label.clone(),
                bars: vec![Bar {
                    segments: c
                        .0
                        .iter()
                        .zip(parts)
                        .map(|(v, (colour, _))| Segment {
                            value: share(*v, n),
                            colour,
                            text: lang.pct(share(*v, n), 0),
                        })
                        .collect(),
                    end_text: None,
                }],
                right: lang.int(n),
            }
        })
        .collect();
    let layout = Layout {
        title,
        extra: total.satisfaction_rate().map(|r| {
            format!(
                "{}: {} {} ({} {})",
                t.overall,
                lang.pct(r, 1),
                t.satisfied.to_lowercase(),
                lang.int(total.total()),
                t.evaluations
            )
        }),
        items: parts
            .iter()
            .map(|(c, l)| legend(Swatch::Box(*c), *l))
            .collect(),
        x_desc: t.share_of_evaluations_pct,
        right_header: t.evaluations,
        percent: true,
        x_max: 1.0,
        marker: None,
    };
    hbars(root, meta, layout, rows)
}

pub fn digitization<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[Labelled<DigitizationCounts>],
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let mut total = DigitizationCounts::default();
    for r in rows {
        total.intake += r.value.intake;
        total.digitized += r.value.digitized;
        total.resolved += r.value.resolved;
        total.e_result += r.value.e_result;
    }
    let mut sorted: Vec<&Labelled<DigitizationCounts>> =
        rows.iter().filter(|r| r.value.intake > 0).collect();
    sort_lowest_first(&mut sorted, DigitizationCounts::digitized_share);
    let bar = |v: Option<f64>, colour| Bar {
        segments: vec![Segment {
            value: v.unwrap_or(0.0),
            colour,
            text: String::new(),
        }],
        end_text: Some(v.map_or_else(|| "–".to_owned(), |v| lang.pct(v, 0))),
    };
    let rows = sorted
        .iter()
        .map(|r| Row {
            label: r.label.clone(),
            bars: vec![
                bar(r.value.digitized_share(), palette::BLUE),
                bar(r.value.e_result_share(), palette::ORANGE),
            ],
            right: lang.int(r.value.intake),
        })
        .collect();
    let pct = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| lang.pct(v, 1));
    let layout = Layout {
        title,
        extra: Some(format!(
            "{}: {} / {}",
            t.overall,
            pct(total.digitized_share()),
            pct(total.e_result_share())
        )),
        items: vec![
            legend(Swatch::Box(palette::BLUE), t.digitized),
            legend(Swatch::Box(palette::ORANGE), t.e_result),
        ],
        x_desc: t.rate_pct,
        right_header: t.received_count,
        percent: true,
        x_max: 1.0,
        marker: None,
    };
    hbars(root, meta, layout, rows)
}

/// The service index (DESIGN §8): one stacked bar per agency, its points by
/// group scaled so the bar's length is its score on 100, lowest first, and
/// the province's score as a line across.
pub fn service_index<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[Labelled<IndexScore>],
    province: Option<&IndexScore>,
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let colours = [
        palette::PURPLE,
        palette::BLUE,
        palette::SKY_BLUE,
        palette::ORANGE,
        palette::GREEN,
        palette::VERMILLION,
    ];
    let mut sorted: Vec<&Labelled<IndexScore>> =
        rows.iter().filter(|r| r.value.score.is_some()).collect();
    sort_lowest_first(&mut sorted, |v| v.score);
    // Only the groups that give some agency points get a legend entry.
    let shown: Vec<usize> = (0..6)
        .filter(|g| sorted.iter().any(|r| r.value.group_points[*g] > 0.0))
        .collect();
    let rows = sorted
        .iter()
        .map(|r| {
            let v = &r.value;
            let scale = if v.max > 0.0 { 100.0 / v.max } else { 0.0 };
            Row {
                label: r.label.clone(),
                bars: vec![Bar {
                    segments: v
                        .group_points
                        .iter()
                        .zip(colours)
                        .map(|(p, colour)| Segment {
                            value: p * scale,
                            colour,
                            text: lang.num(p * scale),
                        })
                        .collect(),
                    end_text: v.score.map(|s| lang.num(s)),
                }],
                right: format!("{}/{}", lang.num(v.points), lang.num(v.max)),
            }
        })
        .collect();
    let province_text = province.and_then(|p| {
        p.score.map(|s| {
            (
                s,
                format!(
                    "{}: {} ({}/{})",
                    t.whole_province,
                    lang.num(s),
                    lang.num(p.points),
                    lang.num(p.max)
                ),
            )
        })
    });
    let layout = Layout {
        title,
        extra: province_text.as_ref().map(|(_, text)| text.clone()),
        items: shown
            .iter()
            .map(|g| legend(Swatch::Box(colours[*g]), t.index_groups[*g]))
            .collect(),
        x_desc: t.index_score_axis,
        right_header: t.index_points_of_max,
        percent: false,
        x_max: 100.0,
        marker: province_text,
    };
    hbars(root, meta, layout, rows)
}
