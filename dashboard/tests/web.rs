//! TLS and basic auth on the chart service: the real binary started with
//! `serve --web-config-file`, read over HTTPS by a rustls client that trusts
//! only a CA made for the test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use motcua_web::test_support::{TestPki, http_get, https_get, quick_hash};

const BIN: &str = env!("CARGO_BIN_EXE_motcua-dashboard");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("motcua-dashboard-web-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_over_https_with_basic_auth() {
    let dir = scratch();
    let db = dir.join("demo.sqlite");
    let end = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    motcua_dashboard::demo::generate(&db, 1_500, end, false)
        .await
        .unwrap();
    let pki = TestPki::generate();
    pki.write_to(&dir).unwrap();
    write_users(&dir, "kiem-tra");

    let mut child = Command::new(BIN)
        .env_remove("MOTCUA_CONFIG")
        .env_remove("MOTCUA_WEB_CONFIG_FILE")
        .env(
            "MOTCUA_DATABASE_URL",
            format!("sqlite:{}?mode=ro", db.display()),
        )
        .env("RUST_LOG", "info")
        .args(["serve", "--listen", "127.0.0.1:0", "--web-config-file"])
        .arg(dir.join("web.yml"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("the service says where it serves");
        if let Some(rest) = line.split("serving charts and reports on https://").nth(1) {
            break rest.trim_end_matches('/').parse().unwrap();
        }
    };

    let auth = Some(("inspector", "kiem-tra"));
    // The first request may find the data still loading (503): wait for it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let r = https_get(addr, &pki.ca_pem, "/reports/2025-Q4?format=json", auth)
            .await
            .unwrap();
        if r.status != 503 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(report.status, 200, "{report:?}");
    assert!(
        report.body.contains("\"period\": \"2025-Q4\""),
        "{}",
        report.body
    );

    for (path, auth) in [
        ("/reports/2025-Q4", None),
        ("/charts/on_time_trend.png", None),
        ("/dossiers?state=overdue", None),
        ("/", Some(("inspector", "wrong"))),
    ] {
        let r = https_get(addr, &pki.ca_pem, path, auth).await.unwrap();
        assert_eq!(r.status, 401, "{path}: {r:?}");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"motcua\""));
    }
    assert!(
        http_get(addr, "/", auth).await.is_err(),
        "no plain HTTP on the TLS port"
    );

    // SIGHUP: a certificate renewed in place (another CA, so only a client
    // trusting the new one gets through) and a new password, no restart.
    let renewed = TestPki::generate();
    renewed.write_to(&dir).unwrap();
    write_users(&dir, "moi");
    let pid = running.0.id().to_string();
    hangup(&pid);
    wait_for(&lines, "web config reloaded");
    let auth = Some(("inspector", "moi"));
    let r = https_get(addr, &renewed.ca_pem, "/healthz", auth)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        https_get(addr, &pki.ca_pem, "/healthz", auth)
            .await
            .is_err()
    );
    let r = https_get(
        addr,
        &renewed.ca_pem,
        "/healthz",
        Some(("inspector", "kiem-tra")),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401, "{r:?}");

    // A bad file keeps the running config and is logged.
    std::fs::write(dir.join("web.yml"), "basic_auth_users:\n  eve: plain\n").unwrap();
    hangup(&pid);
    let refused = wait_for(&lines, "web config reload refused");
    assert!(refused.contains("basic_auth_users.eve"), "{refused}");
    let r = https_get(addr, &renewed.ca_pem, "/healthz", auth)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(running.0.try_wait().unwrap(), None, "still running");
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_users(dir: &std::path::Path, password: &str) {
    std::fs::write(
        dir.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  inspector: {}\n",
            quick_hash(password)
        ),
    )
    .unwrap();
}

fn hangup(pid: &str) {
    let ok = Command::new("kill")
        .args(["-HUP", pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP {pid}");
}

/// The next log line containing `needle`, within 30 s.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("no log line with {needle:?}"),
        }
    }
}
