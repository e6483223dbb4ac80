//! `render --period P --out DIR`: a self-contained bundle for offline
//! distribution — `report.html` (relative links only), every chart as PNG
//! and SVG under `charts/`, `report.csv`, `report.json` and the workbook
//! `report.xlsx` (Biểu 06 and its charts), and the service index estimate
//! (DESIGN §8) as `index.html`, `index.csv`, `index.json` and `index.xlsx`.
//!
//! Every file is written inside DIR: names are plain relative paths (no
//! `..`, no root), a folder on the way that is a symlink leading outside DIR
//! is refused, and so is an existing symlink in place of a file. Each file
//! is written beside its target and renamed into place, so an interrupted
//! run leaves whole files.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use motcua_queries::report::PeriodName;

use crate::app::{self, AppState, Format};
use crate::charts::ChartKind;
use crate::data::Loaded;
use crate::i18n::Lang;
use crate::report_html::Figure;
use crate::xlsx::ChartImage;

/// A folder that files are written into and never out of.
#[derive(Debug)]
pub struct BundleDir {
    root: PathBuf,
}

impl BundleDir {
    /// Creates `dir` if needed.
    pub fn open(dir: &Path) -> anyhow::Result<BundleDir> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let root = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        Ok(BundleDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `bytes` to `name` (a relative path of plain components) inside the folder.
    pub fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        let rel = Path::new(name);
        if name.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            bail!(
                "refusing to write {name:?}: only plain names inside {} are written",
                self.root.display()
            );
        }
        let target = self.root.join(rel);
        let parent = target.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let real_parent = parent
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", parent.display()))?;
        if !real_parent.starts_with(&self.root) {
            bail!(
                "refusing to write {name:?}: {} leads outside {} (to {})",
                parent.display(),
                self.root.display(),
                real_parent.display()
            );
        }
        let target = real_parent.join(target.file_name().expect("a normal last component"));
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if meta.file_type().is_symlink() {
                bail!(
                    "refusing to write {}: it is a symbolic link",
                    target.display()
                );
            }
            if meta.is_dir() {
                bail!("cannot write {}: it is a folder", target.display());
            }
        }
        let partial = real_parent.join(format!(
            ".{}.partial",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
        ));
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&partial)
                .with_context(|| format!("cannot write {}", partial.display()))?;
            f.write_all(bytes)
                .with_context(|| format!("cannot write {}", partial.display()))?;
        }
        std::fs::rename(&partial, &target).with_context(|| {
            format!("cannot move {} to {}", partial.display(), target.display())
        })?;
        Ok(target)
    }
}

/// What was written.
#[derive(Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub files: Vec<(String, usize)>,
}

/// The chart file names of a bundle.
pub fn chart_file(kind: ChartKind, format: Format) -> String {
    match format {
        Format::Png => format!("charts/{}.png", kind.name()),
        Format::Svg => format!("charts/{}.svg", kind.name()),
    }
}

