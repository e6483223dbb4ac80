//! The config file (TOML): the keys both services share, the service's own
//! keys beside them, and errors that name the file, line, column and key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use motcua_queries::calendar::{DEFAULT_DUE_SOON_WORKDAYS, MAX_DUE_SOON_WORKDAYS};
use motcua_queries::report::PeriodConvention;
use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};

use crate::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_DATA_DIR, DEFAULT_DEMO_DOSSIERS, DEFAULT_FULL_RESYNC_INTERVAL,
    DEFAULT_QUERY_TIMEOUT, ENV_DATABASE_URL, MIN_QUERY_TIMEOUT,
};

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
    /// A bad flag or environment variable (`origin` names it).
    #[error("{origin}: {message}")]
    Value { origin: String, message: String },
    #[error(
        "no database URL: give --database-url, set {ENV_DATABASE_URL}, or name a \
         database_url_file in the config file (or run with --demo)"
    )]
    MissingUrl,
}

/// Parses a humantime duration ("60s", "5m", "1h 30m").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("invalid duration {s:?} ({e}); write it like \"60s\", \"5m\" or \"1h\"")
    })
}

/// For `#[serde(deserialize_with = …)]` on duration keys.
pub fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

/// The keys both services read from their config file. Every key is
/// optional; the defaults are documented on each field.
///
/// ```toml
/// database_url_file = "/run/secrets/motcua-db-url"  # file whose trimmed content is the URL
/// listen = "0.0.0.0:9745"              # default: the service's port (exporter 9745, dashboard 9746)
/// web_config_file = "web-config.yml"   # TLS and basic auth; default: plain HTTP
/// calendar = "calendar.toml"           # default: the built-in calendar
/// queries_dir = "sql"                  # default: the built-in SQL files
/// service_index = "service-index.toml" # default: the built-in indicator table (DESIGN §8)
/// period_convention = "calendar"       # or "day15" (15th-to-14th statistical months)
/// data_dir = "motcua-data"             # --demo's database (and the exporter's counter offsets)
/// demo_dossiers = 300000
/// connect_timeout = "10s"
/// query_timeout = "60s"                # the longest one source statement may run
/// full_resync_interval = "1h"          # read everything at least this often ("0s": every time)
/// due_soon_workdays = 1                # 0-30: due today (0), or within that many working days
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct CommonConfig {
    /// File whose trimmed content is the database URL. Default: none.
    pub database_url_file: Option<PathBuf>,
    /// Address to serve on. Default: the service's own port.
    pub listen: Option<SocketAddr>,
    /// Web config file (TLS, basic auth). Default: none, plain HTTP.
    pub web_config_file: Option<PathBuf>,
    /// Working-day calendar file. Default: the built-in calendar.
    pub calendar: Option<PathBuf>,
    /// Folder of the operator's SQL files. Default: the built-in files.
    pub queries_dir: Option<PathBuf>,
    /// Service index indicator file. Default: the built-in table.
    pub service_index: Option<PathBuf>,
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
    /// (SQLite: the read is abandoned). Default: `60s`, at least `1s`.
    #[serde(deserialize_with = "de_duration")]
    pub query_timeout: Duration,
    /// How often a full re-read of the source replaces incremental reads
    /// (which read only rows whose updated_at changed); it catches what
    /// `updated_at` cannot show (deleted rows). `0s` = always full.
    /// Default: `1h`.
    #[serde(deserialize_with = "de_duration")]
    pub full_resync_interval: Duration,
    /// A pending in-time dossier is due soon when its due date is at most
    /// this many working days away (DESIGN §9). 0 to 30; default 1.
    pub due_soon_workdays: u32,
    /// Only read so that a `database_url` key gets a helpful error.
    #[serde(rename = "database_url")]
    #[doc(hidden)]
    pub forbidden_database_url: Option<toml::Spanned<toml::Value>>,
}

impl Default for CommonConfig {
    fn default() -> Self {
        CommonConfig {
            database_url_file: None,
            listen: None,
            web_config_file: None,
            calendar: None,
            queries_dir: None,
            service_index: None,
            period_convention: PeriodConvention::Calendar,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            demo_dossiers: DEFAULT_DEMO_DOSSIERS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            full_resync_interval: DEFAULT_FULL_RESYNC_INTERVAL,
            due_soon_workdays: DEFAULT_DUE_SOON_WORKDAYS,
            forbidden_database_url: None,
        }
    }
}

