//! Helpers shared by the end-to-end tests: throwaway databases on the
//! machine's PostgreSQL and MariaDB, the demo data, and the service rule
//! "with CI=true a missing service fails; elsewhere it skips, saying why".

use chrono::NaiveDate;
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};
pub use motcua_testkit::{in_ci, require};

pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const MYSQL_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/";

/// The engines a test can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Sqlite, Engine::Postgres, Engine::MySql];
}

/// A database that exists for one test and is dropped at its end.
pub struct ThrowawayDb {
    pub engine: Engine,
    pub url: String,
    pub name: String,
}

impl ThrowawayDb {
    /// Creates an empty database, or returns None (skip) when the server is
    /// unreachable outside CI.
    pub async fn create(engine: Engine) -> Option<ThrowawayDb> {
        let name = motcua_testkit::unique("motcua_test");
        let url = match engine {
            Engine::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.sqlite"));
                return Some(ThrowawayDb {
                    engine,
                    url: format!("sqlite://{}", path.display()),
                    name: path.display().to_string(),
                });
            }
            Engine::Postgres => {
                let admin = admin(POSTGRES_ADMIN_URL);
                require(
                    "PostgreSQL at 127.0.0.1:5432",
                    admin
                        .execute_script(&format!("CREATE DATABASE {name}"))
                        .await,
                )?;
                admin.close().await;
                format!("postgres://postgres@127.0.0.1:5432/{name}")
            }
            Engine::MySql => {
                let admin = admin(MYSQL_ADMIN_URL);
                require(
                    "MariaDB at 127.0.0.1:3306",
                    admin
                        .execute_script(&format!(
                            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                        ))
                        .await,
                )?;
                admin.close().await;
                format!("mysql://root@127.0.0.1:3306/{name}")
            }
        };
        Some(ThrowawayDb { engine, url, name })
    }

    /// A writable connection (tests load data; motcua itself only reads).
    pub fn writer(&self) -> Source {
        Source::open(
            &self.url,
            &ConnectOptions {
                read_only: false,
                ..ConnectOptions::default()
            },
        )
        .expect("valid test URL")
    }

    pub async fn drop_db(self) {
        match self.engine {
            Engine::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.name));
                }
            }
            Engine::Postgres => {
                let admin = admin(POSTGRES_ADMIN_URL);
                let _ = admin
                    .execute_script(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .await;
                admin.close().await;
            }
            Engine::MySql => {
                let admin = admin(MYSQL_ADMIN_URL);
                let _ = admin
                    .execute_script(&format!("DROP DATABASE IF EXISTS {}", self.name))
                    .await;
                admin.close().await;
            }
        }
    }
}

fn admin(url: &str) -> Source {
    Source::open(
        url,
        &ConnectOptions {
            read_only: false,
            connect_timeout: std::time::Duration::from_secs(5),
            ..ConnectOptions::default()
        },
    )
    .expect("valid admin URL")
}

/// The small demo province used across engines: fixed seed and end date so
/// every engine gets byte-identical rows.
pub fn small_demo() -> DemoConfig {
    let mut config = DemoConfig::new(NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"));
    config.seed = 7;
    config.dossiers = 4_000;
    config
}

/// Creates a throwaway database of `engine` holding the small demo.
pub async fn demo_db(engine: Engine) -> Option<ThrowawayDb> {
    let db = ThrowawayDb::create(engine).await?;
    let writer = db.writer();
    write_demo(&writer, &small_demo(), false)
        .await
        .unwrap_or_else(|e| panic!("loading the demo into {engine:?}: {e}"));
    writer.close().await;
    Some(db)
}
