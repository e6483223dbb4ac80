//! The service index estimate (Bộ chỉ số 766/QĐ-TTg, DESIGN §8): one
//! definition, used by the exporter and the dashboard alike.
//!
//! Public API:
//! - [`IndicatorTable`]: the indicator file (id, group, names, maximum,
//!   target, declared value). [`IndicatorTable::shipped`] is the default
//!   (`queries/service_index/vn-766.toml`); [`IndicatorTable::load`] reads an
//!   operator's file, with errors naming file, line and key
//!   ([`IndexFileError`]); groups that do not add up to 100 only warn
//!   ([`IndicatorTable::warnings`]).
//! - [`Measured`]: the indicators measured from the source, and
//!   [`Measures`], a numerator over a denominator for each, additive across
//!   agencies (the province is the sum of its agencies).
//! - [`IndexTally`] counts, per agency and period, what the measures are made
//!   of besides the Biểu 06 columns ([`crate::report::ReportColumns`]);
//!   [`tally_dossier`] / [`tally_evaluation`] fill it from the same judged
//!   dossiers as the report, [`measures`] turns report columns and tally into
//!   [`Measures`]. The exporter's [`crate::Snapshot`] carries both per agency
//!   for the current month, quarter and year (`AgencyStats::index`,
//!   `Snapshot::dissatisfied`).
//! - [`score`] turns measures into points per scope (agency, or the province
//!   with the declared indicators); [`build_index`] does the whole period
//!   `[from, to]` as of `now` and returns [`ServiceIndex`], the JSON of §8
//!   (rows: agencies with intake in the period sorted by code, then the
//!   province with agency null).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::calendar::{line_of, render};
use crate::model::{Channel, Dataset, Dossier, Evaluation, Rating, Stage};
use crate::report::{ReportColumns, ReportWindow};

/// The shipped indicator file.
pub const SHIPPED_FILE: &str = include_str!("../service_index/vn-766.toml");
const SHIPPED_ORIGIN: &str = "queries/service_index/vn-766.toml (built in)";

/// The indicators measured from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measured {
    OnTime,
    OnlineFull,
    PaymentProcedures,
    OnlinePayment,
    EResult,
    Digitized,
    Satisfaction,
}

impl Measured {
    pub const ALL: [Measured; 7] = [
        Measured::OnTime,
        Measured::OnlineFull,
        Measured::PaymentProcedures,
        Measured::OnlinePayment,
        Measured::EResult,
        Measured::Digitized,
        Measured::Satisfaction,
    ];

    /// The indicator id: label value and key of the file.
    pub fn id(self) -> &'static str {
        match self {
            Measured::OnTime => "on_time",
            Measured::OnlineFull => "online_full",
            Measured::PaymentProcedures => "payment_procedures",
            Measured::OnlinePayment => "online_payment",
            Measured::EResult => "e_result",
            Measured::Digitized => "digitized",
            Measured::Satisfaction => "satisfaction",
        }
    }

    pub fn from_id(id: &str) -> Option<Measured> {
        Measured::ALL.into_iter().find(|m| m.id() == id)
    }

    /// Whether a source without `has_fee` leaves it without a denominator.
    pub fn needs_has_fee(self) -> bool {
        matches!(self, Measured::PaymentProcedures | Measured::OnlinePayment)
    }
}

/// The indicators only the operator can give (copied from the portal).
pub const DECLARED_IDS: &[&str] = &[
    "published_on_time",
    "updated_on_time",
    "published_complete",
    "synced",
    "payment_integrated",
    "certified_copies",
    "data_reuse",
    "personal_store",
    "population_procedures",
    "population_dossiers",
    "feedback_on_time",
    "feedback_satisfaction",
];

/// How an indicator gets its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IndicatorKind {
    Measured(Measured),
    /// Declared by the operator for the province: points as copied from the
    /// portal, or None when not declared (the indicator leaves the totals).
    Declared(Option<f64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub id: String,
    /// 1–6, as the portal groups them.
    pub group: u8,
    pub name_vi: String,
    pub name_en: String,
    /// Maximum points.
    pub max: f64,
    /// Rate at which the maximum is reached: points = max × min(1, rate ÷ target).
    pub target: f64,
    pub kind: IndicatorKind,
}

impl Indicator {
    /// Points for a rate.
    pub fn points(&self, rate: f64) -> f64 {
        self.max * (rate / self.target).clamp(0.0, 1.0)
    }
}

