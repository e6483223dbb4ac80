//! TLS and basic auth: the real binary started with `--web-config-file`
//! (or the `web_config_file` key), scraped over HTTPS by a rustls client
//! that trusts only a CA made for the test.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::{Running, Scratch, exporter, scratch, shared_demo};
use motcua_exporter::config::{SourceArgs, WebArgs};
use motcua_exporter::{Cli, Settings};
use motcua_web::test_support::{TestPki, http_get, https_get, quick_hash};

/// The exporter reading `db`.
fn exporter_of(db: &Path) -> Command {
    let mut c = exporter();
    c.env(
        "MOTCUA_DATABASE_URL",
        format!("sqlite:{}?mode=ro", db.display()),
    );
    c
}

/// Waits until `running` serves: the address it logs.
fn serving_addr(running: &mut Running) -> SocketAddr {
    running.addr().parse().unwrap()
}

fn write_web_config(dir: &Scratch, pki: &TestPki, password: &str) {
    pki.write_to(dir.path()).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: {}\n",
            quick_hash(password)
        ),
    )
    .unwrap();
}

/// The exporter over the shared demo with `dir/web.yml`, once it serves.
fn serve_with_web_config(dir: &Scratch) -> (Running, SocketAddr) {
    let mut command = exporter_of(shared_demo());
    command
        .args(["--listen", "127.0.0.1:0", "--refresh-interval", "1h"])
        .arg("--web-config-file")
        .arg(dir.join("web.yml"));
    let mut running = Running::spawn(command);
    let addr = serving_addr(&mut running);
    (running, addr)
}

#[tokio::test]
async fn binary_serves_metrics_over_https_with_basic_auth() {
    let dir = scratch("web-flag");
    let pki = TestPki::generate();
    write_web_config(&dir, &pki, "scrape-me");
    let (mut running, addr) = serve_with_web_config(&dir);
    let applied = running.wait_line("web config applied");
    assert!(
        applied.contains("tls=true") && applied.contains("basic_auth=true"),
        "{applied}"
    );
    running.wait_line("refresh succeeded");

    let auth = Some(("prometheus", "scrape-me"));
    let r = https_get(addr, &pki.ca_pem, "/metrics", auth)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(r.body.contains("\nmotcua_up 1\n"), "{}", r.body);
    assert!(r.body.contains("motcua_dossiers_received_total{"));

    for (path, auth) in [
        ("/metrics", None),
        ("/healthz", None),
        ("/", None),
        ("/metrics", Some(("prometheus", "wrong"))),
    ] {
        let r = https_get(addr, &pki.ca_pem, path, auth).await.unwrap();
        assert_eq!(r.status, 401, "{path}: {r:?}");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"motcua\""));
    }
    let r = https_get(addr, &pki.ca_pem, "/healthz", auth)
        .await
        .unwrap();
    assert!(r.status == 200 && r.body.starts_with("ok\n"), "{r:?}");

    // No plain HTTP on the HTTPS port.
    assert!(http_get(addr, "/metrics", auth).await.is_err());
}

#[tokio::test]
async fn config_key_resolves_from_the_config_files_folder() {
    let dir = scratch("web-key");
    let pki = TestPki::generate();
    write_web_config(&dir, &pki, "pw");
    let config = dir.join("exporter.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrefresh_interval = \"1h\"\nweb_config_file = \"web.yml\"\n",
    )
    .unwrap();
    // Started from another folder: the relative path follows the config file.
    let mut command = exporter_of(shared_demo());
    command
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .arg("--config")
        .arg(&config);
    let mut running = Running::spawn(command);
    let addr = serving_addr(&mut running);
    let r = https_get(addr, &pki.ca_pem, "/healthz", Some(("prometheus", "pw")))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn bad_web_config_stops_startup_naming_file_and_key() {
    let dir = scratch("web-bad");
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    )
    .unwrap();
    let mut command = exporter_of(shared_demo());
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("MOTCUA_WEB_CONFIG_FILE", &web);
    let (status, err) = Running::run(command);
    assert!(status.is_some_and(|s| !s.success()), "{status:?}\n{err}");
    assert!(err.contains(&web.display().to_string()), "{err}");
    assert!(
        err.contains("line 2") && err.contains("`tls_server_config.cert_file`"),
        "{err}"
    );
    assert!(err.contains("missing.crt"), "{err}");
    assert!(!err.contains("serving /metrics"), "{err}");
}

