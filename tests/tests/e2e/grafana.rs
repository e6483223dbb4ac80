//! Checks of everything under `grafana/`: the dashboards' structure and
//! PromQL hygiene, the Prometheus rules (`promtool check rules`), their unit
//! tests (`promtool test rules`) and the example configurations.
//!
//! The promtool checks need the `promtool` binary (Debian package
//! `prometheus`). Without it they fail when `CI=true` and are skipped,
//! saying why, everywhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use motcua_testkit::{Process, Scratch, free_port};
use serde_json::Value;

use crate::live::{
    exporter_binary, http_get, instant_query, prom_api, prometheus_installed, repo_root,
    start_prometheus, url_encode, wait_exporter_up, wait_until,
};
use crate::support::in_ci;

/// Base metric names of DESIGN §4, §8 and §9 with their type.
const DESIGN_METRICS: &[(&str, Kind)] = &[
    ("motcua_dossiers_received_total", Kind::Counter),
    ("motcua_dossiers_resolved_total", Kind::Counter),
    ("motcua_dossiers_cancelled_total", Kind::Counter),
    ("motcua_dossiers_pending", Kind::Gauge),
    ("motcua_dossier_processing_workdays", Kind::Histogram),
    ("motcua_dossier_deadline_usage_ratio", Kind::Histogram),
    ("motcua_dossier_overdue_max_workdays", Kind::Gauge),
    ("motcua_evaluations_total", Kind::Counter),
    ("motcua_dossiers_late_without_apology", Kind::Gauge),
    ("motcua_dossiers_digitized_total", Kind::Counter),
    ("motcua_report_dossiers", Kind::Gauge),
    ("motcua_agency_info", Kind::Gauge),
    ("motcua_sector_info", Kind::Gauge),
    ("motcua_up", Kind::Gauge),
    ("motcua_last_refresh_success_timestamp_seconds", Kind::Gauge),
    ("motcua_refresh_duration_seconds", Kind::Gauge),
    ("motcua_refresh_failures_total", Kind::Counter),
    ("motcua_source_rows_rejected", Kind::Gauge),
    ("motcua_exporter_build_info", Kind::Gauge),
    ("motcua_config_last_reload_successful", Kind::Gauge),
    // §8: the service index estimate.
    ("motcua_service_index_numerator", Kind::Gauge),
    ("motcua_service_index_denominator", Kind::Gauge),
    ("motcua_service_index_max_points", Kind::Gauge),
    ("motcua_service_index_target_ratio", Kind::Gauge),
    ("motcua_service_index_declared_points", Kind::Gauge),
    // §9: the worklist's early warning.
    ("motcua_dossiers_due_soon", Kind::Gauge),
];

/// Families an exporter may rightly not serve: no indicator declared in its
/// service index file, or (until the exporter serves them) the §8/§9
/// families. The live test lets rules and panels that depend on an unserved
/// one return nothing, and says so; once served, they must return data.
const OPTIONAL_FAMILIES: &[&str] = &[
    "motcua_service_index_numerator",
    "motcua_service_index_denominator",
    "motcua_service_index_max_points",
    "motcua_service_index_target_ratio",
    "motcua_service_index_declared_points",
    "motcua_dossiers_due_soon",
];

/// Annotations every alert must carry.
const ALERT_ANNOTATIONS: &[&str] = &[
    "summary_vi",
    "summary",
    "description_vi",
    "description",
    "runbook_url",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// What a series name used in an expression refers to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Series {
    /// A counter, or a histogram's _bucket/_sum/_count series.
    Cumulative,
    Gauge,
}

fn classify(name: &str) -> Option<Series> {
    for (base, kind) in DESIGN_METRICS {
        match kind {
            Kind::Counter if name == *base => return Some(Series::Cumulative),
            Kind::Gauge if name == *base => return Some(Series::Gauge),
            Kind::Histogram => {
                if let Some("_bucket" | "_sum" | "_count") = name.strip_prefix(base) {
                    return Some(Series::Cumulative);
                }
            }
            _ => {}
        }
    }
    None
}

fn grafana_dir() -> PathBuf {
    repo_root().join("grafana")
}

/// Files directly inside `dir` whose name ends with one of `exts`, sorted.
fn files_in(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| exts.iter().any(|ext| n.ends_with(ext)))
        })
        .collect();
    out.sort();
    out
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn dashboards() -> Vec<(PathBuf, Value)> {
    let files = files_in(&grafana_dir().join("dashboards"), &[".json"]);
    assert!(
        files.len() >= 3,
        "expected the three dashboards in grafana/dashboards, found {files:?}"
    );
    files
        .into_iter()
        .map(|p| {
            let v: Value = serde_json::from_str(&read(&p))
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", p.display()));
            (p, v)
        })
        .collect()
}

