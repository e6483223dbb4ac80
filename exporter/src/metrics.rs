//! Every metric family of DESIGN §4, built from a [`Snapshot`] and the
//! exporter's own status, encoded once per refresh into the bytes that
//! `/metrics` serves.
//!
//! Output is deterministic: families in a fixed order, series sorted by
//! their label values, labels in a fixed order. The same data read from
//! SQLite, PostgreSQL or MariaDB gives the same bytes, apart from the two
//! timing series (`motcua_last_refresh_success_timestamp_seconds`,
//! `motcua_refresh_duration_seconds`).

use motcua_queries::Snapshot;
use motcua_queries::model::{
    CancelReason, Channel, DigitizedKind, PendingState, Rating, RejectReason, Timeliness,
};
use motcua_queries::report::PeriodKind;
use motcua_queries::service_index::{IndicatorKind, Measured};
use motcua_queries::snapshot::Histogram;
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

/// The `Content-Type` of the `/metrics` body.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exporter version in `motcua_exporter_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const RECOMPUTED: &str = "Recomputed from the source database on every refresh interval.";

/// The exporter's own state, published beside the source's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshStatus {
    /// The last refresh from the source succeeded.
    pub up: bool,
    /// Unix time of the last successful refresh (0 before the first one).
    pub last_success_unix: f64,
    /// How long the last refresh attempt took, successful or not.
    pub last_duration_seconds: f64,
    /// Failed refresh attempts since start.
    pub failures_total: u64,
    /// The last SIGHUP reload was applied (true until a reload fails).
    pub config_reload_ok: bool,
    /// Successful refreshes that read every row / only the changed ones.
    pub full_refreshes: u64,
    pub incremental_refreshes: u64,
    /// Incremental refreshes that turned into full reads to stay exact.
    pub forced_full_reads: u64,
    /// Dossiers held in memory between refreshes.
    pub live_dossiers: u64,
}

impl Default for RefreshStatus {
    fn default() -> Self {
        RefreshStatus {
            up: false,
            last_success_unix: 0.0,
            last_duration_seconds: 0.0,
            failures_total: 0,
            config_reload_ok: true,
            full_refreshes: 0,
            incremental_refreshes: 0,
            forced_full_reads: 0,
            live_dossiers: 0,
        }
    }
}

/// Names of every family the exporter publishes, with their types, in output
/// order. `motcua_service_index_declared_points` (gauge, after
/// `motcua_service_index_target_ratio`) appears only once the operator
/// declares an indicator, so it is not listed.
pub const FAMILIES: &[(&str, &str)] = &[
    ("motcua_dossiers_received_total", "counter"),
    ("motcua_dossiers_resolved_total", "counter"),
    ("motcua_dossiers_cancelled_total", "counter"),
    ("motcua_dossiers_pending", "gauge"),
    ("motcua_dossiers_due_soon", "gauge"),
    ("motcua_dossier_processing_workdays", "histogram"),
    ("motcua_dossier_deadline_usage_ratio", "histogram"),
    ("motcua_dossier_overdue_max_workdays", "gauge"),
    ("motcua_evaluations_total", "counter"),
    ("motcua_dossiers_late_without_apology", "gauge"),
    ("motcua_dossiers_digitized_total", "counter"),
    ("motcua_report_dossiers", "gauge"),
    ("motcua_service_index_numerator", "gauge"),
    ("motcua_service_index_denominator", "gauge"),
    ("motcua_service_index_max_points", "gauge"),
    ("motcua_service_index_target_ratio", "gauge"),
    ("motcua_agency_info", "gauge"),
    ("motcua_sector_info", "gauge"),
    ("motcua_up", "gauge"),
    ("motcua_last_refresh_success_timestamp_seconds", "gauge"),
    ("motcua_refresh_duration_seconds", "gauge"),
    ("motcua_refresh_failures_total", "counter"),
    ("motcua_refreshes_total", "counter"),
    ("motcua_refresh_forced_full_reads_total", "counter"),
    ("motcua_live_dossiers", "gauge"),
    ("motcua_source_rows_rejected", "gauge"),
    ("motcua_exporter_build_info", "gauge"),
    ("motcua_config_last_reload_successful", "gauge"),
];

