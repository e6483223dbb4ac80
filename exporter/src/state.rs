//! What the HTTP side serves: the last good snapshot, the exporter's status,
//! and the `/metrics` body encoded from both. Writers (the refresh loop and
//! the SIGHUP handler) re-encode after each change; readers only clone the
//! encoded bytes, so a scrape never computes anything nor touches the
//! database. The body is kept plain and gzip-compressed: Prometheus asks
//! for gzip, and a body a tenth the size leaves the socket sooner (at 10
//! million dossiers the plain body is megabytes).

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::body::Bytes;
use motcua_queries::Snapshot;

use crate::events::{CountersCorrected, InternalEvent};
use crate::metrics::{RefreshStatus, encode_families, families};
use crate::offsets::{Absorbed, CounterOffsets};

#[derive(Debug, Default)]
struct Inner {
    snapshot: Option<Arc<Snapshot>>,
    status: RefreshStatus,
    /// Why the last refresh failed (cleared by a success), for `/readyz`.
    last_error: Option<String>,
    /// Counter offsets (DESIGN §10); None when turned off (tests only).
    offsets: Option<CounterOffsets>,
    /// The next snapshot comes from a new pipeline: forget the offsets of
    /// series it no longer has.
    prune_offsets: bool,
}

/// Shared between the refresh loop, the signal handlers and the HTTP handlers.
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    body: RwLock<MetricsBody>,
}

/// The `/metrics` body in both encodings a scraper may ask for.
#[derive(Debug, Clone)]
pub struct MetricsBody {
    pub plain: Bytes,
    pub gzip: Bytes,
}

impl MetricsBody {
    fn new(plain: Vec<u8>) -> MetricsBody {
        // The fastest level: a few milliseconds per refresh for a body of
        // megabytes, paid by the writer, never by a scrape.
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(plain.len() / 8),
            flate2::Compression::fast(),
        );
        let gzip = gz
            .write_all(&plain)
            .and_then(|()| gz.finish())
            .expect("writing to a Vec cannot fail");
        MetricsBody {
            plain: Bytes::from(plain),
            gzip: Bytes::from(gzip),
        }
    }
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Shared::with_offsets(Some(CounterOffsets::default()))
    }

    /// As [`Shared::new`], starting from `offsets` (read from the state
    /// file), or without offsets at all (None: for tests that show what
    /// the raw recomputed counters would do).
    pub fn with_offsets(offsets: Option<CounterOffsets>) -> Arc<Shared> {
        let inner = Inner {
            offsets,
            prune_offsets: true,
            ..Inner::default()
        };
        let body = MetricsBody::new(encode_families(&families(None, &inner.status)));
        Arc::new(Shared {
            inner: Mutex::new(inner),
            body: RwLock::new(body),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The encoded `/metrics` body (reference-counted clones).
    pub fn metrics_body(&self) -> MetricsBody {
        self.body.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn status(&self) -> RefreshStatus {
        self.lock().status.clone()
    }

    /// The last good snapshot, if any refresh has succeeded.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.lock().snapshot.clone()
    }

    /// Readiness (`/readyz`): ready once a refresh has succeeded, since the
    /// last good metrics are served from then on even while the source is
    /// down; else why not, in one line. Never waits.
    pub fn readiness(&self) -> Result<(), String> {
        let inner = self.lock();
        if inner.snapshot.is_some() {
            return Ok(());
        }
        Err(match &inner.last_error {
            None => "the first refresh from the source has not finished yet".to_owned(),
            Some(e) => format!("the source is unavailable and no refresh has succeeded yet: {e}"),
        })
    }

    /// The offsets to save, when they changed since the last save (marked
    /// saved: a failed write is retried after the next change).
    pub fn offsets_to_save(&self) -> Option<CounterOffsets> {
        let mut inner = self.lock();
        let offsets = inner.offsets.as_mut().filter(|o| o.is_dirty())?;
        offsets.mark_saved();
        Some(offsets.clone())
    }

    /// The next snapshot comes from a new pipeline (SIGHUP: other SQL
    /// files, another agency filter).
    pub fn pipeline_changed(&self) {
        self.lock().prune_offsets = true;
    }

    /// Keeps why a refresh failed, for `/readyz` (one line).
    pub fn set_last_error(&self, error: String) {
        self.lock().last_error = Some(error.replace('\n', " "));
    }

    /// Records an event: updates the status, publishes the re-encoded
    /// body, then logs the event.
    pub fn emit(&self, event: impl InternalEvent) {
        self.update(None, event);
    }

    /// Swaps in a new snapshot together with the event that produced it.
    pub fn publish(&self, snapshot: Snapshot, event: impl InternalEvent) {
        self.update(Some(Arc::new(snapshot)), event);
    }

    fn update(&self, snapshot: Option<Arc<Snapshot>>, event: impl InternalEvent) {
        // The inner lock is held while encoding so that two writers cannot
        // publish out of order; scrapes only take the body lock, briefly.
        let absorbed: Vec<Absorbed>;
        {
            let mut inner = self.lock();
            let new_snapshot = snapshot.is_some();
            if let Some(s) = snapshot {
                inner.snapshot = Some(s);
                inner.last_error = None;
            }
            event.update(&mut inner.status);
            let mut families = families(inner.snapshot.as_deref(), &inner.status);
            // Applied on every encode (the same raw values change nothing);
            // pruned only with the first snapshot of a new pipeline.
            let prune = new_snapshot && std::mem::take(&mut inner.prune_offsets);
            absorbed = match inner.offsets.as_mut() {
                Some(offsets) => {
                    let absorbed = offsets.apply(&mut families, prune);
                    let corrections = offsets.corrections_family();
                    if !corrections.get_metric().is_empty() {
                        families.push(corrections);
                    }
                    absorbed
                }
                None => Vec::new(),
            };
            let body = MetricsBody::new(encode_families(&families));
            let previous = {
                let mut current = self.body.write().unwrap_or_else(|e| e.into_inner());
                std::mem::replace(&mut *current, body)
            };
            // Freed after the write lock is released: the writer may be a
            // refresh thread at nice 10, and a scrape must not wait for it
            // to be scheduled again to return megabytes to the system.
            drop(previous);
        }
        // Logged once visible: whoever reads the log line and then scrapes
        // sees the event's effect.
        event.log();
        if !absorbed.is_empty() {
            CountersCorrected {
                absorbed: &absorbed,
            }
            .log();
        }
    }
}
