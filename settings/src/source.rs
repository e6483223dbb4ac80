//! Where the data comes from: the source flags, their environment
//! variables and config-file keys, resolved once for either service.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use motcua_queries::calendar::WorkCalendar;
use motcua_queries::report::PeriodConvention;
use motcua_queries::service_index::IndicatorTable;
use motcua_queries::source::{ConnectOptions, redact_url};

use crate::file::{ConfigError, ConfigFile, OwnKeys, parse_duration};
use crate::{
    ENV_CALENDAR, ENV_CONFIG, ENV_DATA_DIR, ENV_DATABASE_URL, ENV_FULL_RESYNC_INTERVAL,
    ENV_QUERIES_DIR, ENV_SERVICE_INDEX,
};

/// Looks up an environment variable (a closure in tests, `std::env::var`
/// in the binaries). Blank values count as unset.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The source flags both services take. In the chart service they are
/// global: they may come before or after the subcommand.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct SourceArgs {
    /// TOML config file [env: MOTCUA_CONFIG]
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Source database URL: sqlite:PATH, postgres://… or mysql://… [env: MOTCUA_DATABASE_URL].
    /// Prefer the environment variable or `database_url_file`: a flag is visible to every
    /// user of the machine.
    #[arg(long, value_name = "URL", global = true)]
    pub database_url: Option<String>,
    /// Working-day calendar file (TOML) [env: MOTCUA_CALENDAR] [default: built-in]
    #[arg(long, value_name = "FILE", global = true)]
    pub calendar: Option<PathBuf>,
    /// Folder of the operator's SQL files [env: MOTCUA_QUERIES_DIR] [default: built-in]
    #[arg(long, value_name = "DIR", global = true)]
    pub queries_dir: Option<PathBuf>,
    /// Service index indicator file (TOML, DESIGN §8) [env: MOTCUA_SERVICE_INDEX]
    /// [default: built-in queries/service_index/vn-766.toml]
    #[arg(long, value_name = "FILE", global = true)]
    pub service_index: Option<PathBuf>,
    /// How often a full re-read of the source replaces incremental reads (which read
    /// only rows whose updated_at changed); 0s = always full
    /// [env: MOTCUA_FULL_RESYNC_INTERVAL] [default: 1h]
    #[arg(long, value_name = "DURATION", global = true, value_parser = parse_duration)]
    pub full_resync_interval: Option<Duration>,
    /// Create and seed an embedded SQLite demo database (in `data_dir`) and use it
    #[arg(long, global = true)]
    pub demo: bool,
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

/// The source settings after flags, environment, file and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSettings {
    /// The config file read, if any (the exporter reloads it on SIGHUP).
    pub config_file: Option<PathBuf>,
    /// None only with `--demo` without a URL; with `--demo` it is ignored.
    pub database_url: Option<(DatabaseUrl, UrlOrigin)>,
    pub demo: bool,
    pub demo_dossiers: u64,
    pub data_dir: PathBuf,
    pub calendar: Option<PathBuf>,
    pub queries_dir: Option<PathBuf>,
    pub service_index: Option<PathBuf>,
    pub period_convention: PeriodConvention,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
    /// `Duration::ZERO`: every read is a full read.
    pub full_resync_interval: Duration,
    pub due_soon_workdays: u32,
}

