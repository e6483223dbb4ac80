//! Real database servers for the fault, read-only and secret tests: a
//! private PostgreSQL cluster per test (so it can be stopped, restarted and
//! given password authentication without touching the machine's server), a
//! throwaway database on the machine's MariaDB, and the real exporter binary
//! with its log lines time-stamped as they arrive.
//!
//! A missing service fails the test with `CI=true` and skips it elsewhere,
//! printing why. Every wait has a deadline; every external command runs
//! under `timeout`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use motcua_queries::demo::{DemoConfig, write_demo};
use motcua_queries::{ConnectOptions, Source};

pub const BIN: &str = env!("CARGO_BIN_EXE_motcua-exporter");
pub const MYSQL_HOST: &str = "127.0.0.1";
pub const MYSQL_PORT: &str = "3306";

/// True when running under CI, where every service must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `None` (skip, saying why) outside CI when a service is missing; panics in CI.
pub fn require<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if in_ci() => panic!("{what} is required with CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {what} is not available: {e}");
            None
        }
    }
}

pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// A folder for one test (config, SQL files, URL files), removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("motcua-faults"));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the exporter under test gets its database URL.
pub enum UrlBy<'a> {
    Env(&'a str),
    /// The config file names a file holding the URL.
    File(&'a str),
}

/// The real exporter, its stdout and stderr lines time-stamped on arrival.
pub struct Exporter {
    pub child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
    pub log: Vec<(Instant, String)>,
    pub addr: String,
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
        let scratch = Scratch::new();
        let mut config = format!("listen = \"127.0.0.1:0\"\n{config}");
        let mut cmd = Command::new(BIN);
        for var in [
            "MOTCUA_DATABASE_URL",
            "MOTCUA_CONFIG",
            "MOTCUA_LISTEN",
            "MOTCUA_REFRESH_INTERVAL",
            "MOTCUA_CALENDAR",
            "MOTCUA_QUERIES_DIR",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
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
            .env("MOTCUA_DATA_DIR", scratch.0.join("data"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start the exporter");
        let (tx, lines) = mpsc::channel();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send((Instant::now(), line)).is_err() {
                        break;
                    }
                }
            });
        }
        // Only the readers hold senders: the channel closes when the process exits.
        drop(tx);
        Exporter {
            child,
            lines,
            log: Vec::new(),
            addr: String::new(),
            _scratch: scratch,
        }
    }

    /// Waits for the next log line containing `needle`.
    pub fn wait_line(&mut self, needle: &str, within: Duration) -> (Instant, String) {
        self.try_wait_line(needle, within).unwrap_or_else(|| {
            panic!(
                "no log line with {needle:?} within {within:?}; log so far:\n{}",
                self.log_text()
            )
        })
    }

    pub fn try_wait_line(&mut self, needle: &str, within: Duration) -> Option<(Instant, String)> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(entry) => {
                    self.log.push(entry.clone());
                    if entry.1.contains(needle) {
                        return Some(entry);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Collects the lines that arrived so far (waiting `quiet` for more).
    pub fn drain(&mut self, quiet: Duration) {
        while let Ok(entry) = self.lines.recv_timeout(quiet) {
            self.log.push(entry);
        }
    }

    pub fn log_text(&self) -> String {
        self.log
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn get(&self, path: &str) -> String {
        http_get(&self.addr, path)
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

    pub fn cmdline(&self) -> String {
        std::fs::read(format!("/proc/{}/cmdline", self.child.id()))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 GET with a 10 s read timeout; the whole response.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
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
