//! Shared by the hostile-input, fault and load tests: a small demo
//! database (generated once per test binary), in-process requests through
//! the Router, the real binary, and the service checks (`CI=true`: a
//! missing service fails; elsewhere the test is skipped, saying why).

// Each test binary uses a part of this module and of its re-exports.
#![allow(dead_code, unused_imports)]

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use motcua_dashboard::data::Store;
use motcua_dashboard::{AppState, router};
use motcua_queries::model::ts_of;
use motcua_queries::{ConnectOptions, Reader, WorkCalendar};
pub use motcua_testkit::{Process, Scratch, in_ci, require, rss_kib, unique};
use tower::ServiceExt;

pub const BIN: &str = env!("CARGO_BIN_EXE_motcua-dashboard");
pub const DEMO_DOSSIERS: u64 = 1500;

pub fn demo_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
}

/// A fresh folder inside `target/` (`cargo clean` removes what a killed
/// run left), removed on drop.
pub fn scratch(name: &str) -> Scratch {
    Scratch::under(env!("CARGO_TARGET_TMPDIR"), name)
}

/// Runs a future on a runtime of its own, on a thread of its own.
pub fn block_on_fresh<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}

/// The demo database (1 500 dossiers ending 2025-12-31), generated once per test binary.
pub fn demo_db() -> &'static Path {
    static DB: OnceLock<(Scratch, PathBuf)> = OnceLock::new();
    let (_, path) = DB.get_or_init(|| {
        let dir = scratch("motcua-dashboard-demo");
        let path = dir.join("demo.sqlite");
        let p = path.clone();
        block_on_fresh(async move {
            motcua_dashboard::demo::generate(&p, DEMO_DOSSIERS, demo_end(), false)
                .await
                .unwrap();
        });
        (dir, path)
    });
    path
}

pub fn sqlite_ro(path: &Path) -> String {
    format!("sqlite:{}?mode=ro", path.display())
}

/// The service over `url`, "now" fixed at 2026-01-01.
pub fn state_for_url(url: &str) -> AppState {
    let calendar = WorkCalendar::builtin();
    let reader = Reader::open(url, None, &ConnectOptions::default()).unwrap();
    let store = Store::new(reader, calendar.timezone(), Duration::from_secs(3600));
    let mut state = AppState::new(store, calendar);
    state.fixed_now = Some(ts_of(
        demo_end().succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap(),
    ));
    state
}

pub fn demo_state() -> AppState {
    state_for_url(&sqlite_ro(demo_db()))
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request through the Router, in-process.
pub async fn get(state: &AppState, uri: &str) -> Reply {
    let request = Request::get(uri)
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{uri:?}: not a request: {e}"));
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

/// Percent-encodes every byte but the unreserved ones.
pub fn pct(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The real binary ([`Process`]) and, once it serves, its address.
pub struct Dashboard {
    process: Process,
    pub addr: String,
}

impl Dashboard {
    /// Starts `motcua-dashboard ARGS` with only `env` among the MOTCUA_ variables.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Dashboard {
        Dashboard {
            process: Process::start(BIN, args, env),
            addr: String::new(),
        }
    }

    /// `serve --listen 127.0.0.1:PORT` on a free port; waits until it listens.
    pub fn serve(extra: &[&str], env: &[(&str, &str)]) -> Dashboard {
        let addr = format!("127.0.0.1:{}", motcua_testkit::free_port());
        let mut args = vec!["serve", "--listen", addr.as_str()];
        args.extend_from_slice(extra);
        let mut d = Dashboard::spawn(&args, env);
        d.wait_line("serving charts and reports", Duration::from_secs(30));
        d.addr = addr;
        d
    }

    /// Waits for the exit (killing the process after `within`): status and all output.
    pub fn finish(self, within: Duration) -> (Option<ExitStatus>, String) {
        self.process.finish(within)
    }
}

impl Deref for Dashboard {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for Dashboard {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// A blocking GET over a fresh connection: (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    motcua_testkit::http_get(addr, path).unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"))
}

/// A copy of a SQLite database that a writer keeps locked: reads of it wait
/// (SQLite's busy timeout, 5 s) until [`LockedCopy::release`], as a source
/// busy with a long write would. A real slow source, without a test-only
/// delay in the services.
pub struct LockedCopy {
    pub path: PathBuf,
    writer: Option<rusqlite::Connection>,
}

impl LockedCopy {
    pub fn new(db: &Path, path: PathBuf) -> LockedCopy {
        let original =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        original
            .execute("VACUUM INTO ?1", [path.to_str().unwrap()])
            .unwrap();
        let writer = rusqlite::Connection::open(&path).unwrap();
        // In WAL mode readers pass a writer; with a rollback journal they wait.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
        LockedCopy {
            path,
            writer: Some(writer),
        }
    }

    /// Ends the writer's transaction: waiting reads go on.
    pub fn release(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.execute_batch("COMMIT").unwrap();
        }
    }
}
