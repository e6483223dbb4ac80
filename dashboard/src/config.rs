//! Settings: command-line flags, environment variables, the TOML config
//! file and defaults, in that order of priority.
//!
//! What both services take (the source, the web config, the shared keys)
//! is defined once in `motcua_settings`; this module adds the chart
//! service's own keys and its subcommands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use motcua_queries::report::PeriodName;
use motcua_settings::{FileText, OwnKeys};
pub use motcua_settings::{SourceArgs, SourceSettings, WebArgs, WebSettings};
use serde::Deserialize;

use crate::i18n::Lang;

pub use motcua_settings::{ConfigError, ENV_DATABASE_URL};

pub const DEFAULT_LISTEN: &str = "0.0.0.0:9746";
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_ON_TIME_TARGET: f64 = 0.95;

/// Command line (DESIGN §5). The source flags are global: they may come
/// before or after the subcommand.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "motcua-dashboard",
    version,
    about = "Report charts (PNG/SVG) and the official Biểu 06 periodic report for one-stop \
             administrative-procedure KPIs (motcua)",
    long_about = "Report charts (PNG/SVG) and the official Biểu 06 periodic report for one-stop \
                  administrative-procedure KPIs (motcua).\n\nPriority of settings: flag > \
                  environment variable > config file > default."
)]
pub struct Cli {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve charts and reports over HTTP
    Serve {
        #[command(flatten)]
        web: WebArgs,
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

/// The chart service's own config-file keys, beside the shared ones
/// ([`motcua_settings::CommonConfig`]) in the same file:
///
/// ```toml
/// cache_ttl = "5m"                     # read what changed in the source when the data is older
/// on_time_target = 0.95                # the target line of on_time_trend
/// source_name = "Hệ thống thông tin giải quyết TTHC tỉnh Điện Biên"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct DashboardKeys {
    /// Read what changed in the source when the data is older. Default:
    /// `5m`, at least `1s`.
    #[serde(deserialize_with = "motcua_settings::de_duration")]
    pub cache_ttl: Duration,
    /// The target line of `on_time_trend`, a share. Default: 0.95.
    pub on_time_target: f64,
    /// Named in every chart's footer and the report; default: a generic
    /// name of the one-stop system in the chart's language.
    pub source_name: Option<String>,
}

impl Default for DashboardKeys {
    fn default() -> Self {
        DashboardKeys {
            cache_ttl: DEFAULT_CACHE_TTL,
            on_time_target: DEFAULT_ON_TIME_TARGET,
            source_name: None,
        }
    }
}

impl OwnKeys for DashboardKeys {
    fn check(&mut self, file: &FileText<'_>) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.on_time_target) {
            return Err(file.error_at(
                "on_time_target",
                "must be a share between 0 and 1, e.g. 0.95".into(),
            ));
        }
        if self.cache_ttl < Duration::from_secs(1) {
            return Err(file.error_at("cache_ttl", "must be at least 1s".into()));
        }
        Ok(())
    }
}

/// The chart service's config file: the shared keys and its own.
pub type Config = motcua_settings::ConfigFile<DashboardKeys>;

/// Effective settings after flags, environment, file and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the data comes from (shared with the exporter).
    pub source: SourceSettings,
    /// Where `serve` answers (the defaults for `render`).
    pub web: WebSettings,
    pub own: DashboardKeys,
}

impl Settings {
    /// Resolves flags, environment (looked up with `env`), the config file
    /// and defaults.
    pub fn resolve(
        cli: &Cli,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let (source, file) = SourceSettings::resolve::<DashboardKeys>(&cli.source, env)?;
        let default_listen: SocketAddr = DEFAULT_LISTEN.parse().expect("valid default address");
        let no_flags = WebArgs::default();
        let web_args = match &cli.command {
            Command::Serve { web } => web,
            Command::Render { .. } => &no_flags,
        };
        let web = WebSettings::resolve(web_args, env, &file.common, default_listen)?;
        Ok(Settings {
            source,
            web,
            own: file.own,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use motcua_queries::report::PeriodConvention;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults() {
        let c = Config::parse("", Path::new("d.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.own.cache_ttl, Duration::from_secs(300));
        assert_eq!(c.common.data_dir, PathBuf::from("motcua-data"));
        let cli = Cli::try_parse_from(["d", "serve", "--demo"]).unwrap();
        let s = Settings::resolve(&cli, &no_env).unwrap();
        assert_eq!(s.web.listen.to_string(), "0.0.0.0:9746");
    }

    #[test]
    fn due_soon_workdays_is_0_to_30() {
        let parse = |text: &str| Config::parse(text, Path::new("d.toml"));
        assert_eq!(parse("").unwrap().common.due_soon_workdays, 1);
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
        assert_eq!(c.common.period_convention, PeriodConvention::Day15);
        assert_eq!(c.own.cache_ttl, Duration::from_secs(30));
        assert_eq!(c.common.data_dir, PathBuf::from("/etc/motcua/data"));
        assert_eq!(
            c.common.calendar,
            Some(PathBuf::from("/etc/motcua/cal.toml"))
        );
        assert_eq!(c.own.on_time_target, 0.9);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let msg = Config::parse(
            "listen = \"0.0.0.0:1\"\ncache_tll = \"5s\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("x.toml, line 2, column 1, key `cache_tll`"),
            "{msg}"
        );
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
        assert!(a.source.demo && b.source.demo);
        let c = Cli::try_parse_from([
            "d",
            "serve",
            "--calendar",
            "c.toml",
            "--listen",
            "127.0.0.1:1",
        ])
        .unwrap();
        assert_eq!(c.source.calendar, Some(PathBuf::from("c.toml")));
        assert!(matches!(
            c.command,
            Command::Serve {
                web: WebArgs {
                    listen: Some(_),
                    ..
                }
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
        assert!(matches!(
            Settings::resolve(&cli, &no_env),
            Err(ConfigError::MissingUrl)
        ));
        let env = |k: &str| (k == ENV_DATABASE_URL).then(|| "sqlite:x".to_owned());
        assert!(Settings::resolve(&cli, &env).is_ok());
        let cli = Cli::try_parse_from(["d", "serve", "--demo"]).unwrap();
        assert!(Settings::resolve(&cli, &no_env).unwrap().source.demo);
    }
}
