//! The judged data, loaded and kept: every chart and report of the next
//! `cache_ttl` is drawn from the same data. When the data is older than the
//! TTL, the next request still gets it at once and a reload starts in the
//! background (one at a time). A reload reads only what changed, as the
//! exporter does (`motcua_queries::incremental`), with a full read every
//! `full_resync_interval`; the history is held as summed days
//! (`motcua_queries::daily`), the open dossiers individually.
//!
//! Loads always run in the background. Until the first one has finished,
//! [`Store::get`] (what every page calls for its data) waits for it at most
//! [`FIRST_LOAD_WAIT`], then gives up with [`Unavailable::Loading`]; while
//! the source is down and nothing is cached it answers
//! [`Unavailable::Down`] at once, and the source is retried at most every
//! [`RETRY_AFTER`]. The HTTP side turns both into 503 with `Retry-After`.
//! [`Store::readiness`] tells the same without ever waiting (`/readyz`).

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::FixedOffset;
use motcua_queries::daily::{DailySums, Frame, View};
use motcua_queries::incremental::{Ledger, Refresh};
use motcua_queries::report::PeriodConvention;
use motcua_queries::shard::AgencyFilter;
use motcua_queries::{Dataset, Dialect, Reader, Ts, WorkCalendar, now_local};

/// Retry a failed load no more often than this while nothing is cached;
/// also the `Retry-After` of a 503.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How long a page waits for the first load before answering 503: long
/// enough for a small province to be served at once, short enough that no
/// browser, proxy or client timeout fires first (a 10-million-dossier
/// source takes 10–15 s).
pub const FIRST_LOAD_WAIT: Duration = Duration::from_secs(5);

/// A dataset and when it was read: its individual dossiers (all of them,
/// or, when the store sums, the open ones and those not ended by the read)
/// and the summed days of the others (`motcua_queries::daily`).
#[derive(Debug)]
pub struct Loaded {
    pub dataset: Dataset,
    pub sums: Vec<Arc<DailySums>>,
    /// Local wall-clock time of the read.
    pub loaded_at: Ts,
    loaded: Instant,
}

impl Loaded {
    pub fn new(dataset: Dataset, loaded_at: Ts) -> Self {
        Loaded::of_frame(Frame::of(dataset), loaded_at)
    }

    pub fn of_frame(frame: Frame, loaded_at: Ts) -> Self {
        Loaded {
            dataset: frame.dataset,
            sums: frame.sums,
            loaded_at,
            loaded: Instant::now(),
        }
    }

    /// What every chart, report and index is drawn from.
    pub fn view<'a>(&'a self, calendar: &'a WorkCalendar) -> View<'a> {
        self.sums.iter().fold(
            View::of(motcua_queries::Judge::new(&self.dataset, calendar)),
            |v, s| v.with(s),
        )
    }

    /// Intake dossiers loaded, individual and summed.
    pub fn dossiers(&self) -> u64 {
        let summed: u64 = self.sums.iter().map(|s| s.dossiers()).sum();
        self.dataset.dossiers.len() as u64 + summed
    }
}

/// No data to answer with (yet).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unavailable {
    /// The first load is still running.
    #[error("the source is still loading (for {} s); no data to answer with yet", .since.as_secs())]
    Loading { since: Duration },
    /// The source could not be read and nothing was loaded before.
    #[error("the source database is unavailable and no data has been loaded yet: {reason}")]
    Down { reason: String },
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// None: a fixed dataset that is never reloaded.
    reader: Option<Reader>,
    zone: FixedOffset,
    ttl: Duration,
    /// When set, loads go through a ledger of summed days, updated
    /// incrementally; else every load reads every dossier.
    summing: Mutex<Option<Summing>>,
    /// Bounds a SQLite read (the servers cancel their own statements).
    query_timeout: Mutex<Option<Duration>>,
    /// How long [`Store::get`] waits for the first load.
    first_load_wait: Mutex<Duration>,
    current: RwLock<Option<Arc<Loaded>>>,
    /// When the running load started; None: no load runs (one at a time).
    load_started: Mutex<Option<Instant>>,
    /// Bumped after each load, successful or not: wakes the waiters.
    loads_done: tokio::sync::watch::Sender<u64>,
    last_failure: Mutex<Option<(Instant, String)>>,
    last_kind: Mutex<Option<LoadKind>>,
}

