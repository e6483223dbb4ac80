//! Settings: command-line flags, environment, the TOML config file and
//! defaults, in that order of priority (flag > env > file > default).
//!
//! What both services take (the source, the web config, the shared keys)
//! is defined once in `motcua_settings`; this module adds the exporter's
//! own: `refresh_interval` and the `agencies` of its shard.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use motcua_queries::shard::AgencyFilter;
use motcua_settings::{FileText, OwnKeys};
pub use motcua_settings::{SourceArgs, SourceSettings, WebArgs, WebSettings};
use serde::Deserialize;

pub use motcua_settings::{
    ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DATA_DIR, DEFAULT_DEMO_DOSSIERS,
    DEFAULT_FULL_RESYNC_INTERVAL, DEFAULT_QUERY_TIMEOUT, DatabaseUrl, ENV_CALENDAR, ENV_CONFIG,
    ENV_DATA_DIR, ENV_DATABASE_URL, ENV_FULL_RESYNC_INTERVAL, ENV_LISTEN, ENV_QUERIES_DIR,
    ENV_SERVICE_INDEX, ENV_WEB_CONFIG_FILE, MIN_QUERY_TIMEOUT, UrlOrigin, parse_duration,
};

pub const ENV_REFRESH_INTERVAL: &str = "MOTCUA_REFRESH_INTERVAL";
/// Agency patterns of this exporter's shard, separated by commas.
pub const ENV_AGENCIES: &str = "MOTCUA_AGENCIES";

/// Default listen address (DESIGN §5: exporter port 9745).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9745";
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
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
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub web: WebArgs,
    /// How often to recompute the metrics from the source, e.g. 60s, 5m
    /// [env: MOTCUA_REFRESH_INTERVAL] [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub refresh_interval: Option<Duration>,
    /// Read only these agencies (sharding): an agency code like 000.00.12.H18 or a prefix
    /// like 000.00.12.*; repeat the flag or separate patterns with commas
    /// [env: MOTCUA_AGENCIES, comma-separated] [default: every agency]
    #[arg(long = "agency", value_name = "PATTERN", value_delimiter = ',', value_parser = parse_agency_arg)]
    pub agencies: Vec<String>,
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

/// The exporter's own config-file keys, beside the shared ones
/// ([`motcua_settings::CommonConfig`]) in the same file:
///
/// ```toml
/// refresh_interval = "60s"
/// agencies = ["000.00.12.H18", "000.00.13.*"]   # default: every agency
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ExporterKeys {
    /// How often the metrics are recomputed from the source. Default: `60s`.
    #[serde(deserialize_with = "motcua_settings::de_duration")]
    pub refresh_interval: Duration,
    /// The agencies this exporter reads (sharding a large source between
    /// several exporters): exact agency codes (`000.00.12.H18`) and
    /// prefixes ending in `*` (`000.00.12.*`). Default: `[]`, every agency.
    /// Built from `agencies` in [`OwnKeys::check`].
    #[serde(skip)]
    pub agencies: AgencyFilter,
    /// The `agencies` list as written, with where each pattern is.
    #[serde(rename = "agencies")]
    #[doc(hidden)]
    pub agency_patterns: Vec<toml::Spanned<String>>,
}

impl Default for ExporterKeys {
    fn default() -> Self {
        ExporterKeys {
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            agencies: AgencyFilter::all(),
            agency_patterns: Vec::new(),
        }
    }
}

impl OwnKeys for ExporterKeys {
    fn check(&mut self, file: &FileText<'_>) -> Result<(), ConfigError> {
        if self.refresh_interval < MIN_REFRESH_INTERVAL {
            return Err(file.error_at("refresh_interval", "must be at least 1s".into()));
        }
        for pattern in &self.agency_patterns {
            // Each pattern alone, then the list (so the error points at the
            // pattern that is wrong).
            if let Err(message) = AgencyFilter::parse(std::slice::from_ref(pattern.get_ref())) {
                return Err(file.error_at_span("agencies", pattern.span(), message));
            }
        }
        let patterns: Vec<String> = self
            .agency_patterns
            .iter()
            .map(|p| p.get_ref().clone())
            .collect();
        self.agencies =
            AgencyFilter::parse(&patterns).map_err(|message| file.error_at("agencies", message))?;
        Ok(())
    }
}

/// The exporter's config file: the shared keys and its own.
pub type Config = motcua_settings::ConfigFile<ExporterKeys>;

/// Effective settings after flags, environment, file and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the data comes from (shared with the chart service).
    pub source: SourceSettings,
    /// Where /metrics is served.
    pub web: WebSettings,
    pub refresh_interval: Duration,
    /// The agencies this exporter reads (`--agency`, `MOTCUA_AGENCIES`,
    /// `agencies`); every agency by default.
    pub agency_filter: AgencyFilter,
}

