//! A real Prometheus scraping real exporters: processes that die with the
//! test, loopback HTTP, the Prometheus API, and the exporter binary built
//! in this test's profile.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::in_ci;

/// Whether the `prometheus` binary runs here. Without it: a failure with
/// CI=true, else false (the caller skips), saying why.
pub fn prometheus_installed() -> bool {
    match Command::new("prometheus").arg("--version").output() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if in_ci() {
                panic!("prometheus is required with CI=true (Debian package `prometheus`)");
            }
            eprintln!("SKIPPED: prometheus is not installed (Debian package `prometheus`)");
            false
        }
        Err(e) => panic!("cannot run prometheus: {e}"),
    }
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .expect("repository root")
}

/// A child process that is killed when the test ends, however it ends.
pub struct Running {
    name: &'static str,
    child: std::process::Child,
    log: PathBuf,
}

impl Running {
    pub fn start(name: &'static str, mut cmd: Command, log: PathBuf) -> Running {
        let out = fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Running { name, child, log }
    }

    /// Panics with the end of the log when the process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited ({status}); its log ends with:\n{}",
                self.name,
                tail(&self.log)
            );
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// GET over plain HTTP/1.0 on loopback; returns (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Calls the Prometheus HTTP API; returns `data` or the error text.
pub fn prom_api(port: u16, path: &str) -> Result<Value, String> {
    let (status, body) = http_get(port, path).map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}: {body}"))?;
    if v["status"] != "success" {
        return Err(format!("HTTP {status}: {body}"));
    }
    Ok(v["data"].clone())
}

pub fn instant_query(port: u16, expr: &str) -> Result<Vec<Value>, String> {
    let data = prom_api(port, &format!("/api/v1/query?query={}", url_encode(expr)))?;
    Ok(data["result"].as_array().cloned().unwrap_or_default())
}

pub fn wait_until(what: &str, secs: u64, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("gave up after {secs}s waiting for {what}: {e}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
}

/// Builds the exporter binary (same profile as this test) and returns it.
pub fn exporter_binary() -> PathBuf {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "motcua-exporter",
        "--bin",
        "motcua-exporter",
        "--message-format=json",
    ])
    .current_dir(repo_root());
    if cfg!(not(debug_assertions)) {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("cannot run cargo build");
    assert!(
        out.status.success(),
        "cargo build -p motcua-exporter failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "motcua-exporter")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no motcua-exporter executable")
}

/// A scratch directory under the system's temporary one, named after the
/// test and the process, emptied when made and removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch directory");
        ScratchDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Waits up to `secs` for the exporter on `port` to serve its first
/// successful refresh (`motcua_up 1`), failing at once if it exits.
pub fn wait_exporter_up(exporter: &mut Running, port: u16, secs: u64) {
    wait_until("the exporter's first refresh", secs, || {
        exporter.assert_alive();
        let (status, body) = http_get(port, "/metrics").map_err(|e| e.to_string())?;
        if status == 200 && body.lines().any(|l| l.trim() == "motcua_up 1") {
            Ok(())
        } else {
            Err(format!("HTTP {status}, motcua_up not 1 yet"))
        }
    });
}

/// Starts Prometheus on loopback `port` with `config` (the text of a
/// prometheus.yml), its configuration, data and log in `dir`.
pub fn start_prometheus(dir: &Path, port: u16, config: &str) -> Running {
    let file = dir.join("prometheus.yml");
    fs::write(&file, config).expect("prometheus.yml");
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .current_dir(dir);
    Running::start("prometheus", cmd, dir.join("prometheus.log"))
}
