//! The refresh loop, decoupled from scrapes: every `refresh_interval` it
//! reads the source, computes a [`Snapshot`] and publishes the encoded
//! metrics. One refresh at a time (a single task runs them in turn). On
//! failure the last good metrics stay published with `motcua_up 0`, and the
//! loop retries after 1 s, 2 s, 4 s … capped at the refresh interval, until
//! the source is back.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use motcua_queries::calendar::WorkCalendar;
use motcua_queries::incremental::{Ledger, Refresh};
use motcua_queries::report::PeriodConvention;
use motcua_queries::service_index::IndicatorTable;
use motcua_queries::shard::AgencyFilter;
use motcua_queries::{Dialect, Judge, Reader, Snapshot, SourceError, Ts, now_local};
use tokio::sync::watch;

use crate::config::{DatabaseUrl, Settings};
use crate::events::{FullReadForced, RefreshFailed, RefreshKind, RefreshSucceeded};
use crate::offsets::OffsetsFile;
use crate::state::Shared;

/// A refresh is abandoned after max(2 × refresh_interval, this).
pub const MIN_REFRESH_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a pipeline could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The calendar file, named in the message.
    #[error("{0}")]
    Calendar(String),
    #[error(transparent)]
    ServiceIndex(#[from] motcua_queries::service_index::IndexFileError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Why one refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("reading the source took longer than {}", humantime::format_duration(*.0))]
    TimedOut(Duration),
    #[error("a query ran longer than query_timeout ({})", humantime::format_duration(*.0))]
    QueryTimedOut(Duration),
    #[error("computing the snapshot failed: {0}")]
    Compute(String),
}

/// Everything one refresh needs: the source with its SQL files, the
/// calendar and the period convention. Replaced whole on SIGHUP.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub reader: Reader,
    /// The database URL with its password hidden, for logs.
    pub source_label: String,
    pub calendar: Arc<WorkCalendar>,
    /// The service index indicator table (DESIGN §8).
    pub service_index: Arc<IndicatorTable>,
    pub convention: PeriodConvention,
    pub refresh_interval: Duration,
    /// The longest one source statement may run (`query_timeout`).
    pub query_timeout: Duration,
    /// The agencies this exporter serves (all, unless sharded).
    pub agency_filter: AgencyFilter,
    /// How often a full read replaces incremental refreshes (0: always).
    pub full_resync_interval: Duration,
}

impl Pipeline {
    /// Loads the calendar and opens the source (without connecting).
    pub fn build(settings: &Settings, url: &DatabaseUrl) -> Result<Pipeline, SetupError> {
        let source = &settings.source;
        let calendar = source.load_calendar().map_err(SetupError::Calendar)?;
        let service_index = source.load_service_index()?;
        let reader = Reader::open(
            url.expose(),
            source.queries_dir.as_deref(),
            &source.connect_options(),
        )?;
        Ok(Pipeline {
            reader,
            source_label: url.redacted(),
            calendar: Arc::new(calendar),
            service_index,
            convention: source.period_convention,
            refresh_interval: settings.refresh_interval,
            query_timeout: source.query_timeout,
            agency_filter: settings.agency_filter.clone(),
            full_resync_interval: source.full_resync_interval,
        })
    }

    /// Checks that every SQL file runs on the source and yields its
    /// canonical columns.
    pub async fn check(&self) -> Result<(), SourceError> {
        self.reader.source.check(&self.reader.files).await
    }

    /// Reads the source and computes the snapshot as of now (local time in
    /// the calendar's zone).
    pub async fn snapshot(&self) -> Result<Snapshot, RefreshError> {
        self.snapshot_at(None).await
    }

