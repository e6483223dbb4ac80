//! Settings: command-line flags (with their environment variables), the
//! TOML config file, and defaults, in that order of priority.
//!
//! As for the exporter, the config file never holds the database URL (it
//! carries a password; config files are often world-readable): it may name
//! a `database_url_file` whose trimmed content is the URL. Relative paths
//! written in the config file are taken relative to the file's folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use motcua_queries::calendar::{DEFAULT_DUE_SOON_WORKDAYS, MAX_DUE_SOON_WORKDAYS};
use motcua_queries::report::{PeriodConvention, PeriodName};
use serde::{Deserialize, Deserializer};

use crate::i18n::Lang;

pub const ENV_DATABASE_URL: &str = "MOTCUA_DATABASE_URL";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9746";
pub const DEFAULT_DATA_DIR: &str = "motcua-data";
pub const DEFAULT_DEMO_DOSSIERS: u64 = 300_000;
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one source statement may run (as for the exporter).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_ON_TIME_TARGET: f64 = 0.95;

/// Command line (DESIGN §5). The source flags are global: they may come
/// before or after the subcommand.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "motcua-dashboard",
    version,
    about = "Report charts (PNG/SVG) and the official Biểu 06 periodic report for one-stop \
             administrative-procedure KPIs (motcua)"
)]
pub struct Cli {
    /// TOML config file
    #[arg(long, value_name = "FILE", global = true, env = "MOTCUA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Source database URL: sqlite:PATH, postgres://… or mysql://…. Prefer the environment
    /// variable or `database_url_file`: a flag is visible to every user of the machine.
    #[arg(
        long,
        value_name = "URL",
        global = true,
        env = "MOTCUA_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Working-day calendar file (TOML) [default: built-in]
    #[arg(long, value_name = "FILE", global = true, env = "MOTCUA_CALENDAR")]
    pub calendar: Option<PathBuf>,
    /// Folder of the operator's SQL files [default: built-in]
    #[arg(long, value_name = "DIR", global = true, env = "MOTCUA_QUERIES_DIR")]
    pub queries_dir: Option<PathBuf>,
    /// Indicator table of the service index estimate (TOML, DESIGN §8)
    /// [default: built-in queries/service_index/vn-766.toml]
    #[arg(long, value_name = "FILE", global = true, env = "MOTCUA_SERVICE_INDEX")]
    pub service_index: Option<PathBuf>,
    /// Create and seed an embedded SQLite demo database (in `data_dir`) and use it
    #[arg(long, global = true)]
    pub demo: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve charts and reports over HTTP
    Serve {
        /// Address to serve on [default: 0.0.0.0:9746, or `listen` in the config file]
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Web config file (exporter-toolkit YAML: tls_server_config, basic_auth_users) for
        /// HTTPS and basic auth [default: `web_config_file` in the config file, else plain HTTP]
        #[arg(long, value_name = "FILE", env = "MOTCUA_WEB_CONFIG_FILE")]
        web_config_file: Option<PathBuf>,
    },
    /// Write the report bundle for a period (report.html, report.csv, report.json, charts)
    Render {
        /// 2025, 2025-H1, 2025-Q3 or 2025-07
        #[arg(long, value_name = "P", value_parser = parse_period)]
        period: PeriodName,
        /// Folder to write into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Only this agency (its code)
        #[arg(long, value_name = "CODE")]
        agency: Option<String>,
        /// Language of the report and charts
        #[arg(long, value_name = "vi|en", default_value = "vi", value_parser = parse_lang)]
        lang: Lang,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse()
}

fn parse_period(s: &str) -> Result<PeriodName, String> {
    s.parse()
        .map_err(|e: motcua_queries::report::PeriodError| e.to_string())
}

/// The config file. Every key is optional; unknown keys are errors.
///
/// ```toml
/// database_url_file = "/run/secrets/motcua-db-url"
/// listen = "0.0.0.0:9746"
/// web_config_file = "web-config.yml"   # TLS and basic auth; default: plain HTTP
/// calendar = "calendar.toml"
/// queries_dir = "sql"
/// period_convention = "calendar"       # or "day15" (15th-to-14th statistical months)
/// data_dir = "motcua-data"             # where --demo keeps its database
/// demo_dossiers = 300000
/// cache_ttl = "5m"                     # read what changed in the source when the data is older
/// full_resync_interval = "1h"          # read everything at least this often ("0s": every time)
/// connect_timeout = "10s"
/// query_timeout = "60s"                # the longest one source statement may run
/// on_time_target = 0.95                # the target line of on_time_trend
/// source_name = "Hệ thống thông tin giải quyết TTHC tỉnh Điện Biên"
/// due_soon_workdays = 1                # /dossiers: due today (0), or within that many working days (0-30)
/// service_index = "service-index.toml" # default: the built-in indicator table (DESIGN §8)
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database_url_file: Option<PathBuf>,
    pub listen: SocketAddr,
    /// Web config file (TLS, basic auth) for `serve`. Default: plain HTTP.
    pub web_config_file: Option<PathBuf>,
    pub calendar: Option<PathBuf>,
    pub queries_dir: Option<PathBuf>,
    pub period_convention: PeriodConvention,
    pub data_dir: PathBuf,
    pub demo_dossiers: u64,
    #[serde(deserialize_with = "de_duration")]
    pub cache_ttl: Duration,
    /// A full read at least this often: it catches what `updated_at` cannot
    /// show (deleted rows, late supplements; see `motcua_queries::incremental`).
    #[serde(deserialize_with = "de_duration")]
    pub full_resync_interval: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub connect_timeout: Duration,
    /// The server cancels a statement running longer (SQLite: the read is abandoned).
    #[serde(deserialize_with = "de_duration")]
    pub query_timeout: Duration,
    pub on_time_target: f64,
    /// Named in every chart's footer and the report; default: a generic
    /// name of the one-stop system in the chart's language.
    pub source_name: Option<String>,
    /// The worklist's due-soon horizon in working days (DESIGN §9), 0 to 30.
    pub due_soon_workdays: u32,
    /// The service index's indicator table; default: the built-in one.
    pub service_index: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url_file: None,
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            web_config_file: None,
            calendar: None,
            queries_dir: None,
            period_convention: PeriodConvention::Calendar,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            demo_dossiers: DEFAULT_DEMO_DOSSIERS,
            cache_ttl: DEFAULT_CACHE_TTL,
            full_resync_interval: motcua_queries::incremental::DEFAULT_FULL_RESYNC_INTERVAL,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            on_time_target: DEFAULT_ON_TIME_TARGET,
            source_name: None,
            due_soon_workdays: DEFAULT_DUE_SOON_WORKDAYS,
            service_index: None,
        }
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim()).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {s:?} ({e}); write it like \"60s\", \"5m\" or \"1h\""
        ))
    })
}