/// Counters of the exporter's own work in this process. They start again
/// at 0 with the process, as every exporter's own counters do (Prometheus's
/// `rate()` expects that), so counter offsets (DESIGN §10), which are for
/// counts recomputed from the source, leave them alone.
pub const PROCESS_COUNTERS: [&str; 3] = [
    "motcua_refresh_failures_total",
    "motcua_refreshes_total",
    "motcua_refresh_forced_full_reads_total",
];

/// Encodes the source's families (when a snapshot exists) and the
/// exporter's own families into the Prometheus text format.
pub fn encode(snapshot: Option<&Snapshot>, status: &RefreshStatus) -> Vec<u8> {
    encode_families(&families(snapshot, status))
}

/// Encodes built families into the Prometheus text format.
pub fn encode_families(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    TextEncoder::new()
        .encode(families, &mut out)
        .expect("families are never empty and writing to a Vec cannot fail");
    out
}

/// Builds the metric families; families without any series are left out
/// (the text format cannot carry them through the encoder).
pub fn families(snapshot: Option<&Snapshot>, status: &RefreshStatus) -> Vec<MetricFamily> {
    let mut out = Vec::with_capacity(FAMILIES.len());
    if let Some(s) = snapshot {
        source_families(s, &mut out);
    }
    self_families(snapshot, status, &mut out);
    out.retain(|f| !f.get_metric().is_empty());
    out
}

struct Family {
    inner: MetricFamily,
}

impl Family {
    fn new(name: &str, help: &str, kind: MetricType) -> Family {
        let mut inner = MetricFamily::default();
        inner.set_name(name.to_owned());
        inner.set_help(help.to_owned());
        inner.set_field_type(kind);
        Family { inner }
    }

    fn source(name: &str, help: &str, kind: MetricType) -> Family {
        Family::new(name, &format!("{help} {RECOMPUTED}"), kind)
    }

    fn value(&mut self, labels: &[(&str, &str)], v: f64) {
        let mut m = proto::Metric::from_label(label_pairs(labels));
        match self.inner.get_field_type() {
            MetricType::COUNTER => {
                let mut c = proto::Counter::default();
                c.set_value(v);
                m.set_counter(c);
            }
            _ => {
                let mut g = proto::Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            }
        }
        self.inner.mut_metric().push(m);
    }

    fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) {
        let mut m = proto::Metric::from_label(label_pairs(labels));
        let mut p = proto::Histogram::default();
        p.set_sample_count(h.count);
        p.set_sample_sum(h.sum);
        p.set_bucket(
            h.bounds
                .iter()
                .zip(&h.cumulative)
                .map(|(bound, count)| {
                    let mut b = proto::Bucket::default();
                    b.set_upper_bound(*bound);
                    b.set_cumulative_count(*count);
                    b
                })
                .collect(),
        );
        m.set_histogram(p);
        self.inner.mut_metric().push(m);
    }

    fn done(self, out: &mut Vec<MetricFamily>) {
        out.push(self.inner);
    }
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(n, v)| {
            let mut p = LabelPair::default();
            p.set_name((*n).to_owned());
            p.set_value((*v).to_owned());
            p
        })
        .collect()
}