/// The indicator table, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorTable {
    pub indicators: Vec<Indicator>,
    /// Where it was read from (a path, or the built-in file).
    pub origin: String,
    warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexFileError {
    #[error("{origin}: cannot read the service index file: {error}")]
    Read {
        origin: String,
        error: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown field; the message carries
    /// the line and column.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: key `{key}`: {value} {problem}, at line {line}")]
    Value {
        origin: String,
        key: String,
        value: String,
        problem: String,
        line: usize,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    group: Spanned<toml::Value>,
    #[serde(default)]
    name_vi: String,
    #[serde(default)]
    name_en: String,
    max: Spanned<toml::Value>,
    target: Option<Spanned<toml::Value>>,
    /// Points copied from the portal for the province.
    declared_points: Option<Spanned<toml::Value>>,
    /// Or the rate the portal shows; points follow from max and target.
    declared_rate: Option<Spanned<toml::Value>>,
}

impl IndicatorTable {
    /// The shipped table, parsed once.
    pub fn shipped_shared() -> std::sync::Arc<IndicatorTable> {
        static SHIPPED: std::sync::LazyLock<std::sync::Arc<IndicatorTable>> =
            std::sync::LazyLock::new(|| std::sync::Arc::new(IndicatorTable::shipped()));
        std::sync::Arc::clone(&SHIPPED)
    }

    /// The shipped table (DESIGN §8).
    pub fn shipped() -> IndicatorTable {
        IndicatorTable::parse(SHIPPED_FILE, SHIPPED_ORIGIN).expect("the shipped file is valid")
    }

    /// Reads an operator's file; logs its warnings.
    pub fn load(path: &Path) -> Result<IndicatorTable, IndexFileError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| IndexFileError::Read {
            origin: origin.clone(),
            error,
        })?;
        let table = IndicatorTable::parse(&text, &origin)?;
        for w in table.warnings() {
            tracing::warn!("{w}");
        }
        Ok(table)
    }

    /// The shipped table, or the file at `path`.
    pub fn shipped_or_load(path: Option<&Path>) -> Result<IndicatorTable, IndexFileError> {
        match path {
            Some(p) => IndicatorTable::load(p),
            None => Ok(IndicatorTable::shipped()),
        }
    }

    /// What is suspicious but usable (groups not adding up to 100).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn get(&self, id: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.id == id)
    }

    pub fn measured(&self, m: Measured) -> Option<&Indicator> {
        self.get(m.id())
    }

    /// Declared points per declared indicator that has a value.
    pub fn declared(&self) -> impl Iterator<Item = (&Indicator, f64)> {
        self.indicators.iter().filter_map(|i| match i.kind {
            IndicatorKind::Declared(Some(p)) => Some((i, p)),
            _ => None,
        })
    }

    pub fn parse(text: &str, origin: &str) -> Result<IndicatorTable, IndexFileError> {
        let file: BTreeMap<String, Spanned<RawIndicator>> =
            toml::from_str(text).map_err(|e| IndexFileError::Syntax {
                origin: origin.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
        let bad = |key: String, value: String, problem: &str, at: usize| IndexFileError::Value {
            origin: origin.to_owned(),
            key,
            value,
            problem: problem.to_owned(),
            line: line_of(text, at),
        };
        let number = |id: &str, key: &str, v: &Spanned<toml::Value>| match v.get_ref() {
            toml::Value::Integer(n) => Ok(*n as f64),
            toml::Value::Float(f) if f.is_finite() => Ok(*f),
            other => Err(bad(
                format!("{id}.{key}"),
                render(other),
                "is not a number",
                v.span().start,
            )),
        };
        let mut entries: Vec<(&String, &Spanned<RawIndicator>)> = file.iter().collect();
        entries.sort_by_key(|(_, raw)| raw.span().start);
        let mut indicators = Vec::with_capacity(entries.len());
        for (id, raw) in entries {
            let at = raw.span().start;
            let measured = Measured::from_id(id);
            if measured.is_none() && !DECLARED_IDS.contains(&id.as_str()) {
                return Err(bad(
                    id.clone(),
                    format!("{id:?}"),
                    "is not an indicator id of DESIGN §8",
                    at,
                ));
            }
            let r = raw.get_ref();
            let group = number(id, "group", &r.group)?;
            if !(1.0..=6.0).contains(&group) || group.fract() != 0.0 {
                return Err(bad(
                    format!("{id}.group"),
                    render(r.group.get_ref()),
                    "is not a group number 1–6",
                    r.group.span().start,
                ));
            }
            let max = number(id, "max", &r.max)?;
            if max < 0.0 {
                return Err(bad(
                    format!("{id}.max"),
                    render(r.max.get_ref()),
                    "is negative",
                    r.max.span().start,
                ));
            }
            let target = match &r.target {
                None => 1.0,
                Some(t) => {
                    let v = number(id, "target", t)?;
                    if !(v > 0.0 && v <= 1.0) {
                        return Err(bad(
                            format!("{id}.target"),
                            render(t.get_ref()),
                            "is outside (0, 1]",
                            t.span().start,
                        ));
                    }
                    v
                }
            };
            let kind = match measured {
                Some(m) => {
                    if let Some(v) = r.declared_points.as_ref().or(r.declared_rate.as_ref()) {
                        let key = if r.declared_points.is_some() {
                            "declared_points"
                        } else {
                            "declared_rate"
                        };
                        return Err(bad(
                            format!("{id}.{key}"),
                            render(v.get_ref()),
                            "cannot be declared: this indicator is measured from the source",
                            v.span().start,
                        ));
                    }
                    IndicatorKind::Measured(m)
                }
                None => match (&r.declared_points, &r.declared_rate) {
                    (Some(_), Some(v)) => {
                        return Err(bad(
                            format!("{id}.declared_rate"),
                            render(v.get_ref()),
                            "is given together with declared_points: give one",
                            v.span().start,
                        ));
                    }
                    (Some(v), None) => {
                        let p = number(id, "declared_points", v)?;
                        if !(0.0..=max).contains(&p) {
                            return Err(bad(
                                format!("{id}.declared_points"),
                                render(v.get_ref()),
                                &format!("is outside [0, max = {max}]"),
                                v.span().start,
                            ));
                        }
                        IndicatorKind::Declared(Some(p))
                    }
                    (None, Some(v)) => {
                        let rate = number(id, "declared_rate", v)?;
                        if !(0.0..=1.0).contains(&rate) {
                            return Err(bad(
                                format!("{id}.declared_rate"),
                                render(v.get_ref()),
                                "is outside [0, 1]",
                                v.span().start,
                            ));
                        }
                        IndicatorKind::Declared(Some(max * (rate / target).min(1.0)))
                    }
                    (None, None) => IndicatorKind::Declared(None),
                },
            };
            indicators.push(Indicator {
                id: id.clone(),
                group: group as u8,
                name_vi: r.name_vi.clone(),
                name_en: r.name_en.clone(),
                max,
                target,
                kind,
            });
        }
        let mut groups = [0.0f64; 6];
        for i in &indicators {
            groups[usize::from(i.group) - 1] += i.max;
        }
        let total: f64 = groups.iter().sum();
        let mut warnings = Vec::new();
        if (total - 100.0).abs() > 1e-9 {
            let sums: Vec<String> = groups
                .iter()
                .enumerate()
                .map(|(g, s)| format!("group {}: {s}", g + 1))
                .collect();
            warnings.push(format!(
                "{origin}: the maxima add up to {total}, not 100 ({}); scores stay on 100 × points ÷ max",
                sums.join(", ")
            ));
        }
        Ok(IndicatorTable {
            indicators,
            origin: origin.to_owned(),
            warnings,
        })
    }
}

/// A numerator over a denominator. A denominator of 0 makes the indicator
/// not applicable. Satisfaction's numerator may be negative (the floor at
/// 0 applies to the rate), so sums across agencies stay right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub numerator: i64,
    pub denominator: u64,
}

