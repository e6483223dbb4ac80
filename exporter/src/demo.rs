//! `--demo`: an embedded SQLite database with a generated province, created
//! once in `data_dir` and then served read-only (the convention lives in
//! `motcua_queries::demo`, shared with the dashboard).

use std::path::{Path, PathBuf};

use chrono::FixedOffset;

use crate::config::DatabaseUrl;

pub use motcua_queries::demo::DEMO_FILE;

/// The URL that serves a SQLite file read-only.
pub fn sqlite_url(path: &Path) -> DatabaseUrl {
    DatabaseUrl::new(motcua_queries::demo::sqlite_read_only_url(path))
}

/// Makes sure `data_dir/demo.sqlite` exists, generating it when it does not.
/// Returns the file and whether it was generated now.
pub async fn prepare(
    data_dir: &Path,
    dossiers: u64,
    zone: FixedOffset,
    progress: bool,
) -> anyhow::Result<(PathBuf, bool)> {
    let dossiers = usize::try_from(dossiers).unwrap_or(usize::MAX);
    Ok(motcua_queries::demo::ensure_sqlite_demo(data_dir, dossiers, zone, progress).await?)
}
