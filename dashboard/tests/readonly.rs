//! The chart service needs nothing but read access: `render` draws the whole
//! report bundle as a PostgreSQL role with only CONNECT, USAGE and SELECT,
//! and as a MariaDB user with only SELECT; a write through them fails.

mod common;

use std::time::Duration;

use common::{Dashboard, demo_end, require, scratch, unique};
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};

fn writable(url: &str) -> Source {
    Source::open(
        url,
        &ConnectOptions {
            read_only: false,
            connect_timeout: Duration::from_secs(5),
            ..ConnectOptions::default()
        },
    )
    .expect("valid URL")
}

async fn load_demo(url: &str) {
    let mut config = DemoConfig::new(demo_end());
    config.dossiers = 1_500;
    let source = writable(url);
    write_demo(&source, &config, false).await.expect("demo");
    source.close().await;
}

/// Renders the 2025-Q4 bundle reading `url`; asserts it succeeded with rows.
fn render_as(url: &str) {
    let out = scratch("motcua-dashboard-ro");
    let dir = out.join("bundle");
    let (status, log) = Dashboard::spawn(
        &[
            "render",
            "--period",
            "2025-Q4",
            "--out",
            dir.to_str().unwrap(),
        ],
        &[("MOTCUA_DATABASE_URL", url)],
    )
    .finish(Duration::from_secs(120));
    assert!(status.is_some_and(|s| s.success()), "render failed: {log}");
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(json.contains("\"received_total\""), "{json}");
    eprintln!("{log}");
    assert!(log.contains("wrote"), "{log}");
}

/// Runs `sql` through `url`; the error text when it fails.
async fn try_write(url: &str, sql: &str) -> Result<(), String> {
    let source = writable(url);
    let r = source.execute_script(sql).await.map_err(|e| e.to_string());
    source.close().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_select_only_role() {
    let admin = writable("postgres://postgres@127.0.0.1:5432/postgres");
    let db = unique("motcua_ro_dash");
    let Some(()) = require(
        "PostgreSQL at 127.0.0.1:5432",
        admin.execute_script(&format!("CREATE DATABASE {db}")).await,
    ) else {
        return;
    };
    let owner_url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    load_demo(&owner_url).await;
    let role = format!("{db}_r");
    let owner = writable(&owner_url);
    owner
        .execute_script(&format!(
            "CREATE ROLE {role} LOGIN;\n\
             REVOKE ALL ON DATABASE {db} FROM PUBLIC;\n\
             GRANT CONNECT ON DATABASE {db} TO {role};\n\
             GRANT USAGE ON SCHEMA public TO {role};\n\
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};\n"
        ))
        .await
        .unwrap();
    owner.close().await;
    let url = format!("postgres://{role}@127.0.0.1:5432/{db}");

    render_as(&url);
    let err = try_write(&url, "INSERT INTO sectors (code, name) VALUES ('X', 'x')")
        .await
        .expect_err("a write through the read-only role");
    assert!(err.contains("permission denied"), "{err}");

    let _ = admin
        .execute_script(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await;
    let _ = admin
        .execute_script(&format!("DROP ROLE IF EXISTS {role}"))
        .await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_select_only_user() {
    let admin = writable("mysql://root@127.0.0.1:3306/");
    let db = unique("motcua_ro_dash");
    let Some(()) = require(
        "MariaDB at 127.0.0.1:3306",
        admin
            .execute_script(&format!(
                "CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await,
    ) else {
        return;
    };
    load_demo(&format!("mysql://root@127.0.0.1:3306/{db}")).await;
    let user = format!("{db}_r");
    admin
        .execute_script(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pass';\n\
             GRANT SELECT ON {db}.* TO '{user}'@'%';\n"
        ))
        .await
        .unwrap();
    let url = format!("mysql://{user}:ro-pass@127.0.0.1:3306/{db}");

    render_as(&url);
    let err = try_write(&url, "INSERT INTO sectors (code, name) VALUES ('X', 'x')")
        .await
        .expect_err("a write through the read-only user");
    assert!(err.to_lowercase().contains("denied"), "{err}");

    let _ = admin
        .execute_script(&format!("DROP DATABASE IF EXISTS {db}"))
        .await;
    let _ = admin
        .execute_script(&format!("DROP USER IF EXISTS '{user}'@'%'"))
        .await;
    admin.close().await;
}