    /// As [`Pipeline::snapshot`], at a given local instant (None: now).
    /// One pass over every row, kept as the reference the incremental path
    /// is held to (and for tools that want a single snapshot).
    pub async fn snapshot_at(&self, now: Option<Ts>) -> Result<Snapshot, RefreshError> {
        let zone = self.calendar.timezone();
        let dataset = self.limited(self.reader.read(zone)).await?;
        let calendar = Arc::clone(&self.calendar);
        let convention = self.convention;
        // Classifying hundreds of thousands of dossiers is CPU work: keep it
        // off the threads that answer scrapes.
        tokio::task::spawn_blocking(move || {
            let now = now.unwrap_or_else(|| now_local(calendar.timezone()));
            let judge = Judge::new(&dataset, &calendar);
            Snapshot::compute(&judge, now, convention)
        })
        .await
        .map_err(|e| RefreshError::Compute(e.to_string()))
    }

    /// A full read: the ledger for incremental refreshes and the snapshot.
    pub async fn load(&self, now: Ts) -> Result<(Ledger, Snapshot), RefreshError> {
        let load = Ledger::load(
            &self.reader.source,
            &self.reader.files,
            &self.calendar,
            self.convention,
            &self.agency_filter,
            now,
        );
        self.limited(load).await
    }

    /// An incremental refresh of `ledger`.
    pub async fn refresh(&self, ledger: &mut Ledger, now: Ts) -> Result<Refresh, RefreshError> {
        let refresh = ledger.refresh(&self.reader.source, &self.reader.files, &self.calendar, now);
        self.limited(refresh).await
    }

    /// Bounds a read of the source by `query_timeout`.
    async fn limited<T>(
        &self,
        read: impl Future<Output = Result<T, SourceError>>,
    ) -> Result<T, RefreshError> {
        if self.reader.source.dialect() == Dialect::Sqlite {
            // No server to cancel the statement: abandon the read instead
            // (dropping it interrupts the statement).
            tokio::time::timeout(self.query_timeout, read)
                .await
                .map_err(|_| RefreshError::QueryTimedOut(self.query_timeout))?
                .map_err(RefreshError::from)
        } else {
            // PostgreSQL and MariaDB cancel a statement over the limit
            // themselves (set on each connection) and report it as an error.
            Ok(read.await?)
        }
    }

    pub fn refresh_timeout(&self) -> Duration {
        (self.refresh_interval * 2).max(MIN_REFRESH_TIMEOUT)
    }
}

