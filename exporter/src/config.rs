//! Settings: command-line flags, environment, the TOML config file and
//! defaults, in that order of priority (flag > env > file > default).
//!
//! The config file never holds the database URL itself (a config file is
//! usually world-readable; the URL carries a password): it may name a
//! `database_url_file` whose trimmed content is the URL. Relative paths
//! written in the config file are taken relative to the file's folder;
//! relative paths given as flags or environment variables, and the
//! defaults, relative to the working directory.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use motcua_queries::calendar::{DEFAULT_DUE_SOON_WORKDAYS, MAX_DUE_SOON_WORKDAYS};
use motcua_queries::report::PeriodConvention;
use motcua_queries::shard::AgencyFilter;
use motcua_queries::source::redact_url;
use serde::{Deserialize, Deserializer};

/// Environment variable holding the database URL.
pub const ENV_DATABASE_URL: &str = "MOTCUA_DATABASE_URL";
pub const ENV_CONFIG: &str = "MOTCUA_CONFIG";
pub const ENV_LISTEN: &str = "MOTCUA_LISTEN";
pub const ENV_REFRESH_INTERVAL: &str = "MOTCUA_REFRESH_INTERVAL";
pub const ENV_CALENDAR: &str = "MOTCUA_CALENDAR";
pub const ENV_SERVICE_INDEX: &str = "MOTCUA_SERVICE_INDEX";
pub const ENV_QUERIES_DIR: &str = "MOTCUA_QUERIES_DIR";
pub const ENV_WEB_CONFIG_FILE: &str = "MOTCUA_WEB_CONFIG_FILE";
/// Agency patterns of this exporter's shard, separated by commas.
pub const ENV_AGENCIES: &str = "MOTCUA_AGENCIES";
pub const ENV_FULL_RESYNC_INTERVAL: &str = "MOTCUA_FULL_RESYNC_INTERVAL";
pub const ENV_DATA_DIR: &str = "MOTCUA_DATA_DIR";

/// Default listen address (DESIGN §5: exporter port 9745).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9745";
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
pub use motcua_queries::incremental::DEFAULT_FULL_RESYNC_INTERVAL;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one source statement may run before the database server
/// cancels it. A full read of a large province takes seconds; a statement
/// still running after a minute is stuck (a lock, a bad plan) and would
/// otherwise hold a connection and delay every later refresh.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// A shorter statement limit would cancel ordinary reads.
pub const MIN_QUERY_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_DATA_DIR: &str = "motcua-data";
pub const DEFAULT_DEMO_DOSSIERS: u64 = 300_000;
/// Refreshing more often than this would only load the source database.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Command-line flags (DESIGN §5).
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "motcua-exporter",
    version,
    about = "Prometheus exporter for one-stop administrative-procedure KPIs (motcua)",
    long_about = "Reads a one-stop electronic system's database on an interval and serves \
                  administrative-reform KPIs on /metrics.\n\nPriority of settings: flag > \
                  environment variable > config file > default."
)]
pub struct Cli {
    /// TOML config file [env: MOTCUA_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Source database URL: sqlite:PATH, postgres://… or mysql://… [env: MOTCUA_DATABASE_URL].
    /// Prefer the environment variable or `database_url_file`: a flag is visible to every
    /// user of the machine.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Address to serve on [env: MOTCUA_LISTEN] [default: 0.0.0.0:9745]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// How often to recompute the metrics from the source, e.g. 60s, 5m
    /// [env: MOTCUA_REFRESH_INTERVAL] [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub refresh_interval: Option<Duration>,
    /// Working-day calendar file (TOML) [env: MOTCUA_CALENDAR] [default: built-in]
    #[arg(long, value_name = "FILE")]
    pub calendar: Option<PathBuf>,
    /// Folder of the operator's SQL files [env: MOTCUA_QUERIES_DIR] [default: built-in]
    #[arg(long, value_name = "DIR")]
    pub queries_dir: Option<PathBuf>,
    /// Service index indicator file (TOML, DESIGN §8) [env: MOTCUA_SERVICE_INDEX]
    /// [default: built-in queries/service_index/vn-766.toml]
    #[arg(long, value_name = "FILE")]
    pub service_index: Option<PathBuf>,
    /// Web config file (exporter-toolkit YAML: tls_server_config, basic_auth_users) for
    /// HTTPS and basic auth [env: MOTCUA_WEB_CONFIG_FILE] [default: plain HTTP]
    #[arg(long, value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
    /// Read only these agencies (sharding): an agency code like 000.00.12.H18 or a prefix
    /// like 000.00.12.*; repeat the flag or separate patterns with commas
    /// [env: MOTCUA_AGENCIES, comma-separated] [default: every agency]
    #[arg(long = "agency", value_name = "PATTERN", value_delimiter = ',', value_parser = parse_agency_arg)]
    pub agencies: Vec<String>,
    /// How often a full re-read of the source replaces incremental refreshes (which read
    /// only rows whose updated_at changed); 0s = always full
    /// [env: MOTCUA_FULL_RESYNC_INTERVAL] [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub full_resync_interval: Option<Duration>,
    /// Create and seed an embedded SQLite demo database (in `data_dir`) and serve it
    #[arg(long)]
    pub demo: bool,
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

/// Checks one `--agency` pattern as clap reads it.
fn parse_agency_arg(s: &str) -> Result<String, String> {
    let pattern = s.trim().to_owned();
    AgencyFilter::parse(std::slice::from_ref(&pattern))?;
    Ok(pattern)
}

/// The patterns of a comma-separated list (`MOTCUA_AGENCIES`), each trimmed.
pub fn split_patterns(list: &str) -> Vec<String> {
    list.split(',').map(|p| p.trim().to_owned()).collect()
}

/// Parses a humantime duration ("60s", "5m", "1h 30m").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("invalid duration {s:?} ({e}); write it like \"60s\", \"5m\" or \"1h\"")
    })
}