/// A configuration problem: always names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}{}: {message}", key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: usize,
        key: Option<String>,
        message: String,
    },
    #[error("database_url_file {path} (named in {config}): {reason}")]
    UrlFile {
        path: PathBuf,
        config: PathBuf,
        reason: String,
    },
    #[error(
        "no database URL: give --database-url, set {ENV_DATABASE_URL}, or name a \
         database_url_file in the config file (or run with --demo)"
    )]
    MissingUrl,
}

impl Config {
    /// Parses config-file text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let parse_error = |line: usize, key: Option<String>, message: String| ConfigError::Parse {
            path: path.to_owned(),
            line,
            key,
            message,
        };
        if let Some(line) = key_line(text, "database_url") {
            return Err(parse_error(
                line,
                Some("database_url".into()),
                format!(
                    "the database URL is not allowed in the config file (it would put the \
                     password in a file others may read); name a file holding it with \
                     `database_url_file`, or set {ENV_DATABASE_URL}"
                ),
            ));
        }
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            let key = text
                .lines()
                .nth(line - 1)
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim().to_owned())
                .filter(|k| !k.is_empty() && !k.starts_with('#'))
                .or_else(|| backticked(e.message()));
            parse_error(line, key, e.message().trim().to_owned())
        })?;
        if !(0.0..=1.0).contains(&config.on_time_target) {
            return Err(parse_error(
                key_line(text, "on_time_target").unwrap_or(1),
                Some("on_time_target".into()),
                "must be a share between 0 and 1, e.g. 0.95".into(),
            ));
        }
        if config.due_soon_workdays > MAX_DUE_SOON_WORKDAYS {
            return Err(parse_error(
                key_line(text, "due_soon_workdays").unwrap_or(1),
                Some("due_soon_workdays".into()),
                format!("must be 0 to {MAX_DUE_SOON_WORKDAYS} working days"),
            ));
        }
        if config.query_timeout < Duration::from_secs(1) {
            return Err(parse_error(
                key_line(text, "query_timeout").unwrap_or(1),
                Some("query_timeout".into()),
                "must be at least 1s".into(),
            ));
        }
        if config.cache_ttl < Duration::from_secs(1) {
            return Err(parse_error(
                key_line(text, "cache_ttl").unwrap_or(1),
                Some("cache_ttl".into()),
                "must be at least 1s".into(),
            ));
        }
        let base = path.parent().unwrap_or(Path::new(""));
        let anchor = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        config.database_url_file.as_mut().map(anchor);
        config.calendar.as_mut().map(anchor);
        config.queries_dir.as_mut().map(anchor);
        config.web_config_file.as_mut().map(anchor);
        config.service_index.as_mut().map(anchor);
        if key_line(text, "data_dir").is_some() {
            anchor(&mut config.data_dir);
        }
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }
}

fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines().enumerate().find_map(|(i, l)| {
        let (k, _) = l.split_once('=')?;
        (k.trim().trim_matches('"') == key).then_some(i + 1)
    })
}

fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// Where the data comes from, once flags, file and defaults are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// None only with `--demo`.
    pub database_url: Option<String>,
    pub demo: bool,
    pub config: Config,
}

