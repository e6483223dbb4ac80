//! Internal events: one type per thing that happens to the exporter. Each
//! event updates the exporter's self-metrics and logs exactly one line, so
//! the log and `/metrics` always tell the same story.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tracing::{error, info, warn};

use crate::metrics::RefreshStatus;

/// Something that happened, with its effect on the self-metrics.
pub trait InternalEvent {
    /// Applies the event to the self-metrics.
    fn update(&self, status: &mut RefreshStatus);
    /// Logs the event: one line.
    fn log(&self);
    /// Both, in order (the [`crate::state::Shared`] publishes between them,
    /// so a logged event is already visible on `/metrics`).
    fn emit(self, status: &mut RefreshStatus)
    where
        Self: Sized,
    {
        self.update(status);
        self.log();
    }
}

/// How a refresh read the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshKind {
    /// Every row; `live` dossiers kept for the incremental refreshes that follow.
    Full { live: usize },
    /// Only the `changed` dossiers; `live` held after it.
    Incremental { changed: usize, live: usize },
}

impl RefreshKind {
    pub fn label(self) -> &'static str {
        match self {
            RefreshKind::Full { .. } => "full",
            RefreshKind::Incremental { .. } => "incremental",
        }
    }

    fn live(self) -> usize {
        match self {
            RefreshKind::Full { live } | RefreshKind::Incremental { live, .. } => live,
        }
    }
}

/// A refresh read the source and published new metrics.
#[derive(Debug)]
pub struct RefreshSucceeded<'a> {
    pub source: &'a str,
    pub duration: Duration,
    pub finished_unix: f64,
    pub dossiers: usize,
    pub rejected_rows: u64,
    /// Consecutive failures this success ends (0 when none).
    pub recovered_after: u32,
    pub kind: RefreshKind,
}

impl InternalEvent for RefreshSucceeded<'_> {
    fn update(&self, status: &mut RefreshStatus) {
        status.up = true;
        status.last_success_unix = self.finished_unix;
        status.last_duration_seconds = self.duration.as_secs_f64();
        match self.kind {
            RefreshKind::Full { .. } => status.full_refreshes += 1,
            RefreshKind::Incremental { .. } => status.incremental_refreshes += 1,
        }
        status.live_dossiers = self.kind.live() as u64;
    }

    fn log(&self) {
        let changed = match self.kind {
            RefreshKind::Incremental { changed, .. } => changed,
            RefreshKind::Full { .. } => self.dossiers,
        };
        if self.recovered_after > 0 {
            info!(
                source = self.source,
                kind = self.kind.label(),
                duration_s = format_args!("{:.3}", self.duration.as_secs_f64()),
                dossiers = self.dossiers,
                read = changed,
                rejected_rows = self.rejected_rows,
                failed_attempts = self.recovered_after,
                "refresh succeeded again: source is back"
            );
        } else {
            info!(
                source = self.source,
                kind = self.kind.label(),
                duration_s = format_args!("{:.3}", self.duration.as_secs_f64()),
                dossiers = self.dossiers,
                read = changed,
                rejected_rows = self.rejected_rows,
                "refresh succeeded"
            );
        }
    }
}

/// An incremental refresh could not be exact, so this refresh reads everything.
#[derive(Debug)]
pub struct FullReadForced<'a> {
    pub source: &'a str,
    pub reason: &'a str,
}

impl InternalEvent for FullReadForced<'_> {
    fn update(&self, status: &mut RefreshStatus) {
        status.forced_full_reads += 1;
    }

    fn log(&self) {
        info!(
            source = self.source,
            reason = self.reason,
            "reading the whole source instead of the changes"
        );
    }
}

/// A refresh attempt failed; the last good metrics stay published.
#[derive(Debug)]
pub struct RefreshFailed<'a> {
    pub source: &'a str,
    pub error: &'a (dyn std::error::Error + 'static),
    pub duration: Duration,
    /// Consecutive failed attempts, this one included.
    pub attempt: u32,
    pub retry_in: Duration,
}

impl InternalEvent for RefreshFailed<'_> {
    fn update(&self, status: &mut RefreshStatus) {
        status.up = false;
        status.failures_total += 1;
        status.last_duration_seconds = self.duration.as_secs_f64();
    }

    fn log(&self) {
        warn!(
            source = self.source,
            attempt = self.attempt,
            retry_in = %humantime::format_duration(self.retry_in),
            "refresh failed, keeping the last good metrics: {}",
            error_chain(self.error)
        );
    }
}

/// A SIGHUP reload was applied.
#[derive(Debug)]
pub struct ConfigReloaded<'a> {
    pub config_file: Option<&'a Path>,
    pub source: &'a str,
}

impl InternalEvent for ConfigReloaded<'_> {
    fn update(&self, status: &mut RefreshStatus) {
        status.config_reload_ok = true;
    }

    fn log(&self) {
        info!(
            config = %self.config_file.map_or_else(|| "(none)".into(), |p| p.display().to_string()),
            source = self.source,
            "configuration reloaded"
        );
    }
}

/// A SIGHUP reload was refused; the previous configuration keeps running.
#[derive(Debug)]
pub struct ConfigReloadFailed<'a> {
    pub error: &'a (dyn std::error::Error + 'static),
}