impl Measure {
    fn of(numerator: u64, denominator: u64) -> Measure {
        Measure {
            numerator: numerator as i64,
            denominator,
        }
    }

    /// The rate, floored at 0; None when not applicable.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator > 0).then(|| (self.numerator.max(0) as f64) / self.denominator as f64)
    }
}

/// One [`Measure`] per [`Measured`] indicator, in [`Measured::ALL`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measures(pub [Measure; 7]);

impl Measures {
    pub fn get(&self, m: Measured) -> Measure {
        self.0[m as usize]
    }

    pub fn add(&mut self, o: &Measures) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            a.numerator += b.numerator;
            a.denominator += b.denominator;
        }
    }
}

/// What the measures of one agency over one period are made of, besides
/// the Biểu 06 columns. Every field is a count, so tallies of disjoint sets
/// of dossiers add up (batches, incremental refresh).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexTally {
    /// Received in the period with a `full` online procedure: [online, all].
    pub online_full: [u64; 2],
    /// Received in the period with a fee-bearing procedure: [paid online, all].
    pub fee: [u64; 2],
    /// The same per procedure code: a pair (agency, procedure) counts once
    /// in payment_procedures whatever its number of dossiers.
    pub fee_procedures: BTreeMap<String, [u64; 2]>,
    /// Resolved (status 9/10) with finished_at in the period: [e_result, all].
    pub e_result: [u64; 2],
    /// Received in the period: [digitized, all].
    pub digitized: [u64; 2],
}

