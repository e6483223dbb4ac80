//! Counter offsets (DESIGN §10): no exported counter series ever falls.
//!
//! Counters are recomputed from the source on every refresh, and sources get
//! corrected (a dossier moved to another agency, a test dossier deleted, a
//! finished_at fixed, a status set back). A recomputed counter can then fall,
//! and Prometheus reads any fall as a reset: `increase()` jumps by the whole
//! value and the SLO burn-rate alerts page for nothing. So each counter
//! series, and each `_bucket`, `_count` and `_sum` of a histogram, is
//! exported as its recomputed (raw) value plus an offset equal to its
//! cumulative falls; later rises show as rises.
//!
//! Offsets are applied to the encoded families, after they are built and
//! before they are written, so every counter family present or future is
//! covered without knowing what it means. Gauges are left as they are.
//!
//! Buckets stay cumulative: per-bucket offsets alone could put a lower `le`
//! above a higher one (an observation that moves from one bucket to another
//! and back leaves an offset on the lower bucket only), so each bucket is
//! exported as at least the bucket below it, and `_count` as at least the
//! last bucket. A maximum of non-decreasing series never decreases, so this
//! keeps both properties.
//!
//! The offsets survive restarts in a small TOML file under `data_dir`
//! ([`OffsetsFile`]), written atomically after each refresh that changed the
//! state. The state holds each series' last raw value too, since a fall that
//! happens while the exporter is stopped is only seen against it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use prometheus::proto::{LabelPair, MetricFamily, MetricType};
use serde::{Deserialize, Serialize};

/// The state file's name under `data_dir`.
pub const FILE_NAME: &str = "counter-offsets.toml";

/// The state file's format version: a file of another version is set aside.
const VERSION: u32 = 1;

/// The family that counts what the offsets absorbed.
pub const CORRECTIONS_FAMILY: &str = "motcua_counter_corrections_total";

/// One series: its last raw (recomputed) value and its offset.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
struct Entry {
    raw: f64,
    offset: f64,
}

/// The offsets of every counter series seen, and what they absorbed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CounterOffsets {
    /// Keyed by the series as it is written: `name{label="value",…}`.
    series: HashMap<String, Entry>,
    /// Falls absorbed since the state began, by exposed series name
    /// (`…_total`, `…_bucket`, `…_count`, `…_sum`).
    corrections: BTreeMap<String, f64>,
    /// Changed since the last save.
    dirty: bool,
}

/// What one application absorbed in one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Absorbed {
    pub metric: String,
    pub amount: f64,
}