impl Settings {
    pub fn resolve(cli: &Cli) -> Result<Settings, ConfigError> {
        let mut config = match &cli.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(c) = &cli.calendar {
            config.calendar = Some(c.clone());
        }
        if let Some(q) = &cli.queries_dir {
            config.queries_dir = Some(q.clone());
        }
        if let Some(f) = &cli.service_index {
            config.service_index = Some(f.clone());
        }
        let url = match (&cli.database_url, &config.database_url_file) {
            (Some(url), _) if !url.trim().is_empty() => Some(url.trim().to_owned()),
            (_, Some(file)) => Some(read_url_file(
                file,
                cli.config.as_deref().unwrap_or(Path::new("")),
            )?),
            _ => None,
        };
        if url.is_none() && !cli.demo {
            return Err(ConfigError::MissingUrl);
        }
        Ok(Settings {
            database_url: if cli.demo { None } else { url },
            demo: cli.demo,
            config,
        })
    }
}

fn read_url_file(path: &Path, config: &Path) -> Result<String, ConfigError> {
    motcua_queries::source::read_url_file(path).map_err(|reason| ConfigError::UrlFile {
        path: path.to_owned(),
        config: config.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::parse("", Path::new("d.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "0.0.0.0:9746");
        assert_eq!(c.cache_ttl, Duration::from_secs(300));
        assert_eq!(c.data_dir, PathBuf::from("motcua-data"));
    }

    #[test]
    fn due_soon_workdays_is_0_to_30() {
        let parse = |text: &str| Config::parse(text, Path::new("d.toml"));
        assert_eq!(parse("").unwrap().due_soon_workdays, 1);
        assert_eq!(
            parse("due_soon_workdays = 30").unwrap().due_soon_workdays,
            30
        );
        for bad in ["31", "-1", "1.5", "\"1\""] {
            let msg = parse(&format!("# x\ndue_soon_workdays = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(msg.contains("d.toml, line 2"), "{bad}: {msg}");
            assert!(msg.contains("key `due_soon_workdays`"), "{bad}: {msg}");
        }
    }

    #[test]
    fn keys_parse_and_paths_follow_the_file() {
        let c = Config::parse(
            "period_convention = \"day15\"\ncache_ttl = \"30s\"\ndata_dir = \"data\"\n\
             calendar = \"cal.toml\"\non_time_target = 0.9\nsource_name = \"Sở\"\n",
            Path::new("/etc/motcua/dashboard.toml"),
        )
        .unwrap();
        assert_eq!(c.period_convention, PeriodConvention::Day15);
        assert_eq!(c.cache_ttl, Duration::from_secs(30));
        assert_eq!(c.data_dir, PathBuf::from("/etc/motcua/data"));
        assert_eq!(c.calendar, Some(PathBuf::from("/etc/motcua/cal.toml")));
        assert_eq!(c.on_time_target, 0.9);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let msg = Config::parse(
            "listen = \"0.0.0.0:1\"\ncache_tll = \"5s\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("x.toml, line 2, key `cache_tll`"), "{msg}");
        let msg = Config::parse("period_convention = \"fiscal\"", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `period_convention`") && msg.contains("day15"),
            "{msg}"
        );
        let msg = Config::parse("cache_ttl = \"soon\"", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `cache_ttl`") && msg.contains("invalid duration"),
            "{msg}"
        );
        let msg = Config::parse("on_time_target = 95", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("key `on_time_target`"), "{msg}");
        let msg = Config::parse(
            "database_url = \"postgres://u:secret@h/db\"",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("database_url_file") && !msg.contains("secret"),
            "{msg}"
        );
    }

    #[test]
    fn global_flags_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from(["d", "--demo", "render", "--period", "2025", "--out", "o"])
            .unwrap();
        let b = Cli::try_parse_from(["d", "render", "--period", "2025", "--out", "o", "--demo"])
            .unwrap();
        assert!(a.demo && b.demo);
        let c = Cli::try_parse_from([
            "d",
            "serve",
            "--calendar",
            "c.toml",
            "--listen",
            "127.0.0.1:1",
        ])
        .unwrap();
        assert_eq!(c.calendar, Some(PathBuf::from("c.toml")));
        assert!(matches!(
            c.command,
            Command::Serve {
                listen: Some(_),
                ..
            }
        ));
        let err = Cli::try_parse_from([
            "d", "render", "--period", "2025", "--out", "o", "--lang", "fr",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("vi or en"), "{err}");
    }

    #[test]
    fn a_url_or_demo_is_needed() {
        let cli = Cli::try_parse_from(["d", "serve"]).unwrap();
        if std::env::var_os(ENV_DATABASE_URL).is_none() {
            assert!(matches!(
                Settings::resolve(&cli),
                Err(ConfigError::MissingUrl)
            ));
        }
        let cli = Cli::try_parse_from(["d", "serve", "--demo"]).unwrap();
        assert!(Settings::resolve(&cli).unwrap().demo);
    }
}