fn add2(a: &mut [u64; 2], b: &[u64; 2]) {
    a[0] += b[0];
    a[1] += b[1];
}

fn sub2(a: &mut [u64; 2], b: &[u64; 2]) {
    a[0] -= b[0];
    a[1] -= b[1];
}

impl IndexTally {
    pub fn absorb(&mut self, o: &IndexTally) {
        add2(&mut self.online_full, &o.online_full);
        add2(&mut self.fee, &o.fee);
        add2(&mut self.e_result, &o.e_result);
        add2(&mut self.digitized, &o.digitized);
        for (code, counts) in &o.fee_procedures {
            match self.fee_procedures.get_mut(code) {
                Some(mine) => add2(mine, counts),
                None => {
                    self.fee_procedures.insert(code.clone(), *counts);
                }
            }
        }
    }

    /// Takes out what [`IndexTally::absorb`] added.
    pub fn remove(&mut self, o: &IndexTally) {
        sub2(&mut self.online_full, &o.online_full);
        sub2(&mut self.fee, &o.fee);
        sub2(&mut self.e_result, &o.e_result);
        sub2(&mut self.digitized, &o.digitized);
        for (code, counts) in &o.fee_procedures {
            if let Some(mine) = self.fee_procedures.get_mut(code) {
                sub2(mine, counts);
            }
        }
        self.fee_procedures.retain(|_, c| c[1] > 0);
    }
}

/// Adds one intake dossier to its agency's tally for the window `w` (the
/// report's window: received in [start, cutoff]).
pub fn tally_dossier(ds: &Dataset, d: &Dossier, w: &ReportWindow, t: &mut IndexTally) {
    if d.received > w.cutoff {
        return;
    }
    if d.received >= w.start {
        t.digitized[1] += 1;
        t.digitized[0] += u64::from(d.digitized);
        if let Some(p) = ds.procedure_of(d) {
            if p.online_full {
                t.online_full[1] += 1;
                t.online_full[0] += u64::from(d.channel == Channel::Online);
            }
            if p.has_fee == Some(true) {
                let paid = u64::from(d.paid_online);
                t.fee[1] += 1;
                t.fee[0] += paid;
                match t.fee_procedures.get_mut(&p.code) {
                    Some(c) => add2(c, &[paid, 1]),
                    None => {
                        t.fee_procedures.insert(p.code.clone(), [paid, 1]);
                    }
                }
            }
        }
    }
    if d.stage == Stage::Resolved && d.ended.is_some_and(|e| e >= w.start && e <= w.cutoff) {
        t.e_result[1] += 1;
        t.e_result[0] += u64::from(d.e_result);
    }
}

fn index_of_dissatisfied() -> usize {
    Rating::ALL
        .iter()
        .position(|r| *r == Rating::Dissatisfied)
        .expect("in ALL")
}

/// Whether an evaluation counts as `dissatisfied` in the window, under its
/// own agency.
pub fn tally_evaluation(e: &Evaluation, w: &ReportWindow) -> bool {
    e.rating == Rating::Dissatisfied
        && e.evaluated_at
            .is_some_and(|t| t >= w.start && t <= w.cutoff)
}

/// An agency's measures for a period: its report columns, its tally and
/// its dissatisfied evaluations. An agency without intake in the period
/// measures nothing (its evaluations do not make satisfaction negative
/// where it has no dossier to rate).
pub fn measures(report: &ReportColumns, t: &IndexTally, dissatisfied: u64) -> Measures {
    let received = report.received_total;
    if received == 0 {
        return Measures::default();
    }
    let pairs = t.fee_procedures.values().filter(|c| c[1] > 0);
    let mut m = Measures::default();
    m.0[Measured::OnTime as usize] = Measure::of(
        report.resolved_early + report.resolved_on_time + report.pending_in_time,
        received,
    );
    m.0[Measured::OnlineFull as usize] = Measure::of(t.online_full[0], t.online_full[1]);
    m.0[Measured::PaymentProcedures as usize] = Measure::of(
        pairs.clone().filter(|c| c[0] > 0).count() as u64,
        pairs.count() as u64,
    );
    m.0[Measured::OnlinePayment as usize] = Measure::of(t.fee[0], t.fee[1]);
    m.0[Measured::EResult as usize] = Measure::of(t.e_result[0], t.e_result[1]);
    m.0[Measured::Digitized as usize] = Measure::of(t.digitized[0], t.digitized[1]);
    m.0[Measured::Satisfaction as usize] = Measure {
        numerator: received as i64
            - dissatisfied as i64
            - report.resolved_late as i64
            - report.pending_overdue as i64,
        denominator: received,
    };
    m
}

