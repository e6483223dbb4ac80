//! Real database servers for the fault, read-only and secret tests: a
//! private PostgreSQL cluster per test (so it can be stopped, restarted and
//! given password authentication without touching the machine's server), a
//! throwaway database on the machine's MariaDB, and the real exporter binary
//! (a [`Process`]: its log lines time-stamped as they arrive).
//!
//! A missing service fails the test with `CI=true` and skips it elsewhere,
//! printing why. Every wait has a deadline; every external command runs
//! under `timeout`.

// Each test binary uses a part of this module and of its re-exports.
#![allow(dead_code, unused_imports)]

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};
pub use motcua_testkit::{Process, Scratch, free_port, in_ci, require, unique};

pub const BIN: &str = env!("CARGO_BIN_EXE_motcua-exporter");
pub const MYSQL_HOST: &str = "127.0.0.1";
pub const MYSQL_PORT: &str = "3306";

/// Runs a command under `timeout`; stdout on success, stdout+stderr otherwise.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let out = Command::new("timeout")
        .arg("60")
        .arg(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{program} {args:?} failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn is_root() -> bool {
    run("id", &["-u"], &[]).is_ok_and(|s| s.trim() == "0")
}

/// The small demo province loaded into every server.
pub fn small_demo() -> DemoConfig {
    let mut config = DemoConfig::new(NaiveDate::from_ymd_opt(2025, 9, 30).unwrap());
    config.seed = 11;
    config.dossiers = 1_500;
    config
}

/// Loads the small demo through a writable connection.
pub fn load_demo(url: &str) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let options = ConnectOptions {
                    read_only: false,
                    ..ConnectOptions::default()
                };
                let source = Source::open(&url, &options).unwrap();
                write_demo(&source, &small_demo(), false)
                    .await
                    .expect("loading the demo");
                source.close().await;
            })
    })
    .join()
    .unwrap();
}

