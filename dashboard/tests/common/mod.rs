//! Shared by the hostile-input, fault and load tests: a small demo
//! database (generated once per test binary), in-process requests through
//! the Router, the real binary, and the service checks (`CI=true`: a
//! missing service fails; elsewhere the test is skipped, saying why).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use motcua_dashboard::data::Store;
use motcua_dashboard::{AppState, router};
use motcua_queries::model::ts_of;
use motcua_queries::{ConnectOptions, Reader, WorkCalendar};
use tower::ServiceExt;

pub const BIN: &str = env!("CARGO_BIN_EXE_motcua-dashboard");
pub const DEMO_DOSSIERS: u64 = 1500;

pub fn demo_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `None` (skip, saying why) outside CI when a service is missing; panics in CI.
pub fn require<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if in_ci() => panic!("{what} is required with CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {what} is not available: {e}");
            None
        }
    }
}

pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh folder (inside `target/`), removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique(name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir.canonicalize().unwrap())
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
        let dir = Scratch::new("motcua-dashboard-demo");
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

/// The real binary, its output lines collected as they come.
pub struct Dashboard {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
    pub addr: String,
}

impl Dashboard {
    /// Starts `motcua-dashboard ARGS` with only `env` among the MOTCUA_ variables.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Dashboard {
        let mut cmd = Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("MOTCUA_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start motcua-dashboard");
        let (tx, lines) = mpsc::channel();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Dashboard {
            child,
            lines,
            log: Vec::new(),
            addr: String::new(),
        }
    }

    /// `serve --listen 127.0.0.1:PORT` on a free port; waits until it listens.
    pub fn serve(extra: &[&str], env: &[(&str, &str)]) -> Dashboard {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", addr.as_str()];
        args.extend_from_slice(extra);
        let mut d = Dashboard::spawn(&args, env);
        d.wait_line("serving charts and reports", Duration::from_secs(30));
        d.addr = addr;
        d
    }

    pub fn wait_line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {within:?}; log:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Waits for the exit (killing the process after `within`): status and all output.
    pub fn finish(mut self, within: Duration) -> (Option<std::process::ExitStatus>, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers end with the process.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.log.push(line);
        }
        (status, self.log.join("\n"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET over a fresh connection: (status, body); times out after 10 s.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// RSS of a process in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
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