/// One indicator of a scope (DESIGN §8 JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorScore {
    pub indicator: String,
    /// Null for declared indicators.
    pub numerator: Option<i64>,
    pub denominator: Option<u64>,
    /// Null when not applicable (and for declared points).
    pub rate: Option<f64>,
    /// Null when not applicable or not declared.
    pub points: Option<f64>,
    pub max: f64,
}

/// An agency, or the province (agency null).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeScore {
    pub agency: Option<String>,
    /// Sum of the indicators' points.
    pub points: f64,
    /// Sum of the maxima of the applicable and declared indicators.
    pub max: f64,
    /// 100 × points ÷ max; null when nothing applies.
    pub score: Option<f64>,
    pub indicators: Vec<IndicatorScore>,
}

/// The index for a period (DESIGN §8 JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceIndex {
    pub period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Agencies with intake in the period, by code, then the province.
    pub rows: Vec<ScopeScore>,
}

/// Scores one scope: the measured indicators of the table from `m`, and, for
/// the province, the declared ones.
pub fn score(table: &IndicatorTable, agency: Option<String>, m: &Measures) -> ScopeScore {
    let province = agency.is_none();
    let mut row = ScopeScore {
        agency,
        points: 0.0,
        max: 0.0,
        score: None,
        indicators: Vec::new(),
    };
    for ind in &table.indicators {
        let s = match ind.kind {
            IndicatorKind::Measured(which) => {
                let measure = m.get(which);
                let rate = measure.rate();
                IndicatorScore {
                    indicator: ind.id.clone(),
                    numerator: Some(measure.numerator),
                    denominator: Some(measure.denominator),
                    rate,
                    points: rate.map(|r| ind.points(r)),
                    max: ind.max,
                }
            }
            IndicatorKind::Declared(_) if !province => continue,
            IndicatorKind::Declared(points) => IndicatorScore {
                indicator: ind.id.clone(),
                numerator: None,
                denominator: None,
                rate: None,
                points,
                max: ind.max,
            },
        };
        if let Some(p) = s.points {
            row.points += p;
            row.max += ind.max;
        }
        row.indicators.push(s);
    }
    row.score = (row.max > 0.0).then(|| 100.0 * row.points / row.max);
    row
}