/// The newest PostgreSQL server binaries on the machine.
fn pg_bin() -> Result<PathBuf, String> {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no /usr/lib/postgresql/*/bin/initdb".into())
}

/// A PostgreSQL cluster of its own: initdb in a temporary folder, a free
/// port, trust authentication on 127.0.0.1 except for the role named in
/// `password_role` (scram-sha-256). Stopped and removed on drop.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl PgCluster {
    pub fn start(password_role: Option<&str>) -> Option<PgCluster> {
        let bin = require("PostgreSQL server binaries (initdb, pg_ctl)", pg_bin())?;
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(unique("motcua-pg"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cluster = PgCluster {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            // initdb refuses to run as root: the cluster belongs to `postgres`.
            let dir = cluster.dir.display().to_string();
            require(
                "the postgres OS user",
                run("chown", &["postgres:postgres", &dir], &[]),
            )?;
        }
        let data = cluster.data().display().to_string();
        require(
            "initdb",
            cluster.as_owner(
                "initdb",
                &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            ),
        )?;
        if let Some(role) = password_role {
            let hba = cluster.data().join("pg_hba.conf");
            let old = std::fs::read_to_string(&hba).unwrap();
            let line = format!("host all {role} 127.0.0.1/32 scram-sha-256\n");
            std::fs::write(&hba, line + &old).unwrap();
        }
        cluster.start_server().expect("pg_ctl start");
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn as_owner(&self, tool: &str, args: &[&str]) -> Result<String, String> {
        let program = self.bin.join(tool).display().to_string();
        if self.as_postgres {
            let mut all = vec!["-u", "postgres", "--", program.as_str()];
            all.extend_from_slice(args);
            run("runuser", &all, &[])
        } else {
            run(&program, args, &[])
        }
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) -> Result<String, String> {
        let data = self.data().display().to_string();
        let log = self.dir.join("server.log").display().to_string();
        let options = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        self.as_owner(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "30", "-o", &options, "start",
            ],
        )
    }

    /// Stops the server at once: every connection is cut, like a crash.
    pub fn stop_immediate(&self) {
        let data = self.data().display().to_string();
        self.as_owner("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .expect("pg_ctl stop");
    }

    pub fn url(&self, user: &str, password: Option<&str>, db: &str) -> String {
        match password {
            Some(p) => format!("postgres://{user}:{p}@127.0.0.1:{}/{db}", self.port),
            None => format!("postgres://{user}@127.0.0.1:{}/{db}", self.port),
        }
    }

    /// Runs SQL with psql as `user` (trust, or `password`); the rows as text.
    pub fn psql_as(
        &self,
        user: &str,
        password: Option<&str>,
        db: &str,
        sql: &str,
    ) -> Result<String, String> {
        let psql = self.bin.join("psql").display().to_string();
        let port = self.port.to_string();
        let mut env = vec![("PGCONNECT_TIMEOUT", "5")];
        if let Some(p) = password {
            env.push(("PGPASSWORD", p));
        }
        run(
            &psql,
            &[
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                user,
                "-d",
                db,
                "-c",
                sql,
            ],
            &env,
        )
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.psql_as("postgres", None, db, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Creates database `db` holding the small demo.
    pub fn demo_db(&self, db: &str) {
        self.psql("postgres", &format!("CREATE DATABASE {db}"));
        load_demo(&self.url("postgres", None, db));
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self.as_owner("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs SQL on the machine's MariaDB as `user`.
pub fn mariadb_as(user: &str, password: Option<&str>, sql: &str) -> Result<String, String> {
    let mut args = vec![
        "-h",
        MYSQL_HOST,
        "-P",
        MYSQL_PORT,
        "-u",
        user,
        "-N",
        "-B",
        "--connect-timeout=5",
        "-e",
        sql,
    ];
    let pw;
    if let Some(p) = password {
        pw = format!("-p{p}");
        args.insert(0, &pw);
    }
    run("mariadb", &args, &[])
}

pub fn mariadb(sql: &str) -> String {
    mariadb_as("root", None, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A database on the machine's MariaDB holding the small demo; dropped,
/// with the users made for it, at the end.
pub struct MariaDb {
    pub name: String,
    users: Vec<String>,
}

impl MariaDb {
    pub fn demo() -> Option<MariaDb> {
        let name = unique("motcua_faults");
        require(
            "MariaDB at 127.0.0.1:3306 (mariadb client, user root)",
            mariadb_as(
                "root",
                None,
                &format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
            ),
        )?;
        let db = MariaDb {
            name,
            users: Vec::new(),
        };
        load_demo(&db.url("root", None));
        Some(db)
    }

    pub fn url(&self, user: &str, password: Option<&str>) -> String {
        match password {
            Some(p) => format!("mysql://{user}:{p}@{MYSQL_HOST}:{MYSQL_PORT}/{}", self.name),
            None => format!("mysql://{user}@{MYSQL_HOST}:{MYSQL_PORT}/{}", self.name),
        }
    }

    /// Creates a user (dropped with the database).
    pub fn create_user(&mut self, user: &str, password: &str) {
        mariadb(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
        ));
        self.users.push(user.to_owned());
    }

    /// Ids of the connections to this database, except the asking one.
    pub fn connection_ids(&self) -> Vec<String> {
        mariadb(&format!(
            "SELECT id FROM information_schema.processlist WHERE db = '{}' \
             AND id <> CONNECTION_ID() ORDER BY id",
            self.name
        ))
        .lines()
        .map(str::to_owned)
        .collect()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = mariadb_as(
            "root",
            None,
            &format!("DROP DATABASE IF EXISTS {}", self.name),
        );
        for user in &self.users {
            let _ = mariadb_as("root", None, &format!("DROP USER IF EXISTS '{user}'@'%'"));
        }
    }
}

/// A folder for one test (config, SQL files, URL files) inside `target/`,
/// removed on drop.
pub fn scratch() -> Scratch {
    Scratch::under(env!("CARGO_TARGET_TMPDIR"), "motcua-faults")
}

/// How the exporter under test gets its database URL.
pub enum UrlBy<'a> {
    Env(&'a str),
    /// The config file names a file holding the URL.
    File(&'a str),
}

/// The real exporter ([`Process`]), its config in a scratch folder of its own.
pub struct Exporter {
    process: Process,
    pub addr: String,
    // After `process`: the folder goes once the exporter is killed.
    _scratch: Scratch,
}

impl Exporter {
    /// Starts the binary with `config` (TOML; `listen` is added) and waits
    /// until it serves. `env`: extra variables (e.g. RUST_LOG).
    pub fn start(config: &str, url: UrlBy<'_>, env: &[(&str, &str)]) -> Exporter {
        let mut exporter = Exporter::spawn(config, url, env);
        let (_, line) = exporter.wait_line("serving /metrics", Duration::from_secs(60));
        exporter.addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .expect("address in the log line")
            .to_owned();
        exporter
    }

    /// Starts the binary without waiting for anything.
    pub fn spawn(config: &str, url: UrlBy<'_>, env: &[(&str, &str)]) -> Exporter {
        let scratch = scratch();
        let mut config = format!("listen = \"127.0.0.1:0\"\n{config}");
        let mut cmd = Command::new(BIN);
        match url {
            UrlBy::Env(u) => {
                cmd.env("MOTCUA_DATABASE_URL", u);
            }
            UrlBy::File(u) => {
                let path = scratch.write("database-url", &format!("{u}\n"));
                config.push_str(&format!(
                    "database_url_file = {:?}\n",
                    path.display().to_string()
                ));
            }
        }
        let config_path = scratch.write("exporter.toml", &config);
        cmd.arg("--config")
            .arg(&config_path)
            // Each exporter keeps its counter offsets in its own scratch folder
            // (a test may pass its own MOTCUA_DATA_DIR in `env`).
            .env("MOTCUA_DATA_DIR", scratch.join("data"))
            .envs(env.iter().copied());
        Exporter {
            process: Process::spawn("motcua-exporter", cmd),
            addr: String::new(),
            _scratch: scratch,
        }
    }

    pub fn get(&self, path: &str) -> String {
        motcua_testkit::http_response(&self.addr, path)
            .unwrap_or_else(|e| panic!("GET {}{path}: {e}", self.addr))
    }

    pub fn metric(&self, name: &str) -> f64 {
        metric(&self.get("/metrics"), name)
    }

    /// Polls /metrics until `name` has `value`, up to `within`.
    pub fn wait_metric(&self, name: &str, value: f64, within: Duration) -> Option<Instant> {
        let deadline = Instant::now() + within;
        loop {
            if self.metric(name) == value {
                return Some(Instant::now());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The process's own helpers (`wait_line`, `log_text`, `signal`, …).
impl Deref for Exporter {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for Exporter {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// The value of an unlabelled series in a /metrics response.
pub fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

/// The data series of one family (to compare snapshots).
pub fn series<'a>(body: &'a str, family: &str) -> Vec<&'a str> {
    body.lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with('{'))
        .collect()
}