/// A service's own config-file keys, read from the same file as
/// [`CommonConfig`]. The type is deserialised with `#[serde(default)]` and
/// without `deny_unknown_fields` (the shared keys are beside it); keys that
/// neither type knows are refused by [`ConfigFile::parse`].
pub trait OwnKeys: DeserializeOwned + Default {
    /// Checks values serde cannot and anchors the service's own relative
    /// paths with [`FileText::anchor`]. Errors name the key
    /// ([`FileText::error_at`]).
    fn check(&mut self, _file: &FileText<'_>) -> Result<(), ConfigError> {
        Ok(())
    }
}

impl OwnKeys for () {}

/// One config file: the shared keys and the service's own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigFile<Own> {
    pub common: CommonConfig,
    pub own: Own,
}

impl<Own: OwnKeys> ConfigFile<Own> {
    /// Parses config-file text; `path` names the file in errors and anchors
    /// relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file = FileText { text, path };
        let table: toml::Table = toml::from_str(text).map_err(|e| file.toml_error(&e))?;
        if table.contains_key("database_url") {
            return Err(file.error_at(
                "database_url",
                format!(
                    "the database URL is not allowed in the config file (it would put the \
                     password in a file others may read); write it in a file only the service \
                     can read and name that file with `database_url_file`, or set \
                     {ENV_DATABASE_URL}"
                ),
            ));
        }
        // serde's `deny_unknown_fields` cannot see two types at once: list
        // both types' keys and refuse any other.
        let mut known: Vec<&str> = field_names::<CommonConfig>()
            .iter()
            .chain(field_names::<Own>())
            .copied()
            .filter(|k| *k != "database_url")
            .collect();
        known.sort_unstable();
        if let Some(unknown) = table.keys().find(|k| !known.contains(&k.as_str())) {
            let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            return Err(file.error_at(
                unknown,
                format!(
                    "unknown field `{unknown}`, expected one of {}",
                    expected.join(", ")
                ),
            ));
        }
        let mut common: CommonConfig = toml::from_str(text).map_err(|e| file.toml_error(&e))?;
        let mut own: Own = toml::from_str(text).map_err(|e| file.toml_error(&e))?;
        if common.query_timeout < MIN_QUERY_TIMEOUT {
            return Err(file.error_at("query_timeout", "must be at least 1s".into()));
        }
        if common.due_soon_workdays > MAX_DUE_SOON_WORKDAYS {
            return Err(file.error_at(
                "due_soon_workdays",
                format!("must be 0 to {MAX_DUE_SOON_WORKDAYS} working days"),
            ));
        }
        own.check(&file)?;
        for p in [
            &mut common.database_url_file,
            &mut common.web_config_file,
            &mut common.calendar,
            &mut common.queries_dir,
            &mut common.service_index,
        ]
        .into_iter()
        .flatten()
        {
            file.anchor(p);
        }
        if file.has_key("data_dir") {
            file.anchor(&mut common.data_dir);
        }
        Ok(ConfigFile { common, own })
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }
}

/// The text of a config file and its path: where errors point.
#[derive(Debug, Clone, Copy)]
pub struct FileText<'a> {
    pub text: &'a str,
    pub path: &'a Path,
}

impl FileText<'_> {
    /// An error about `key`, at the line where it is written.
    pub fn error_at(&self, key: &str, message: String) -> ConfigError {
        let (line, column) = self.key_position(key).unwrap_or((1, 1));
        self.error(line, column, Some(key.to_owned()), message)
    }

    /// An error about `key`, at a byte span (a `toml::Spanned` value).
    pub fn error_at_span(
        &self,
        key: &str,
        span: std::ops::Range<usize>,
        message: String,
    ) -> ConfigError {
        let (line, column, _) = self.locate(Some(span));
        self.error(line, column, Some(key.to_owned()), message)
    }

    /// Whether `key` is written in the file (a default is not).
    pub fn has_key(&self, key: &str) -> bool {
        self.key_position(key).is_some()
    }

    /// Takes a relative path as relative to the file's folder.
    pub fn anchor(&self, p: &mut PathBuf) {
        if p.is_relative() {
            *p = self.path.parent().unwrap_or(Path::new("")).join(&*p);
        }
    }

    fn error(
        &self,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    ) -> ConfigError {
        ConfigError::Parse {
            path: self.path.to_owned(),
            line,
            column,
            key,
            message,
        }
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let (line, column, key) = self.locate(e.span());
        self.error(
            line,
            column,
            key.or_else(|| backticked(e.message())),
            e.message().trim().to_owned(),
        )
    }

    /// 1-based line and column of a byte offset, and the key written on that line.
    fn locate(&self, span: Option<std::ops::Range<usize>>) -> (usize, usize, Option<String>) {
        let text = self.text;
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

    /// The line and column where `key = …` (or a `[key]` table) is written.
    fn key_position(&self, key: &str) -> Option<(usize, usize)> {
        self.text.lines().enumerate().find_map(|(i, l)| {
            let written = match l.trim_start().strip_prefix('[') {
                Some(header) => header.split(']').next()?,
                None => l.split_once('=')?.0,
            };
            (written.trim().trim_matches('"') == key)
                .then(|| (i + 1, l.len() - l.trim_start().len() + 1))
        })
    }
}

