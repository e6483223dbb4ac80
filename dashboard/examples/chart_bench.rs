//! Speed of charts and of the report bundle (see BENCHMARKS.md):
//!
//! ```text
//! cargo run --release -p motcua-dashboard --example chart_bench -- 'sqlite:motcua-data/demo.sqlite?mode=ro' 2025
//! ```
//!
//! Loads the source once, then times every chart as a 1200×700 PNG (KPI
//! aggregation + drawing + PNG encoding; median and worst of 20 runs each)
//! the service index page `/index/{period}` as HTML and as JSON, the
//! report and index workbooks (`?format=xlsx`, charts included; 20 runs
//! each), and the whole `render` bundle of the period (5 runs).

use std::time::{Duration, Instant};

use motcua_dashboard::AppState;
use motcua_dashboard::app::{self, ChartRequest, Format};
use motcua_dashboard::charts::ChartKind;
use motcua_dashboard::data::Store;
use motcua_dashboard::i18n::Lang;
use motcua_queries::report::{PeriodConvention, PeriodName};
use motcua_queries::{ConnectOptions, Reader, WorkCalendar};

fn stats(mut runs: Vec<Duration>) -> (f64, f64) {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(runs[runs.len() / 2]), ms(*runs.last().expect("runs")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: bench DATABASE_URL [PERIOD]"))?;
    let period: PeriodName = args.next().as_deref().unwrap_or("2025").parse()?;
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(&url, None, &ConnectOptions::default())?;
    let started = Instant::now();
    let dataset = reader.read(calendar.timezone()).await?;
    println!(
        "load: {} intake dossiers in {:.0} ms",
        dataset.dossiers.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let state = AppState::new(Store::fixed(dataset, calendar.timezone()), calendar);
    let loaded = state.store.get().await?;
    let (from, to) = period.bounds(PeriodConvention::Calendar);
    for kind in ChartKind::ALL {
        let req = ChartRequest {
            kind,
            from,
            to,
            agency: None,
            lang: Lang::Vi,
            width: 1200,
            height: 700,
            period: Some(period),
        };
        let runs = (0..20)
            .map(|_| {
                let t = Instant::now();
                let png = app::chart(&state, &loaded, &req, Format::Png).expect("chart");
                assert!(!png.is_empty());
                t.elapsed()
            })
            .collect();
        let (median, worst) = stats(runs);
        println!(
            "chart {:<30} 1200x700 PNG: median {median:6.1} ms, worst {worst:6.1} ms",
            kind.name()
        );
    }
    // The service index of the period (DESIGN §8), as `/index/{period}` builds it.
    let time_20 = |f: &dyn Fn() -> usize| {
        stats(
            (0..20)
                .map(|_| {
                    let t = Instant::now();
                    assert!(f() > 0);
                    t.elapsed()
                })
                .collect(),
        )
    };
    let figure = motcua_dashboard::report_html::Figure {
        src: "chart.png".into(),
        title: String::new(),
        links: Vec::new(),
    };
    let (median, worst) = time_20(&|| {
        let (html, _) = app::service_index_page(
            &state,
            &loaded,
            period,
            None,
            Lang::Vi,
            figure.clone(),
            Vec::new(),
            None,
            None,
        );
        html.len()
    });
    println!("index {period} HTML (data loaded): median {median:.1} ms, worst {worst:.1} ms");
    let (median, worst) = time_20(&|| {
        let view = app::service_index(&state, &loaded, period);
        serde_json::to_string_pretty(&view.report)
            .expect("JSON")
            .len()
    });
    println!("index {period} JSON (data loaded): median {median:.1} ms, worst {worst:.1} ms");
    // The workbooks as `/reports/{period}?format=xlsx` and `/index/{period}?format=xlsx`
    // build them: the period's charts drawn, then the sheets written.
    let (median, worst) = time_20(&|| {
        let kinds = ChartKind::REPORT;
        let charts =
            app::chart_images(&state, &loaded, period, None, Lang::Vi, &kinds).expect("charts");
        app::report_workbook(&state, &loaded, period, None, Lang::Vi, &charts)
            .expect("workbook")
            .len()
    });
    println!(
        "report {period} workbook (xlsx, 7 charts, data loaded): median {median:.1} ms, worst {worst:.1} ms"
    );
    let kinds = ChartKind::REPORT;
    let charts =
        app::chart_images(&state, &loaded, period, None, Lang::Vi, &kinds).expect("charts");
    let (median, worst) = time_20(&|| {
        app::report_workbook(&state, &loaded, period, None, Lang::Vi, &charts)
            .expect("workbook")
            .len()
    });
    println!(
        "  of which the report and the sheets, charts drawn beforehand: median {median:.1} ms, worst {worst:.1} ms"
    );
    let (median, worst) = time_20(&|| {
        let kinds = [ChartKind::ServiceIndexByAgency];
        let charts =
            app::chart_images(&state, &loaded, period, None, Lang::Vi, &kinds).expect("chart");
        app::service_index_workbook(&state, &loaded, period, None, Lang::Vi, &charts)
            .expect("workbook")
            .len()
    });
    println!(
        "index {period} workbook (xlsx, 1 chart, data loaded): median {median:.1} ms, worst {worst:.1} ms"
    );
    let out = std::env::temp_dir().join(format!("motcua-bench-{}", std::process::id()));
    let runs = (0..5)
        .map(|_| {
            let t = Instant::now();
            motcua_dashboard::render::write_bundle(
                &state,
                &loaded,
                period,
                None,
                Lang::Vi,
                &out,
                false,
            )
            .expect("bundle");
            t.elapsed()
        })
        .collect();
    let (median, worst) = stats(runs);
    let files = ChartKind::ALL.len() * 2 + 8;
    println!(
        "bundle {period} ({files} files, data loaded): median {median:.0} ms, worst {worst:.0} ms"
    );
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}