fn source_families(s: &Snapshot, out: &mut Vec<MetricFamily>) {
    use MetricType::{COUNTER, GAUGE, HISTOGRAM};

    let mut received = Family::source(
        "motcua_dossiers_received_total",
        "Dossiers received (intake), by agency, sector and channel (KenhThucHien).",
        COUNTER,
    );
    let mut resolved = Family::source(
        "motcua_dossiers_resolved_total",
        "Dossiers resolved (status 9 or 10), by channel and timeliness against the due date.",
        COUNTER,
    );
    let mut cancelled = Family::source(
        "motcua_dossiers_cancelled_total",
        "Dossiers withdrawn by the citizen (status 7) or whose processing stopped (status 8).",
        COUNTER,
    );
    let mut pending = Family::source(
        "motcua_dossiers_pending",
        "Dossiers pending now: in time, overdue, or paused waiting on the citizen.",
        GAUGE,
    );
    let mut due_soon = Family::source(
        "motcua_dossiers_due_soon",
        "Dossiers pending in time whose due date is within due_soon_workdays working days.",
        GAUGE,
    );
    let mut workdays = Family::source(
        "motcua_dossier_processing_workdays",
        "Working days from receipt to result of resolved dossiers, supplement pauses left out.",
        HISTOGRAM,
    );
    for ((agency, sector), st) in &s.by_agency_sector {
        let (a, se) = (agency.as_str(), sector.as_str());
        for (i, ch) in Channel::ALL.iter().enumerate() {
            let l = ch.label();
            received.value(
                &[("agency", a), ("sector", se), ("channel", l)],
                st.received[i] as f64,
            );
            for (j, t) in Timeliness::ALL.iter().enumerate() {
                resolved.value(
                    &[
                        ("agency", a),
                        ("sector", se),
                        ("channel", l),
                        ("timeliness", t.label()),
                    ],
                    st.resolved[i][j] as f64,
                );
            }
        }
        for (i, r) in CancelReason::ALL.iter().enumerate() {
            cancelled.value(
                &[("agency", a), ("sector", se), ("reason", r.label())],
                st.cancelled[i] as f64,
            );
        }
        for (i, state) in PendingState::ALL.iter().enumerate() {
            pending.value(
                &[("agency", a), ("sector", se), ("state", state.label())],
                st.pending[i] as f64,
            );
        }
        due_soon.value(&[("agency", a), ("sector", se)], st.due_soon as f64);
        workdays.histogram(&[("agency", a), ("sector", se)], &st.processing_workdays);
    }

    let mut usage = Family::source(
        "motcua_dossier_deadline_usage_ratio",
        "Share of the allowed time that resolved dossiers used (1 = exactly on the due date).",
        HISTOGRAM,
    );
    let mut overdue_max = Family::source(
        "motcua_dossier_overdue_max_workdays",
        "Working days past the due date of the agency's oldest pending overdue dossier (0 when none).",
        GAUGE,
    );
    let mut no_apology = Family::source(
        "motcua_dossiers_late_without_apology",
        "Dossiers resolved late or pending overdue that have no apology letter (phiếu xin lỗi).",
        GAUGE,
    );
    let mut digitized = Family::source(
        "motcua_dossiers_digitized_total",
        "Intake dossiers with digitized components (kind dossier) or an electronic result (kind result).",
        COUNTER,
    );
    let mut report = Family::source(
        "motcua_report_dossiers",
        "Columns of the periodic report form (Biểu 06/VPCP/KSTT) for the current month, quarter and year.",
        GAUGE,
    );
    for (agency, st) in &s.by_agency {
        let a = agency.as_str();
        usage.histogram(&[("agency", a)], &st.deadline_usage);
        overdue_max.value(&[("agency", a)], st.overdue_max_workdays as f64);
        no_apology.value(&[("agency", a)], st.late_without_apology as f64);
        for (i, k) in DigitizedKind::ALL.iter().enumerate() {
            digitized.value(
                &[("agency", a), ("kind", k.label())],
                st.digitized[i] as f64,
            );
        }
        for (kind, columns) in PeriodKind::ALL.iter().zip(&st.report) {
            for (name, _, v) in columns.columns() {
                report.value(
                    &[("agency", a), ("period", kind.label()), ("column", name)],
                    v as f64,
                );
            }
        }
    }

    let [numerator, denominator, max_points, target, declared] = service_index_families(s);

    let mut evaluations = Family::source(
        "motcua_evaluations_total",
        "Citizens' evaluations of the service, by the evaluated agency and rating.",
        COUNTER,
    );
    for (agency, counts) in &s.evaluations {
        for (i, r) in Rating::ALL.iter().enumerate() {
            evaluations.value(
                &[("agency", agency), ("rating", r.label())],
                counts[i] as f64,
            );
        }
    }

    let mut agency_info = Family::source(
        "motcua_agency_info",
        "Agency catalogue: name, parent agency code and level; value 1.",
        GAUGE,
    );
    let mut agencies: Vec<_> = s.agencies.iter().collect();
    agencies.sort_by(|x, y| x.code.cmp(&y.code));
    agencies.dedup_by(|x, y| x.code == y.code);
    for a in agencies {
        agency_info.value(
            &[
                ("agency", &a.code),
                ("name", &a.name),
                ("parent", a.parent_code.as_deref().unwrap_or("")),
                ("level", &a.level),
            ],
            1.0,
        );
    }
    let mut sector_info = Family::source(
        "motcua_sector_info",
        "Sector (lĩnh vực) catalogue: name; value 1.",
        GAUGE,
    );
    let mut sectors: Vec<_> = s.sectors.iter().collect();
    sectors.sort_by(|x, y| x.code.cmp(&y.code));
    sectors.dedup_by(|x, y| x.code == y.code);
    for se in sectors {
        sector_info.value(&[("sector", &se.code), ("name", &se.name)], 1.0);
    }

    for f in [
        received,
        resolved,
        cancelled,
        pending,
        due_soon,
        workdays,
        usage,
        overdue_max,
        evaluations,
        no_apology,
        digitized,
        report,
        numerator,
        denominator,
        max_points,
        target,
        declared,
        agency_info,
        sector_info,
    ] {
        f.done(out);
    }
}

