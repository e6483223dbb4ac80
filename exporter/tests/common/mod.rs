//! Shared fixtures: scratch folders, a small generated demo database,
//! pipelines over it, the real binary ([`Running`]), and a tiny parser of
//! the Prometheus text format.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::NaiveDate;
use motcua_exporter::config::{DatabaseUrl, Settings};
use motcua_exporter::demo::sqlite_url;
use motcua_exporter::refresh::Pipeline;
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};
pub use motcua_testkit::{Process, Scratch};

pub const BIN: &str = env!("CARGO_BIN_EXE_motcua-exporter");

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
/// demo lives in a static, which is never dropped). [`Scratch`] names them
/// `NAME_PID_N`.
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
            .and_then(|rest| rest.rsplit('_').nth(1))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh folder for one test under Cargo's temp dir, removed on drop.
pub fn scratch(name: &str) -> Scratch {
    Scratch::under(base_dir(), &format!("{PREFIX}{name}"))
}

/// The real binary, to start with [`Running::spawn`] or [`Running::run`].
pub fn exporter() -> Command {
    Command::new(BIN)
}

/// How long a wait for a line of the real binary, or for its exit, may
/// take: generous, because refreshes run at nice 10, so on a machine busy
/// with other builds the demo's first refresh waits for CPU.
const WAIT: Duration = Duration::from_secs(120);

/// The real binary as a [`Process`] (its own helpers through `Deref`): the
/// test's MOTCUA_* and RUST_LOG are not passed on, and it keeps its counter
/// offsets in a scratch folder of its own unless the command sets (or
/// removes) MOTCUA_DATA_DIR itself.
pub struct Running {
    process: Process,
    // After `process`: the folder goes once the exporter is killed.
    _data: Scratch,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        let data = scratch("data");
        if !command.get_envs().any(|(k, _)| k == "MOTCUA_DATA_DIR") {
            command.env("MOTCUA_DATA_DIR", data.path());
        }
        Running {
            process: Process::spawn("motcua-exporter", command),
            _data: data,
        }
    }

    /// Runs `command` to its end (killed after a while: status `None`);
    /// the status and all its output.
    pub fn run(command: Command) -> (Option<ExitStatus>, String) {
        let Running { process, _data } = Running::spawn(command);
        process.finish(WAIT)
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_line(&mut self, needle: &str) -> String {
        self.process.wait_line(needle, WAIT).1
    }

    /// Waits until it serves: the address it logs.
    pub fn addr(&mut self) -> String {
        self.wait_line("serving /metrics")
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .expect("address in the log line")
            .to_owned()
    }
}

impl Deref for Running {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
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
    static DEMO: OnceLock<(Scratch, PathBuf)> = OnceLock::new();
    let (_, path) = DEMO.get_or_init(|| {
        remove_stale_dirs();
        let dir = scratch("shared-demo");
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
