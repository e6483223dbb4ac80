//! The database password never leaves the process: not in its logs (at
//! debug level too), its error messages, /metrics, /, /healthz, /readyz, nor its
//! command line, whether the URL comes from MOTCUA_DATABASE_URL or from
//! `database_url_file`, and whether the password is right or wrong or the
//! server unreachable.

mod services;

use std::time::Duration;

use services::{Exporter, PgCluster, UrlBy, metric};

const SECRET: &str = "Sup3r-S3cret-motcua";
const CONFIG: &str = "refresh_interval = \"1s\"\nconnect_timeout = \"1s\"\n";

/// Everything the process shows to the outside.
fn assert_no_secret(ex: &mut Exporter) {
    ex.drain(Duration::from_millis(300));
    let mut shown = vec![
        ("the log", ex.log_text()),
        ("the command line", ex.cmdline()),
    ];
    if ex.try_wait().is_none() {
        for path in ["/metrics", "/", "/healthz", "/readyz", "/nowhere"] {
            shown.push((path, ex.get(path)));
        }
    }
    for (what, text) in shown {
        assert!(!text.contains(SECRET), "the password is in {what}:\n{text}");
        assert!(
            !text.contains("Sup3r"),
            "part of the password is in {what}:\n{text}"
        );
    }
}

#[test]
fn password_from_env_or_file_never_shown() {
    let Some(pg) = PgCluster::start(Some("motcua")) else {
        return;
    };
    pg.demo_db("onestop");
    pg.psql(
        "onestop",
        &format!(
            "CREATE ROLE motcua LOGIN PASSWORD '{SECRET}'; \
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO motcua"
        ),
    );
    // The role really needs its password (scram-sha-256 on 127.0.0.1).
    let refused = pg
        .psql_as("motcua", Some("wrong"), "onestop", "SELECT 1")
        .expect_err("a wrong password is refused");
    assert!(
        refused.contains("password authentication failed"),
        "{refused}"
    );
    let url = pg.url("motcua", Some(SECRET), "onestop");

    for by in [UrlBy::Env(&url), UrlBy::File(&url)] {
        let mut ex = Exporter::start(CONFIG, by, &[("RUST_LOG", "debug")]);
        let (_, line) = ex.wait_line("refresh succeeded", Duration::from_secs(60));
        assert!(line.contains("postgres://motcua:***@127.0.0.1"), "{line}");
        assert_eq!(ex.metric("motcua_up"), 1.0);
        assert_no_secret(&mut ex);
    }
}

#[test]
fn wrong_password_or_unreachable_server_never_shows_it() {
    let Some(pg) = PgCluster::start(Some("motcua")) else {
        return;
    };
    pg.demo_db("onestop");
    pg.psql(
        "onestop",
        "CREATE ROLE motcua LOGIN PASSWORD 'the-right-one'; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO motcua",
    );

    // Wrong password: the server refuses it; the exporter stops at start
    // saying so (a wrong password is a configuration error, not an outage).
    let wrong = pg.url("motcua", Some(SECRET), "onestop");
    for by in [UrlBy::Env(&wrong), UrlBy::File(&wrong)] {
        let mut ex = Exporter::spawn(CONFIG, by, &[("RUST_LOG", "debug")]);
        ex.wait_line("password authentication failed", Duration::from_secs(30));
        let status = ex.wait_exit(Duration::from_secs(10)).expect("stops");
        assert!(!status.success(), "{status:?}");
        assert_no_secret(&mut ex);
    }

    // Unreachable server: the exporter serves motcua_up 0 and retries.
    let nowhere = format!("postgres://motcua:{SECRET}@127.0.0.1:1/x");
    for by in [UrlBy::Env(&nowhere), UrlBy::File(&nowhere)] {
        let mut ex = Exporter::start(CONFIG, by, &[("RUST_LOG", "debug")]);
        ex.wait_line("refresh failed", Duration::from_secs(30));
        ex.wait_line("refresh failed", Duration::from_secs(30));
        assert_eq!(ex.metric("motcua_up"), 0.0);
        assert!(ex.metric("motcua_refresh_failures_total") >= 2.0);
        assert!(
            ex.log_text()
                .contains("postgres://motcua:***@127.0.0.1:1/x"),
            "{}",
            ex.log_text()
        );
        assert_no_secret(&mut ex);
        let _ = metric(&ex.get("/metrics"), "motcua_up");
    }
}
