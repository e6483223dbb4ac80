//! `--demo`: the exporter's convention, shared: `data_dir/demo.sqlite`,
//! generated once (into a temporary file, then renamed, so an interrupted
//! run never leaves half a database) and then read read-only.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{FixedOffset, NaiveDate, Utc};
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};

/// The demo database's file name inside `data_dir`.
pub const DEMO_FILE: &str = "demo.sqlite";

/// The URL that reads a SQLite file read-only.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite:{}?mode=ro", path.display())
}

/// Makes sure `data_dir/demo.sqlite` exists, generating it with `dossiers`
/// dossiers ending today (in `zone`) when it does not.
pub async fn prepare(
    data_dir: &Path,
    dossiers: u64,
    zone: FixedOffset,
    progress: bool,
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(DEMO_FILE);
    if path.is_file() {
        return Ok(path);
    }
    let today = Utc::now().with_timezone(&zone).date_naive();
    generate(&path, dossiers, today, progress).await?;
    Ok(path)
}

/// Generates a demo database at `path` (replacing nothing: the file is
/// written beside it and renamed into place).
pub async fn generate(
    path: &Path,
    dossiers: u64,
    end: NaiveDate,
    progress: bool,
) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data_dir {}: cannot create it", dir.display()))?;
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    remove_sqlite_files(&partial)?;
    let mut config = DemoConfig::new(end);
    config.dossiers = usize::try_from(dossiers).unwrap_or(usize::MAX);
    let options = ConnectOptions {
        read_only: false,
        ..ConnectOptions::default()
    };
    let source = Source::open(&format!("sqlite:{}", partial.display()), &options)
        .with_context(|| format!("cannot create the demo database {}", partial.display()))?;
    let written = write_demo(&source, &config, progress).await;
    source.close().await;
    written.with_context(|| format!("generating the demo database {}", partial.display()))?;
    std::fs::rename(&partial, path)
        .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
    remove_sqlite_files(&partial)?;
    Ok(())
}

fn remove_sqlite_files(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", p.display())),
        }
    }
    Ok(())
}