/// The config file (TOML). Every key is optional; unknown keys are errors.
///
/// ```toml
/// database_url_file = "/run/secrets/motcua-db-url"  # file whose trimmed content is the URL
/// listen = "0.0.0.0:9745"
/// refresh_interval = "60s"
/// calendar = "calendar.toml"          # default: the built-in calendar
/// queries_dir = "sql"                  # default: the built-in SQL files
/// service_index = "service-index.toml" # default: the built-in indicator table (DESIGN §8)
/// web_config_file = "web-config.yml"   # TLS and basic auth; default: plain HTTP
/// period_convention = "calendar"       # or "day15" (15th-to-14th statistical months)
/// data_dir = "motcua-data"             # --demo's database and the counter offsets [env: MOTCUA_DATA_DIR]
/// demo_dossiers = 300000
/// connect_timeout = "10s"
/// query_timeout = "60s"
/// agencies = ["000.00.12.H18", "000.00.13.*"]   # default: every agency
/// full_resync_interval = "1h"          # "0s": every refresh reads everything
/// due_soon_workdays = 1                # 0-30: due today (0), or within that many working days
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// File whose trimmed content is the database URL. Default: none.
    pub database_url_file: Option<PathBuf>,
    /// Address to serve on. Default: `0.0.0.0:9745`.
    pub listen: SocketAddr,
    /// How often the metrics are recomputed from the source. Default: `60s`.
    #[serde(deserialize_with = "de_duration")]
    pub refresh_interval: Duration,
    /// Working-day calendar file. Default: the built-in calendar.
    pub calendar: Option<PathBuf>,
    /// Folder of the operator's SQL files. Default: the built-in files.
    pub queries_dir: Option<PathBuf>,
    /// Service index indicator file. Default: the built-in table.
    pub service_index: Option<PathBuf>,
    /// Web config file (TLS, basic auth). Default: none, plain HTTP.
    pub web_config_file: Option<PathBuf>,
    /// `calendar` (default) or `day15`.
    pub period_convention: PeriodConvention,
    /// Where `--demo` keeps its database. Default: `motcua-data`.
    pub data_dir: PathBuf,
    /// How many dossiers `--demo` generates. Default: 300000.
    pub demo_dossiers: u64,
    /// How long to wait for a database connection. Default: `10s`.
    #[serde(deserialize_with = "de_duration")]
    pub connect_timeout: Duration,
    /// The longest one source statement may run; the server cancels it
    /// (SQLite: the read is abandoned). Default: `60s`.
    #[serde(deserialize_with = "de_duration")]
    pub query_timeout: Duration,
    /// The agencies this exporter reads (sharding a large source between
    /// several exporters): exact agency codes (`000.00.12.H18`) and
    /// prefixes ending in `*` (`000.00.12.*`). Default: `[]`, every agency.
    /// Built from `agencies` in [`Config::parse`].
    #[serde(skip)]
    pub agencies: AgencyFilter,
    /// How often a full re-read of the source replaces incremental
    /// refreshes (which read only rows whose updated_at changed); `0s` =
    /// always full. Default: `1h`.
    #[serde(deserialize_with = "de_duration")]
    pub full_resync_interval: Duration,
    /// A pending in-time dossier is due soon when its due date is at most
    /// this many working days away (DESIGN §9). 0 to 30; default 1.
    pub due_soon_workdays: u32,
    /// The `agencies` list as written, with where each pattern is.
    #[serde(rename = "agencies")]
    #[doc(hidden)]
    pub agency_patterns: Vec<toml::Spanned<String>>,
    /// Only read so that a `database_url` key gets a helpful error.
    #[serde(rename = "database_url")]
    #[doc(hidden)]
    pub forbidden_database_url: Option<toml::Spanned<toml::Value>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url_file: None,
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            calendar: None,
            queries_dir: None,
            service_index: None,
            web_config_file: None,
            period_convention: PeriodConvention::Calendar,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            demo_dossiers: DEFAULT_DEMO_DOSSIERS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            agencies: AgencyFilter::all(),
            full_resync_interval: DEFAULT_FULL_RESYNC_INTERVAL,
            due_soon_workdays: DEFAULT_DUE_SOON_WORKDAYS,
            agency_patterns: Vec::new(),
            forbidden_database_url: None,
        }
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

