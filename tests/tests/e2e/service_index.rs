//! The service index estimate (DESIGN §8) end to end: the recording rules,
//! evaluated by a real Prometheus scraping `motcua-exporter --demo`, give
//! the points the dashboard's `/index/{period}?format=json` gives over the
//! same demo file; and the exporter's numerators and denominators are the
//! dashboard's, for the current month, quarter and year (issue 19).
//!
//! Both services judge the dossiers as of the real clock. A pending
//! dossier's deadline, or the month's end, may fall between the exporter's
//! last refresh and the dashboard's answer: the exporter refreshes every
//! second, and a comparison that differs is made again from fresh data a
//! few times before it counts as a failure. A real disagreement persists.

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;
use std::time::Duration;

use motcua_dashboard::AppState;
use motcua_queries::report::PeriodConvention;
use motcua_queries::snapshot::current_periods;
use motcua_queries::{WorkCalendar, now_local};
use motcua_testkit::{Process, Scratch, free_port};
use serde_json::Value;

use crate::dashboard::{fetch, state_over};
use crate::live::{
    exporter_binary, http_get, instant_query, prometheus_installed, repo_root, start_prometheus,
    wait_exporter_up, wait_until,
};

/// The `period` label values of the exporter, in `current_periods` order.
const PERIODS: [&str; 3] = ["month", "quarter", "year"];
/// Attempts at an agreeing comparison (see the module comment).
const ATTEMPTS: usize = 4;
const TOLERANCE: f64 = 1e-9;

/// A scope: an agency code, or None for the province.
type Scope = Option<String>;

/// One period's figures, from either side, keyed so that they compare.
#[derive(Debug, Default)]
struct Figures {
    /// (scope, indicator) → points, applicable indicators only.
    points: BTreeMap<(Scope, String), f64>,
    /// scope → (points, max, score).
    totals: BTreeMap<Scope, (f64, f64, f64)>,
    /// (agency, indicator) → (numerator, denominator).
    ratios: BTreeMap<(String, String), (f64, f64)>,
}