impl InternalEvent for ConfigReloadFailed<'_> {
    fn update(&self, status: &mut RefreshStatus) {
        status.config_reload_ok = false;
    }

    fn log(&self) {
        error!(
            "configuration reload refused, keeping the running configuration: {}",
            error_chain(self.error)
        );
    }
}

/// A refresh absorbed falls of recomputed counters (a source correction):
/// counted in `motcua_counter_corrections_total` by the offsets themselves.
#[derive(Debug)]
pub struct CountersCorrected<'a> {
    pub absorbed: &'a [crate::offsets::Absorbed],
}

impl CountersCorrected<'_> {
    pub fn log(&self) {
        let absorbed = self
            .absorbed
            .iter()
            .map(|a| format!("{}={}", a.metric, a.amount))
            .collect::<Vec<_>>()
            .join(" ");
        info!(
            %absorbed,
            "counters fell after a source correction; offsets keep them from decreasing"
        );
    }
}

/// How reading the counter offsets' state file went at start.
pub fn offsets_loaded(path: &Path, loaded: &crate::offsets::Loaded) {
    use crate::offsets::Loaded;
    match loaded {
        Loaded::Read { series } => {
            info!(file = %path.display(), series, "counter offsets read")
        }
        Loaded::Missing => info!(
            file = %path.display(),
            "no counter offsets file yet: counters start from their recomputed values"
        ),
        Loaded::SetAside { reason, set_aside } => warn!(
            file = %path.display(),
            set_aside = %set_aside.as_ref().map_or_else(|| "(could not be renamed)".into(), |p| p.display().to_string()),
            "counter offsets file not usable, starting from zero (Prometheus may see one reset): {reason}"
        ),
    }
}

/// Writing the counter offsets failed: they are kept in memory and the
/// write is retried after the next change.
pub fn offsets_not_saved(path: &Path, error: &std::io::Error) {
    warn!(
        file = %path.display(),
        "cannot write the counter offsets (kept in memory; a restart may show one reset): {error}"
    );
}

/// Events that change no metric: log only.
pub fn listening(addr: SocketAddr) {
    info!(%addr, "serving /metrics, /healthz, /readyz and /");
}

pub fn source_checked(source: &str) {
    info!(source, "SQL files checked against the source database");
}

pub fn source_unavailable_at_start(source: &str, error: &(dyn std::error::Error + 'static)) {
    warn!(
        source,
        "source database unreachable at start; serving motcua_up 0 and retrying: {}",
        error_chain(error)
    );
}

pub fn demo_ready(path: &Path, generated: bool) {
    if generated {
        info!(path = %path.display(), "demo database generated");
    } else {
        info!(path = %path.display(), "using the existing demo database");
    }
}

pub fn refresh_priority_unchanged(error: &str) {
    warn!("cannot lower the refresh thread's CPU priority; refreshing at normal priority: {error}");
}

pub fn refresh_affinity_unchanged(error: &str) {
    warn!("cannot keep the refresh thread off one CPU; refreshing on every CPU: {error}");
}

pub fn reload_requested() {
    info!("SIGHUP received: reloading configuration, calendar and SQL files");
}

pub fn shutting_down() {
    info!("shutting down");
}

/// An error and its causes on one line, each cause once (many errors
/// already repeat their source in their own message).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer failed: {0}")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner\nbroke")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn chain_is_one_line_without_repeats() {
        let e = Outer(Inner(std::io::Error::other("disk on fire")));
        assert_eq!(error_chain(&e), "outer failed: inner broke: disk on fire");
    }

    #[test]
    fn events_update_status() {
        let mut st = RefreshStatus::default();
        let err = std::io::Error::other("down");
        RefreshFailed {
            source: "sqlite:x",
            error: &err,
            duration: Duration::from_millis(1500),
            attempt: 1,
            retry_in: Duration::from_secs(1),
        }
        .emit(&mut st);
        assert!(!st.up);
        assert_eq!(st.failures_total, 1);
        assert_eq!(st.last_duration_seconds, 1.5);
        RefreshSucceeded {
            source: "sqlite:x",
            duration: Duration::from_millis(250),
            finished_unix: 42.0,
            dossiers: 1,
            rejected_rows: 0,
            recovered_after: 1,
            kind: RefreshKind::Incremental {
                changed: 3,
                live: 100,
            },
        }
        .emit(&mut st);
        assert!(st.up);
        assert_eq!(st.failures_total, 1, "a success does not reset the counter");
        assert_eq!(st.last_success_unix, 42.0);
        assert_eq!((st.incremental_refreshes, st.full_refreshes), (1, 0));
        assert_eq!(st.live_dossiers, 100);
        FullReadForced {
            source: "sqlite:x",
            reason: "a new report period began",
        }
        .emit(&mut st);
        assert_eq!(st.forced_full_reads, 1);
        ConfigReloadFailed { error: &err }.emit(&mut st);
        assert!(!st.config_reload_ok);
        ConfigReloaded {
            config_file: None,
            source: "sqlite:x",
        }
        .emit(&mut st);
        assert!(st.config_reload_ok);
    }
}