impl CounterOffsets {
    /// Applies the offsets to every counter and histogram series of
    /// `families` but the [`crate::metrics::PROCESS_COUNTERS`], learning from the raw values. With `prune`, the series not
    /// in `families` are forgotten (a new pipeline: other SQL, another
    /// agency filter). Returns the falls absorbed now, by metric.
    pub fn apply(&mut self, families: &mut [MetricFamily], prune: bool) -> Vec<Absorbed> {
        let mut absorbed: BTreeMap<String, f64> = BTreeMap::new();
        let mut seen = prune.then(|| std::collections::HashSet::with_capacity(self.series.len()));
        let mut key = String::new();
        for family in families.iter_mut() {
            let kind = family.get_field_type();
            if kind != MetricType::COUNTER && kind != MetricType::HISTOGRAM
                || crate::metrics::PROCESS_COUNTERS.contains(&family.name())
            {
                continue;
            }
            let name = family.name().to_owned();
            for metric in family.mut_metric().iter_mut() {
                let labels = metric.get_label().to_vec();
                if kind == MetricType::COUNTER {
                    series_key(&mut key, &name, &labels, None);
                    let raw = metric.get_counter().get_value();
                    let v = self.adjust(&key, &name, raw, &mut absorbed);
                    let mut c = (*metric.get_counter()).clone();
                    c.set_value(v);
                    metric.set_counter(c);
                    mark(&mut seen, &key);
                    continue;
                }
                let bucket_name = format!("{name}_bucket");
                let count_name = format!("{name}_count");
                let sum_name = format!("{name}_sum");
                let mut h = (*metric.get_histogram()).clone();
                let mut buckets = h.get_bucket().to_vec();
                let mut below = 0.0_f64;
                for bucket in buckets.iter_mut() {
                    let le = prometheus_le(bucket.upper_bound());
                    series_key(&mut key, &bucket_name, &labels, Some(&le));
                    let raw = bucket.cumulative_count() as f64;
                    let v = self
                        .adjust(&key, &bucket_name, raw, &mut absorbed)
                        .max(below);
                    below = v;
                    bucket.set_cumulative_count(v as u64);
                    mark(&mut seen, &key);
                }
                h.set_bucket(buckets);
                series_key(&mut key, &count_name, &labels, None);
                let raw = h.get_sample_count() as f64;
                let count = self
                    .adjust(&key, &count_name, raw, &mut absorbed)
                    .max(below);
                h.set_sample_count(count as u64);
                mark(&mut seen, &key);
                series_key(&mut key, &sum_name, &labels, None);
                let raw = h.get_sample_sum();
                let sum = self.adjust(&key, &sum_name, raw, &mut absorbed);
                h.set_sample_sum(sum);
                metric.set_histogram(h);
                mark(&mut seen, &key);
            }
        }
        if let Some(seen) = seen {
            let before = self.series.len();
            self.series.retain(|k, _| seen.contains(k));
            self.dirty |= self.series.len() != before;
        }
        for (metric, amount) in &absorbed {
            *self.corrections.entry(metric.clone()).or_default() += amount;
        }
        absorbed
            .into_iter()
            .map(|(metric, amount)| Absorbed { metric, amount })
            .collect()
    }

    /// The exported value of one series with raw value `raw`.
    fn adjust(
        &mut self,
        key: &str,
        metric: &str,
        raw: f64,
        absorbed: &mut BTreeMap<String, f64>,
    ) -> f64 {
        match self.series.get_mut(key) {
            Some(e) => {
                if raw < e.raw {
                    let fall = e.raw - raw;
                    e.offset += fall;
                    *absorbed.entry(metric.to_owned()).or_default() += fall;
                }
                if raw != e.raw {
                    e.raw = raw;
                    self.dirty = true;
                }
                raw + e.offset
            }
            None => {
                self.series
                    .insert(key.to_owned(), Entry { raw, offset: 0.0 });
                self.dirty = true;
                raw
            }
        }
    }

    /// `motcua_counter_corrections_total{metric}`: one series per metric
    /// that ever absorbed a fall (none before the first).
    pub fn corrections_family(&self) -> MetricFamily {
        let mut family = MetricFamily::default();
        family.set_name(CORRECTIONS_FAMILY.to_owned());
        family.set_help(
            "Falls of recomputed counter series (source corrections: a dossier moved, deleted, \
             re-dated or set back) absorbed by offsets so that no exported counter decreases, \
             by exposed series name."
                .to_owned(),
        );
        family.set_field_type(MetricType::COUNTER);
        for (metric, amount) in &self.corrections {
            let mut label = LabelPair::default();
            label.set_name("metric".to_owned());
            label.set_value(metric.clone());
            let mut m = prometheus::proto::Metric::from_label(vec![label]);
            let mut c = prometheus::proto::Counter::default();
            c.set_value(*amount);
            m.set_counter(c);
            family.mut_metric().push(m);
        }
        family
    }

    /// The offset of one series, as written `name{label="value",…}`
    /// (labels in output order): for tests and tools.
    pub fn offset_of(&self, series: &str) -> Option<f64> {
        self.series.get(series).map(|e| e.offset)
    }

    /// Whether anything changed since the last [`CounterOffsets::mark_saved`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn mark_saved(&mut self) {
        self.dirty = false;
    }
}

fn mark(seen: &mut Option<std::collections::HashSet<String>>, key: &str) {
    if let Some(seen) = seen {
        seen.insert(key.to_owned());
    }
}

