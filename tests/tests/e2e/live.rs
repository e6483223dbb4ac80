//! A real Prometheus scraping real exporters: processes that die with the
//! test ([`Process`]), loopback HTTP, the Prometheus API, and the exporter
//! binary built in this test's profile.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use motcua_testkit::Process;
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

/// GET on loopback `port`; returns (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    motcua_testkit::http_get(&format!("127.0.0.1:{port}"), path)
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

/// Waits up to `secs` for the exporter on `port` to serve its first
/// successful refresh (`motcua_up 1`), failing at once if it exits.
pub fn wait_exporter_up(exporter: &mut Process, port: u16, secs: u64) {
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
/// prometheus.yml), its configuration and data in `dir`; its log is what
/// the [`Process`] collects.
pub fn start_prometheus(dir: &Path, port: u16, config: &str) -> Process {
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
    Process::spawn("prometheus", cmd)
}