impl SourceSettings {
    /// Reads the config file the flags or `MOTCUA_CONFIG` name and resolves
    /// the source settings; returns the file too, for the service's own
    /// keys and the web settings.
    pub fn resolve<Own: OwnKeys>(
        args: &SourceArgs,
        env: Env<'_>,
    ) -> Result<(SourceSettings, ConfigFile<Own>), ConfigError> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let config_file = args
            .config
            .clone()
            .or_else(|| env(ENV_CONFIG).map(PathBuf::from));
        let file = match &config_file {
            Some(path) => ConfigFile::<Own>::load(path)?,
            None => ConfigFile::default(),
        };
        let common = &file.common;
        let path_of = |flag: &Option<PathBuf>, var: &str, key: &Option<PathBuf>| {
            flag.clone()
                .or_else(|| env(var).map(PathBuf::from))
                .or_else(|| key.clone())
        };
        let full_resync_interval = match (args.full_resync_interval, env(ENV_FULL_RESYNC_INTERVAL))
        {
            (Some(d), _) => d,
            (None, Some(v)) => parse_duration(&v).map_err(|message| ConfigError::Value {
                origin: ENV_FULL_RESYNC_INTERVAL.to_owned(),
                message,
            })?,
            (None, None) => common.full_resync_interval,
        };
        let flag = args
            .database_url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty());
        let database_url = match flag {
            Some(url) => Some((DatabaseUrl::new(url), UrlOrigin::Flag)),
            None => env(ENV_DATABASE_URL).map(|url| (DatabaseUrl::new(url.trim()), UrlOrigin::Env)),
        };
        let database_url = match (database_url, &common.database_url_file) {
            (Some(url), _) => Some(url),
            (None, Some(path)) => {
                let url = motcua_queries::source::read_url_file(path).map_err(|reason| {
                    ConfigError::UrlFile {
                        path: path.clone(),
                        origin: config_file.as_ref().map_or_else(
                            || "the config file".to_owned(),
                            |p| p.display().to_string(),
                        ),
                        reason,
                    }
                })?;
                Some((DatabaseUrl::new(url), UrlOrigin::File(path.clone())))
            }
            (None, None) => None,
        };
        if database_url.is_none() && !args.demo {
            return Err(ConfigError::MissingUrl);
        }
        let settings = SourceSettings {
            database_url,
            demo: args.demo,
            demo_dossiers: common.demo_dossiers,
            data_dir: env(ENV_DATA_DIR).map_or_else(|| common.data_dir.clone(), PathBuf::from),
            calendar: path_of(&args.calendar, ENV_CALENDAR, &common.calendar),
            queries_dir: path_of(&args.queries_dir, ENV_QUERIES_DIR, &common.queries_dir),
            service_index: path_of(
                &args.service_index,
                ENV_SERVICE_INDEX,
                &common.service_index,
            ),
            period_convention: common.period_convention,
            connect_timeout: common.connect_timeout,
            query_timeout: common.query_timeout,
            full_resync_interval,
            due_soon_workdays: common.due_soon_workdays,
            config_file,
        };
        Ok((settings, file))
    }

    /// The built-in calendar, or the operator's file, with the due-soon
    /// horizon. The error names the file.
    pub fn load_calendar(&self) -> Result<WorkCalendar, String> {
        let calendar = match &self.calendar {
            None => WorkCalendar::builtin(),
            Some(path) => {
                WorkCalendar::load(path).map_err(|e| format!("calendar {}: {e}", path.display()))?
            }
        };
        Ok(calendar.with_due_soon_workdays(self.due_soon_workdays))
    }

    /// The service index's indicator table: the operator's file or the
    /// shipped one. The error names the file, line and key.
    pub fn load_service_index(
        &self,
    ) -> Result<std::sync::Arc<IndicatorTable>, motcua_queries::service_index::IndexFileError> {
        Ok(match &self.service_index {
            Some(path) => std::sync::Arc::new(IndicatorTable::load(path)?),
            None => IndicatorTable::shipped_shared(),
        })
    }

    /// How both services connect: read-only sessions (they never write to
    /// the source), with the configured timeouts.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            read_only: true,
            connect_timeout: self.connect_timeout,
            query_timeout: Some(self.query_timeout),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn resolve(args: &SourceArgs, env: &[(&str, &str)]) -> Result<SourceSettings, ConfigError> {
        SourceSettings::resolve::<()>(args, &env_of(env)).map(|(s, _)| s)
    }

    #[test]
    fn flag_beats_env_beats_default() {
        let args = SourceArgs {
            database_url: Some(" sqlite:a ".into()),
            calendar: Some("flag.toml".into()),
            ..SourceArgs::default()
        };
        let env = [
            ("MOTCUA_DATABASE_URL", "sqlite:b"),
            ("MOTCUA_CALENDAR", "env.toml"),
            ("MOTCUA_QUERIES_DIR", "sql"),
            ("MOTCUA_FULL_RESYNC_INTERVAL", "5m"),
            ("MOTCUA_DATA_DIR", "d"),
        ];
        let s = resolve(&args, &env).unwrap();
        assert_eq!(
            s.database_url,
            Some((DatabaseUrl::new("sqlite:a"), UrlOrigin::Flag))
        );
        assert_eq!(s.calendar, Some(PathBuf::from("flag.toml")));
        assert_eq!(s.queries_dir, Some(PathBuf::from("sql")));
        assert_eq!(s.full_resync_interval, Duration::from_secs(300));
        assert_eq!(s.data_dir, PathBuf::from("d"));
        let s = resolve(&SourceArgs::default(), &env).unwrap();
        assert_eq!(s.database_url.unwrap().1, UrlOrigin::Env);
        let s = resolve(
            &SourceArgs::default(),
            &[("MOTCUA_DATABASE_URL", "sqlite:b")],
        )
        .unwrap();
        assert_eq!(s.full_resync_interval, Duration::from_secs(3600));
        assert_eq!(s.query_timeout, Duration::from_secs(60));
        assert_eq!(s.calendar, None);
    }

    #[test]
    fn a_bad_variable_and_a_missing_url_are_named() {
        let msg = resolve(
            &SourceArgs {
                demo: true,
                ..SourceArgs::default()
            },
            &[("MOTCUA_FULL_RESYNC_INTERVAL", "often")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.starts_with("MOTCUA_FULL_RESYNC_INTERVAL: invalid duration"),
            "{msg}"
        );
        let err = resolve(&SourceArgs::default(), &[("MOTCUA_DATABASE_URL", "  ")]).unwrap_err();
        assert!(matches!(err, ConfigError::MissingUrl), "{err}");
        let demo = SourceArgs {
            demo: true,
            ..SourceArgs::default()
        };
        assert!(resolve(&demo, &[]).unwrap().database_url.is_none());
    }

    #[test]
    fn url_debug_hides_password() {
        let url = DatabaseUrl::new("postgres://motcua:hunter2@db/onestop");
        assert!(!format!("{url:?} {url}").contains("hunter2"));
    }
}
