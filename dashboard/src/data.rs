//! The judged dataset, loaded once and kept: every chart and report of the
//! next `cache_ttl` is drawn from the same data. When the data is older
//! than the TTL, the next request still gets it at once and a reload starts
//! in the background (one at a time). While the source is down and nothing
//! is cached, requests get [`Unavailable`] (HTTP 503) with the reason, and
//! the source is retried at most every few seconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::FixedOffset;
use motcua_queries::{Dataset, Dialect, Reader, Ts, now_local};

/// Retry a failed load no more often than this while nothing is cached.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// A dataset and when it was read.
#[derive(Debug)]
pub struct Loaded {
    pub dataset: Dataset,
    /// Local wall-clock time of the read.
    pub loaded_at: Ts,
    loaded: Instant,
}

impl Loaded {
    pub fn new(dataset: Dataset, loaded_at: Ts) -> Self {
        Loaded {
            dataset,
            loaded_at,
            loaded: Instant::now(),
        }
    }
}

/// No data to answer with.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the source database is unavailable and no data has been loaded yet: {reason}")]
pub struct Unavailable {
    pub reason: String,
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
    /// Bounds a SQLite read (the servers cancel their own statements).
    query_timeout: Mutex<Option<Duration>>,
    current: RwLock<Option<Arc<Loaded>>>,
    /// Serializes loads.
    loading: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    last_failure: Mutex<Option<(Instant, String)>>,
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
                query_timeout: Mutex::new(None),
                current: RwLock::new(current),
                loading: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
                last_failure: Mutex::new(None),
            }),
        }
    }

    /// Abandons a SQLite read that runs longer than `limit` (PostgreSQL and
    /// MariaDB cancel statements themselves, from `ConnectOptions`).
    pub fn with_query_timeout(self, limit: Duration) -> Store {
        *self
            .inner
            .query_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(limit);
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

    /// The data: the cached one (starting a background reload when it is
    /// stale), or a fresh load when nothing is cached.
    pub async fn get(&self) -> Result<Arc<Loaded>, Unavailable> {
        if let Some(loaded) = self.cached() {
            if loaded.loaded.elapsed() >= self.inner.ttl {
                self.refresh_in_background();
            }
            return Ok(loaded);
        }
        if let Some((at, reason)) = self.recent_failure()
            && at.elapsed() < RETRY_AFTER
        {
            return Err(Unavailable { reason });
        }
        let _guard = self.inner.loading.lock().await;
        if let Some(loaded) = self.cached() {
            return Ok(loaded);
        }
        if let Some((at, reason)) = self.recent_failure()
            && at.elapsed() < RETRY_AFTER
        {
            return Err(Unavailable { reason });
        }
        self.load_now().await
    }

    /// Starts a reload unless one is running; the cached data stays in use meanwhile.
    pub fn refresh_in_background(&self) {
        if self.inner.reader.is_none() || self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            {
                let _guard = store.inner.loading.lock().await;
                let _ = store.load_now().await;
            }
            store.inner.refreshing.store(false, Ordering::Release);
        });
    }

    fn recent_failure(&self) -> Option<(Instant, String)> {
        self.inner
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn load_now(&self) -> Result<Arc<Loaded>, Unavailable> {
        let Some(reader) = &self.inner.reader else {
            return self.cached().ok_or_else(|| Unavailable {
                reason: "no dataset".into(),
            });
        };
        let started = Instant::now();
        let read = reader.read(self.inner.zone);
        let limit = *self
            .inner
            .query_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = match limit {
            Some(limit) if reader.source.dialect() == Dialect::Sqlite => {
                match tokio::time::timeout(limit, read).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err(format!(
                        "reading the source took longer than query_timeout ({})",
                        humantime::format_duration(limit)
                    )),
                }
            }
            _ => read.await.map_err(|e| e.to_string()),
        };
        match result {
            Ok(dataset) => {
                tracing::info!(
                    dossiers = dataset.dossiers.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "loaded the source"
                );
                let loaded = Arc::new(Loaded::new(dataset, now_local(self.inner.zone)));
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(loaded.clone());
                *self
                    .inner
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
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
                *self
                    .inner
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) =
                    Some((Instant::now(), reason.clone()));
                Err(Unavailable { reason })
            }
        }
    }
}