/// How a summing store reads: the exporter's mechanism
/// ([`motcua_queries::incremental`]), with days for sums.
#[derive(Debug)]
struct Summing {
    calendar: WorkCalendar,
    convention: PeriodConvention,
    full_resync_interval: Duration,
    /// The ledger of the last full read, and when that read was; None
    /// before the first, and while a load has it out.
    ledger: Option<(Ledger<DailySums>, Instant)>,
}

/// What a load read: everything, or what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadKind {
    /// What the ledger holds after it: live dossiers, and the summed days'
    /// entries (cells, processing, fee procedures, ratings).
    Full {
        live: usize,
        summed_entries: [usize; 4],
    },
    Incremental {
        changed: usize,
    },
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Ends a background load however its task ends (a panic included), so
/// that no waiter and no `/readyz` sees "loading" for ever.
struct LoadDone(Store);

impl Drop for LoadDone {
    fn drop(&mut self) {
        *lock(&self.0.inner.load_started) = None;
        self.0.inner.loads_done.send_modify(|n| *n += 1);
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store that reads `reader` on first use and again when older than `ttl`.
    pub fn new(reader: Reader, zone: FixedOffset, ttl: Duration) -> Store {
        Store::build(Some(reader), zone, ttl, None)
    }

    /// A store holding one dataset for good (the `render` command, tests).
    pub fn fixed(dataset: Dataset, zone: FixedOffset) -> Store {
        let loaded = Loaded::new(dataset, now_local(zone));
        Store::build(None, zone, Duration::MAX, Some(Arc::new(loaded)))
    }

    fn build(
        reader: Option<Reader>,
        zone: FixedOffset,
        ttl: Duration,
        current: Option<Arc<Loaded>>,
    ) -> Store {
        Store {
            inner: Arc::new(Inner {
                reader,
                zone,
                ttl,
                summing: Mutex::new(None),
                query_timeout: Mutex::new(None),
                first_load_wait: Mutex::new(FIRST_LOAD_WAIT),
                current: RwLock::new(current),
                load_started: Mutex::new(None),
                loads_done: tokio::sync::watch::Sender::new(0),
                last_failure: Mutex::new(None),
                last_kind: Mutex::new(None),
            }),
        }
    }

    /// Abandons a SQLite read that runs longer than `limit` (PostgreSQL and
    /// MariaDB cancel statements themselves, from `ConnectOptions`).
    pub fn with_query_timeout(self, limit: Duration) -> Store {
        *lock(&self.inner.query_timeout) = Some(limit);
        self
    }

    /// Keeps the source as summed days with `calendar` and reads only what
    /// changed on later loads, with a full read at least every
    /// `full_resync_interval` (zero: every load) and whenever a change
    /// cannot be applied exactly (the exporter's mechanism,
    /// [`motcua_queries::incremental`]).
    pub fn summing_with(
        self,
        calendar: WorkCalendar,
        convention: PeriodConvention,
        full_resync_interval: Duration,
    ) -> Store {
        *lock(&self.inner.summing) = Some(Summing {
            calendar,
            convention,
            full_resync_interval,
            ledger: None,
        });
        self
    }

    /// How long a page waits for the first load (default [`FIRST_LOAD_WAIT`]).
    pub fn with_first_load_wait(self, limit: Duration) -> Store {
        *lock(&self.inner.first_load_wait) = limit;
        self
    }

    /// The data cached now, however old.
    pub fn cached(&self) -> Option<Arc<Loaded>> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The data for a page: the cached one (starting a background reload
    /// when it is stale), else the first load's, waited for at most the
    /// first-load wait. Every handler gets its data here, so every page
    /// behaves the same way while the service starts.
    pub async fn get(&self) -> Result<Arc<Loaded>, Unavailable> {
        let limit = *lock(&self.inner.first_load_wait);
        self.wait_for_data(Some(limit)).await
    }

    /// The data, waiting for the first load however long it takes (bounded
    /// by the source's timeouts): for `render`, which has nothing else to do.
    pub async fn load(&self) -> Result<Arc<Loaded>, Unavailable> {
        self.wait_for_data(None).await
    }

    async fn wait_for_data(&self, limit: Option<Duration>) -> Result<Arc<Loaded>, Unavailable> {
        if let Some(loaded) = self.cached() {
            if loaded.loaded.elapsed() >= self.inner.ttl {
                self.refresh_in_background();
            }
            return Ok(loaded);
        }
        // Subscribed before looking, so a load that ends meanwhile still wakes us.
        let mut done = self.inner.loads_done.subscribe();
        if let Some(loaded) = self.cached() {
            return Ok(loaded);
        }
        self.start_first_load()?;
        let finished = done.changed();
        let ended = match limit {
            Some(limit) => tokio::time::timeout(limit, finished).await.is_ok(),
            None => finished.await.is_ok(),
        };
        if let Some(loaded) = self.cached() {
            return Ok(loaded);
        }
        Err(match (ended, self.recent_failure()) {
            (true, Some((_, reason))) => Unavailable::Down { reason },
            _ => Unavailable::Loading {
                since: lock(&self.inner.load_started).map_or(Duration::ZERO, |t| t.elapsed()),
            },
        })
    }

    /// With nothing cached: makes sure a load runs, unless the last one
    /// failed less than [`RETRY_AFTER`] ago (then that failure is the answer).
    fn start_first_load(&self) -> Result<(), Unavailable> {
        if self.inner.reader.is_none() {
            return Err(Unavailable::Down {
                reason: "no dataset".into(),
            });
        }
        if lock(&self.inner.load_started).is_none()
            && let Some((at, reason)) = self.recent_failure()
            && at.elapsed() < RETRY_AFTER
        {
            return Err(Unavailable::Down { reason });
        }
        self.refresh_in_background();
        Ok(())
    }

    /// Whether the service can answer with data now; never waits. With
    /// nothing cached it starts a load when none runs (and the last failure
    /// is old enough), so a service kept out of traffic still retries.
    pub fn readiness(&self) -> Result<(), Unavailable> {
        if self.cached().is_some() {
            return Ok(());
        }
        self.start_first_load()?;
        if let Some(started) = *lock(&self.inner.load_started) {
            return Err(Unavailable::Loading {
                since: started.elapsed(),
            });
        }
        // The load ended between the two looks.
        match (self.cached(), self.recent_failure()) {
            (Some(_), _) => Ok(()),
            (None, Some((_, reason))) => Err(Unavailable::Down { reason }),
            (None, None) => Err(Unavailable::Loading {
                since: Duration::ZERO,
            }),
        }
    }

    /// Starts a load unless one is running; the cached data stays in use meanwhile.
    pub fn refresh_in_background(&self) {
        if self.inner.reader.is_none() {
            return;
        }
        {
            let mut started = lock(&self.inner.load_started);
            if started.is_some() {
                return;
            }
            *started = Some(Instant::now());
        }
        let done = LoadDone(self.clone());
        tokio::spawn(async move {
            let _ = done.0.load_now().await;
        });
    }

    fn recent_failure(&self) -> Option<(Instant, String)> {
        lock(&self.inner.last_failure).clone()
    }

    async fn load_now(&self) -> Result<Arc<Loaded>, String> {
        let Some(reader) = &self.inner.reader else {
            return self.cached().ok_or_else(|| "no dataset".to_owned());
        };
        let started = Instant::now();
        let now = now_local(self.inner.zone);
        let read = self.read(reader, now);
        let limit = *lock(&self.inner.query_timeout);
        let result = match limit {
            Some(limit) if reader.source.dialect() == Dialect::Sqlite => {
                // Dropping the read interrupts the statement; a ledger it had
                // out is dropped with it, and the next load reads everything.
                match tokio::time::timeout(limit, read).await {
                    Ok(r) => r,
                    Err(_) => Err(format!(
                        "reading the source took longer than query_timeout ({})",
                        humantime::format_duration(limit)
                    )),
                }
            }
            _ => read.await,
        };
        match result {
            Ok((frame, kind)) => {
                let loaded = Arc::new(Loaded::of_frame(frame, now));
                match kind {
                    LoadKind::Full {
                        live,
                        summed_entries,
                    } => tracing::info!(
                        dossiers = loaded.dossiers(),
                        individual = loaded.dataset.dossiers.len(),
                        live,
                        ?summed_entries,
                        seconds = started.elapsed().as_secs_f64(),
                        "read the source"
                    ),
                    LoadKind::Incremental { changed } => tracing::info!(
                        changed,
                        individual = loaded.dataset.dossiers.len(),
                        seconds = started.elapsed().as_secs_f64(),
                        "read what changed in the source"
                    ),
                }
                *lock(&self.inner.last_kind) = Some(kind);
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(loaded.clone());
                *lock(&self.inner.last_failure) = None;
                Ok(loaded)
            }
            Err(reason) => {
                if self.cached().is_some() {
                    tracing::warn!(
                        "reloading the source failed; keeping the data loaded before: {reason}"
                    );
                } else {
                    tracing::warn!("loading the source failed: {reason}");
                }
                *lock(&self.inner.last_failure) = Some((Instant::now(), reason.clone()));
                Err(reason)
            }
        }
    }

    /// Reads the source as of `now`: incrementally when the store sums and
    /// a ledger is at hand and fresh enough, else in full.
    async fn read(&self, reader: &Reader, now: Ts) -> Result<(Frame, LoadKind), String> {
        let (source, files) = (&reader.source, &reader.files);
        let settings = {
            let mut summing = lock(&self.inner.summing);
            summing.as_mut().map(|s| {
                let ledger = s.ledger.take();
                (
                    s.calendar.clone(),
                    s.convention,
                    s.full_resync_interval,
                    ledger,
                )
            })
        };
        let Some((calendar, convention, resync, ledger)) = settings else {
            let dataset = reader
                .read(self.inner.zone)
                .await
                .map_err(|e| e.to_string())?;
            return Ok((
                Frame::of(dataset),
                LoadKind::Full {
                    live: 0,
                    summed_entries: [0; 4],
                },
            ));
        };
        if let Some((mut ledger, full_read_at)) = ledger
            && full_read_at.elapsed() < resync
        {
            match ledger.refresh_frame(source, files, &calendar, now).await {
                Ok(Refresh::Done {
                    snapshot: frame,
                    changed,
                }) => {
                    self.keep_ledger(ledger, full_read_at);
                    return Ok((frame, LoadKind::Incremental { changed }));
                }
                Ok(Refresh::FullReadNeeded(reason)) => {
                    tracing::info!(%reason, "reading the whole source again");
                }
                Err(e) => {
                    // Nothing was applied: the ledger stays good.
                    self.keep_ledger(ledger, full_read_at);
                    return Err(e.to_string());
                }
            }
        }
        let (ledger, frame) = Ledger::load_frame(
            source,
            files,
            &calendar,
            convention,
            &AgencyFilter::all(),
            now,
        )
        .await
        .map_err(|e| e.to_string())?;
        let kind = LoadKind::Full {
            live: ledger.live_dossiers(),
            summed_entries: ledger.summed_entries(),
        };
        self.keep_ledger(ledger, Instant::now());
        Ok((frame, kind))
    }

    fn keep_ledger(&self, ledger: Ledger<DailySums>, full_read_at: Instant) {
        if let Some(s) = lock(&self.inner.summing).as_mut() {
            s.ledger = Some((ledger, full_read_at));
        }
    }

    /// What the last successful load read.
    pub fn last_load_kind(&self) -> Option<LoadKind> {
        *lock(&self.inner.last_kind)
    }
}