/// Writes the bundle of `period` from loaded data.
pub fn write_bundle(
    state: &AppState,
    loaded: &Loaded,
    period: PeriodName,
    agency: Option<u32>,
    lang: Lang,
    out: &Path,
    progress: bool,
) -> anyhow::Result<Bundle> {
    let dir = BundleDir::open(out)?;
    let total = ChartKind::ALL.len() * 2 + 8;
    let mut files = Vec::with_capacity(total);
    let step = |name: &str, bytes: &[u8], files: &mut Vec<(String, usize)>| -> anyhow::Result<()> {
        dir.write(name, bytes)?;
        files.push((name.to_owned(), bytes.len()));
        if progress {
            eprintln!(
                "[{:>2}/{total}] {name} ({} bytes)",
                files.len(),
                bytes.len()
            );
        }
        Ok(())
    };
    // The PNGs are kept for the workbooks' charts sheets: drawn once.
    let mut pngs = Vec::with_capacity(ChartKind::ALL.len());
    for kind in ChartKind::ALL {
        let req = app::period_chart(state, kind, period, agency, lang);
        for format in [Format::Png, Format::Svg] {
            let bytes = app::chart(state, loaded, &req, format)
                .map_err(|e| anyhow::anyhow!("drawing {}: {e}", kind.name()))?;
            step(&chart_file(kind, format), &bytes, &mut files)?;
            if format == Format::Png {
                pngs.push((kind, bytes));
            }
        }
    }
    let images = |kinds: &[ChartKind]| -> Vec<ChartImage> {
        pngs.iter()
            .filter(|(k, _)| kinds.contains(k))
            .map(|(k, png)| ChartImage {
                title: app::chart_title(*k, lang, agency).to_owned(),
                png: png.clone(),
            })
            .collect()
    };
    let figure = |k: ChartKind| Figure {
        src: chart_file(k, Format::Png),
        title: app::chart_title(k, lang, agency).to_owned(),
        links: vec![
            ("PNG".into(), chart_file(k, Format::Png)),
            ("SVG".into(), chart_file(k, Format::Svg)),
        ],
    };
    let downloads = |name: &str| {
        ["CSV", "JSON", "XLSX"]
            .map(|f| (f.to_owned(), format!("{name}.{}", f.to_lowercase())))
            .to_vec()
    };
    let (html, view) = app::service_index_page(
        state,
        loaded,
        period,
        agency,
        lang,
        figure(ChartKind::ServiceIndexByAgency),
        downloads("index"),
        None,
        None,
    );
    step("index.html", html.as_bytes(), &mut files)?;
    let view = match agency {
        Some(a) => view.only_agency(&loaded.dataset.agency_codes[a as usize]),
        None => view,
    };
    let csv = crate::service_index::csv(&view, &loaded.dataset, lang);
    step("index.csv", csv.as_bytes(), &mut files)?;
    let json = serde_json::to_string_pretty(&view.report)?;
    step("index.json", json.as_bytes(), &mut files)?;
    let xlsx = app::service_index_workbook(
        state,
        loaded,
        period,
        agency,
        lang,
        &images(&[ChartKind::ServiceIndexByAgency]),
    )
    .context("writing index.xlsx")?;
    step("index.xlsx", &xlsx, &mut files)?;
    let (html, report) = app::report_page(
        state,
        loaded,
        period,
        agency,
        lang,
        &figure,
        downloads("report"),
        None,
    );
    step("report.html", html.as_bytes(), &mut files)?;
    let csv = crate::csv::report_csv(&report, &loaded.dataset, lang);
    step("report.csv", csv.as_bytes(), &mut files)?;
    let json = serde_json::to_string_pretty(&report)?;
    step("report.json", json.as_bytes(), &mut files)?;
    let xlsx = app::report_workbook(
        state,
        loaded,
        period,
        agency,
        lang,
        &images(&ChartKind::REPORT),
    )
    .context("writing report.xlsx")?;
    step("report.xlsx", &xlsx, &mut files)?;
    Ok(Bundle {
        dir: dir.root().to_owned(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("motcua-bundle-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn writes_only_inside_the_folder() {
        let base = temp_dir("inside");
        let dir = BundleDir::open(&base.join("out")).unwrap();
        dir.write("report.html", b"x").unwrap();
        dir.write("charts/a.png", b"y").unwrap();
        assert_eq!(std::fs::read(base.join("out/charts/a.png")).unwrap(), b"y");
        for bad in [
            "../escape.html",
            "/etc/passwd",
            "charts/../../x",
            "",
            "./a/../../b",
        ] {
            let err = dir.write(bad, b"z").unwrap_err().to_string();
            assert!(err.contains("refusing"), "{bad}: {err}");
        }
        assert!(!base.join("escape.html").exists());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_out_are_refused() {
        let base = temp_dir("symlink");
        let outside = base.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let out = base.join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("charts")).unwrap();
        std::os::unix::fs::symlink(outside.join("victim"), out.join("report.csv")).unwrap();
        let dir = BundleDir::open(&out).unwrap();
        let err = dir.write("charts/a.png", b"x").unwrap_err().to_string();
        assert!(err.contains("leads outside"), "{err}");
        let err = dir.write("report.csv", b"x").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!outside.join("a.png").exists() && !outside.join("victim").exists());
        let _ = std::fs::remove_dir_all(&base);
    }
}