/// A configuration problem: always names where it comes from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bad key or value in the config file.
    #[error("config file {path}, line {line}, column {column}{}: {message}", key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("database_url_file {path} (named in {origin}): {reason}")]
    UrlFile {
        path: PathBuf,
        origin: String,
        reason: String,
    },
    #[error("{origin}: {message}")]
    Value { origin: String, message: String },
    #[error(
        "no database URL: give --database-url, set {ENV_DATABASE_URL}, or name a \
         database_url_file in the config file (or run with --demo)"
    )]
    MissingUrl,
}

/// Where the database URL came from (for logs; never the URL itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlOrigin {
    Flag,
    Env,
    File(PathBuf),
    Demo,
}

impl fmt::Display for UrlOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlOrigin::Flag => f.write_str("--database-url"),
            UrlOrigin::Env => f.write_str(ENV_DATABASE_URL),
            UrlOrigin::File(p) => write!(f, "database_url_file {}", p.display()),
            UrlOrigin::Demo => f.write_str("--demo"),
        }
    }
}

/// A database URL; its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }
    /// The URL itself, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Effective settings after flags, environment, file and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The config file read, if any (SIGHUP reloads it).
    pub config_file: Option<PathBuf>,
    /// None only with `--demo` (the demo database is used instead).
    pub database_url: Option<(DatabaseUrl, UrlOrigin)>,
    pub listen: SocketAddr,
    pub refresh_interval: Duration,
    pub calendar: Option<PathBuf>,
    pub queries_dir: Option<PathBuf>,
    pub service_index: Option<PathBuf>,
    pub web_config_file: Option<PathBuf>,
    pub period_convention: PeriodConvention,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub demo_dossiers: u64,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
    /// The agencies this exporter reads (`--agency`, `MOTCUA_AGENCIES`,
    /// `agencies`); every agency by default.
    pub agency_filter: AgencyFilter,
    /// How often a full re-read of the source replaces incremental
    /// refreshes (which read only rows whose updated_at changed);
    /// `Duration::ZERO` = every refresh is a full refresh. Default: 1h.
    pub full_resync_interval: Duration,
    /// The due-soon horizon in working days (`due_soon_workdays`).
    pub due_soon_workdays: u32,
}