fn rule_files() -> Vec<PathBuf> {
    let files = files_in(&grafana_dir().join("prometheus/rules"), &[".yml", ".yaml"]);
    assert!(
        !files.is_empty(),
        "no rule files in grafana/prometheus/rules"
    );
    files
}

fn rule_test_files() -> Vec<PathBuf> {
    let files = files_in(&grafana_dir().join("prometheus/tests"), &[".yml", ".yaml"]);
    assert!(
        !files.is_empty(),
        "no promtool tests in grafana/prometheus/tests"
    );
    files
}

/// The value of a `key: value` YAML line (after trimming and an optional
/// leading "- "), without surrounding quotes.
fn yaml_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let line = line.trim();
    let line = line.strip_prefix("- ").unwrap_or(line);
    let rest = line.strip_prefix(key)?.strip_prefix(':')?;
    Some(rest.trim().trim_matches(|c| c == '\'' || c == '"'))
}

/// Names of all recording rules defined in grafana/prometheus/rules.
fn recording_rules() -> BTreeSet<String> {
    rule_files()
        .iter()
        .flat_map(|p| {
            read(p)
                .lines()
                .filter_map(|l| yaml_value(l, "record").map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One alerting rule: its name and the `key:` lines of its block.
struct AlertRule {
    file: PathBuf,
    name: String,
    block: Vec<String>,
}

fn alert_rules() -> Vec<AlertRule> {
    let mut out: Vec<AlertRule> = Vec::new();
    for file in rule_files() {
        let mut current: Option<AlertRule> = None;
        for line in read(&file).lines() {
            let starts_rule = line.trim_start().starts_with("- alert:")
                || line.trim_start().starts_with("- record:")
                || line.trim_start().starts_with("- name:");
            if starts_rule {
                out.extend(current.take());
            }
            if let Some(name) = yaml_value(line, "alert") {
                current = Some(AlertRule {
                    file: file.clone(),
                    name: name.to_owned(),
                    block: Vec::new(),
                });
            } else if let Some(rule) = current.as_mut() {
                rule.block.push(line.trim().to_owned());
            }
        }
        out.extend(current.take());
    }
    out
}

/// Recording rules in file order: name and the text of its block.
fn recording_rule_blocks() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for file in rule_files() {
        let mut current: Option<(String, String)> = None;
        for line in read(&file).lines() {
            let t = line.trim_start();
            if t.starts_with("- record:") || t.starts_with("- alert:") || t.starts_with("- name:") {
                out.extend(current.take());
            }
            if let Some(name) = yaml_value(line, "record") {
                current = Some((name.to_owned(), String::new()));
            } else if let Some((_, block)) = current.as_mut()
                && !t.starts_with('#')
            {
                block.push_str(line);
                block.push('\n');
            }
        }
        out.extend(current.take());
    }
    out
}

/// Whether `expr` reads any of the series `names`.
fn reads_any(expr: &str, names: &BTreeSet<String>) -> bool {
    identifiers(&blank_strings(expr))
        .iter()
        .any(|(_, id)| names.contains(id))
}

/// The optional families absent from an exporter's /metrics body, and the
/// recording rules that read them, directly or through other rules.
fn unserved_and_dependents(metrics: &str) -> BTreeSet<String> {
    let served = |family: &str| {
        metrics.lines().any(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
    };
    let mut names: BTreeSet<String> = OPTIONAL_FAMILIES
        .iter()
        .filter(|f| !served(f))
        .map(|f| f.to_string())
        .collect();
    for (record, block) in recording_rule_blocks() {
        if reads_any(&block, &names) {
            names.insert(record);
        }
    }
    names
}

// ---------------------------------------------------------------------------
// A small PromQL scanner: enough to find series names and range selectors.

/// The expression with the contents of string literals blanked out (quotes
/// kept), so that label values never look like names or brackets.
fn blank_strings(expr: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(expr.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                    out.push(' ');
                } else if c == '\\' && q != '`' {
                    escaped = true;
                    out.push(' ');
                } else if c == q {
                    quote = None;
                    out.push(c);
                } else {
                    out.push(' ');
                }
            }
            None => {
                if matches!(c, '"' | '\'' | '`') {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Identifiers of an expression with their char offsets, skipping Grafana
/// variables (`$x`, `${x}`), numbers and durations, and everything inside
/// `[...]` (range and subquery windows).
fn identifiers(chars: &[char]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            i += 1;
            if chars.get(i) == Some(&'{') {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
            } else {
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
            }
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push((start, chars[start..i].iter().collect()));
        } else {
            i += 1;
        }
    }
    out
}

/// The function whose argument list directly encloses position `start`
/// (only whitespace between its "(" and `start`), if any.
fn enclosing_call(chars: &[char], start: usize) -> Option<String> {
    let mut i = start;
    while i > 0 && chars[i - 1].is_whitespace() {
        i -= 1;
    }
    if i == 0 || chars[i - 1] != '(' {
        return None;
    }
    let end = i - 1;
    let mut s = end;
    while s > 0 && is_ident_char(chars[s - 1]) {
        s -= 1;
    }
    Some(chars[s..end].iter().collect())
}

/// The range window following a selector that ends at `end` (optional
/// `{...}` matchers, then `[window]`), if any.
fn range_after(chars: &[char], mut i: usize) -> Option<String> {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    if chars.get(i) == Some(&'{') {
        while i < chars.len() && chars[i] != '}' {
            i += 1;
        }
        i += 1;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
    }
    if chars.get(i) != Some(&'[') {
        return None;
    }
    let close = chars[i..].iter().position(|&c| c == ']')? + i;
    Some(
        chars[i + 1..close]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned(),
    )
}

/// Problems with one expression: unknown motcua names, unknown recording
/// rules, counters outside rate()/increase(), rate() windows other than
/// $__rate_interval.
fn check_expr(expr: &str, records: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let chars = blank_strings(expr);
    for (start, name) in identifiers(&chars) {
        if name.contains(':') {
            if !records.contains(&name) {
                problems.push(format!(
                    "`{name}` is not a recording rule of grafana/prometheus/rules"
                ));
            }
            continue;
        }
        if !name.starts_with("motcua_") {
            continue;
        }
        match classify(&name) {
            None => problems.push(format!("`{name}` is not a metric of DESIGN §4")),
            Some(Series::Gauge) => {}
            Some(Series::Cumulative) => {
                let call = enclosing_call(&chars, start);
                let window = range_after(&chars, start + name.chars().count());
                match call.as_deref() {
                    Some("rate") => {
                        if window.as_deref() != Some("$__rate_interval") {
                            problems.push(format!(
                                "rate({name}[...]) must use [$__rate_interval], not {window:?}"
                            ));
                        }
                    }
                    Some("increase") => {
                        if window.is_none() {
                            problems.push(format!("increase({name}) needs a range"));
                        }
                    }
                    other => problems.push(format!(
                        "counter `{name}` must be wrapped directly in rate( or increase(, found {other:?}"
                    )),
                }
            }
        }
    }
    // Every rate( call, whatever it applies to, uses $__rate_interval.
    for (start, name) in identifiers(&chars) {
        if name != "rate" {
            continue;
        }
        let open = start + name.len();
        if chars.get(open) != Some(&'(') {
            continue;
        }
        let rest: String = chars[open..].iter().collect();
        let window = rest.find('[').and_then(|a| {
            rest[a + 1..]
                .find(']')
                .map(|b| rest[a + 1..a + 1 + b].trim().to_owned())
        });
        if window.as_deref() != Some("$__rate_interval") {
            problems.push(format!(
                "rate() window must be $__rate_interval, found {window:?}"
            ));
        }
    }
    problems
}

/// All panels of a dashboard, rows and the panels nested in collapsed rows
/// included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels array") {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested.iter());
        }
    }
    out
}

/// Every PromQL expression of a dashboard: panel targets and query
/// variables, with a label saying where it comes from.
fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in all_panels(dashboard) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((
                    format!("panel {} ({}) target {}", p["id"], p["title"], t["refId"]),
                    e.to_owned(),
                ));
            }
        }
    }
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] == "query" {
            let q = v["query"]["query"]
                .as_str()
                .or(v["query"].as_str())
                .or(v["definition"].as_str())
                .unwrap_or_default();
            // label_values(selector, label) → selector
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.rsplit_once(','))
                .map(|(sel, _)| sel.to_owned())
                .unwrap_or_else(|| q.to_owned());
            out.push((format!("variable {}", v["name"]), inner));
        }
    }
    out
}

