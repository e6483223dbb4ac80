//! `motcua_web::serve` on a loopback port, talked to by a real rustls
//! client that trusts only a CA made for the test.

#[path = "../src/test_support.rs"]
#[allow(dead_code)]
mod test_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use motcua_web::{WebConfig, WebConfigError};
use test_support::{TestPki, http_get, https_get, quick_hash};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A folder for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "motcua-web-test-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn app() -> Router {
    Router::new()
        .route("/metrics", get(|| async { "motcua_up 1\n" }))
        .route("/healthz", get(|| async { "ok\n" }))
}

/// A running server; stops (gracefully) on drop.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    async fn start(web: Option<WebConfig>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            motcua_web::serve(listener, app(), web.as_ref(), async move {
                let _ = stopped.await;
            })
            .await
        });
        Server {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let result = self.task.take().unwrap().await.unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

fn write_config(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.join("web-config.yml");
    std::fs::write(&path, text).unwrap();
    path
}

fn tls_config(dir: &TempDir, pki: &TestPki, users: &str) -> WebConfig {
    pki.write_to(&dir.0).unwrap();
    // Relative paths: resolved from the config file's folder, not the working directory.
    let path = write_config(
        dir,
        &format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{users}"),
    );
    WebConfig::load(&path).unwrap()
}

#[tokio::test]
async fn https_serves_the_body_and_plain_http_is_refused() {
    let dir = TempDir::new("https");
    let pki = TestPki::generate();
    let web = tls_config(&dir, &pki, "");
    assert!(web.tls_enabled() && !web.auth_enabled());
    let server = Server::start(Some(web)).await;

    let r = https_get(server.addr, &pki.ca_pem, "/metrics", None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "motcua_up 1\n");

    // Plain HTTP on the TLS port gets no HTTP answer.
    match http_get(server.addr, "/metrics", None).await {
        Ok(r) => panic!("plain HTTP was answered: {r:?}"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::UnexpectedEof
            ),
            "{e:?}"
        ),
    }

    // A client that does not trust the CA fails the handshake.
    let other = TestPki::generate();
    let err = https_get(server.addr, &other.ca_pem, "/metrics", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // Still serving after the failures.
    let r = https_get(server.addr, &pki.ca_pem, "/healthz", None)
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    server.stop().await;
}

#[tokio::test]
async fn basic_auth_over_https() {
    let dir = TempDir::new("auth");
    let pki = TestPki::generate();
    let users = format!(
        "basic_auth_users:\n  alice: {}\n  bob: {}\n",
        quick_hash("correct horse"),
        quick_hash("battery staple")
    );
    let web = tls_config(&dir, &pki, &users);
    assert!(web.auth_enabled());
    let server = Server::start(Some(web)).await;
    let get = |path: &'static str, auth: Option<(&'static str, &'static str)>| {
        let ca = pki.ca_pem.clone();
        let addr = server.addr;
        async move { https_get(addr, &ca, path, auth).await.unwrap() }
    };

    for path in ["/metrics", "/healthz", "/nowhere"] {
        let r = get(path, None).await;
        assert_eq!(r.status, 401, "{path}: {r:?}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"motcua\""),
            "{r:?}"
        );
        assert!(!r.body.contains("motcua_up"));
    }
    let r = get("/metrics", Some(("alice", "wrong"))).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.header("www-authenticate").is_some());
    // Another user's password is not alice's.
    assert_eq!(
        get("/metrics", Some(("alice", "battery staple")))
            .await
            .status,
        401
    );
    assert_eq!(
        get("/metrics", Some(("mallory", "correct horse")))
            .await
            .status,
        401
    );

    let r = get("/metrics", Some(("alice", "correct horse"))).await;
    assert_eq!((r.status, r.body.as_str()), (200, "motcua_up 1\n"), "{r:?}");
    // Again (from the cache), and the other user.
    assert_eq!(
        get("/metrics", Some(("alice", "correct horse")))
            .await
            .status,
        200
    );
    assert_eq!(
        get("/healthz", Some(("bob", "battery staple")))
            .await
            .status,
        200
    );
    // Unknown paths answer 404 only to someone logged in.
    assert_eq!(
        get("/nowhere", Some(("bob", "battery staple")))
            .await
            .status,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn basic_auth_without_tls_and_no_config_at_all() {
    let dir = TempDir::new("plain");
    let path = write_config(
        &dir,
        &format!("basic_auth_users:\n  alice: {}\n", quick_hash("pw")),
    );
    let server = Server::start(Some(WebConfig::load(&path).unwrap())).await;
    let r = http_get(server.addr, "/metrics", None).await.unwrap();
    assert_eq!(r.status, 401);
    let r = http_get(server.addr, "/metrics", Some(("alice", "pw")))
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "motcua_up 1\n"));
    server.stop().await;

    let server = Server::start(None).await;
    let r = http_get(server.addr, "/metrics", None).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "motcua_up 1\n"));
    server.stop().await;
}

