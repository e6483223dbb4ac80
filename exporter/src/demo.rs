//! `--demo`: an embedded SQLite database with a generated province, created
//! once in `data_dir` and then served read-only.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{FixedOffset, Utc};
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};

use crate::config::DatabaseUrl;

/// The demo database's file name inside `data_dir`.
pub const DEMO_FILE: &str = "demo.sqlite";

/// The URL that serves a SQLite file read-only.
pub fn sqlite_url(path: &Path) -> DatabaseUrl {
    DatabaseUrl::new(format!("sqlite:{}?mode=ro", path.display()))
}

/// Makes sure `data_dir/demo.sqlite` exists, generating it (with
/// `dossiers` dossiers, ending yesterday in `zone`) when it does not. The
/// database is written to a temporary file and renamed into place, so an
/// interrupted generation never leaves a half database behind. Returns
/// the file and whether it was generated now.
pub async fn prepare(
    data_dir: &Path,
    dossiers: u64,
    zone: FixedOffset,
    progress: bool,
) -> anyhow::Result<(PathBuf, bool)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("data_dir {}: cannot create it", data_dir.display()))?;
    let path = data_dir.join(DEMO_FILE);
    if path.is_file() {
        return Ok((path, false));
    }
    let partial = data_dir.join(format!("{DEMO_FILE}.partial"));
    remove_sqlite_files(&partial)?;

    // The demo's activity ends yesterday evening, so no generated event lies
    // in the future of the real clock, whatever the hour it is made at.
    let today = Utc::now().with_timezone(&zone).date_naive();
    let mut config = DemoConfig::new(today.pred_opt().unwrap_or(today));
    config.dossiers = dossiers as _;
    let options = ConnectOptions {
        read_only: false,
        ..ConnectOptions::default()
    };
    let url = format!("sqlite:{}", partial.display());
    let source = Source::open(&url, &options)
        .with_context(|| format!("cannot create the demo database {}", partial.display()))?;
    let written = write_demo(&source, &config, progress).await;
    source.close().await;
    written.with_context(|| format!("generating the demo database {}", partial.display()))?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
    remove_sqlite_files(&partial)?;
    Ok((path, true))
}

/// Removes a SQLite file and its journal side files, if present.
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
