//! Settings resolution with real files: flag > env > file > default.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use clap::Parser;
use common::{Scratch, scratch};
use motcua_exporter::config::{ConfigError, SourceArgs, UrlOrigin, WebArgs};
use motcua_exporter::{Cli, Config, Settings};
use motcua_queries::demo::{DemoConfig, insert_batches};
use motcua_queries::shard::AgencyFilter;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn write_config(dir: &Scratch, text: &str) -> PathBuf {
    let path = dir.join("exporter.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = scratch("priority");
    std::fs::write(dir.join("db-url"), "  postgres://file:pw@db/x \n").unwrap();
    let config = write_config(
        &dir,
        "database_url_file = \"db-url\"\nlisten = \"127.0.0.1:1001\"\nrefresh_interval = \"3m\"\ncalendar = \"cal.toml\"\n",
    );

    // File only (plus defaults for the rest).
    let cli = with_config(Some(config.clone()), None);
    let s = Settings::resolve(&cli, &env_of(&[])).unwrap();
    let (url, origin) = s.source.database_url.clone().unwrap();
    assert_eq!(url.expose(), "postgres://file:pw@db/x", "trimmed");
    assert_eq!(origin, UrlOrigin::File(dir.join("db-url")));
    assert_eq!(s.web.listen.to_string(), "127.0.0.1:1001");
    assert_eq!(s.refresh_interval, Duration::from_secs(180));
    assert_eq!(
        s.source.calendar,
        Some(dir.join("cal.toml")),
        "relative to the config file"
    );
    assert_eq!(s.source.connect_timeout, Duration::from_secs(10), "default");

    // Environment beats the file.
    let env = env_of(&[
        ("MOTCUA_DATABASE_URL", "mysql://env@db/x"),
        ("MOTCUA_LISTEN", "127.0.0.1:1002"),
        ("MOTCUA_REFRESH_INTERVAL", "90s"),
    ]);
    let s = Settings::resolve(&cli, &env).unwrap();
    let (url, origin) = s.source.database_url.clone().unwrap();
    assert_eq!((url.expose(), origin), ("mysql://env@db/x", UrlOrigin::Env));
    assert_eq!(s.web.listen.to_string(), "127.0.0.1:1002");
    assert_eq!(s.refresh_interval, Duration::from_secs(90));

    // Flags beat the environment.
    let cli = Cli {
        source: SourceArgs {
            config: Some(config),
            database_url: Some("sqlite:flag.sqlite".into()),
            calendar: Some(PathBuf::from("flag-cal.toml")),
            ..SourceArgs::default()
        },
        web: WebArgs {
            listen: Some("127.0.0.1:1003".parse().unwrap()),
            ..WebArgs::default()
        },
        refresh_interval: Some(Duration::from_secs(5)),
        ..Cli::default()
    };
    let s = Settings::resolve(&cli, &env).unwrap();
    let (url, origin) = s.source.database_url.clone().unwrap();
    assert_eq!(
        (url.expose(), origin),
        ("sqlite:flag.sqlite", UrlOrigin::Flag)
    );
    assert_eq!(s.web.listen.to_string(), "127.0.0.1:1003");
    assert_eq!(s.refresh_interval, Duration::from_secs(5));
    assert_eq!(s.source.calendar, Some(PathBuf::from("flag-cal.toml")));
}

#[test]
fn config_path_from_env() {
    let dir = scratch("env-config");
    let config = write_config(&dir, "listen = \"127.0.0.1:1004\"\n");
    let env = env_of(&[
        ("MOTCUA_CONFIG", config.to_str().unwrap()),
        ("MOTCUA_DATABASE_URL", "sqlite:x"),
    ]);
    let s = Settings::resolve(&Cli::default(), &env).unwrap();
    assert_eq!(s.web.listen.to_string(), "127.0.0.1:1004");
    assert_eq!(s.source.config_file, Some(config));
}

#[test]
fn errors_name_their_file_line_and_key() {
    let dir = scratch("errors");
    let config = write_config(&dir, "listen = \"127.0.0.1:1\"\nrefresh = \"5s\"\n");
    let cli = with_url(Some(config.clone()));
    let msg = Settings::resolve(&cli, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&config.display().to_string()), "{msg}");
    assert!(msg.contains("line 2") && msg.contains("`refresh`"), "{msg}");

    write_config(&dir, "connect_timeout = \"ten seconds\"\n");
    let msg = Settings::resolve(&cli, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("line 1") && msg.contains("`connect_timeout`"),
        "{msg}"
    );
    assert!(msg.contains("invalid duration"), "{msg}");

    write_config(&dir, "database_url = \"postgres://u:topsecret@h/db\"\n");
    let msg = Settings::resolve(&cli, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("database_url_file") && !msg.contains("topsecret"),
        "{msg}"
    );

    let mut missing = cli.clone();
    missing.source.config = Some(dir.join("absent.toml"));
    let err = Settings::resolve(&missing, &env_of(&[])).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("absent.toml"));

    let env = env_of(&[("MOTCUA_REFRESH_INTERVAL", "often")]);
    write_config(&dir, "");
    let msg = Settings::resolve(&cli, &env).unwrap_err().to_string();
    assert!(
        msg.contains("MOTCUA_REFRESH_INTERVAL") && msg.contains("\"often\""),
        "{msg}"
    );
}