/// The service index families (DESIGN §8): numerators and denominators
/// computed in `queries`, per agency with intake in the period; the
/// indicator table's maxima, targets and declared points.
fn service_index_families(s: &Snapshot) -> [Family; 5] {
    use MetricType::GAUGE;
    const ESTIMATE: &str =
        "Estimate of the service index of Decision 766/QĐ-TTg (not the portal's official figure)";
    let mut numerator = Family::source(
        "motcua_service_index_numerator",
        &format!(
            "{ESTIMATE}: numerator of each measured indicator, per agency, for the current month, quarter and year."
        ),
        GAUGE,
    );
    let mut denominator = Family::source(
        "motcua_service_index_denominator",
        &format!(
            "{ESTIMATE}: denominator of each measured indicator (0: not applicable), per agency, for the current month, quarter and year."
        ),
        GAUGE,
    );
    let mut max_points = Family::source(
        "motcua_service_index_max_points",
        &format!("{ESTIMATE}: maximum points of each indicator, from the indicator file."),
        GAUGE,
    );
    let mut target = Family::source(
        "motcua_service_index_target_ratio",
        &format!(
            "{ESTIMATE}: rate at which each indicator reaches its maximum (points = max × min(1, rate ÷ target))."
        ),
        GAUGE,
    );
    let mut declared = Family::source(
        "motcua_service_index_declared_points",
        &format!(
            "{ESTIMATE}: points the operator declared for the province (indicators not measured from the source)."
        ),
        GAUGE,
    );
    let table = &s.service_index;
    for (agency, stats) in &s.by_agency {
        for (k, kind) in PeriodKind::ALL.iter().enumerate() {
            if stats.report[k].received_total == 0 {
                continue;
            }
            let m = s.index_measures(agency, k);
            for which in Measured::ALL {
                if table.measured(which).is_none() {
                    continue;
                }
                let labels = [
                    ("agency", agency.as_str()),
                    ("period", kind.label()),
                    ("indicator", which.id()),
                ];
                let v = m.get(which);
                numerator.value(&labels, v.numerator as f64);
                denominator.value(&labels, v.denominator as f64);
            }
        }
    }
    for i in &table.indicators {
        max_points.value(&[("indicator", &i.id)], i.max);
        if matches!(i.kind, IndicatorKind::Measured(_)) {
            target.value(&[("indicator", &i.id)], i.target);
        }
    }
    for (i, points) in table.declared() {
        declared.value(&[("indicator", &i.id)], points);
    }
    [numerator, denominator, max_points, target, declared]
}