#[test]
fn service_index_rules_and_exporter_agree_with_the_dashboard() {
    if !prometheus_installed() {
        return;
    }
    let exporter_bin = exporter_binary();
    let scratch = Scratch::new("motcua-service-index");
    let dir = scratch.path();

    // The exporter generates its demo (activity up to yesterday) in
    // data_dir; the dashboard then reads that very file. Both use the
    // shipped calendar, period convention and indicator table.
    let data_dir = dir.join("data");
    let exporter_port = free_port();
    fs::write(
        dir.join("exporter.toml"),
        format!(
            "data_dir = {}\ndemo_dossiers = 20000\nrefresh_interval = \"1s\"\n",
            serde_json::to_string(&data_dir.to_string_lossy()).unwrap()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(&exporter_bin);
    cmd.arg("--demo")
        .arg("--config")
        .arg(dir.join("exporter.toml"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{exporter_port}"))
        .current_dir(dir)
        .env_remove("MOTCUA_DATABASE_URL")
        .env_remove("MOTCUA_CONFIG")
        .env_remove("MOTCUA_SERVICE_INDEX")
        .env_remove("MOTCUA_CALENDAR");
    let mut exporter = Process::spawn("motcua-exporter", cmd);
    wait_exporter_up(&mut exporter, exporter_port, 300);

    // Prometheus with the service index rules only: they are one group.
    let rules = repo_root().join("grafana/prometheus/rules/motcua-service-index-recording.yml");
    let prom_port = free_port();
    let mut prometheus = start_prometheus(
        dir,
        prom_port,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{}]\n\
             scrape_configs:\n  - job_name: motcua\n    static_configs:\n      - targets: [\"127.0.0.1:{exporter_port}\"]\n",
            serde_json::to_string(&rules.to_string_lossy()).unwrap()
        ),
    );
    wait_until("the province's score for the three periods", 120, || {
        prometheus.assert_alive();
        exporter.assert_alive();
        let n = instant_query(prom_port, "province:motcua_service_index_score:percent")?.len();
        if n == PERIODS.len() {
            Ok(())
        } else {
            Err(format!("{n} periods so far"))
        }
    });

    let demo_url =
        motcua_queries::demo::sqlite_read_only_url(&data_dir.join(motcua_queries::demo::DEMO_FILE));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // The reader's pool starts its tasks on the runtime it is opened in.
    let _in_runtime = runtime.enter();
    let state = state_over(&demo_url);
    assert!(
        state.fixed_now.is_none(),
        "the dashboard must use the real clock"
    );

    let mut differences = Vec::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            eprintln!(
                "attempt {attempt}: the last one differed ({} differences, e.g. {})",
                differences.len(),
                differences[0]
            );
            std::thread::sleep(Duration::from_secs(2));
        }
        let rules = PERIODS.map(|p| from_rules(prom_port, p));
        let exporter_ratios = from_exporter(exporter_port);
        let (names, dashboard) = runtime.block_on(from_dashboard(&state));
        differences = Vec::new();
        for (k, period) in PERIODS.iter().enumerate() {
            let what = format!("{period} ({})", names[k]);
            compare(
                &format!("{what} points, rules vs dashboard"),
                &rules[k].points,
                &dashboard[k].points,
                &mut differences,
            );
            compare(
                &format!("{what} totals, rules vs dashboard"),
                &rules[k].totals,
                &dashboard[k].totals,
                &mut differences,
            );
            compare(
                &format!("{what} numerators/denominators, exporter vs dashboard"),
                &exporter_ratios[k],
                &dashboard[k].ratios,
                &mut differences,
            );
        }
        if differences.is_empty() {
            report(&names, &dashboard);
            prometheus.assert_alive();
            return;
        }
    }
    panic!(
        "{} differences after {ATTEMPTS} attempts:\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
}

/// Prints the figures the test agreed on, for the record.
fn report(names: &[String; 3], dashboard: &[Figures; 3]) {
    for (k, period) in PERIODS.iter().enumerate() {
        let (points, max, score) = dashboard[k].totals[&None];
        let mut agencies: Vec<(&Scope, f64)> = dashboard[k]
            .totals
            .iter()
            .filter(|(scope, _)| scope.is_some())
            .map(|(scope, t)| (scope, t.2))
            .collect();
        agencies.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = agencies
            .iter()
            .take(3)
            .map(|(a, s)| format!("{} {s:.2}", a.as_deref().unwrap_or("?")))
            .collect();
        eprintln!(
            "{period} {}: province {points:.4} of {max} points, score {score:.4}; {} agencies, top {}; \
             {} indicator points and {} numerator/denominator pairs agree",
            names[k],
            agencies.len(),
            top.join(", "),
            dashboard[k].points.len(),
            dashboard[k].ratios.len()
        );
    }
}

/// Records every key missing on one side and every value further apart
/// than [`TOLERANCE`].
fn compare<K: Ord + std::fmt::Debug, V: Close + std::fmt::Debug>(
    what: &str,
    left: &BTreeMap<K, V>,
    right: &BTreeMap<K, V>,
    out: &mut Vec<String>,
) {
    for (k, l) in left {
        match right.get(k) {
            None => out.push(format!("{what}: {k:?} = {l:?} only on the left")),
            Some(r) if !l.close(r) => out.push(format!("{what}: {k:?}: {l:?} vs {r:?}")),
            Some(_) => {}
        }
    }
    for (k, r) in right {
        if !left.contains_key(k) {
            out.push(format!("{what}: {k:?} = {r:?} only on the right"));
        }
    }
    if left.is_empty() {
        out.push(format!("{what}: nothing to compare"));
    }
}

trait Close {
    fn close(&self, other: &Self) -> bool;
}

impl Close for f64 {
    fn close(&self, other: &f64) -> bool {
        (self - other).abs() <= TOLERANCE
    }
}

impl Close for (f64, f64) {
    fn close(&self, o: &Self) -> bool {
        self.0.close(&o.0) && self.1.close(&o.1)
    }
}

impl Close for (f64, f64, f64) {
    fn close(&self, o: &Self) -> bool {
        self.0.close(&o.0) && self.1.close(&o.1) && self.2.close(&o.2)
    }
}

/// The recording rules' figures for one period.
fn from_rules(port: u16, period: &str) -> Figures {
    let query = |record: &str| -> Vec<(Scope, Option<String>, f64)> {
        instant_query(port, &format!("{record}{{period=\"{period}\"}}"))
            .unwrap_or_else(|e| panic!("{record}: {e}"))
            .iter()
            .map(|s| {
                let label = |name: &str| s["metric"][name].as_str().map(str::to_owned);
                let value = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("{record}: no value in {s}"));
                (label("agency"), label("indicator"), value)
            })
            .collect()
    };
    let mut figures = Figures::default();
    for scope in ["agency", "province"] {
        for (agency, indicator, points) in query(&format!(
            "{scope}_indicator:motcua_service_index_points:estimate"
        )) {
            let indicator = indicator.expect("an indicator label");
            figures.points.insert((agency, indicator), points);
        }
        let totals = [
            format!("{scope}:motcua_service_index_points:sum"),
            format!("{scope}:motcua_service_index_max_points:sum"),
            format!("{scope}:motcua_service_index_score:percent"),
        ]
        .map(|record| {
            query(&record)
                .into_iter()
                .map(|(agency, _, v)| (agency, v))
                .collect::<BTreeMap<_, _>>()
        });
        for (agency, points) in &totals[0] {
            let max = totals[1].get(agency).copied().unwrap_or(f64::NAN);
            let score = totals[2].get(agency).copied().unwrap_or(f64::NAN);
            figures.totals.insert(agency.clone(), (*points, max, score));
        }
    }
    figures
}

/// The exporter's numerators and denominators, scraped, by period.
fn from_exporter(port: u16) -> [BTreeMap<(String, String), (f64, f64)>; 3] {
    let (status, body) = http_get(port, "/metrics").expect("exporter /metrics");
    assert_eq!(status, 200, "{body}");
    let mut out: [BTreeMap<(String, String), (f64, f64)>; 3] = Default::default();
    for line in body.lines() {
        let (is_numerator, rest) =
            if let Some(r) = line.strip_prefix("motcua_service_index_numerator{") {
                (true, r)
            } else if let Some(r) = line.strip_prefix("motcua_service_index_denominator{") {
                (false, r)
            } else {
                continue;
            };
        let (labels, value) = rest.rsplit_once("} ").expect("labels then a value");
        let value: f64 = value.trim().parse().expect("a number");
        // Label values here are codes and ids, without quotes or commas.
        let labels: BTreeMap<&str, &str> = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        let k = PERIODS
            .iter()
            .position(|p| *p == labels["period"])
            .expect("a known period");
        let entry = out[k]
            .entry((labels["agency"].to_owned(), labels["indicator"].to_owned()))
            .or_insert((f64::NAN, f64::NAN));
        if is_numerator {
            entry.0 = value;
        } else {
            entry.1 = value;
        }
    }
    out
}

/// The dashboard's JSON for the current month, quarter and year (as of
/// the real clock, in the calendar's time zone), with the period names.
async fn from_dashboard(state: &AppState) -> ([String; 3], [Figures; 3]) {
    let zone = WorkCalendar::builtin().timezone();
    let names = current_periods(now_local(zone), PeriodConvention::default())
        .map(|(name, _, _)| name.to_string());
    let app = motcua_dashboard::router(state.clone());
    let mut figures: [Figures; 3] = Default::default();
    for (k, name) in names.iter().enumerate() {
        let uri = format!("/index/{name}?format=json");
        let (status, body) = fetch(&app, &uri).await;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{uri}: {text}");
        let index: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{uri}: {e}"));
        let number = |v: &Value| v.as_f64();
        for row in index["rows"].as_array().expect("rows") {
            let scope: Scope = row["agency"].as_str().map(str::to_owned);
            let points = number(&row["points"]).expect("points");
            let max = number(&row["max"]).expect("max");
            // The rules have no score where nothing applies (max 0).
            if let Some(score) = number(&row["score"]) {
                figures[k]
                    .totals
                    .insert(scope.clone(), (points, max, score));
            }
            for i in row["indicators"].as_array().expect("indicators") {
                let indicator = i["indicator"].as_str().expect("indicator").to_owned();
                if let Some(p) = number(&i["points"]) {
                    figures[k]
                        .points
                        .insert((scope.clone(), indicator.clone()), p);
                }
                if let (Some(agency), Some(n), Some(d)) =
                    (&scope, number(&i["numerator"]), number(&i["denominator"]))
                {
                    figures[k]
                        .ratios
                        .insert((agency.clone(), indicator), (n, d));
                }
            }
        }
    }
    (names, figures)
}