fn non_empty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

#[test]
fn grafana_dashboards_are_well_formed() {
    let mut problems = Vec::new();
    let mut uids = BTreeMap::new();
    for (path, d) in dashboards() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = read(&path);
        let mut bad = |m: String| problems.push(format!("{file}: {m}"));

        for key in ["uid", "title", "description"] {
            if !non_empty_str(&d[key]) {
                bad(format!("dashboard has no {key}"));
            }
        }
        if let Some(uid) = d["uid"].as_str() {
            if uid.len() > 40 {
                bad(format!("uid {uid} is longer than 40 characters"));
            }
            if let Some(other) = uids.insert(uid.to_owned(), file.clone()) {
                bad(format!("uid {uid} is also used by {other}"));
            }
        }
        if text.contains("${DS_") || d.get("__inputs").is_some() {
            bad("uses ${DS_...} import inputs, which provisioning never fills".into());
        }

        // Exactly one datasource variable, of type datasource, for Prometheus.
        let vars = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ds_vars: Vec<&Value> = vars.iter().filter(|v| v["type"] == "datasource").collect();
        if ds_vars.len() != 1
            || ds_vars[0]["name"] != "datasource"
            || ds_vars[0]["query"] != "prometheus"
        {
            bad(format!(
                "needs exactly one variable `datasource` of type datasource with query prometheus, found {ds_vars:?}"
            ));
        }
        for v in vars.iter().filter(|v| v["type"] == "query") {
            if v["datasource"]["uid"] != "${datasource}" {
                bad(format!(
                    "variable {} does not use ${{datasource}}",
                    v["name"]
                ));
            }
        }

        let mut ids = BTreeSet::new();
        let mut boxes: Vec<(i64, i64, i64, i64, String)> = Vec::new();
        for p in all_panels(&d) {
            let title = p["title"].as_str().unwrap_or("?").to_owned();
            match p["id"].as_i64() {
                Some(id) => {
                    if !ids.insert(id) {
                        bad(format!("panel id {id} ({title}) is not unique"));
                    }
                }
                None => bad(format!("panel {title} has no numeric id")),
            }
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_i64().unwrap_or(-1),
                g["y"].as_i64().unwrap_or(-1),
                g["w"].as_i64().unwrap_or(0),
                g["h"].as_i64().unwrap_or(0),
            );
            if x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > 24 {
                bad(format!("panel {title} has a bad gridPos {g}"));
            }
            for (bx, by, bw, bh, other) in &boxes {
                if x < bx + bw && *bx < x + w && y < by + bh && *by < y + h {
                    bad(format!("panel {title} overlaps panel {other}"));
                }
            }
            boxes.push((x, y, w, h, title.clone()));

            if p["type"] == "row" {
                if !non_empty_str(&p["title"]) {
                    bad("a row has no title".into());
                }
                continue;
            }
            if !non_empty_str(&p["title"]) {
                bad(format!("panel {} has no title", p["id"]));
            }
            if !non_empty_str(&p["description"]) {
                bad(format!("panel {title} has no description"));
            }
            if !non_empty_str(&p["fieldConfig"]["defaults"]["unit"]) {
                bad(format!(
                    "panel {title} has no unit (fieldConfig.defaults.unit)"
                ));
            }
            if p["datasource"]["type"] != "prometheus" || p["datasource"]["uid"] != "${datasource}"
            {
                bad(format!(
                    "panel {title} does not use the ${{datasource}} variable"
                ));
            }
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                bad(format!("panel {title} has no query"));
            }
            for t in &targets {
                if !non_empty_str(&t["expr"]) {
                    bad(format!("panel {title} target {} has no expr", t["refId"]));
                }
                if !t["datasource"].is_null() && t["datasource"]["uid"] != "${datasource}" {
                    bad(format!(
                        "panel {title} target {} has another datasource",
                        t["refId"]
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard problems:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn grafana_dashboard_queries_use_design_metrics_and_rate_counters() {
    let records = recording_rules();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (path, d) in dashboards() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for (place, expr) in expressions(&d) {
            for id in identifiers(&blank_strings(&expr)) {
                seen.insert(id.1);
            }
            for p in check_expr(&expr, &records) {
                problems.push(format!("{file} {place}: {p}\n      {expr}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "query problems:\n  {}",
        problems.join("\n  ")
    );
    // The checker itself must see what it is meant to check.
    for name in [
        "motcua_dossiers_resolved_total",
        "motcua_dossier_processing_workdays_bucket",
        "motcua_agency_info",
        "motcua_report_dossiers",
    ] {
        assert!(seen.contains(name), "no dashboard query uses {name}");
    }
}

#[test]
fn grafana_query_checker_catches_mistakes() {
    let records: BTreeSet<String> = ["agency:motcua_x:ratio".to_owned()].into();
    let ok = |e: &str| assert_eq!(check_expr(e, &records), Vec::<String>::new(), "{e}");
    let bad = |e: &str| {
        assert!(
            !check_expr(e, &records).is_empty(),
            "should be rejected: {e}"
        )
    };
    ok(
        r#"sum by (agency) (rate(motcua_dossiers_received_total{channel="online"}[$__rate_interval]))"#,
    );
    ok(
        "histogram_quantile(0.9, sum by (le) (increase(motcua_dossier_processing_workdays_bucket[$__range])))",
    );
    ok(
        r#"motcua_dossiers_pending{state="motcua_bogus_total"} * on (agency) group_left (name) motcua_agency_info"#,
    );
    ok("agency:motcua_x:ratio{agency=~\"$agency\"}");
    bad("sum(motcua_dossiers_received_total)");
    bad("rate(motcua_dossiers_received_total[5m])");
    bad("irate(motcua_dossiers_received_total[$__rate_interval])");
    bad("motcua_dossier_processing_workdays_count / 2");
    bad("motcua_dossiers_open");
    bad("agency:motcua_unknown:ratio");
    bad("rate(agency:motcua_x:ratio[1h])");
}

#[test]
fn grafana_rules_use_design_metrics_and_known_records() {
    let records = recording_rules();
    let mut problems = Vec::new();
    for file in rule_files() {
        // YAML quotes are not PromQL quotes: scan the raw text, so that
        // the queries inside alert annotation templates are checked too.
        // Comment lines are prose.
        let text: Vec<char> = read(&file)
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.chars().chain(['\n']))
            .collect();
        for (at, name) in identifiers(&text) {
            // YAML keys like `record:` end with a colon; recording rule
            // names look like level:metric:operation. A name after a dot is
            // a template field (`$externalLabels.motcua_dashboard_url`).
            if name.ends_with(':') || (at > 0 && text[at - 1] == '.') {
                continue;
            }
            if name.matches(':').count() == 2 && !records.contains(&name) {
                problems.push(format!("{}: unknown recording rule {name}", file.display()));
            }
            if name.starts_with("motcua_") && classify(&name).is_none() {
                problems.push(format!(
                    "{}: `{name}` is not a metric of DESIGN §4",
                    file.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "rule problems:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn grafana_alerts_have_annotations_runbooks_and_tests() {
    let root = repo_root();
    let alerts = alert_rules();
    assert!(
        alerts.len() >= 10,
        "expected the alerts of issue 3, found {}",
        alerts.len()
    );
    let tests: String = rule_test_files().iter().map(|p| read(p)).collect();
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for a in &alerts {
        let mut bad = |m: String| problems.push(format!("{} {}: {m}", a.file.display(), a.name));
        if !names.insert(a.name.clone()) {
            bad("defined twice".into());
        }
        for key in ALERT_ANNOTATIONS {
            if !a
                .block
                .iter()
                .any(|l| yaml_value(l, key).is_some_and(|v| !v.is_empty()))
            {
                bad(format!("has no {key} annotation"));
            }
        }
        // Dossier alerts link to the dashboard's worklist of the agency (§9).
        if a.name.starts_with("MotcuaDossiers") {
            let link = a.block.iter().find_map(|l| yaml_value(l, "worklist_url"));
            let state = link
                .and_then(|l| {
                    l.split_once("/dossiers?agency={{ $labels.agency | urlquery }}&state=")
                })
                .map(|(_, state)| state);
            if !matches!(state, Some("overdue" | "due_soon")) {
                bad(format!(
                    "needs worklist_url …/dossiers?agency={{{{ $labels.agency | urlquery }}}}&state=overdue|due_soon, found {link:?}"
                ));
            }
        }
        let severity = a.block.iter().find_map(|l| yaml_value(l, "severity"));
        if !matches!(severity, Some("page" | "ticket")) {
            bad(format!(
                "severity must be page or ticket, found {severity:?}"
            ));
        }
        let runbook = format!("grafana/runbooks/{}.md", a.name);
        match a.block.iter().find_map(|l| yaml_value(l, "runbook_url")) {
            Some(url) if url.ends_with(&runbook) => {
                if !root.join(&runbook).is_file() {
                    bad(format!("runbook {runbook} does not exist"));
                }
            }
            other => bad(format!(
                "runbook_url should point at {runbook}, found {other:?}"
            )),
        }
        let tested = tests
            .lines()
            .filter(|l| yaml_value(l, "alertname") == Some(a.name.as_str()))
            .count();
        if tested < 2 {
            bad(format!(
                "needs promtool tests where it fires and where it stays silent, found {tested} cases"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "alert problems:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// promtool

/// Runs a tool with `args` in `dir`. Returns None (skipping) when the tool
/// is not installed outside CI; panics when it is missing under CI or fails.
fn run_tool(tool: &str, package: &str, dir: &Path, args: &[String]) -> Option<String> {
    let out = match Command::new(tool).args(args).current_dir(dir).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if in_ci() {
                panic!("{tool} is required with CI=true (Debian package `{package}`)");
            }
            eprintln!("SKIPPED: {tool} is not installed (Debian package `{package}`)");
            return None;
        }
        Err(e) => panic!("cannot run {tool}: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "`{tool} {}` failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    Some(text)
}

fn relative_to(base: &Path, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|p| {
            p.strip_prefix(base)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn grafana_promtool_check_rules() {
    let dir = grafana_dir().join("prometheus");
    let mut args = vec!["check".to_owned(), "rules".to_owned()];
    args.extend(relative_to(&dir, &rule_files()));
    if let Some(out) = run_tool("promtool", "prometheus", &dir, &args) {
        assert!(out.contains("SUCCESS"), "{out}");
    }
    // The example configuration loads the same rule files.
    let args = ["check", "config", "prometheus.yml"].map(str::to_owned);
    run_tool("promtool", "prometheus", &dir, &args);
}

#[test]
fn grafana_promtool_test_rules() {
    let dir = grafana_dir().join("prometheus");
    let mut args = vec!["test".to_owned(), "rules".to_owned()];
    args.extend(relative_to(&dir, &rule_test_files()));
    if let Some(out) = run_tool("promtool", "prometheus", &dir, &args) {
        assert!(!out.contains("FAILED"), "{out}");
    }
}

/// Every dashboard query, with its Grafana variables filled in, parses as
/// PromQL (checked by promtool as recording rules in a scratch file).
#[test]
fn grafana_promtool_parses_dashboard_queries() {
    let mut rules = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    let mut n = 0;
    for (_, d) in dashboards() {
        for (_, expr) in expressions(&d) {
            let filled = expr
                .replace("$__rate_interval", "4m")
                .replace("$__range", "1h")
                .replace("$__interval", "1m")
                .replace("$agency", "SO_TP")
                .replace("$sector", ".*");
            assert!(!filled.contains('$'), "unfilled variable in {expr}");
            n += 1;
            rules.push_str(&format!(
                "      - record: dashboard:query:{n}\n        expr: {}\n",
                serde_json::to_string(&filled).unwrap()
            ));
        }
    }
    let dir = std::env::temp_dir().join(format!("motcua-grafana-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("dashboard-queries.yml"), rules).unwrap();
    let args = ["check", "rules", "dashboard-queries.yml"].map(str::to_owned);
    let out = run_tool("promtool", "prometheus", &dir, &args);
    let _ = fs::remove_dir_all(&dir);
    if let Some(out) = out {
        assert!(out.contains(&format!("SUCCESS: {n} rules found")), "{out}");
    }
}

/// The national deployment example (`grafana/examples/national`): both
/// Prometheus configurations load (the province one with the rule files),
/// and every `match[]` selector of the federation parses as PromQL
/// (checked by promtool as recording rules in a scratch file).
#[test]
fn grafana_promtool_check_national_examples() {
    let dir = grafana_dir().join("examples/national");
    for file in ["prometheus-province.yml", "prometheus-national.yml"] {
        let args = ["check", "config", file].map(str::to_owned);
        if let Some(out) = run_tool("promtool", "prometheus", &dir, &args) {
            assert!(out.contains(&format!("SUCCESS: {file} is valid")), "{out}");
        }
    }
    let national = read(&dir.join("prometheus-national.yml"));
    let selectors: Vec<String> = national
        .lines()
        .skip_while(|l| l.trim() != "match[]:")
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map_while(|l| l.strip_prefix("- "))
        .map(|s| s.trim_matches('\'').replace("''", "'"))
        .collect();
    assert!(
        selectors.len() >= 3,
        "match[] selectors of prometheus-national.yml: {selectors:?}"
    );
    let mut rules = String::from("groups:\n  - name: federation-selectors\n    rules:\n");
    for (n, selector) in selectors.iter().enumerate() {
        assert!(
            selector.contains("motcua"),
            "federates more than motcua: {selector}"
        );
        rules.push_str(&format!(
            "      - record: federation:selector:{n}\n        expr: {}\n",
            serde_json::to_string(selector).unwrap()
        ));
    }
    let scratch =
        std::env::temp_dir().join(format!("motcua-grafana-national-{}", std::process::id()));
    fs::create_dir_all(&scratch).unwrap();
    fs::write(scratch.join("selectors.yml"), rules).unwrap();
    let args = ["check", "rules", "selectors.yml"].map(str::to_owned);
    let out = run_tool("promtool", "prometheus", &scratch, &args);
    let _ = fs::remove_dir_all(&scratch);
    if let Some(out) = out {
        assert!(
            out.contains(&format!("SUCCESS: {} rules found", selectors.len())),
            "{out}"
        );
    }
}

/// amtool is optional (Debian package `prometheus-alertmanager`): the
/// example Alertmanager configuration is checked where it is installed.
#[test]
fn grafana_amtool_check_config() {
    let dir = grafana_dir().join("prometheus");
    let out = Command::new("amtool")
        .args(["check-config", "alertmanager.yml"])
        .current_dir(&dir)
        .output();
    match out {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!(
                "SKIPPED: amtool is not installed (Debian package `prometheus-alertmanager`)"
            );
        }
        Err(e) => panic!("cannot run amtool: {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "amtool check-config failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

// ---------------------------------------------------------------------------
// A real Prometheus scraping a real exporter (helpers in crate::live)

/// The Grafana variables of one dashboard filled with real values: each
/// `label_values(selector, label)` query is asked of Prometheus (after
/// filling the variables before it) and its first value is taken.
fn fill_variables(port: u16, dashboard: &Value) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = Vec::new();
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] != "query" {
            continue;
        }
        let name = v["name"].as_str().expect("variable name").to_owned();
        let query = v["query"]["query"]
            .as_str()
            .or(v["definition"].as_str())
            .expect("variable query");
        let (selector, label) = query
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.rsplit_once(','))
            .unwrap_or_else(|| {
                panic!("variable {name}: only label_values(selector, label) is supported")
            });
        let selector = fill(selector.trim(), &values);
        let data = prom_api(
            port,
            &format!(
                "/api/v1/label/{}/values?match[]={}",
                label.trim(),
                url_encode(&selector)
            ),
        )
        .unwrap_or_else(|e| panic!("variable {name}: {e}"));
        let first = data
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("variable {name}: `{query}` has no values"))
            .to_owned();
        values.push((name, first));
    }
    values
}

fn fill(expr: &str, vars: &[(String, String)]) -> String {
    let mut e = expr
        .replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$__interval", "15s");
    // Longest names first, so that $agency never eats a prefix of another.
    let mut vars = vars.to_vec();
    vars.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    for (name, value) in vars {
        e = e
            .replace(&format!("${{{name}}}"), &value)
            .replace(&format!("${name}"), &value);
    }
    e
}

#[test]
fn grafana_live_prometheus_evaluates_every_query() {
    if !prometheus_installed() {
        return;
    }
    let exporter_bin = exporter_binary();

    let scratch = Scratch::new("motcua-grafana-live");
    let dir = scratch.path().to_owned();

    // The exporter over a small demo database.
    let exporter_port = free_port();
    fs::write(
        dir.join("exporter.toml"),
        format!(
            "data_dir = {}\ndemo_dossiers = 20000\n",
            serde_json::to_string(&dir.join("data").to_string_lossy()).unwrap()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(&exporter_bin);
    cmd.arg("--demo")
        .arg("--config")
        .arg(dir.join("exporter.toml"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{exporter_port}"))
        .current_dir(&dir)
        .env_remove("MOTCUA_DATABASE_URL")
        .env_remove("MOTCUA_CONFIG");
    let mut exporter = Process::spawn("motcua-exporter", cmd);
    wait_exporter_up(&mut exporter, exporter_port, 300);

    let (_, metrics) = http_get(exporter_port, "/metrics").expect("exporter /metrics");
    let excused = unserved_and_dependents(&metrics);
    if !excused.is_empty() {
        eprintln!(
            "NOTE: the exporter serves no {excused:?}: rules and panels reading them may be empty"
        );
    }

    // The example Alertmanager, to see the alerts as it receives them.
    let am_port = free_port();
    let _alertmanager = start_alertmanager(&dir, am_port);

    // Prometheus scraping it every second, with our rules, sending alerts to
    // the Alertmanager. The dossier alerts' `for:` is cut to 0s in a copy
    // so that they reach it during the test; their expressions are as shipped.
    let prom_port = free_port();
    let rules: Vec<String> = rule_files()
        .iter()
        .map(|p| {
            let p = if p.file_name().is_some_and(|n| n == "motcua-alerts.yml") {
                let copy = dir.join("motcua-alerts.yml");
                fs::write(&copy, without_for(&read(p))).unwrap();
                copy
            } else {
                p.clone()
            };
            serde_json::to_string(&p.to_string_lossy()).unwrap()
        })
        .collect();
    let mut prometheus = start_prometheus(
        &dir,
        prom_port,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             \x20 external_labels: {{motcua_dashboard_url: '{DASHBOARD_URL}/'}}\n\
             alerting:\n  alertmanagers: [{{static_configs: [{{targets: [\"127.0.0.1:{am_port}\"]}}]}}]\n\
             rule_files: [{}]\n\
             scrape_configs:\n  - job_name: motcua\n    static_configs:\n      - targets: [\"127.0.0.1:{exporter_port}\"]\n",
            rules.join(", ")
        ),
    );

    // A few scrapes, and every rule evaluated at least once with data.
    let records = recording_rules();
    wait_until("a few scrapes and every recording rule", 120, || {
        prometheus.assert_alive();
        exporter.assert_alive();
        let scrapes = instant_query(prom_port, r#"count_over_time(up{job="motcua"}[1m])"#)?;
        let n = scrapes
            .first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if n < 5.0 {
            return Err(format!("{n} scrapes so far"));
        }
        for r in records.difference(&excused) {
            if instant_query(prom_port, r)?.is_empty() {
                return Err(format!("recording rule {r} has no data yet"));
            }
        }
        Ok(())
    });
    let up = instant_query(prom_port, r#"up{job="motcua"}"#).unwrap();
    assert_eq!(
        up.first().map(|s| s["value"][1].clone()),
        Some(Value::from("1")),
        "{up:?}"
    );

    let mut problems = Vec::new();
    let mut evaluated = 0;

    // Every rule as loaded by Prometheus: healthy, and its query works.
    let groups = prom_api(prom_port, "/api/v1/rules").expect("rules API");
    let mut loaded = 0;
    for g in groups["groups"].as_array().into_iter().flatten() {
        for r in g["rules"].as_array().into_iter().flatten() {
            loaded += 1;
            let name = r["name"].as_str().unwrap_or("?");
            if r["health"] != "ok" {
                problems.push(format!(
                    "rule {name} is {}: {}",
                    r["health"], r["lastError"]
                ));
            }
            let query = r["query"].as_str().unwrap_or_default();
            evaluated += 1;
            match instant_query(prom_port, query) {
                Err(e) => problems.push(format!("rule {name}: {e}\n      {query}")),
                // An alert's condition may well be false; a recorded series
                // must exist.
                Ok(res)
                    if res.is_empty() && r["type"] == "recording" && !excused.contains(name) =>
                {
                    problems.push(format!(
                        "recording rule {name} returns no data\n      {query}"
                    ))
                }
                Ok(_) => {}
            }
        }
    }
    let defined = records.len() + alert_rules().len();
    assert_eq!(
        loaded, defined,
        "Prometheus loaded {loaded} rules, the files define {defined}"
    );

    // Every dashboard query, with its variables filled with real values.
    for (path, d) in dashboards() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let vars = fill_variables(prom_port, &d);
        for (place, expr) in expressions(&d) {
            if place.starts_with("variable") {
                continue;
            }
            let filled = fill(&expr, &vars);
            evaluated += 1;
            match instant_query(prom_port, &filled) {
                Err(e) => problems.push(format!("{file} {place}: {e}\n      {filled}")),
                Ok(res) if res.is_empty() && !reads_any(&filled, &excused) => problems.push(
                    format!("{file} {place}: no data (variables {vars:?})\n      {filled}"),
                ),
                Ok(_) => {}
            }
        }
    }
    prometheus.assert_alive();
    dossier_alerts_link_to_the_worklist(am_port);
    assert!(
        problems.is_empty(),
        "{} of {evaluated} queries failed:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
    eprintln!("{evaluated} rule and dashboard queries evaluated against a live Prometheus");
}

/// The dashboard's address the live test's Prometheus announces.
const DASHBOARD_URL: &str = "http://motcua-dashboard.example:9746";

/// A rule file with every `for:` at 0s.
fn without_for(text: &str) -> String {
    text.lines()
        .map(|l| match l.trim_start().strip_prefix("for:") {
            Some(_) => format!("{}for: 0s", &l[..l.len() - l.trim_start().len()]),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts the example Alertmanager (Debian package `prometheus-alertmanager`)
/// on `port`; its webhook receivers point nowhere, which it only logs.
fn start_alertmanager(dir: &Path, port: u16) -> Option<Process> {
    let bin = "prometheus-alertmanager";
    match Command::new(bin).arg("--version").output() {
        Ok(_) => {}
        Err(e) if in_ci() => panic!("{bin} is required with CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED (Alertmanager part): {bin}: {e}");
            return None;
        }
    }
    let mut cmd = Command::new(bin);
    cmd.arg(format!(
        "--config.file={}",
        grafana_dir().join("prometheus/alertmanager.yml").display()
    ))
    .arg(format!(
        "--storage.path={}",
        dir.join("alertmanager").display()
    ))
    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
    .arg("--cluster.listen-address=")
    .current_dir(dir);
    Some(Process::spawn("alertmanager", cmd))
}

/// Every dossier alert the Alertmanager holds links to the worklist of its
/// agency and state, under the dashboard URL Prometheus announces.
fn dossier_alerts_link_to_the_worklist(am_port: u16) {
    if Command::new("prometheus-alertmanager")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let mut alerts = Vec::new();
    wait_until("dossier alerts in the Alertmanager", 60, || {
        let (status, body) = http_get(am_port, "/api/v2/alerts").map_err(|e| e.to_string())?;
        let all: Vec<Value> =
            serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}"))?;
        alerts = all
            .into_iter()
            .filter(|a| {
                a["labels"]["alertname"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("MotcuaDossiers"))
            })
            .collect();
        if alerts.is_empty() {
            Err("none yet".into())
        } else {
            Ok(())
        }
    });
    for a in &alerts {
        let name = a["labels"]["alertname"].as_str().unwrap_or_default();
        let agency = a["labels"]["agency"].as_str().unwrap_or_default();
        let state = if name == "MotcuaDossiersDueSoon" {
            "due_soon"
        } else {
            "overdue"
        };
        let expected = format!(
            "{DASHBOARD_URL}/dossiers?agency={}&state={state}",
            url_encode(agency)
        );
        assert_eq!(
            a["annotations"]["worklist_url"], expected,
            "{name} for {agency}: {a}"
        );
    }
    let first = &alerts[0];
    eprintln!(
        "Alertmanager holds {} dossier alerts; e.g. {} {{agency={}}}: summary {:?}, worklist_url {}",
        alerts.len(),
        first["labels"]["alertname"],
        first["labels"]["agency"],
        first["annotations"]["summary"],
        first["annotations"]["worklist_url"]
    );
}
