//! Settings resolution with real files: flag > env > file > default.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use common::TempDir;
use motcua_exporter::config::{ConfigError, UrlOrigin};
use motcua_exporter::{Cli, Settings};

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn write_config(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.join("exporter.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = TempDir::new("priority");
    std::fs::write(dir.join("db-url"), "  postgres://file:pw@db/x \n").unwrap();
    let config = write_config(
        &dir,
        "database_url_file = \"db-url\"\nlisten = \"127.0.0.1:1001\"\nrefresh_interval = \"3m\"\ncalendar = \"cal.toml\"\n",
    );

    // File only (plus defaults for the rest).
    let cli = Cli {
        config: Some(config.clone()),
        ..Cli::default()
    };
    let s = Settings::resolve(&cli, &env_of(&[])).unwrap();
    let (url, origin) = s.database_url.clone().unwrap();
    assert_eq!(url.expose(), "postgres://file:pw@db/x", "trimmed");
    assert_eq!(origin, UrlOrigin::File(dir.join("db-url")));
    assert_eq!(s.listen.to_string(), "127.0.0.1:1001");
    assert_eq!(s.refresh_interval, Duration::from_secs(180));
    assert_eq!(
        s.calendar,
        Some(dir.join("cal.toml")),
        "relative to the config file"
    );
    assert_eq!(s.connect_timeout, Duration::from_secs(10), "default");

    // Environment beats the file.
    let env = env_of(&[
        ("MOTCUA_DATABASE_URL", "mysql://env@db/x"),
        ("MOTCUA_LISTEN", "127.0.0.1:1002"),
        ("MOTCUA_REFRESH_INTERVAL", "90s"),
    ]);
    let s = Settings::resolve(&cli, &env).unwrap();
    let (url, origin) = s.database_url.clone().unwrap();
    assert_eq!((url.expose(), origin), ("mysql://env@db/x", UrlOrigin::Env));
    assert_eq!(s.listen.to_string(), "127.0.0.1:1002");
    assert_eq!(s.refresh_interval, Duration::from_secs(90));

    // Flags beat the environment.
    let cli = Cli {
        config: Some(config),
        database_url: Some("sqlite:flag.sqlite".into()),
        listen: Some("127.0.0.1:1003".parse().unwrap()),
        refresh_interval: Some(Duration::from_secs(5)),
        calendar: Some(PathBuf::from("flag-cal.toml")),
        ..Cli::default()
    };
    let s = Settings::resolve(&cli, &env).unwrap();
    let (url, origin) = s.database_url.clone().unwrap();
    assert_eq!(
        (url.expose(), origin),
        ("sqlite:flag.sqlite", UrlOrigin::Flag)
    );
    assert_eq!(s.listen.to_string(), "127.0.0.1:1003");
    assert_eq!(s.refresh_interval, Duration::from_secs(5));
    assert_eq!(s.calendar, Some(PathBuf::from("flag-cal.toml")));
}

#[test]
fn config_path_from_env() {
    let dir = TempDir::new("env-config");
    let config = write_config(&dir, "listen = \"127.0.0.1:1004\"\n");
    let env = env_of(&[
        ("MOTCUA_CONFIG", config.to_str().unwrap()),
        ("MOTCUA_DATABASE_URL", "sqlite:x"),
    ]);
    let s = Settings::resolve(&Cli::default(), &env).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:1004");
    assert_eq!(s.config_file, Some(config));
}

#[test]
fn errors_name_their_file_line_and_key() {
    let dir = TempDir::new("errors");
    let config = write_config(&dir, "listen = \"127.0.0.1:1\"\nrefresh = \"5s\"\n");
    let cli = Cli {
        config: Some(config.clone()),
        database_url: Some("sqlite:x".into()),
        ..Cli::default()
    };
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

    let missing = Cli {
        config: Some(dir.join("absent.toml")),
        ..cli.clone()
    };
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
    let dir = TempDir::new("url-file");
    let config = write_config(&dir, "database_url_file = \"missing-url\"\n");
    let cli = Cli {
        config: Some(config),
        ..Cli::default()
    };
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
    assert_eq!(s.database_url.unwrap().1, UrlOrigin::Env);
}
