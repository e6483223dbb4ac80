//! What the HTTP side serves: the last good snapshot, the exporter's status,
//! and the `/metrics` body encoded from both. Writers (the refresh loop and
//! the SIGHUP handler) re-encode after each change; readers only clone the
//! encoded bytes, so a scrape never computes anything nor touches the
//! database.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::body::Bytes;
use motcua_queries::Snapshot;

use crate::events::InternalEvent;
use crate::metrics::{RefreshStatus, encode};

#[derive(Debug, Default)]
struct Inner {
    snapshot: Option<Arc<Snapshot>>,
    status: RefreshStatus,
}

/// Shared between the refresh loop, the signal handlers and the HTTP handlers.
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    body: RwLock<Bytes>,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        let inner = Inner::default();
        let body = Bytes::from(encode(None, &inner.status));
        Arc::new(Shared {
            inner: Mutex::new(inner),
            body: RwLock::new(body),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The encoded `/metrics` body (a reference-counted clone).
    pub fn metrics_body(&self) -> Bytes {
        self.body.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn status(&self) -> RefreshStatus {
        self.lock().status.clone()
    }

    /// The last good snapshot, if any refresh has succeeded.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.lock().snapshot.clone()
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
        {
            let mut inner = self.lock();
            if let Some(s) = snapshot {
                inner.snapshot = Some(s);
            }
            event.update(&mut inner.status);
            let body = Bytes::from(encode(inner.snapshot.as_deref(), &inner.status));
            *self.body.write().unwrap_or_else(|e| e.into_inner()) = body;
        }
        // Logged once visible: whoever reads the log line and then scrapes
        // sees the event's effect.
        event.log();
    }
}