impl Settings {
    /// Resolves flags, environment (looked up with `env`), the config file
    /// and defaults.
    pub fn resolve(
        cli: &Cli,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let (source, file) = SourceSettings::resolve::<ExporterKeys>(&cli.source, env)?;
        let default_listen: SocketAddr = DEFAULT_LISTEN.parse().expect("valid default address");
        let web = WebSettings::resolve(&cli.web, env, &file.common, default_listen)?;
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let value_error = |origin: &str, message: String| ConfigError::Value {
            origin: origin.to_owned(),
            message,
        };
        let refresh_interval = match (cli.refresh_interval, env(ENV_REFRESH_INTERVAL)) {
            (Some(d), _) => d,
            (None, Some(v)) => {
                parse_duration(&v).map_err(|m| value_error(ENV_REFRESH_INTERVAL, m))?
            }
            (None, None) => file.own.refresh_interval,
        };
        if refresh_interval < MIN_REFRESH_INTERVAL {
            let origin = if cli.refresh_interval.is_some() {
                "--refresh-interval"
            } else {
                ENV_REFRESH_INTERVAL
            };
            return Err(value_error(origin, "must be at least 1s".into()));
        }
        let agency_filter = if !cli.agencies.is_empty() {
            AgencyFilter::parse(&cli.agencies).map_err(|m| value_error("--agency", m))?
        } else if let Some(list) = env(ENV_AGENCIES) {
            AgencyFilter::parse(&split_patterns(&list)).map_err(|m| value_error(ENV_AGENCIES, m))?
        } else {
            file.own.agencies
        };
        Ok(Settings {
            source,
            web,
            refresh_interval,
            agency_filter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::{Path, PathBuf};

    use motcua_queries::report::PeriodConvention;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn demo_cli() -> Cli {
        Cli {
            source: SourceArgs {
                demo: true,
                ..SourceArgs::default()
            },
            ..Cli::default()
        }
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = Config::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c.own.refresh_interval, Duration::from_secs(60));
        assert_eq!(c.common.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.common.query_timeout, Duration::from_secs(60));
        assert_eq!(c.common.data_dir, PathBuf::from("motcua-data"));
        assert_eq!(c.common.demo_dossiers, 300_000);
        assert_eq!(c.common.period_convention, PeriodConvention::Calendar);
        assert!(c.own.agencies.is_all());
        assert_eq!(c.common.full_resync_interval, Duration::from_secs(3600));
        let s = Settings::resolve(&demo_cli(), &no_env).unwrap();
        assert_eq!(s.web.listen.to_string(), "0.0.0.0:9745");
    }

    #[test]
    fn agencies_and_full_resync_parse() {
        let c = Config::parse(
            "agencies = [\"A.1\", \"B.*\"]\nfull_resync_interval = \"0s\"",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.own.agencies.patterns(), ["A.1", "B.*"]);
        assert_eq!(c.common.full_resync_interval, Duration::ZERO);
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
        assert_eq!(parse("").unwrap().common.due_soon_workdays, 1);
        assert_eq!(
            parse("due_soon_workdays = 0")
                .unwrap()
                .common
                .due_soon_workdays,
            0
        );
        assert_eq!(
            parse("due_soon_workdays = 30")
                .unwrap()
                .common
                .due_soon_workdays,
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
            source: SourceArgs {
                database_url: Some("sqlite:x".into()),
                ..SourceArgs::default()
            },
            refresh_interval: Some(Duration::from_millis(1)),
            ..Cli::default()
        };
        assert!(Settings::resolve(&cli, &no_env).is_err());
    }

    #[test]
    fn query_timeout_parses_and_has_a_floor() {
        let c = Config::parse("query_timeout = \"2m 30s\"", Path::new("c.toml")).unwrap();
        assert_eq!(c.common.query_timeout, Duration::from_secs(150));
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
        assert_eq!(
            c.common.calendar,
            Some(PathBuf::from("/etc/motcua/cal.toml"))
        );
        assert_eq!(c.common.queries_dir, Some(PathBuf::from("/abs/sql")));
        assert_eq!(c.common.data_dir, PathBuf::from("/etc/motcua/data"));
        let c = Config::parse("", Path::new("/etc/motcua/exporter.toml")).unwrap();
        assert_eq!(c.common.data_dir, PathBuf::from("motcua-data"));
    }

    #[test]
    fn missing_url_without_demo_is_an_error() {
        let err = Settings::resolve(&Cli::default(), &no_env).unwrap_err();
        assert!(matches!(err, ConfigError::MissingUrl));
        assert!(err.to_string().contains("MOTCUA_DATABASE_URL"));
        let demo = Settings::resolve(&demo_cli(), &no_env).unwrap();
        assert!(demo.source.database_url.is_none());
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
        assert!(cli.source.demo);
        assert_eq!(cli.web.listen, Some("127.0.0.1:9999".parse().unwrap()));
        let err =
            Cli::try_parse_from(["motcua-exporter", "--refresh-interval", "often"]).unwrap_err();
        assert!(err.to_string().contains("invalid duration"), "{err}");
    }

    #[test]
    fn example_config_is_valid_and_shows_the_defaults() {
        let text = include_str!("../exporter.example.toml");
        let mut parsed = Config::parse(text, Path::new("exporter.example.toml")).unwrap();
        assert_eq!(parsed.common.listen, Some(DEFAULT_LISTEN.parse().unwrap()));
        parsed.common.listen = None;
        assert_eq!(parsed, Config::default());
    }
}