#[test]
fn web_config_file_priority_is_flag_env_file() {
    let dir = scratch("web-prio");
    let config = dir.join("exporter.toml");
    std::fs::write(&config, "web_config_file = \"from-file.yml\"\n").unwrap();
    let cli = |flag: Option<&str>| Cli {
        source: SourceArgs {
            config: Some(config.clone()),
            database_url: Some("sqlite:x".into()),
            ..SourceArgs::default()
        },
        web: WebArgs {
            web_config_file: flag.map(Into::into),
            ..WebArgs::default()
        },
        ..Cli::default()
    };
    let with_env = |k: &str| (k == "MOTCUA_WEB_CONFIG_FILE").then(|| "from-env.yml".to_owned());
    let no_env = |_: &str| None;
    let s = Settings::resolve(&cli(Some("flag.yml")), &with_env).unwrap();
    assert_eq!(s.web.web_config_file, Some("flag.yml".into()));
    let s = Settings::resolve(&cli(None), &with_env).unwrap();
    assert_eq!(s.web.web_config_file, Some("from-env.yml".into()));
    let s = Settings::resolve(&cli(None), &no_env).unwrap();
    assert_eq!(s.web.web_config_file, Some(dir.join("from-file.yml")));
    let none = Settings::resolve(
        &Cli {
            source: SourceArgs {
                database_url: Some("sqlite:x".into()),
                ..SourceArgs::default()
            },
            ..Cli::default()
        },
        &no_env,
    )
    .unwrap();
    assert_eq!(none.web.web_config_file, None);
}

/// A renewed certificate and a changed password, put in force by SIGHUP
/// without a restart; then a bad file, which keeps them and is reported.
#[tokio::test]
async fn web_config_reloads_on_sighup() {
    let dir = scratch("web-reload");
    let old = TestPki::generate();
    write_web_config(&dir, &old, "first");
    let (mut running, addr) = serve_with_web_config(&dir);
    running.wait_line("refresh succeeded");
    let r = https_get(addr, &old.ca_pem, "/healthz", Some(("prometheus", "first")))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");

    // Renewed in place: another CA, so a client that trusts only the new
    // one proves which certificate the server now shows.
    let new = TestPki::generate();
    write_web_config(&dir, &new, "second");
    running.signal("HUP");
    running.wait_line("configuration reloaded");
    let auth = Some(("prometheus", "second"));
    let r = https_get(addr, &new.ca_pem, "/metrics", auth)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body
            .contains("\nmotcua_config_last_reload_successful 1\n")
    );
    assert!(
        https_get(addr, &old.ca_pem, "/healthz", auth)
            .await
            .is_err(),
        "the old certificate is still served"
    );
    let r = https_get(addr, &new.ca_pem, "/healthz", Some(("prometheus", "first")))
        .await
        .unwrap();
    assert_eq!(r.status, 401, "the old password still works: {r:?}");

    // A bad file: refused, logged with file and key, the running one stays.
    std::fs::write(dir.join("web.yml"), "basic_auth_users:\n  eve: plain\n").unwrap();
    running.signal("HUP");
    let refused = running.wait_line("configuration reload refused");
    assert!(refused.contains("basic_auth_users.eve"), "{refused}");
    let r = https_get(addr, &new.ca_pem, "/metrics", auth)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body
            .contains("\nmotcua_config_last_reload_successful 0\n")
    );
    assert_eq!(running.try_wait(), None, "still running");
}