/// `le` as the text format writes it.
fn prometheus_le(bound: f64) -> String {
    if bound == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        bound.to_string()
    }
}

fn series_key(out: &mut String, name: &str, labels: &[LabelPair], le: Option<&str>) {
    out.clear();
    out.push_str(name);
    out.push('{');
    let mut first = true;
    for l in labels {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{}={:?}", l.name(), l.value());
    }
    if let Some(le) = le {
        if !first {
            out.push(',');
        }
        let _ = write!(out, "le={le:?}");
    }
    out.push('}');
}

/// The state file as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    #[serde(default)]
    corrections: BTreeMap<String, f64>,
    /// Series → [last raw value, offset].
    #[serde(default)]
    series: BTreeMap<String, (f64, f64)>,
}

/// Where the offsets are kept, and what happened when they were read.
#[derive(Debug)]
pub struct OffsetsFile {
    pub path: PathBuf,
}

/// How loading the state file went.
#[derive(Debug, PartialEq)]
pub enum Loaded {
    /// Read: the series it held.
    Read { series: usize },
    /// No file: starting from zero.
    Missing,
    /// Unreadable, foreign or of another version: set aside under
    /// `set_aside` (None when even that failed), starting from zero.
    SetAside {
        reason: String,
        set_aside: Option<PathBuf>,
    },
}

impl OffsetsFile {
    pub fn in_dir(data_dir: &Path) -> OffsetsFile {
        OffsetsFile {
            path: data_dir.join(FILE_NAME),
        }
    }