/// serde names the key in "unknown field `x`" and "missing field `x`".
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// The keys a `#[derive(Deserialize)]` struct reads (after renames), as
/// serde hands them to `deserialize_struct`.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(&'static [&'static str]);
    impl<'de> Deserializer<'de> for &mut Fields {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(serde::de::Error::custom("only the field names were wanted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }
    let mut fields = Fields(&[]);
    let _ = T::deserialize(&mut fields);
    fields.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(default)]
    struct Own {
        refresh_interval: u32,
        #[serde(rename = "named")]
        renamed: Option<PathBuf>,
    }

    impl OwnKeys for Own {
        fn check(&mut self, file: &FileText<'_>) -> Result<(), ConfigError> {
            if self.refresh_interval > 10 {
                return Err(file.error_at("refresh_interval", "at most 10".into()));
            }
            if let Some(p) = &mut self.renamed {
                file.anchor(p);
            }
            Ok(())
        }
    }

    fn parse(text: &str) -> Result<ConfigFile<Own>, ConfigError> {
        ConfigFile::parse(text, Path::new("/etc/motcua/x.toml"))
    }

    #[test]
    fn both_types_read_one_file_and_defaults_hold() {
        let f = parse("").unwrap();
        assert_eq!(f.common, CommonConfig::default());
        assert_eq!(f.common.query_timeout, Duration::from_secs(60));
        assert_eq!(f.common.full_resync_interval, Duration::from_secs(3600));
        let f = parse(
            "refresh_interval = 5\nnamed = \"a.toml\"\ncalendar = \"cal.toml\"\n\
             period_convention = \"day15\"\ndata_dir = \"data\"\n",
        )
        .unwrap();
        assert_eq!(f.own.refresh_interval, 5);
        assert_eq!(f.own.renamed, Some(PathBuf::from("/etc/motcua/a.toml")));
        assert_eq!(
            f.common.calendar,
            Some(PathBuf::from("/etc/motcua/cal.toml"))
        );
        assert_eq!(f.common.period_convention, PeriodConvention::Day15);
        assert_eq!(f.common.data_dir, PathBuf::from("/etc/motcua/data"));
    }

    #[test]
    fn a_key_neither_type_knows_names_its_line() {
        let msg = parse("# x\n\nrefresh_intervall = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("config file /etc/motcua/x.toml, line 3, column 1, key `refresh_intervall`: unknown field"),
            "{msg}"
        );
        assert!(
            msg.contains("`named`") && msg.contains("`calendar`"),
            "{msg}"
        );
        assert!(!msg.contains("`renamed`"), "{msg}");
        let msg = parse("listen = \"127.0.0.1:1\"\n[extra]\nx = 1\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 2, column 1, key `extra`"), "{msg}");
    }

    #[test]
    fn bad_values_of_either_type_name_line_and_key() {
        let msg = parse("\n\nquery_timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("line 3") && msg.contains("key `query_timeout`"),
            "{msg}"
        );
        assert!(msg.contains("invalid duration \"soon\""), "{msg}");
        let msg = parse("\nrefresh_interval = \"x\"").unwrap_err().to_string();
        assert!(
            msg.contains("line 2") && msg.contains("key `refresh_interval`"),
            "{msg}"
        );
        let msg = parse("\nrefresh_interval = 11").unwrap_err().to_string();
        assert!(
            msg.contains("line 2, column 1, key `refresh_interval`: at most 10"),
            "{msg}"
        );
        let msg = parse("query_timeout = \"500ms\"").unwrap_err().to_string();
        assert!(
            msg.contains("key `query_timeout`: must be at least 1s"),
            "{msg}"
        );
        let msg = parse("due_soon_workdays = 31").unwrap_err().to_string();
        assert!(msg.contains("key `due_soon_workdays`"), "{msg}");
        let msg = parse("listen = [").unwrap_err().to_string();
        assert!(msg.contains("/etc/motcua/x.toml, line 1"), "{msg}");
    }

    #[test]
    fn the_database_url_is_refused_without_echoing_it() {
        let msg = parse("\ndatabase_url = \"postgres://u:secret@db/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("line 2") && msg.contains("`database_url`"),
            "{msg}"
        );
        assert!(
            msg.contains("database_url_file") && !msg.contains("secret"),
            "{msg}"
        );
    }
}
