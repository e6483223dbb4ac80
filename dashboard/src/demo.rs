//! `--demo`: the exporter's convention, shared through `motcua_queries::demo`:
//! `data_dir/demo.sqlite`, generated once and then read read-only.

use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate};
use motcua_queries::demo::{DemoConfig, ensure_sqlite_demo, generate_sqlite_demo};

pub use motcua_queries::demo::DEMO_FILE;

/// The URL that reads a SQLite file read-only.
pub fn sqlite_url(path: &Path) -> String {
    motcua_queries::demo::sqlite_read_only_url(path)
}

/// Makes sure `data_dir/demo.sqlite` exists, generating it when it does not.
pub async fn prepare(
    data_dir: &Path,
    dossiers: u64,
    zone: FixedOffset,
    progress: bool,
) -> anyhow::Result<PathBuf> {
    let dossiers = usize::try_from(dossiers).unwrap_or(usize::MAX);
    Ok(ensure_sqlite_demo(data_dir, dossiers, zone, progress)
        .await?
        .0)
}

/// Generates a demo database at `path` with activity up to `end`.
pub async fn generate(
    path: &Path,
    dossiers: u64,
    end: NaiveDate,
    progress: bool,
) -> anyhow::Result<()> {
    let mut config = DemoConfig::new(end);
    config.dossiers = usize::try_from(dossiers).unwrap_or(usize::MAX);
    Ok(generate_sqlite_demo(path, &config, progress).await?)
}