    /// Reads the offsets. Never fails: a file that cannot be used is set
    /// aside (renamed with a `.bad-<unix time>` suffix) and the state
    /// starts from zero, since refusing to start would be worse than one
    /// possible false reset.
    pub fn load(&self) -> (CounterOffsets, Loaded) {
        let text = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (CounterOffsets::default(), Loaded::Missing);
            }
            Err(e) => return (CounterOffsets::default(), self.set_aside(e.to_string())),
        };
        let parsed = std::str::from_utf8(&text)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str::<StateFile>(t).map_err(|e| e.to_string()));
        match parsed {
            Ok(file) if file.version == VERSION => {
                let series = file
                    .series
                    .into_iter()
                    .map(|(k, (raw, offset))| (k, Entry { raw, offset }))
                    .collect::<HashMap<_, _>>();
                let n = series.len();
                let offsets = CounterOffsets {
                    series,
                    corrections: file.corrections,
                    dirty: false,
                };
                (offsets, Loaded::Read { series: n })
            }
            Ok(file) => (
                CounterOffsets::default(),
                self.set_aside(format!(
                    "version {} is not the version this exporter writes ({VERSION})",
                    file.version
                )),
            ),
            Err(e) => (CounterOffsets::default(), self.set_aside(e)),
        }
    }

    fn set_aside(&self, reason: String) -> Loaded {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut aside = self.path.clone().into_os_string();
        aside.push(format!(".bad-{stamp}"));
        let aside = PathBuf::from(aside);
        let set_aside = std::fs::rename(&self.path, &aside).ok().map(|()| aside);
        // One log line: parse errors come over several.
        let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        Loaded::SetAside { reason, set_aside }
    }

    /// Writes the offsets atomically: a temporary file beside the target,
    /// fsync, rename, then fsync of the directory so the rename is durable.
    pub fn save(&self, offsets: &CounterOffsets) -> std::io::Result<()> {
        let file = StateFile {
            version: VERSION,
            corrections: offsets.corrections.clone(),
            series: offsets
                .series
                .iter()
                .map(|(k, e)| (k.clone(), (e.raw, e.offset)))
                .collect(),
        };
        let body = toml::to_string(&file).map_err(std::io::Error::other)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(
                b"# motcua-exporter counter offsets (DESIGN \xc2\xa710). Written by the exporter;\n\
                  # delete it to start from zero (Prometheus may then see one reset).\n",
            )?;
            f.write_all(body.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::proto::{Bucket, Counter, Histogram, Metric};

    fn counter(name: &str, labels: &[(&str, &str)], v: f64) -> MetricFamily {
        let mut f = MetricFamily::default();
        f.set_name(name.to_owned());
        f.set_field_type(MetricType::COUNTER);
        let mut m = Metric::from_label(
            labels
                .iter()
                .map(|(n, v)| {
                    let mut l = LabelPair::default();
                    l.set_name((*n).to_owned());
                    l.set_value((*v).to_owned());
                    l
                })
                .collect(),
        );
        let mut c = Counter::default();
        c.set_value(v);
        m.set_counter(c);
        f.mut_metric().push(m);
        f
    }

    fn value(f: &MetricFamily) -> f64 {
        f.get_metric()[0].get_counter().get_value()
    }

    /// A histogram with bounds 1, 5 and the given observations.
    fn histogram(observations: &[f64]) -> MetricFamily {
        let mut f = MetricFamily::default();
        f.set_name("h".to_owned());
        f.set_field_type(MetricType::HISTOGRAM);
        let mut h = Histogram::default();
        h.set_bucket(
            [1.0, 5.0]
                .iter()
                .map(|&le| {
                    let mut b = Bucket::default();
                    b.set_upper_bound(le);
                    b.set_cumulative_count(observations.iter().filter(|&&o| o <= le).count() as u64);
                    b
                })
                .collect(),
        );
        h.set_sample_count(observations.len() as u64);
        h.set_sample_sum(observations.iter().sum());
        let mut m = Metric::default();
        m.set_histogram(h);
        f.mut_metric().push(m);
        f
    }

    /// (bucket le=1, bucket le=5, count, sum) as exported.
    fn exported(f: &MetricFamily) -> (u64, u64, u64, f64) {
        let h = f.get_metric()[0].get_histogram();
        (
            h.get_bucket()[0].cumulative_count(),
            h.get_bucket()[1].cumulative_count(),
            h.get_sample_count(),
            h.get_sample_sum(),
        )
    }

    #[test]
    fn a_fall_becomes_an_offset_and_later_rises_show() {
        let mut o = CounterOffsets::default();
        let run = |o: &mut CounterOffsets, raw: f64| {
            let mut fams = [counter("c_total", &[("agency", "A")], raw)];
            let absorbed = o.apply(&mut fams, false);
            (value(&fams[0]), absorbed)
        };
        assert_eq!(run(&mut o, 10.0).0, 10.0);
        let (v, absorbed) = run(&mut o, 7.0);
        assert_eq!(v, 10.0);
        assert_eq!(
            absorbed,
            [Absorbed {
                metric: "c_total".into(),
                amount: 3.0
            }]
        );
        assert_eq!(run(&mut o, 9.0), (12.0, vec![]));
        assert_eq!(run(&mut o, 8.0).0, 12.0);
        assert_eq!(o.offset_of("c_total{agency=\"A\"}"), Some(4.0));
        let corrections = o.corrections_family();
        assert_eq!(corrections.get_metric()[0].get_counter().get_value(), 4.0);
    }

    #[test]
    fn the_exporters_own_counters_restart_with_it() {
        let mut o = CounterOffsets::default();
        for raw in [20.0, 1.0] {
            let mut fams = [counter("motcua_refreshes_total", &[], raw)];
            o.apply(&mut fams, false);
            assert_eq!(value(&fams[0]), raw);
        }
        assert!(o.corrections.is_empty() && o.series.is_empty());
    }

    #[test]
    fn gauges_are_untouched() {
        let mut o = CounterOffsets::default();
        for raw in [10.0, 3.0] {
            let mut fams = [counter("g", &[], raw)];
            fams[0].set_field_type(MetricType::GAUGE);
            let mut m = Metric::default();
            let mut g = prometheus::proto::Gauge::default();
            g.set_value(raw);
            m.set_gauge(g);
            fams[0].mut_metric()[0] = m;
            o.apply(&mut fams, false);
            assert_eq!(fams[0].get_metric()[0].get_gauge().get_value(), raw);
        }
        assert!(o.corrections.is_empty());
    }

    #[test]
    fn an_observation_moving_between_buckets_back_and_forth_keeps_everything_monotonic() {
        let mut o = CounterOffsets::default();
        // One observation at 3, moved to 0.5 and back, twice; then another at 0.5 arrives.
        let steps: [&[f64]; 6] = [&[3.0], &[0.5], &[3.0], &[0.5], &[3.0], &[3.0, 0.5]];
        let mut previous = (0, 0, 0, 0.0);
        for (i, obs) in steps.iter().enumerate() {
            let mut fams = [histogram(obs)];
            o.apply(&mut fams, false);
            let now = exported(&fams[0]);
            assert!(
                now.0 <= now.1 && now.1 <= now.2,
                "step {i}: not cumulative: {now:?}"
            );
            assert!(
                now.0 >= previous.0
                    && now.1 >= previous.1
                    && now.2 >= previous.2
                    && now.3 >= previous.3,
                "step {i}: fell from {previous:?} to {now:?}"
            );
            previous = now;
        }
        // le=1 fell twice (2 absorbed), the sum fell by 2.5 twice.
        assert_eq!(o.corrections.get("h_bucket"), Some(&2.0));
        assert_eq!(o.corrections.get("h_sum"), Some(&5.0));
        assert_eq!(o.corrections.get("h_count"), None);
        // The last step is a real rise of every series (one more observation ≤ 1).
        assert_eq!(previous, (3, 3, 3, 3.0 + 0.5 + 5.0));
    }

    #[test]
    fn prune_forgets_series_that_are_gone() {
        let mut o = CounterOffsets::default();
        let mut fams = [counter("a_total", &[], 5.0), counter("b_total", &[], 5.0)];
        o.apply(&mut fams, false);
        let mut fams = [counter("a_total", &[], 4.0)];
        o.apply(&mut fams, false);
        assert_eq!(o.offset_of("b_total{}"), Some(0.0));
        o.apply(&mut fams, true);
        assert_eq!(o.offset_of("b_total{}"), None);
        assert_eq!(o.offset_of("a_total{}"), Some(1.0));
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("motcua-offsets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn state_round_trips_and_catches_a_fall_across_a_restart() {
        let dir = temp_dir("roundtrip");
        let file = OffsetsFile::in_dir(&dir);
        let (mut o, loaded) = file.load();
        assert_eq!(loaded, Loaded::Missing);
        let mut fams = [counter("c_total", &[("agency", "Q\"x")], 10.0)];
        o.apply(&mut fams, false);
        let mut fams = [counter("c_total", &[("agency", "Q\"x")], 8.0)];
        o.apply(&mut fams, false);
        assert!(o.is_dirty());
        file.save(&o).unwrap();
        // A restart, and the source fell again while stopped.
        let (mut again, loaded) = file.load();
        assert_eq!(loaded, Loaded::Read { series: 1 });
        let mut fams = [counter("c_total", &[("agency", "Q\"x")], 7.0)];
        again.apply(&mut fams, false);
        assert_eq!(value(&fams[0]), 10.0);
        assert_eq!(again.corrections.get("c_total"), Some(&3.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_and_foreign_files_are_set_aside() {
        for (name, body) in [
            ("corrupt", "version = 1\nseries = [[[\n"),
            ("foreign", "[server]\nport = 80\n"),
            ("other-version", "version = 99\n"),
        ] {
            let dir = temp_dir(name);
            let file = OffsetsFile::in_dir(&dir);
            std::fs::write(&file.path, body).unwrap();
            let (o, loaded) = file.load();
            assert_eq!(o, CounterOffsets::default());
            match loaded {
                Loaded::SetAside {
                    reason,
                    set_aside: Some(aside),
                } => {
                    assert!(!reason.is_empty());
                    assert_eq!(std::fs::read_to_string(&aside).unwrap(), body, "{name}");
                    assert!(!file.path.exists(), "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
