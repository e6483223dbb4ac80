//! TLS and basic auth on the chart service: the real binary started with
//! `serve --web-config-file`, read over HTTPS by a rustls client that trusts
//! only a CA made for the test.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::{Dashboard, scratch};
use motcua_web::test_support::{TestPki, http_get, https_get, quick_hash};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_over_https_with_basic_auth() {
    let dir = scratch("motcua-dashboard-web");
    let db = dir.join("demo.sqlite");
    let end = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    motcua_dashboard::demo::generate(&db, 1_500, end, false)
        .await
        .unwrap();
    let pki = TestPki::generate();
    pki.write_to(dir.path()).unwrap();
    write_users(dir.path(), "kiem-tra");

    let web = dir.join("web.yml");
    let mut running = Dashboard::spawn(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--web-config-file",
            web.to_str().unwrap(),
        ],
        &[
            (
                "MOTCUA_DATABASE_URL",
                &format!("sqlite:{}?mode=ro", db.display()),
            ),
            ("RUST_LOG", "info"),
        ],
    );
    let (_, line) = running.wait_line(
        "serving charts and reports on https://",
        Duration::from_secs(30),
    );
    let addr: SocketAddr = line
        .split("serving charts and reports on https://")
        .nth(1)
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();

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
    renewed.write_to(dir.path()).unwrap();
    write_users(dir.path(), "moi");
    running.signal("HUP");
    running.wait_line("web config reloaded", Duration::from_secs(30));
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
    running.signal("HUP");
    let (_, refused) = running.wait_line("web config reload refused", Duration::from_secs(30));
    assert!(refused.contains("basic_auth_users.eve"), "{refused}");
    let r = https_get(addr, &renewed.ca_pem, "/healthz", auth)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(running.try_wait(), None, "still running");
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