#[test]
fn database_url_file_problems_are_named() {
    let dir = scratch("url-file");
    let config = write_config(&dir, "database_url_file = \"missing-url\"\n");
    let cli = with_config(Some(config), None);
    let msg = Settings::resolve(&cli, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("missing-url") && msg.contains("cannot read"),
        "{msg}"
    );

    std::fs::write(dir.join("missing-url"), "\n  \n").unwrap();
    let msg = Settings::resolve(&cli, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("is empty"), "{msg}");

    // The env variable wins over the file, so a broken file is never read.
    let s = Settings::resolve(&cli, &env_of(&[("MOTCUA_DATABASE_URL", "sqlite:x")])).unwrap();
    assert_eq!(s.source.database_url.unwrap().1, UrlOrigin::Env);
}

fn filter(patterns: &[&str]) -> AgencyFilter {
    let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    AgencyFilter::parse(&patterns).unwrap()
}

fn with_url(config: Option<PathBuf>) -> Cli {
    with_config(config, Some("sqlite:x"))
}

fn with_config(config: Option<PathBuf>, url: Option<&str>) -> Cli {
    Cli {
        source: SourceArgs {
            config,
            database_url: url.map(Into::into),
            ..SourceArgs::default()
        },
        ..Cli::default()
    }
}

#[test]
fn agencies_and_full_resync_defaults() {
    let s = Settings::resolve(&with_url(None), &env_of(&[])).unwrap();
    assert!(s.agency_filter.is_all(), "every agency by default");
    assert_eq!(
        s.source.full_resync_interval,
        Duration::from_secs(3600),
        "1h"
    );

    let dir = scratch("shard-defaults");
    let config = write_config(&dir, "listen = \"127.0.0.1:1\"\n");
    let s = Settings::resolve(&with_url(Some(config)), &env_of(&[])).unwrap();
    assert!(s.agency_filter.is_all());
    assert_eq!(s.source.full_resync_interval, Duration::from_secs(3600));
}

#[test]
fn agencies_flag_beats_env_beats_file() {
    let dir = scratch("agencies");
    let config = write_config(
        &dir,
        "agencies = [\n  \"000.00.12.H18\",  # a department\n  \"000.00.13.*\",\n]\n",
    );
    let file_only = Settings::resolve(&with_url(Some(config.clone())), &env_of(&[])).unwrap();
    assert_eq!(
        file_only.agency_filter,
        filter(&["000.00.12.H18", "000.00.13.*"])
    );
    assert!(file_only.agency_filter.matches("000.00.13.H18"));
    assert!(!file_only.agency_filter.matches("000.00.14.H18"));

    // The environment: comma-separated, spaces around the commas allowed.
    let env = env_of(&[("MOTCUA_AGENCIES", " 000.00.20.* , 000.00.21.H18 ")]);
    let s = Settings::resolve(&with_url(Some(config.clone())), &env).unwrap();
    assert_eq!(s.agency_filter, filter(&["000.00.20.*", "000.00.21.H18"]));
    // An empty variable counts as unset.
    let blank = env_of(&[("MOTCUA_AGENCIES", "  ")]);
    let s = Settings::resolve(&with_url(Some(config.clone())), &blank).unwrap();
    assert_eq!(s.agency_filter, file_only.agency_filter);

    // Flags: repeated, or comma-separated; they beat the environment.
    let parsed = Cli::try_parse_from([
        "motcua-exporter",
        "--config",
        config.to_str().unwrap(),
        "--database-url",
        "sqlite:x",
        "--agency",
        "000.00.30.*",
        "--agency",
        "000.00.31.H18,000.00.32.*",
    ])
    .unwrap();
    assert_eq!(
        parsed.agencies,
        ["000.00.30.*", "000.00.31.H18", "000.00.32.*"]
    );
    let s = Settings::resolve(&parsed, &env).unwrap();
    assert_eq!(
        s.agency_filter,
        filter(&["000.00.30.*", "000.00.31.H18", "000.00.32.*"])
    );

    // `*` alone, or an empty list, means every agency.
    write_config(&dir, "agencies = [\"*\"]\n");
    let s = Settings::resolve(&with_url(Some(config.clone())), &env_of(&[])).unwrap();
    assert!(s.agency_filter.is_all());
    write_config(&dir, "agencies = []\n");
    let s = Settings::resolve(&with_url(Some(config)), &env_of(&[])).unwrap();
    assert!(s.agency_filter.is_all());
}