impl Config {
    /// Parses config-file text; `path` names the file in errors and anchors
    /// relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, column, key) = locate(text, e.span());
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: key.or_else(|| key_in_message(e.message())),
                message: e.message().trim().to_owned(),
            }
        })?;
        if let Some(forbidden) = &config.forbidden_database_url {
            let (line, column, _) = locate(text, Some(forbidden.span()));
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: Some("database_url".into()),
                message: format!(
                    "the database URL is not allowed in the config file (it would put the \
                     password in a file others may read); write it in a file only the exporter \
                     can read and name that file with `database_url_file`, or set \
                     {ENV_DATABASE_URL}"
                ),
            });
        }
        if config.refresh_interval < MIN_REFRESH_INTERVAL {
            let (line, column) = key_position(text, "refresh_interval").unwrap_or((1, 1));
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: Some("refresh_interval".into()),
                message: "must be at least 1s".into(),
            });
        }
        if config.query_timeout < MIN_QUERY_TIMEOUT {
            let (line, column) = key_position(text, "query_timeout").unwrap_or((1, 1));
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: Some("query_timeout".into()),
                message: "must be at least 1s".into(),
            });
        }
        if config.due_soon_workdays > MAX_DUE_SOON_WORKDAYS {
            let (line, column) = key_position(text, "due_soon_workdays").unwrap_or((1, 1));
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: Some("due_soon_workdays".into()),
                message: format!("must be 0 to {MAX_DUE_SOON_WORKDAYS} working days"),
            });
        }
        for pattern in &config.agency_patterns {
            // Each pattern alone, then the list (so the error points at the
            // pattern that is wrong).
            if let Err(message) = AgencyFilter::parse(std::slice::from_ref(pattern.get_ref())) {
                let (line, column, _) = locate(text, Some(pattern.span()));
                return Err(ConfigError::Parse {
                    path: path.to_owned(),
                    line,
                    column,
                    key: Some("agencies".into()),
                    message,
                });
            }
        }
        let patterns: Vec<String> = config
            .agency_patterns
            .iter()
            .map(|p| p.get_ref().clone())
            .collect();
        config.agencies = AgencyFilter::parse(&patterns).map_err(|message| {
            let (line, column) = key_position(text, "agencies").unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: Some("agencies".into()),
                message,
            }
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let anchor = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        config.database_url_file.as_mut().map(anchor);
        config.calendar.as_mut().map(anchor);
        config.queries_dir.as_mut().map(anchor);
        config.service_index.as_mut().map(anchor);
        config.web_config_file.as_mut().map(anchor);
        if text_has_key(text, "data_dir") {
            anchor(&mut config.data_dir);
        }
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }
}

/// 1-based line and column of a byte offset, and the key written on that line.
fn locate(text: &str, span: Option<std::ops::Range<usize>>) -> (usize, usize, Option<String>) {
    let Some(span) = span else {
        return (1, 1, None);
    };
    let at = span.start.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..line_start].matches('\n').count() + 1;
    let column = text[line_start..at].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('#') && !k.starts_with('['));
    (line, column, key)
}

/// serde names the key in "unknown field `x`" and "missing field `x`".
fn key_in_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

fn key_position(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, l)| {
        let (k, _) = l.split_once('=')?;
        (k.trim() == key).then(|| (i + 1, l.len() - l.trim_start().len() + 1))
    })
}

fn text_has_key(text: &str, key: &str) -> bool {
    key_position(text, key).is_some()
}

