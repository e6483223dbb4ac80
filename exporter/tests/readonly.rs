//! The exporter needs nothing but read access: it runs its full refresh as
//! a PostgreSQL role with only CONNECT, USAGE and SELECT, and as a MariaDB
//! user with only SELECT (the accounts of README "Read-only database
//! accounts"); a write through those accounts fails.

mod services;

use std::time::Duration;

use services::{Exporter, MariaDb, PgCluster, UrlBy, metric, series};

const CONFIG: &str = "refresh_interval = \"60s\"\nconnect_timeout = \"2s\"\n";

fn assert_full_refresh(ex: &mut Exporter) {
    ex.wait_line("refresh succeeded", Duration::from_secs(60));
    let body = ex.get("/metrics");
    assert_eq!(metric(&body, "motcua_up"), 1.0);
    assert_eq!(metric(&body, "motcua_refresh_failures_total"), 0.0);
    for family in [
        "motcua_dossiers_received_total",
        "motcua_dossiers_pending",
        "motcua_evaluations_total",
        "motcua_agency_info",
    ] {
        assert!(!series(&body, family).is_empty(), "{family} has no series");
    }
}

#[test]
fn postgres_read_only_role() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    pg.demo_db("onestop");
    // The README's statements, for database `onestop` and schema `public`.
    pg.psql(
        "onestop",
        "REVOKE ALL ON DATABASE onestop FROM PUBLIC; \
         CREATE ROLE motcua_ro LOGIN PASSWORD 'ro-pass'; \
         GRANT CONNECT ON DATABASE onestop TO motcua_ro; \
         GRANT USAGE ON SCHEMA public TO motcua_ro; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO motcua_ro; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO motcua_ro",
    );
    let mut ex = Exporter::start(
        CONFIG,
        UrlBy::Env(&pg.url("motcua_ro", Some("ro-pass"), "onestop")),
        &[],
    );
    assert_full_refresh(&mut ex);
    let sessions = pg.psql(
        "onestop",
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'motcua_ro' \
         AND application_name = 'motcua'",
    );
    assert_ne!(sessions.trim(), "0", "the exporter connected as motcua_ro");

    // Writes through the role fail on the grants alone (psql does not set
    // read-only sessions as the exporter does).
    for write in [
        "INSERT INTO sectors (code, name) VALUES ('X', 'x')",
        "UPDATE dossiers SET status = 10",
        "DELETE FROM evaluations",
        "CREATE TABLE motcua_probe (x int)",
    ] {
        let err = pg
            .psql_as("motcua_ro", Some("ro-pass"), "onestop", write)
            .expect_err(write);
        assert!(err.contains("permission denied"), "{write}: {err}");
    }
    let count = pg
        .psql_as(
            "motcua_ro",
            Some("ro-pass"),
            "onestop",
            "SELECT count(*) FROM sectors",
        )
        .unwrap();
    assert!(count.trim().parse::<u32>().unwrap() > 0);
}

#[test]
fn mariadb_select_only_user() {
    let Some(mut db) = MariaDb::demo() else {
        return;
    };
    let user = services::unique("motcua_ro");
    db.create_user(&user, "ro-pass");
    services::mariadb(&format!("GRANT SELECT ON {}.* TO '{user}'@'%'", db.name));
    let mut ex = Exporter::start(CONFIG, UrlBy::Env(&db.url(&user, Some("ro-pass"))), &[]);
    assert_full_refresh(&mut ex);

    for write in [
        format!(
            "INSERT INTO {}.sectors (code, name) VALUES ('X', 'x')",
            db.name
        ),
        format!("UPDATE {}.dossiers SET status = 10", db.name),
        format!("CREATE TABLE {}.motcua_probe (x int)", db.name),
    ] {
        let err = services::mariadb_as(&user, Some("ro-pass"), &write).expect_err(&write);
        assert!(err.contains("command denied"), "{write}: {err}");
    }
}