/// Wait before retry number `attempt` (1-based): 1 s, 2 s, 4 s … capped at `interval`.
pub fn backoff(attempt: u32, interval: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    Duration::from_secs(1u64 << exp).min(interval)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs refreshes in turn and publishes their outcome.
#[derive(Debug)]
pub struct Refresher {
    shared: Arc<Shared>,
    consecutive_failures: u32,
    /// The state for incremental refreshes; None until the first full read.
    ledger: Option<LedgerState>,
    /// Where the counter offsets are saved (None: kept in memory only).
    offsets_file: Option<OffsetsFile>,
    /// The last save failed (logged once until a save succeeds).
    offsets_save_failing: bool,
    /// The pipeline of the last published snapshot.
    published_pipeline: Option<usize>,
}

#[derive(Debug)]
struct LedgerState {
    ledger: Ledger,
    full_read_at: Instant,
    /// The pipeline it was read with: a new one (SIGHUP: other SQL files,
    /// calendar, filter) starts over with a full read.
    pipeline: usize,
}

/// Tells pipelines apart: each build loads its own calendar.
fn identity(pipeline: &Pipeline) -> usize {
    Arc::as_ptr(&pipeline.calendar) as usize
}

impl Refresher {
    pub fn new(shared: Arc<Shared>) -> Refresher {
        Refresher {
            shared,
            consecutive_failures: 0,
            ledger: None,
            offsets_file: None,
            offsets_save_failing: false,
            published_pipeline: None,
        }
    }

    /// Saves the counter offsets to `file` after each refresh that changed them.
    pub fn save_offsets_to(mut self, file: OffsetsFile) -> Refresher {
        self.offsets_file = Some(file);
        self
    }

    fn save_offsets(&mut self) {
        let Some(file) = &self.offsets_file else {
            return;
        };
        let Some(offsets) = self.shared.offsets_to_save() else {
            return;
        };
        match file.save(&offsets) {
            Ok(()) => self.offsets_save_failing = false,
            Err(e) => {
                if !self.offsets_save_failing {
                    crate::events::offsets_not_saved(&file.path, &e);
                }
                self.offsets_save_failing = true;
            }
        }
    }

    /// An incremental refresh when one is possible and due, else a full read.
    async fn snapshot(
        &mut self,
        pipeline: &Pipeline,
    ) -> Result<(Snapshot, RefreshKind), RefreshError> {
        let now = now_local(pipeline.calendar.timezone());
        if let Some(state) = &mut self.ledger
            && state.pipeline == identity(pipeline)
            && state.full_read_at.elapsed() < pipeline.full_resync_interval
        {
            // A failed incremental refresh keeps the ledger: nothing was applied.
            match pipeline.refresh(&mut state.ledger, now).await? {
                Refresh::Done { snapshot, changed } => {
                    let live = state.ledger.live_dossiers();
                    return Ok((snapshot, RefreshKind::Incremental { changed, live }));
                }
                Refresh::FullReadNeeded(reason) => self.shared.emit(FullReadForced {
                    source: &pipeline.source_label,
                    reason: &reason,
                }),
            }
        }
        self.ledger = None;
        let (ledger, snapshot) = pipeline.load(now).await?;
        let live = ledger.live_dossiers();
        self.ledger = Some(LedgerState {
            ledger,
            full_read_at: Instant::now(),
            pipeline: identity(pipeline),
        });
        Ok((snapshot, RefreshKind::Full { live }))
    }

    /// One refresh: publishes the new snapshot, or records the failure and
    /// keeps the last good one. Returns how long to wait before the next.
    pub async fn refresh_once(&mut self, pipeline: &Pipeline) -> Duration {
        let started = Instant::now();
        let timeout = pipeline.refresh_timeout();
        let result = match tokio::time::timeout(timeout, self.snapshot(pipeline)).await {
            Ok(r) => r,
            Err(_) => Err(RefreshError::TimedOut(timeout)),
        };
        let duration = started.elapsed();
        match result {
            Ok((mut snapshot, kind)) => {
                snapshot.service_index = Arc::clone(&pipeline.service_index);
                let dossiers = snapshot
                    .by_agency_sector
                    .values()
                    .map(|s| s.received.iter().sum::<u64>() as usize)
                    .sum();
                let rejected_rows = snapshot.rejected.iter().map(|(_, n)| n).sum();
                let event = RefreshSucceeded {
                    source: &pipeline.source_label,
                    duration,
                    finished_unix: unix_now(),
                    dossiers,
                    rejected_rows,
                    recovered_after: self.consecutive_failures,
                    kind,
                };
                let this_pipeline = identity(pipeline);
                if self
                    .published_pipeline
                    .is_some_and(|last| last != this_pipeline)
                {
                    self.shared.pipeline_changed();
                }
                self.published_pipeline = Some(this_pipeline);
                self.shared.publish(snapshot, event);
                self.save_offsets();
                self.consecutive_failures = 0;
                pipeline.refresh_interval.saturating_sub(duration)
            }
            Err(error) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let retry_in = backoff(self.consecutive_failures, pipeline.refresh_interval);
                self.shared
                    .set_last_error(crate::events::error_chain(&error));
                self.shared.emit(RefreshFailed {
                    source: &pipeline.source_label,
                    error: &error,
                    duration,
                    attempt: self.consecutive_failures,
                    retry_in,
                });
                retry_in
            }
        }
    }

    /// Refreshes until `shutdown` turns true. A new pipeline (SIGHUP)
    /// triggers a refresh at once.
    pub async fn run(
        mut self,
        mut pipeline: watch::Receiver<Arc<Pipeline>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let current = Arc::clone(&pipeline.borrow_and_update());
            let wait = tokio::select! {
                wait = self.refresh_once(&current) => wait,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = pipeline.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let minute = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=8).map(|a| backoff(a, minute).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(1000, minute), minute);
        assert_eq!(backoff(3, Duration::from_secs(3)), Duration::from_secs(3));
    }
}