#[test]
fn real_cost_10_hash_from_htpasswd_format_is_accepted() {
    // `htpasswd -nbBC 10 "" secret | tr -d ':\n'` writes $2y$ hashes.
    let hash = bcrypt::hash("secret", 10)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let dir = TempDir::new("2y");
    let path = write_config(&dir, &format!("basic_auth_users:\n  alice: '{hash}'\n"));
    assert!(WebConfig::load(&path).unwrap().auth_enabled());
    assert!(bcrypt::verify("secret", &hash).unwrap());
}

fn load_err(dir: &TempDir, text: &str) -> (WebConfigError, String, String) {
    let path = write_config(dir, text);
    let err = WebConfig::load(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "the file is not named: {msg}"
    );
    (err, msg, path.display().to_string())
}

#[test]
fn config_errors_name_the_file_key_and_line() {
    let dir = TempDir::new("errors");
    let pki = TestPki::generate();
    pki.write_to(&dir.0).unwrap();

    // Unknown key (a typo), nested.
    let (err, msg, _) = load_err(
        &dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_fle: server.key\n",
    );
    assert_eq!(err.key(), Some("tls_server_config.key_fle"), "{msg}");
    assert_eq!(err.line(), Some(3), "{msg}");
    assert!(msg.contains("unknown field"), "{msg}");

    // Unknown top-level key.
    let (err, msg, _) = load_err(&dir, "# web config\nhttp_server_confg:\n  http2: false\n");
    assert_eq!(err.key(), Some("http_server_confg"), "{msg}");
    assert_eq!(err.line(), Some(2), "{msg}");

    // Missing certificate file: named with its resolved path.
    let (err, msg, _) = load_err(
        &dir,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
    );
    assert_eq!(err.key(), Some("tls_server_config.cert_file"), "{msg}");
    assert_eq!(err.line(), Some(2), "{msg}");
    assert!(
        msg.contains(&dir.join("missing.crt").display().to_string()),
        "{msg}"
    );

    // Missing key file, and key_file left out.
    let (err, msg, _) = load_err(
        &dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: nokey.pem\n",
    );
    assert_eq!(err.key(), Some("tls_server_config.key_file"), "{msg}");
    let (err, msg, _) = load_err(&dir, "tls_server_config:\n  cert_file: server.crt\n");
    assert_eq!(err.key(), Some("tls_server_config.key_file"), "{msg}");

    // A key that is not the certificate's.
    let other = TestPki::generate();
    std::fs::write(dir.join("other.key"), &other.key_pem).unwrap();
    let (err, msg, _) = load_err(
        &dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
    );
    assert_eq!(err.key(), Some("tls_server_config.key_file"), "{msg}");

    // A file that is not PEM.
    let (err, msg, _) = load_err(
        &dir,
        "tls_server_config:\n  cert_file: web-config.yml\n  key_file: server.key\n",
    );
    assert_eq!(err.key(), Some("tls_server_config.cert_file"), "{msg}");

    // A bad bcrypt hash: the user is named, the hash is not echoed.
    let (err, msg, _) = load_err(
        &dir,
        "basic_auth_users:\n  alice: $2y$10$abc\n  bob: plaintext-password\n",
    );
    assert_eq!(err.key(), Some("basic_auth_users.alice"), "{msg}");
    assert_eq!(err.line(), Some(2), "{msg}");
    let (err, msg, _) = load_err(
        &dir,
        &format!(
            "basic_auth_users:\n  alice: {}\n  bob: plaintext-password\n",
            quick_hash("x")
        ),
    );
    assert_eq!(err.key(), Some("basic_auth_users.bob"), "{msg}");
    assert_eq!(err.line(), Some(3), "{msg}");
    assert!(!msg.contains("plaintext-password"), "{msg}");

    // YAML syntax error: the line.
    let (err, msg, _) = load_err(&dir, "basic_auth_users:\n  alice: [\n");
    assert!(err.line().is_some(), "{msg}");

    // Unsupported TLS settings.
    let (err, msg, _) = load_err(
        &dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS10\n",
    );
    assert_eq!(err.key(), Some("tls_server_config.min_version"), "{msg}");
    assert_eq!(err.line(), Some(4), "{msg}");
    let (err, msg, _) = load_err(
        &dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    assert_eq!(err.key(), Some("tls_server_config.client_ca_file"), "{msg}");

    // Unreadable file.
    let missing = dir.join("nope.yml");
    let err = WebConfig::load(&missing).unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}

#[test]
fn optional_tls_settings_load() {
    let dir = TempDir::new("optional");
    TestPki::generate().write_to(&dir.0).unwrap();
    let path = write_config(
        &dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         min_version: TLS13\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n",
    );
    let web = WebConfig::load(&path).unwrap();
    assert!(web.tls_enabled());
    assert_eq!(web.scheme(), "https");
    assert_eq!(web.path(), Path::new(&path));
}

#[tokio::test]
async fn tls13_only_server_still_serves_a_default_client() {
    let dir = TempDir::new("tls13");
    let pki = TestPki::generate();
    pki.write_to(&dir.0).unwrap();
    let path = write_config(
        &dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
    );
    let server = Server::start(Some(WebConfig::load(&path).unwrap())).await;
    let r = https_get(server.addr, &pki.ca_pem, "/metrics", None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    server.stop().await;
}