/// The index of every agency with intake in `[from, to]` as of `now`, and
/// of the province, from the judged dossiers (the report's window).
pub fn build_index<'a>(
    facts: impl Into<crate::daily::View<'a>>,
    table: &IndicatorTable,
    period: String,
    from: NaiveDate,
    to: NaiveDate,
    now: crate::model::Ts,
) -> ServiceIndex {
    let view = facts.into();
    let ds = view.dataset();
    let w = ReportWindow::new(from, to, now);
    let mut per: Vec<Option<(ReportColumns, IndexTally, u64)>> = vec![None; ds.agency_codes.len()];
    for ((a, _), columns) in crate::report::report_cells(&view, &w, None) {
        per[a as usize].get_or_insert_default().0.add(&columns);
    }
    for d in &ds.dossiers {
        let (_, t, _) = per[d.agency as usize].get_or_insert_default();
        tally_dossier(ds, d, &w, t);
    }
    // Summed days: received in [start, cutoff] for the receipt shares,
    // resolved in it for the electronic results.
    let days = w.from..=crate::model::day_of(w.cutoff);
    for (_, a, _, cell) in view.cells(days.clone(), None) {
        let (_, t, _) = per[a as usize].get_or_insert_default();
        let add = |x: &mut [u64; 2], y: [u32; 2]| {
            x[0] += u64::from(y[0]);
            x[1] += u64::from(y[1]);
        };
        let received: u32 = cell.received.iter().sum();
        add(&mut t.digitized, [cell.digitized, received]);
        add(&mut t.online_full, cell.online_full);
        add(&mut t.fee, cell.fee);
        add(&mut t.e_result, cell.e_result);
    }
    for (a, code, n) in view.fee_procedures(days.clone()) {
        let (_, t, _) = per[a as usize].get_or_insert_default();
        // Looked up before it is copied: one copy a procedure, not an entry.
        let counts = [u64::from(n[0]), u64::from(n[1])];
        match t.fee_procedures.get_mut(code) {
            Some(entry) => add2(entry, &counts),
            None => add2(
                t.fee_procedures.entry(code.to_owned()).or_default(),
                &counts,
            ),
        }
    }
    for (a, n) in view.ratings(days) {
        if let Some((_, _, dissatisfied)) = &mut per[a as usize] {
            *dissatisfied += u64::from(n[index_of_dissatisfied()]);
        }
    }
    for e in &ds.evaluations {
        if tally_evaluation(e, &w)
            && let Some((_, _, n)) = &mut per[e.agency as usize]
        {
            *n += 1;
        }
    }
    let mut rows = Vec::new();
    let mut province = Measures::default();
    for (a, entry) in per.iter().enumerate() {
        let Some((report, t, dissatisfied)) = entry else {
            continue;
        };
        if report.received_total == 0 {
            continue;
        }
        let m = measures(report, t, *dissatisfied);
        province.add(&m);
        rows.push(score(table, Some(ds.agency_codes[a].clone()), &m));
    }
    rows.push(score(table, None, &province));
    ServiceIndex {
        period,
        from,
        to,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::WorkCalendar;
    use crate::classify::Judge;
    use crate::judge::build_dataset;
    use crate::model::{DossierRow, EvaluationRow, Procedure, SourceRows, ts_of};
    use crate::report::PeriodConvention;

    fn t(s: &str) -> crate::model::Ts {
        ts_of(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }

    fn procedure(code: &str, online: &str, has_fee: Option<bool>) -> Procedure {
        Procedure {
            code: code.into(),
            name: code.into(),
            sector_code: "S".into(),
            deadline_days: Some(5.0),
            online_level: online.into(),
            has_fee,
        }
    }

    /// (code, agency, procedure, channel, status, received, due, finished, flags "dep")
    type Spec<'a> = (
        &'a str,
        &'a str,
        &'a str,
        i64,
        i64,
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a str,
    );

    fn rows(fee: Option<bool>) -> SourceRows {
        let specs: [Spec; 9] = [
            // A, March 2025: early, on time, late, overdue, in time, carried over late.
            (
                "a1",
                "A",
                "PF",
                2,
                10,
                "2025-03-03 08:00",
                "2025-03-10 17:00",
                Some("2025-03-05 10:00"),
                "dep",
            ),
            (
                "a2",
                "A",
                "PF",
                1,
                10,
                "2025-03-04 08:00",
                "2025-03-11 17:00",
                Some("2025-03-11 10:00"),
                "",
            ),
            (
                "a3",
                "A",
                "PX",
                2,
                10,
                "2025-03-05 08:00",
                "2025-03-06 17:00",
                Some("2025-03-20 10:00"),
                "d",
            ),
            (
                "a4",
                "A",
                "PP",
                1,
                4,
                "2025-03-10 08:00",
                "2025-03-12 17:00",
                None,
                "",
            ),
            (
                "a5",
                "A",
                "PP",
                2,
                4,
                "2025-03-25 08:00",
                "2025-04-15 17:00",
                None,
                "",
            ),
            (
                "a6",
                "A",
                "PF",
                1,
                10,
                "2025-02-20 08:00",
                "2025-02-27 17:00",
                Some("2025-03-02 10:00"),
                "e",
            ),
            // Not intake, and received after the period: counted nowhere.
            (
                "a7",
                "A",
                "PF",
                2,
                3,
                "2025-03-06 08:00",
                "2025-03-10 17:00",
                None,
                "dep",
            ),
            (
                "a8",
                "A",
                "PF",
                2,
                4,
                "2025-04-02 08:00",
                "2025-04-10 17:00",
                None,
                "dep",
            ),
            (
                "b1",
                "B",
                "PP",
                1,
                9,
                "2025-03-03 08:00",
                "2025-03-20 17:00",
                Some("2025-03-04 10:00"),
                "",
            ),
        ];
        let evaluation = |agency: &str, at: &str, rating: &str| EvaluationRow {
            dossier_code: None,
            agency_code: agency.into(),
            evaluated_at: Some(t(at)),
            rating: rating.into(),
        };
        SourceRows {
            procedures: vec![
                procedure("PF", "full", fee),
                procedure("PX", "full", fee),
                procedure("PP", "partial", fee.map(|_| false)),
            ],
            dossiers: specs
                .iter()
                .map(|s| DossierRow {
                    code: s.0.into(),
                    agency_code: s.1.into(),
                    procedure_code: s.2.into(),
                    channel: Some(s.3),
                    status: s.4,
                    received_at: Some(t(s.5)),
                    due_at: Some(t(s.6)),
                    finished_at: s.7.map(t),
                    digitized: s.8.contains('d'),
                    e_result: s.8.contains('e'),
                    paid_online: s.8.contains('p'),
                    updated_at: Some(t(s.5)),
                    ..DossierRow::default()
                })
                .collect(),
            evaluations: vec![
                evaluation("A", "2025-03-15 09:00", "dissatisfied"),
                evaluation("A", "2025-02-10 09:00", "dissatisfied"),
                evaluation("A", "2025-03-16 09:00", "satisfied"),
                evaluation("B", "2025-03-15 09:00", "dissatisfied"),
                evaluation("B", "2025-03-17 09:00", "dissatisfied"),
                evaluation("C", "2025-03-17 09:00", "dissatisfied"),
            ],
            ..SourceRows::default()
        }
    }

    fn march(table: &IndicatorTable, fee: Option<bool>) -> ServiceIndex {
        let ds = build_dataset(rows(fee));
        let cal = WorkCalendar::builtin();
        let (from, to) = "2025-03"
            .parse::<crate::report::PeriodName>()
            .unwrap()
            .bounds(PeriodConvention::Calendar);
        build_index(
            &Judge::new(&ds, &cal),
            table,
            "2025-03".into(),
            from,
            to,
            t("2025-04-10 12:00"),
        )
    }

    fn ind<'a>(row: &'a ScopeScore, id: &str) -> &'a IndicatorScore {
        row.indicators.iter().find(|i| i.indicator == id).unwrap()
    }

    fn fraction(row: &ScopeScore, id: &str) -> (Option<i64>, Option<u64>) {
        let i = ind(row, id);
        (i.numerator, i.denominator)
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn hand_computed_measures_points_and_scores() {
        let index = march(&IndicatorTable::shipped(), Some(true));
        let agencies: Vec<_> = index.rows.iter().map(|r| r.agency.as_deref()).collect();
        // C has only an evaluation: no intake, no row.
        assert_eq!(agencies, [Some("A"), Some("B"), None]);
        let (a, b, p) = (&index.rows[0], &index.rows[1], &index.rows[2]);
        let expect = [
            ("on_time", (3, 6), (1, 1), (4, 7)),
            ("online_full", (2, 3), (0, 0), (2, 3)),
            ("payment_procedures", (1, 2), (0, 0), (1, 2)),
            ("online_payment", (1, 3), (0, 0), (1, 3)),
            ("e_result", (2, 4), (0, 1), (2, 5)),
            ("digitized", (2, 5), (0, 1), (2, 6)),
            ("satisfaction", (2, 6), (-1, 1), (1, 7)),
        ];
        for (id, ea, eb, ep) in expect {
            for (row, (n, d)) in [(a, ea), (b, eb), (p, ep)] {
                assert_eq!(
                    fraction(row, id),
                    (Some(n), Some(d)),
                    "{id} {:?}",
                    row.agency
                );
            }
        }
        // Not applicable: no rate, no points, its maximum leaves the total.
        let na = ind(b, "online_full");
        assert_eq!((na.rate, na.points, na.max), (None, None, 12.0));
        // Satisfaction's negative numerator floors at 0 in the rate.
        assert_eq!(ind(b, "satisfaction").rate, Some(0.0));
        // Targets: 0.5 of 0.8 gives 5/8 of the maximum.
        close(
            ind(a, "payment_procedures").points.unwrap(),
            2.0 * 0.5 / 0.8,
        );
        close(ind(a, "digitized").points.unwrap(), 4.0 * 0.4 / 0.8);
        close(
            ind(a, "satisfaction").points.unwrap(),
            6.0 * (2.0 / 6.0) / 0.9,
        );
        let a_points = 10.0 + 8.0 + 1.25 + 2.0 + 3.0 + 2.0 + 6.0 * (2.0 / 6.0) / 0.9;
        close(a.points, a_points);
        assert_eq!(a.max, 56.0);
        close(a.score.unwrap(), 100.0 * a_points / 56.0);
        // B: on time 20 of 20, e_result, digitized and satisfaction 0.
        close(b.points, 20.0);
        assert_eq!(b.max, 20.0 + 6.0 + 4.0 + 6.0);
        // No declared value: declared indicators are listed for the
        // province only, without points, and leave its total.
        assert!(a.indicators.iter().all(|i| i.numerator.is_some()));
        let synced = ind(p, "synced");
        assert_eq!((synced.numerator, synced.points), (None, None));
        assert_eq!(p.max, 56.0);
    }

    #[test]
    fn without_has_fee_the_payment_indicators_are_not_applicable() {
        let index = march(&IndicatorTable::shipped(), None);
        for row in &index.rows {
            for id in ["payment_procedures", "online_payment"] {
                assert_eq!(fraction(row, id), (Some(0), Some(0)), "{id}");
                assert_eq!(ind(row, id).points, None);
            }
            assert!(fraction(row, "on_time").1.is_some_and(|d| d > 0));
        }
        assert_eq!(index.rows[0].max, 56.0 - 2.0 - 6.0);
    }

    #[test]
    fn declared_indicators_count_in_the_province_only() {
        let text = SHIPPED_FILE.replace(
            "name_en = \"Dossiers synced to the national portal\"\n",
            "name_en = \"Dossiers synced to the national portal\"\ndeclared_points = 5\n",
        );
        let text = text.replace(
            "name_en = \"Procedures published on time\"\n",
            "name_en = \"Procedures published on time\"\ndeclared_rate = 0.5\n",
        );
        let table = IndicatorTable::parse(&text, "test.toml").unwrap();
        assert!(table.warnings().is_empty());
        let declared: Vec<_> = table.declared().map(|(i, p)| (i.id.as_str(), p)).collect();
        assert_eq!(declared, [("published_on_time", 3.0), ("synced", 5.0)]);
        let plain = march(&IndicatorTable::shipped(), Some(true));
        let index = march(&table, Some(true));
        assert_eq!(index.rows[0], plain.rows[0]);
        let (p, before) = (&index.rows[2], &plain.rows[2]);
        close(p.points, before.points + 8.0);
        assert_eq!(p.max, before.max + 12.0);
        assert_eq!(ind(p, "synced").points, Some(5.0));
        close(p.score.unwrap(), 100.0 * p.points / p.max);
    }

    #[test]
    fn the_snapshot_measures_what_the_index_measures() {
        let ds = build_dataset(rows(Some(true)));
        let cal = WorkCalendar::builtin();
        let judge = Judge::new(&ds, &cal);
        let now = t("2025-03-31 12:00");
        let snapshot = crate::Snapshot::compute(&judge, now, PeriodConvention::Calendar);
        let (name, from, to) = snapshot.periods[0];
        let index = build_index(
            &judge,
            &IndicatorTable::shipped(),
            name.to_string(),
            from,
            to,
            now,
        );
        for row in &index.rows[..2] {
            let m = snapshot.index_measures(row.agency.as_deref().unwrap(), 0);
            for which in Measured::ALL {
                let got = m.get(which);
                assert_eq!(
                    fraction(row, which.id()),
                    (Some(got.numerator), Some(got.denominator)),
                    "{which:?}"
                );
            }
        }
        assert_eq!(snapshot.index_measures("C", 0), Measures::default());
    }

    fn error(text: &str) -> String {
        IndicatorTable::parse(text, "idx.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn file_errors_name_file_line_and_key() {
        let base = "[on_time]\ngroup = 2\nmax = 20\ntarget = 1\n";
        assert_eq!(
            error(&format!("{base}\n[on_tme]\ngroup = 2\nmax = 1\n")),
            "idx.toml: key `on_tme`: \"on_tme\" is not an indicator id of DESIGN §8, at line 6"
        );
        assert_eq!(
            error("[on_time]\ngroup = 2\nmax = \"twenty\"\n"),
            "idx.toml: key `on_time.max`: \"twenty\" is not a number, at line 3"
        );
        for bad in ["0", "1.5", "-0.2"] {
            let e = error(&format!(
                "[digitized]\ngroup = 5\nmax = 4\ntarget = {bad}\n"
            ));
            assert_eq!(
                e,
                format!("idx.toml: key `digitized.target`: {bad} is outside (0, 1], at line 4")
            );
        }
        let e = error("[on_time]\ngroup = 2\nmax = 20\ndeclared_points = 3\n");
        assert!(
            e.contains("`on_time.declared_points`") && e.contains("line 4"),
            "{e}"
        );
        let e = error("[on_time]\ngroup = 2\nmaxi = 20\n");
        assert!(e.starts_with("idx.toml: ") && e.contains("maxi"), "{e}");
        // Groups that no longer add up to 100 only warn.
        let table = IndicatorTable::parse(base, "idx.toml").unwrap();
        assert_eq!(table.indicators.len(), 1);
        assert!(
            table.warnings()[0].contains("add up to 20, not 100"),
            "{:?}",
            table.warnings()
        );
    }

    #[test]
    fn the_shipped_table_is_the_design_table() {
        let table = IndicatorTable::shipped();
        assert!(table.warnings().is_empty());
        assert_eq!(table.indicators.len(), 7 + DECLARED_IDS.len());
        let mut groups = [0.0; 6];
        for i in &table.indicators {
            groups[usize::from(i.group) - 1] += i.max;
        }
        assert_eq!(groups, [18.0, 20.0, 12.0, 10.0, 22.0, 18.0]);
        let targets: Vec<f64> = Measured::ALL
            .iter()
            .map(|m| table.measured(*m).unwrap().target)
            .collect();
        assert_eq!(targets, [1.0, 1.0, 0.8, 1.0, 1.0, 0.8, 0.9]);
    }
}
