//! Charts over a horizontal category axis: months, or working days.

use motcua_queries::charts::{ChannelCounts, ProcessingDistribution, TimelinessCounts};
use motcua_queries::model::Channel;
use motcua_queries::report::PeriodName;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{
    LegendItem, Sizes, Swatch, anchored, bold, font, frame, legend, measure, no_data, palette,
};
use super::{ChartMeta, DrawResult, err};

/// Pixel positions of the category centres along the x axis.
struct Categories {
    /// (x, y) of each category centre on the x axis.
    at: Vec<(i32, i32)>,
}

impl Categories {
    /// Draws tick marks and the labels that fit (every k-th).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        labels: &[String],
        s: &Sizes,
    ) -> DrawResult {
        let style = anchored(font(s.label), HPos::Center, VPos::Top);
        let widest = labels
            .iter()
            .map(|l| measure(root, l, &style).0)
            .max()
            .unwrap_or(0)
            + s.pad;
        let spacing = match self.at.as_slice() {
            [a, b, ..] => (b.0 - a.0).max(1),
            _ => i32::MAX,
        };
        let step = ((widest + spacing - 1) / spacing).max(1) as usize;
        for (i, ((x, y), label)) in self.at.iter().zip(labels).enumerate() {
            let tick = if i % step == 0 { s.pad / 3 } else { s.pad / 6 };
            root.draw(&PathElement::new(
                vec![(*x, *y), (*x, *y + tick)],
                palette::INK.stroke_width(1),
            ))
            .map_err(err)?;
            if i % step == 0 {
                root.draw_text(label, &style, (*x, *y + s.pad / 3 + 2))
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

/// Height of the x label area: tick labels and the axis description.
fn x_area(root_h: f64, s: &Sizes) -> i32 {
    let _ = root_h;
    (s.label * 2.6) as i32 + s.pad
}

fn month_labels(meta: &ChartMeta, months: &[PeriodName]) -> Vec<String> {
    months.iter().map(|m| meta.lang.month_short(*m)).collect()
}

pub fn on_time_trend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    months: &[(PeriodName, TimelinessCounts)],
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let mut total = TimelinessCounts::default();
    for (_, c) in months {
        total.early += c.early;
        total.on_time += c.on_time;
        total.late += c.late;
    }
    let extra = total.on_time_rate().map(|r| {
        format!(
            "{}: {} ({} {})",
            t.overall,
            lang.pct(r, 1),
            lang.int(total.resolved()),
            t.resolved_dossiers.to_lowercase()
        )
    });
    let items: Vec<LegendItem> = vec![
        legend(Swatch::Line(palette::BLUE), t.on_time_rate_legend),
        legend(
            Swatch::Dashed(palette::VERMILLION),
            format!("{} {}", t.target, lang.pct(meta.target, 0)),
        ),
        legend(
            Swatch::Box(palette::CONTEXT),
            format!("{} ({})", t.resolved_count, t.right_axis),
        ),
    ];
    let (plot, s) = frame(root, meta, title, extra.as_deref(), &items, None)?;
    if total.resolved() == 0 {
        return no_data(&plot, meta, &s);
    }
    let n = months.len();
    let rates: Vec<Option<f64>> = months.iter().map(|(_, c)| c.on_time_rate()).collect();
    let lowest = rates.iter().flatten().copied().fold(meta.target, f64::min);
    let y_lo = (((lowest - 0.05) * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    let max_count = months
        .iter()
        .map(|(_, c)| c.resolved())
        .max()
        .unwrap_or(0)
        .max(10) as f64;

    let label = font(s.label);
    let left_w = measure(&plot, "100%", &label).0 + (s.label * 1.6) as i32 + s.pad;
    let right_w =
        measure(&plot, &lang.int(max_count as u64), &label).0 + (s.label * 1.6) as i32 + s.pad;
    let x_range = -0.5..(n as f64 - 0.5);
    let mut chart = ChartBuilder::on(&plot)
        .margin_top(s.pad / 2)
        .x_label_area_size(x_area(0.0, &s))
        .y_label_area_size(left_w)
        .right_y_label_area_size(right_w)
        .build_cartesian_2d(x_range.clone(), y_lo..1.0)
        .map_err(err)?
        .set_secondary_coord(x_range, 0.0..max_count * 1.15);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(11)
        .y_label_formatter(&|v| lang.pct(*v, 0))
        .x_desc(t.month)
        .y_desc(t.on_time_rate_pct)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .bold_line_style(palette::GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(palette::INK.stroke_width(1))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_labels(6)
        .y_label_formatter(&|v| lang.int(v.round().max(0.0) as u64))
        .y_desc(t.resolved_count)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .axis_style(palette::INK.stroke_width(1))
        .draw()
        .map_err(err)?;

    chart
        .draw_secondary_series(months.iter().enumerate().map(|(i, (_, c))| {
            let x = i as f64;
            Rectangle::new(
                [(x - 0.32, 0.0), (x + 0.32, c.resolved() as f64)],
                palette::CONTEXT.filled(),
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(DashedLineSeries::new(
            vec![(-0.5, meta.target), (n as f64 - 0.5, meta.target)],
            (s.label * 0.8) as i32,
            (s.label * 0.5) as i32,
            palette::VERMILLION.stroke_width(s.stroke.max(2) - 1),
        ))
        .map_err(err)?;
    // The rate line, broken where a month resolved nothing.
    let mut run: Vec<(f64, f64)> = Vec::new();
    let line_style = palette::BLUE.stroke_width(s.stroke);
    for (i, r) in rates.iter().enumerate() {
        match r {
            Some(r) => run.push((i as f64, *r)),
            None => {
                chart
                    .draw_series(LineSeries::new(run.drain(..), line_style))
                    .map_err(err)?;
            }
        }
    }
    chart
        .draw_series(LineSeries::new(run.drain(..), line_style))
        .map_err(err)?;
    let r = s.stroke as i32 + 2;
    chart
        .draw_series(
            rates.iter().enumerate().filter_map(|(i, v)| {
                v.map(|v| Circle::new((i as f64, v), r, palette::BLUE.filled()))
            }),
        )
        .map_err(err)?;

    let at: Vec<(i32, i32)> = (0..n)
        .map(|i| chart.backend_coord(&(i as f64, y_lo)))
        .collect();
    // Values above the points when there is room for them.
    let value_style = anchored(bold(s.small), HPos::Center, VPos::Bottom).color(&palette::BLUE);
    let widest = measure(root, "100,0%", &value_style).0;
    let room = at
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .min()
        .unwrap_or(i32::MAX);
    if room > widest + 4 {
        for (i, v) in rates.iter().enumerate() {
            if let Some(v) = v {
                let (x, y) = chart.backend_coord(&(i as f64, *v));
                root.draw_text(&lang.pct(*v, 1), &value_style, (x, y - r - 3))
                    .map_err(err)?;
            }
        }
    }
    let labels = month_labels(meta, &months.iter().map(|(m, _)| *m).collect::<Vec<_>>());
    Categories { at }.draw(root, &labels, &s)
}

pub fn intake_by_channel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    months: &[(PeriodName, ChannelCounts)],
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let mut total = ChannelCounts::default();
    for (_, c) in months {
        for k in 0..3 {
            total.0[k] += c.0[k];
        }
    }
    let extra = total.online_share().map(|r| {
        format!(
            "{}: {} {} · {} {}",
            t.overall,
            lang.int(total.total()),
            t.received_count.to_lowercase(),
            lang.pct(r, 1),
            t.online.to_lowercase()
        )
    });
    let channels = [
        (Channel::Direct, palette::ORANGE, t.direct),
        (Channel::Online, palette::BLUE, t.online),
        (Channel::Postal, palette::PURPLE, t.postal),
    ];
    let mut items: Vec<LegendItem> = channels
        .iter()
        .map(|(_, c, l)| legend(Swatch::Box(*c), *l))
        .collect();
    items.push(legend(
        Swatch::Line(palette::BLACK),
        format!("{} ({})", t.online_share, t.right_axis),
    ));
    let (plot, s) = frame(root, meta, title, extra.as_deref(), &items, None)?;
    if total.total() == 0 {
        return no_data(&plot, meta, &s);
    }
    let n = months.len();
    let max_count = months
        .iter()
        .map(|(_, c)| c.total())
        .max()
        .unwrap_or(0)
        .max(10) as f64;
    let label = font(s.label);
    let left_w =
        measure(&plot, &lang.int(max_count as u64), &label).0 + (s.label * 1.6) as i32 + s.pad;
    let right_w = measure(&plot, "100%", &label).0 + (s.label * 1.6) as i32 + s.pad;
    let x_range = -0.5..(n as f64 - 0.5);
    let mut chart = ChartBuilder::on(&plot)
        .margin_top(s.pad / 2)
        .x_label_area_size(x_area(0.0, &s))
        .y_label_area_size(left_w)
        .right_y_label_area_size(right_w)
        .build_cartesian_2d(x_range.clone(), 0.0..max_count * 1.1)
        .map_err(err)?
        .set_secondary_coord(x_range, 0.0..1.0);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_label_formatter(&|v| lang.int(v.round().max(0.0) as u64))
        .x_desc(t.month)
        .y_desc(t.received_count)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .bold_line_style(palette::GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(palette::INK.stroke_width(1))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_labels(6)
        .y_label_formatter(&|v| lang.pct(*v, 0))
        .y_desc(t.online_share_pct)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .axis_style(palette::INK.stroke_width(1))
        .draw()
        .map_err(err)?;
    for (i, (_, c)) in months.iter().enumerate() {
        let x = i as f64;
        let mut base = 0.0;
        for (channel, colour, _) in &channels {
            let v = c.get(*channel) as f64;
            if v > 0.0 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.36, base), (x + 0.36, base + v)],
                        colour.filled(),
                    )))
                    .map_err(err)?;
            }
            base += v;
        }
    }
    let shares: Vec<Option<f64>> = months.iter().map(|(_, c)| c.online_share()).collect();
    let line_style = palette::BLACK.stroke_width(s.stroke);
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (i, v) in shares.iter().enumerate() {
        match v {
            Some(v) => run.push((i as f64, *v)),
            None => {
                chart
                    .draw_secondary_series(LineSeries::new(run.drain(..), line_style))
                    .map_err(err)?;
            }
        }
    }
    chart
        .draw_secondary_series(LineSeries::new(run.drain(..), line_style))
        .map_err(err)?;
    let r = s.stroke as i32 + 2;
    chart
        .draw_secondary_series(
            shares.iter().enumerate().filter_map(|(i, v)| {
                v.map(|v| Circle::new((i as f64, v), r, palette::BLACK.filled()))
            }),
        )
        .map_err(err)?;
    let at: Vec<(i32, i32)> = (0..n)
        .map(|i| chart.backend_coord(&(i as f64, 0.0)))
        .collect();
    let labels = month_labels(meta, &months.iter().map(|(m, _)| *m).collect::<Vec<_>>());
    Categories { at }.draw(root, &labels, &s)
}

/// Longest working-day axis drawn; slower dossiers share the last bar.
const MAX_BINS: i64 = 60;

pub fn processing_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    p: &ProcessingDistribution,
    meta: &ChartMeta,
) -> DrawResult {
    let (lang, t) = (meta.lang, meta.lang.t());
    let deadline = p.common_deadline().map(|(d, _)| d);
    // The most common deadline, and the next two, marked with their share of dossiers.
    let mut marked: Vec<(f64, u64)> = p.deadlines.clone();
    marked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
    marked.truncate(3);
    let with_deadline: u64 = p.deadlines.iter().map(|(_, n)| n).sum();
    let mut items = vec![legend(Swatch::Box(palette::BLUE), t.resolved_dossiers)];
    if let Some((d, count)) = p.common_deadline() {
        items.push(legend(
            Swatch::Dashed(palette::VERMILLION),
            format!(
                "{}: {} {} ({} {})",
                t.common_deadline,
                lang.num(d),
                t.workdays_unit,
                lang.pct(count as f64 / p.total().max(1) as f64, 0),
                t.of_dossiers
            ),
        ));
    }
    if marked.len() > 1 {
        items.push(legend(Swatch::Dashed(palette::MUTED), t.other_deadlines));
    }
    let _ = with_deadline;
    let mut notes = Vec::new();
    if let Some(m) = p.quantile(0.5) {
        notes.push(format!("{}: {} {}", t.median, m, t.workdays_unit));
    }
    if let Some(q) = p.quantile(0.9) {
        notes.push(format!("{} {} {}", t.p90, q, t.workdays_unit));
    }
    if let Some(w) = p.within_deadline_share() {
        notes.push(format!("{} {}", lang.pct(w, 1), t.within_deadline));
    }
    let note = notes.join(" · ");
    let extra = (p.total() > 0).then(|| {
        format!(
            "{} {}",
            lang.int(p.total()),
            t.resolved_dossiers.to_lowercase()
        )
    });
    let (plot, s) = frame(
        root,
        meta,
        title,
        extra.as_deref(),
        &items,
        Some(&note).filter(|n| !n.is_empty()).map(|n| n.as_str()),
    )?;
    if p.total() == 0 {
        return no_data(&plot, meta, &s);
    }
    let p99 = p.quantile(0.99).unwrap_or(0);
    let last = p99
        .max(
            marked
                .iter()
                .map(|(d, _)| d.floor() as i64 + 2)
                .max()
                .unwrap_or(0),
        )
        .clamp(5, MAX_BINS);
    let mut bins = vec![0u64; last as usize + 1];
    let mut overflow = false;
    for (days, n) in &p.workdays {
        let i = (*days).clamp(0, last) as usize;
        overflow |= *days > last;
        bins[i] += n;
    }
    let max_count = bins.iter().copied().max().unwrap_or(0).max(10) as f64;
    let label = font(s.label);
    let left_w =
        measure(&plot, &lang.int(max_count as u64), &label).0 + (s.label * 1.6) as i32 + s.pad;
    let n = bins.len();
    let mut chart = ChartBuilder::on(&plot)
        .margin_top(s.pad / 2)
        .margin_right(s.pad)
        .x_label_area_size(x_area(0.0, &s))
        .y_label_area_size(left_w)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..max_count * 1.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_label_formatter(&|v| lang.int(v.round().max(0.0) as u64))
        .x_desc(t.workdays_axis)
        .y_desc(t.dossiers)
        .label_style(label.clone())
        .axis_desc_style(label.clone())
        .bold_line_style(palette::GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(palette::INK.stroke_width(1))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(
            bins.iter()
                .enumerate()
                .filter(|(_, v)| **v > 0)
                .map(|(i, v)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x - 0.4, 0.0), (x + 0.4, *v as f64)],
                        palette::BLUE.filled(),
                    )
                }),
        )
        .map_err(err)?;
    let top_style = anchored(bold(s.small), HPos::Center, VPos::Bottom);
    for (d, _) in marked.iter().rev() {
        let x = (d.floor() + 0.5).min(n as f64 - 0.5);
        let main = Some(*d) == deadline;
        let colour = if main {
            palette::VERMILLION
        } else {
            palette::MUTED
        };
        let width = if main { s.stroke } else { s.stroke.div_ceil(2) };
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, 0.0), (x, max_count * 1.05)],
                (s.label * 0.8) as i32,
                (s.label * 0.5) as i32,
                colour.stroke_width(width),
            ))
            .map_err(err)?;
        let (px, py) = chart.backend_coord(&(x, max_count * 1.05));
        root.draw_text(&lang.num(*d), &top_style.color(&colour), (px, py - 2))
            .map_err(err)?;
    }
    let at: Vec<(i32, i32)> = (0..n)
        .map(|i| chart.backend_coord(&(i as f64, 0.0)))
        .collect();
    let labels: Vec<String> = (0..n)
        .map(|i| {
            if overflow && i == n - 1 {
                format!("≥{i}")
            } else {
                i.to_string()
            }
        })
        .collect();
    Categories { at }.draw(root, &labels, &s)
}
