//! The look every chart shares: the embedded font, the Okabe–Ito palette,
//! font sizes that stay readable on A4, and the frame (title, subtitle,
//! legend, footer with source and period).

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontFamily, FontStyle, FontTransform, TextStyle, register_font};

use super::{ChartMeta, DrawResult, err};

/// The family the embedded DejaVu Sans is registered under. SVG names it
/// (with a generic fallback) and does not embed it.
pub const FAMILY: &str = "DejaVu Sans, sans-serif";

/// DejaVu Sans (regular), embedded in the binary.
pub fn font_regular() -> &'static [u8] {
    dejavu::sans::regular()
}

/// DejaVu Sans Bold, embedded in the binary.
pub fn font_bold() -> &'static [u8] {
    dejavu::sans::bold()
}

/// Registers the embedded font with plotters, once per process.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are DejaVu Sans as shipped: they parse.
        let _ = register_font(FAMILY, FontStyle::Normal, font_regular());
        let _ = register_font(FAMILY, FontStyle::Bold, font_bold());
    });
}

/// Okabe & Ito (2008), "Color Universal Design": distinguishable with every
/// common colour-vision deficiency, and in greyscale by lightness.
pub mod palette {
    use plotters::style::RGBColor;
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);
    pub const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
    pub const SKY_BLUE: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
    pub const GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
    pub const YELLOW: RGBColor = RGBColor(0xF0, 0xE4, 0x42);
    pub const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
    pub const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
    pub const PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
    /// Text, axes, rules.
    pub const INK: RGBColor = RGBColor(0x1A, 0x1A, 0x1A);
    pub const MUTED: RGBColor = RGBColor(0x4D, 0x4D, 0x4D);
    pub const GRID: RGBColor = RGBColor(0xD9, 0xD9, 0xD9);
    /// Context bars behind a line (counts under a rate).
    pub const CONTEXT: RGBColor = RGBColor(0xC7, 0xC7, 0xC7);
}

/// Black or white, whichever reads better on `c`.
pub fn text_on(c: RGBColor) -> RGBColor {
    let l = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if l > 140.0 { palette::INK } else { WHITE }
}

/// Pixel sizes for one canvas: 16 px labels on a 1200×700 chart, which
/// prints at about 10 pt across an A4 landscape page; never below 8 px.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub title: f64,
    pub subtitle: f64,
    pub label: f64,
    pub small: f64,
    pub pad: i32,
    pub stroke: u32,
}

impl Sizes {
    pub fn for_canvas(w: u32, h: u32) -> Sizes {
        let unit = (f64::from(w) / 1200.0)
            .min(f64::from(h) / 700.0)
            .clamp(0.3, 3.0);
        Sizes {
            title: (26.0 * unit).max(11.0),
            subtitle: (18.0 * unit).max(9.0),
            label: (16.0 * unit).max(8.0),
            small: (13.5 * unit).max(7.0),
            pad: (16.0 * unit).max(4.0) as i32,
            stroke: ((3.0 * unit).round() as u32).max(1),
        }
    }
}

pub fn font(size: f64) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal).color(&palette::INK)
}

pub fn bold(size: f64) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Bold).color(&palette::INK)
}

pub fn muted(size: f64) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal).color(&palette::MUTED)
}

pub fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

pub fn rotated(style: TextStyle<'static>) -> TextStyle<'static> {
    style.transform(FontTransform::Rotate270)
}

/// Width and height of `text` in pixels.
pub fn measure<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
) -> (i32, i32) {
    area.estimate_text_size(text, style)
        .map(|(w, h)| (w as i32, h as i32))
        .unwrap_or((text.chars().count() as i32 * 8, 16))
}