#[test]
fn bad_agency_patterns_name_their_origin() {
    let dir = scratch("agencies-bad");
    // In the file: file, line (of the pattern itself) and key.
    let config = write_config(
        &dir,
        "listen = \"127.0.0.1:1\"\nagencies = [\n  \"000.00.12.H18\",\n  \"000.*.H18\",\n]\n",
    );
    let err = Settings::resolve(&with_url(Some(config.clone())), &env_of(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&config.display().to_string()), "{msg}");
    assert!(
        msg.contains("line 4") && msg.contains("key `agencies`"),
        "{msg}"
    );
    assert!(
        msg.contains("\"000.*.H18\"") && msg.contains("`*`"),
        "{msg}"
    );
    match err {
        ConfigError::Parse {
            line, column, key, ..
        } => {
            assert_eq!((line, column), (4, 3));
            assert_eq!(key.as_deref(), Some("agencies"));
        }
        other => panic!("{other:?}"),
    }

    for (text, line, what) in [
        ("agencies = [\"\"]\n", 1, "empty agency pattern"),
        ("\n\nagencies = [\"000.00.12.H18 \"]\n", 3, "whitespace"),
        ("agencies = \"000.00.12.*\"\n", 1, "expected a sequence"),
        ("agencies = [12]\n", 1, "invalid type"),
    ] {
        write_config(&dir, text);
        let msg = Settings::resolve(&with_url(Some(config.clone())), &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&format!("line {line}"))
                && msg.contains("key `agencies`")
                && msg.contains(what),
            "{text:?}: {msg}"
        );
    }

    // In the environment: the variable and the pattern.
    let msg = Settings::resolve(
        &with_url(None),
        &env_of(&[("MOTCUA_AGENCIES", "000.00.12.H18,,000.00.13.*")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("MOTCUA_AGENCIES") && msg.contains("empty agency pattern"),
        "{msg}"
    );
    let msg = Settings::resolve(
        &with_url(None),
        &env_of(&[("MOTCUA_AGENCIES", "000.00.*.H18")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("MOTCUA_AGENCIES") && msg.contains("\"000.00.*.H18\""),
        "{msg}"
    );

    // As a flag: clap refuses it, naming the flag and the pattern ...
    let err = Cli::try_parse_from(["motcua-exporter", "--agency", "00*0"]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("--agency") && msg.contains("\"00*0\""),
        "{msg}"
    );
    // ... and so does resolve, for a Cli built in code.
    let cli = Cli {
        agencies: vec!["000.00.12.H18".into(), "a\\b".into()],
        ..with_url(None)
    };
    let msg = Settings::resolve(&cli, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("--agency:") && msg.contains("backslash"),
        "{msg}"
    );
}

#[test]
fn full_resync_interval_flag_beats_env_beats_file() {
    let dir = scratch("full-resync");
    let config = write_config(&dir, "full_resync_interval = \"6h\"\n");
    let s = Settings::resolve(&with_url(Some(config.clone())), &env_of(&[])).unwrap();
    assert_eq!(s.source.full_resync_interval, Duration::from_secs(6 * 3600));

    let env = env_of(&[("MOTCUA_FULL_RESYNC_INTERVAL", "30m")]);
    let s = Settings::resolve(&with_url(Some(config.clone())), &env).unwrap();
    assert_eq!(s.source.full_resync_interval, Duration::from_secs(1800));

    let cli = Cli::try_parse_from([
        "motcua-exporter",
        "--config",
        config.to_str().unwrap(),
        "--database-url",
        "sqlite:x",
        "--full-resync-interval",
        "2h 30m",
    ])
    .unwrap();
    let s = Settings::resolve(&cli, &env).unwrap();
    assert_eq!(s.source.full_resync_interval, Duration::from_secs(9000));

    // 0s: every refresh is a full refresh, from any source.
    write_config(&dir, "full_resync_interval = \"0s\"\n");
    let s = Settings::resolve(&with_url(Some(config.clone())), &env_of(&[])).unwrap();
    assert_eq!(s.source.full_resync_interval, Duration::ZERO);
    let zero = env_of(&[("MOTCUA_FULL_RESYNC_INTERVAL", "0s")]);
    let s = Settings::resolve(&with_url(None), &zero).unwrap();
    assert_eq!(s.source.full_resync_interval, Duration::ZERO);
    let cli = Cli::try_parse_from(["motcua-exporter", "--full-resync-interval", "0s"]).unwrap();
    assert_eq!(cli.source.full_resync_interval, Some(Duration::ZERO));
}

#[test]
fn bad_full_resync_interval_names_its_origin() {
    let dir = scratch("full-resync-bad");
    let config = write_config(
        &dir,
        "refresh_interval = \"1m\"\nfull_resync_interval = \"hourly\"\n",
    );
    let msg = Settings::resolve(&with_url(Some(config.clone())), &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&config.display().to_string()), "{msg}");
    assert!(
        msg.contains("line 2")
            && msg.contains("key `full_resync_interval`")
            && msg.contains("invalid duration \"hourly\""),
        "{msg}"
    );
    write_config(&dir, "full_resync_interval = 3600\n");
    let msg = Settings::resolve(&with_url(Some(config)), &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("line 1") && msg.contains("key `full_resync_interval`"),
        "{msg}"
    );

    let env = env_of(&[("MOTCUA_FULL_RESYNC_INTERVAL", "-5m")]);
    let msg = Settings::resolve(&with_url(None), &env)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("MOTCUA_FULL_RESYNC_INTERVAL") && msg.contains("\"-5m\""),
        "{msg}"
    );
    let err = Cli::try_parse_from(["motcua-exporter", "--full-resync-interval", "often"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--full-resync-interval") && err.contains("invalid duration"),
        "{err}"
    );
}

fn national_example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../grafana/examples/national")
        .join(name)
}

/// The agency codes of the demo province, from its catalogue statements.
fn demo_agency_codes() -> Vec<String> {
    let config = DemoConfig::new(NaiveDate::from_ymd_opt(2025, 9, 30).unwrap());
    let statement = insert_batches(&config)
        .take(10)
        .find(|s| s.starts_with("INSERT INTO agencies"))
        .expect("the demo inserts its agencies first");
    let codes: Vec<String> = statement
        .lines()
        .skip(1)
        .filter_map(|row| {
            let rest = row.split_once("('")?.1;
            Some(rest.split_once('\'')?.0.to_owned())
        })
        .collect();
    assert!(codes.len() >= 40, "demo agencies: {codes:?}");
    codes
}

#[test]
fn national_example_shards_load_and_partition_the_demo_agencies() {
    let mut filters = Vec::new();
    for name in ["exporter-shard-a.toml", "exporter-shard-b.toml"] {
        let path = national_example(name);
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!config.own.agencies.is_all(), "{name} names its agencies");
        assert_eq!(
            config.common.full_resync_interval,
            Duration::from_secs(3600)
        );
        // As the exporter reads it (the URL from the environment: the file's
        // database_url_file is then never opened).
        let s = Settings::resolve(
            &with_config(Some(path), None),
            &env_of(&[("MOTCUA_DATABASE_URL", "sqlite:x")]),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.agency_filter, config.own.agencies);
        filters.push((name, s.agency_filter));
    }
    // Every demo agency in exactly one shard: a sum over the shards counts
    // each agency once.
    for code in demo_agency_codes() {
        let owners: Vec<&str> = filters
            .iter()
            .filter(|(_, f)| f.matches(&code))
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(owners.len(), 1, "agency {code} is in {owners:?}");
    }
}
