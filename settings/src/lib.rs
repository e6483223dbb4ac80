//! The settings both motcua services take, defined once: the source flags
//! (`--config`, `--database-url`, `--calendar`, `--queries-dir`,
//! `--service-index`, `--full-resync-interval`, `--demo`), the web flags
//! (`--listen`, `--web-config-file`), their environment variables, the
//! config-file keys they share (`data_dir`, `period_convention`, the
//! timeouts…), and the errors that name the file, line and key.
//!
//! Each service adds its own keys (the exporter's `refresh_interval`, the
//! chart service's `cache_ttl`…) as an [`OwnKeys`] type: one config file
//! holds both, and a key neither knows is an error.
//!
//! Priority, for every setting: flag > environment variable > config file >
//! default. The config file never holds the database URL itself (a config
//! file is usually world-readable; the URL carries a password): it may name
//! a `database_url_file` whose trimmed content is the URL. Relative paths
//! written in the config file are taken relative to the file's folder;
//! relative paths given as flags or environment variables, and the
//! defaults, relative to the working directory.

mod file;
mod source;
mod web;

pub use file::{
    CommonConfig, ConfigError, ConfigFile, FileText, OwnKeys, de_duration, parse_duration,
};
pub use source::{DatabaseUrl, Env, SourceArgs, SourceSettings, UrlOrigin};
pub use web::{WebArgs, WebSettings};

pub use motcua_queries::incremental::DEFAULT_FULL_RESYNC_INTERVAL;
use std::time::Duration;

pub const ENV_CONFIG: &str = "MOTCUA_CONFIG";
pub const ENV_DATABASE_URL: &str = "MOTCUA_DATABASE_URL";
pub const ENV_CALENDAR: &str = "MOTCUA_CALENDAR";
pub const ENV_QUERIES_DIR: &str = "MOTCUA_QUERIES_DIR";
pub const ENV_SERVICE_INDEX: &str = "MOTCUA_SERVICE_INDEX";
pub const ENV_FULL_RESYNC_INTERVAL: &str = "MOTCUA_FULL_RESYNC_INTERVAL";
pub const ENV_DATA_DIR: &str = "MOTCUA_DATA_DIR";
pub const ENV_LISTEN: &str = "MOTCUA_LISTEN";
pub const ENV_WEB_CONFIG_FILE: &str = "MOTCUA_WEB_CONFIG_FILE";

pub const DEFAULT_DATA_DIR: &str = "motcua-data";
pub const DEFAULT_DEMO_DOSSIERS: u64 = 300_000;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one source statement may run before the database server
/// cancels it. A full read of a large province takes seconds; a statement
/// still running after a minute is stuck (a lock, a bad plan) and would
/// otherwise hold a connection and delay every later read.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// A shorter statement limit would cancel ordinary reads.
pub const MIN_QUERY_TIMEOUT: Duration = Duration::from_secs(1);