fn self_families(snapshot: Option<&Snapshot>, st: &RefreshStatus, out: &mut Vec<MetricFamily>) {
    use MetricType::{COUNTER, GAUGE};
    let gauge = |name: &str, help: &str, v: f64| {
        let mut f = Family::new(name, help, GAUGE);
        f.value(&[], v);
        f
    };
    let bool_value = |b: bool| if b { 1.0 } else { 0.0 };

    let up = gauge(
        "motcua_up",
        "1 when the last refresh from the source database succeeded, else 0.",
        bool_value(st.up),
    );
    let last = gauge(
        "motcua_last_refresh_success_timestamp_seconds",
        "Unix time of the last successful refresh from the source database (0 before the first).",
        st.last_success_unix,
    );
    let duration = gauge(
        "motcua_refresh_duration_seconds",
        "How long the last refresh attempt took (reading the source and computing every metric).",
        st.last_duration_seconds,
    );
    let mut failures = Family::new(
        "motcua_refresh_failures_total",
        "Refresh attempts that failed since the exporter started.",
        COUNTER,
    );
    failures.value(&[], st.failures_total as f64);
    let mut refreshes = Family::new(
        "motcua_refreshes_total",
        "Successful refreshes since the exporter started, by kind: full (every row read) or incremental (only rows whose updated_at moved).",
        COUNTER,
    );
    refreshes.value(&[("kind", "full")], st.full_refreshes as f64);
    refreshes.value(&[("kind", "incremental")], st.incremental_refreshes as f64);
    let mut forced = Family::new(
        "motcua_refresh_forced_full_reads_total",
        "Incremental refreshes that read every row instead, to stay exact (an edit to settled history, a new report period).",
        COUNTER,
    );
    forced.value(&[], st.forced_full_reads as f64);
    let live = gauge(
        "motcua_live_dossiers",
        "Dossiers held in memory between refreshes: open ones and those active lately (the rest are summed).",
        st.live_dossiers as f64,
    );

    let mut rejected = Family::new(
        "motcua_source_rows_rejected",
        "Source rows the last successful refresh could not use, by the first reason that applies.",
        GAUGE,
    );
    for reason in RejectReason::ALL {
        let n = snapshot
            .and_then(|s| s.rejected.iter().find(|(r, _)| r == reason))
            .map_or(0, |(_, n)| *n);
        rejected.value(&[("reason", reason.label())], n as f64);
    }

    let mut build = Family::new(
        "motcua_exporter_build_info",
        "The exporter's version; value 1.",
        GAUGE,
    );
    build.value(&[("version", VERSION)], 1.0);
    let reload = gauge(
        "motcua_config_last_reload_successful",
        "1 when the last configuration reload (SIGHUP) was applied, 0 when it was refused.",
        bool_value(st.config_reload_ok),
    );

    for f in [
        up, last, duration, failures, refreshes, forced, live, rejected, build, reload,
    ] {
        f.done(out);
    }
}

/// True for a line of the text format that belongs to a timing series
/// (differs between otherwise identical refreshes).
pub fn is_timing_line(line: &str) -> bool {
    let name = line
        .strip_prefix("# HELP ")
        .or_else(|| line.strip_prefix("# TYPE "))
        .unwrap_or(line);
    name.starts_with("motcua_last_refresh_success_timestamp_seconds")
        || name.starts_with("motcua_refresh_duration_seconds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_snapshot_only_self_metrics() {
        let body = String::from_utf8(encode(None, &RefreshStatus::default())).unwrap();
        assert!(body.contains("motcua_up 0\n"), "{body}");
        assert!(body.contains("# TYPE motcua_refresh_failures_total counter\n"));
        assert!(body.contains("motcua_exporter_build_info{version=\""));
        assert!(body.contains("motcua_config_last_reload_successful 1\n"));
        for reason in RejectReason::ALL {
            assert!(
                body.contains(&format!(
                    "motcua_source_rows_rejected{{reason=\"{}\"}} 0\n",
                    reason.label()
                )),
                "{body}"
            );
        }
        assert!(!body.contains("motcua_dossiers_received_total"));
    }

    #[test]
    fn status_values_are_encoded() {
        let st = RefreshStatus {
            up: true,
            last_success_unix: 1_700_000_000.5,
            last_duration_seconds: 0.25,
            failures_total: 3,
            config_reload_ok: false,
            full_refreshes: 2,
            incremental_refreshes: 40,
            forced_full_reads: 1,
            live_dossiers: 1234,
        };
        let body = String::from_utf8(encode(None, &st)).unwrap();
        assert!(
            body.contains("motcua_refreshes_total{kind=\"full\"} 2\n"),
            "{body}"
        );
        assert!(body.contains("motcua_refreshes_total{kind=\"incremental\"} 40\n"));
        assert!(body.contains("motcua_refresh_forced_full_reads_total 1\n"));
        assert!(body.contains("motcua_live_dossiers 1234\n"));
        assert!(body.contains("motcua_up 1\n"));
        assert!(body.contains("motcua_last_refresh_success_timestamp_seconds 1700000000.5\n"));
        assert!(body.contains("motcua_refresh_duration_seconds 0.25\n"));
        assert!(body.contains("motcua_refresh_failures_total 3\n"));
        assert!(body.contains("motcua_config_last_reload_successful 0\n"));
    }

    #[test]
    fn timing_lines_are_recognised() {
        assert!(is_timing_line("motcua_refresh_duration_seconds 1.5"));
        assert!(is_timing_line(
            "# HELP motcua_last_refresh_success_timestamp_seconds x"
        ));
        assert!(!is_timing_line("motcua_refresh_failures_total 0"));
        assert!(!is_timing_line("motcua_up 1"));
    }
}
