//! Shared fixtures: temporary folders, a small generated demo database,
//! pipelines over it, and a tiny parser of the Prometheus text format.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use motcua_exporter::config::{DatabaseUrl, Settings};
use motcua_exporter::demo::sqlite_url;
use motcua_exporter::refresh::Pipeline;
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};

/// The demo's last day: fixed, so every run sees the same data.
pub fn demo_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 9, 30).unwrap()
}

pub const DEMO_DOSSIERS: usize = 3_000;

const PREFIX: &str = "motcua-exporter-test-";

/// Where test folders go: Cargo's temp dir for integration tests (inside
/// `target/`, so `cargo clean` removes whatever a killed run left).
fn base_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// Removes folders left by test processes that no longer run (the shared
/// demo lives in a static, which is never dropped).
fn remove_stale_dirs() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh `data_dir` for one run of the real binary, under the target's
/// scratch folder: each exporter keeps its own counter offsets there.
pub fn scratch_data_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("data-{}-{n}", std::process::id()))
}

/// A folder for one test, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base_dir().join(format!("{PREFIX}{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Generates a demo database at `path` (a few thousand dossiers, fixed end date).
pub async fn generate_demo(path: &Path) {
    let source = Source::open(
        &format!("sqlite:{}", path.display()),
        &ConnectOptions {
            read_only: false,
            ..ConnectOptions::default()
        },
    )
    .unwrap();
    let mut config = DemoConfig::new(demo_end());
    config.dossiers = DEMO_DOSSIERS as _;
    write_demo(&source, &config, false).await.unwrap();
    source.close().await;
}

/// One demo database per test binary, generated on first use.
pub fn shared_demo() -> &'static Path {
    static DEMO: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DEMO.get_or_init(|| {
        remove_stale_dirs();
        let dir = TempDir::new("shared-demo");
        let path = dir.join("demo.sqlite");
        let p = path.clone();
        // Tests run inside their own runtimes: generate on a separate thread.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(generate_demo(&p))
        })
        .join()
        .unwrap();
        (dir, path)
    });
    path
}

/// Settings for serving `url` (no config file, no environment).
pub fn settings_for(url: &str) -> Settings {
    let cli = motcua_exporter::Cli {
        source: motcua_exporter::config::SourceArgs {
            database_url: Some(url.to_owned()),
            ..Default::default()
        },
        refresh_interval: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    Settings::resolve(&cli, &|_| None).unwrap()
}

pub fn pipeline_for_file(path: &Path) -> Pipeline {
    let url: DatabaseUrl = sqlite_url(path);
    Pipeline::build(&settings_for(url.expose()), &url).unwrap()
}

/// A sample line of the text format: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: String,
}

/// Parses sample lines; panics on anything malformed.
pub fn samples(body: &str) -> Vec<Sample> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (head, value) = line.rsplit_once(' ').expect("value");
            let (name, labels) = match head.split_once('{') {
                None => (head.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let rest = rest.strip_suffix('}').expect("closing brace");
                    (name.to_owned(), parse_labels(rest))
                }
            };
            Sample {
                name,
                labels,
                value: value.to_owned(),
            }
        })
        .collect()
}

fn parse_labels(mut s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while !s.is_empty() {
        let (key, rest) = s.split_once("=\"").expect("label=\"");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next().expect("closing quote");
            match c {
                '\\' => {
                    let (_, e) = chars.next().unwrap();
                    value.push(match e {
                        'n' => '\n',
                        other => other,
                    });
                }
                '"' => break i,
                c => value.push(c),
            }
        };
        assert!(
            out.insert(key.to_owned(), value).is_none(),
            "duplicate label {key}"
        );
        s = rest[end + 1..].trim_start_matches(',');
    }
    out
}

/// `# TYPE` lines: family → type.
pub fn types(body: &str) -> BTreeMap<String, String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (n, t) = l.split_once(' ').unwrap();
            (n.to_owned(), t.to_owned())
        })
        .collect()
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