impl Settings {
    /// Resolves flags, environment (looked up with `env`), the config file
    /// and defaults.
    pub fn resolve(
        cli: &Cli,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let config_file = cli
            .config
            .clone()
            .or_else(|| env(ENV_CONFIG).map(PathBuf::from));
        let file = match &config_file {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let value_error = |origin: &str, message: String| ConfigError::Value {
            origin: origin.to_owned(),
            message,
        };

        let listen = match (cli.listen, env(ENV_LISTEN)) {
            (Some(a), _) => a,
            (None, Some(v)) => v.trim().parse().map_err(|e| {
                value_error(
                    ENV_LISTEN,
                    format!("{v:?} is not an address like 0.0.0.0:9745 ({e})"),
                )
            })?,
            (None, None) => file.listen,
        };
        let refresh_interval = match (cli.refresh_interval, env(ENV_REFRESH_INTERVAL)) {
            (Some(d), _) => d,
            (None, Some(v)) => {
                parse_duration(&v).map_err(|m| value_error(ENV_REFRESH_INTERVAL, m))?
            }
            (None, None) => file.refresh_interval,
        };
        if refresh_interval < MIN_REFRESH_INTERVAL {
            let origin = if cli.refresh_interval.is_some() {
                "--refresh-interval"
            } else {
                ENV_REFRESH_INTERVAL
            };
            return Err(value_error(origin, "must be at least 1s".into()));
        }
        let full_resync_interval = match (cli.full_resync_interval, env(ENV_FULL_RESYNC_INTERVAL)) {
            (Some(d), _) => d,
            (None, Some(v)) => {
                parse_duration(&v).map_err(|m| value_error(ENV_FULL_RESYNC_INTERVAL, m))?
            }
            (None, None) => file.full_resync_interval,
        };
        let agency_filter = if !cli.agencies.is_empty() {
            AgencyFilter::parse(&cli.agencies).map_err(|m| value_error("--agency", m))?
        } else if let Some(list) = env(ENV_AGENCIES) {
            AgencyFilter::parse(&split_patterns(&list)).map_err(|m| value_error(ENV_AGENCIES, m))?
        } else {
            file.agencies
        };
        let calendar = cli
            .calendar
            .clone()
            .or_else(|| env(ENV_CALENDAR).map(PathBuf::from))
            .or(file.calendar);
        let queries_dir = cli
            .queries_dir
            .clone()
            .or_else(|| env(ENV_QUERIES_DIR).map(PathBuf::from))
            .or(file.queries_dir);
        let service_index = cli
            .service_index
            .clone()
            .or_else(|| env(ENV_SERVICE_INDEX).map(PathBuf::from))
            .or(file.service_index);
        let web_config_file = cli
            .web_config_file
            .clone()
            .or_else(|| env(ENV_WEB_CONFIG_FILE).map(PathBuf::from))
            .or(file.web_config_file);

        let origin_of_file = || {
            config_file
                .as_ref()
                .map_or_else(|| "the config file".to_owned(), |p| p.display().to_string())
        };
        let database_url = if let Some(url) = &cli.database_url {
            Some((DatabaseUrl::new(url.trim()), UrlOrigin::Flag))
        } else if let Some(url) = env(ENV_DATABASE_URL) {
            Some((DatabaseUrl::new(url.trim()), UrlOrigin::Env))
        } else if let Some(path) = &file.database_url_file {
            let url = read_url_file(path, &origin_of_file())?;
            Some((url, UrlOrigin::File(path.clone())))
        } else {
            None
        };
        if database_url.is_none() && !cli.demo {
            return Err(ConfigError::MissingUrl);
        }
        Ok(Settings {
            config_file,
            database_url,
            listen,
            refresh_interval,
            calendar,
            queries_dir,
            service_index,
            web_config_file,
            period_convention: file.period_convention,
            data_dir: env(ENV_DATA_DIR).map_or(file.data_dir, PathBuf::from),
            demo: cli.demo,
            demo_dossiers: file.demo_dossiers,
            connect_timeout: file.connect_timeout,
            query_timeout: file.query_timeout,
            agency_filter,
            full_resync_interval,
            due_soon_workdays: file.due_soon_workdays,
        })
    }
}

fn read_url_file(path: &Path, origin: &str) -> Result<DatabaseUrl, ConfigError> {
    motcua_queries::source::read_url_file(path)
        .map(DatabaseUrl::new)
        .map_err(|reason| ConfigError::UrlFile {
            path: path.to_owned(),
            origin: origin.to_owned(),
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = Config::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9745");
        assert_eq!(c.refresh_interval, Duration::from_secs(60));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.query_timeout, Duration::from_secs(60));
        assert_eq!(c.data_dir, PathBuf::from("motcua-data"));
        assert_eq!(c.demo_dossiers, 300_000);
        assert_eq!(c.period_convention, PeriodConvention::Calendar);
        assert!(c.agencies.is_all());
        assert_eq!(c.full_resync_interval, Duration::from_secs(3600));
    }

    #[test]
    fn agencies_and_full_resync_parse() {
        let c = Config::parse(
            "agencies = [\"A.1\", \"B.*\"]\nfull_resync_interval = \"0s\"",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.agencies.patterns(), ["A.1", "B.*"]);
        assert_eq!(c.full_resync_interval, Duration::ZERO);
        let msg = Config::parse("agencies = [\"A.1\", \"*B\"]", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("c.toml, line 1, column 20, key `agencies`") && msg.contains("\"*B\""),
            "{msg}"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "listen = \"127.0.0.1:1\"\n\nrefresh_intervall = \"5s\"\n";
        let err = Config::parse(text, Path::new("/etc/motcua/exporter.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/motcua/exporter.toml"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("`refresh_intervall`"), "{msg}");
        match err {
            ConfigError::Parse { line, key, .. } => {
                assert_eq!(line, 3);
                assert_eq!(key.as_deref(), Some("refresh_intervall"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn due_soon_workdays_is_0_to_30() {
        let parse = |text: &str| Config::parse(text, Path::new("e.toml"));
        assert_eq!(parse("").unwrap().due_soon_workdays, 1);
        assert_eq!(parse("due_soon_workdays = 0").unwrap().due_soon_workdays, 0);
        assert_eq!(
            parse("due_soon_workdays = 30").unwrap().due_soon_workdays,
            30
        );
        for bad in ["31", "-1", "1.5", "\"1\""] {
            let msg = parse(&format!("# x\ndue_soon_workdays = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(msg.contains("e.toml, line 2"), "{bad}: {msg}");
            assert!(msg.contains("key `due_soon_workdays`"), "{bad}: {msg}");
        }
    }

    #[test]
    fn bad_duration_names_key_and_line() {
        let text = "# comment\nrefresh_interval = \"soon\"\n";
        let msg = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("c.toml, line 2"), "{msg}");
        assert!(msg.contains("key `refresh_interval`"), "{msg}");
        assert!(msg.contains("invalid duration \"soon\""), "{msg}");
    }

    #[test]
    fn bad_convention_and_address_are_named() {
        let msg = Config::parse("period_convention = \"fiscal\"", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `period_convention`") && msg.contains("day15"),
            "{msg}"
        );
        let msg = Config::parse("listen = \"nowhere\"", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("key `listen`"), "{msg}");
    }

    #[test]
    fn database_url_in_file_is_rejected() {
        let text = "listen = \"127.0.0.1:9745\"\ndatabase_url = \"postgres://u:secret@db/x\"\n";
        let msg = Config::parse(text, Path::new("exporter.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("exporter.toml, line 2"), "{msg}");
        assert!(msg.contains("`database_url`"), "{msg}");
        assert!(msg.contains("database_url_file"), "{msg}");
        assert!(!msg.contains("secret"), "the password leaked: {msg}");
    }

    #[test]
    fn too_short_interval_is_rejected() {
        let msg = Config::parse("refresh_interval = \"10ms\"", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `refresh_interval`") && msg.contains("at least 1s"),
            "{msg}"
        );
        let cli = Cli {
            database_url: Some("sqlite:x".into()),
            refresh_interval: Some(Duration::from_millis(1)),
            ..Cli::default()
        };
        assert!(Settings::resolve(&cli, &no_env).is_err());
    }

    #[test]
    fn query_timeout_parses_and_has_a_floor() {
        let c = Config::parse("query_timeout = \"2m 30s\"", Path::new("c.toml")).unwrap();
        assert_eq!(c.query_timeout, Duration::from_secs(150));
        let msg = Config::parse("\nquery_timeout = \"500ms\"", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("line 2")
                && msg.contains("key `query_timeout`")
                && msg.contains("at least 1s"),
            "{msg}"
        );
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let c = Config::parse(
            "calendar = \"cal.toml\"\nqueries_dir = \"/abs/sql\"\ndata_dir = \"data\"",
            Path::new("/etc/motcua/exporter.toml"),
        )
        .unwrap();
        assert_eq!(c.calendar, Some(PathBuf::from("/etc/motcua/cal.toml")));
        assert_eq!(c.queries_dir, Some(PathBuf::from("/abs/sql")));
        assert_eq!(c.data_dir, PathBuf::from("/etc/motcua/data"));
        let c = Config::parse("", Path::new("/etc/motcua/exporter.toml")).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("motcua-data"));
    }

    #[test]
    fn missing_url_without_demo_is_an_error() {
        let err = Settings::resolve(&Cli::default(), &no_env).unwrap_err();
        assert!(matches!(err, ConfigError::MissingUrl));
        assert!(err.to_string().contains("MOTCUA_DATABASE_URL"));
        let demo = Settings::resolve(
            &Cli {
                demo: true,
                ..Cli::default()
            },
            &no_env,
        )
        .unwrap();
        assert!(demo.database_url.is_none());
    }

    #[test]
    fn cli_flags_parse() {
        let cli = Cli::try_parse_from([
            "motcua-exporter",
            "--listen",
            "127.0.0.1:9999",
            "--refresh-interval",
            "2m",
            "--demo",
        ])
        .unwrap();
        assert_eq!(cli.refresh_interval, Some(Duration::from_secs(120)));
        assert!(cli.demo);
        let err =
            Cli::try_parse_from(["motcua-exporter", "--refresh-interval", "often"]).unwrap_err();
        assert!(err.to_string().contains("invalid duration"), "{err}");
    }

    #[test]
    fn example_config_is_valid_and_shows_the_defaults() {
        let text = include_str!("../exporter.example.toml");
        let parsed = Config::parse(text, Path::new("exporter.example.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn url_debug_hides_password() {
        let url = DatabaseUrl::new("postgres://motcua:hunter2@db/onestop");
        assert!(!format!("{url:?} {url}").contains("hunter2"));
    }
}