/// `text`, cut with "…" to fit `max_w` pixels.
pub fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_w: i32,
) -> String {
    if measure(area, text, style).0 <= max_w {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().collect::<String>() + "…";
        if measure(area, &candidate, style).0 <= max_w {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let kept: String = chars[..lo].iter().collect();
    format!("{}…", kept.trim_end())
}

/// What a legend entry shows.
#[derive(Debug, Clone, Copy)]
pub enum Swatch {
    Box(RGBColor),
    Line(RGBColor),
    Dashed(RGBColor),
}

#[derive(Debug, Clone)]
pub struct LegendItem {
    pub swatch: Swatch,
    pub label: String,
}

pub fn legend(swatch: Swatch, label: impl Into<String>) -> LegendItem {
    LegendItem {
        swatch,
        label: label.into(),
    }
}

/// Draws the frame and returns the area left for the plot.
///
/// ```text
///  Title (bold)
///  Scope · period [· extra]
///  ■ legend  ■ legend  — legend
///  ┌──────────── plot ────────────┐
///  note (small, muted)
///  ─────────────────────────────────
///  Nguồn: …                Kỳ: … · Lập lúc: …
/// ```
pub fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    meta: &ChartMeta,
    title: &str,
    subtitle_extra: Option<&str>,
    items: &[LegendItem],
    note: Option<&str>,
) -> Result<(DrawingArea<DB, Shift>, Sizes), String> {
    let (w, h) = root.dim_in_pixel();
    let s = Sizes::for_canvas(w, h);
    let (w, h) = (w as i32, h as i32);
    let t = meta.lang.t();
    root.fill(&WHITE).map_err(err)?;

    let mut y = s.pad;
    let title_style = bold(s.title);
    let title = fit(root, title, &title_style, w - 2 * s.pad);
    root.draw_text(&title, &title_style, (s.pad, y))
        .map_err(err)?;
    y += measure(root, &title, &title_style).1 + s.pad / 2;

    let sub_style = muted(s.subtitle);
    let mut subtitle = format!(
        "{} · {}",
        meta.scope_label,
        meta.period_label
            .clone()
            .unwrap_or_else(|| meta.range_text())
    );
    if let Some(extra) = subtitle_extra {
        subtitle.push_str(" · ");
        subtitle.push_str(extra);
    }
    let subtitle = fit(root, &subtitle, &sub_style, w - 2 * s.pad);
    root.draw_text(&subtitle, &sub_style, (s.pad, y))
        .map_err(err)?;
    y += measure(root, &subtitle, &sub_style).1 + s.pad * 3 / 4;

    // Legend, wrapping onto more lines when needed.
    let label_style = font(s.label);
    let sw = (s.label * 1.6) as i32;
    let sh = (s.label * 0.8) as i32;
    let row_h = measure(root, "Ag", &label_style).1.max(sh) + s.pad / 3;
    let mut x = s.pad;
    let mut rows_used = 0;
    for item in items {
        let label = fit(
            root,
            &item.label,
            &label_style,
            w - 2 * s.pad - sw - s.pad / 2,
        );
        let (lw, lh) = measure(root, &label, &label_style);
        let item_w = sw + s.pad / 2 + lw;
        if x > s.pad && x + item_w > w - s.pad {
            x = s.pad;
            y += row_h;
        }
        rows_used = rows_used.max(1);
        let cy = y + lh / 2;
        match item.swatch {
            Swatch::Box(c) => {
                root.draw(&Rectangle::new(
                    [(x, cy - sh / 2), (x + sw, cy + sh / 2)],
                    c.filled(),
                ))
                .map_err(err)?;
            }
            Swatch::Line(c) => {
                root.draw(&PathElement::new(
                    vec![(x, cy), (x + sw, cy)],
                    c.stroke_width(s.stroke),
                ))
                .map_err(err)?;
                root.draw(&Circle::new(
                    (x + sw / 2, cy),
                    s.stroke as i32 + 2,
                    c.filled(),
                ))
                .map_err(err)?;
            }
            Swatch::Dashed(c) => {
                let seg = sw / 5;
                for k in [0, 2, 4] {
                    root.draw(&PathElement::new(
                        vec![(x + k * seg, cy), (x + (k + 1) * seg, cy)],
                        c.stroke_width(s.stroke),
                    ))
                    .map_err(err)?;
                }
            }
        }
        root.draw_text(&label, &label_style, (x + sw + s.pad / 2, y))
            .map_err(err)?;
        x += item_w + s.pad * 3 / 2;
    }
    if rows_used > 0 {
        y += row_h + s.pad / 2;
    }

    // Footer.
    let small = muted(s.small);
    let small_h = measure(root, "Ag", &small).1;
    let footer_y = h - s.pad - small_h;
    let rule_y = footer_y - s.pad / 2;
    root.draw(&PathElement::new(
        vec![(s.pad, rule_y), (w - s.pad, rule_y)],
        palette::GRID.stroke_width(1),
    ))
    .map_err(err)?;
    let right = format!(
        "{}: {} · {}: {}",
        t.period,
        meta.range_text(),
        t.generated,
        meta.generated_text()
    );
    let (rw, _) = measure(root, &right, &small);
    let left = fit(
        root,
        &format!("{}: {}", t.source, meta.source),
        &small,
        w - 3 * s.pad - rw,
    );
    root.draw_text(&left, &small, (s.pad, footer_y))
        .map_err(err)?;
    root.draw_text(&right, &small, (w - s.pad - rw, footer_y))
        .map_err(err)?;
    let mut bottom = rule_y - s.pad / 2;
    if let Some(note) = note {
        let note = fit(root, note, &small, w - 2 * s.pad);
        let nh = measure(root, &note, &small).1;
        root.draw_text(&note, &small, (s.pad, bottom - nh))
            .map_err(err)?;
        bottom -= nh + s.pad / 3;
    }
    let plot_h = (bottom - y).max(10);
    Ok((
        root.clone()
            .shrink((s.pad / 2, y), ((w - s.pad).max(10) as u32, plot_h as u32)),
        s,
    ))
}

/// The "no data" message in the middle of the plot area.
pub fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    meta: &ChartMeta,
    s: &Sizes,
) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let style = anchored(muted(s.subtitle), HPos::Center, VPos::Center);
    area.draw_text(meta.lang.t().no_data, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(err)?;
    Ok(())
}
